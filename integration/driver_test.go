package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// One AR over a span of an existing (someone else's) prefix, through its whole life:
// register, get_address 1, reserve 4 around a foreign address, hold a specific
// address, allocate someone else's address, free twice, free someone else's address,
// unregister with a foreign object inside. Every step runs the installed-style shim.
func TestLifecycleSpanInExistingPrefix(t *testing.T) {
	c := Client(t)
	vrf := testVRF(t, c)
	pfx, err := c.CreatePrefix(ctx(t), netbox.PrefixSpec{Prefix: "10.60.0.0/24", VRFID: vrf.ID, Description: "admin's prefix"})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "prefix", func(cx ctxT) error { return c.DeletePrefix(cx, pfx.ID) })
	// A foreign address in the middle of the AR's span (10.60.0.10 … 10.60.0.29).
	foreign, err := c.CreateIPAddresses(ctx(t), []netbox.IPAddressSpec{{Address: "10.60.0.12/24", VRFID: vrf.ID, Description: "core router loopback"}})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "foreign ip", func(cx ctxT) error { return c.DeleteIPAddress(cx, foreign[0].ID) })

	reg := mustOK(t, Run(t, "register_address_range", "41", Req([]string{
		"TYPE=IP4", "IP=10.60.0.10", "SIZE=20", "IPAM_MAD=netbox", "MAC=02:00:0a:3c:00:0a", "NETBOX_VRF=" + vrf.Name, "CUSTOM_ATTR=keep \"me\"",
	}, nil)), "register")
	ar, _ := ParseVector(t, reg.Stdout, "AR")
	for k, want := range map[string]string{
		"IP": "10.60.0.10", "SIZE": "20", "TYPE": "IP4", "IPAM_MAD": "netbox", "NETWORK_ADDRESS": "10.60.0.0", "NETWORK_MASK": "255.255.255.0",
		"GATEWAY": "10.60.0.1", "NETBOX_PREFIX_ID": strconv.Itoa(pfx.ID), "NETBOX_PREFIX": "10.60.0.0/24", "CUSTOM_ATTR": `keep "me"`, "MAC": "02:00:0a:3c:00:0a",
	} {
		if ar[k] != want {
			t.Errorf("register answer %s = %q, want %q", k, ar[k], want)
		}
	}
	rangeID, _ := strconv.Atoi(ar["NETBOX_IP_RANGE_ID"])
	rng, err := c.GetIPRange(ctx(t), rangeID)
	if err != nil || !rng.HasTag("opennebula") || rng.StartAddress != "10.60.0.10/24" || rng.EndAddress != "10.60.0.29/24" || netbox.RefID(rng.VRF) != vrf.ID {
		t.Fatalf("IP range %d = %+v, %v; want 10.60.0.10-29/24 tagged opennebula in the VRF", rangeID, rng, err)
	}
	S := registered(t, reg.Stdout, "0")

	// get_address size 1: the range's first free address, recorded with tag and custom
	// fields in one request; the MAC is left to the hooks (lease_mac: later).
	got := mustOK(t, Run(t, "get_address", "42", Req(S, []string{"SIZE=1"})), "get_address")
	addr, _ := ParseVector(t, got.Stdout, "ADDRESS")
	if addr["IP"] != "10.60.0.10" || addr["SIZE"] != "1" {
		t.Fatalf("get_address answer %v, want IP 10.60.0.10 SIZE 1", addr)
	}
	lease := findIP(t, c, vrf.ID, "10.60.0.10")
	if !lease.HasTag("opennebula") || lease.CustomString("one_request_id") != "42" || lease.CustomString("one_ar_id") != "0" ||
		lease.CustomString("one_mac") != "" || lease.Address != "10.60.0.10/24" || lease.Description == "" {
		t.Fatalf("lease object %+v", lease)
	}

	// A reservation of 4 must be contiguous: .11 is free but .12 is foreign, so .13-.16.
	res := mustOK(t, Run(t, "get_address", "43", Req(S, []string{"SIZE=4"})), "reserve 4")
	raddr, _ := ParseVector(t, res.Stdout, "ADDRESS")
	if raddr["IP"] != "10.60.0.13" || raddr["SIZE"] != "4" {
		t.Fatalf("reserve 4 answer %v, want IP 10.60.0.13 (after the foreign .12)", raddr)
	}
	for i := 13; i <= 16; i++ {
		l := findIP(t, c, vrf.ID, fmt.Sprintf("10.60.0.%d", i))
		if l.CustomString("one_mac") != fmt.Sprintf("02:00:0a:3c:00:%02x", i) {
			t.Errorf("reserved 10.60.0.%d MAC %q", i, l.CustomString("one_mac"))
		}
	}

	// Hold a specific address, then try someone else's.
	mustOK(t, Run(t, "allocate_address", "44", Req(S, []string{"IP=10.60.0.20", "MAC=02:00:0a:3c:00:14", "SIZE=1"})), "allocate .20")
	findIP(t, c, vrf.ID, "10.60.0.20")
	before := countAll(t, c)
	r := Run(t, "allocate_address", "45", Req(S, []string{"IP=10.60.0.12", "SIZE=1"}))
	mustFail(t, r, fmt.Sprintf(`10.60.0.12 is already in NetBox (ip-address %d, "core router loopback")`, foreign[0].ID))
	// And a block that runs into our own .20.
	mustFail(t, Run(t, "allocate_address", "46", Req(S, []string{"IP=10.60.0.18", "SIZE=4"})), "10.60.0.20 is already in NetBox")
	if after := countAll(t, c); after != before {
		t.Fatalf("failed allocations changed NetBox: %+v -> %+v", before, after)
	}

	// free twice: both succeed, the object is gone.
	for i := 0; i < 2; i++ {
		mustOK(t, Run(t, "free_address", "47", Req(S, []string{"IP=10.60.0.20", "MAC=02:00:0a:3c:00:14", "SIZE=1"})), "free .20")
	}
	if l, _ := c.IPAddressesAt(ctx(t), vrf.ID, []string{"10.60.0.20"}); len(l) != 0 {
		t.Fatalf("10.60.0.20 still in NetBox after free: %+v", l)
	}
	// free of someone else's address: success, logged, the object stays.
	fr := mustOK(t, Run(t, "free_address", "48", Req(S, []string{"IP=10.60.0.12", "SIZE=1"})), "free foreign")
	if !strings.Contains(fr.Stderr, "INFO: left 10.60.0.12/24 alone") {
		t.Errorf("free of a foreign address logged %q", fr.Stderr)
	}
	findIP(t, c, vrf.ID, "10.60.0.12")

	// unregister (rmar, shape S): our leases and range go, the foreign address and the
	// admin's prefix stay.
	mustOK(t, Run(t, "unregister_address_range", "49", Req(S, nil)), "unregister")
	if _, err := c.GetIPRange(ctx(t), rangeID); !netbox.IsNotFound(err) {
		t.Fatalf("IP range after unregister: %v", err)
	}
	left, err := c.IPAddressesIn(ctx(t), vrf.ID, "10.60.0.0/24")
	if err != nil || len(left) != 1 || left[0].ID != foreign[0].ID {
		t.Fatalf("addresses left after unregister: %+v, %v; want only the foreign one", left, err)
	}
	if _, err := c.GetPrefix(ctx(t), pfx.ID); err != nil {
		t.Fatalf("the admin's prefix is gone: %v", err)
	}
	// Again: already gone is success.
	mustOK(t, Run(t, "unregister_address_range", "50", Req(S, nil)), "unregister twice")
}

// withAttr is attrs with name's value replaced.
func withAttr(attrs []string, name, value string) []string {
	out := make([]string, 0, len(attrs))
	for _, kv := range attrs {
		if strings.HasPrefix(kv, name+"=") {
			kv = name + "=" + value
		}
		out = append(out, kv)
	}
	return out
}

func findIP(t testing.TB, c *netbox.Client, vrf int, a string) netbox.IPAddress {
	t.Helper()
	l, err := c.IPAddressesAt(ctx(t), vrf, []string{a})
	if err != nil || len(l) != 1 {
		t.Fatalf("NetBox objects at %s: %+v, %v; want exactly one", a, l, err)
	}
	return l[0]
}

// Case 2: the AR names a network; the driver creates the prefix, lays the AR over
// its hosts after the gateway, and a vnet delete (shape V) removes everything.
func TestRegisterNetworkThenVNetDelete(t *testing.T) {
	c := Client(t)
	vrf := testVRF(t, c)
	reg := mustOK(t, Run(t, "register_address_range", "1", Req([]string{
		"TYPE=IP4", "NETWORK_ADDRESS=10.61.4.0", "NETWORK_MASK=255.255.255.0", "SIZE=50", "IPAM_MAD=netbox",
		"DNS=10.0.0.53 10.0.0.54", "GUEST_MTU=1450", "SEARCH_DOMAIN=cloud.example", "NETBOX_VRF=" + strconv.Itoa(vrf.ID),
	}, nil)), "register")
	ar, _ := ParseVector(t, reg.Stdout, "AR")
	if ar["IP"] != "10.61.4.2" || ar["SIZE"] != "50" || ar["GATEWAY"] != "10.61.4.1" || ar["DNS"] != "10.0.0.53 10.0.0.54" || ar["GUEST_MTU"] != "1450" {
		t.Fatalf("register answer %v", ar)
	}
	pid, _ := strconv.Atoi(ar["NETBOX_PREFIX_ID"])
	p, err := c.GetPrefix(ctx(t), pid)
	if err != nil || !p.HasTag("opennebula") || p.Prefix != "10.61.4.0/24" || p.CustomString("one_dns") != "10.0.0.53 10.0.0.54" ||
		p.CustomString("one_guest_mtu") != "1450" || p.CustomString("one_gateway") != "10.61.4.1" || p.CustomString("one_search_domain") != "cloud.example" {
		t.Fatalf("created prefix %+v, %v", p, err)
	}
	S := registered(t, reg.Stdout, "0")
	mustOK(t, Run(t, "get_address", "2", Req(S, []string{"SIZE=1"})), "lease")
	// Shape V: raw stored attributes with ALLOCATED, none computed.
	V := append(append([]string{}, S...), "ALLOCATED=0 4294967298")
	mustOK(t, Run(t, "unregister_address_range", "3", Req(V, nil)), "vnet delete")
	if _, err := c.GetPrefix(ctx(t), pid); !netbox.IsNotFound(err) {
		t.Fatalf("the driver's prefix survived unregister: %v", err)
	}
}

// Case 3: a network carved from a pool in a VRF with a role, until the pool is full.
func TestRegisterFromPoolUntilExhausted(t *testing.T) {
	c := Client(t)
	vrf := testVRF(t, c)
	role, err := c.CreateRole(ctx(t), unique("it-role"), unique("it-role"))
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "role", func(cx ctxT) error { return c.DeleteRole(cx, role.ID) })
	pool, err := c.CreatePrefix(ctx(t), netbox.PrefixSpec{Prefix: "10.62.0.0/27", VRFID: vrf.ID, RoleID: role.ID, Description: "OpenNebula pool"})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "pool", func(cx ctxT) error { return c.DeletePrefix(cx, pool.ID) })
	req := Req([]string{"TYPE=IP4", "SIZE=10", "IPAM_MAD=netbox", "NETBOX_PARENT_PREFIX=10.62.0.0/27", "NETBOX_VRF=" + vrf.Name, "NETBOX_ROLE=" + role.Slug}, nil)
	var regs []string
	for i := 0; i < 2; i++ {
		reg := mustOK(t, Run(t, "register_address_range", strconv.Itoa(i), req), "register from pool")
		ar, _ := ParseVector(t, reg.Stdout, "AR")
		want := fmt.Sprintf("10.62.0.%d/28", 16*i)
		if ar["NETBOX_PREFIX"] != want || ar["IP"] != fmt.Sprintf("10.62.0.%d", 16*i+2) || ar["SIZE"] != "10" {
			t.Fatalf("carve %d: answer %v, want %s", i, ar, want)
		}
		pid, _ := strconv.Atoi(ar["NETBOX_PREFIX_ID"])
		p, err := c.GetPrefix(ctx(t), pid)
		if err != nil || netbox.RefID(p.Role) != role.ID || netbox.RefID(p.VRF) != vrf.ID || !p.HasTag("opennebula") {
			t.Fatalf("carved prefix %+v, %v; want role %d in VRF %d, tagged", p, err, role.ID, vrf.ID)
		}
		regs = append(regs, reg.Stdout)
	}
	before := countAll(t, c)
	mustFail(t, Run(t, "register_address_range", "9", req), "no free /28 left in pool 10.62.0.0/27")
	if after := countAll(t, c); after != before {
		t.Fatalf("failed register changed NetBox: %+v -> %+v", before, after)
	}
	for i, out := range regs {
		mustOK(t, Run(t, "unregister_address_range", "10", Req(registered(t, out, strconv.Itoa(i)), nil)), "unregister")
	}
	if l, _ := c.PrefixesContaining(ctx(t), vrf.ID, "10.62.0.1"); len(l) != 1 || l[0].ID != pool.ID {
		t.Fatalf("prefixes left in the pool: %+v; want only the pool", l)
	}
}

// Values already in NetBox's custom fields win over the AR's.
func TestNetBoxValuesWin(t *testing.T) {
	c := Client(t)
	vrf := testVRF(t, c)
	p, err := c.CreatePrefix(ctx(t), netbox.PrefixSpec{Prefix: "10.63.0.0/24", VRFID: vrf.ID,
		CustomFields: map[string]any{"one_gateway": "10.63.0.254", "one_dns": "10.63.0.53"}})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "prefix", func(cx ctxT) error { return c.DeletePrefix(cx, p.ID) })
	reg := mustOK(t, Run(t, "register_address_range", "1", Req([]string{
		"TYPE=IP4", "IP=10.63.0.100", "SIZE=10", "IPAM_MAD=netbox", "GATEWAY=10.63.0.1", "DNS=8.8.8.8", "GUEST_MTU=9000", "NETBOX_VRF=" + vrf.Name,
	}, nil)), "register")
	ar, _ := ParseVector(t, reg.Stdout, "AR")
	if ar["GATEWAY"] != "10.63.0.254" || ar["DNS"] != "10.63.0.53" || ar["GUEST_MTU"] != "9000" {
		t.Fatalf("answer %v: want NetBox's gateway and DNS, the AR's MTU", ar)
	}
	got, _ := c.GetPrefix(ctx(t), p.ID)
	if got.CustomString("one_gateway") != "10.63.0.254" || got.CustomString("one_guest_mtu") != "9000" {
		t.Fatalf("prefix custom fields %v", got.CustomFields)
	}
	mustOK(t, Run(t, "unregister_address_range", "2", Req(registered(t, reg.Stdout, "0"), nil)), "unregister")
	if _, err := c.GetPrefix(ctx(t), p.ID); err != nil {
		t.Fatalf("a pre-existing prefix was deleted: %v", err)
	}
}

// IP4_6 ARs record the SLAAC IPv6 address beside the IPv4 lease; free removes both.
func TestDualStack(t *testing.T) {
	c := Client(t)
	vrf := testVRF(t, c)
	reg := mustOK(t, Run(t, "register_address_range", "1", Req([]string{
		"TYPE=IP4_6", "NETWORK_ADDRESS=10.64.0.0", "NETWORK_MASK=24", "SIZE=10", "IPAM_MAD=netbox",
		"MAC=02:00:0a:40:00:02", "GLOBAL_PREFIX=2001:db8:64::", "NETBOX_VRF=" + vrf.Name,
	}, nil)), "register")
	S := registered(t, reg.Stdout, "0")
	got := mustOK(t, Run(t, "get_address", "2", Req(S, []string{"SIZE=1"})), "get_address")
	addr, _ := ParseVector(t, got.Stdout, "ADDRESS")
	if addr["IP"] != "10.64.0.2" {
		t.Fatalf("lease %v", addr)
	}
	// MAC 02:00:0a:40:00:02 → interface id 0000:0aff:fe40:0002.
	v6 := findIP(t, c, vrf.ID, "2001:db8:64::aff:fe40:2")
	if !v6.HasTag("opennebula") || v6.Address != "2001:db8:64::aff:fe40:2/64" {
		t.Fatalf("IPv6 lease %+v", v6)
	}
	mustOK(t, Run(t, "free_address", "3", Req(S, []string{"IP=10.64.0.2", "MAC=02:00:0a:40:00:02", "IP6_GLOBAL=2001:db8:64::aff:fe40:2", "SIZE=1"})), "free")
	if l, _ := c.IPAddressesAt(ctx(t), vrf.ID, []string{"10.64.0.2", "2001:db8:64::aff:fe40:2"}); len(l) != 0 {
		t.Fatalf("left after free: %+v", l)
	}
	mustOK(t, Run(t, "unregister_address_range", "4", Req(S, nil)), "unregister")
}

// Malformed input of every kind: one clear line, a non-zero exit, NetBox unchanged.
func TestMalformedInput(t *testing.T) {
	c := Client(t)
	vrf := testVRF(t, c)
	reg := mustOK(t, Run(t, "register_address_range", "1", Req([]string{
		"TYPE=IP4", "NETWORK_ADDRESS=10.65.0.0", "NETWORK_MASK=255.255.255.0", "SIZE=10", "IPAM_MAD=netbox", "NETBOX_VRF=" + vrf.Name,
	}, nil)), "register")
	S := registered(t, reg.Stdout, "0")
	t.Cleanup(func() { Run(t, "unregister_address_range", "99", Req(S, nil)) })
	stale := withAttr(S, "NETBOX_IP_RANGE_ID", "999999") // an IP range that no longer exists
	shrunk := withAttr(S, "SIZE", "5")                   // the AR after `onevnet updatear SIZE=5`
	cases := []struct {
		name, action, xml string
		raw               string // raw stdin instead of base64(xml)
		want              string
	}{
		{"bad base64", "get_address", "", "@@@ not base64 @@@", "request is not valid base64"},
		{"empty stdin", "get_address", "", " ", "empty request"},
		{"broken xml", "get_address", "<IPAM_DRIVER_ACTION_DATA><AR><IP>10.65.0.2</AR>", "", "request is not valid XML"},
		{"missing SIZE", "register_address_range", Req([]string{"TYPE=IP4", "IP=10.65.0.50", "IPAM_MAD=netbox", "NETBOX_VRF=" + vrf.Name}, nil), "", "AR with IP 10.65.0.50 has no SIZE"},
		{"negative SIZE", "register_address_range", Req([]string{"TYPE=IP4", "IP=10.65.0.50", "SIZE=-3", "IPAM_MAD=netbox"}, nil), "", "AR SIZE must be positive"},
		{"negative ADDRESS SIZE", "get_address", Req(S, []string{"SIZE=-1"}), "", "ADDRESS SIZE must be positive"},
		{"IP outside the AR", "allocate_address", Req(S, []string{"IP=10.65.0.200", "SIZE=1"}), "", "10.65.0.200 (+0) is outside AR 0 (10.65.0.2…10.65.0.11)"},
		{"unknown VRF name", "register_address_range", Req([]string{"TYPE=IP4", "SIZE=4", "IPAM_MAD=netbox", "NETBOX_PARENT_PREFIX=10.0.0.0/8", "NETBOX_VRF=no-such-vrf"}, nil), "", `NETBOX_VRF "no-such-vrf": no such NetBox vrf`},
		{"span no prefix contains", "register_address_range", Req([]string{"TYPE=IP4", "IP=10.66.9.10", "SIZE=5", "IPAM_MAD=netbox", "NETBOX_VRF=" + vrf.Name}, nil), "", "no NetBox prefix in VRF " + vrf.Name + " contains 10.66.9.10…10.66.9.14"},
		{"deleted IP range", "get_address", Req(stale, []string{"SIZE=1"}), "", "NetBox IP range 999999 of AR 0 (10.65.0.2…10.65.0.11) no longer exists"},
		{"deleted IP range, reserve", "get_address", Req(stale, []string{"SIZE=3"}), "", "NetBox IP range 999999 of AR 0 (10.65.0.2…10.65.0.11) no longer exists"},
		{"range no longer matches the AR", "get_address", Req(shrunk, []string{"SIZE=3"}), "", "spans 10.65.0.2…10.65.0.11 but AR 0 (10.65.0.2…10.65.0.6); make them match"},
		{"huge stdin", "get_address", "", strings.Repeat("QUFB", 600000), "request larger than"},
		{"truncated XML", "get_address", Req(S, []string{"SIZE=1"})[:120], "", "request is not valid XML"},
		{"XML entity bomb", "get_address", `<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><IPAM_DRIVER_ACTION_DATA><AR><IP>&c;</IP></AR></IPAM_DRIVER_ACTION_DATA>`, "", "request is not valid XML"},
		{"XML external entity", "get_address", `<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><IPAM_DRIVER_ACTION_DATA><AR><IP>&x;</IP></AR></IPAM_DRIVER_ACTION_DATA>`, "", "request is not valid XML"},
		{"SIZE 0", "get_address", Req(S, []string{"SIZE=0"}), "", "ADDRESS SIZE must be positive, got 0"},
		{"SIZE larger than the AR", "get_address", Req(S, []string{"SIZE=11"}), "", "cannot take 11 addresses from AR 0 (10.65.0.2…10.65.0.11) of 10"},
		{"SIZE not a number", "get_address", Req(S, []string{"SIZE=4e2"}), "", `SIZE "4e2" is not a whole number`},
		{"SIZE larger than the prefix", "register_address_range", Req([]string{"TYPE=IP4", "NETWORK_ADDRESS=10.66.1.0", "NETWORK_MASK=255.255.255.0", "SIZE=300", "IPAM_MAD=netbox", "NETBOX_VRF=" + vrf.Name}, nil), "", "SIZE 300 does not fit in 10.66.1.0/24"},
		{"IPv6 address in an IPv4 AR", "allocate_address", Req(S, []string{"IP=2001:db8::7", "SIZE=1"}), "", `ADDRESS IP "2001:db8::7" is not an IPv4 address`},
		{"IPv6 AR IP", "register_address_range", Req([]string{"TYPE=IP4", "IP=2001:db8::5", "SIZE=4", "IPAM_MAD=netbox", "NETBOX_VRF=" + vrf.Name}, nil), "", `AR IP "2001:db8::5" is not an IPv4 address`},
		{"template syntax in a VRF name", "register_address_range", Req([]string{"TYPE=IP4", "SIZE=4", "IPAM_MAD=netbox", "NETBOX_PARENT_PREFIX=10.0.0.0/8", "NETBOX_VRF=x\" ]\nAR = [ IP = \"1"}, nil), "", `no such NetBox vrf`},
		{"unknown tenant", "register_address_range", Req([]string{"TYPE=IP4", "SIZE=4", "IPAM_MAD=netbox", "NETBOX_PARENT_PREFIX=10.0.0.0/8", "NETBOX_TENANT=no-such-tenant"}, nil), "", `NETBOX_TENANT "no-such-tenant": no such NetBox tenant`},
		{"value ending in a backslash", "register_address_range", Req([]string{"TYPE=IP4", "NETWORK_ADDRESS=10.66.2.0", "NETWORK_MASK=24", "IPAM_MAD=netbox", "DESCRIPTION=C:\\"}, nil), "", "DESCRIPTION ends with a backslash"},
		{"value holding ]]>", "register_address_range", `<IPAM_DRIVER_ACTION_DATA><AR><TYPE>IP4</TYPE><NETWORK_ADDRESS>10.66.2.0</NETWORK_ADDRESS><NETWORK_MASK>24</NETWORK_MASK><NOTE>a]]&gt;b</NOTE></AR></IPAM_DRIVER_ACTION_DATA>`, "", `NOTE holds "]]>"`},
		{"attribute name oned cannot read", "register_address_range", `<IPAM_DRIVER_ACTION_DATA><AR><TYPE>IP4</TYPE><NETWORK_ADDRESS>10.66.2.0</NETWORK_ADDRESS><NETWORK_MASK>24</NETWORK_MASK><MY.ATTR>x</MY.ATTR></AR></IPAM_DRIVER_ACTION_DATA>`, "", `attribute name "MY.ATTR" is not an OpenNebula attribute name`},
		{"NETBOX_IP_RANGE_ID not a number", "get_address", Req(withAttr(S, "NETBOX_IP_RANGE_ID", "12; DROP"), []string{"SIZE=1"}), "", `AR 0: NETBOX_IP_RANGE_ID "12; DROP" is not a NetBox id`},
		{"prefix length 31", "register_address_range", Req([]string{"TYPE=IP4", "SIZE=1", "IPAM_MAD=netbox", "NETBOX_PARENT_PREFIX=10.0.0.0/8", "NETBOX_PREFIX_LENGTH=31"}, nil), "", "NETBOX_PREFIX_LENGTH 31: must be 1-30"},
		{"gateway outside the network", "register_address_range", Req([]string{"TYPE=IP4", "NETWORK_ADDRESS=10.66.3.0", "NETWORK_MASK=24", "GATEWAY=10.99.0.1", "IPAM_MAD=netbox", "NETBOX_VRF=" + vrf.Name}, nil), "", `GATEWAY "10.99.0.1" is not an address inside 10.66.3.0/24`},
		{"MTU nonsense", "register_address_range", Req([]string{"TYPE=IP4", "NETWORK_ADDRESS=10.66.3.0", "NETWORK_MASK=24", "GUEST_MTU=jumbo", "IPAM_MAD=netbox", "NETBOX_VRF=" + vrf.Name}, nil), "", `GUEST_MTU "jumbo" is not an MTU`},
		{"mask with holes", "register_address_range", Req([]string{"TYPE=IP4", "NETWORK_ADDRESS=10.66.3.0", "NETWORK_MASK=255.0.255.0", "IPAM_MAD=netbox"}, nil), "", `NETWORK_MASK "255.0.255.0" is not a contiguous mask`},
		{"IPv6 AR type", "register_address_range", Req([]string{"TYPE=IP6", "SIZE=4", "IPAM_MAD=netbox"}, nil), "", "AR TYPE IP6 has no IPv4 addresses"},
		// No ids and no range of the driver spans it (a span the driver holds is found by its
		// span instead: e2e TestUpdatearDropsDriverAttributes).
		{"not registered by us", "get_address", Req([]string{"AR_ID=3", "TYPE=IP4", "IP=10.65.0.40", "SIZE=3", "IPAM_MAD=netbox"}, []string{"SIZE=1"}), "", "has no NETBOX_IP_RANGE_ID and no NetBox IP range tagged"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := countAll(t, c)
			var r Result
			if tc.raw != "" {
				r = runStdin(t, tc.action, tc.raw)
			} else {
				r = Run(t, tc.action, "7", tc.xml)
			}
			mustFail(t, r, tc.want)
			if after := countAll(t, c); after != before {
				t.Fatalf("NetBox changed: %+v -> %+v", before, after)
			}
		})
	}
}

// A wrong token: a clear auth message without the token. An unreachable NetBox: a
// clear message well within the deadline.
func TestAuthAndReachability(t *testing.T) {
	req := Req([]string{"AR_ID=0", "TYPE=IP4", "IP=10.67.0.2", "SIZE=4", "IPAM_MAD=netbox", "NETBOX_IP_RANGE_ID=1"}, []string{"SIZE=1"})
	bad := "nbt_wrongkey1234.thisisnotthesecret0000000000000000000000"
	r := Run(t, "get_address", "1", req, "NETBOX_TOKEN="+bad)
	mustFail(t, r, "NetBox refused the request (HTTP 403")
	if strings.Contains(r.Stderr, "thisisnotthesecret") || strings.Contains(r.Stderr, "wrongkey1234") {
		t.Fatalf("token shown: %s", r.Stderr)
	}
	r = Run(t, "get_address", "2", req, "NETBOX_URL=http://127.0.0.1:9", "NETBOX_IPAM_TIMEOUT=5s", "NETBOX_IPAM_RETRIES=1")
	mustFail(t, r, "cannot reach NetBox")
	if r.Took.Seconds() > 6 {
		t.Fatalf("unreachable NetBox took %s, deadline 5s", r.Took)
	}
	// free_address never strands a lease: a refused token or an unreachable NetBox
	// still answers 0, and oned.log says what was left for sync.
	free := Req([]string{"AR_ID=0", "TYPE=IP4", "IP=10.67.0.2", "SIZE=4", "IPAM_MAD=netbox", "NETBOX_IP_RANGE_ID=1"}, []string{"IP=10.67.0.3", "SIZE=1"})
	for _, env := range [][]string{{"NETBOX_TOKEN=" + bad}, {"NETBOX_URL=http://127.0.0.1:9", "NETBOX_IPAM_TIMEOUT=5s", "NETBOX_IPAM_RETRIES=1"}} {
		r = Run(t, "free_address", "3", free, env...)
		if r.Code != 0 || !strings.Contains(r.Stderr, "INFO: could not free 10.67.0.3 (+0) in AR 0") || r.Message() != "" ||
			strings.Contains(r.Stderr, "thisisnotthesecret") {
			t.Errorf("free_address with %v: exit %d, stderr %q", env, r.Code, r.Stderr)
		}
	}
}

// lease_mac: later (the default) makes get_address one NetBox request and leaves the
// MAC to the hooks or sync; now records it at once, in a second request.
func TestLeaseMACLater(t *testing.T) {
	c := Client(t)
	vrf := testVRF(t, c)
	reg := mustOK(t, Run(t, "register_address_range", "1", Req([]string{"TYPE=IP4", "NETWORK_ADDRESS=10.87.0.0", "NETWORK_MASK=24",
		"SIZE=10", "IPAM_MAD=netbox", "MAC=02:00:0a:57:00:02", "NETBOX_VRF=" + vrf.Name}, nil)), "register")
	S := registered(t, reg.Stdout, "0")
	t.Cleanup(func() { Run(t, "unregister_address_range", "9", Req(S, nil)) })
	log := filepath.Join(t.TempDir(), "driver.log")
	for _, mode := range []string{"now", "later"} {
		mustOK(t, Run(t, "get_address", "2", Req(S, []string{"SIZE=1"}), "NETBOX_IPAM_LEASE_MAC="+mode, "NETBOX_IPAM_LOG_FILE="+log, "NETBOX_IPAM_LOG_FORMAT=json"), mode)
	}
	raw, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"netbox_requests":2`) || !strings.Contains(lines[1], `"netbox_requests":1`) {
		t.Fatalf("NetBox requests of get_address with lease_mac now, then later:\n%s", raw)
	}
	if l := findIP(t, c, vrf.ID, "10.87.0.2"); l.CustomString("one_mac") != "02:00:0a:57:00:02" {
		t.Errorf("lease_mac now: one_mac %q", l.CustomString("one_mac"))
	}
	if l := findIP(t, c, vrf.ID, "10.87.0.3"); l.CustomString("one_mac") != "" || !l.HasTag("opennebula") {
		t.Errorf("lease_mac later: %+v", l)
	}
}

// An AR whose NetBox ids were dropped (onevnet updatear without --append) is found by
// its first address; when the driver has a range starting there in two VRFs, the action fails naming both
// ranges and changes nothing.
func TestLostIDsAmbiguous(t *testing.T) {
	c := Client(t)
	_, tagEnv := ownTag(t, c, "it-lost-ids")
	var ranges []string
	for i := 0; i < 2; i++ {
		vrf := testVRF(t, c)
		reg := mustOK(t, Run(t, "register_address_range", "1", Req([]string{"TYPE=IP4", "NETWORK_ADDRESS=10.88.0.0", "NETWORK_MASK=24",
			"SIZE=10", "IPAM_MAD=netbox", "NETBOX_VRF=" + vrf.Name}, nil), tagEnv), "register")
		S := registered(t, reg.Stdout, "0")
		t.Cleanup(func() { Run(t, "unregister_address_range", "9", Req(S, nil), tagEnv) })
		ranges = append(ranges, attr(S, "NETBOX_IP_RANGE_ID"))
	}
	lost := []string{"AR_ID=0", "TYPE=IP4", "IP=10.88.0.2", "SIZE=10", "IPAM_MAD=netbox"} // what oned keeps
	r := Run(t, "get_address", "2", Req(lost, []string{"SIZE=1"}), tagEnv)
	mustFail(t, r, "NetBox IP ranges "+ranges[0]+", "+ranges[1]+" all start at its first address")
}

// An admin marks the AR's IP range populated (NetBox 4.3+): NetBox then has nothing
// available in it and refuses any address inside, which its answers call "insufficient
// space" and "cannot create". The driver says what the mark does and how to lift it,
// and leaves nothing behind. NetBox 4.2 has no such mark (the field is ignored): leases
// go on. The fake (netboxtest) refuses likewise; this pins it on each release.
func TestPopulatedRange(t *testing.T) {
	c := Client(t)
	vrf := testVRF(t, c)
	reg := mustOK(t, Run(t, "register_address_range", "1", Req([]string{"TYPE=IP4", "NETWORK_ADDRESS=10.88.0.0", "NETWORK_MASK=24",
		"SIZE=10", "IPAM_MAD=netbox", "NETBOX_VRF=" + vrf.Name}, nil)), "register")
	S := registered(t, reg.Stdout, "0")
	t.Cleanup(func() { Run(t, "unregister_address_range", "9", Req(S, nil)) })
	m, _ := ParseVector(t, reg.Stdout, "AR")
	id, _ := strconv.Atoi(m["NETBOX_IP_RANGE_ID"])
	if _, err := c.PatchIPRange(ctx(t), id, map[string]any{"mark_populated": true}); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	rel := netbox.ParseRelease(st.NetBoxVersion)
	r, err := c.GetIPRange(ctx(t), id)
	if err != nil || r.MarkPopulated != netbox.PopulatedRanges(rel) {
		t.Fatalf("NetBox %s: range marked populated reads %v (%v), want %v", rel, r.MarkPopulated, err, netbox.PopulatedRanges(rel))
	}
	if !netbox.PopulatedRanges(rel) {
		mustOK(t, Run(t, "get_address", "2", Req(S, []string{"SIZE=1"})), "get_address on NetBox "+rel.String())
		return
	}
	// What NetBox answers, as netboxtest answers it.
	avail, err := c.AvailableInRange(ctx(t), id, 5)
	if err != nil || len(avail) != 0 {
		t.Errorf("available in a populated range: %v, %v; want none", avail, err)
	}
	_, err = c.CreateIPAddresses(ctx(t), []netbox.IPAddressSpec{{Address: "10.88.0.3/24", VRFID: vrf.ID, Status: "active"}})
	if netbox.KindOf(err) != netbox.KindInvalid || !strings.Contains(err.Error(), "Cannot create IP address") {
		t.Errorf("an address inside a populated range: %v, want NetBox's refusal", err)
	}
	before := countAll(t, c)
	mustFail(t, Run(t, "get_address", "2", Req(S, []string{"SIZE=1"})), "is marked populated")
	mustFail(t, Run(t, "get_address", "3", Req(S, []string{"SIZE=2"})), "is marked populated")
	mustFail(t, Run(t, "allocate_address", "4", Req(S, []string{"IP=10.88.0.5", "SIZE=1"})), `clear "Mark populated"`)
	if after := countAll(t, c); after != before {
		t.Errorf("NetBox changed by refused leases: %+v, then %+v", before, after)
	}
}

// An AR of one address: NetBox holds an IP range of one address from 4.6.1. Before,
// register fails saying so and what to do, and leaves nothing behind (the release is
// read from NetBox's own refusal); from 4.6.1 the range is made.
func TestRegisterSingleAddress(t *testing.T) {
	c := Client(t)
	vrf := testVRF(t, c)
	st, err := c.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	rel := netbox.ParseRelease(st.NetBoxVersion)
	before := countAll(t, c)
	r := Run(t, "register_address_range", "1", Req([]string{"TYPE=IP4", "IP=10.89.0.5", "SIZE=1", "NETWORK_ADDRESS=10.89.0.0", "NETWORK_MASK=24",
		"IPAM_MAD=netbox", "NETBOX_VRF=" + vrf.Name}, nil))
	if !netbox.SingleAddressRanges(rel) {
		mustFail(t, r, "cannot hold an IP range of one address (NetBox 4.6.1 and later can)")
		if after := countAll(t, c); after != before {
			t.Errorf("NetBox %s: a refused register left objects: %+v, then %+v", rel, before, after)
		}
		return
	}
	mustOK(t, r, "register SIZE 1 on NetBox "+rel.String())
	S := registered(t, r.Stdout, "0")
	t.Cleanup(func() { Run(t, "unregister_address_range", "9", Req(S, nil)) })
	m, _ := ParseVector(t, r.Stdout, "AR")
	id, _ := strconv.Atoi(m["NETBOX_IP_RANGE_ID"])
	if rng, err := c.GetIPRange(ctx(t), id); err != nil || rng.StartAddress != "10.89.0.5/24" || rng.EndAddress != "10.89.0.5/24" {
		t.Fatalf("the range of one address: %+v, %v", rng, err)
	}
	got := mustOK(t, Run(t, "get_address", "2", Req(S, []string{"SIZE=1"})), "get_address")
	if a, _ := ParseVector(t, got.Stdout, "ADDRESS"); a["IP"] != "10.89.0.5" {
		t.Errorf("lease %v, want 10.89.0.5", a)
	}
}

// An AR naming NETBOX_SITE gets a prefix scoped to that site: NetBox 4.2 replaced a
// prefix's site with scope_type and scope_id, which is what the driver writes (it
// refuses releases before 4.2).
func TestRegisterSiteScope(t *testing.T) {
	c := Client(t)
	vrf := testVRF(t, c)
	slug := unique("one-site")
	var site struct{ ID int }
	apiJSON(t, "POST", "/api/dcim/sites/", map[string]string{"name": slug, "slug": slug}, &site)
	t.Cleanup(func() { apiJSON(t, "DELETE", "/api/dcim/sites/"+strconv.Itoa(site.ID)+"/", nil, nil) })
	reg := mustOK(t, Run(t, "register_address_range", "1", Req([]string{"TYPE=IP4", "NETWORK_ADDRESS=10.85.0.0", "NETWORK_MASK=24",
		"SIZE=10", "IPAM_MAD=netbox", "NETBOX_VRF=" + vrf.Name, "NETBOX_SITE=" + slug}, nil)), "register")
	S := registered(t, reg.Stdout, "0")
	t.Cleanup(func() { Run(t, "unregister_address_range", "9", Req(S, nil)) })
	m, _ := ParseVector(t, reg.Stdout, "AR")
	var p struct {
		ScopeType string `json:"scope_type"`
		ScopeID   int    `json:"scope_id"`
	}
	apiJSON(t, "GET", "/api/ipam/prefixes/"+m["NETBOX_PREFIX_ID"]+"/", nil, &p)
	if p.ScopeType != "dcim.site" || p.ScopeID != site.ID {
		t.Fatalf("the AR's prefix %s is scoped to %s %d, want dcim.site %d", m["NETBOX_PREFIX_ID"], p.ScopeType, p.ScopeID, site.ID)
	}
}
