package netboxtest

import (
	"context"
	"net/netip"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// GetPrefix reads a prefix by id.
func (n *NetBox) GetPrefix(_ context.Context, id int) (netbox.Prefix, error) {
	return call(n, "GetPrefix", func() (netbox.Prefix, error) {
		if p, ok := n.Prefixes[id]; ok {
			return *p, nil
		}
		return netbox.Prefix{}, notFound("GetPrefix", id)
	})
}

// PrefixExact finds the prefix with exactly this CIDR in a VRF.
func (n *NetBox) PrefixExact(_ context.Context, vrf int, cidr string) (netbox.Prefix, error) {
	return call(n, "PrefixExact", func() (netbox.Prefix, error) {
		ps := sorted(n.Prefixes, func(p *netbox.Prefix) bool { return p.Prefix == cidr && sameVRF(p.VRF, vrf) })
		if len(ps) == 0 {
			return netbox.Prefix{}, Refused("PrefixExact", 404, "no prefix "+cidr)
		}
		return ps[0], nil
	})
}

// PrefixesContaining lists the prefixes of a VRF that contain addr.
func (n *NetBox) PrefixesContaining(_ context.Context, vrf int, addr string) ([]netbox.Prefix, error) {
	a := hostOf(addr)
	return call(n, "PrefixesContaining", func() ([]netbox.Prefix, error) {
		return sorted(n.Prefixes, func(p *netbox.Prefix) bool {
			net, err := p.Net()
			return err == nil && net.Contains(a) && sameVRF(p.VRF, vrf)
		}), nil
	})
}

// PrefixesLabelled lists the prefixes with this tag and description.
func (n *NetBox) PrefixesLabelled(_ context.Context, tag, desc string) ([]netbox.Prefix, error) {
	return call(n, "PrefixesLabelled", func() ([]netbox.Prefix, error) {
		return sorted(n.Prefixes, func(p *netbox.Prefix) bool { return p.HasTag(tag) && p.Description == desc }), nil
	})
}

// PrefixesTagged lists the prefixes with this tag.
func (n *NetBox) PrefixesTagged(_ context.Context, tag string) ([]netbox.Prefix, error) {
	return call(n, "PrefixesTagged", func() ([]netbox.Prefix, error) {
		return sorted(n.Prefixes, func(p *netbox.Prefix) bool { return p.HasTag(tag) }), nil
	})
}

// CreatePrefix creates a prefix; a duplicate in its VRF is refused (NetBox's
// ENFORCE_GLOBAL_UNIQUE default).
func (n *NetBox) CreatePrefix(_ context.Context, s netbox.PrefixSpec) (netbox.Prefix, error) {
	return call(n, "CreatePrefix", func() (netbox.Prefix, error) { return n.addPrefix("CreatePrefix", s) })
}

func (n *NetBox) addPrefix(op string, s netbox.PrefixSpec) (netbox.Prefix, error) {
	net, err := netip.ParsePrefix(s.Prefix)
	if err != nil || net != net.Masked() {
		return netbox.Prefix{}, Refused(op, 400, "prefix: invalid prefix "+s.Prefix)
	}
	for _, p := range n.Prefixes {
		if p.Prefix == s.Prefix && sameVRF(p.VRF, s.VRFID) {
			return netbox.Prefix{}, Refused(op, 400, "prefix: Duplicate prefix found in "+vrfName(s.VRFID)+": "+s.Prefix)
		}
	}
	if err := n.checkFields(op, s.CustomFields); err != nil {
		return netbox.Prefix{}, err
	}
	status := s.Status
	if status == "" {
		status = "active"
	}
	p := &netbox.Prefix{Tagged: tagged(n.id(), s.Tags, s.CustomFields, s.Description), Prefix: s.Prefix,
		VRF: n.ref("vrf", s.VRFID), Role: n.ref("role", s.RoleID), Tenant: n.ref("tenant", s.TenantID), Status: netbox.Choice{Value: status},
		Created: n.now().UTC()}
	if s.ScopeType != "" {
		p.ScopeType, p.ScopeID = &s.ScopeType, &s.ScopeID
	}
	n.Prefixes[p.ID] = p
	return *p, nil
}

func vrfName(id int) string {
	if id == 0 {
		return "global table"
	}
	return "VRF"
}

// CarvePrefix takes the first free child of length inside the parent; the child lives
// in the parent's VRF whatever the spec says, as NetBox's available-prefixes does. No
// room is NetBox's 409.
func (n *NetBox) CarvePrefix(_ context.Context, parentID, length int, s netbox.PrefixSpec) (netbox.Prefix, error) {
	return call(n, "CarvePrefix", func() (netbox.Prefix, error) {
		parent, ok := n.Prefixes[parentID]
		if !ok {
			return netbox.Prefix{}, notFound("CarvePrefix", parentID)
		}
		pnet, _ := parent.Net()
		vrf := netbox.RefID(parent.VRF)
		c, err := pnet.Addr().Prefix(length)
		for err == nil && length >= pnet.Bits() && pnet.Contains(c.Addr()) {
			if !n.overlapsChild(vrf, pnet, c) {
				s.Prefix, s.VRFID = c.String(), vrf
				return n.addPrefix("CarvePrefix", s)
			}
			next, more := nextPrefix(c)
			if !more {
				break
			}
			c = next
		}
		return netbox.Prefix{}, Refused("CarvePrefix", 409, "Insufficient space is available to accommodate the requested prefix size(s)")
	})
}

func (n *NetBox) overlapsChild(vrf int, parent, c netip.Prefix) bool {
	for _, p := range n.Prefixes {
		net, err := p.Net()
		if err == nil && sameVRF(p.VRF, vrf) && net.Bits() > parent.Bits() && net.Overlaps(c) {
			return true
		}
	}
	return false
}

// nextPrefix is the prefix of p's length right after p (IPv4 or IPv6): p's address
// plus one at its last prefix bit, carried up.
func nextPrefix(p netip.Prefix) (netip.Prefix, bool) {
	if p.Bits() == 0 {
		return p, false
	}
	b := p.Masked().Addr().AsSlice()
	i, inc := (p.Bits()-1)/8, byte(1)<<(7-(p.Bits()-1)%8)
	for ; i >= 0; i, inc = i-1, 1 {
		sum := b[i] + inc
		carry := sum < b[i]
		b[i] = sum
		if !carry {
			break
		}
	}
	if i < 0 {
		return p, false // past the end of the address space
	}
	a, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(a, p.Bits()), true
}

// SetPrefixCustomFields writes custom fields of a prefix; unknown fields are refused.
func (n *NetBox) SetPrefixCustomFields(_ context.Context, id int, cf map[string]any) (netbox.Prefix, error) {
	return call(n, "SetPrefixCustomFields", func() (netbox.Prefix, error) {
		p, ok := n.Prefixes[id]
		if !ok {
			return netbox.Prefix{}, notFound("SetPrefixCustomFields", id)
		}
		if err := n.checkFields("SetPrefixCustomFields", cf); err != nil {
			return netbox.Prefix{}, err
		}
		for k, v := range cf {
			if i, isInt := v.(int); isInt {
				v = float64(i) // as JSON decodes it
			}
			p.CustomFields[k] = v
		}
		return *p, nil
	})
}

// DeletePrefix deletes a prefix.
func (n *NetBox) DeletePrefix(_ context.Context, id int) error {
	return remove(n, "DeletePrefix", n.Prefixes, id)
}
