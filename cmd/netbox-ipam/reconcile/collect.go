package reconcile

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strconv"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/hooks"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// Collection compares OpenNebula's view of its networks (`onevnet show -x`, or oned
// itself with --all) with NetBox: per AR of the driver, the drift mapping.Compare
// finds, the AR's IP range, and (with --all, when every network is in view) the
// driver's ranges and prefixes no AR references and, with vms.enabled, its virtual
// machines. It reads and never writes. The NetBox reads are per AR and per page, never
// per address.

// run is one audit or sync: the driver's call its changes go through, and the hooks'
// call that compares and keeps NetBox virtual machines (vms.enabled) by the hooks'
// rule, under their locks.
type run struct {
	*driver.Call
	vms  *hooks.Call
	nb   driver.Backend
	oned opennebula.Client
}

// Run audits, or with o.Sync syncs: it collects the plan, filters it by the
// policies o asks for and applies what is left. The plan's Drift counts what was
// found before any repair. Networks come from o.Files or stdin, or with o.All and no
// files from oned, after asking the front-end whether sync may act (gate).
func Run(ctx context.Context, d *driver.Driver, o Options, stdin io.Reader) (Plan, error) {
	r := &run{Call: d.Begin(""), vms: hooks.New(d).Begin(), nb: d.NetBox(), oned: d.OpenNebula()}
	start, onedStart, began := r.nb.Requests(), r.oned.Requests(), d.Now()
	skip, err := gate(ctx, d, o)
	if err != nil || skip != "" {
		return Plan{Skipped: skip}, err
	}
	if o.acting() && d.Config().VMs.Enabled {
		// Sync keeps NetBox VMs under the hooks' per-VM locks: a state folder that is
		// not the driver's refuses the run at once, not VM by VM.
		if err := d.StateReady(); err != nil {
			return Plan{}, err
		}
	}
	vnets, err := r.loadVNets(ctx, o, stdin)
	if err != nil {
		return Plan{}, err
	}
	p, err := r.collect(ctx, vnets, o.All)
	if err != nil {
		return p, err
	}
	p.Changes = p.changes()
	for _, filter := range policies(o) {
		p.Changes = filter(p.Changes)
	}
	if err := r.apply(ctx, &p, began); err != nil {
		return p, err
	}
	p.Requests, p.OnedRequests = r.nb.Requests()-start, r.oned.Requests()-onedStart
	return p, nil
}

// loadVNets reads the networks: the files (or stdin), or with --all and no files,
// every network oned shows the caller.
func (r *run) loadVNets(ctx context.Context, o Options, stdin io.Reader) ([]mapping.VNet, error) {
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
		ids, err := r.oned.VNetIDs(ctx)
		if err != nil {
			return nil, err
		}
		// The pool listing may leave out ARs and leases, so each network is read in
		// full; those without a netbox AR are skipped by the audit.
		var out []mapping.VNet
		for _, id := range ids {
			v, err := r.oned.VNet(ctx, id)
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

// collect compares every AR of the driver in vnets and, with all, lists the driver's
// ranges and prefixes that none of them references and audits its virtual machines.
func (r *run) collect(ctx context.Context, vnets []mapping.VNet, all bool) (Plan, error) {
	var p Plan
	ranges, prefixes, named6 := map[int]bool{}, map[int]bool{}, map[string]bool{}
	held := map[heldAt]string{}
	refer := func(ids map[int]bool, v string) {
		if id, err := strconv.Atoi(v); err == nil && id != 0 {
			ids[id] = true
		}
	}
	for _, v := range vnets {
		for _, ar := range v.ARs {
			if !ar.UsesIPAM(r.Config().Name) {
				continue
			}
			a, err := r.auditAR(ctx, v, ar)
			if err != nil {
				return p, err
			}
			p.ARs = append(p.ARs, a)
			a.noteHeld(held, ar)
			// What the AR names stays referenced even when the AR could not be read,
			// and so does the range found by its first address when updatear dropped
			// the ids.
			refer(ranges, ar.Attrs.Get(mapping.AttrIPRangeID))
			refer(ranges, strconv.Itoa(a.IPRange))
			refer(prefixes, ar.Attrs.Get(mapping.AttrPrefixID))
			refer(prefixes, strconv.Itoa(a.prefix))
			for _, k := range mapping.IPv6Prefixes { // its /64s (IP4_6), by id and by prefix (updatear drops the id)
				refer(prefixes, ar.Attrs.Get(k.IDAttr))
				if n, ok, _ := k.Named(ar.Attrs); ok {
					named6[n.String()] = true
				}
			}
		}
	}
	if all {
		var err error
		if p.Stale, err = r.staleObjects(ctx, ranges, prefixes, named6); err != nil {
			return p, err
		}
		if err := r.freedLeases(ctx, held, &p); err != nil {
			return p, err
		}
		if r.Config().VMs.Enabled {
			if err := r.auditVMs(ctx, vnets, &p); err != nil {
				return p, err
			}
		} else if err := r.auditRecords(ctx, vnets, &p); err != nil {
			return p, err
		}
	}
	for _, a := range p.ARs {
		for _, f := range a.Findings {
			if f.IsDrift() {
				p.Drift++
			}
		}
	}
	p.Drift += len(p.Stale) + len(p.MissingVMs) + len(p.OutOfStepVMs) + len(p.UnrecordedVMs) + len(p.Revived)
	return p, nil
}

// auditAR reads what NetBox holds for one AR (its range, and the addresses of its
// prefix, page by page) and compares.
func (r *run) auditAR(ctx context.Context, v mapping.VNet, ar mapping.AR) (*ARPlan, error) {
	s, err := mapping.ReadStoredAR(ar.Attrs)
	if err != nil { // reported, so that one odd AR does not hide the others
		return &ARPlan{VNet: v.ID, AR: ar.Attrs.Get(mapping.AttrARID), Leases: len(ar.Leases), Findings: []mapping.Finding{{
			Kind: mapping.DriftRange, IP: ar.Attrs.Get(mapping.AttrIP), Detail: "the AR cannot be read: " + err.Error()}}}, nil
	}
	a := &ARPlan{VNet: v.ID, AR: s.ID, Span: fmt.Sprintf("%s…%s", s.First, s.Last), IPRange: s.RangeID, Leases: len(ar.Leases), s: s, bits: 32, attrs: ar.Attrs}
	spans := []mapping.Span{s.Span}
	foundByFirst := false
	if s.LostIDs() {
		if err := r.FindRange(ctx, &s); err != nil {
			return nil, err
		}
		if foundByFirst = s.RangeID != 0; foundByFirst {
			a.IPRange, a.s = s.RangeID, s
			a.Findings = append(a.Findings, mapping.Finding{Kind: mapping.DriftIDs, IP: s.First.String(), Object: s.RangeID,
				Detail: fmt.Sprintf("the AR has no %s (onevnet updatear without --append drops it); NetBox IP range %d starts at its first address; sync restores the AR's NetBox attributes with onevnet updatear --append", mapping.AttrIPRangeID, s.RangeID)})
		}
	}
	o, err := r.ObjectsOf(ctx, s, true)
	if err != nil {
		return nil, err
	}
	a.rng, a.vrf = o.Range, o.VRF
	if o.Prefix != nil {
		a.prefix = o.Prefix.ID
	}
	if a.Restore = arRestore(ar.Attrs, s, o); len(a.Restore) > 0 && !foundByFirst {
		a.Findings = append(a.Findings, mapping.Finding{Kind: mapping.DriftSettings, IP: s.First.String(), Object: a.prefix,
			Detail: "the AR's network settings differ from NetBox's prefix (NetBox wins): " + a.Restore.String()})
	}
	spans = append(spans, a.checkRange(s, o, r.Owned)...)
	if !o.Known() {
		return a, nil // neither its range nor its prefix: nowhere to look for, or put, its leases
	}
	held, err := r.held(ctx, a.vrf, mapping.Covering(spans))
	if err != nil {
		return nil, err
	}
	findings, repairs := mapping.Compare(v.ID, ar, spans, held)
	a.held, a.spans = held, spans
	a.Findings = append(a.Findings, findings...)
	repairs.RangeSpan = a.repairs.RangeSpan
	a.repairs = repairs
	return a, nil
}

// checkRange compares the AR's IP range with the AR and sets the mask length of the
// leases sync creates; it returns the range's span when that differs from the AR's
// (leases there are the AR's too).
func (a *ARPlan) checkRange(s mapping.StoredAR, o driver.ARObjects, owned func(netbox.Tagged) bool) []mapping.Span {
	if o.Range == nil {
		if o.Prefix != nil {
			if n, err := o.Prefix.Net(); err == nil {
				a.bits = n.Bits()
			}
		}
		if s.RangeID != 0 {
			a.Findings = append(a.Findings, mapping.Finding{Kind: mapping.DriftRange, IP: s.First.String(), Object: s.RangeID,
				Detail: fmt.Sprintf("%s names NetBox IP range %d, which does not exist; re-create the AR (or restore the range)", mapping.AttrIPRangeID, s.RangeID)})
		}
		return nil
	}
	rng := *o.Range
	a.bits = driver.RangeBits(rng)
	if rng.MarkPopulated { // an admin's mark: reported, never undone by sync
		a.Findings = append(a.Findings, mapping.Finding{Kind: mapping.DriftRange, IP: s.First.String(), Object: rng.ID,
			Detail: fmt.Sprintf("NetBox IP range %d is marked populated: NetBox refuses new leases in it (and sync's missing ones); clear \"Mark populated\" on the range to lease from it again", rng.ID)})
	}
	first, last, err := rng.Span()
	if err != nil || (first == s.First && last == s.Last) {
		return nil
	}
	fix := "left alone: it is not the driver's"
	if owned(rng.Tagged) {
		fix = "sync makes it match the AR"
		a.repairs.RangeSpan = true
	}
	a.Findings = append(a.Findings, mapping.Finding{Kind: mapping.DriftRange, IP: s.First.String(), Object: rng.ID,
		Detail: fmt.Sprintf("NetBox IP range %d spans %s…%s, the AR %s; %s", rng.ID, first, last, a.Span, fix)})
	return []mapping.Span{{First: first, Last: last}}
}

// held is what NetBox holds inside p, as mapping.Compare reads it.
func (r *run) held(ctx context.Context, vrf int, p netip.Prefix) ([]mapping.Held, error) {
	objs, err := r.nb.IPAddressesIn(ctx, vrf, p.String())
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
		for _, k := range []string{mapping.CFARID, mapping.CFMAC, mapping.CFRequestID, mapping.CFVMID, mapping.CFVNetID, mapping.CFVRouterID, mapping.CFFreesAt} {
			cf[k] = o.CustomString(k)
		}
		held = append(held, mapping.Held{ID: o.ID, Addr: a, Owned: r.Owned(o.Tagged), CF: cf, Description: o.Description, Created: o.Created, Status: o.Status.Value})
	}
	return held, nil
}

// staleObjects lists the driver's IP ranges and prefixes that no AR in view names (a
// /64 an AR names as its GLOBAL_PREFIX or ULA_PREFIX, named6, counts as named).
func (r *run) staleObjects(ctx context.Context, ranges, prefixes map[int]bool, named6 map[string]bool) ([]StaleObject, error) {
	var out []StaleObject
	rs, err := r.nb.IPRangesTagged(ctx, r.Config().Tag)
	if err != nil {
		return nil, err
	}
	for _, rng := range rs {
		if !ranges[rng.ID] {
			out = append(out, StaleObject{Kind: driver.ObjectIPRange, ID: rng.ID, What: rng.StartAddress + "-" + rng.EndAddress})
		}
	}
	ps, err := r.nb.PrefixesTagged(ctx, r.Config().Tag)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if !prefixes[p.ID] && !named6[p.Prefix] {
			out = append(out, StaleObject{Kind: driver.ObjectPrefix, ID: p.ID, What: p.Prefix})
		}
	}
	return out, nil
}

// arRestore is what oned's AR should carry back from NetBox: the ids updatear dropped
// (found by the AR's first address) and the network settings of the prefix's custom
// fields, which win over the AR's as they do at register.
func arRestore(ar mapping.Attrs, s mapping.StoredAR, o driver.ARObjects) mapping.Attrs {
	var out mapping.Attrs
	set := func(name, v string) {
		if v != "" && ar.Get(name) != v {
			out = append(out, mapping.Attr{Name: name, Value: v})
		}
	}
	if o.Range != nil {
		set(mapping.AttrIPRangeID, strconv.Itoa(o.Range.ID))
	}
	if o.Prefix != nil && ar.Get(mapping.AttrPrefixID) == "" {
		set(mapping.AttrPrefixID, strconv.Itoa(o.Prefix.ID))
		if n, err := o.Prefix.Net(); err == nil {
			set(mapping.AttrPrefix, n.Masked().String())
			set(mapping.AttrNetworkAddress, n.Masked().Addr().String())
		}
	}
	if o.Prefix != nil && !s.Reservation() {
		for _, ns := range mapping.NetworkSettings {
			set(ns.Attr, o.Prefix.CustomString(ns.CustomField))
		}
	}
	return out
}

// freedLeases lists the driver's freed leases that cool down (release: cooldown), in
// every VRF and both families: one request. Those whose time is up are sync's to
// delete. One at an address oned holds again (held: a free whose end oned never saw)
// is never deleted: its IPv4 object is a mismatch of its AR, which sync makes a lease
// again, and its IPv6 ones are revived (made active) here. One whose time is not a
// time is reported and left. Without cooldown configured nothing is read: the
// deprecated leases of release: deprecate are kept.
func (r *run) freedLeases(ctx context.Context, held map[heldAt]string, p *Plan) error {
	if r.Config().Release != "cooldown" {
		return nil
	}
	freed, err := r.nb.IPAddressesTaggedWithStatus(ctx, r.Config().Tag, mapping.StatusDeprecated)
	if err != nil {
		return err
	}
	for _, a := range freed {
		ip, _ := a.Addr()
		f := FreedLease{ID: a.ID, IP: ip.String(), FreesAt: a.CustomString(mapping.CFFreesAt), What: a.Description}
		state := r.Freed(a)
		if state == mapping.Cooling || state == mapping.Cooled || state == mapping.BadTime {
			if by, ok := held[heldAt{netbox.RefID(a.VRF), ip}]; ok {
				f.Note = "oned holds it again (" + by + ")"
				if ip.Is6() {
					p.Revived = append(p.Revived, f)
				} else {
					f.Note += ": its AR's mismatch; sync makes it a lease again"
					p.Cooling = append(p.Cooling, f)
				}
				continue
			}
			if by, ok := held[heldAt{anyVRF, ip}]; ok {
				f.Note = "oned may hold it (" + by + ", whose NetBox range and prefix were not found): left"
				p.Cooling = append(p.Cooling, f)
				continue
			}
		}
		switch state {
		case mapping.Cooling:
			p.Cooling = append(p.Cooling, f)
		case mapping.Cooled:
			p.Cooled = append(p.Cooled, f)
		case mapping.BadTime:
			_, err := mapping.ParseFreesAt(f.FreesAt)
			f.Note = err.Error() + ": left; write a time, or delete the address in NetBox"
			p.Cooling = append(p.Cooling, f)
		}
	}
	return nil
}

// heldAt is an address in a VRF (anyVRF: one not known).
type heldAt struct {
	vrf  int
	addr netip.Addr
}

const anyVRF = -1

// noteHeld adds the addresses oned holds in ar (IPv4, and SLAAC as oned shows them)
// to held, in the VRF of a's NetBox objects, where the driver makes them.
func (a *ARPlan) noteHeld(held map[heldAt]string, ar mapping.AR) {
	vrf := a.vrf
	if a.rng == nil && a.prefix == 0 {
		vrf = anyVRF
	}
	for _, l := range ar.Leases {
		for _, s := range []string{l.IP, l.IP6Global, l.IP6ULA} {
			if ip, err := netip.ParseAddr(s); err == nil {
				held[heldAt{vrf, ip}] = "network " + a.VNet + " AR " + a.AR
			}
		}
	}
}

// auditVMs compares the driver's NetBox virtual machines with the VMs that hold its
// leases in vnets (all of oned's networks): a virtual machine whose VM holds none is
// stale (terminated while the hooks were not running); a VM that holds some and has no
// virtual machine is missing; one that has it is read from oned and compared with it
// (hooks.Call.VMDifferences): what the hooks missed (a rename, a state change, a NIC
// detached while onehem-server was down) makes it out of step.
func (r *run) auditVMs(ctx context.Context, vnets []mapping.VNet, p *Plan) error {
	holders := r.holders(vnets)
	have, err := r.nb.VirtualMachinesWith(ctx, r.Config().Tag, mapping.CFVMID)
	if err != nil {
		return err
	}
	kept := map[string]bool{}
	for _, v := range have {
		id := v.CustomString(mapping.CFVMID)
		kept[id] = true
		if !holders[id] {
			p.Stale = append(p.Stale, StaleObject{Kind: driver.ObjectVM, ID: v.ID, What: "OpenNebula VM " + id + " (" + v.Name + ")", vm: id})
			continue
		}
		vm, err := r.oned.VM(ctx, id)
		if opennebula.IsGone(err) {
			continue // terminated since its networks were read: stale at the next run
		}
		if err != nil {
			return err
		}
		diff, err := r.vms.VMDifferences(ctx, vm, v)
		if err != nil {
			return err
		}
		if len(diff) > 0 {
			p.OutOfStepVMs = append(p.OutOfStepVMs, VMDrift{VM: id, NetBoxVM: v.ID, Name: v.Name, Differences: diff})
		}
	}
	for id := range holders {
		if !kept[id] {
			p.MissingVMs = append(p.MissingVMs, id)
		}
	}
	sort.Strings(p.MissingVMs)
	sort.Slice(p.OutOfStepVMs, func(i, j int) bool { return p.OutOfStepVMs[i].NetBoxVM < p.OutOfStepVMs[j].NetBoxVM })
	return nil
}

// holders are the VMs (ids) that hold leases of the driver in vnets.
func (r *run) holders(vnets []mapping.VNet) map[string]bool {
	holders := map[string]bool{}
	for _, v := range vnets {
		for _, ar := range v.ARs {
			if !ar.UsesIPAM(r.Config().Name) {
				continue
			}
			for _, l := range ar.Leases {
				if l.VM != "" && l.VM != "-1" {
					holders[l.VM] = true
				}
			}
		}
	}
	return holders
}

// auditRecords finds the VMs whose leases' DNS names or tenants lag behind what the
// hooks write (dns_name, tenants): a hook that failed, a mapping changed since. Each
// holder is read from oned, since the names and owners are in no network document: one
// read per VM, and only when either setting is on.
func (r *run) auditRecords(ctx context.Context, vnets []mapping.VNet, p *Plan) error {
	if !r.Config().RecordsMore() {
		return nil
	}
	holders := r.holders(vnets)
	ids := make([]string, 0, len(holders))
	for id := range holders {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return len(ids[i]) < len(ids[j]) || len(ids[i]) == len(ids[j]) && ids[i] < ids[j] })
	for _, id := range ids {
		vm, err := r.oned.VM(ctx, id)
		if opennebula.IsGone(err) {
			continue // terminated since its networks were read: nothing to name
		}
		if err != nil {
			return err
		}
		diff, err := r.vms.RecordDifferences(ctx, vm)
		if err != nil {
			return err
		}
		if len(diff) > 0 {
			p.UnrecordedVMs = append(p.UnrecordedVMs, VMDrift{VM: id, Name: vm.Name, Differences: diff})
		}
	}
	return nil
}
