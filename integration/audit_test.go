package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// vnetXML builds the `onevnet show -x` document of network id with the given ARs (S
// attributes as the driver's answers left them) and leases ("IP MAC holder" where
// holder is vm:N, vrouter:N, vnet:N or hold), as oned prints it.
func vnetXML(id string, ars map[string][]string, leases map[string][]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<VNET><ID>%s</ID><UID>0</UID><GID>0</GID><UNAME>oneadmin</UNAME><GNAME>oneadmin</GNAME><NAME>net-%s</NAME>"+
		"<PERMISSIONS><OWNER_U>1</OWNER_U></PERMISSIONS><CLUSTERS><ID>0</ID></CLUSTERS><BRIDGE>br0</BRIDGE><STATE>1</STATE><PREV_STATE>1</PREV_STATE>"+
		"<PARENT_NETWORK_ID/><TEMPLATE_ID>-1</TEMPLATE_ID><VN_MAD>bridge</VN_MAD><PHYDEV/><VLAN_ID_AUTOMATIC>0</VLAN_ID_AUTOMATIC>"+
		"<OUTER_VLAN_ID_AUTOMATIC>0</OUTER_VLAN_ID_AUTOMATIC><USED_LEASES>0</USED_LEASES><VROUTERS/><UPDATED_VMS/><OUTDATED_VMS/><UPDATING_VMS/><ERROR_VMS/>"+
		"<TEMPLATE><BRIDGE><![CDATA[br0]]></BRIDGE></TEMPLATE><AR_POOL>", id, id)
	for arID, attrs := range ars {
		b.WriteString("<AR>")
		for _, kv := range attrs {
			k, v, _ := strings.Cut(kv, "=")
			if k == "AR_ID" {
				v = arID
			}
			fmt.Fprintf(&b, "<%s><![CDATA[%s]]></%s>", k, v, k)
		}
		fmt.Fprintf(&b, "<USED_LEASES>%d</USED_LEASES><LEASES>", len(leases[arID]))
		for _, l := range leases[arID] {
			f := strings.Fields(l)
			fmt.Fprintf(&b, "<LEASE><IP><![CDATA[%s]]></IP><MAC><![CDATA[%s]]></MAC>", f[0], f[1])
			switch kind, n, _ := strings.Cut(f[2], ":"); kind {
			case "vm":
				fmt.Fprintf(&b, "<VM><![CDATA[%s]]></VM>", n)
			case "vrouter":
				fmt.Fprintf(&b, "<VROUTER><![CDATA[%s]]></VROUTER>", n)
			case "vnet":
				fmt.Fprintf(&b, "<VNET><![CDATA[%s]]></VNET>", n)
			default:
				b.WriteString("<VM><![CDATA[-1]]></VM>")
			}
			b.WriteString("</LEASE>")
		}
		b.WriteString("</LEASES></AR>")
	}
	b.WriteString("</AR_POOL></VNET>")
	return b.String()
}

type auditJSON struct {
	ARs []struct {
		VNet, AR string
		Findings []struct {
			Kind, IP, Detail string
			Object           int `json:"netbox_id"`
		}
		Done []string
	} `json:"ars"`
	Stale []struct {
		Kind string
		ID   int `json:"netbox_id"`
	} `json:"stale"`
	Drift    int `json:"drift"`
	Requests int `json:"netbox_requests"`
}

// kinds lists "kind ip" of every finding.
func (a auditJSON) kinds() []string {
	var out []string
	for _, r := range a.ARs {
		for _, f := range r.Findings {
			out = append(out, f.Kind+" "+f.IP)
		}
	}
	return out
}

func (a auditJSON) done() []string {
	var out []string
	for _, r := range a.ARs {
		out = append(out, r.Done...)
	}
	return out
}

// Every kind of drift, made on purpose, is found by audit and repaired by sync;
// someone else's object is reported and never touched; a second sync has nothing to
// do. The test has a tag of its own, so --all sees only its objects.
func TestAuditAndSync(t *testing.T) {
	c := Client(t)
	vrf := testVRF(t, c)
	tag, tagEnv := ownTag(t, c, "it-audit")
	reg := func(id, network string) []string {
		r := mustOK(t, Run(t, "register_address_range", id, Req([]string{"TYPE=IP4", "NETWORK_ADDRESS=" + network, "NETWORK_MASK=255.255.255.0",
			"SIZE=50", "IPAM_MAD=netbox", "MAC=02:00:0a:55:00:02", "NETBOX_VRF=" + vrf.Name}, nil), tagEnv), "register")
		return registered(t, r.Stdout, "0")
	}
	A, B, gone := reg("1", "10.85.0.0"), reg("2", "10.85.1.0"), reg("3", "10.85.2.0")
	t.Cleanup(func() {
		for _, S := range [][]string{A, B, gone} {
			Run(t, "unregister_address_range", "9", Req(S, nil), tagEnv)
		}
	})
	// Leases of A as the driver made them: five VMs, a virtual router, a hold, a reservation of 2.
	var leases []string
	for i := 0; i < 5; i++ {
		r := mustOK(t, Run(t, "get_address", strconv.Itoa(10+i), Req(A, []string{"SIZE=1"}), tagEnv), "lease")
		a, _ := parseAddress(r.Stdout)
		leases = append(leases, fmt.Sprintf("%s 02:00:0a:55:00:%02x vm:%d", a, a.As4()[3], 100+i))
	}
	mustOK(t, Run(t, "allocate_address", "20", Req(A, []string{"IP=10.85.0.20", "SIZE=1"}), tagEnv), "router")
	mustOK(t, Run(t, "allocate_address", "21", Req(A, []string{"IP=10.85.0.21", "SIZE=1"}), tagEnv), "hold")
	mustOK(t, Run(t, "allocate_address", "22", Req(A, []string{"IP=10.85.0.30", "SIZE=2"}), tagEnv), "reservation")
	leases = append(leases, "10.85.0.20 02:00:0a:55:00:14 vrouter:5", "10.85.0.21 02:00:0a:55:00:15 hold",
		"10.85.0.30 02:00:0a:55:00:1e vnet:9", "10.85.0.31 02:00:0a:55:00:1f vnet:9")

	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	docA := write("7.xml", vnetXML("7", map[string][]string{"0": A}, map[string][]string{"0": leases}))
	docB := write("8.xml", vnetXML("8", map[string][]string{"0": B}, nil))
	oned := standInOned(t, map[string]string{"7": docA, "8": docB})
	timeout := "NETBOX_IPAM_TIMEOUT=20s"
	run := func(args ...string) (Result, auditJSON) {
		r := runBin(t, append([]string{tagEnv, timeout}, oned...), append(args, "--json", "--all", docA, docB)...)
		var out auditJSON
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
			t.Fatalf("%v: %v\nstdout %q\nstderr %q", args, err, r.Stdout, r.Stderr)
		}
		return r, out
	}

	// In step but for the labels (get_address cannot know the VM) and AR "gone", which
	// OpenNebula no longer has: its range and prefix are stale.
	r, a := run("audit")
	if r.Code != 8 || len(a.Stale) != 2 || strings.Count(strings.Join(a.kinds(), ","), "label") != 9 || a.Drift != 2 {
		t.Fatalf("first audit: exit %d, drift %d, findings %v, stale %+v", r.Code, a.Drift, a.kinds(), a.Stale)
	}
	r, a = run("sync")
	if r.Code != 0 || len(a.done()) == 0 {
		t.Fatalf("first sync: exit %d, %+v", r.Code, a)
	}
	// Stale objects are only reported by a plain sync: removing them takes --prune.
	if _, err := c.GetIPRange(ctx(t), atoi(attr(gone, "NETBOX_IP_RANGE_ID"))); err != nil {
		t.Fatalf("sync without --prune removed the stale IP range: %v", err)
	}
	// --prune leaves what NetBox made within the driver's timeout (an AR oned may be
	// registering): with a 1 s timeout, the stale range is old enough a second on.
	timeout = "NETBOX_IPAM_TIMEOUT=1s"
	time.Sleep(1100 * time.Millisecond)
	if r, a = run("sync", "--prune"); r.Code != 0 || len(a.Stale) != 2 {
		t.Fatalf("sync --prune: exit %d, stale %+v", r.Code, a.Stale)
	}
	timeout = "NETBOX_IPAM_TIMEOUT=20s"
	vm := findIP(t, c, vrf.ID, "10.85.0.2")
	if vm.CustomString("one_vm_id") != "100" || vm.Description != "OpenNebula VM 100, network 7 AR 0" {
		t.Fatalf("lease after sync: %q %q", vm.CustomString("one_vm_id"), vm.Description)
	}
	if rt := findIP(t, c, vrf.ID, "10.85.0.20"); rt.CustomString("one_vrouter_id") != "5" {
		t.Fatalf("router lease after sync: %+v", rt.CustomFields)
	}
	if rs := findIP(t, c, vrf.ID, "10.85.0.30"); rs.CustomString("one_vnet_id") != "9" {
		t.Fatalf("reservation after sync: %+v", rs.CustomFields)
	}
	if _, err := c.GetIPRange(ctx(t), atoi(attr(gone, "NETBOX_IP_RANGE_ID"))); !netbox.IsNotFound(err) {
		t.Fatalf("the stale IP range survived sync: %v", err)
	}
	if r, a = run("audit"); r.Code != 0 || len(a.kinds()) != 0 {
		t.Fatalf("audit after sync: exit %d, %v", r.Code, a.kinds())
	}

	// Drift on purpose.
	del := findIP(t, c, vrf.ID, "10.85.0.3") // a lease object deleted by hand
	if err := c.DeleteIPAddress(ctx(t), del.ID); err != nil {
		t.Fatal(err)
	}
	orphan, err := c.CreateIPAddresses(ctx(t), []netbox.IPAddressSpec{{Address: "10.85.0.40/24", VRFID: vrf.ID, Status: "active", // the driver's, not in oned
		Tags: []netbox.TagRef{{Slug: tag}}, CustomFields: map[string]any{"one_request_id": "55", "one_ar_id": "0"}}})
	if err != nil {
		t.Fatal(err)
	}
	mac := findIP(t, c, vrf.ID, "10.85.0.4") // a MAC changed by hand
	if _, err := c.PatchIPAddress(ctx(t), mac.ID, map[string]any{"custom_fields": map[string]any{"one_mac": "02:00:00:00:00:99"}}); err != nil {
		t.Fatal(err)
	}
	foreign := findIP(t, c, vrf.ID, "10.85.0.21") // the hold's object replaced by someone else's
	_ = c.DeleteIPAddress(ctx(t), foreign.ID)
	fo, err := c.CreateIPAddresses(ctx(t), []netbox.IPAddressSpec{{Address: "10.85.0.21/24", VRFID: vrf.ID, Description: "printer"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.DeleteIPAddress(ctx(t), fo[0].ID) })
	// AR B's range deleted in NetBox; AR A shrunk by updatear to 40 (its range still spans 50).
	if err := c.DeleteIPRange(ctx(t), atoi(attr(B, "NETBOX_IP_RANGE_ID"))); err != nil {
		t.Fatal(err)
	}
	docA = write("7.xml", vnetXML("7", map[string][]string{"0": withAttr(A, "SIZE", "40")}, map[string][]string{"0": leases}))

	r, a = run("audit")
	want := []string{"missing 10.85.0.3", "mismatch 10.85.0.4", "foreign 10.85.0.21", "orphan 10.85.0.40"}
	got := strings.Join(a.kinds(), ",")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("audit did not find %q: %v", w, a.kinds())
		}
	}
	if strings.Count(got, "range ") != 2 || r.Code != 8 {
		t.Errorf("audit: exit %d, want the shrunk and the deleted range: %v", r.Code, a.kinds())
	}

	// sync leaves an orphan younger than the driver's timeout (its get_address may not
	// have reached oned yet): with a 2 s timeout, the orphan made above is settled 2 s on.
	timeout = "NETBOX_IPAM_TIMEOUT=2s"
	time.Sleep(2100 * time.Millisecond)
	r, a = run("sync")
	if r.Code != 0 {
		t.Fatalf("sync: exit %d %s", r.Code, r.Stderr)
	}
	if l := findIP(t, c, vrf.ID, "10.85.0.3"); !l.HasTag(tag) || l.CustomString("one_vm_id") != "101" {
		t.Errorf("the missing lease was not recorded: %+v", l)
	}
	if _, err := c.GetIPAddress(ctx(t), orphan[0].ID); !netbox.IsNotFound(err) {
		t.Errorf("the orphan survived sync: %v", err)
	}
	if l := findIP(t, c, vrf.ID, "10.85.0.4"); l.CustomString("one_mac") != "02:00:0a:55:00:04" {
		t.Errorf("the MAC was not fixed: %q", l.CustomString("one_mac"))
	}
	if l := findIP(t, c, vrf.ID, "10.85.0.21"); l.ID != fo[0].ID || l.HasTag(tag) || l.Description != "printer" {
		t.Errorf("someone else's object was touched: %+v", l)
	}
	rng, err := c.GetIPRange(ctx(t), atoi(attr(A, "NETBOX_IP_RANGE_ID")))
	if err != nil || rng.EndAddress != "10.85.0.41/24" {
		t.Errorf("the shrunk AR's range: %+v %v, want it to end at 10.85.0.41", rng, err)
	}

	// A second sync has nothing left to do: only what it must never touch remains.
	r, a = run("sync")
	if len(a.done()) != 0 || r.Code != 0 {
		t.Fatalf("second sync still did %v", a.done())
	}
	if got := strings.Join(a.kinds(), ","); got != "foreign 10.85.0.21,range 10.85.1.2" {
		t.Fatalf("after two syncs: %v", a.kinds())
	}
	// The plain-text report says the same for people.
	txt := runBin(t, []string{tagEnv}, "audit", docA, docB)
	if txt.Code != 8 || !strings.Contains(txt.Stdout, "foreign") || !strings.Contains(txt.Stdout, "network 8 AR 0") {
		t.Fatalf("text audit: exit %d\n%s", txt.Code, txt.Stdout)
	}
}

// ownTag gives a test a driver tag of its own (setup run with it), so that --all
// sees only that test's objects.
func ownTag(t *testing.T, c *netbox.Client, prefix string) (tag, env string) {
	t.Helper()
	tag = unique(prefix)
	env = "NETBOX_IPAM_TAG=" + tag
	if r := runBin(t, []string{env}, "setup"); r.Code != 0 {
		t.Fatalf("setup with tag %s: %s%s", tag, r.Stdout, r.Stderr)
	}
	t.Cleanup(func() {
		if tg, err := c.TagBySlug(ctx(t), tag); err == nil {
			_ = c.DeleteTag(ctx(t), tg.ID)
		}
	})
	return tag, env
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func mustAddr(t testing.TB, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// A network with 5,000 leases is audited with a handful of NetBox requests per page of
// 1,000 addresses, not one per lease; sync records the holders in bulk, and then
// audit finds it in step.
func TestAuditLargeNetwork(t *testing.T) {
	const n = 5000
	c := Client(t)
	vrf := testVRF(t, c)
	tag, tagEnv := ownTag(t, c, "it-audit-big")
	reg := mustOK(t, Run(t, "register_address_range", "1", Req([]string{"TYPE=IP4", "NETWORK_ADDRESS=10.86.0.0", "NETWORK_MASK=255.255.224.0",
		"SIZE=" + strconv.Itoa(n), "IPAM_MAD=netbox", "MAC=02:00:00:00:00:00", "NETBOX_VRF=" + vrf.Name}, nil), tagEnv), "register")
	S := registered(t, reg.Stdout, "0")
	t.Cleanup(func() {
		// 5,000 leftovers take NetBox longer to delete than an action's deadline (oned
		// refuses to delete a network with leases, so unregister rarely meets many):
		// 40 ms an address on a busy two-core machine, and more on a slow day.
		cx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		ips, _ := c.IPAddressesIn(cx, vrf.ID, "10.86.0.0/19")
		ids := make([]int, 0, len(ips))
		for _, ip := range ips {
			ids = append(ids, ip.ID)
		}
		if err := c.DeleteIPAddresses(cx, ids); err != nil {
			t.Error(err)
		}
		Run(t, "unregister_address_range", "2", Req(S, nil), tagEnv)
	})
	// The leases, as get_address would have recorded them (in bulk: 5,000 driver runs
	// would test nothing more here).
	// NetBox creates a page of 1,000 addresses in tens of seconds on a busy two-core
	// machine, so the setup has its own generous deadline (it measures nothing).
	setup, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var leases []string
	specs := make([]netbox.IPAddressSpec, 0, 500)
	first := mustAddr(t, attr(S, "IP"))
	a := first
	for i := 0; i < n; i++ {
		mac := fmt.Sprintf("02:00:00:00:%02x:%02x", (i>>8)&0xff, i&0xff)
		leases = append(leases, fmt.Sprintf("%s %s vm:%d", a, mac, 1000+i))
		specs = append(specs, netbox.IPAddressSpec{Address: a.String() + "/19", VRFID: vrf.ID, Status: "active", Tags: []netbox.TagRef{{Slug: tag}},
			CustomFields: map[string]any{"one_ar_id": "0", "one_mac": mac, "one_request_id": strconv.Itoa(i)}, Description: "lease"})
		if len(specs) == 500 {
			if _, err := c.CreateIPAddresses(setup, specs); err != nil {
				t.Fatal(err)
			}
			specs = specs[:0]
		}
		a = a.Next()
	}
	doc := filepath.Join(t.TempDir(), "big.xml")
	if err := os.WriteFile(doc, []byte(vnetXML("11", map[string][]string{"0": S}, map[string][]string{"0": leases})), 0o600); err != nil {
		t.Fatal(err)
	}
	oned := standInOned(t, map[string]string{"11": doc})
	audit := func(cmd string) (Result, auditJSON) {
		r := runBin(t, append([]string{tagEnv, "NETBOX_IPAM_TIMEOUT=60s"}, oned...), cmd, "--json", doc)
		var out auditJSON
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
			t.Fatalf("%s: %v: %s", cmd, err, r.Stderr)
		}
		return r, out
	}
	r, out := audit("audit")
	if r.Code != 0 || out.Drift != 0 || len(out.kinds()) != n {
		t.Fatalf("audit of %d leases: exit %d, drift %d, %d findings", n, r.Code, out.Drift, len(out.kinds()))
	}
	// GET the range, then the addresses in pages of 1,000.
	if out.Requests > 2+n/1000 {
		t.Errorf("audit of %d leases made %d NetBox requests, want at most %d", n, out.Requests, 2+n/1000)
	}
	t.Logf("audit of %d leases: %d NetBox requests, %s", n, out.Requests, r.Took)
	r, out = audit("sync")
	if r.Code != 0 || out.Requests > 2+n/1000+n/250 {
		t.Fatalf("sync: exit %d, %d requests: %s", r.Code, out.Requests, r.Stderr)
	}
	t.Logf("sync of %d labels: %d NetBox requests, %s", n, out.Requests, r.Took)
	if r, out = audit("audit"); len(out.kinds()) != 0 {
		t.Fatalf("after sync: %d findings", len(out.kinds()))
	}
	t.Logf("audit of %d leases in step: %s", n, r.Took)
}

// With NETBOX_IPAM_ONE=cli, --all asks OpenNebula's commands instead of XML-RPC:
// `onevnet list -x`, then `onevnet show -x` for each network (a stand-in onevnet on
// the PATH prints documents like oned's; the e2e TestOnedClient holds both ways to
// the real oned).
func TestAuditAllAsksOnevnet(t *testing.T) {
	c := Client(t)
	vrf := testVRF(t, c)
	_, tagEnv := ownTag(t, c, "it-audit-all")
	reg := mustOK(t, Run(t, "register_address_range", "1", Req([]string{"TYPE=IP4", "NETWORK_ADDRESS=10.88.0.0", "NETWORK_MASK=24",
		"SIZE=10", "IPAM_MAD=netbox", "MAC=02:00:0a:58:00:02", "NETBOX_VRF=" + vrf.Name}, nil), tagEnv), "register")
	S := registered(t, reg.Stdout, "0")
	t.Cleanup(func() { Run(t, "unregister_address_range", "2", Req(S, nil), tagEnv) })
	mustOK(t, Run(t, "get_address", "3", Req(S, []string{"SIZE=1"}), tagEnv), "lease")

	dir := t.TempDir()
	doc := vnetXML("12", map[string][]string{"0": S}, map[string][]string{"0": {"10.88.0.2 02:00:0a:58:00:02 vm:7", "10.88.0.9 02:00:0a:58:00:09 vm:8"}})
	os.WriteFile(filepath.Join(dir, "12.xml"), []byte(doc), 0o600)
	os.WriteFile(filepath.Join(dir, "pool.xml"), []byte("<VNET_POOL><VNET><ID>12</ID><NAME>net-12</NAME></VNET></VNET_POOL>"), 0o600)
	script := "#!/bin/sh\ncase \"$1 $2\" in\n  'list -x') cat " + filepath.Join(dir, "pool.xml") + " ;;\n  'show -x') cat " + dir + "/$3.xml ;;\n  *) echo \"onevnet: $*\" >&2; exit 1 ;;\nesac\n"
	if err := os.WriteFile(filepath.Join(dir, "onevnet"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r := runBin(t, []string{tagEnv, "NETBOX_IPAM_ONE=cli", "PATH=" + dir + ":" + os.Getenv("PATH")}, "audit", "--all", "--json")
	var out auditJSON
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("%v: %s %s", err, r.Stdout, r.Stderr)
	}
	if r.Code != 8 || len(out.ARs) != 1 || out.ARs[0].VNet != "12" || !strings.Contains(strings.Join(out.kinds(), ","), "missing 10.88.0.9") {
		t.Fatalf("audit --all through onevnet: exit %d, %+v", r.Code, out)
	}
}
