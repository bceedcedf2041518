package reconcile

import (
	"context"
	"fmt"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// Policies narrow what sync does with a plan. Those of the run as a whole filter its
// changes before anything is applied (policies); those that need a second look at
// oned or NetBox judge one change at a time, as the applier reaches it, from what
// that look returned: they are pure, the applier does the reading.

// policy filters a plan's changes.
type policy func([]Change) []Change

// policies are those the options ask for.
func policies(o Options) []policy {
	if !o.acting() {
		return []policy{reportOnly}
	}
	if !o.Prune {
		return []policy{keepStale}
	}
	return nil
}

// reportOnly is audit and sync --dry-run: the plan is reported, nothing is changed.
func reportOnly([]Change) []Change { return nil }

// keepStale is sync without --prune: stale ranges, prefixes and virtual machines stay
// (removing what no AR names is destructive: an operator opts in).
func keepStale(cs []Change) []Change {
	var out []Change
	for _, c := range cs {
		if c.Op != DropVM && c.Op != PruneRange && c.Op != PrunePrefix {
			out = append(out, c)
		}
	}
	return out
}

// gate asks the front-end what audit and sync need to know when they read the
// networks from oned (--all, no files): whether sync may act at all (skip says why
// not: an HA follower), or, for a run that changes nothing, a warning that a user
// outside the oneadmin group sees part of the networks.
func gate(ctx context.Context, d *driver.Driver, o Options) (skip string, err error) {
	if !o.All || len(o.Files) > 0 {
		return "", nil
	}
	return d.ViewGate(ctx, o.acting())
}

// arNow finds a's AR in v, its network as oned holds it now (nil: gone), and says why
// sync leaves it: the network or the AR went, the AR is no longer this driver's, or it
// spans other addresses than in the picture. why is "" when sync may go on.
func arNow(a *ARPlan, v *mapping.VNet, ipam string) (now mapping.AR, why string) {
	if v == nil {
		return now, "network " + a.VNet + " is gone"
	}
	for _, ar := range v.ARs {
		if ar.Attrs.Get(mapping.AttrARID) != a.AR {
			continue
		}
		s, err := mapping.ReadStoredAR(ar.Attrs)
		switch {
		case !ar.UsesIPAM(ipam):
			return ar, "the AR no longer uses IPAM_MAD " + ipam
		case err != nil:
			return ar, "the AR cannot be read now: " + err.Error()
		case s.Span != a.s.Span:
			return ar, fmt.Sprintf("the AR now spans %s…%s", s.First, s.Last)
		}
		return ar, ""
	}
	return now, "AR " + a.AR + " is gone from network " + a.VNet
}

// sincePicture is what of r's repairs oned's AR, as it holds it now, still agrees
// with: a lease oned holds now is no orphan, one it freed is not re-created, a holder
// changed is not relabelled, an attribute edited meanwhile is not written back; an
// orphan NetBox made after settled is left too (its get_address may not have reached
// oned yet). left says what was dropped and why.
func sincePicture(r *ARPlan, now mapping.AR, settled time.Time) (repairs mapping.Repairs, restore mapping.Attrs, left []string) {
	_, confirmed := mapping.Compare(r.VNet, now, r.spans, r.held)
	repairs, left = mapping.Recheck(r.repairs, confirmed, r.held, settled)
	restore, leftAttrs := mapping.RecheckRestore(r.Restore, r.attrs, now.Attrs)
	return repairs, restore, append(left, leftAttrs...)
}

// settled is the time before which NetBox objects are old enough to judge: what NetBox
// made after the audit began, or within the driver's timeout of now, may belong to an
// action oned has not seen the answer of yet (a lease, an AR being registered).
func settled(began, now time.Time, timeout time.Duration) time.Time {
	if s := now.Add(-timeout); s.Before(began) {
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

// vmLeft says what a VM change left undone because oned changed the VM since the
// picture, from kept (whether the VM holds leases of the driver now, after SyncVM
// read it again): "" when it did what the plan said.
func vmLeft(op Op, vm string, kept bool) string {
	switch {
	case op == MakeVM && !kept:
		return "OpenNebula VM " + vm + " holds no lease of the driver now; nothing made"
	case op == StepVM && !kept:
		return "OpenNebula VM " + vm + " holds no lease of the driver now; its virtual machine removed"
	case op == DropVM && kept:
		return "OpenNebula VM " + vm + " holds leases of the driver again; kept, in step"
	}
	return ""
}

// leftNote is how the report says what a second look left.
func leftNote(why string) string { return "changed during sync: " + why + "; left for the next run" }
