package integration

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// A POST whose answer is lost must be looked up before it is sent again: whatever the
// fault, no duplicate object and no leaked one. Each row runs one action through a
// proxy that spoils NetBox's answer, then counts the objects in the row's own VRF.
func TestLostAnswers(t *testing.T) {
	const ipAddresses, availableIPs, ipRanges, prefixes, availablePrefixes = "/api/ipam/ip-addresses/", "/available-ips/", "/api/ipam/ip-ranges/", "/api/ipam/prefixes/", "/available-prefixes/"
	once := func(path string, mode faultMode) fault {
		return fault{method: "POST", path: path, mode: mode, times: 1}
	}

	// An AR over 10.70.0.2… in the row's VRF, registered without faults.
	lease := func(t *testing.T, c *netbox.Client, vrf netbox.VRF, extra ...string) []string {
		typ := "TYPE=IP4"
		if len(extra) > 0 {
			typ = "TYPE=IP4_6"
		}
		reg := mustOK(t, Run(t, "register_address_range", "1", Req(append([]string{
			typ, "NETWORK_ADDRESS=10.70.0.0", "NETWORK_MASK=255.255.255.0", "SIZE=20", "IPAM_MAD=netbox",
			"MAC=02:00:0a:46:00:02", "NETBOX_VRF=" + vrf.Name}, extra...), nil)), "register")
		S := registered(t, reg.Stdout, "0")
		t.Cleanup(func() { Run(t, "unregister_address_range", "2", Req(S, nil)) })
		return S
	}
	rows := []struct {
		name, action string
		request      func(t *testing.T, c *netbox.Client, vrf netbox.VRF) string
		faults       []fault
		wantOK       bool
		wantMessage  string
		post         string // the POST that was spoiled …
		posts        int    // … and how often it reached the proxy
		want         counts // objects the action leaves in the VRF
	}{
		{name: "get_address, answer lost after commit", action: "get_address",
			request: func(t *testing.T, c *netbox.Client, v netbox.VRF) string {
				return Req(lease(t, c, v), []string{"SIZE=1"})
			},
			faults: []fault{once(availableIPs, dropAfter)}, wantOK: true, post: availableIPs, posts: 1, want: counts{1, 1, 1}},
		{name: "get_address, 502 after commit", action: "get_address",
			request: func(t *testing.T, c *netbox.Client, v netbox.VRF) string {
				return Req(lease(t, c, v), []string{"SIZE=1"})
			},
			faults: []fault{once(availableIPs, badGatewayAfter)}, wantOK: true, post: availableIPs, posts: 1, want: counts{1, 1, 1}},
		{name: "get_address, request lost before NetBox", action: "get_address",
			request: func(t *testing.T, c *netbox.Client, v netbox.VRF) string {
				return Req(lease(t, c, v), []string{"SIZE=1"})
			},
			faults: []fault{once(availableIPs, dropBefore)}, wantOK: true, post: availableIPs, posts: 2, want: counts{1, 1, 1}},
		{name: "get_address, both tries lost before NetBox", action: "get_address",
			request: func(t *testing.T, c *netbox.Client, v netbox.VRF) string {
				return Req(lease(t, c, v), []string{"SIZE=1"})
			},
			faults: []fault{{method: "POST", path: availableIPs, mode: dropBefore, times: 2}}, wantMessage: "NetBox unavailable",
			post: availableIPs, posts: 2, want: counts{1, 1, 0}},
		{name: "get_address, answer and look-up both lost", action: "get_address",
			request: func(t *testing.T, c *netbox.Client, v netbox.VRF) string {
				return Req(lease(t, c, v), []string{"SIZE=1"})
			},
			faults: []fault{once(availableIPs, dropAfter), {method: "GET", path: ipAddresses, mode: unavailable}},
			// The lease may exist and the driver cannot know: it says so and names where to look.
			wantMessage: "looking up whether it took effect failed too", post: availableIPs, posts: 1, want: counts{1, 1, 1}},
		{name: "reserve 4, answer lost after commit", action: "get_address",
			request: func(t *testing.T, c *netbox.Client, v netbox.VRF) string {
				return Req(lease(t, c, v), []string{"SIZE=4"})
			},
			faults: []fault{once(ipAddresses, dropAfter)}, wantOK: true, post: ipAddresses, posts: 1, want: counts{1, 1, 4}},
		{name: "allocate, answer lost after commit", action: "allocate_address",
			request: func(t *testing.T, c *netbox.Client, v netbox.VRF) string {
				return Req(lease(t, c, v), []string{"IP=10.70.0.9", "MAC=02:00:0a:46:00:09", "SIZE=1"})
			},
			faults: []fault{once(ipAddresses, dropAfter)}, wantOK: true, post: ipAddresses, posts: 1, want: counts{1, 1, 1}},
		{name: "allocate, request lost before NetBox", action: "allocate_address",
			request: func(t *testing.T, c *netbox.Client, v netbox.VRF) string {
				return Req(lease(t, c, v), []string{"IP=10.70.0.9", "MAC=02:00:0a:46:00:09", "SIZE=1"})
			},
			faults: []fault{once(ipAddresses, dropBefore)}, wantOK: true, post: ipAddresses, posts: 2, want: counts{1, 1, 1}},
		{name: "dual stack lease, IPv6 answer lost", action: "get_address",
			request: func(t *testing.T, c *netbox.Client, v netbox.VRF) string {
				return Req(lease(t, c, v, "GLOBAL_PREFIX=2001:db8:70::"), []string{"SIZE=1"})
			},
			// The prefixes: the AR's network and NetBox's prefix of its GLOBAL_PREFIX /64.
			faults: []fault{once(ipAddresses, dropAfter)}, wantOK: true, post: ipAddresses, posts: 1, want: counts{2, 1, 2}},
		{name: "register, prefix answer lost", action: "register_address_range",
			request: func(t *testing.T, c *netbox.Client, v netbox.VRF) string {
				return Req([]string{"TYPE=IP4", "NETWORK_ADDRESS=10.71.0.0", "NETWORK_MASK=255.255.255.0", "SIZE=10", "IPAM_MAD=netbox", "NETBOX_VRF=" + v.Name}, nil)
			},
			faults: []fault{once(prefixes, dropAfter)}, wantOK: true, post: prefixes, posts: 1, want: counts{1, 1, 0}},
		{name: "register, IP range answer lost", action: "register_address_range",
			request: func(t *testing.T, c *netbox.Client, v netbox.VRF) string {
				return Req([]string{"TYPE=IP4", "NETWORK_ADDRESS=10.71.0.0", "NETWORK_MASK=255.255.255.0", "SIZE=10", "IPAM_MAD=netbox", "NETBOX_VRF=" + v.Name}, nil)
			},
			faults: []fault{once(ipRanges, badGatewayAfter)}, wantOK: true, post: ipRanges, posts: 1, want: counts{1, 1, 0}},
		{name: "register from a pool, carve answer lost", action: "register_address_range",
			request: func(t *testing.T, c *netbox.Client, v netbox.VRF) string {
				pool, err := c.CreatePrefix(ctx(t), netbox.PrefixSpec{Prefix: "10.72.0.0/24", VRFID: v.ID, Description: "pool"})
				if err != nil {
					t.Fatal(err)
				}
				cleanup(t, "pool", func(cx ctxT) error { return c.DeletePrefix(cx, pool.ID) })
				return Req([]string{"TYPE=IP4", "SIZE=10", "IPAM_MAD=netbox", "NETBOX_PARENT_PREFIX=10.72.0.0/24", "NETBOX_VRF=" + v.Name}, nil)
			},
			faults: []fault{once(availablePrefixes, dropAfter)}, wantOK: true, post: availablePrefixes, posts: 1, want: counts{2, 1, 0}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			c := Client(t)
			vrf := testVRF(t, c)
			req := row.request(t, c, vrf)
			proxy := newFaultProxy(t, row.faults...)
			r := Run(t, row.action, "7001", req, "NETBOX_URL="+proxy.URL())
			if len(proxy.Fired()) == 0 {
				t.Fatalf("no fault fired; requests seen: %v", proxy.seen)
			}
			if row.wantOK {
				mustOK(t, r, row.action)
				if !strings.Contains(r.Stderr, "INFO: NetBox's answer to creating") && row.posts == 1 {
					t.Errorf("oned.log does not say the answer was lost: %q", r.Stderr)
				}
			} else {
				mustFail(t, r, row.wantMessage)
			}
			if got := proxy.Seen("POST", row.post); got != row.posts {
				t.Errorf("POST …%s reached the proxy %d times, want %d (faults fired: %v)", row.post, got, row.posts, proxy.Fired())
			}
			if got := countVRF(t, c, vrf.ID); got != row.want {
				t.Errorf("objects in the VRF after the action: %+v, want %+v", got, row.want)
			}
			switch row.action {
			case "register_address_range":
				if r.Code == 0 {
					t.Cleanup(func() { Run(t, "unregister_address_range", "3", Req(registered(t, r.Stdout, "0"), nil)) })
				}
			case "get_address":
				if r.Code == 0 { // the answer names an address NetBox holds for this request
					a, _ := ParseVector(t, r.Stdout, "ADDRESS")
					if l := findIP(t, c, vrf.ID, a["IP"]); l.CustomString("one_request_id") != "7001" {
						t.Errorf("lease at %s has request id %q", a["IP"], l.CustomString("one_request_id"))
					}
				}
			}
			if row.want.addresses > 0 && r.Code != 0 { // the leaked lease of the last row, for cleanup
				ips, _ := c.IPAddressesIn(ctx(t), vrf.ID, "10.70.0.0/24")
				for _, ip := range ips {
					_ = c.DeleteIPAddress(ctx(t), ip.ID)
				}
			}
		})
	}
}

// countVRF counts the prefixes, IP ranges and IP addresses in one VRF.
func countVRF(t testing.TB, c *netbox.Client, vrf int) counts {
	t.Helper()
	n := func(path string) int {
		var page struct {
			Count int `json:"count"`
		}
		if err := c.Raw(ctx(t), "GET", fmt.Sprintf("%s?limit=1&vrf_id=%s", path, strconv.Itoa(vrf)), &page); err != nil {
			t.Fatal(err)
		}
		return page.Count
	}
	return counts{n("/api/ipam/prefixes/"), n("/api/ipam/ip-ranges/"), n("/api/ipam/ip-addresses/")}
}

// A register that fails half way (here: NetBox keeps failing the IP range's POST after
// the prefix was created or its custom fields written) removes what it did: the VRF
// holds what it held before, and an admin's prefix gets its custom fields back.
func TestRegisterRollsBack(t *testing.T) {
	rangeFails := fault{method: "POST", path: "/api/ipam/ip-ranges/", mode: unavailable}
	rows := []struct {
		name    string
		prepare func(t *testing.T, c *netbox.Client, v netbox.VRF) (netbox.Prefix, []string)
	}{
		{"created prefix", func(t *testing.T, c *netbox.Client, v netbox.VRF) (netbox.Prefix, []string) {
			return netbox.Prefix{}, []string{"TYPE=IP4", "NETWORK_ADDRESS=10.73.0.0", "NETWORK_MASK=255.255.255.0", "SIZE=10", "IPAM_MAD=netbox", "DNS=10.73.0.53", "NETBOX_VRF=" + v.Name}
		}},
		{"carved prefix", func(t *testing.T, c *netbox.Client, v netbox.VRF) (netbox.Prefix, []string) {
			pool, err := c.CreatePrefix(ctx(t), netbox.PrefixSpec{Prefix: "10.74.0.0/24", VRFID: v.ID, Description: "pool"})
			if err != nil {
				t.Fatal(err)
			}
			cleanup(t, "pool", func(cx ctxT) error { return c.DeletePrefix(cx, pool.ID) })
			return pool, []string{"TYPE=IP4", "SIZE=10", "IPAM_MAD=netbox", "NETBOX_PARENT_PREFIX=10.74.0.0/24", "NETBOX_VRF=" + v.Name}
		}},
		{"admin's prefix, custom fields written", func(t *testing.T, c *netbox.Client, v netbox.VRF) (netbox.Prefix, []string) {
			p, err := c.CreatePrefix(ctx(t), netbox.PrefixSpec{Prefix: "10.75.0.0/24", VRFID: v.ID, Description: "admin's"})
			if err != nil {
				t.Fatal(err)
			}
			cleanup(t, "prefix", func(cx ctxT) error { return c.DeletePrefix(cx, p.ID) })
			return p, []string{"TYPE=IP4", "IP=10.75.0.10", "SIZE=10", "IPAM_MAD=netbox", "GATEWAY=10.75.0.1", "DNS=10.75.0.53", "GUEST_MTU=1400", "NETBOX_VRF=" + v.Name}
		}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			c := Client(t)
			vrf := testVRF(t, c)
			existing, ar := row.prepare(t, c, vrf)
			before := countVRF(t, c, vrf.ID)
			proxy := newFaultProxy(t, rangeFails)
			r := Run(t, "register_address_range", "7002", Req(ar, nil), "NETBOX_URL="+proxy.URL())
			mustFail(t, r, "HTTP 503")
			if proxy.Seen("POST", "/api/ipam/prefixes/") == 0 && proxy.Seen("PATCH", "/api/ipam/prefixes/") == 0 {
				t.Fatalf("the register failed before it changed anything, so it proves no rollback: %v", proxy.seen)
			}
			if after := countVRF(t, c, vrf.ID); after != before {
				t.Errorf("objects in the VRF: %+v before, %+v after the failed register", before, after)
			}
			if existing.ID != 0 {
				p, err := c.GetPrefix(ctx(t), existing.ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, cf := range []string{"one_gateway", "one_dns", "one_guest_mtu", "one_network_mask"} {
					if v := p.CustomString(cf); v != "" {
						t.Errorf("prefix %s keeps %s = %q after the rollback", p.Prefix, cf, v)
					}
				}
			}
		})
	}
}
