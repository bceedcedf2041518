package main

import (
	"context"
	"net/netip"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// Unregister handles unregister_address_range (AR shapes S and V): the driver's leftover
// leases inside the AR, its IP range, and the prefix when the driver created it and
// nothing else is left in it. Gone already is success; nothing foreign is touched.
func (d *Driver) Unregister(ctx context.Context, req mapping.Request) (string, error) {
	s, err := storedAR(req.AR)
	if err != nil {
		return "", err
	}
	if s.reservation() {
		// The ids are the parent AR's; the reserved leases stay with the parent, which
		// oned frees one by one (free_address on the parent's AR).
		d.info("%s is a reservation of AR %s: the parent's NetBox range and prefix stay", s, s.parent)
		return "", nil
	}
	if s.lostIDs() {
		if err := d.findRange(ctx, &s); err != nil {
			return "", err
		}
	}
	if s.lostIDs() {
		d.info("%s holds no NetBox ids and no NetBox IP range tagged %s spans it; nothing to remove", s, d.cfg.Tag)
		return "", nil
	}
	o, err := d.arObjects(ctx, s, true)
	if err != nil {
		return "", err
	}
	prefix, rng, vrf := o.prefix, o.rng, o.vrf

	// Leftover leases: ours, inside the AR's span, plus their IPv6 addresses, removed
	// in bulk (an AR may hold thousands; one request per lease would not fit in the
	// deadline).
	if prefix != nil {
		ips, err := d.nb.IPAddressesIn(ctx, vrf, prefix.Prefix)
		if err != nil {
			return "", err
		}
		var ids []int
		var v4 []netip.Addr
		for _, ip := range ips {
			a, err := ip.Addr()
			if err != nil || a.Less(s.first) || s.last.Less(a) || !d.owned(ip.Tagged) {
				continue
			}
			ids = append(ids, ip.ID)
			v4 = append(v4, a)
		}
		if v6 := leaseIPv6Addrs(s, v4); len(v6) > 0 {
			more, err := d.nb.IPAddressesAt(ctx, vrf, addrStrings(v6))
			if err != nil {
				return "", err
			}
			for _, ip := range more {
				if d.owned(ip.Tagged) {
					ids = append(ids, ip.ID)
				}
			}
		}
		if err := d.removeAddresses(ctx, ids); err != nil {
			return "", err
		}
	}

	switch {
	case rng == nil:
	case !d.owned(rng.Tagged):
		d.info("left NetBox IP range %d alone: it is not tagged %s", rng.ID, d.cfg.Tag)
	default:
		if err := d.remove(ctx, kindIPRange, rng.ID); err != nil {
			return "", err
		}
	}

	if prefix != nil && d.owned(prefix.Tagged) {
		busy, err := d.prefixInUse(ctx, *prefix, vrf)
		if err != nil {
			return "", err
		}
		if busy != "" {
			d.info("kept prefix %s (id %d): %s", prefix.Prefix, prefix.ID, busy)
		} else if err := d.remove(ctx, kindPrefix, prefix.ID); err != nil {
			return "", err
		}
	}
	d.info("unregistered %s", s)
	return "", nil
}

// prefixInUse says why a prefix the driver created must stay ("" when it may go):
// addresses or ranges of anyone, including other ARs, are still inside.
func (d *Driver) prefixInUse(ctx context.Context, p netbox.Prefix, vrf int) (string, error) {
	ips, err := d.nb.IPAddressesIn(ctx, vrf, p.Prefix)
	if err != nil {
		return "", err
	}
	if len(ips) > 0 {
		return "it still holds ip-address " + ips[0].Address, nil
	}
	rs, err := d.nb.IPRangesIn(ctx, vrf, p.Prefix)
	if err != nil {
		return "", err
	}
	if len(rs) > 0 {
		return "it still holds IP range " + rs[0].StartAddress + "-" + rs[0].EndAddress, nil
	}
	return "", nil
}
