package mapping

import (
	"encoding/binary"
	"fmt"
	"math/big"
	"net"
	"net/netip"
)

// Add returns a+n (n may be negative); ok is false when the result leaves a's family.
func Add(a netip.Addr, n int64) (netip.Addr, bool) {
	b := new(big.Int).SetBytes(a.AsSlice())
	b.Add(b, big.NewInt(n))
	size := a.BitLen() / 8
	if b.Sign() < 0 || b.BitLen() > a.BitLen() {
		return netip.Addr{}, false
	}
	buf := make([]byte, size)
	b.FillBytes(buf)
	r, _ := netip.AddrFromSlice(buf)
	return r, true
}

// Offset returns b-a as an int64 (both of one family, and not too far apart).
func Offset(a, b netip.Addr) int64 {
	x := new(big.Int).SetBytes(a.AsSlice())
	y := new(big.Int).SetBytes(b.AsSlice())
	return y.Sub(y, x).Int64()
}

// Last is the last address of p (the broadcast address of an IPv4 prefix).
func Last(p netip.Prefix) netip.Addr {
	p = p.Masked()
	a, _ := Add(p.Addr(), hostCount(p)-1)
	return a
}

func hostCount(p netip.Prefix) int64 {
	bits := p.Addr().BitLen() - p.Bits()
	if bits >= 62 {
		return 1 << 62
	}
	return 1 << bits
}

// MaskString is the dotted mask of an IPv4 prefix length ("255.255.255.0").
func MaskString(bits int) string {
	return net.IP(net.CIDRMask(bits, 32)).String()
}

// MaskBits parses a dotted IPv4 mask or a prefix length ("255.255.255.0" or "24").
func MaskBits(s string) (int, error) {
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err == nil && fmt.Sprint(n) == s {
		if n < 0 || n > 32 {
			return 0, &InputError{Msg: fmt.Sprintf("%s %q is not a prefix length 0-32", AttrNetworkMask, s)}
		}
		return n, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, &InputError{Msg: fmt.Sprintf("%s %q is not an IPv4 mask", AttrNetworkMask, s)}
	}
	ones, bits := net.IPMask(a.AsSlice()).Size()
	if bits == 0 {
		return 0, &InputError{Msg: fmt.Sprintf("%s %q is not a contiguous mask", AttrNetworkMask, s)}
	}
	return ones, nil
}

// PrefixLenFor is the longest IPv4 prefix length that holds size hosts plus network,
// broadcast and gateway.
func PrefixLenFor(size int) int {
	for bits := 30; bits >= 0; bits-- {
		if int64(size)+3 <= int64(1)<<(32-bits) {
			return bits
		}
	}
	return 0
}

// FreeRuns finds where n consecutive addresses can start among free (ascending, as
// NetBox's available-ips lists them): the starts of non-overlapping runs, in order.
// The first is the lowest block; the others are where to go when racing clients took
// part of it.
func FreeRuns(free []netip.Addr, n int) []netip.Addr {
	if n < 1 {
		return nil
	}
	var starts []netip.Addr
	var start, prev netip.Addr
	count := 0
	for _, a := range free {
		if count > 0 && prev.Next() == a {
			count++
		} else {
			start, count = a, 1
		}
		prev = a
		if count == n {
			starts = append(starts, start)
			count = 0 // the next run starts after this one: runs never overlap
		}
	}
	return starts
}

// ParseMAC reads a MAC address ("02:00:0a:00:00:07").
func ParseMAC(s string) (net.HardwareAddr, error) {
	m, err := net.ParseMAC(s)
	if err != nil || len(m) != 6 {
		return nil, &InputError{Msg: fmt.Sprintf("MAC %q is not a 48-bit MAC address", s)}
	}
	return m, nil
}

// MACAdd returns the MAC OpenNebula gives address n of an AR whose MAC is mac
// (AddressRange::set_mac): n is added to the low 32 bits, which wrap around without
// carrying into the high 16.
func MACAdd(mac net.HardwareAddr, n int64) net.HardwareAddr {
	low := binary.BigEndian.Uint32(mac[2:6]) + uint32(n) //nolint:gosec // oned's unsigned int arithmetic
	out := net.HardwareAddr{mac[0], mac[1], 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[2:], low)
	return out
}

// StaticIP6 is the IPv6 address OpenNebula gives address n of an IP4_6_STATIC AR whose
// IP6 is first (AddressRange::set_ip6_static): n is added to the low 32 bits, which
// wrap around like the MAC's.
func StaticIP6(first netip.Addr, n int64) netip.Addr {
	b := first.As16()
	binary.BigEndian.PutUint32(b[12:], binary.BigEndian.Uint32(b[12:])+uint32(n)) //nolint:gosec // as oned
	return netip.AddrFrom16(b)
}

// EUI64 is the SLAAC address OpenNebula gives mac in a /64 prefix (IP6_GLOBAL,
// IP6_ULA): the prefix's first 64 bits, then the MAC with the U/L bit flipped and
// ff:fe in the middle (a real oned 7.5.80 hands 02:00:0a:4e:00:64 the interface id
// 0:aff:fe4e:64).
func EUI64(prefix netip.Addr, mac net.HardwareAddr) (netip.Addr, error) {
	if !prefix.Is6() || len(mac) != 6 {
		return netip.Addr{}, &InputError{Msg: "EUI-64 needs an IPv6 prefix and a 48-bit MAC"}
	}
	b := prefix.As16()
	b[8] = mac[0] ^ 0x02
	b[9], b[10] = mac[1], mac[2]
	b[11], b[12] = 0xff, 0xfe
	b[13], b[14], b[15] = mac[3], mac[4], mac[5]
	return netip.AddrFrom16(b), nil
}
