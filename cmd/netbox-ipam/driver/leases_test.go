package driver

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox/netboxtest"
)

// registered is a fixture with one AR of 10 addresses (10.70.0.10…19, MAC
// 02:00:0a:46:00:0a) in a prefix someone else made.
func registered(t *testing.T, extra []string, configure ...func(*config.Config)) (*fixture, mapping.Attrs) {
	f := newFixture(t, configure...)
	f.prefix("10.70.0.0/24", 0, nil)
	base := onetest.Attrs("TYPE=IP4", "IP=10.70.0.10", "SIZE=10", "MAC=02:00:0a:46:00:0a")
	for _, a := range onetest.Attrs(extra...) {
		base = base.Set(a.Name, a.Value)
	}
	var kv []string
	for _, a := range base {
		kv = append(kv, a.Name+"="+a.Value)
	}
	ar := f.register(kv...)
	f.nb.Calls = nil
	return f, ar
}

// take puts an address someone else made (or the driver's, with owned) into NetBox.
func (f *fixture) take(ip string, owned bool) netbox.IPAddress {
	f.t.Helper()
	s := netbox.IPAddressSpec{Address: ip + "/24", Description: "someone's"}
	if owned {
		s.Tags = []netbox.TagRef{{Slug: "opennebula"}}
	}
	got, err := f.nb.CreateIPAddresses(context.Background(), []netbox.IPAddressSpec{s})
	if err != nil {
		f.t.Fatal(err)
	}
	return got[0]
}

func TestGetAddress(t *testing.T) {
	cases := []struct {
		name      string
		extra     []string
		configure func(*config.Config)
		setup     func(f *fixture)
		size      string
		wantIP    string
		wantErr   string
		wantCalls int // NetBox requests, when not 0
		wantV6    int
		wantInfo  string
	}{
		{name: "lowest free, MAC recorded", size: "1", wantIP: "10.70.0.10", wantCalls: 2},
		{name: "one request when the hooks record the MAC", configure: func(c *config.Config) { c.LeaseMAC = "later" }, size: "1", wantIP: "10.70.0.10", wantCalls: 1},
		{name: "someone's address skipped", setup: func(f *fixture) { f.take("10.70.0.10", false) }, size: "1", wantIP: "10.70.0.11"},
		{name: "a run past a hole", setup: func(f *fixture) { f.take("10.70.0.11", false) }, size: "3", wantIP: "10.70.0.12"},
		{name: "a run after losing a race", setup: func(f *fixture) {
			f.nb.Inject(netboxtest.Fault{Op: "CreateIPAddresses", Before: func(n *netboxtest.NetBox) {
				n.Addresses[9999] = &netbox.IPAddress{Tagged: netbox.Tagged{ID: 9999}, Address: "10.70.0.11/24"}
			}})
		}, size: "2", wantIP: "random", wantInfo: "lost a race for 10.70.0.10 (+1)"},
		{name: "dual stack", extra: []string{"TYPE=IP4_6", "GLOBAL_PREFIX=2001:db8::", "ULA_PREFIX=fd00::"}, size: "1", wantIP: "10.70.0.10", wantV6: 2},
		{name: "static IPv6", extra: []string{"TYPE=IP4_6_STATIC", "IP6=2001:db8::100", "PREFIX_LENGTH=64"}, size: "2", wantIP: "10.70.0.10", wantV6: 2},
		{name: "full", setup: func(f *fixture) {
			for i := 10; i < 20; i++ {
				f.take("10.70.0."+itoa(i), false)
			}
		}, size: "1", wantErr: "conflict: no free address in AR 0", wantCalls: 2}, // the refusal, then a look at the range
		{name: "range marked populated", setup: markPopulated, size: "1", wantErr: "state: of AR 0 (10.70.0.10…10.70.0.19) is marked populated", wantCalls: 2},
		{name: "run in a range marked populated", setup: markPopulated, size: "3", wantErr: "state: of AR 0 (10.70.0.10…10.70.0.19) is marked populated", wantCalls: 1},
		{name: "no run that long", setup: func(f *fixture) { f.take("10.70.0.14", false) }, size: "6", wantErr: "conflict: no 6 contiguous free addresses"},
		{name: "more than the AR", size: "11", wantErr: "input: cannot take 11 addresses"},
		{name: "range gone", setup: func(f *fixture) {
			for id := range f.nb.Ranges {
				delete(f.nb.Ranges, id)
			}
		}, size: "1", wantErr: "state: no longer exists"},
		{name: "SIZE 0", size: "0", wantErr: "input: ADDRESS SIZE must be positive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var conf []func(*config.Config)
			if tc.configure != nil {
				conf = append(conf, tc.configure)
			}
			f, ar := registered(t, tc.extra, conf...)
			if tc.setup != nil {
				tc.setup(f)
			}
			f.nb.Calls = nil
			resp, err := f.d.GetAddress(context.Background(), request(ar, "SIZE="+tc.size))
			if tc.wantCalls != 0 && f.nb.Requests() != tc.wantCalls {
				t.Errorf("%d NetBox requests %v, want %d", f.nb.Requests(), f.nb.Calls, tc.wantCalls)
			}
			if tc.wantErr != "" {
				failedAs(t, err, tc.wantErr)
				if _, _, a := f.owned(); a != 0 {
					t.Errorf("%d leases left after a failure", a)
				}
				return
			}
			if tc.wantIP == "random" && err == nil { // a random free block after the race
				if ip := resp.IP.As4()[3]; ip < 12 || ip > 18 {
					t.Fatalf("got %s, want a free run after .11", resp.IP)
				}
				tc.wantIP = resp.IP.String()
			}
			if err != nil || resp.IP.String() != tc.wantIP || itoa(resp.Size) != tc.size {
				t.Fatalf("got %s (+%d), %v; want %s", resp.IP, resp.Size, err, tc.wantIP)
			}
			if !strings.Contains(f.info.String(), tc.wantInfo) {
				t.Errorf("info %q, want %q", f.info, tc.wantInfo)
			}
			l := f.addr(tc.wantIP)
			if l == nil || !l.HasTag("opennebula") || l.CustomString(mapping.CFRequestID) != "41" || l.CustomString(mapping.CFARID) != "0" {
				t.Fatalf("lease object %+v", l)
			}
			if tc.wantCalls != 1 && l.CustomString(mapping.CFMAC) != "02:00:0a:46:00:"+hex(netip.MustParseAddr(tc.wantIP).As4()[3]) {
				t.Errorf("MAC %q", l.CustomString(mapping.CFMAC))
			}
			v6 := 0
			for _, a := range f.nb.Addresses {
				if p, _ := a.Addr(); p.Is6() {
					v6++
				}
			}
			if v6 != tc.wantV6 {
				t.Errorf("%d IPv6 leases, want %d", v6, tc.wantV6)
			}
		})
	}
}

// markPopulated does what an admin does with "Mark populated" on the AR's range (NetBox 4.3+).
func markPopulated(f *fixture) {
	for _, r := range f.nb.Ranges {
		r.MarkPopulated = true
	}
}

func mustDNS(s string) mapping.DNSTemplate {
	t, err := mapping.ParseDNSTemplate(s)
	if err != nil {
		panic(err)
	}
	return t
}

func hex(b byte) string { return fmt.Sprintf("%02x", b) }

// A lost available-ips answer is looked up by the call's description, never repeated
// when found.
func TestGetAddressLostAnswer(t *testing.T) {
	f, ar := registered(t, nil)
	f.nb.Inject(netboxtest.Fault{Op: "TakeFromRange", Err: netboxtest.Lost("TakeFromRange"), After: true})
	resp, err := f.d.GetAddress(context.Background(), request(ar, "SIZE=1"))
	if err != nil || resp.IP.String() != "10.70.0.10" || f.nb.Count("TakeFromRange") != 1 {
		t.Fatalf("got %s, %v after %v", resp.IP, err, f.nb.Calls)
	}
	if _, _, a := f.owned(); a != 1 {
		t.Fatalf("%d leases, want 1", a)
	}
}

// A lease whose MAC cannot be recorded is removed again: oned gets an error, NetBox
// holds nothing for it.
func TestGetAddressUndoesHalfALease(t *testing.T) {
	f, ar := registered(t, nil)
	f.nb.Inject(netboxtest.Fault{Op: "PatchIPAddress", Err: netboxtest.Unreachable("PatchIPAddress")})
	resp, err := f.d.GetAddress(context.Background(), request(ar, "SIZE=1"))
	if kindOf(err) != "netbox" {
		t.Fatalf("err %v", err)
	}
	if _, _, a := f.owned(); a != 0 || len(resp.Changes) != 2 {
		t.Fatalf("%d leases left, changes %v", a, resp.Changes)
	}
}

func TestAllocate(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(f *fixture)
		addr    []string
		wantErr string
	}{
		{name: "free addresses", addr: []string{"IP=10.70.0.12", "SIZE=3"}},
		{name: "taken by someone", setup: func(f *fixture) { f.take("10.70.0.13", false) }, addr: []string{"IP=10.70.0.12", "SIZE=3"}, wantErr: `conflict: 10.70.0.13 is already in NetBox`},
		{name: "taken between look and POST", setup: func(f *fixture) {
			f.nb.Inject(netboxtest.Fault{Op: "CreateIPAddresses", Before: func(n *netboxtest.NetBox) {
				n.Addresses[9999] = &netbox.IPAddress{Tagged: netbox.Tagged{ID: 9999, Description: "racer"}, Address: "10.70.0.12/24"}
			}})
		}, addr: []string{"IP=10.70.0.12"}, wantErr: `conflict: 10.70.0.12 is already in NetBox (ip-address 9999, "racer")`},
		{name: "range marked populated", setup: markPopulated, addr: []string{"IP=10.70.0.12"}, wantErr: `state: clear "Mark populated" on the range in NetBox`},
		{name: "outside the AR", addr: []string{"IP=10.70.0.19", "SIZE=2"}, wantErr: "input: 10.70.0.19 (+1) is outside AR 0"},
		{name: "not IPv4", addr: []string{"IP=2001:db8::1"}, wantErr: `input: ADDRESS IP "2001:db8::1" is not an IPv4 address`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, ar := registered(t, nil)
			if tc.setup != nil {
				tc.setup(f)
			}
			_, err := f.d.Allocate(context.Background(), request(ar, tc.addr...))
			if tc.wantErr != "" {
				failedAs(t, err, tc.wantErr)
				if _, _, a := f.owned(); a != 0 {
					t.Errorf("%d leases left", a)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, _, a := f.owned(); a != 3 || f.addr("10.70.0.14") == nil || f.addr("10.70.0.14").CustomString(mapping.CFMAC) != "02:00:0a:46:00:0e" {
				t.Fatalf("%d leases; .14 is %+v", a, f.addr("10.70.0.14"))
			}
		})
	}
}

func TestFree(t *testing.T) {
	cases := []struct {
		name        string
		extra       []string
		configure   func(*config.Config)
		setup       func(f *fixture, ar mapping.Attrs) mapping.Attrs
		wantLeft    []string // addresses NetBox still holds
		wantWarning string
		wantErr     string
	}{
		{name: "the driver's lease", wantLeft: nil},
		{name: "someone's object stays", setup: func(f *fixture, ar mapping.Attrs) mapping.Attrs {
			for _, a := range f.nb.Addresses {
				a.Tags = nil
			}
			return ar
		}, wantLeft: []string{"10.70.0.10"}},
		{name: "with its IPv6", extra: []string{"TYPE=IP4_6", "GLOBAL_PREFIX=2001:db8::"}, wantLeft: nil},
		{name: "deprecated when so configured", configure: func(c *config.Config) { c.Release = "deprecate" }, wantLeft: []string{"10.70.0.10"}},
		{name: "deprecated without its DNS name", configure: func(c *config.Config) {
			c.Release, c.DNS = "deprecate", mustDNS("{vm}.example.org")
		}, setup: func(f *fixture, ar mapping.Attrs) mapping.Attrs {
			f.addr("10.70.0.10").DNSName = "web.example.org" // the hooks named it
			return ar
		}, wantLeft: []string{"10.70.0.10"}},
		{name: "no template: an admin's DNS name stays", configure: func(c *config.Config) { c.Release = "deprecate" }, setup: func(f *fixture, ar mapping.Attrs) mapping.Attrs {
			f.addr("10.70.0.10").DNSName = "kept.example.org"
			return ar
		}, wantLeft: []string{"10.70.0.10"}},
		{name: "the AR lost its ids", setup: func(f *fixture, ar mapping.Attrs) mapping.Attrs {
			return ar.Set(mapping.AttrIPRangeID, "").Set(mapping.AttrPrefixID, "")
		}, wantLeft: nil},
		{name: "NetBox unreachable: success, left for sync", setup: func(f *fixture, ar mapping.Attrs) mapping.Attrs {
			f.nb.Inject(netboxtest.Fault{Op: "GetIPRange", Err: netboxtest.Unreachable("GET /api/ipam/ip-ranges/1/")})
			return ar
		}, wantLeft: []string{"10.70.0.10"}, wantWarning: "free left NetBox objects behind: GET /api/ipam/ip-ranges/1/: cannot reach NetBox"},
		{name: "range and prefix gone: nothing to free", setup: func(f *fixture, ar mapping.Attrs) mapping.Attrs {
			return ar.Set(mapping.AttrIPRangeID, "999").Set(mapping.AttrPrefixID, "998")
		}, wantLeft: []string{"10.70.0.10"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var conf []func(*config.Config)
			if tc.configure != nil {
				conf = append(conf, tc.configure)
			}
			f, ar := registered(t, tc.extra, conf...)
			if _, err := f.d.GetAddress(context.Background(), request(ar, "SIZE=1")); err != nil {
				t.Fatal(err)
			}
			if tc.setup != nil {
				ar = tc.setup(f, ar)
			}
			resp, err := f.d.Free(context.Background(), request(ar, "IP=10.70.0.10", "SIZE=1"))
			if err != nil || (tc.wantWarning == "") != (resp.Warning == "") || !strings.Contains(resp.Warning, tc.wantWarning) {
				t.Fatalf("err %v, warning %q; want %q", err, resp.Warning, tc.wantWarning)
			}
			var left []string
			for _, a := range f.nb.Addresses {
				if p, _ := a.Addr(); a.Status.Value != "deprecated" || tc.configure != nil {
					left = append(left, p.String())
				}
			}
			if strings.Join(left, " ") != strings.Join(tc.wantLeft, " ") {
				t.Fatalf("NetBox holds %v, want %v", left, tc.wantLeft)
			}
			if tc.configure != nil && f.addr("10.70.0.10").Status.Value != "deprecated" {
				t.Errorf("status %q", f.addr("10.70.0.10").Status.Value)
			}
			if l := f.addr("10.70.0.10"); l != nil && l.DNSName != "" && !strings.HasPrefix(l.DNSName, "kept.") {
				t.Errorf("a freed lease keeps the DNS name %q", l.DNSName)
			}
			if l := f.addr("10.70.0.10"); strings.HasPrefix(tc.name, "no template") && l.DNSName != "kept.example.org" {
				t.Errorf("an admin's DNS name went: %q", l.DNSName)
			}
		})
	}
	f, ar := registered(t, nil)
	if _, err := f.d.Free(context.Background(), request(ar, "IP=10.70.0.30")); kindOf(err) != "input" {
		t.Errorf("free outside the AR: %v, want an input error", err)
	}
}

func TestUnregister(t *testing.T) {
	cases := []struct {
		name         string
		setup        func(f *fixture, ar mapping.Attrs) mapping.Attrs
		wantPrefixes int // of the driver, after
		wantRanges   int
		wantAddrs    int // all, after
	}{
		{name: "leases, range and prefix go", wantAddrs: 0},
		{name: "someone's address keeps the prefix", setup: func(f *fixture, ar mapping.Attrs) mapping.Attrs {
			f.take("10.71.0.200", false)
			return ar
		}, wantPrefixes: 1, wantAddrs: 1},
		{name: "another range keeps the prefix", setup: func(f *fixture, ar mapping.Attrs) mapping.Attrs {
			f.nb.CreateIPRange(context.Background(), netbox.IPRangeSpec{Start: "10.71.0.100/24", End: "10.71.0.110/24"})
			return ar
		}, wantPrefixes: 1},
		{name: "a range someone untagged stays", setup: func(f *fixture, ar mapping.Attrs) mapping.Attrs {
			for _, r := range f.nb.Ranges {
				r.Tags = nil
			}
			return ar
		}, wantPrefixes: 1},
		{name: "a reservation leaves the parent's objects", setup: func(f *fixture, ar mapping.Attrs) mapping.Attrs {
			return ar.Set(mapping.AttrParentARID, "0")
		}, wantPrefixes: 2, wantRanges: 1, wantAddrs: 2}, // the parent's prefix and /64
		{name: "ids lost, found by span", setup: func(f *fixture, ar mapping.Attrs) mapping.Attrs {
			return ar.Set(mapping.AttrIPRangeID, "").Set(mapping.AttrPrefixID, "")
		}},
		{name: "already gone", setup: func(f *fixture, ar mapping.Attrs) mapping.Attrs {
			f.nb.Prefixes, f.nb.Ranges, f.nb.Addresses = map[int]*netbox.Prefix{}, map[int]*netbox.IPRange{}, map[int]*netbox.IPAddress{}
			return ar
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ar := f.register("TYPE=IP4_6", "NETWORK_ADDRESS=10.71.0.0", "NETWORK_MASK=255.255.255.0", "SIZE=10", "MAC=02:00:0a:47:00:02", "GLOBAL_PREFIX=2001:db8::")
			if _, err := f.d.GetAddress(context.Background(), request(ar, "SIZE=1")); err != nil {
				t.Fatal(err)
			}
			if tc.setup != nil {
				ar = tc.setup(f, ar)
			}
			if _, err := f.d.Unregister(context.Background(), request(ar)); err != nil {
				t.Fatal(err)
			}
			p, r, _ := f.owned()
			if p != tc.wantPrefixes || r != tc.wantRanges || len(f.nb.Addresses) != tc.wantAddrs {
				t.Fatalf("after: %d prefixes, %d ranges of the driver, %d addresses; want %d, %d, %d\n%s", p, r, len(f.nb.Addresses), tc.wantPrefixes, tc.wantRanges, tc.wantAddrs, f.info)
			}
		})
	}
}
