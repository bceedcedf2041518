package mapping

import (
	"fmt"
	"net/netip"
	"strconv"
)

// Defaults are the configured network settings for prefixes that have none.
type Defaults struct {
	Gateway      string // "first", "last" or "" (none): the gateway of a prefix without one
	DNS          string
	GuestMTU     int
	SearchDomain string
}

// Settings is the merge of a prefix's network settings with an AR's: what the AR
// carries back to oned (Attrs, by AR attribute name) and what to write into the
// prefix's custom fields (Write), with the values to put back if the register is
// rolled back (Undo).
type Settings struct {
	Attrs       map[string]string
	Write, Undo map[string]any
}

// MergeSettings merges the prefix's custom fields (cf, by custom-field name; they win),
// the AR's values (they fill empty fields and are written to NetBox) and the configured
// defaults (the gateway is written; DNS, MTU and search domain are only handed to oned).
// The network mask is always the prefix's.
func MergeSettings(cf func(name string) string, ar Attrs, net netip.Prefix, def Defaults) (Settings, error) {
	out := Settings{Attrs: map[string]string{}, Write: map[string]any{}, Undo: map[string]any{}}
	write := func(field string, v any) { out.Write[field], out.Undo[field] = v, nil }
	for _, ns := range NetworkSettings {
		if v := cf(ns.CustomField); v != "" {
			out.Attrs[ns.Attr] = v
			continue
		}
		v := ar.Get(ns.Attr)
		if v == "" {
			continue
		}
		if err := validSetting(ns, v, net); err != nil {
			return out, err
		}
		out.Attrs[ns.Attr] = v
		if n, err := strconv.Atoi(v); ns.Integer && err == nil {
			write(ns.CustomField, n)
		} else {
			write(ns.CustomField, v)
		}
	}
	out.Attrs[AttrNetworkMask] = MaskString(net.Bits())
	if cf(CFNetworkMask) == "" {
		write(CFNetworkMask, out.Attrs[AttrNetworkMask])
	}
	if out.Attrs[AttrGateway] == "" {
		if g := defaultGateway(net, def.Gateway); g.IsValid() {
			out.Attrs[AttrGateway] = g.String()
			write(CFGateway, g.String())
		}
	}
	fill := func(attr, v string) {
		if out.Attrs[attr] == "" && v != "" {
			out.Attrs[attr] = v
		}
	}
	fill(AttrDNS, def.DNS)
	if def.GuestMTU > 0 {
		fill(AttrGuestMTU, strconv.Itoa(def.GuestMTU))
	}
	fill(AttrSearchDomain, def.SearchDomain)
	return out, nil
}

func defaultGateway(net netip.Prefix, policy string) netip.Addr {
	switch policy {
	case "first":
		return net.Masked().Addr().Next()
	case "last":
		return Last(net).Prev()
	}
	return netip.Addr{}
}

func validSetting(ns NetworkSetting, v string, net netip.Prefix) error {
	switch ns.Attr {
	case AttrGateway:
		g, err := netip.ParseAddr(v)
		if err != nil || !net.Contains(g) {
			return &InputError{Msg: fmt.Sprintf("GATEWAY %q is not an address inside %s", v, net)}
		}
	case AttrGuestMTU:
		if n, err := strconv.Atoi(v); err != nil || n < 68 || n > 65535 {
			return &InputError{Msg: fmt.Sprintf("GUEST_MTU %q is not an MTU (68-65535)", v)}
		}
	}
	return nil
}

// HostSpan lays an AR over the usable hosts of net, skipping the gateway when it sits
// at either end; SIZE (when given) takes the first SIZE of them. A gateway in the
// middle stays inside the span: NetBox's available-ips skips it when NetBox has an
// object for it, which is how network admins record gateways.
func HostSpan(net netip.Prefix, gateway string, size int, hasSize bool) (Span, error) {
	first := net.Masked().Addr().Next()
	last := Last(net).Prev()
	if g, err := netip.ParseAddr(gateway); err == nil {
		if g == first {
			first = first.Next()
		} else if g == last {
			last = last.Prev()
		}
	}
	avail := int(Offset(first, last)) + 1
	if !hasSize {
		size = avail
	}
	if size > avail {
		return Span{}, &InputError{Msg: fmt.Sprintf("SIZE %d does not fit in %s (%d usable addresses besides the gateway)", size, net, avail)}
	}
	last, _ = Add(first, int64(size-1))
	return Span{first, last}, nil
}

// Network reads NETWORK_ADDRESS and NETWORK_MASK: the network an AR names.
func Network(ar Attrs) (netip.Prefix, error) {
	na, nm := ar.Get(AttrNetworkAddress), ar.Get(AttrNetworkMask)
	if na == "" || nm == "" {
		return netip.Prefix{}, &InputError{Msg: fmt.Sprintf("give both NETWORK_ADDRESS and NETWORK_MASK (got %q and %q)", na, nm)}
	}
	a, err := netip.ParseAddr(na)
	if err != nil || !a.Is4() {
		return netip.Prefix{}, &InputError{Msg: fmt.Sprintf("NETWORK_ADDRESS %q is not an IPv4 address", na)}
	}
	bits, err := MaskBits(nm)
	if err != nil {
		return netip.Prefix{}, err
	}
	if bits > 30 {
		return netip.Prefix{}, &InputError{Msg: fmt.Sprintf("NETWORK_MASK %s leaves no room for hosts; use /30 or shorter", nm)}
	}
	return netip.PrefixFrom(a, bits).Masked(), nil
}

// CarveLength is the length of the prefix carved for an AR of size addresses:
// PREFIX_LENGTH when the AR gives it (it must hold size plus network, broadcast and
// gateway), else the longest that does.
func CarveLength(ar Attrs, size int) (int, error) {
	v, ok, err := ar.Int(AttrPrefixLength)
	if err != nil || !ok {
		return PrefixLenFor(size), err
	}
	if v < 1 || v > 30 {
		return 0, &InputError{Msg: fmt.Sprintf("%s %d: must be 1-30", AttrPrefixLength, v)}
	}
	if PrefixLenFor(size) < v {
		return 0, &InputError{Msg: fmt.Sprintf("%s /%d cannot hold SIZE %d plus network, broadcast and gateway", AttrPrefixLength, v, size)}
	}
	return v, nil
}
