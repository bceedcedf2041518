package netboxtest

import (
	"context"
	"net/netip"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// GetIPRange reads an IP range by id.
func (n *NetBox) GetIPRange(_ context.Context, id int) (netbox.IPRange, error) {
	return call(n, "GetIPRange", func() (netbox.IPRange, error) {
		if r, ok := n.Ranges[id]; ok {
			return *r, nil
		}
		return netbox.IPRange{}, notFound("GetIPRange", id)
	})
}

// IPRangesStartingAt lists the ranges with the tag that start at first, in all VRFs.
func (n *NetBox) IPRangesStartingAt(_ context.Context, tag, first string) ([]netbox.IPRange, error) {
	f := hostOf(first)
	return call(n, "IPRangesStartingAt", func() ([]netbox.IPRange, error) {
		return sorted(n.Ranges, func(r *netbox.IPRange) bool { return r.HasTag(tag) && hostOf(r.StartAddress) == f }), nil
	})
}

// IPRangesLabelled lists the ranges with this tag and description.
func (n *NetBox) IPRangesLabelled(_ context.Context, tag, desc string) ([]netbox.IPRange, error) {
	return call(n, "IPRangesLabelled", func() ([]netbox.IPRange, error) {
		return sorted(n.Ranges, func(r *netbox.IPRange) bool { return r.HasTag(tag) && r.Description == desc }), nil
	})
}

// IPRangesTagged lists the ranges with this tag.
func (n *NetBox) IPRangesTagged(_ context.Context, tag string) ([]netbox.IPRange, error) {
	return call(n, "IPRangesTagged", func() ([]netbox.IPRange, error) {
		return sorted(n.Ranges, func(r *netbox.IPRange) bool { return r.HasTag(tag) }), nil
	})
}

// FirstIPRangeIn is one range of a VRF inside parent, if any.
func (n *NetBox) FirstIPRangeIn(_ context.Context, vrf int, parent string) (netbox.IPRange, bool, error) {
	p, _ := netip.ParsePrefix(parent)
	rs, err := call(n, "FirstIPRangeIn", func() ([]netbox.IPRange, error) {
		return sorted(n.Ranges, func(r *netbox.IPRange) bool {
			return sameVRF(r.VRF, vrf) && p.Contains(hostOf(r.StartAddress)) && p.Contains(hostOf(r.EndAddress))
		}), nil
	})
	if err != nil || len(rs) == 0 {
		return netbox.IPRange{}, false, err
	}
	return rs[0], true, nil
}

// CreateIPRange creates a range; one overlapping another range of its VRF is refused.
func (n *NetBox) CreateIPRange(_ context.Context, s netbox.IPRangeSpec) (netbox.IPRange, error) {
	return call(n, "CreateIPRange", func() (netbox.IPRange, error) {
		f, l := hostOf(s.Start), hostOf(s.End)
		if !f.IsValid() || !l.IsValid() || l.Less(f) {
			return netbox.IPRange{}, Refused("CreateIPRange", 400, "invalid range "+s.Start+"-"+s.End)
		}
		if f == l && !netbox.SingleAddressRanges(netbox.ParseRelease(n.Version)) { // as NetBox before 4.6.1
			return netbox.IPRange{}, Refused("CreateIPRange", 400, "end_address: Ending address must be greater than the starting address ("+s.Start+")")
		}
		if err := n.overlapsRange(0, netbox.RefID(n.ref("vrf", s.VRFID)), f, l); err != nil {
			return netbox.IPRange{}, err
		}
		if err := n.checkFields("CreateIPRange", s.CustomFields); err != nil {
			return netbox.IPRange{}, err
		}
		r := &netbox.IPRange{Tagged: tagged(n.id(), s.Tags, s.CustomFields, s.Description), StartAddress: s.Start, EndAddress: s.End,
			VRF: n.ref("vrf", s.VRFID), Role: n.ref("role", s.RoleID), Tenant: n.ref("tenant", s.TenantID), Status: netbox.Choice{Value: s.Status},
			Created: n.now().UTC()}
		n.Ranges[r.ID] = r
		return *r, nil
	})
}

func (n *NetBox) overlapsRange(except, vrf int, f, l netip.Addr) error {
	for _, r := range n.Ranges {
		if r.ID != except && sameVRF(r.VRF, vrf) && !l.Less(hostOf(r.StartAddress)) && !hostOf(r.EndAddress).Less(f) {
			return Refused("CreateIPRange", 400, "Defined addresses overlap with range "+r.StartAddress+"-"+r.EndAddress+" in "+vrfName(vrf))
		}
	}
	return nil
}

// PatchIPRange changes a range's start_address and end_address.
func (n *NetBox) PatchIPRange(_ context.Context, id int, fields map[string]any) (netbox.IPRange, error) {
	return call(n, "PatchIPRange", func() (netbox.IPRange, error) {
		r, ok := n.Ranges[id]
		if !ok {
			return netbox.IPRange{}, notFound("PatchIPRange", id)
		}
		start, end := r.StartAddress, r.EndAddress
		if v, ok := fields["start_address"].(string); ok {
			start = v
		}
		if v, ok := fields["end_address"].(string); ok {
			end = v
		}
		if err := n.overlapsRange(id, netbox.RefID(r.VRF), hostOf(start), hostOf(end)); err != nil {
			return netbox.IPRange{}, err
		}
		r.StartAddress, r.EndAddress = start, end
		return *r, nil
	})
}

// DeleteIPRange deletes a range.
func (n *NetBox) DeleteIPRange(_ context.Context, id int) error {
	return remove(n, "DeleteIPRange", n.Ranges, id)
}
