package mapping

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func attrsOf(kv ...string) Attrs {
	var out Attrs
	for _, x := range kv {
		k, v, _ := strings.Cut(x, "=")
		out = append(out, Attr{Name: k, Value: v})
	}
	return out
}

func TestReadStoredARAndRequested(t *testing.T) {
	cases := []struct {
		ar, addr []string
		want     string // first…last of the request, or the error
	}{
		{[]string{"AR_ID=0", "IP=10.0.0.2", "SIZE=10"}, []string{"IP=10.0.0.5", "SIZE=3"}, "10.0.0.5…10.0.0.7"},
		{[]string{"AR_ID=0", "IP=10.0.0.2", "SIZE=10"}, []string{"IP=10.0.0.11"}, "10.0.0.11…10.0.0.11"},
		{[]string{"AR_ID=0", "IP=10.0.0.2", "SIZE=10"}, []string{"IP=10.0.0.11", "SIZE=2"}, "10.0.0.11 (+1) is outside AR 0 (10.0.0.2…10.0.0.11)"},
		{[]string{"AR_ID=0", "IP=10.0.0.2", "SIZE=10"}, []string{"IP=10.0.0.1"}, "is outside AR 0"},
		{[]string{"AR_ID=0", "IP=10.0.0.2", "SIZE=10"}, []string{"IP=255.255.255.255", "SIZE=2"}, "ADDRESS IP 255.255.255.255 + SIZE 2 runs past the end of IPv4"},
		{[]string{"AR_ID=0", "IP=10.0.0.2", "SIZE=10"}, []string{"IP=fe80::1"}, `ADDRESS IP "fe80::1" is not an IPv4 address`},
		{[]string{"AR_ID=0", "IP=10.0.0.2", "SIZE=10"}, []string{"IP=10.0.0.2", "SIZE=0"}, "ADDRESS SIZE must be positive"},
		{[]string{"AR_ID=3", "IP=255.255.255.250", "SIZE=10"}, nil, "AR 3: IP 255.255.255.250 + SIZE 10 runs past the end of IPv4"},
		{[]string{"AR_ID=3", "IP=10.0.0.2"}, nil, `AR 3: SIZE must be a positive number, got ""`},
		{[]string{"AR_ID=3", "IP=10.0.0.2", "SIZE=4", "NETBOX_IP_RANGE_ID=x"}, nil, `AR 3: NETBOX_IP_RANGE_ID "x" is not a NetBox id`},
		{[]string{"AR_ID=3", "IP=10.0.0.2", "SIZE=4", "NETBOX_PREFIX_ID=-2"}, nil, `AR 3: NETBOX_PREFIX_ID "-2" is not a NetBox id`},
		{[]string{"AR_ID=3", "IP=10.0.0.2", "SIZE=4", "TYPE=IP4_6_STATIC"}, nil, `IP6 "" is not an IPv6 address`},
	}
	for _, tc := range cases {
		s, err := ReadStoredAR(attrsOf(tc.ar...))
		var got string
		if err == nil {
			var addrs []netip.Addr
			if addrs, err = s.Requested(attrsOf(tc.addr...)); err == nil {
				got = addrs[0].String() + "…" + addrs[len(addrs)-1].String()
			}
		}
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("AR %v ADDRESS %v: %q, want %q", tc.ar, tc.addr, got, tc.want)
		}
	}
}

// What OpenNebula gives the lease at an address besides its IPv4 address.
func TestLeaseMACAndIPv6(t *testing.T) {
	cases := []struct {
		ar   []string
		at   string
		mac  string
		ipv6 string
	}{
		{[]string{"IP=10.0.0.2", "SIZE=10", "MAC=02:00:0a:00:00:02"}, "10.0.0.4", "02:00:0a:00:00:04", ""},
		{[]string{"IP=10.0.0.2", "SIZE=10"}, "10.0.0.4", "", ""},
		{[]string{"IP=10.0.0.2", "SIZE=10", "TYPE=IP4_6", "MAC=02:00:0a:00:00:02", "GLOBAL_PREFIX=2001:db8::", "ULA_PREFIX=fd00::"}, "10.0.0.3",
			"02:00:0a:00:00:03", "2001:db8::aff:fe00:3/64 fd00::aff:fe00:3/64"},
		{[]string{"IP=10.0.0.2", "SIZE=10", "TYPE=IP4_6_STATIC", "IP6=2001:db8::100", "PREFIX_LENGTH=64"}, "10.0.0.5", "", "2001:db8::103/64"},
	}
	for _, tc := range cases {
		s, err := ReadStoredAR(attrsOf(tc.ar...))
		if err != nil {
			t.Fatal(err)
		}
		a := netip.MustParseAddr(tc.at)
		var v6 []string
		for _, p := range s.IPv6At(a) {
			v6 = append(v6, p.String())
		}
		if got := s.MACAt(a); got != tc.mac || strings.Join(v6, " ") != tc.ipv6 {
			t.Errorf("AR %v at %s: MAC %q IPv6 %v, want %q %q", tc.ar, tc.at, got, v6, tc.mac, tc.ipv6)
		}
	}
}

func TestHostSpan(t *testing.T) {
	cases := []struct {
		net, gw string
		size    int
		hasSize bool
		want    string
	}{
		{"10.0.0.0/29", "10.0.0.1", 0, false, "10.0.0.2…10.0.0.6"},
		{"10.0.0.0/29", "10.0.0.6", 0, false, "10.0.0.1…10.0.0.5"},
		{"10.0.0.0/29", "10.0.0.3", 0, false, "10.0.0.1…10.0.0.6"},
		{"10.0.0.0/29", "", 3, true, "10.0.0.1…10.0.0.3"},
		{"10.0.0.0/29", "10.0.0.1", 6, true, "SIZE 6 does not fit in 10.0.0.0/29 (5 usable addresses besides the gateway)"},
	}
	for _, tc := range cases {
		s, err := HostSpan(netip.MustParsePrefix(tc.net), tc.gw, tc.size, tc.hasSize)
		got := s.First.String() + "…" + s.Last.String()
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("HostSpan(%s, %s, %d): %q, want %q", tc.net, tc.gw, tc.size, got, tc.want)
		}
	}
}

func TestCarveLength(t *testing.T) {
	cases := []struct {
		ar   []string
		size int
		want string
	}{
		{nil, 10, "28"},
		{nil, 13, "28"},
		{nil, 14, "27"},
		{[]string{"NETBOX_PREFIX_LENGTH=24"}, 10, "24"},
		{[]string{"NETBOX_PREFIX_LENGTH=28"}, 14, "NETBOX_PREFIX_LENGTH /28 cannot hold SIZE 14"},
		{[]string{"NETBOX_PREFIX_LENGTH=31"}, 1, "must be 1-30"},
		{[]string{"NETBOX_PREFIX_LENGTH=x"}, 1, "NETBOX_PREFIX_LENGTH"},
	}
	for _, tc := range cases {
		n, err := CarveLength(attrsOf(tc.ar...), tc.size)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = strconv.Itoa(n)
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("CarveLength(%v, %d) = %q, want %q", tc.ar, tc.size, got, tc.want)
		}
	}
}

// The prefix's values win, the AR's fill the gaps and are written, defaults are
// handed to oned only (except the gateway, which is recorded).
func TestMergeSettings(t *testing.T) {
	net := netip.MustParsePrefix("10.0.0.0/24")
	cf := map[string]string{CFDNS: "10.0.0.53"}
	m, err := MergeSettings(func(k string) string { return cf[k] }, attrsOf("DNS=1.1.1.1", "GUEST_MTU=1450", "SEARCH_DOMAIN=ar.example"), net,
		Defaults{Gateway: "last", DNS: "9.9.9.9", GuestMTU: 9000, SearchDomain: "def.example"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{AttrDNS: "10.0.0.53", AttrGuestMTU: "1450", AttrSearchDomain: "ar.example", AttrGateway: "10.0.0.254", AttrNetworkMask: "255.255.255.0"}
	for k, v := range want {
		if m.Attrs[k] != v {
			t.Errorf("%s = %q, want %q", k, m.Attrs[k], v)
		}
	}
	if len(m.Write) != 4 || m.Write[CFGuestMTU] != 1450 || m.Write[CFGateway] != "10.0.0.254" || m.Write[CFDNS] != nil || len(m.Undo) != 4 {
		t.Errorf("write %v undo %v", m.Write, m.Undo)
	}
	m, _ = MergeSettings(func(string) string { return "" }, nil, net, Defaults{Gateway: "none", DNS: "9.9.9.9", GuestMTU: 9000})
	if m.Attrs[AttrGateway] != "" || m.Attrs[AttrDNS] != "9.9.9.9" || m.Attrs[AttrGuestMTU] != "9000" || m.Write[CFDNS] != nil {
		t.Errorf("defaults: %v write %v", m.Attrs, m.Write)
	}
	for _, bad := range [][]string{{"GATEWAY=10.1.0.1"}, {"GUEST_MTU=20"}} {
		if _, err := MergeSettings(func(string) string { return "" }, attrsOf(bad...), net, Defaults{}); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestNetwork(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.7 255.255.255.0":   "10.0.0.0/24",
		"10.0.0.7 ":                "give both NETWORK_ADDRESS and NETWORK_MASK",
		"fe80::1 255.255.255.0":    `NETWORK_ADDRESS "fe80::1" is not an IPv4 address`,
		"10.0.0.0 255.255.255.252": "10.0.0.0/30",
		"10.0.0.0 255.255.255.254": "leaves no room for hosts",
		"10.0.0.0 255.0.255.0":     "is not a contiguous mask",
	} {
		a, m, _ := strings.Cut(in, " ")
		p, err := Network(attrsOf("NETWORK_ADDRESS="+a, "NETWORK_MASK="+m))
		got := p.String()
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, want) {
			t.Errorf("Network(%s) = %q, want %q", in, got, want)
		}
	}
}
