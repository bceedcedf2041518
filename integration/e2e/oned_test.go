package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSecondName: the driver installed under a second IPAM_MAD name answers to it, with
// its own configuration (here: its own tag), and the AR stays on that name.
func TestSecondName(t *testing.T) {
	o := oned(t)
	if !strings.Contains(" "+o.vars["ONE_IPAM_NAMES"]+" ", " netbox2 ") {
		t.Skip("the test oned has no driver named netbox2 (integration/opennebula/up installs it)")
	}
	v := o.vrf(t)
	o.prefix(t, v.ID, "10.151.0.0/24")
	net := o.createVNet(t, vnetTemplate(uniq("dc2"),
		`TYPE = "IP4", IP = "10.151.0.10", SIZE = "10", IPAM_MAD = "netbox2", NETBOX_VRF = "`+strconv.Itoa(v.ID)+`"`))
	if got := arOf(t, o.vnet(t, net), "0").Attrs.Get("IPAM_MAD"); got != "netbox2" {
		t.Fatalf("oned's AR IPAM_MAD = %q after register, want netbox2", got)
	}
	tag2 := o.vars["ONE_TAG_PREFIX"] + "netbox2" // netbox2's own configuration
	rs := o.ranges(t, v.ID)
	if len(rs) != 1 || !rs[0].HasTag(tag2) || rs[0].HasTag(o.tag) {
		t.Fatalf("NetBox ranges %v; want one tagged %s (netbox2's configuration)", rs, tag2)
	}
	vm := o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", net))
	if ip, ok := o.ips(t, v.ID)[vm.NICs[0].IP]; !ok || !hasTag(ip, tag2) {
		t.Fatalf("lease %s in NetBox: %+v", vm.NICs[0].IP, o.ips(t, v.ID))
	}
	// audit --name netbox2 reads netbox2's own configuration and audits its ARs.
	out, code := o.driverEnv(t, "netbox", nil, []string{"NETBOX_IPAM_CONFIG=", "NETBOX_IPAM_CONFDIR=" + o.vars["NETBOX_IPAM_CONFDIR"]},
		"audit", "--all", "--json", "--name", "netbox2")
	var rep struct {
		ARs []struct {
			VNet    string `json:"vnet"`
			IPRange int    `json:"netbox_ip_range"`
		} `json:"ars"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 {
		t.Fatalf("audit --all --name netbox2: exit %d, %v\n%s", code, err, out)
	}
	found := false
	for _, ar := range rep.ARs {
		found = found || (ar.VNet == strconv.Itoa(net) && ar.IPRange == rs[0].ID)
	}
	if !found {
		t.Errorf("audit --name netbox2 did not audit network %d: %s", net, out)
	}
	o.terminate(t, vm.ID)
	o.deleteVNet(t, net)
	if rs, ips := o.ranges(t, v.ID), o.ips(t, v.ID); len(rs)+len(ips) != 0 {
		t.Errorf("after delete NetBox still holds %v and %v", rs, ips)
	}
}

// TestOnedRestart: request ids restart with oned; leases taken before and after a
// restart are distinct objects and both are freed.
func TestOnedRestart(t *testing.T) {
	o := oned(t)
	script := filepath.Join(repoRoot(), "integration", "opennebula")
	if o.vars["ONE_LOCATION"] == "" || os.Getenv("ONE_XMLRPC") != "" {
		t.Skip("restarts only the test oned of integration/opennebula/up")
	}
	vrf, net := o.spanNet(t, "10.152.0.0/24", "10.152.0.10", 20, "")
	for _, ip := range []string{"10.152.0.25", "10.152.0.26", "10.152.0.27"} { // a few requests, so ids before > ids after
		o.must(t, "onevnet", "hold", strconv.Itoa(net), ip)
		o.must(t, "onevnet", "release", strconv.Itoa(net), ip)
	}
	vm1 := o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", net))
	for _, s := range []string{"down", "up"} {
		cmd := exec.Command(filepath.Join(script, s))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("integration/opennebula/%s: %v\n%s", s, err, out)
		}
	}
	vm2 := o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", net))
	ips := o.ips(t, vrf)
	a, b := ips[vm1.NICs[0].IP], ips[vm2.NICs[0].IP]
	r1, _ := strconv.Atoi(a.CF["one_request_id"])
	r2, _ := strconv.Atoi(b.CF["one_request_id"])
	if len(ips) != 2 || a.ID == b.ID || a.Desc == b.Desc || r2 >= r1 {
		t.Fatalf("NetBox after a restart: %+v; want two leases, the second with a lower request id", ips)
	}
	o.wantLeases(t, vrf, arOf(t, o.vnet(t, net), "0"))
	o.terminate(t, vm1.ID)
	o.terminate(t, vm2.ID)
	if ips := o.ips(t, vrf); len(ips) != 0 {
		t.Errorf("NetBox still holds %v", ips)
	}
}

// TestAuditSyncAll: after a life cycle audit --all (read from the real oned) finds
// OpenNebula and NetBox in step; sync --all records each lease's holder; a lease an
// admin deleted in NetBox is reported missing and sync puts it back.
func TestAuditSyncAll(t *testing.T) {
	o := oned(t)
	vrf, net := o.spanNet(t, "10.153.0.0/24", "10.153.0.10", 20, "")
	vm1 := o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", net))
	vm2 := o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", net))
	o.must(t, "onevnet", "hold", strconv.Itoa(net), "10.153.0.20")

	if drift := o.auditAllOf(t, net); len(drift) != 0 {
		t.Fatalf("audit --all after a life cycle: drift %v", drift)
	}
	if out, code := o.driver(t, "netbox", nil, "sync", "--all"); code != 0 {
		t.Fatalf("sync --all: exit %d\n%s", code, out)
	}
	ips := o.ips(t, vrf)
	for _, vm := range []VMDoc{vm1, vm2} {
		if got := ips[vm.NICs[0].IP].CF["one_vm_id"]; got != strconv.Itoa(vm.ID) {
			t.Errorf("lease %s: one_vm_id %q, want %d", vm.NICs[0].IP, got, vm.ID)
		}
	}

	if err := o.nb.DeleteIPAddress(ctxT(t), ips[vm2.NICs[0].IP].ID); err != nil {
		t.Fatal(err)
	}
	out, code := o.driver(t, "netbox", nil, "audit", "--all", "--json")
	var rep struct {
		ARs []struct {
			VNet     string                      `json:"vnet"`
			Findings []struct{ Kind, IP string } `json:"findings"`
		} `json:"ars"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("audit --json is not JSON: %v\n%s", err, out)
	}
	var missing []string
	for _, ar := range rep.ARs {
		for _, f := range ar.Findings {
			if ar.VNet == strconv.Itoa(net) && f.Kind == "missing" {
				missing = append(missing, f.IP)
			}
		}
	}
	if code != 8 || len(missing) != 1 || missing[0] != vm2.NICs[0].IP {
		t.Fatalf("audit after an admin deleted a lease: exit %d, missing %v\n%s", code, missing, out)
	}
	if _, code := o.driver(t, "netbox", nil, "sync", "--all"); code != 0 {
		t.Fatalf("sync exit %d", code)
	}
	o.wantLeases(t, vrf, arOf(t, o.vnet(t, net), "0"))
	if ip := o.ips(t, vrf)[vm2.NICs[0].IP]; ip.CF["one_vm_id"] != strconv.Itoa(vm2.ID) {
		t.Errorf("re-created lease %+v does not name VM %d", ip, vm2.ID)
	}
	if drift := o.auditAllOf(t, net); len(drift) != 0 {
		t.Fatalf("audit --all after sync: drift %v", drift)
	}

	// A network admin changes the DNS on the prefix: NetBox wins, sync writes it into
	// oned's AR (which hands it to the VMs). Not while the AR has a hold: oned 7.5.80
	// segfaults when an update changes the settings of such an AR.
	if out, code := o.driver(t, "netbox", nil, "sync", "--all"); code != 0 || strings.Contains(out, "restored") {
		t.Fatalf("sync with nothing to restore: exit %d\n%s", code, out)
	}
	o.must(t, "onevnet", "release", strconv.Itoa(net), "10.153.0.20")
	pid, _ := strconv.Atoi(arOf(t, o.vnet(t, net), "0").Attrs.Get("NETBOX_PREFIX_ID"))
	if _, err := o.nb.SetPrefixCustomFields(ctxT(t), pid, map[string]any{"one_dns": "10.153.0.99"}); err != nil {
		t.Fatal(err)
	}
	if kinds, code := o.auditKinds(t, net); code != 8 || kinds["settings"] != 1 {
		t.Fatalf("audit after the DNS changed in NetBox: exit %d, %v", code, kinds)
	}
	if _, code := o.driver(t, "netbox", nil, "sync", "--all"); code != 0 {
		t.Fatalf("sync exit %d", code)
	}
	ar := arOf(t, o.vnet(t, net), "0")
	if ar.Attrs.Get("DNS") != "10.153.0.99" || ar.Attrs.Get("NETBOX_IP_RANGE_ID") == "" || len(ar.Leases) != 2 {
		t.Errorf("after sync oned's AR is %v with %d leases; want DNS 10.153.0.99, its ids and the 2 VM leases", ar.Attrs, len(ar.Leases))
	}
}

// TestFreeWhileNetBoxDown: a VM terminated while NetBox cannot be reached loses its
// lease in oned anyway (free_address answers 0: a failed free would strand the address
// in oned); audit reports the object left behind as an orphan and sync removes it.
func TestFreeWhileNetBoxDown(t *testing.T) {
	o := oned(t)
	conf := o.vars["NETBOX_IPAM_CONFDIR"] + "/netbox-ipam.yaml"
	orig, err := os.ReadFile(conf)
	if o.vars["NETBOX_IPAM_CONFDIR"] == "" || err != nil {
		t.Skip("needs the test oned's driver configuration (.opennebula.env)")
	}
	vrf, net := o.spanNet(t, "10.154.0.0/24", "10.154.0.10", 20, "")
	vm := o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", net))

	var down []string // the driver now points at a port where nothing listens
	for _, l := range strings.Split(string(orig), "\n") {
		if strings.HasPrefix(l, "url:") {
			l = "url: http://127.0.0.1:9"
		}
		down = append(down, l)
	}
	restore := func() { _ = os.WriteFile(conf, orig, 0o600) }
	t.Cleanup(restore)
	if err := os.WriteFile(conf, []byte(strings.Join(down, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	o.terminate(t, vm.ID)
	restore()

	if got := leaseIPs(arOf(t, o.vnet(t, net), "0")); len(got) != 0 {
		t.Fatalf("oned kept %v after a free with NetBox down: the lease is stranded", got)
	}
	if _, ok := o.ips(t, vrf)[vm.NICs[0].IP]; !ok {
		t.Fatalf("NetBox lost %s although it was down", vm.NICs[0].IP)
	}
	if !strings.Contains(o.onedLog(t), "could not free "+vm.NICs[0].IP) {
		t.Error("oned.log does not say what free left behind")
	}
	kinds, code := o.auditKinds(t, net)
	if code != 8 || kinds["orphan"] != 1 {
		t.Fatalf("audit: exit %d, %v; want one orphan", code, kinds)
	}
	// sync leaves an orphan younger than the driver's timeout (its get_address may not
	// have reached oned yet): under a 2 s timeout this one is settled 2 s on.
	time.Sleep(2100 * time.Millisecond)
	if out, code := o.driverEnv(t, "netbox", o.vnetXML(t, net), []string{"NETBOX_IPAM_TIMEOUT=2s"}, "sync"); code != 0 {
		t.Fatalf("sync exit %d\n%s", code, out)
	}
	if ips := o.ips(t, vrf); len(ips) != 0 {
		t.Errorf("after sync NetBox still holds %v", ips)
	}
}

// TestSyncAsOtherUser: onevnet shows a user outside the oneadmin group only what it may
// manage, so sync refuses to act on that view (everything else would look like
// orphans) and audit says its view is partial.
func TestSyncAsOtherUser(t *testing.T) {
	o := oned(t)
	name := uniq("e2e-user")
	o.must(t, "oneuser", "create", name, "pw-"+name)
	t.Cleanup(func() { _, _ = o.cli("oneuser", "delete", name) })
	auth := filepath.Join(t.TempDir(), "one_auth")
	if err := os.WriteFile(auth, []byte(name+":pw-"+name), 0o600); err != nil {
		t.Fatal(err)
	}
	as := []string{"ONE_AUTH=" + auth}
	out, code := o.driverEnv(t, "netbox", nil, as, "sync", "--all")
	if code != 1 {
		t.Fatalf("sync --all as %s: exit %d, want 1 (refused)\n%s", name, code, out)
	}
	// The refusal is the one stderr line; check it through a run that captures stderr.
	cmd := exec.Command(o.vars["NETBOX_IPAM_BIN"], "sync", "--all")
	cmd.Env = append(append([]string{}, o.env...), "NETBOX_IPAM_CONFIG="+o.vars["NETBOX_IPAM_CONFDIR"]+"/netbox-ipam.yaml", "ONE_AUTH="+auth,
		"PATH="+o.path+":/usr/bin:/bin")
	b, _ := cmd.CombinedOutput()
	if !strings.Contains(string(b), "user "+name+" is not in the oneadmin group") || strings.Count(strings.TrimSpace(string(b)), "\n") != 0 {
		t.Errorf("sync as %s said %q", name, b)
	}
	// The same user's audit runs, and says its view is partial.
	cmd = exec.Command(o.vars["NETBOX_IPAM_BIN"], "audit", "--all")
	cmd.Env = append(append([]string{}, o.env...), "NETBOX_IPAM_CONFIG="+o.vars["NETBOX_IPAM_CONFDIR"]+"/netbox-ipam.yaml", "ONE_AUTH="+auth,
		"PATH="+o.path+":/usr/bin:/bin")
	b, _ = cmd.CombinedOutput()
	if !strings.Contains(string(b), "this view is partial") {
		t.Errorf("audit as %s said %q", name, b)
	}
	// oneadmin's sync passes the gate (a solo oned answers RAFT state 0).
	if out, code := o.driver(t, "netbox", nil, "sync", "--all", "--dry-run"); code != 0 && code != 8 {
		t.Errorf("sync --dry-run as oneadmin: exit %d\n%s", code, out)
	}
}

// auditAllOf runs audit --all (read from the real oned) and returns the drift it
// finds in network net: other networks and stale objects of earlier runs sharing this
// oned and NetBox are not this test's.
func (o *One) auditAllOf(t testing.TB, net int) []string {
	t.Helper()
	out, code := o.driver(t, "netbox", nil, "audit", "--all", "--json")
	var rep struct {
		ARs []struct {
			VNet     string                              `json:"vnet"`
			Findings []struct{ Kind, IP, Detail string } `json:"findings"`
		} `json:"ars"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || (code != 0 && code != 8) {
		t.Fatalf("audit --all --json: exit %d, %v\n%s", code, err, out)
	}
	var drift []string
	seen := false
	for _, ar := range rep.ARs {
		if ar.VNet != strconv.Itoa(net) {
			continue
		}
		seen = true
		for _, f := range ar.Findings {
			if f.Kind != "label" {
				drift = append(drift, f.Kind+" "+f.IP+": "+f.Detail)
			}
		}
	}
	if !seen {
		t.Fatalf("audit --all did not audit network %d:\n%s", net, out)
	}
	return drift
}

// TestSyncActsOnOnedNow: sync's picture can be minutes old (or a file); before it acts
// on an AR it reads the network from the real oned again. A picture taken before a VM
// was created must not cost that VM its NetBox lease (an "orphan" in the picture), and
// one taken before a VM was terminated must not bring its freed lease back ("missing").
func TestSyncActsOnOnedNow(t *testing.T) {
	o := oned(t)
	vrf, net := o.spanNet(t, "10.157.0.0/24", "10.157.0.10", 20, "")
	gone := o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", net))
	before := o.vnetXML(t, net) // holds gone's lease, not yet the new VM's
	vm := o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", net))
	o.terminate(t, gone.ID) // after vm took the next address: the two differ
	if gone.NICs[0].IP == vm.NICs[0].IP {
		t.Fatalf("both VMs got %s", vm.NICs[0].IP)
	}
	time.Sleep(2100 * time.Millisecond) // past the 2 s timeout below: the new lease is settled

	out, code := o.driverEnv(t, "netbox", before, []string{"NETBOX_IPAM_TIMEOUT=2s"}, "sync")
	if code != 0 {
		t.Fatalf("sync from the old picture: exit %d\n%s", code, out)
	}
	ips := o.ips(t, vrf)
	if _, ok := ips[vm.NICs[0].IP]; !ok {
		t.Errorf("sync deleted VM %d's lease %s, which oned holds now\n%s", vm.ID, vm.NICs[0].IP, out)
	}
	if _, ok := ips[gone.NICs[0].IP]; ok {
		t.Errorf("sync re-created %s, which oned freed with VM %d\n%s", gone.NICs[0].IP, gone.ID, out)
	}
	if !strings.Contains(out, "changed during sync") {
		t.Errorf("sync does not say what it left:\n%s", out)
	}
	o.wantLeases(t, vrf, arOf(t, o.vnet(t, net), "0"))
	o.terminate(t, vm.ID)
}
