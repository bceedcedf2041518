package mapping

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Span is a run of IPv4 addresses: an AR's, or the addresses of one request.
type Span struct{ First, Last netip.Addr }

// ParseSpan reads IP + SIZE as OpenNebula gives an AR or an ADDRESS: ip must be an IPv4
// address and the run must end inside IPv4. what names the attribute in messages
// ("AR IP", "ADDRESS IP").
func ParseSpan(what, ip string, size int) (Span, error) {
	first, err := netip.ParseAddr(ip)
	if err != nil || !first.Is4() {
		return Span{}, &InputError{Msg: fmt.Sprintf("%s %q is not an IPv4 address", what, ip)}
	}
	if size < 1 {
		return Span{}, &InputError{Msg: fmt.Sprintf("%s %s: SIZE must be positive, got %d", what, first, size)}
	}
	last, ok := Add(first, int64(size-1))
	if !ok {
		return Span{}, &InputError{Msg: fmt.Sprintf("%s %s + SIZE %d runs past the end of IPv4", what, first, size)}
	}
	return Span{first, last}, nil
}

// Size is the number of addresses of the span.
func (s Span) Size() int { return int(Offset(s.First, s.Last)) + 1 }

// Holds reports whether every address of o lies in s.
func (s Span) Holds(o Span) bool { return !o.First.Less(s.First) && !s.Last.Less(o.Last) }

// Has reports whether a lies in s.
func (s Span) Has(a netip.Addr) bool { return !a.Less(s.First) && !s.Last.Less(a) }

// Covering is the smallest prefix holding every span (at least one).
func Covering(spans []Span) netip.Prefix {
	lo, hi := spans[0].First, spans[0].Last
	for _, s := range spans[1:] {
		if s.First.Less(lo) {
			lo = s.First
		}
		if hi.Less(s.Last) {
			hi = s.Last
		}
	}
	for bits := 32; bits >= 0; bits-- {
		p, _ := lo.Prefix(bits)
		if p.Contains(hi) {
			return p
		}
	}
	return netip.MustParsePrefix("0.0.0.0/0")
}

// Addrs lists the addresses of the span.
func (s Span) Addrs() []netip.Addr {
	out := make([]netip.Addr, 0, s.Size())
	for a := s.First; len(out) < cap(out); a = a.Next() {
		out = append(out, a)
	}
	return out
}

// StoredAR is what an AR the driver registered (shapes S and V) says about its
// addresses and its NetBox objects.
type StoredAR struct {
	ID string // AR_ID
	Span
	MAC                     string
	Type                    string
	GlobalPrefix, ULAPrefix string
	IP6                     netip.Prefix // IP4_6_STATIC: the first lease's IPv6 address and its length
	Parent                  string       // PARENT_NETWORK_AR_ID: a reservation cut from that AR
	RangeID, PrefixID       int          // NETBOX_IP_RANGE_ID, NETBOX_PREFIX_ID (0: not named)
}

// ReadStoredAR reads the attributes of an AR the driver registered.
func ReadStoredAR(ar Attrs) (StoredAR, error) {
	s := StoredAR{ID: ar.Get(AttrARID), MAC: ar.Get(AttrMAC), Type: ar.Get(AttrType),
		GlobalPrefix: ar.Get(AttrGlobalPrefix), ULAPrefix: ar.Get(AttrULAPrefix), Parent: ar.Get(AttrParentARID)}
	size, ok, err := ar.Int(AttrSize)
	if err != nil {
		return s, err
	}
	if !ok || size < 1 {
		return s, &InputError{Msg: fmt.Sprintf("AR %s: SIZE must be a positive number, got %q", s.ID, ar.Get(AttrSize))}
	}
	if s.Span, err = ParseSpan("AR "+s.ID+": IP", ar.Get(AttrIP), size); err != nil {
		return s, err
	}
	if strings.EqualFold(s.Type, "IP4_6_STATIC") {
		if s.IP6, err = StaticIPv6(ar); err != nil {
			return s, err
		}
	}
	for _, x := range []struct {
		attr string
		id   *int
	}{{AttrIPRangeID, &s.RangeID}, {AttrPrefixID, &s.PrefixID}} {
		if v := ar.Get(x.attr); v != "" {
			if *x.id, err = strconv.Atoi(v); err != nil || *x.id <= 0 {
				return s, &InputError{Msg: fmt.Sprintf("AR %s: %s %q is not a NetBox id", s.ID, x.attr, v)}
			}
		}
	}
	return s, nil
}

// Reservation reports whether the AR belongs to a reservation network. oned copies the
// parent's AR for it, NetBox ids included, but without IPAM_MAD, so no action arrives
// for it (seen on 7.5.80); should one ever arrive, it must not change or remove the
// parent's range or prefix.
func (s StoredAR) Reservation() bool { return s.Parent != "" }

// LostIDs reports whether the AR names none of its NetBox objects: `onevnet updatear`
// without --append keeps only OpenNebula's own attributes.
func (s StoredAR) LostIDs() bool { return s.RangeID == 0 && s.PrefixID == 0 }

func (s StoredAR) String() string {
	if s.ID == "" {
		return fmt.Sprintf("%s…%s", s.First, s.Last)
	}
	return fmt.Sprintf("AR %s (%s…%s)", s.ID, s.First, s.Last)
}

// Requested reads the ADDRESS of allocate_address and free_address (IP and SIZE) and
// checks that it lies inside the AR.
func (s StoredAR) Requested(addr Attrs) ([]netip.Addr, error) {
	n, err := AddressSize(addr)
	if err != nil {
		return nil, err
	}
	want, err := ParseSpan("ADDRESS IP", addr.Get(AttrIP), n)
	if err != nil {
		return nil, err
	}
	if !s.Span.Holds(want) {
		return nil, &InputError{Msg: fmt.Sprintf("%s (+%d) is outside %s", want.First, n-1, s)}
	}
	return want.Addrs(), nil
}

// AddressSize is the ADDRESS SIZE of a request: 1 when absent.
func AddressSize(addr Attrs) (int, error) {
	n, ok, err := addr.Int(AttrSize)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 1, nil
	}
	if n < 1 {
		return 0, &InputError{Msg: fmt.Sprintf("ADDRESS SIZE must be positive, got %d", n)}
	}
	return n, nil
}

// MACAt is the MAC OpenNebula gives the lease at addr: AR MAC + (addr − AR IP); "" when
// the AR has none.
func (s StoredAR) MACAt(addr netip.Addr) string {
	m, err := ParseMAC(s.MAC)
	if s.MAC == "" || err != nil {
		return ""
	}
	return MACAdd(m, Offset(s.First, addr)).String()
}

// IPv6At is what OpenNebula gives the lease at addr besides its IPv4 address: the SLAAC
// addresses of IP4_6 ARs (GLOBAL_PREFIX, ULA_PREFIX and the lease's MAC) or the static
// IPv6 of IP4_6_STATIC ARs (IP6 + index). It is computed from the AR: the IP6_* fields
// of oned's requests hold a literal 0, not the address.
func (s StoredAR) IPv6At(addr netip.Addr) []netip.Prefix {
	switch strings.ToUpper(s.Type) {
	case "IP4_6":
		m, err := ParseMAC(s.MACAt(addr))
		if err != nil {
			return nil
		}
		var out []netip.Prefix
		for _, p := range []string{s.GlobalPrefix, s.ULAPrefix} {
			if a, err := netip.ParseAddr(p); err == nil {
				if x, err := EUI64(a, m); err == nil {
					out = append(out, netip.PrefixFrom(x, 64))
				}
			}
		}
		return out
	case "IP4_6_STATIC":
		if !s.IP6.IsValid() {
			return nil
		}
		return []netip.Prefix{netip.PrefixFrom(StaticIP6(s.IP6.Addr(), Offset(s.First, addr)), s.IP6.Bits())}
	}
	return nil
}

// IPv6Addrs is the IPv6 addresses of the leases at addrs (IPv6At), which go with them
// when they are freed or removed.
func (s StoredAR) IPv6Addrs(addrs []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		for _, x := range s.IPv6At(a) {
			out = append(out, x.Addr())
		}
	}
	return out
}
