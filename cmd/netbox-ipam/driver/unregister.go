package driver

import (
	"context"
	"net/netip"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// unregister removes the driver's leftover leases inside the AR, its IPv6 /64s
// (unregisterIPv6), its IP range, and the prefix when the driver created it and
// nothing else is left in it. Gone already is success; nothing foreign is touched.
func (d *Call) unregister(ctx context.Context, ar mapping.Attrs) error {
	s, err := mapping.ReadStoredAR(ar)
	if err != nil {
		return err
	}
	if s.Reservation() {
		// The ids are the parent AR's; the reserved leases stay with the parent, which
		// oned frees one by one (free_address on the parent's AR).
		d.Infof("%s is a reservation of AR %s: the parent's NetBox range and prefix stay", s, s.Parent)
		return nil
	}
	if s.LostIDs() {
		if err := d.FindRange(ctx, &s); err != nil {
			return err
		}
	}
	if s.LostIDs() {
		d.Infof("%s holds no NetBox ids and no NetBox IP range tagged %s spans it; nothing to remove", s, d.cfg.Tag)
		return nil
	}
	o, err := d.ObjectsOf(ctx, s, true)
	if err != nil {
		return err
	}
	if o.Prefix != nil {
		if err := d.removeLeftoverLeases(ctx, s, *o.Prefix, o.VRF); err != nil {
			return err
		}
	}
	// The /64s first, while the range that tells which are this AR's is still there:
	// should this fail, the AR's objects all stay for audit to explain.
	if err := d.unregisterIPv6(ctx, ar, o); err != nil {
		return err
	}
	switch {
	case o.Range == nil:
	case !d.Owned(o.Range.Tagged):
		d.Infof("left NetBox IP range %d alone: it is not tagged %s", o.Range.ID, d.cfg.Tag)
	default:
		if err := d.Remove(ctx, ObjectIPRange, o.Range.ID); err != nil {
			return err
		}
	}
	if o.Prefix != nil && d.Owned(o.Prefix.Tagged) {
		if err := d.RemovePrefixIfEmpty(ctx, *o.Prefix, o.VRF); err != nil {
			return err
		}
	}
	d.Infof("unregistered %s", s)
	return nil
}

// removeLeftoverLeases removes the driver's leases inside the AR's span, with their
// IPv6 addresses, in bulk: an AR may hold thousands, and one request per lease would
// not fit in the deadline.
func (d *Call) removeLeftoverLeases(ctx context.Context, s mapping.StoredAR, prefix netbox.Prefix, vrf int) error {
	ips, err := d.nb.IPAddressesIn(ctx, vrf, prefix.Prefix)
	if err != nil {
		return err
	}
	var ids []int
	var v4 []netip.Addr
	for _, ip := range ips {
		if a, err := ip.Addr(); err == nil && s.Has(a) && d.Owned(ip.Tagged) {
			ids = append(ids, ip.ID)
			v4 = append(v4, a)
		}
	}
	if v6 := s.IPv6Addrs(v4); len(v6) > 0 {
		more, err := d.nb.IPAddressesAt(ctx, vrf, addrStrings(v6))
		if err != nil {
			return err
		}
		for _, ip := range more {
			if d.Owned(ip.Tagged) {
				ids = append(ids, ip.ID)
			}
		}
	}
	return d.RemoveAddresses(ctx, ids)
}

// RemovePrefixIfEmpty removes a prefix the driver created unless addresses or ranges
// of anyone, including other ARs, are still inside.
func (d *Call) RemovePrefixIfEmpty(ctx context.Context, p netbox.Prefix, vrf int) error {
	ip, found, err := d.nb.FirstIPAddressIn(ctx, vrf, p.Prefix)
	if err != nil {
		return err
	}
	if found {
		d.Infof("kept prefix %s (id %d): it still holds ip-address %s", p.Prefix, p.ID, ip.Address)
		return nil
	}
	r, found, err := d.nb.FirstIPRangeIn(ctx, vrf, p.Prefix)
	if err != nil {
		return err
	}
	if found {
		d.Infof("kept prefix %s (id %d): it still holds IP range %s-%s", p.Prefix, p.ID, r.StartAddress, r.EndAddress)
		return nil
	}
	return d.Remove(ctx, ObjectPrefix, p.ID)
}
