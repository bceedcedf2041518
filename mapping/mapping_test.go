package mapping

import (
	"encoding/base64"
	"flag"
	"net/netip"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func b64(s string) []byte { return []byte(base64.StdEncoding.EncodeToString([]byte(s))) }

func TestDecode(t *testing.T) {
	good := `<IPAM_DRIVER_ACTION_DATA><AR><TYPE>IP4</TYPE><IP>10.0.0.2</IP><SIZE>10</SIZE><IPAM_MAD>netbox</IPAM_MAD><DESC><![CDATA[a "b" \c]]></DESC></AR><ADDRESS><SIZE>1</SIZE></ADDRESS></IPAM_DRIVER_ACTION_DATA>`
	cases := []struct {
		name    string
		in      []byte
		wantErr string
		check   func(t *testing.T, r Request)
	}{
		{"good", b64(good), "", func(t *testing.T, r Request) {
			if r.AR.Get("IP") != "10.0.0.2" || r.AR.Get("SIZE") != "10" || r.Address.Get("SIZE") != "1" {
				t.Errorf("got %+v", r)
			}
			if r.AR.Get("DESC") != `a "b" \c` {
				t.Errorf("CDATA value %q", r.AR.Get("DESC"))
			}
			if r.AR[0].Name != "TYPE" || r.AR[3].Name != "IPAM_MAD" {
				t.Errorf("order lost: %+v", r.AR)
			}
		}},
		{"trailing newline tolerated", append(b64(good), '\n'), "", nil},
		{"empty", nil, "empty request", nil},
		{"bad base64", []byte("!!!not base64"), "not valid base64", nil},
		{"broken xml", b64(`<IPAM_DRIVER_ACTION_DATA><AR><IP>10.0.0.2</AR>`), "not valid XML", nil},
		{"truncated xml", b64(good[:40]), "not valid XML", nil},
		{"wrong root", b64(`<VNET><AR><IP>1</IP></AR></VNET>`), "want <IPAM_DRIVER_ACTION_DATA>", nil},
		{"no AR", b64(`<IPAM_DRIVER_ACTION_DATA><ADDRESS><SIZE>1</SIZE></ADDRESS></IPAM_DRIVER_ACTION_DATA>`), "no <AR>", nil},
		{"not xml", b64(`hello`), "holds no <IPAM_DRIVER_ACTION_DATA>", nil},
		{"entity bomb", b64(`<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><IPAM_DRIVER_ACTION_DATA><AR><IP>&b;</IP></AR></IPAM_DRIVER_ACTION_DATA>`), "not valid XML", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Decode(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if _, ok := err.(*InputError); !ok {
					t.Fatalf("err is %T, want *InputError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestTemplateGolden(t *testing.T) {
	var tpl Template
	tpl.Vector("AR", Attrs{
		{"IPAM_MAD", "netbox"}, {"TYPE", "IP4"}, {"IP", "10.0.0.2"}, {"SIZE", "200"},
		{"DESCRIPTION", `say "hi" to C:\net`}, {"type", "repeated, dropped"}, {"multi", "line1\nline2"},
	})
	tpl.Vector("ADDRESS", Attrs{{"IP", "10.0.0.7"}, {"SIZE", "1"}})
	golden := "testdata/template.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(tpl.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if tpl.String() != string(want) {
		t.Fatalf("template\n got: %s\nwant: %s", tpl.String(), want)
	}
}

func TestFreeRuns(t *testing.T) {
	addrs := func(s string) []netip.Addr {
		var out []netip.Addr
		for _, x := range strings.Fields(s) {
			out = append(out, netip.MustParseAddr(x))
		}
		return out
	}
	cases := []struct {
		name, free string
		n          int
		want       string
	}{
		{"empty", "", 4, ""},
		{"one block", "10.0.0.10 10.0.0.11 10.0.0.12 10.0.0.13", 4, "10.0.0.10"},
		{"skip a hole", "10.0.0.10 10.0.0.11 10.0.0.13 10.0.0.14 10.0.0.15 10.0.0.16", 4, "10.0.0.13"},
		{"several, never overlapping", "10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4 10.0.0.5 10.0.0.7 10.0.0.8", 2, "10.0.0.1 10.0.0.3 10.0.0.7"},
		{"singles", "10.0.0.1 10.0.0.9", 1, "10.0.0.1 10.0.0.9"},
		{"no fit", "10.0.0.1 10.0.0.2 10.0.0.4 10.0.0.5 10.0.0.6", 4, ""},
		{"across an octet", "10.0.0.254 10.0.0.255 10.0.1.0 10.0.1.1", 4, "10.0.0.254"},
		{"zero size", "10.0.0.1", 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := FreeRuns(addrs(tc.free), tc.n)
			var s []string
			for _, a := range got {
				s = append(s, a.String())
			}
			if strings.Join(s, " ") != tc.want {
				t.Fatalf("FreeRuns = %v, want %s", s, tc.want)
			}
		})
	}
}

func TestAddressMath(t *testing.T) {
	a := netip.MustParseAddr
	if got, _ := Add(a("10.0.0.250"), 10); got != a("10.0.1.4") {
		t.Errorf("Add = %v", got)
	}
	if _, ok := Add(a("255.255.255.255"), 1); ok {
		t.Error("Add past the end of IPv4 succeeded")
	}
	if Offset(a("10.0.0.2"), a("10.0.1.1")) != 255 {
		t.Error("Offset")
	}
	if Last(netip.MustParsePrefix("10.1.2.0/23")) != a("10.1.3.255") {
		t.Error("Last")
	}
	for size, want := range map[int]int{1: 30, 2: 29, 5: 29, 6: 28, 13: 28, 253: 24, 254: 23, 1000: 22} {
		if got := PrefixLenFor(size); got != want {
			t.Errorf("PrefixLenFor(%d) = %d, want %d", size, got, want)
		}
	}
	for in, want := range map[string]int{"255.255.255.0": 24, "24": 24, "255.255.254.0": 23, "0": 0} {
		if got, err := MaskBits(in); err != nil || got != want {
			t.Errorf("MaskBits(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"255.0.255.0", "33", "x", "::"} {
		if _, err := MaskBits(bad); err == nil {
			t.Errorf("MaskBits(%q) accepted", bad)
		}
	}
}

// TestLeaseArithmetic pins OpenNebula's own arithmetic for a lease (AddressRange::set_mac,
// the SLAAC addresses, set_ip6_static); the e2e tests compare it with a real oned's NICs.
func TestLeaseArithmetic(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		mac  string
		n    int64
		want string
	}{
		{"02:00:0a:00:00:07", 3, "02:00:0a:00:00:0a"},
		{"02:00:0a:00:00:07", 0x100, "02:00:0a:00:01:07"},
		// the low 32 bits wrap; nothing carries into the first two bytes
		{"02:00:ff:ff:ff:fe", 3, "02:00:00:00:00:01"},
	} {
		mac, _ := ParseMAC(tc.mac)
		if got := MACAdd(mac, tc.n).String(); got != tc.want {
			t.Errorf("MACAdd(%s, %d) = %s, want %s", tc.mac, tc.n, got, tc.want)
		}
	}
	for _, tc := range []struct{ prefix, mac, want string }{
		// seen on a VM NIC of oned 7.5.80: 02:00:0a:4e:00:64 in 2001:db8:78:: and fd00:78::
		{"2001:db8:78::", "02:00:0a:4e:00:64", "2001:db8:78::aff:fe4e:64"},
		{"fd00:78::", "02:00:0a:4e:00:64", "fd00:78::aff:fe4e:64"},
		{"fd00:1:2:3::", "00:16:3e:01:02:03", "fd00:1:2:3:216:3eff:fe01:203"},
	} {
		mac, _ := ParseMAC(tc.mac)
		got, err := EUI64(a(tc.prefix), mac)
		if err != nil || got != a(tc.want) {
			t.Errorf("EUI64(%s, %s) = %v, %v; want %s", tc.prefix, tc.mac, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		first string
		n     int64
		want  string
	}{
		{"2001:db8::10", 5, "2001:db8::15"},
		{"2001:db8::1:ffff:ffff", 1, "2001:db8::1:0:0"}, // no carry past the low 32 bits
	} {
		if got := StaticIP6(a(tc.first), tc.n); got != a(tc.want) {
			t.Errorf("StaticIP6(%s, %d) = %s, want %s", tc.first, tc.n, got, tc.want)
		}
	}
}

// What oned refuses after register answered is refused before NetBox is touched.
func TestRefused(t *testing.T) {
	ok := Attrs{{AttrType, "IP4_6_STATIC"}, {AttrIP6, "2001:db8::10"}, {AttrIP6PrefixLen, "64"}, {AttrMAC, "02:00:0a:00:00:01"}, {AttrGlobalPrefix, "2001:db8:1::"}}
	if err := Refused(ok); err != nil {
		t.Fatalf("a good AR refused: %v", err)
	}
	for _, tc := range []struct {
		attr, value, want string
	}{
		{AttrShared, "yes", "SHARED"},
		{AttrGlobalPrefix, "2001:db8::/64", "GLOBAL_PREFIX"},
		{AttrULAPrefix, "10.0.0.1", "ULA_PREFIX"},
		{AttrMAC, "02:00:0a", "MAC"},
		{AttrIP6, "2001:db8::zz", "IP6"},
		{AttrIP6PrefixLen, "129", "PREFIX_LENGTH"},
	} {
		ar := append(Attrs{}, ok...).Set(tc.attr, tc.value)
		if err := Refused(ar); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: %v, want a refusal naming %s", tc.attr, tc.value, err, tc.want)
		}
	}
}
