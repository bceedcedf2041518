package reconcile

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// The applier carries out the changes the policies left, in the plan's order, each
// after a second look at what it is about: the AR in oned (one.vn.info), the VM in
// oned under its hook lock (hooks.Call.SyncVM), the stale object in NetBox. What the
// look no longer agrees with is left, and the plan says so. Every object goes through
// the driver's create-once and ownership path (driver.Call): only the driver's
// objects are created, changed or removed.

// apply carries out p's changes; began is when the run began.
func (r *run) apply(ctx context.Context, p *Plan, began time.Time) error {
	settledAt := settled(began, r.Now(), r.Config().Timeout)
	var revive, cooled []FreedLease
	for i, c := range p.Changes {
		switch c.Op {
		case ReviveFreed, FreeCooled:
			// In one go, after one look, and before the prunes: a stale prefix goes
			// only once nothing, a cooled lease neither, is left in it.
			if c.Op == ReviveFreed {
				revive = append(revive, c.Freed)
			} else {
				cooled = append(cooled, c.Freed)
			}
			if next := i + 1; next == len(p.Changes) || (p.Changes[next].Op != FreeCooled && p.Changes[next].Op != ReviveFreed) {
				if err := r.settleFreed(ctx, p, revive, cooled); err != nil {
					return err
				}
			}
		case RepairAR:
			if err := r.repairAR(ctx, c.AR, settledAt); err != nil {
				return err
			}
		case MakeVM, StepVM, DropVM:
			// A VM oned or NetBox fails on is reported and the others go on.
			kept, err := r.vms.SyncVM(ctx, c.VM)
			if err != nil {
				p.FailedVMs = append(p.FailedVMs, fmt.Sprintf("OpenNebula VM %s: %s", c.VM, mapping.OneLine(err.Error())))
			} else if left := vmLeft(c.Op, c.VM, kept); left != "" {
				p.LeftVMs = append(p.LeftVMs, "changed during sync: "+left)
			}
		case RecordVM:
			// What the hooks write, from the VM as oned holds it now.
			recorded, err := r.vms.RecordVM(ctx, c.VM)
			switch {
			case err != nil:
				p.FailedVMs = append(p.FailedVMs, fmt.Sprintf("OpenNebula VM %s: %s", c.VM, mapping.OneLine(err.Error())))
			case !recorded:
				p.LeftVMs = append(p.LeftVMs, "changed during sync: OpenNebula VM "+c.VM+" holds no lease of the driver now; nothing recorded")
			}
		case PruneRange, PrunePrefix:
			prune := r.pruneRange
			if c.Op == PrunePrefix {
				prune = r.prunePrefix
			}
			left, err := prune(ctx, c.Stale.ID, settledAt)
			if err != nil {
				return err
			}
			if left != "" {
				p.LeftStale = append(p.LeftStale, leftNote(left))
			}
		}
	}
	return nil
}

// settleFreed revives the freed IPv6 addresses of leases oned holds again and deletes
// the freed leases whose cool-down is over, after a second look at them in NetBox
// (one listing for all). A cooled one that an allocate took over meanwhile is gone or
// a lease again, and one whose time an admin moved is cooling again: both stay. One to
// revive that was freed again meanwhile (another one_frees_at) stays freed. What the
// look no longer agrees with is left, and the plan says so; the plan's lists keep
// what was done.
func (r *run) settleFreed(ctx context.Context, p *Plan, revive, cooled []FreedLease) error {
	now, err := r.nb.IPAddressesTaggedWithStatus(ctx, r.Config().Tag, mapping.StatusDeprecated)
	if err != nil {
		return err
	}
	look := map[int]netbox.IPAddress{}
	for _, a := range now {
		look[a.ID] = a
	}
	var changes []map[string]any
	var revived []FreedLease
	for _, f := range revive {
		if a, ok := look[f.ID]; ok && a.CustomString(mapping.CFFreesAt) == f.FreesAt {
			changes = append(changes, map[string]any{"id": f.ID, "status": mapping.StatusActive, "custom_fields": map[string]any{mapping.CFFreesAt: nil}})
			revived = append(revived, f)
		} else {
			p.LeftStale = append(p.LeftStale, leftNote(fmt.Sprintf("freed address %s (ip-address #%d) is no longer as seen: freed again, or gone", f.IP, f.ID)))
		}
	}
	if len(changes) > 0 {
		if err := r.nb.PatchIPAddresses(ctx, changes); err != nil {
			return err
		}
	}
	p.Revived = revived
	var ids []int
	var gone []FreedLease // what the report says was deleted
	for _, f := range cooled {
		if a, ok := look[f.ID]; ok && r.Freed(a) == mapping.Cooled {
			ids = append(ids, f.ID)
			gone = append(gone, f)
		} else {
			p.LeftStale = append(p.LeftStale, leftNote(fmt.Sprintf("freed lease %s (ip-address #%d) is no longer due: taken over, or its time moved", f.IP, f.ID)))
		}
	}
	if err := r.RemoveAddresses(ctx, ids); err != nil {
		return err
	}
	p.Cooled = gone
	return nil
}

// repairAR reads the AR's network from oned again (the picture may be minutes old, or
// a file) and repairs only what that look agrees with (arNow, sincePicture).
func (r *run) repairAR(ctx context.Context, a *ARPlan, settledAt time.Time) error {
	v, err := r.oned.VNet(ctx, a.VNet) // one.vn.info
	var fresh *mapping.VNet
	switch {
	case err == nil:
		fresh = &v
	case !opennebula.IsGone(err):
		return err
	}
	now, why := arNow(a, fresh, r.Config().Name)
	if why != "" {
		a.Left = append(a.Left, leftNote(why))
		return nil
	}
	repairs, restore, left := sincePicture(a, now, settledAt)
	a.repairs = repairs
	for _, l := range left {
		a.Left = append(a.Left, leftNote(l))
	}
	if err := r.restoreInOned(ctx, a, now, restore); err != nil {
		return err
	}
	return r.repairInNetBox(ctx, a)
}

// restoreInOned writes back into oned's AR (now, as oned holds it) what it lost or
// what NetBox changed.
func (r *run) restoreInOned(ctx context.Context, a *ARPlan, now mapping.AR, restore mapping.Attrs) error {
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
		a.Done = append(a.Done, fmt.Sprintf("not restored in oned's AR (it has %d hold(s), and oned crashes updating such an AR): release them, or run onevnet updatear with %s", holds, restore.String()))
	default:
		if err := r.restoreAR(ctx, a.VNet, now.Attrs, restore); err != nil {
			return err
		}
		a.Done = append(a.Done, "restored in oned's AR: "+restore.String())
	}
	return nil
}

// restoreAR writes attrs into oned's AR: the whole AR (as oned held it a moment ago)
// with attrs set (onevnet updatear without --append, which replaces every attribute
// but TYPE, IP, MAC and AR_ID). --append would not do: the CLI puts the new text
// before the old attributes, and oned keeps the old value of a repeated name.
func (r *run) restoreAR(ctx context.Context, vnet string, ar mapping.Attrs, attrs mapping.Attrs) error {
	var out mapping.Attrs // the client names the AR by its AR_ID
	for _, a := range ar {
		if !mapping.ComputedAR(a.Name) {
			out = out.Set(a.Name, a.Value)
		}
	}
	for _, a := range attrs {
		out = out.Set(a.Name, a.Value)
	}
	return r.oned.UpdateAR(ctx, vnet, ar.Get(mapping.AttrARID), out)
}

// repairInNetBox makes NetBox hold what oned's AR says: the range's span, the missing
// leases, no orphans, the current labels.
func (r *run) repairInNetBox(ctx context.Context, a *ARPlan) error {
	p := a.repairs
	if p.RangeSpan && a.rng != nil {
		if _, err := r.nb.PatchIPRange(ctx, a.rng.ID, map[string]any{
			"start_address": netip.PrefixFrom(a.s.First, a.bits).String(), "end_address": netip.PrefixFrom(a.s.Last, a.bits).String()}); err != nil {
			return err
		}
		a.Done = append(a.Done, fmt.Sprintf("IP range %d now spans %s", a.rng.ID, a.Span))
	}
	if err := r.RemoveAddresses(ctx, p.Delete); err != nil {
		return err
	}
	if len(p.Delete) > 0 {
		a.Done = append(a.Done, fmt.Sprintf("removed %d orphan(s)", len(p.Delete)))
	}
	if err := r.recordMissing(ctx, a); err != nil {
		return err
	}
	if len(p.Update) > 0 {
		changes := make([]map[string]any, 0, len(p.Update))
		for _, u := range p.Update {
			c := map[string]any{"id": u.ID, "description": u.Description}
			if len(u.CustomFields) > 0 {
				c["custom_fields"] = u.CustomFields
			}
			if u.Status != "" {
				c["status"] = u.Status
			}
			changes = append(changes, c)
		}
		if err := r.nb.PatchIPAddresses(ctx, changes); err != nil {
			return err
		}
		a.Done = append(a.Done, fmt.Sprintf("updated %d lease record(s)", len(p.Update)))
	}
	return nil
}

// recordMissing creates the leases oned holds and NetBox lacks, in atomic batches. A
// batch whose answer is lost is looked up by its addresses: the driver's objects there
// are the batch's (or a lease an action recorded meanwhile, which is as good).
func (r *run) recordMissing(ctx context.Context, a *ARPlan) error {
	missing := a.repairs.Create
	if len(missing) == 0 {
		return nil
	}
	specs := make([]netbox.IPAddressSpec, 0, len(missing))
	for _, c := range missing {
		specs = append(specs, netbox.IPAddressSpec{Address: netip.PrefixFrom(c.Addr, a.bits).String(), VRFID: a.vrf, Status: "active",
			Tags: r.Tags(), CustomFields: c.CustomFields, Description: c.Description})
	}
	err := netbox.InBatches(specs, func(batch []netbox.IPAddressSpec) error {
		addrs := make([]string, 0, len(batch))
		for _, s := range batch {
			p, _ := netip.ParsePrefix(s.Address)
			addrs = append(addrs, p.Addr().String())
		}
		got, err := netbox.CreateOnce(ctx,
			func(c context.Context) ([]netbox.IPAddress, error) { return r.nb.CreateIPAddresses(c, batch) },
			func(c context.Context) ([]netbox.IPAddress, bool, error) {
				have, err := r.nb.IPAddressesAt(c, a.vrf, addrs)
				var mine []netbox.IPAddress
				for _, h := range have {
					if r.Owned(h.Tagged) {
						mine = append(mine, h)
					}
				}
				r.InfoLost(fmt.Sprintf("IP addresses (%d)", len(batch)), len(mine))
				return mine, err == nil && len(mine) == len(batch), err
			})
		for _, g := range got {
			r.NoteObject("+", driver.ObjectIPAddress, g.ID)
		}
		return err
	})
	if err != nil {
		return err
	}
	a.Done = append(a.Done, fmt.Sprintf("recorded %d missing lease(s)", len(missing)))
	return nil
}

// pruneRange removes a stale IP range of the driver with the driver's leases in it,
// unless NetBox made it after settledAt: it says why it left it then.
func (r *run) pruneRange(ctx context.Context, id int, settledAt time.Time) (left string, err error) {
	rng, err := r.nb.GetIPRange(ctx, id)
	if netbox.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if left := tooYoung(fmt.Sprintf("stale ip-range #%d", id), rng.Created, settledAt); left != "" {
		return left, nil
	}
	first, last, _ := rng.Span()
	span := mapping.Span{First: first, Last: last}
	objs, err := r.nb.IPAddressesIn(ctx, netbox.RefID(rng.VRF), mapping.Covering([]mapping.Span{span}).String())
	if err != nil {
		return "", err
	}
	var ids []int
	for _, o := range objs {
		if a, err := o.Addr(); err == nil && span.Has(a) && r.Owned(o.Tagged) {
			ids = append(ids, o.ID)
		}
	}
	if err := r.RemoveAddresses(ctx, ids); err != nil {
		return "", err
	}
	return "", r.Remove(ctx, driver.ObjectIPRange, id)
}

// prunePrefix removes a stale prefix of the driver that holds nothing, unless NetBox
// made it after settledAt (as pruneRange).
func (r *run) prunePrefix(ctx context.Context, id int, settledAt time.Time) (left string, err error) {
	p, err := r.nb.GetPrefix(ctx, id)
	if netbox.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if left := tooYoung(fmt.Sprintf("stale prefix #%d", id), p.Created, settledAt); left != "" {
		return left, nil
	}
	return "", r.RemovePrefixIfEmpty(ctx, p, netbox.RefID(p.VRF))
}
