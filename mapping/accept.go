package mapping

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Refused says why oned would refuse register's answer for this AR, or nil. oned parses
// the answered AR only after the driver has created NetBox objects for it
// (AddressRangePool::from_vattr), and when it refuses it sends no unregister, so the
// driver checks first and touches nothing in NetBox for such an AR.
func Refused(ar Attrs) error {
	if strings.EqualFold(ar.Get(AttrShared), "YES") {
		return &InputError{Msg: "SHARED = \"YES\" ARs cannot use an IPAM driver (OpenNebula refuses them); remove SHARED from the AR"}
	}
	for _, name := range []string{AttrGlobalPrefix, AttrULAPrefix} {
		if v := ar.Get(name); v != "" {
			if a, err := netip.ParseAddr(v); err != nil || !a.Is6() || a.Zone() != "" {
				return &InputError{Msg: fmt.Sprintf("%s %q is not an IPv6 address (give the /64 prefix as an address, e.g. 2001:db8:1::)", name, v)}
			}
		}
	}
	if v := ar.Get(AttrMAC); v != "" {
		if _, err := ParseMAC(v); err != nil {
			return err
		}
	}
	if strings.EqualFold(ar.Get(AttrType), "IP4_6_STATIC") {
		if _, err := StaticIPv6(ar); err != nil {
			return err
		}
	}
	return nil
}

// StaticIPv6 reads IP6 and PREFIX_LENGTH of an IP4_6_STATIC AR: its first lease's IPv6
// address and the length NetBox records it with.
func StaticIPv6(ar Attrs) (netip.Prefix, error) {
	v := ar.Get(AttrIP6)
	a, err := netip.ParseAddr(v)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return netip.Prefix{}, &InputError{Msg: fmt.Sprintf("IP4_6_STATIC AR: %s %q is not an IPv6 address", AttrIP6, v)}
	}
	l := ar.Get(AttrIP6PrefixLen)
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > 128 {
		return netip.Prefix{}, &InputError{Msg: fmt.Sprintf("IP4_6_STATIC AR: %s %q is not a prefix length 1-128", AttrIP6PrefixLen, l)}
	}
	return netip.PrefixFrom(a, n), nil
}
