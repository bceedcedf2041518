package driver

import (
	"context"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox/netboxtest"
)

// An IP4_6 AR's /64s from NetBox: carved from a pool (the AR's parent first), or
// NetBox's prefix of the /64 the AR names (made when NetBox has none); what register
// made goes when a later step fails.
func TestRegisterIPv6(t *testing.T) {
	pools := func(c *config.Config) {
		c.Pool.ParentPrefixes6, c.Pool.ULAParentPrefixes6 = []string{"2001:db8:100::/48"}, []string{"fd00:100::/48"}
	}
	base := []string{"TYPE=IP4_6", "IP=10.60.0.10", "SIZE=5", "MAC=02:00:0a:3c:00:0a"}
	cases := []struct {
		name      string
		configure func(*config.Config)
		setup     func(f *fixture)
		ar        []string // besides base
		wantErr   string
		want      map[string]string // "": not in the answer
		wantOwned int               // the driver's prefixes after (the IPv4 one is someone's)
	}{
		{name: "no pool, no prefix: as before", want: map[string]string{"GLOBAL_PREFIX": "", "NETBOX_PREFIX6_ID": ""}},
		{name: "carved from the pools", configure: pools, setup: func(f *fixture) {
			f.prefix("2001:db8:100::/48", 0, nil)
			f.prefix("2001:db8:100::/64", 0, nil) // taken
			f.prefix("fd00:100::/48", 0, nil)
		}, want: map[string]string{"GLOBAL_PREFIX": "2001:db8:100:1::", "ULA_PREFIX": "fd00:100::"}, wantOwned: 2},
		{name: "the AR's parent wins over the pool", configure: pools, setup: func(f *fixture) {
			f.prefix("2001:db8:200::/48", 0, nil)
			f.prefix("fd00:100::/48", 0, nil)
		}, ar: []string{"NETBOX_PARENT_PREFIX6=2001:db8:200::/48"}, want: map[string]string{"GLOBAL_PREFIX": "2001:db8:200::"}, wantOwned: 2},
		{name: "a /64 the AR names, NetBox's", setup: func(f *fixture) { f.prefix("2001:db8:300::/64", 0, nil) },
			ar: []string{"GLOBAL_PREFIX=2001:db8:300::"}, want: map[string]string{"GLOBAL_PREFIX": "2001:db8:300::"}, wantOwned: 0},
		{name: "a /64 the AR names, made", ar: []string{"GLOBAL_PREFIX=2001:db8:300:0:0::"}, want: map[string]string{"GLOBAL_PREFIX": "2001:db8:300::"}, wantOwned: 1},
		{name: "a /64 the AR names, made meanwhile by another", setup: func(f *fixture) {
			f.nb.Inject(netboxtest.Fault{Op: "CreatePrefix", Before: func(n *netboxtest.NetBox) {
				n.Prefixes[9999] = &netbox.Prefix{Tagged: netbox.Tagged{ID: 9999}, Prefix: "2001:db8:300::/64"} // someone's
			}})
		}, ar: []string{"GLOBAL_PREFIX=2001:db8:300::"}, want: map[string]string{"GLOBAL_PREFIX": "2001:db8:300::"}, wantOwned: 0},
		{name: "named beats the pool", configure: pools, setup: func(f *fixture) { f.prefix("fd00:100::/48", 0, nil) },
			ar: []string{"GLOBAL_PREFIX=2001:db8:300::"}, want: map[string]string{"GLOBAL_PREFIX": "2001:db8:300::", "ULA_PREFIX": "fd00:100::"}, wantOwned: 2},
		{name: "pool full", configure: func(c *config.Config) { c.Pool.ParentPrefixes6 = []string{"2001:db8:100::/64"} }, setup: func(f *fixture) {
			f.prefix("2001:db8:100::/64", 0, nil)
			f.prefix("2001:db8:100::/65", 0, nil)
		}, wantErr: "conflict: no free /64 left in pool 2001:db8:100::/64; add room to the pool in NetBox or set another NETBOX_PARENT_PREFIX6"},
		{name: "ULA pool fails after the global /64", configure: pools, setup: func(f *fixture) { f.prefix("2001:db8:100::/48", 0, nil) },
			wantErr: "state: pool parent prefix fd00:100::/48 does not exist"},
		{name: "an IPv4 parent", setup: func(f *fixture) { f.prefix("10.200.0.0/16", 0, nil) }, ar: []string{"NETBOX_PARENT_PREFIX6=10.200.0.0/16"},
			wantErr: "state: is not IPv6; give an IPv6 prefix in NETBOX_PARENT_PREFIX6 or pool.parent_prefixes6"},
		{name: "a ULA parent outside fc00::/7", setup: func(f *fixture) { f.prefix("2001:db8:900::/48", 0, nil) }, ar: []string{"NETBOX_ULA_PARENT_PREFIX6=2001:db8:900::/48"},
			wantErr: "state: is not in fc00::/7, where ULA /64s are; give one in NETBOX_ULA_PARENT_PREFIX6 or pool.ula_parent_prefixes6"},
		{name: "an IPv4 AR with a parent", ar: []string{"TYPE=IP4", "NETBOX_PARENT_PREFIX6=2001:db8:100::/48"}, wantErr: "input: NETBOX_PARENT_PREFIX6 needs an AR of TYPE IP4_6"},
		{name: "not an address", ar: []string{"GLOBAL_PREFIX=2001:db8:300::/56"}, wantErr: "input: GLOBAL_PREFIX \"2001:db8:300::/56\" is not an IPv6 address"},
		{name: "not IPv6", ar: []string{"ULA_PREFIX=10.0.0.0"}, wantErr: "input: ULA_PREFIX \"10.0.0.0\" is not an IPv6 address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var conf []func(*config.Config)
			if tc.configure != nil {
				conf = append(conf, tc.configure)
			}
			f := newFixture(t, conf...)
			f.prefix("10.60.0.0/24", 0, nil)
			if tc.setup != nil {
				tc.setup(f)
			}
			ar := onetest.Attrs(base...)
			for _, a := range onetest.Attrs(tc.ar...) {
				ar = ar.Set(a.Name, a.Value)
			}
			resp, err := f.d.Register(context.Background(), request(ar))
			if tc.wantErr != "" {
				failedAs(t, err, tc.wantErr)
				if p, r, _ := f.owned(); p+r != 0 {
					t.Errorf("a failed register left %d prefixes and %d ranges of the driver", p, r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if got := resp.AR.Get(k); got != v {
					t.Errorf("%s = %q, want %q (answer %s)", k, got, v, resp.AR)
				}
			}
			for _, k := range mapping.IPv6Prefixes {
				if resp.AR.Get(k.Attr) == "" {
					continue
				}
				p := f.nb.Prefixes[atoi(resp.AR.Get(k.IDAttr))]
				if p == nil || p.Prefix != resp.AR.Get(k.Attr)+"/64" {
					t.Errorf("%s = %s names NetBox prefix %+v", k.IDAttr, resp.AR.Get(k.IDAttr), p)
				}
			}
			if p, _, _ := f.owned(); p != tc.wantOwned {
				t.Errorf("%d prefixes of the driver after, want %d", p, tc.wantOwned)
			}
		})
	}
}

// A carved /64 is where the AR's leases get their IPv6 addresses, and unregister gives
// it back (unless someone's address is still inside); a /64 the AR found in NetBox, or
// took from the AR whose register made it, stays.
func TestUnregisterIPv6(t *testing.T) {
	pool := func(c *config.Config) { c.Pool.ParentPrefixes6 = []string{"2001:db8:100::/48"} }
	f := newFixture(t, pool)
	ctx := context.Background()
	f.prefix("10.60.0.0/24", 0, nil)
	f.prefix("2001:db8:100::/48", 0, nil)
	first := f.register("TYPE=IP4_6", "IP=10.60.0.10", "SIZE=5", "MAC=02:00:0a:3c:00:0a")
	// A second AR names the first's /64: it uses it and does not own it, even while
	// the /64 is empty.
	resp, err := f.d.Register(ctx, Request{ID: "42", Request: mapping.Request{AR: onetest.Attrs( // another request than first's
		"TYPE=IP4_6", "IP=10.60.0.20", "SIZE=5", "MAC=02:00:0a:3c:00:14", "GLOBAL_PREFIX="+first.Get("GLOBAL_PREFIX"))}})
	if err != nil {
		t.Fatal(err)
	}
	second := resp.AR
	if second.Get("NETBOX_PREFIX6_ID") != first.Get("NETBOX_PREFIX6_ID") {
		t.Fatalf("the second AR's /64 is %s, the first's %s", second.Get("NETBOX_PREFIX6_ID"), first.Get("NETBOX_PREFIX6_ID"))
	}
	id := atoi(first.Get("NETBOX_PREFIX6_ID"))
	if _, err := f.d.Unregister(ctx, request(second)); err != nil {
		t.Fatal(err)
	}
	if f.nb.Prefixes[id] == nil {
		t.Fatal("unregistering the AR that found the /64 removed it")
	}
	if _, err := f.d.GetAddress(ctx, request(first, "SIZE=1")); err != nil {
		t.Fatal(err)
	}
	if l := f.addr("2001:db8:100::aff:fe3c:a"); l == nil || !l.HasTag("opennebula") {
		t.Fatalf("the lease's SLAAC address in the carved /64: %+v", l)
	}
	f.nb.CreateIPAddresses(ctx, []netbox.IPAddressSpec{{Address: "2001:db8:100::1/64"}}) // someone's
	if _, err := f.d.Unregister(ctx, request(first)); err != nil {
		t.Fatal(err)
	}
	if f.nb.Prefixes[id] == nil || f.addr("2001:db8:100::aff:fe3c:a") != nil || !strings.Contains(f.info.String(), "kept prefix 2001:db8:100::/64") {
		t.Fatalf("with someone's address inside: /64 %+v, the lease's IPv6 address %+v\n%s", f.nb.Prefixes[id], f.addr("2001:db8:100::aff:fe3c:a"), f.info)
	}
	// An AR alone in its /64: the /64 goes with it.
	third := f.register("TYPE=IP4_6", "IP=10.60.0.30", "SIZE=5", "MAC=02:00:0a:3c:00:1e")
	if third.Get("GLOBAL_PREFIX") != "2001:db8:100:1::" {
		t.Fatalf("the third AR's /64: %s", third.Get("GLOBAL_PREFIX"))
	}
	if _, err := f.d.Unregister(ctx, request(third)); err != nil {
		t.Fatal(err)
	}
	if p := f.nb.Prefixes[atoi(third.Get("NETBOX_PREFIX6_ID"))]; p != nil {
		t.Fatalf("the carved /64 after unregister: %+v", p)
	}
	// An AR whose ids an updatear dropped: its /64 is found by the GLOBAL_PREFIX it names.
	fourth := f.register("TYPE=IP4_6", "IP=10.60.0.40", "SIZE=5", "MAC=02:00:0a:3c:00:28")
	id4 := atoi(fourth.Get("NETBOX_PREFIX6_ID"))
	if _, err := f.d.Unregister(ctx, request(fourth.Set("NETBOX_PREFIX6_ID", ""))); err != nil {
		t.Fatal(err)
	}
	if p := f.nb.Prefixes[id4]; p != nil {
		t.Fatalf("the carved /64 of an AR without its id, after unregister: %+v", p)
	}
}

// A lost answer to carving the /64 is found by the register's description, not carved
// twice.
func TestRegisterIPv6LostAnswer(t *testing.T) {
	f := newFixture(t, func(c *config.Config) { c.Pool.ParentPrefixes6 = []string{"2001:db8:100::/48"} })
	f.prefix("10.60.0.0/24", 0, nil)
	f.prefix("2001:db8:100::/48", 0, nil)
	f.nb.Inject(netboxtest.Fault{Op: "CarvePrefix", Err: netboxtest.Lost("POST /api/ipam/prefixes/1/available-prefixes/"), After: true})
	resp, err := f.d.Register(context.Background(), request(onetest.Attrs("TYPE=IP4_6", "IP=10.60.0.10", "SIZE=5", "MAC=02:00:0a:3c:00:0a")))
	if err != nil {
		t.Fatal(err)
	}
	if p, _, _ := f.owned(); p != 1 || resp.AR.Get("GLOBAL_PREFIX") != "2001:db8:100::" {
		t.Fatalf("%d prefixes of the driver, GLOBAL_PREFIX %q", p, resp.AR.Get("GLOBAL_PREFIX"))
	}
}
