package driver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// audit and sync compare OpenNebula's view of its networks (`onevnet show -x`) with
// NetBox: per AR of the driver, the drift mapping.Compare finds, the AR's IP range,
// and (with --all, when every network is in view) the driver's ranges and prefixes no
// AR references. sync repairs what is safe: only the driver's objects are created,
// changed or removed. The NetBox reads are per AR and per page, never per address.

// AuditOptions are what audit and sync are asked to do.
type AuditOptions struct {
	Sync, JSON, All, DryRun bool
	Prune                   bool     // sync removes stale ranges and prefixes (destructive: opt in)
	Files                   []string // `onevnet show -x` output ("-": stdin)
}

// loadVNets reads the networks: the files (or stdin), or with --all and no files,
// every network oned shows the caller.
func (d *call) loadVNets(ctx context.Context, o AuditOptions, stdin io.Reader) ([]mapping.VNet, error) {
	var docs [][]byte
	switch {
	case len(o.Files) > 0:
		for _, f := range o.Files {
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
	case o.All:
		ids, err := d.oned.VNetIDs(ctx)
		if err != nil {
			return nil, err
		}
		// The pool listing may leave out ARs and leases, so each network is read in
		// full; those without a netbox AR are skipped by the audit.
		var out []mapping.VNet
		for _, id := range ids {
			v, err := d.oned.VNet(ctx, id)
			if opennebula.IsGone(err) {
				continue // deleted since the listing
			}
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
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
	if len(out) == 0 && !o.All {
		return nil, &mapping.InputError{Msg: "no network given: give `onevnet show -x` output as files or on stdin, or --all to read every network through onevnet"}
	}
	return out, nil
}

// ARReport is the audit of one AR.
type ARReport struct {
	VNet     string            `json:"vnet"`
	AR       string            `json:"ar"`
	Span     string            `json:"span"`
	IPRange  int               `json:"netbox_ip_range,omitempty"`
	Leases   int               `json:"leases"`
	Findings []mapping.Finding `json:"findings"`
	Done     []string          `json:"done,omitempty"` // what sync did
	// Left is what sync did not do because oned changed it during the run (the second
	// look disagreed with the picture): the next run takes it up.
	Left []string `json:"left,omitempty"`
	// Restore is what sync writes back into oned's AR (onevnet updatear --append): the
	// NetBox ids it lost and the network settings NetBox holds.
	Restore mapping.Attrs `json:"restore,omitempty"`

	repairs mapping.Repairs
	held    []mapping.Held  // NetBox's objects in and around the AR, as compared
	spans   []mapping.Span  // the spans its leases and orphans are looked for in
	rng     *netbox.IPRange // the AR's IP range, when it exists
	prefix  int             // the AR's prefix, when known
	attrs   mapping.Attrs   // the AR as oned showed it
	s       mapping.StoredAR
	vrf     int
	bits    int // mask length of the leases sync creates
}

// StaleObject is a range or prefix of the driver that no AR references, or (with
// vms.enabled) a virtual machine of a VM that holds no lease of the driver.
type StaleObject struct {
	Kind string `json:"kind"` // ip-range | prefix | virtual-machine
	ID   int    `json:"netbox_id"`
	What string `json:"what"`
}

// AuditReport is the whole audit.
type AuditReport struct {
	ARs   []*ARReport   `json:"ars"`
	Stale []StaleObject `json:"stale,omitempty"`
	// MissingVMs are the VMs (ids) holding leases of the driver that have no NetBox
	// virtual machine (vms.enabled, --all); sync makes them.
	MissingVMs []string `json:"missing_vms,omitempty"`
	// OutOfStepVMs are the NetBox virtual machines that differ from their VM as oned
	// holds it (a rename, a state, a NIC the hooks missed); sync brings them in step.
	OutOfStepVMs []VMDrift `json:"out_of_step_vms,omitempty"`
	Drift        int       `json:"drift"`           // findings before any repair
	Requests     int       `json:"netbox_requests"` // how many it took to find out (and repair)
	// OnedRequests is how many oned requests (XML-RPC calls, commands) it took.
	OnedRequests int `json:"oned_requests"`
	// Skipped says why sync did nothing (an HA follower); the rest is then empty.
	Skipped string `json:"skipped,omitempty"`
	// LeftVMs are the NetBox virtual machines sync did not make or remove because
	// oned changed them during the run; FailedVMs those NetBox refused (the others
	// went on: the run was partial).
	LeftVMs []string `json:"left_vms,omitempty"`
	// LeftStale are the stale ranges and prefixes --prune did not remove because NetBox
	// made them too recently (an AR oned may be registering).
	LeftStale []string `json:"left_stale,omitempty"`
	FailedVMs []string `json:"failed_vms,omitempty"`

	staleVMs []netbox.VirtualMachine
}

// Audit runs audit, or sync with o.Sync. The report's Drift counts what was found
// before any repair. Networks come from o.Files or stdin, or with o.All and no files
// from oned, after asking the front-end whether sync may act (frontEndGate).
func (d *Driver) Audit(ctx context.Context, o AuditOptions, stdin io.Reader) (AuditReport, error) {
	c := d.begin("")
	start, onedStart, began := d.nb.Requests(), d.oned.Requests(), d.now()
	skip, err := d.frontEndGate(ctx, o)
	if err != nil || skip != "" {
		return AuditReport{Skipped: skip}, err
	}
	if o.Sync && !o.DryRun && d.cfg.VMs.Enabled {
		// Sync keeps NetBox VMs under the hooks' per-VM locks: a state folder that is
		// not the driver's refuses the run at once, not VM by VM.
		if err := d.stateReady(); err != nil {
			return AuditReport{}, err
		}
	}
	vnets, err := c.loadVNets(ctx, o, stdin)
	if err != nil {
		return AuditReport{}, err
	}
	rep, err := c.audit(ctx, vnets, o.All)
	if err != nil {
		return rep, err
	}
	if o.Sync && !o.DryRun {
		if err := c.repair(ctx, &rep, o.Prune, began); err != nil {
			return rep, err
		}
	}
	rep.Requests, rep.OnedRequests = d.nb.Requests()-start, d.oned.Requests()-onedStart
	return rep, nil
}

// audit compares every AR of the driver in vnets and, with all, lists the driver's
// ranges and prefixes that none of them references.
func (d *call) audit(ctx context.Context, vnets []mapping.VNet, all bool) (AuditReport, error) {
	var rep AuditReport
	ranges, prefixes := map[int]bool{}, map[int]bool{}
	refer := func(ids map[int]bool, v string) {
		if id, err := strconv.Atoi(v); err == nil && id != 0 {
			ids[id] = true
		}
	}
	for _, v := range vnets {
		for _, ar := range v.ARs {
			if !ar.UsesIPAM(d.cfg.Name) {
				continue
			}
			r, err := d.auditAR(ctx, v, ar)
			if err != nil {
				return rep, err
			}
			rep.ARs = append(rep.ARs, r)
			// What the AR names stays referenced even when the AR could not be read,
			// and so does the range found by its span when updatear dropped the ids.
			refer(ranges, ar.Attrs.Get(mapping.AttrIPRangeID))
			refer(ranges, strconv.Itoa(r.IPRange))
			refer(prefixes, ar.Attrs.Get(mapping.AttrPrefixID))
			refer(prefixes, strconv.Itoa(r.prefix))
		}
	}
	if all {
		var err error
		if rep.Stale, err = d.staleObjects(ctx, ranges, prefixes); err != nil {
			return rep, err
		}
		if d.cfg.VMs.Enabled {
			if err := d.auditVMs(ctx, vnets, &rep); err != nil {
				return rep, err
			}
		}
	}
	for _, r := range rep.ARs {
		for _, f := range r.Findings {
			if f.IsDrift() {
				rep.Drift++
			}
		}
	}
	rep.Drift += len(rep.Stale) + len(rep.MissingVMs) + len(rep.OutOfStepVMs)
	return rep, nil
}

// auditAR reads what NetBox holds for one AR (its range, and the addresses of its
// prefix, page by page) and compares.
func (d *call) auditAR(ctx context.Context, v mapping.VNet, ar mapping.AR) (*ARReport, error) {
	s, err := mapping.ReadStoredAR(ar.Attrs)
	if err != nil { // reported, so that one odd AR does not hide the others
		return &ARReport{VNet: v.ID, AR: ar.Attrs.Get(mapping.AttrARID), Leases: len(ar.Leases), Findings: []mapping.Finding{{
			Kind: mapping.DriftRange, IP: ar.Attrs.Get(mapping.AttrIP), Detail: "the AR cannot be read: " + err.Error()}}}, nil
	}
	r := &ARReport{VNet: v.ID, AR: s.ID, Span: fmt.Sprintf("%s…%s", s.First, s.Last), IPRange: s.RangeID, Leases: len(ar.Leases), s: s, bits: 32, attrs: ar.Attrs}
	spans := []mapping.Span{s.Span}
	foundBySpan := false
	if s.LostIDs() {
		if err := d.findRange(ctx, &s); err != nil {
			return nil, err
		}
		if foundBySpan = s.RangeID != 0; foundBySpan {
			r.IPRange, r.s = s.RangeID, s
			r.Findings = append(r.Findings, mapping.Finding{Kind: mapping.DriftIDs, IP: s.First.String(), Object: s.RangeID,
				Detail: fmt.Sprintf("the AR has no %s (onevnet updatear without --append drops it); NetBox IP range %d spans it; sync restores the AR's NetBox attributes with onevnet updatear --append", mapping.AttrIPRangeID, s.RangeID)})
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
		r.Findings = append(r.Findings, mapping.Finding{Kind: mapping.DriftSettings, IP: s.First.String(), Object: r.prefix,
			Detail: "the AR's network settings differ from NetBox's prefix (NetBox wins): " + r.Restore.String()})
	}
	spans = append(spans, r.checkRange(s, o, d.owned)...)
	if !o.known() {
		return r, nil // neither its range nor its prefix: nowhere to look for, or put, its leases
	}
	held, err := d.held(ctx, r.vrf, mapping.Covering(spans))
	if err != nil {
		return nil, err
	}
	findings, repairs := mapping.Compare(v.ID, ar, spans, held)
	r.held, r.spans = held, spans
	r.Findings = append(r.Findings, findings...)
	repairs.RangeSpan = r.repairs.RangeSpan
	r.repairs = repairs
	return r, nil
}

// checkRange compares the AR's IP range with the AR and sets the mask length of the
// leases sync creates; it returns the range's span when that differs from the AR's
// (leases there are the AR's too).
func (r *ARReport) checkRange(s mapping.StoredAR, o arObjects, owned func(netbox.Tagged) bool) []mapping.Span {
	if o.rng == nil {
		if o.prefix != nil {
			if n, err := o.prefix.Net(); err == nil {
				r.bits = n.Bits()
			}
		}
		if s.RangeID != 0 {
			r.Findings = append(r.Findings, mapping.Finding{Kind: mapping.DriftRange, IP: s.First.String(), Object: s.RangeID,
				Detail: fmt.Sprintf("%s names NetBox IP range %d, which does not exist; re-create the AR (or restore the range)", mapping.AttrIPRangeID, s.RangeID)})
		}
		return nil
	}
	rng := *o.rng
	r.bits = rangeBits(rng)
	first, last, err := rng.Span()
	if err != nil || (first == s.First && last == s.Last) {
		return nil
	}
	fix := "left alone: it is not the driver's"
	if owned(rng.Tagged) {
		fix = "sync makes it match the AR"
		r.repairs.RangeSpan = true
	}
	r.Findings = append(r.Findings, mapping.Finding{Kind: mapping.DriftRange, IP: s.First.String(), Object: rng.ID,
		Detail: fmt.Sprintf("NetBox IP range %d spans %s…%s, the AR %s; %s", rng.ID, first, last, r.Span, fix)})
	return []mapping.Span{{First: first, Last: last}}
}

// held is what NetBox holds inside p, as mapping.Compare reads it.
func (d *call) held(ctx context.Context, vrf int, p netip.Prefix) ([]mapping.Held, error) {
	objs, err := d.nb.IPAddressesIn(ctx, vrf, p.String())
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
		held = append(held, mapping.Held{ID: o.ID, Addr: a, Owned: d.owned(o.Tagged), CF: cf, Description: o.Description, Created: o.Created})
	}
	return held, nil
}

// staleObjects lists the driver's IP ranges and prefixes that no AR in view names.
func (d *call) staleObjects(ctx context.Context, ranges, prefixes map[int]bool) ([]StaleObject, error) {
	var out []StaleObject
	rs, err := d.nb.IPRangesTagged(ctx, d.cfg.Tag)
	if err != nil {
		return nil, err
	}
	inRange := map[int]bool{}
	for _, r := range rs {
		if !ranges[r.ID] {
			out = append(out, StaleObject{kindIPRange, r.ID, r.StartAddress + "-" + r.EndAddress})
			inRange[r.ID] = true
		}
	}
	ps, err := d.nb.PrefixesTagged(ctx, d.cfg.Tag)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if !prefixes[p.ID] {
			out = append(out, StaleObject{kindPrefix, p.ID, p.Prefix})
		}
	}
	return out, nil
}

// repair carries out the plan: per AR, after a second look at it in oned, what that
// look confirms (the range's span, the missing leases, the orphans, the labels, the
// AR's lost attributes); then the NetBox virtual machines, each read again from oned;
// then, with prune, the stale ranges (with the driver's leases in them) and the stale
// prefixes that hold nothing else. began is when the audit began.
func (d *call) repair(ctx context.Context, rep *AuditReport, prune bool, began time.Time) error {
	for _, r := range rep.ARs {
		if err := d.repairAR(ctx, r, began); err != nil {
			return err
		}
	}
	d.repairVMs(ctx, rep, prune)
	if !prune {
		return nil
	}
	settled := d.settled(began)
	for _, kind := range []string{kindIPRange, kindPrefix} { // ranges first: a prefix goes once empty
		for _, st := range rep.Stale {
			if st.Kind != kind {
				continue
			}
			prune := d.pruneRange
			if kind == kindPrefix {
				prune = d.prunePrefix
			}
			left, err := prune(ctx, st.ID, settled)
			if err != nil {
				return err
			}
			if left != "" {
				rep.LeftStale = append(rep.LeftStale, "changed during sync: "+left+"; left for the next run")
			}
		}
	}
	return nil
}

// settled is the time before which NetBox objects are old enough to judge: what NetBox
// made after the audit began, or within the driver's timeout of now, may belong to an
// action oned has not seen the answer of yet (a lease, an AR being registered).
func (d *call) settled(began time.Time) time.Time {
	if s := d.now().Add(-d.cfg.Timeout); s.Before(began) {
		return s
	}
	return began
}

// tooYoung says why an object made at created is left, or "" when it is settled.
func tooYoung(what string, created, settled time.Time) string {
	if created.IsZero() || !created.After(settled) {
		return ""
	}
	return fmt.Sprintf("%s: NetBox made it at %s, too recently to tell it from one oned is still recording", what, created.UTC().Format(time.RFC3339))
}

// repairAR reads the AR's network from oned again (the picture may be minutes old, or
// a file) and repairs only what the second look agrees with: a lease oned holds now is
// no orphan, one it freed is not re-created, an attribute edited meanwhile is not
// written back, and an AR that moved or went is left alone. An orphan NetBox made
// after the audit began, or within the driver's timeout of now, is left too: its
// get_address may not have reached oned yet.
func (d *call) repairAR(ctx context.Context, r *ARReport, began time.Time) error {
	if r.repairs.Empty() && len(r.Restore) == 0 {
		return nil
	}
	now, why, err := d.rereadAR(ctx, r)
	if err != nil {
		return err
	}
	if why != "" {
		r.Left = append(r.Left, "changed during sync: "+why+"; left for the next run")
		return nil
	}
	settled := d.settled(began)
	_, confirmed := mapping.Compare(r.VNet, now, r.spans, r.held)
	var left []string
	r.repairs, left = mapping.Recheck(r.repairs, confirmed, r.held, settled)
	restore, leftAttrs := mapping.RecheckRestore(r.Restore, r.attrs, now.Attrs)
	for _, l := range append(left, leftAttrs...) {
		r.Left = append(r.Left, "changed during sync: "+l+"; left for the next run")
	}
	if err := d.restoreInOned(ctx, r, now, restore); err != nil {
		return err
	}
	return d.repairInNetBox(ctx, r)
}

// rereadAR is the AR as oned holds it now (one.vn.info), or why sync leaves it: the
// network or the AR is gone, no longer this driver's, or spans other addresses.
func (d *call) rereadAR(ctx context.Context, r *ARReport) (mapping.AR, string, error) {
	v, err := d.oned.VNet(ctx, r.VNet)
	if opennebula.IsGone(err) {
		return mapping.AR{}, "network " + r.VNet + " is gone", nil
	}
	if err != nil {
		return mapping.AR{}, "", err
	}
	for _, ar := range v.ARs {
		if ar.Attrs.Get(mapping.AttrARID) != r.AR {
			continue
		}
		s, err := mapping.ReadStoredAR(ar.Attrs)
		switch {
		case !ar.UsesIPAM(d.cfg.Name):
			return ar, "the AR no longer uses IPAM_MAD " + d.cfg.Name, nil
		case err != nil:
			return ar, "the AR cannot be read now: " + err.Error(), nil
		case s.Span != r.s.Span:
			return ar, fmt.Sprintf("the AR now spans %s…%s", s.First, s.Last), nil
		}
		return ar, "", nil
	}
	return mapping.AR{}, "AR " + r.AR + " is gone from network " + r.VNet, nil
}

// restoreInOned writes back into oned's AR (now, as oned holds it) what it lost or
// what NetBox changed.
func (d *call) restoreInOned(ctx context.Context, r *ARReport, now mapping.AR, restore mapping.Attrs) error {
	holds := 0
	for _, l := range now.Leases {
		if l.VM == "-1" {
			holds++
		}
	}
	switch {
	case len(restore) == 0:
	case holds > 0:
		// oned (7.5.80 seen) segfaults when an update changes the network settings of
		// an AR that holds addresses (`onevnet hold`): leave it to the operator.
		r.Done = append(r.Done, fmt.Sprintf("not restored in oned's AR (it has %d hold(s), and oned crashes updating such an AR): release them, or run onevnet updatear with %s", holds, restore.String()))
	default:
		if err := d.restoreAR(ctx, r.VNet, now.Attrs, restore); err != nil {
			return err
		}
		r.Done = append(r.Done, "restored in oned's AR: "+restore.String())
	}
	return nil
}

// repairInNetBox makes NetBox hold what oned's AR says: the range's span, the missing
// leases, no orphans, the current labels.
func (d *call) repairInNetBox(ctx context.Context, r *ARReport) error {
	p := r.repairs
	if p.RangeSpan && r.rng != nil {
		if _, err := d.nb.PatchIPRange(ctx, r.rng.ID, map[string]any{
			"start_address": netip.PrefixFrom(r.s.First, r.bits).String(), "end_address": netip.PrefixFrom(r.s.Last, r.bits).String()}); err != nil {
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
	if err := d.recordMissing(ctx, r); err != nil {
		return err
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
	return nil
}

// recordMissing creates the leases oned holds and NetBox lacks, in atomic batches. A
// batch whose answer is lost is looked up by its addresses: the driver's objects there
// are the batch's (or a lease an action recorded meanwhile, which is as good).
func (d *call) recordMissing(ctx context.Context, r *ARReport) error {
	missing := r.repairs.Create
	if len(missing) == 0 {
		return nil
	}
	specs := make([]netbox.IPAddressSpec, 0, len(missing))
	for _, c := range missing {
		specs = append(specs, netbox.IPAddressSpec{Address: netip.PrefixFrom(c.Addr, r.bits).String(), VRFID: r.vrf, Status: "active",
			Tags: d.tags(), CustomFields: c.CustomFields, Description: c.Description})
	}
	err := netbox.InBatches(specs, func(batch []netbox.IPAddressSpec) error {
		addrs := make([]string, 0, len(batch))
		for _, s := range batch {
			p, _ := netip.ParsePrefix(s.Address)
			addrs = append(addrs, p.Addr().String())
		}
		got, err := netbox.CreateOnce(ctx,
			func(c context.Context) ([]netbox.IPAddress, error) { return d.nb.CreateIPAddresses(c, batch) },
			func(c context.Context) ([]netbox.IPAddress, bool, error) {
				have, err := d.nb.IPAddressesAt(c, r.vrf, addrs)
				var mine []netbox.IPAddress
				for _, h := range have {
					if d.owned(h.Tagged) {
						mine = append(mine, h)
					}
				}
				d.infoLost(fmt.Sprintf("IP addresses (%d)", len(batch)), len(mine))
				return mine, err == nil && len(mine) == len(batch), err
			})
		for _, g := range got {
			d.noteObject("+", kindIPAddress, g.ID)
		}
		return err
	})
	if err != nil {
		return err
	}
	r.Done = append(r.Done, fmt.Sprintf("recorded %d missing lease(s)", len(missing)))
	return nil
}

// pruneRange removes a stale IP range of the driver with the driver's leases in it,
// unless NetBox made it after settled: it says why it left it then.
func (d *call) pruneRange(ctx context.Context, id int, settled time.Time) (left string, err error) {
	rng, err := d.nb.GetIPRange(ctx, id)
	if netbox.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if left := tooYoung(fmt.Sprintf("stale ip-range #%d", id), rng.Created, settled); left != "" {
		return left, nil
	}
	first, last, _ := rng.Span()
	span := mapping.Span{First: first, Last: last}
	objs, err := d.nb.IPAddressesIn(ctx, netbox.RefID(rng.VRF), mapping.Covering([]mapping.Span{span}).String())
	if err != nil {
		return "", err
	}
	var ids []int
	for _, o := range objs {
		if a, err := o.Addr(); err == nil && span.Has(a) && d.owned(o.Tagged) {
			ids = append(ids, o.ID)
		}
	}
	if err := d.removeAddresses(ctx, ids); err != nil {
		return "", err
	}
	return "", d.remove(ctx, kindIPRange, id)
}

// prunePrefix removes a stale prefix of the driver that holds nothing, unless NetBox
// made it after settled (as pruneRange).
func (d *call) prunePrefix(ctx context.Context, id int, settled time.Time) (left string, err error) {
	p, err := d.nb.GetPrefix(ctx, id)
	if netbox.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if left := tooYoung(fmt.Sprintf("stale prefix #%d", id), p.Created, settled); left != "" {
		return left, nil
	}
	return "", d.removePrefixIfEmpty(ctx, p, netbox.RefID(p.VRF))
}

// arRestore is what oned's AR should carry back from NetBox: the ids updatear dropped
// (found by the AR's span) and the network settings of the prefix's custom fields,
// which win over the AR's as they do at register.
func arRestore(ar mapping.Attrs, s mapping.StoredAR, o arObjects) mapping.Attrs {
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
	if o.prefix != nil && !s.Reservation() {
		for _, ns := range mapping.NetworkSettings {
			set(ns.Attr, o.prefix.CustomString(ns.CustomField))
		}
	}
	return out
}

// restoreAR writes attrs into oned's AR: the whole AR (as oned held it a moment ago)
// with attrs set (onevnet updatear without --append, which replaces every attribute
// but TYPE, IP, MAC and AR_ID). --append would not do: the CLI puts the new text
// before the old attributes, and oned keeps the old value of a repeated name.
func (d *call) restoreAR(ctx context.Context, vnet string, ar mapping.Attrs, attrs mapping.Attrs) error {
	var out mapping.Attrs // the client names the AR by its AR_ID
	for _, a := range ar {
		if !mapping.ComputedAR(a.Name) {
			out = out.Set(a.Name, a.Value)
		}
	}
	for _, a := range attrs {
		out = out.Set(a.Name, a.Value)
	}
	return d.oned.UpdateAR(ctx, vnet, ar.Get(mapping.AttrARID), out)
}
