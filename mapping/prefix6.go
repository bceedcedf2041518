package mapping

import (
	"fmt"
	"net/netip"
)

// IPv6Prefix is one of the /64s of an IP4_6 AR that NetBox can hand out: the global
// one (GLOBAL_PREFIX) or the unique local one (ULA_PREFIX). oned gives each lease the
// SLAAC address of its MAC in each prefix the AR names (AddressRange.cc), and accepts
// only IPv4 answers from an IPAM for the leases themselves, so the /64s are the IPv6
// side NetBox can plan.
type IPv6Prefix struct {
	Name       string // in messages: "global", "ULA"
	Attr       string // oned's: where the AR names it
	IDAttr     string // the driver's: the NetBox prefix holding it
	ParentAttr string // the user's: a NetBox prefix to carve it from
	// Space is where it must lie (the ULA one in fc00::/7); zero: anywhere in IPv6.
	Space netip.Prefix
}

// ULASpace holds every unique local IPv6 address (RFC 4193).
var ULASpace = netip.MustParsePrefix("fc00::/7")

// IPv6Prefixes are both, global first.
var IPv6Prefixes = []IPv6Prefix{
	{Name: "global", Attr: AttrGlobalPrefix, IDAttr: AttrPrefix6ID, ParentAttr: AttrParentPrefix6},
	{Name: "ULA", Attr: AttrULAPrefix, IDAttr: AttrULAPrefix6ID, ParentAttr: AttrULAParentPrefix6, Space: ULASpace},
}

// Holds reports whether n lies where p's /64s must (its Space).
func (p IPv6Prefix) Holds(n netip.Prefix) bool {
	return !p.Space.IsValid() || (p.Space.Bits() <= n.Bits() && p.Space.Contains(n.Addr()))
}

// SLAACBits is the length of every prefix SLAAC addresses live in (EUI-64).
const SLAACBits = 64

// Named is the /64 the AR names in p.Attr (an address, as oned writes it:
// "2001:db8:1::"; Refused has checked it); ok is false when the AR names none.
func (p IPv6Prefix) Named(ar Attrs) (net netip.Prefix, ok bool, err error) {
	v := ar.Get(p.Attr)
	if v == "" {
		return netip.Prefix{}, false, nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil || !a.Is6() {
		return netip.Prefix{}, false, &InputError{Msg: fmt.Sprintf("%s %q is not an IPv6 address", p.Attr, v)}
	}
	return netip.PrefixFrom(a, SLAACBits).Masked(), true, nil
}

// Answer is how the AR names net in p.Attr: the /64's first address, as oned writes it.
func (p IPv6Prefix) Answer(net netip.Prefix) string { return net.Masked().Addr().String() }
