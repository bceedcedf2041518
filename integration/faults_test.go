package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// NetBox failing, slow or gone: each action either succeeds or fails with one line
// within its deadline, and afterwards NetBox holds no duplicate and no orphan.
func TestFaultsWithinDeadline(t *testing.T) {
	const deadline = 3 * time.Second
	type row struct {
		name, action string
		addr         []string // ADDRESS of the request (after two leases were taken)
		faults       []fault
		wantOK       bool
		wantMessage  string
		wantLeases   int // IPv4 leases in the AR afterwards (two before)
		saw          string
		sawAtLeast   int
	}
	rows := []row{
		{name: "GETs answered 503 twice, then NetBox recovers", action: "get_address", addr: []string{"SIZE=4"},
			faults: []fault{{method: "GET", path: "/api/ipam/ip-ranges/", mode: unavailable, times: 2}}, wantOK: true, wantLeases: 6,
			saw: "GET /api/ipam/ip-ranges/", sawAtLeast: 4},
		{name: "DELETE answered 502 after it took effect", action: "free_address", addr: []string{"IP=10.79.0.2", "SIZE=1"},
			faults: []fault{{method: "DELETE", path: "/api/ipam/ip-addresses/", mode: badGatewayAfter, times: 1}}, wantOK: true, wantLeases: 1,
			saw: "DELETE /api/ipam/ip-addresses/", sawAtLeast: 2},
		{name: "NetBox slower than the deadline", action: "get_address", addr: []string{"SIZE=1"},
			faults:      []fault{{method: "POST", path: "/available-ips/", mode: slow, delay: 5 * time.Second}},
			wantMessage: "NetBox did not answer before the action's deadline", wantLeases: 2},
		// The answer is lost to the deadline, but the lease is there: the look-up finds it
		// and it is the answer (with lease_mac: later nothing else is left to do).
		{name: "NetBox commits, then answers after the deadline", action: "get_address", addr: []string{"SIZE=1"},
			faults: []fault{{method: "POST", path: "/available-ips/", mode: slowAfter, delay: 5 * time.Second}},
			wantOK: true, wantLeases: 3},
		{name: "NetBox answers 500 to every request", action: "allocate_address", addr: []string{"IP=10.79.0.9", "SIZE=1"},
			faults:      []fault{{method: "GET", path: "/api/", mode: unavailable}, {method: "POST", path: "/api/", mode: unavailable}},
			wantMessage: "NetBox unavailable", wantLeases: 2},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			c := Client(t)
			vrf := testVRF(t, c)
			reg := mustOK(t, Run(t, "register_address_range", "1", Req([]string{"TYPE=IP4", "NETWORK_ADDRESS=10.79.0.0", "NETWORK_MASK=255.255.255.0",
				"SIZE=20", "IPAM_MAD=netbox", "MAC=02:00:0a:4f:00:02", "NETBOX_VRF=" + vrf.Name}, nil)), "register")
			S := registered(t, reg.Stdout, "0")
			t.Cleanup(func() { Run(t, "unregister_address_range", "9", Req(S, nil)) })
			mustOK(t, Run(t, "get_address", "2", Req(S, []string{"SIZE=1"})), "lease")
			mustOK(t, Run(t, "get_address", "3", Req(S, []string{"SIZE=1"})), "lease")

			proxy := newFaultProxy(t, row.faults...)
			r := Run(t, row.action, "7003", Req(S, row.addr), "NETBOX_URL="+proxy.URL(),
				"NETBOX_IPAM_TIMEOUT="+deadline.String(), "NETBOX_IPAM_RETRIES=3")
			if len(proxy.Fired()) == 0 {
				t.Fatalf("no fault fired: %v", proxy.seen)
			}
			if row.wantOK {
				mustOK(t, r, row.action)
			} else {
				mustFail(t, r, row.wantMessage)
			}
			// The deadline bounds the action; a look-up after a lost answer may add a moment.
			if r.Took > deadline+2*time.Second {
				t.Errorf("took %s with a %s deadline", r.Took, deadline)
			}
			if row.saw != "" {
				m, p, _ := strings.Cut(row.saw, " ")
				if n := proxy.Seen(m, p); n < row.sawAtLeast {
					t.Errorf("%s seen %d times, want at least %d (retries)", row.saw, n, row.sawAtLeast)
				}
			}
			// Count only once a request the proxy was holding could have reached NetBox.
			for _, f := range row.faults {
				time.Sleep(f.delay)
			}
			time.Sleep(300 * time.Millisecond)
			ips, err := c.IPAddressesIn(ctx(t), vrf.ID, "10.79.0.0/24")
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for _, ip := range ips {
				seen[ip.Address]++
				if seen[ip.Address] > 1 {
					t.Errorf("%s twice in NetBox", ip.Address)
				}
			}
			if len(ips) != row.wantLeases {
				t.Errorf("%d leases in NetBox afterwards, want %d: %v", len(ips), row.wantLeases, addressesOf(ips))
			}
		})
	}
}

// NetBox gone in the middle of a sequence of actions: the actions in between fail
// cleanly and quickly, the ones after work, and nothing is duplicated or lost.
func TestNetBoxGoneMidSequence(t *testing.T) {
	c := Client(t)
	vrf := testVRF(t, c)
	reg := mustOK(t, Run(t, "register_address_range", "1", Req([]string{"TYPE=IP4", "NETWORK_ADDRESS=10.79.1.0", "NETWORK_MASK=255.255.255.0",
		"SIZE=20", "IPAM_MAD=netbox", "NETBOX_VRF=" + vrf.Name}, nil)), "register")
	S := registered(t, reg.Stdout, "0")
	t.Cleanup(func() { Run(t, "unregister_address_range", "9", Req(S, nil)) })
	proxy := newFaultProxy(t)
	via := []string{"NETBOX_URL=" + proxy.URL(), "NETBOX_IPAM_TIMEOUT=5s", "NETBOX_IPAM_RETRIES=2"}
	mustOK(t, Run(t, "get_address", "2", Req(S, []string{"SIZE=1"}), via...), "before")
	proxy.srv.Close() // NetBox is gone: connections refused
	for _, step := range []struct {
		action string
		addr   []string
	}{
		{"get_address", []string{"SIZE=1"}}, {"allocate_address", []string{"IP=10.79.1.9", "SIZE=1"}}, {"free_address", []string{"IP=10.79.1.2", "SIZE=1"}},
	} {
		r := Run(t, step.action, "3", Req(S, step.addr), via...)
		if step.action == "free_address" {
			// A failed free would strand the lease in oned: it succeeds, says so in
			// oned.log, and leaves the object for sync (the lease is checked below).
			mustOK(t, r, "free with NetBox gone")
			if !strings.Contains(r.Stderr, "INFO: could not free 10.79.1.2 (+0)") || !strings.Contains(r.Stderr, "cannot reach NetBox") {
				t.Errorf("free with NetBox gone: stderr %q", r.Stderr)
			}
		} else {
			mustFail(t, r, "cannot reach NetBox")
		}
		if r.Took > 5*time.Second {
			t.Errorf("%s took %s with NetBox gone", step.action, r.Took)
		}
	}
	mustOK(t, Run(t, "get_address", "4", Req(S, []string{"SIZE=1"})), "after")
	ips, _ := c.IPAddressesIn(ctx(t), vrf.ID, "10.79.1.0/24")
	if got := addressesOf(ips); strings.Join(got, " ") != "10.79.1.2/24 10.79.1.3/24" {
		t.Fatalf("NetBox holds %v, want the two leases made while it was up (the free left .2 for sync)", got)
	}
}

func addressesOf(ips []netbox.IPAddress) []string {
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.Address)
	}
	return out
}
