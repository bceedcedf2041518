package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// audit and sync compare OpenNebula's view of its networks (`onevnet show -x`) with
// NetBox: per AR of the driver, the drift mapping.Compare finds, the AR's IP range,
// and (with --all, when every network is in view) the driver's ranges and prefixes no
// AR references. sync repairs what is safe: only the driver's objects are created,
// changed or removed. The NetBox reads are per AR and per page, never per address.

// auditOptions are the command line of audit and sync.
type auditOptions struct {
	sync, json, all, dryRun bool
	prune                   bool // sync removes stale ranges and prefixes (destructive: opt in)
	files                   []string
}

const auditUsage = "usage: netbox-ipam audit [--json] [--all] [FILE…]   |   netbox-ipam sync [--dry-run] [--json] [--all [--prune]] [FILE…]\n" +
	"FILE: `onevnet show -x` output (- or nothing: stdin); --all: every network of onevnet (or: the FILEs are all of them); --prune: sync also removes stale ranges and prefixes"

func parseAuditArgs(name string, args []string) (auditOptions, error) {
	o := auditOptions{sync: name == "sync"}
	for _, a := range args {
		switch {
		case a == "--json":
			o.json = true
		case a == "--all":
			o.all = true
		case a == "--dry-run" && o.sync:
			o.dryRun = true
		case a == "--prune" && o.sync:
			o.prune = true
		case strings.HasPrefix(a, "-") && a != "-":
			return o, &usageError{fmt.Sprintf("unknown option %s; %s", a, auditUsage)}
		default:
			o.files = append(o.files, a)
		}
	}
	if o.prune && !o.all {
		return o, &usageError{"--prune needs --all: only a view of every network tells what is stale; " + auditUsage}
	}
	return o, nil
}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// loadVNets reads the networks: the files (or stdin), or with --all and no files,
// every network onevnet knows.
func loadVNets(o auditOptions, stdin io.Reader) ([]mapping.VNet, error) {
	var docs [][]byte
	switch {
	case len(o.files) > 0:
		for _, f := range o.files {
			var b []byte
			var err error
			if f == "-" {
				b, err = io.ReadAll(stdin)
			} else {
				b, err = os.ReadFile(f)
			}
			if err != nil {
				return nil, &mapping.InputError{Msg: err.Error()}
			}
			docs = append(docs, b)
		}
	case o.all:
		list, err := onevnet("list", "-x")
		if err != nil {
			return nil, err
		}
		pool, err := mapping.ParseVNetPool(list)
		if err != nil {
			return nil, err
		}
		// The pool listing may leave out ARs and leases, so each network is read in
		// full; those without a netbox AR are skipped by the audit.
		for _, v := range pool {
			doc, err := onevnet("show", "-x", v.ID)
			if err != nil {
				return nil, err
			}
			docs = append(docs, doc)
		}
	default:
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, &mapping.InputError{Msg: err.Error()}
		}
		docs = append(docs, b)
	}
	var out []mapping.VNet
	for _, d := range docs {
		if len(bytes.TrimSpace(d)) == 0 {
			continue
		}
		vs, err := mapping.ParseVNets(d)
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	if len(out) == 0 && !o.all {
		return nil, &mapping.InputError{Msg: "no network given; " + auditUsage}
	}
	return out, nil
}

func onevnet(args ...string) ([]byte, error) { return oneCLI("onevnet", args...) }

// arReport is the audit of one AR.
type arReport struct {
	VNet     string            `json:"vnet"`
	AR       string            `json:"ar"`
	Span     string            `json:"span"`
	IPRange  int               `json:"netbox_ip_range,omitempty"`
	Leases   int               `json:"leases"`
	Findings []mapping.Finding `json:"findings"`
	Done     []string          `json:"done,omitempty"` // what sync did
	// Restore is what sync writes back into oned's AR (onevnet updatear --append): the
	// NetBox ids it lost and the network settings NetBox holds.
	Restore mapping.Attrs `json:"restore,omitempty"`

	repairs mapping.Repairs
	rng     *netbox.IPRange // the AR's IP range, when it exists
	prefix  int             // the AR's prefix, when known
	attrs   mapping.Attrs   // the AR as oned showed it
	holds   int             // leases held with onevnet hold (VM -1)
	s       arSpan
	vrf     int
	bits    int // mask length of the leases sync creates
}

// staleObject is a range or prefix of the driver that no AR references.
type staleObject struct {
	Kind string `json:"kind"` // ip-range | prefix
	ID   int    `json:"netbox_id"`
	What string `json:"what"`
}

// auditReport is the whole audit.
type auditReport struct {
	ARs      []*arReport   `json:"ars"`
	Stale    []staleObject `json:"stale,omitempty"`
	Drift    int           `json:"drift"`
	Requests int           `json:"netbox_requests"` // how many it took to find out (and repair)
}

// Audit runs audit or sync; it returns whether drift was found (before any repair).
func (d *Driver) Audit(ctx context.Context, o auditOptions, stdin io.Reader, out io.Writer) (bool, error) {
	vnets, err := loadVNets(o, stdin)
	if err != nil {
		return false, err
	}
	var rep auditReport
	ranges, prefixes := map[int]bool{}, map[int]bool{}
	for _, v := range vnets {
		for _, ar := range v.ARs {
			if !ar.UsesIPAM(d.cfg.Name) {
				continue
			}
			r, err := d.auditAR(ctx, v, ar)
			if err != nil {
				return false, err
			}
			rep.ARs = append(rep.ARs, r)
			// What the AR names stays referenced even when the AR could not be read,
			// and so does the range found by its span when updatear dropped the ids.
			if id, err := strconv.Atoi(ar.Attrs.Get(mapping.AttrIPRangeID)); err == nil {
				ranges[id] = true
			}
			if r.IPRange != 0 {
				ranges[r.IPRange] = true
			}
			if r.prefix != 0 {
				prefixes[r.prefix] = true
			}
			if id, err := strconv.Atoi(ar.Attrs.Get(mapping.AttrPrefixID)); err == nil {
				prefixes[id] = true
			}
		}
	}
	if o.all {
		if rep.Stale, err = d.staleObjects(ctx, ranges, prefixes); err != nil {
			return false, err
		}
	}
	for _, r := range rep.ARs {
		for _, f := range r.Findings {
			if f.IsDrift() {
				rep.Drift++
			}
		}
	}
	rep.Drift += len(rep.Stale)
	if o.sync && !o.dryRun {
		if err := d.repair(ctx, &rep, o.prune); err != nil {
			return false, err
		}
	}
	rep.Requests = d.nb.Requests()
	if o.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return rep.Drift > 0, enc.Encode(rep)
	}
	printReport(out, rep, o)
	return rep.Drift > 0, nil
}

// auditAR reads what NetBox holds for one AR (its range, and the addresses of its
// prefix, page by page) and compares.
func (d *Driver) auditAR(ctx context.Context, v mapping.VNet, ar mapping.AR) (*arReport, error) {
	s, err := storedAR(ar.Attrs)
	if err != nil { // reported, so that one odd AR does not hide the others
		return &arReport{VNet: v.ID, AR: ar.Attrs.Get(mapping.AttrARID), Leases: len(ar.Leases), Findings: []mapping.Finding{{
			Kind: mapping.DriftRange, IP: ar.Attrs.Get(mapping.AttrIP), Detail: "the AR cannot be read: " + err.Error()}}}, nil
	}
	r := &arReport{VNet: v.ID, AR: s.id, Span: fmt.Sprintf("%s…%s", s.first, s.last), IPRange: s.rangeID, Leases: len(ar.Leases), s: s, bits: 32, attrs: ar.Attrs}
	for _, l := range ar.Leases {
		if l.VM == "-1" {
			r.holds++
		}
	}
	spans := [][2]netip.Addr{{s.first, s.last}}
	foundBySpan := false
	if s.lostIDs() {
		if err := d.findRange(ctx, &s); err != nil {
			return nil, err
		}
		if foundBySpan = s.rangeID != 0; foundBySpan {
			r.IPRange, r.s = s.rangeID, s
			r.Findings = append(r.Findings, mapping.Finding{Kind: mapping.DriftIDs, IP: s.first.String(), Object: s.rangeID,
				Detail: fmt.Sprintf("the AR has no %s (onevnet updatear without --append drops it); NetBox IP range %d spans it; sync restores the AR's NetBox attributes with onevnet updatear --append", mapping.AttrIPRangeID, s.rangeID)})
		}
	}
	o, err := d.arObjects(ctx, s, true)
	if err != nil {
		return nil, err
	}
	r.rng, r.vrf = o.rng, o.vrf
	if o.prefix != nil {
		r.prefix = o.prefix.ID
	}
	if r.Restore = arRestore(ar.Attrs, s, o); len(r.Restore) > 0 && !foundBySpan {
		r.Findings = append(r.Findings, mapping.Finding{Kind: mapping.DriftSettings, IP: s.first.String(), Object: r.prefix,
			Detail: "the AR's network settings differ from NetBox's prefix (NetBox wins): " + r.Restore.String()})
	}
	switch {
	case s.rangeID != 0 && o.rng == nil:
		r.Findings = append(r.Findings, mapping.Finding{Kind: mapping.DriftRange, IP: s.first.String(), Object: s.rangeID,
			Detail: fmt.Sprintf("%s names NetBox IP range %d, which does not exist; re-create the AR (or restore the range)", mapping.AttrIPRangeID, s.rangeID)})
	case o.rng != nil:
		rng := *o.rng
		r.bits = rangeBits(rng)
		if first, last, err := rng.Span(); err == nil && (first != s.first || last != s.last) {
			spans = append(spans, [2]netip.Addr{first, last})
			fix := "left alone: it is not the driver's"
			if d.owned(rng.Tagged) {
				fix = "sync makes it match the AR"
				r.repairs.RangeSpan = true
			}
			r.Findings = append(r.Findings, mapping.Finding{Kind: mapping.DriftRange, IP: s.first.String(), Object: rng.ID,
				Detail: fmt.Sprintf("NetBox IP range %d spans %s…%s, the AR %s; %s", rng.ID, first, last, r.Span, fix)})
		}
	}
	if o.rng == nil && o.prefix != nil {
		if n, err := o.prefix.Net(); err == nil {
			r.bits = n.Bits()
		}
	}
	if !o.known() {
		return r, nil // neither its range nor its prefix: nowhere to look for, or put, its leases
	}
	objs, err := d.nb.IPAddressesIn(ctx, r.vrf, covering(spans).String())
	if err != nil {
		return nil, err
	}
	held := make([]mapping.Held, 0, len(objs))
	for _, o := range objs {
		a, err := o.Addr()
		if err != nil {
			continue
		}
		cf := map[string]string{}
		for _, k := range []string{mapping.CFARID, mapping.CFMAC, mapping.CFRequestID, mapping.CFVMID, mapping.CFVNetID, mapping.CFVRouterID} {
			cf[k] = o.CustomString(k)
		}
		held = append(held, mapping.Held{ID: o.ID, Addr: a, Owned: d.owned(o.Tagged), CF: cf, Description: o.Description})
	}
	findings, repairs := mapping.Compare(v.ID, ar, spans, held)
	r.Findings = append(r.Findings, findings...)
	repairs.RangeSpan = r.repairs.RangeSpan
	r.repairs = repairs
	return r, nil
}

// covering is the smallest prefix holding every span.
func covering(spans [][2]netip.Addr) netip.Prefix {
	lo, hi := spans[0][0], spans[0][1]
	for _, s := range spans[1:] {
		if s[0].Less(lo) {
			lo = s[0]
		}
		if hi.Less(s[1]) {
			hi = s[1]
		}
	}
	for bits := 32; bits >= 0; bits-- {
		p, _ := lo.Prefix(bits)
		if p.Contains(hi) {
			return p
		}
	}
	return netip.MustParsePrefix("0.0.0.0/0")
}

// staleObjects lists the driver's IP ranges and prefixes that no AR in view names.
func (d *Driver) staleObjects(ctx context.Context, ranges, prefixes map[int]bool) ([]staleObject, error) {
	var out []staleObject
	rs, err := d.nb.IPRangesTagged(ctx, d.cfg.Tag)
	if err != nil {
		return nil, err
	}
	inRange := map[int]bool{}
	for _, r := range rs {
		if !ranges[r.ID] {
			out = append(out, staleObject{kindIPRange, r.ID, r.StartAddress + "-" + r.EndAddress})
			inRange[r.ID] = true
		}
	}
	ps, err := d.nb.PrefixesTagged(ctx, d.cfg.Tag)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if !prefixes[p.ID] {
			out = append(out, staleObject{kindPrefix, p.ID, p.Prefix})
		}
	}
	return out, nil
}

// repair carries out the plan: per AR the range's span, the missing leases, the
// orphans and the labels; then, with prune, the stale ranges (with the driver's leases
// in them) and the stale prefixes that hold nothing else.
func (d *Driver) repair(ctx context.Context, rep *auditReport, prune bool) error {
	for _, r := range rep.ARs {
		switch {
		case len(r.Restore) == 0:
		case r.holds > 0:
			// oned (7.5.80 seen) segfaults when an update changes the network settings
			// of an AR that holds addresses (`onevnet hold`): leave it to the operator.
			r.Done = append(r.Done, fmt.Sprintf("not restored in oned's AR (it has %d hold(s), and oned crashes updating such an AR): release them, or run onevnet updatear with %s", r.holds, r.Restore.String()))
		default:
			if err := restoreAR(r.VNet, r.attrs, r.Restore); err != nil {
				return err
			}
			r.Done = append(r.Done, "restored in oned's AR: "+r.Restore.String())
		}
		p := r.repairs
		if p.RangeSpan && r.rng != nil {
			if _, err := d.nb.PatchIPRange(ctx, r.rng.ID, map[string]any{
				"start_address": netip.PrefixFrom(r.s.first, r.bits).String(), "end_address": netip.PrefixFrom(r.s.last, r.bits).String()}); err != nil {
				return err
			}
			r.Done = append(r.Done, fmt.Sprintf("IP range %d now spans %s", r.rng.ID, r.Span))
		}
		if err := d.removeAddresses(ctx, p.Delete); err != nil {
			return err
		}
		if len(p.Delete) > 0 {
			r.Done = append(r.Done, fmt.Sprintf("removed %d orphan(s)", len(p.Delete)))
		}
		if len(p.Create) > 0 {
			specs := make([]netbox.IPAddressSpec, 0, len(p.Create))
			for _, c := range p.Create {
				specs = append(specs, netbox.IPAddressSpec{Address: netip.PrefixFrom(c.Addr, r.bits).String(), VRFID: r.vrf, Status: "active",
					Tags: d.tags(), CustomFields: c.CustomFields, Description: c.Description})
			}
			if err := d.nb.CreateIPAddressesInBatches(ctx, specs); err != nil {
				return err
			}
			r.Done = append(r.Done, fmt.Sprintf("recorded %d missing lease(s)", len(p.Create)))
		}
		if len(p.Update) > 0 {
			changes := make([]map[string]any, 0, len(p.Update))
			for _, u := range p.Update {
				c := map[string]any{"id": u.ID, "description": u.Description}
				if len(u.CustomFields) > 0 {
					c["custom_fields"] = u.CustomFields
				}
				changes = append(changes, c)
			}
			if err := d.nb.PatchIPAddresses(ctx, changes); err != nil {
				return err
			}
			r.Done = append(r.Done, fmt.Sprintf("updated %d lease record(s)", len(p.Update)))
		}
	}
	if !prune {
		return nil
	}
	for _, st := range rep.Stale {
		if st.Kind != kindIPRange {
			continue
		}
		rng, err := d.nb.GetIPRange(ctx, st.ID)
		if netbox.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		first, last, _ := rng.Span()
		objs, err := d.nb.IPAddressesIn(ctx, netbox.RefID(rng.VRF), covering([][2]netip.Addr{{first, last}}).String())
		if err != nil {
			return err
		}
		var ids []int
		for _, o := range objs {
			if a, err := o.Addr(); err == nil && !a.Less(first) && !last.Less(a) && d.owned(o.Tagged) {
				ids = append(ids, o.ID)
			}
		}
		if err := d.removeAddresses(ctx, ids); err != nil {
			return err
		}
		if err := d.remove(ctx, kindIPRange, st.ID); err != nil {
			return err
		}
	}
	for _, st := range rep.Stale {
		if st.Kind != kindPrefix {
			continue
		}
		p, err := d.nb.GetPrefix(ctx, st.ID)
		if netbox.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		busy, err := d.prefixInUse(ctx, p, netbox.RefID(p.VRF))
		if err != nil {
			return err
		}
		if busy != "" {
			d.info("kept prefix %s (id %d): %s", p.Prefix, p.ID, busy)
			continue
		}
		if err := d.remove(ctx, kindPrefix, p.ID); err != nil {
			return err
		}
	}
	return nil
}

func printReport(w io.Writer, rep auditReport, o auditOptions) {
	sort.SliceStable(rep.ARs, func(i, j int) bool {
		a, _ := strconv.Atoi(rep.ARs[i].VNet)
		b, _ := strconv.Atoi(rep.ARs[j].VNet)
		return a < b
	})
	for _, r := range rep.ARs {
		fmt.Fprintf(w, "network %s AR %s  %s  NetBox IP range %d  %d lease(s)\n", r.VNet, r.AR, r.Span, r.IPRange, r.Leases)
		for _, f := range r.Findings {
			obj := "-"
			if f.Object != 0 {
				obj = "#" + strconv.Itoa(f.Object)
			}
			fmt.Fprintf(w, "  %-8s %-15s %-7s %s\n", f.Kind, f.IP, obj, f.Detail)
		}
		if len(r.Findings) == 0 {
			fmt.Fprintf(w, "  in step\n")
		}
		for _, done := range r.Done {
			fmt.Fprintf(w, "  sync: %s\n", done)
		}
	}
	for _, st := range rep.Stale {
		verb := "no AR references it"
		switch {
		case o.sync && !o.dryRun && o.prune:
			verb += "; removed (the driver's objects only)"
		case o.sync && !o.dryRun:
			verb += "; kept (sync --all --prune removes it)"
		}
		fmt.Fprintf(w, "stale    %-8s #%-6d %s: %s\n", st.Kind, st.ID, st.What, verb)
	}
	switch {
	case o.sync && o.dryRun:
		fmt.Fprintf(w, "dry run: %d drift finding(s); sync would repair what the lines above say\n", rep.Drift)
	case o.sync:
		fmt.Fprintf(w, "synced: %d drift finding(s) repaired where safe\n", rep.Drift)
	default:
		fmt.Fprintf(w, "%d drift finding(s) in %d AR(s)\n", rep.Drift, len(rep.ARs))
	}
}

// arRestore is what oned's AR should carry back from NetBox: the ids updatear dropped
// (found by the AR's span) and the network settings of the prefix's custom fields,
// which win over the AR's as they do at register.
func arRestore(ar mapping.Attrs, s arSpan, o arObjects) mapping.Attrs {
	var out mapping.Attrs
	set := func(name, v string) {
		if v != "" && ar.Get(name) != v {
			out = append(out, mapping.Attr{Name: name, Value: v})
		}
	}
	if o.rng != nil {
		set(mapping.AttrIPRangeID, strconv.Itoa(o.rng.ID))
	}
	if o.prefix != nil && ar.Get(mapping.AttrPrefixID) == "" {
		set(mapping.AttrPrefixID, strconv.Itoa(o.prefix.ID))
		if n, err := o.prefix.Net(); err == nil {
			set(mapping.AttrPrefix, n.Masked().String())
			set(mapping.AttrNetworkAddress, n.Masked().Addr().String())
		}
	}
	if o.prefix != nil && !s.reservation() {
		for _, ns := range mapping.NetworkSettings {
			set(ns.Attr, o.prefix.CustomString(ns.CustomField))
		}
	}
	return out
}

// computedAR are the attributes `onevnet show -x` adds to an AR that oned computes
// itself; they are not written back (the CLI's own updatear drops them too).
var computedAR = map[string]bool{"MAC_END": true, "IP_END": true, "IP6_END": true, "IP6_ULA": true, "IP6_ULA_END": true,
	"IP6_GLOBAL": true, "IP6_GLOBAL_END": true, "USED_LEASES": true}

// restoreAR writes attrs into oned's AR: the whole AR with attrs set (onevnet updatear
// without --append). --append would not do: the CLI puts the new text before the old
// attributes, and oned keeps the old value of a repeated name.
func restoreAR(vnet string, ar mapping.Attrs, attrs mapping.Attrs) error {
	out := mapping.Attrs{{Name: mapping.AttrARID, Value: ar.Get(mapping.AttrARID)}}
	for _, a := range ar {
		if !computedAR[a.Name] && a.Name != mapping.AttrARID {
			out = out.Set(a.Name, a.Value)
		}
	}
	for _, a := range attrs {
		out = out.Set(a.Name, a.Value)
	}
	if err := mapping.Echoable(out); err != nil {
		return err
	}
	f, err := os.CreateTemp("", "netbox-ipam-ar-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	var tpl mapping.Template
	tpl.Vector("AR", out)
	if _, err := f.WriteString(tpl.String()); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	_, err = oneCLI("onevnet", "updatear", vnet, ar.Get(mapping.AttrARID), f.Name())
	return err
}
