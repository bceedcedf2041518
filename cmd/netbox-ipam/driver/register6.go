package driver

import (
	"context"
	"net/netip"
	"strconv"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// The IPv6 side of an IP4_6 AR: its GLOBAL_PREFIX and ULA_PREFIX /64s, from NetBox.
// oned takes only IPv4 answers for leases; each lease's IPv6 addresses follow from its
// MAC in the AR's /64s (SLAAC), so NetBox plans the /64s: an AR that names one uses
// NetBox's prefix of it (or creates it), one that names none gets the next free /64
// of a pool (NETBOX_PARENT_PREFIX6 on the AR, else pool.parent_prefixes6; for ULA,
// NETBOX_ULA_PARENT_PREFIX6 and pool.ula_parent_prefixes6). Without a pool nothing
// changes: the AR has no such /64, as before.

// registerIPv6 finds, makes or carves the AR's /64s and returns what the answer sets:
// the prefix oned derives the leases from and the NetBox prefix's id. What it makes
// goes on u, so a later failure takes it back.
func (d *Call) registerIPv6(ctx context.Context, ar mapping.Attrs, typ string, pl placement, desc string, u *undo) (mapping.Attrs, error) {
	var out mapping.Attrs
	for _, k := range mapping.IPv6Prefixes {
		named, has, err := k.Named(ar)
		if err != nil {
			return nil, err
		}
		from, parents := d.pool6(k)
		if v := ar.Get(k.ParentAttr); v != "" {
			parents = []string{v}
		}
		if typ != "IP4_6" {
			if ar.Has(k.ParentAttr) {
				return nil, inputf("%s needs an AR of TYPE IP4_6 (this one is %s): only those get SLAAC addresses in a /64", k.ParentAttr, typ)
			}
			continue
		}
		var p netbox.Prefix
		switch {
		case has:
			p, err = d.prefix6Named(ctx, pl, named, desc, u)
		case len(parents) > 0:
			p, err = d.carveFrom(ctx, parents, mapping.SLAACBits, pl, desc, u, from)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		n, err := p.Net()
		if err != nil {
			return nil, statef("NetBox prefix %d has an unreadable prefix %q", p.ID, p.Prefix)
		}
		d.Infof("the AR's %s IPv6 prefix is %s (NetBox prefix %d)", k.Name, n, p.ID)
		out = out.Set(k.Attr, k.Answer(n)).Set(k.IDAttr, strconv.Itoa(p.ID))
	}
	return out, nil
}

// pool6 is the configured pool of k's /64s.
func (d *Call) pool6(k mapping.IPv6Prefix) (pool, []string) {
	if k.Attr == mapping.AttrULAPrefix {
		return pool{attr: k.ParentAttr, conf: "pool.ula_parent_prefixes6", kind: k}, d.cfg.Pool.ULAParentPrefixes6
	}
	return pool{attr: k.ParentAttr, conf: "pool.parent_prefixes6", kind: k}, d.cfg.Pool.ParentPrefixes6
}

// prefix6Named is NetBox's prefix of a /64 the AR names, in pl's VRF (its range's,
// where the leases' SLAAC addresses go), or a new one
// (the driver's, given back at unregister once no address is left in it). Another
// client that made it between the look and the create (NetBox refuses the duplicate)
// is as good: its prefix is used.
func (d *Call) prefix6Named(ctx context.Context, pl placement, net netip.Prefix, desc string, u *undo) (netbox.Prefix, error) {
	p, err := d.nb.PrefixExact(ctx, pl.vrfID, net.String())
	if err == nil || !netbox.IsNotFound(err) {
		return p, err
	}
	p, err = d.createPrefix(ctx, pl, net, desc, u)
	if netbox.KindOf(err) == netbox.KindInvalid {
		if again, lerr := d.nb.PrefixExact(ctx, pl.vrfID, net.String()); lerr == nil {
			return again, nil
		}
	}
	return p, err
}

// unregisterIPv6 gives back the AR's /64s that its own register made (the driver's
// tag, and the description of that register, which its IP range or prefix carries
// too), once no address of anyone is left inside. A /64 the AR found in NetBox, or
// shares with an AR that registered it first, stays.
func (d *Call) unregisterIPv6(ctx context.Context, ar mapping.Attrs, o ARObjects) error {
	mine := ""
	switch {
	case o.Range != nil && d.Owned(o.Range.Tagged):
		mine = o.Range.Description
	case o.Prefix != nil && d.Owned(o.Prefix.Tagged):
		mine = o.Prefix.Description
	}
	for _, k := range mapping.IPv6Prefixes {
		p, found, err := d.prefix6Of(ctx, ar, k, o.VRF)
		switch {
		case err == nil && !found:
			continue
		case err != nil:
			return err
		case !d.Owned(p.Tagged) || mine == "" || p.Description != mine:
			d.Infof("kept the %s IPv6 prefix %s (id %d): this AR's register did not make it", k.Name, p.Prefix, p.ID)
			continue
		}
		if err := d.RemovePrefixIfEmpty(ctx, p, netbox.RefID(p.VRF)); err != nil {
			return err
		}
	}
	return nil
}

// prefix6Of is NetBox's prefix of the AR's k /64: by its id, or, when an updatear
// dropped the id, by the /64 the AR names, in vrf. Found is false when it has
// neither, or NetBox has no such prefix.
func (d *Call) prefix6Of(ctx context.Context, ar mapping.Attrs, k mapping.IPv6Prefix, vrf int) (p netbox.Prefix, found bool, err error) {
	if id, perr := strconv.Atoi(ar.Get(k.IDAttr)); perr == nil && id > 0 {
		p, err = d.nb.GetPrefix(ctx, id)
	} else if n, ok, nerr := k.Named(ar); nerr == nil && ok {
		p, err = d.nb.PrefixExact(ctx, vrf, n.String())
	} else {
		return p, false, nil
	}
	if netbox.IsNotFound(err) {
		return p, false, nil
	}
	return p, err == nil, err
}
