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

// Register's three ways to a prefix, and what comes back to oned.
func TestRegister(t *testing.T) {
	pool := func(c *config.Config) { c.Pool.ParentPrefixes = []string{"10.90.0.0/16"} }
	cases := []struct {
		name      string
		configure func(*config.Config)
		setup     func(f *fixture)
		ar        []string
		wantErr   string // kind: message part
		want      map[string]string
		wantOwned [3]int // prefixes, ranges, addresses of the driver after
	}{
		{name: "span in an existing prefix", setup: func(f *fixture) { f.prefix("10.60.0.0/24", 0, nil) },
			ar:   []string{"TYPE=IP4", "IP=10.60.0.10", "SIZE=20"},
			want: map[string]string{"IP": "10.60.0.10", "SIZE": "20", "GATEWAY": "10.60.0.1", "NETWORK_MASK": "255.255.255.0", "NETWORK_ADDRESS": "10.60.0.0", "NETBOX_PREFIX": "10.60.0.0/24", "IPAM_MAD": "netbox"}, wantOwned: [3]int{0, 1, 0}},
		{name: "the most specific prefix", setup: func(f *fixture) { f.prefix("10.60.0.0/16", 0, nil); f.prefix("10.60.0.0/24", 0, nil) },
			ar: []string{"TYPE=IP4", "IP=10.60.0.10", "SIZE=20"}, want: map[string]string{"NETBOX_PREFIX": "10.60.0.0/24"}, wantOwned: [3]int{0, 1, 0}},
		{name: "span with its network, created", ar: []string{"TYPE=ip4", "IP=10.61.0.10", "SIZE=5", "NETWORK_ADDRESS=10.61.0.0", "NETWORK_MASK=255.255.255.0", "IPAM_MAD=nb2"},
			want: map[string]string{"TYPE": "IP4", "NETBOX_PREFIX": "10.61.0.0/24", "IPAM_MAD": "nb2"}, wantOwned: [3]int{1, 1, 0}},
		{name: "span outside its network", ar: []string{"TYPE=IP4", "IP=10.61.1.10", "SIZE=5", "NETWORK_ADDRESS=10.61.0.0", "NETWORK_MASK=255.255.255.0"}, wantErr: "input: is not inside"},
		{name: "span without a prefix", ar: []string{"TYPE=IP4", "IP=10.62.0.10", "SIZE=5"}, wantErr: "state: no NetBox prefix in the global table contains"},
		{name: "network reserved, hosts after the gateway", ar: []string{"TYPE=IP4", "NETWORK_ADDRESS=10.63.0.0", "NETWORK_MASK=255.255.255.248"},
			want: map[string]string{"IP": "10.63.0.2", "SIZE": "5", "GATEWAY": "10.63.0.1"}, wantOwned: [3]int{1, 1, 0}},
		{name: "network that exists, NetBox's settings win", setup: func(f *fixture) {
			f.prefix("10.64.0.0/24", 0, map[string]any{mapping.CFGateway: "10.64.0.254", mapping.CFDNS: "10.64.0.53"})
		}, ar: []string{"TYPE=IP4", "NETWORK_ADDRESS=10.64.0.0", "NETWORK_MASK=255.255.255.0", "SIZE=10", "DNS=1.1.1.1", "GUEST_MTU=1450"},
			want: map[string]string{"IP": "10.64.0.1", "SIZE": "10", "GATEWAY": "10.64.0.254", "DNS": "10.64.0.53", "GUEST_MTU": "1450"}, wantOwned: [3]int{0, 1, 0}},
		{name: "carved from the pool", configure: pool, setup: func(f *fixture) { f.prefix("10.90.0.0/16", 0, nil); f.prefix("10.90.0.0/28", 0, nil) },
			ar: []string{"TYPE=IP4", "SIZE=10"}, want: map[string]string{"NETBOX_PREFIX": "10.90.0.16/28", "IP": "10.90.0.18", "SIZE": "10"}, wantOwned: [3]int{1, 1, 0}},
		{name: "carved with PREFIX_LENGTH", configure: pool, setup: func(f *fixture) { f.prefix("10.90.0.0/16", 0, nil) },
			ar: []string{"TYPE=IP4", "SIZE=10", "NETBOX_PREFIX_LENGTH=24"}, want: map[string]string{"NETBOX_PREFIX": "10.90.0.0/24"}, wantOwned: [3]int{1, 1, 0}},
		{name: "PREFIX_LENGTH too long", configure: pool, ar: []string{"TYPE=IP4", "SIZE=10", "NETBOX_PREFIX_LENGTH=29"}, wantErr: "input: cannot hold SIZE 10"},
		{name: "pool full", configure: pool, setup: func(f *fixture) {
			f.prefix("10.90.0.0/16", 0, nil)
			f.prefix("10.90.0.0/17", 0, nil)
			f.prefix("10.90.128.0/17", 0, nil)
		},
			ar: []string{"TYPE=IP4", "SIZE=10"}, wantErr: "conflict: no free /28 left in pool 10.90.0.0/16"},
		{name: "a parent too small for the AR is skipped", configure: func(c *config.Config) { c.Pool.ParentPrefixes = []string{"10.91.0.0/29", "10.90.0.0/16"} },
			setup: func(f *fixture) { f.prefix("10.91.0.0/29", 0, nil); f.prefix("10.90.0.0/16", 0, nil) },
			ar:    []string{"TYPE=IP4", "SIZE=10"}, want: map[string]string{"NETBOX_PREFIX": "10.90.0.0/28"}, wantOwned: [3]int{1, 1, 0}},
		{name: "every parent too small", configure: func(c *config.Config) { c.Pool.ParentPrefixes = []string{"10.91.0.0/29"} },
			setup: func(f *fixture) { f.prefix("10.91.0.0/29", 0, nil) },
			ar:    []string{"TYPE=IP4", "SIZE=10"}, wantErr: "conflict: every parent of the pool is too small for a /28: 10.91.0.0/29"},
		{name: "an IPv6 parent", setup: func(f *fixture) { f.prefix("2001:db8:100::/48", 0, nil) }, ar: []string{"TYPE=IP4", "SIZE=10", "NETBOX_PARENT_PREFIX=2001:db8:100::/48"},
			wantErr: "state: is not IPv4; give an IPv4 prefix in NETBOX_PARENT_PREFIX or pool.parent_prefixes"},
		{name: "pool parent missing", configure: pool, ar: []string{"TYPE=IP4", "SIZE=10"}, wantErr: "state: pool parent prefix 10.90.0.0/16 does not exist"},
		{name: "no pool", ar: []string{"TYPE=IP4", "SIZE=10"}, wantErr: "input: no pool is set"},
		{name: "unknown VRF", ar: []string{"TYPE=IP4", "SIZE=10", "NETBOX_VRF=blue"}, wantErr: `state: NETBOX_VRF "blue": no such NetBox vrf`},
		{name: "no TYPE", ar: []string{"SIZE=10"}, wantErr: "input: AR has no TYPE"},
		{name: "IPv6 only", ar: []string{"TYPE=IP6", "SIZE=10"}, wantErr: "input: AR TYPE IP6 has no IPv4 addresses"},
		{name: "SIZE 0", ar: []string{"TYPE=IP4", "SIZE=0"}, wantErr: "input: AR SIZE must be positive"},
		{name: "IP without SIZE", ar: []string{"TYPE=IP4", "IP=10.0.0.1"}, wantErr: "input: has no SIZE"},
		{name: "nothing to go by", ar: []string{"TYPE=IP4"}, wantErr: "input: neither IP, NETWORK_ADDRESS nor SIZE"},
		{name: "past the end of IPv4", ar: []string{"TYPE=IP4", "IP=255.255.255.250", "SIZE=10"}, wantErr: "input: runs past the end of IPv4"},
		{name: "gateway outside", setup: func(f *fixture) { f.prefix("10.60.0.0/24", 0, nil) }, ar: []string{"TYPE=IP4", "IP=10.60.0.10", "SIZE=5", "GATEWAY=10.61.0.1"}, wantErr: "input: GATEWAY"},
		{name: "range overlaps another", setup: func(f *fixture) {
			f.prefix("10.60.0.0/24", 0, nil)
			f.nb.CreateIPRange(context.Background(), netbox.IPRangeSpec{Start: "10.60.0.12/24", End: "10.60.0.13/24"})
		}, ar: []string{"TYPE=IP4", "IP=10.60.0.10", "SIZE=5"}, wantErr: "conflict: NetBox refused an IP range 10.60.0.10…10.60.0.14"},
		{name: "custom fields missing", setup: func(f *fixture) { f.prefix("10.60.0.0/24", 0, nil); delete(f.nb.Fields, mapping.CFGateway) },
			ar: []string{"TYPE=IP4", "IP=10.60.0.10", "SIZE=5"}, wantErr: "state: run `netbox-ipam setup`"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var conf []func(*config.Config)
			if tc.configure != nil {
				conf = append(conf, tc.configure)
			}
			f := newFixture(t, conf...)
			if tc.setup != nil {
				tc.setup(f)
			}
			resp, err := f.d.Register(context.Background(), request(onetest.Attrs(tc.ar...)))
			if tc.wantErr != "" {
				failedAs(t, err, tc.wantErr)
			} else if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if got := resp.AR.Get(k); got != v {
					t.Errorf("%s = %q, want %q (answer %s)", k, got, v, resp.AR)
				}
			}
			if p, r, a := f.owned(); [3]int{p, r, a} != tc.wantOwned {
				t.Errorf("driver's objects after: %d prefixes, %d ranges, %d addresses; want %v", p, r, a, tc.wantOwned)
			}
			if err == nil && len(resp.Changes) == 0 {
				t.Errorf("no changes reported")
			}
		})
	}
}

// A failure at any step of register leaves NetBox as it was: what the driver created is
// removed, the custom fields it wrote are emptied again.
func TestRegisterRollsBack(t *testing.T) {
	boom := netboxtest.Refused("x", 403, "You do not have permission to perform this action.")
	cases := []struct {
		name, failOp string
		ar           []string
		wantKind     string
	}{
		{"range refused after a created prefix", "CreateIPRange", []string{"TYPE=IP4", "IP=10.61.0.10", "SIZE=5", "NETWORK_ADDRESS=10.61.0.0", "NETWORK_MASK=255.255.255.0"}, "netbox"},
		{"settings refused after a created prefix", "SetPrefixCustomFields", []string{"TYPE=IP4", "NETWORK_ADDRESS=10.61.0.0", "NETWORK_MASK=255.255.255.0"}, "netbox"},
		{"range refused in an existing prefix", "CreateIPRange", []string{"TYPE=IP4", "IP=10.60.0.10", "SIZE=5"}, "netbox"},
		{"carve refused", "CarvePrefix", []string{"TYPE=IP4", "SIZE=5", "NETBOX_PARENT_PREFIX=10.60.0.0/24"}, "netbox"},
		{"prefix refused", "CreatePrefix", []string{"TYPE=IP4", "NETWORK_ADDRESS=10.61.0.0", "NETWORK_MASK=255.255.255.0"}, "netbox"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			existing := f.prefix("10.60.0.0/24", 0, nil)
			f.nb.Inject(netboxtest.Fault{Op: tc.failOp, Err: boom})
			resp, err := f.d.Register(context.Background(), request(onetest.Attrs(tc.ar...)))
			if kindOf(err) != tc.wantKind {
				t.Fatalf("err %v, want %s", err, tc.wantKind)
			}
			if p, r, a := f.owned(); p+r+a != 0 {
				t.Errorf("left behind: %d prefixes, %d ranges, %d addresses (changes %v)", p, r, a, resp.Changes)
			}
			for k, v := range f.nb.Prefixes[existing.ID].CustomFields {
				if v != nil {
					t.Errorf("custom field %s of the existing prefix left at %v", k, v)
				}
			}
			for _, c := range resp.Changes {
				if strings.HasPrefix(c, "+") && !contains(resp.Changes, "-"+c[1:]) {
					t.Errorf("changes %v: %s created, never removed", resp.Changes, c)
				}
			}
		})
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// A lost answer to a create is looked up by the call's description: found, it is the
// result (nothing is created twice); not found, the create is sent once more.
func TestRegisterLostAnswers(t *testing.T) {
	for _, op := range []string{"CreatePrefix", "CreateIPRange", "CarvePrefix"} {
		t.Run(op, func(t *testing.T) {
			f := newFixture(t, func(c *config.Config) { c.Pool.ParentPrefixes = []string{"10.90.0.0/16"} })
			f.prefix("10.90.0.0/16", 0, nil)
			f.nb.Calls = nil
			f.nb.Inject(netboxtest.Fault{Op: op, Err: netboxtest.Lost(op), After: true})
			ar := []string{"TYPE=IP4", "NETWORK_ADDRESS=10.61.0.0", "NETWORK_MASK=255.255.255.0"}
			if op == "CarvePrefix" {
				ar = []string{"TYPE=IP4", "SIZE=5"}
			}
			resp, err := f.d.Register(context.Background(), request(onetest.Attrs(ar...)))
			if err != nil {
				t.Fatal(err)
			}
			if p, r, _ := f.owned(); p != 1 || r != 1 {
				t.Errorf("%d prefixes, %d ranges of the driver, want 1 and 1", p, r)
			}
			if f.nb.Count(op) != 1 {
				t.Errorf("%s sent %d times, want once; calls %v; info %s", op, f.nb.Count(op), f.nb.Calls, f.info)
			}
			if !strings.Contains(f.info.String(), "was lost; the look-up by description found 1") || resp.AR.Get(mapping.AttrIPRangeID) == "" {
				t.Errorf("info %q, answer %s", f.info.String(), resp.AR)
			}
		})
	}
}

// A parent given by id may sit in another VRF than the AR's; the carved prefix lives in
// the parent's VRF, and the range must go with it.
func TestCarvedRangeFollowsItsPrefix(t *testing.T) {
	f := newFixture(t)
	blue := f.nb.AddRef("vrf", "blue")
	red := f.nb.AddRef("vrf", "red")
	parent := f.prefix("10.91.0.0/16", red, nil)
	ar := f.register("TYPE=IP4", "SIZE=10", "NETBOX_VRF=blue", "NETBOX_PARENT_PREFIX="+itoa(parent.ID))
	p, _ := f.nb.GetPrefix(context.Background(), atoi(ar.Get(mapping.AttrPrefixID)))
	r, _ := f.nb.GetIPRange(context.Background(), atoi(ar.Get(mapping.AttrIPRangeID)))
	if netbox.RefID(p.VRF) != red || netbox.RefID(r.VRF) != red {
		t.Fatalf("prefix in VRF %d, range in VRF %d; want both in red (%d), not blue (%d)", netbox.RefID(p.VRF), netbox.RefID(r.VRF), red, blue)
	}
	// The /64 of an IP4_6 AR goes where its leases (and their SLAAC addresses) are: a
	// /64 named by the AR is made in red; an IPv6 parent in blue is refused.
	ar6 := f.register("TYPE=IP4_6", "SIZE=10", "NETBOX_VRF=blue", "NETBOX_PARENT_PREFIX="+itoa(parent.ID), "GLOBAL_PREFIX=2001:db8:500::")
	if p6, _ := f.nb.GetPrefix(context.Background(), atoi(ar6.Get(mapping.AttrPrefix6ID))); netbox.RefID(p6.VRF) != red {
		t.Fatalf("the named /64 is in VRF %d, want red (%d)", netbox.RefID(p6.VRF), red)
	}
	blue6 := f.prefix("2001:db8:600::/48", blue, nil)
	_, err := f.d.Register(context.Background(), request(onetest.Attrs("TYPE=IP4_6", "SIZE=10", "NETBOX_VRF=blue", "NETBOX_PARENT_PREFIX="+itoa(parent.ID), "NETBOX_PARENT_PREFIX6="+itoa(blue6.ID))))
	failedAs(t, err, "state: is not in VRF red, where the AR's leases are")
}

// An AR of one address needs an IP range of one address, which NetBox has from 4.6.1:
// before, register says so (NetBox's answer tells, no request asks the release) and
// leaves nothing behind; from 4.6.1 it registers.
func TestRegisterSingleAddress(t *testing.T) {
	for _, tc := range []struct {
		version string
		refused bool
	}{{"4.5.10", true}, {"4.6.0", true}, {"4.6.1", false}, {"4.7.3", false}} {
		t.Run(tc.version, func(t *testing.T) {
			f := newFixture(t)
			f.nb.Version = tc.version
			_, err := f.d.Register(context.Background(), request(onetest.Attrs("TYPE=IP4", "IP=10.71.0.5", "SIZE=1", "NETWORK_ADDRESS=10.71.0.0", "NETWORK_MASK=24")))
			if !tc.refused {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if kindOf(err) != "refused" || !strings.Contains(err.Error(), "NetBox "+f.nb.APIVersion()+" cannot hold an IP range of one address") || !strings.Contains(err.Error(), "give the AR SIZE 2 or more") {
				t.Fatalf("register: %v (%s)", err, kindOf(err))
			}
			if p, r, a := f.owned(); p+r+a != 0 {
				t.Errorf("left %d prefixes, %d ranges, %d addresses", p, r, a)
			}
		})
	}
}
