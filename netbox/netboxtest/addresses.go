package netboxtest

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// IPAddressesAt lists the addresses of a VRF at these hosts.
func (n *NetBox) IPAddressesAt(_ context.Context, vrf int, addrs []string) ([]netbox.IPAddress, error) {
	want := map[netip.Addr]bool{}
	for _, a := range addrs {
		want[hostOf(a)] = true
	}
	return call(n, "IPAddressesAt", func() ([]netbox.IPAddress, error) {
		return sorted(n.Addresses, func(a *netbox.IPAddress) bool { return sameVRF(a.VRF, vrf) && want[hostOf(a.Address)] }), nil
	})
}

// IPAddressesTaggedAt lists the addresses with the tag at these hosts, in all VRFs.
func (n *NetBox) IPAddressesTaggedAt(_ context.Context, tag string, addrs []string) ([]netbox.IPAddress, error) {
	want := map[netip.Addr]bool{}
	for _, a := range addrs {
		want[hostOf(a)] = true
	}
	return call(n, "IPAddressesTaggedAt", func() ([]netbox.IPAddress, error) {
		return sorted(n.Addresses, func(a *netbox.IPAddress) bool { return a.HasTag(tag) && want[hostOf(a.Address)] }), nil
	})
}

// IPAddressesIn lists the addresses of a VRF inside parent.
func (n *NetBox) IPAddressesIn(_ context.Context, vrf int, parent string) ([]netbox.IPAddress, error) {
	p, _ := netip.ParsePrefix(parent)
	return call(n, "IPAddressesIn", func() ([]netbox.IPAddress, error) {
		return sorted(n.Addresses, func(a *netbox.IPAddress) bool { return sameVRF(a.VRF, vrf) && p.Contains(hostOf(a.Address)) }), nil
	})
}

// IPAddressesLabelled lists the addresses with this tag and description.
func (n *NetBox) IPAddressesLabelled(_ context.Context, tag, desc string) ([]netbox.IPAddress, error) {
	return call(n, "IPAddressesLabelled", func() ([]netbox.IPAddress, error) {
		return sorted(n.Addresses, func(a *netbox.IPAddress) bool { return a.HasTag(tag) && a.Description == desc }), nil
	})
}

// IPAddressesTaggedWithStatus lists the addresses with the tag and this status, in all VRFs.
func (n *NetBox) IPAddressesTaggedWithStatus(_ context.Context, tag, status string) ([]netbox.IPAddress, error) {
	return call(n, "IPAddressesTaggedWithStatus", func() ([]netbox.IPAddress, error) {
		return sorted(n.Addresses, func(a *netbox.IPAddress) bool { return a.HasTag(tag) && a.Status.Value == status }), nil
	})
}

// FirstIPAddressIn is one address of a VRF inside parent, if any.
func (n *NetBox) FirstIPAddressIn(ctx context.Context, vrf int, parent string) (netbox.IPAddress, bool, error) {
	p, _ := netip.ParsePrefix(parent)
	as, err := call(n, "FirstIPAddressIn", func() ([]netbox.IPAddress, error) {
		return sorted(n.Addresses, func(a *netbox.IPAddress) bool { return sameVRF(a.VRF, vrf) && p.Contains(hostOf(a.Address)) }), nil
	})
	if err != nil || len(as) == 0 {
		return netbox.IPAddress{}, false, err
	}
	return as[0], true, nil
}

// free lists up to limit free hosts of a range, in order.
func (n *NetBox) free(r *netbox.IPRange, limit int) []netip.Prefix {
	start, _ := netip.ParsePrefix(r.StartAddress)
	var out []netip.Prefix
	if n.populated(r) {
		return out // as NetBox 4.3+: a range marked populated has nothing available
	}
	for a := start.Addr(); !hostOf(r.EndAddress).Less(a) && len(out) < limit; a = a.Next() {
		if !n.addressTaken(netbox.RefID(r.VRF), a) {
			out = append(out, netip.PrefixFrom(a, start.Bits()))
		}
	}
	return out
}

// AvailableInRange lists up to limit free addresses of a range.
func (n *NetBox) AvailableInRange(_ context.Context, id, limit int) ([]netbox.AvailableIP, error) {
	return call(n, "AvailableInRange", func() ([]netbox.AvailableIP, error) {
		r, ok := n.Ranges[id]
		if !ok {
			return nil, notFound("AvailableInRange", id)
		}
		var out []netbox.AvailableIP
		for _, p := range n.free(r, limit) {
			out = append(out, netbox.AvailableIP{Family: 4, Address: p.String(), VRF: r.VRF})
		}
		return out, nil
	})
}

// TakeFromRange creates len(specs) addresses at the lowest free hosts of the range, in
// its VRF, all or none; a full range is NetBox's 409.
func (n *NetBox) TakeFromRange(_ context.Context, id int, specs []netbox.IPAddressSpec) ([]netbox.IPAddress, error) {
	return call(n, "TakeFromRange", func() ([]netbox.IPAddress, error) {
		r, ok := n.Ranges[id]
		if !ok {
			return nil, notFound("TakeFromRange", id)
		}
		free := n.free(r, len(specs))
		if len(free) < len(specs) {
			return nil, Refused("TakeFromRange", 409, "Insufficient space is available to accommodate the requested number of IPs")
		}
		for i := range specs {
			specs[i].Address, specs[i].VRFID = free[i].String(), netbox.RefID(r.VRF)
		}
		return n.create("TakeFromRange", specs)
	})
}

// CreateIPAddresses creates all of specs or none: an address its VRF already holds is
// refused, as NetBox's ENFORCE_GLOBAL_UNIQUE default does.
func (n *NetBox) CreateIPAddresses(_ context.Context, specs []netbox.IPAddressSpec) ([]netbox.IPAddress, error) {
	return call(n, "CreateIPAddresses", func() ([]netbox.IPAddress, error) { return n.create("CreateIPAddresses", specs) })
}

func (n *NetBox) create(op string, specs []netbox.IPAddressSpec) ([]netbox.IPAddress, error) {
	seen := map[string]bool{}
	for i, s := range specs {
		p, err := netip.ParsePrefix(s.Address)
		key := fmt.Sprint(s.VRFID, p.Addr())
		if err != nil {
			return nil, Refused(op, 400, fmt.Sprintf("(object %d) address: invalid address %q", i, s.Address))
		}
		if n.addressTaken(s.VRFID, p.Addr()) || seen[key] {
			return nil, Refused(op, 400, fmt.Sprintf("(object %d) address: Duplicate IP address found in %s: %s", i, vrfName(s.VRFID), s.Address))
		}
		for _, r := range n.Ranges {
			if sameVRF(r.VRF, s.VRFID) && n.populated(r) && !p.Addr().Less(hostOf(r.StartAddress)) && !hostOf(r.EndAddress).Less(p.Addr()) {
				return nil, Refused(op, 400, fmt.Sprintf("(object %d) address: Cannot create IP address %s inside range %s-%s.", i, s.Address, r.StartAddress, r.EndAddress))
			}
		}
		if err := n.checkFields(op, s.CustomFields); err != nil {
			return nil, err
		}
		seen[key] = true
	}
	out := make([]netbox.IPAddress, 0, len(specs))
	for _, s := range specs {
		status := s.Status
		if status == "" {
			status = "active"
		}
		a := &netbox.IPAddress{Tagged: tagged(n.id(), s.Tags, s.CustomFields, s.Description), Address: s.Address,
			VRF: n.ref("vrf", s.VRFID), Tenant: n.ref("tenant", s.TenantID), Status: netbox.Choice{Value: status}, Created: n.now().UTC()}
		n.Addresses[a.ID] = a
		out = append(out, *a)
	}
	return out, nil
}

// PatchIPAddress changes status, description and custom fields of an address.
func (n *NetBox) PatchIPAddress(_ context.Context, id int, fields map[string]any) (netbox.IPAddress, error) {
	return call(n, "PatchIPAddress", func() (netbox.IPAddress, error) { return n.patch("PatchIPAddress", id, fields) })
}

func (n *NetBox) patch(op string, id int, fields map[string]any) (netbox.IPAddress, error) {
	a, ok := n.Addresses[id]
	if !ok {
		return netbox.IPAddress{}, notFound(op, id)
	}
	cf, _ := fields["custom_fields"].(map[string]any)
	if err := n.checkFields(op, cf); err != nil {
		return netbox.IPAddress{}, err
	}
	for k, v := range cf {
		a.CustomFields[k] = v
	}
	if v, ok := fields["status"].(string); ok {
		a.Status = netbox.Choice{Value: v}
	}
	if v, ok := fields["description"].(string); ok {
		a.Description = v
	}
	if v, ok := fields["dns_name"].(string); ok {
		a.DNSName = v
	}
	if t, ok := fields["tenant"]; ok {
		id, _ := t.(int) // nil: none
		a.Tenant = n.ref("tenant", id)
	}
	if t, ok := fields["assigned_object_type"]; ok {
		return *a, n.assign(op, a, t, fields["assigned_object_id"])
	}
	return *a, nil
}

// PatchIPAddresses changes several addresses (each change names its "id").
func (n *NetBox) PatchIPAddresses(_ context.Context, changes []map[string]any) error {
	_, err := call(n, "PatchIPAddresses", func() (bool, error) {
		for _, c := range changes {
			id, _ := c["id"].(int)
			if _, ok := n.Addresses[id]; !ok {
				return false, notFound("PatchIPAddresses", id)
			}
		}
		for _, c := range changes {
			if _, err := n.patch("PatchIPAddresses", c["id"].(int), c); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	return err
}

// DeleteIPAddress deletes an address.
func (n *NetBox) DeleteIPAddress(_ context.Context, id int) error {
	return remove(n, "DeleteIPAddress", n.Addresses, id)
}

// DeleteIPAddresses deletes addresses; gone already counts as deleted (the real client
// falls back to one by one for that).
func (n *NetBox) DeleteIPAddresses(_ context.Context, ids []int) error {
	_, err := call(n, "DeleteIPAddresses", func() (bool, error) {
		for _, id := range ids {
			delete(n.Addresses, id)
		}
		return true, nil
	})
	return err
}

// populated says whether NetBox keeps addresses out of r: marked populated, on a release
// that honours the mark (4.3+).
func (n *NetBox) populated(r *netbox.IPRange) bool {
	return r.MarkPopulated && netbox.PopulatedRanges(netbox.ParseRelease(n.Version))
}
