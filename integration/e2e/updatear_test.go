package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// driver runs the driver installed in the test oned (audit, sync…) with the
// configuration of IPAM_MAD name, stdin from in; it returns stdout and the exit code.
func (o *One) driver(t testing.TB, name string, in []byte, args ...string) (string, int) {
	t.Helper()
	return o.driverEnv(t, name, in, nil, args...)
}

// driverEnv is driver with more environment (the last value of a name wins).
func (o *One) driverEnv(t testing.TB, name string, in []byte, env []string, args ...string) (string, int) {
	t.Helper()
	bin, dir := o.vars["NETBOX_IPAM_BIN"], o.vars["NETBOX_IPAM_CONFDIR"]
	if bin == "" || dir == "" {
		t.Skip("the driver's binary and configuration are only known on the test oned's machine (.opennebula.env)")
	}
	conf := dir + "/netbox-ipam.yaml"
	if name != "netbox" {
		conf = dir + "/netbox-ipam.d/" + name + ".yaml"
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append([]string{}, o.env...), "NETBOX_IPAM_CONFIG="+conf, "NETBOX_URL=", "NETBOX_TOKEN=",
		"PATH="+o.path+":/usr/bin:/bin")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if errb.Len() > 0 {
		t.Logf("netbox-ipam %v stderr: %s", args, errb.String())
	}
	return out.String(), code
}

// auditKinds audits one network (onevnet show -x on stdin) and returns the kinds of
// drift found and the exit code.
func (o *One) auditKinds(t testing.TB, net int) (map[string]int, int) {
	t.Helper()
	out, code := o.driver(t, "netbox", o.vnetXML(t, net), "audit", "--json")
	var rep struct {
		ARs []struct {
			Findings []struct{ Kind string } `json:"findings"`
		} `json:"ars"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("audit --json: %v: %s", err, out)
	}
	kinds := map[string]int{}
	for _, ar := range rep.ARs {
		for _, f := range ar.Findings {
			kinds[f.Kind]++
		}
	}
	return kinds, code
}

// TestUpdatearSize: `onevnet updatear --append` grows and shrinks an AR without telling
// the driver; leases keep working, audit reports the range, sync makes it match.
func TestUpdatearSize(t *testing.T) {
	o := oned(t)
	vrf, net := o.spanNet(t, "10.131.0.0/24", "10.131.0.10", 10, "")
	o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", net))
	for _, tc := range []struct {
		size string
		span string
	}{{"20", "10.131.0.10-10.131.0.29"}, {"15", "10.131.0.10-10.131.0.24"}} {
		o.must(t, "onevnet", "updatear", strconv.Itoa(net), "0", template(t, `SIZE = "`+tc.size+`"`), "--append")
		if got := arOf(t, o.vnet(t, net), "0").Attrs.Get("SIZE"); got != tc.size {
			t.Fatalf("oned's SIZE %s after updatear, want %s", got, tc.size)
		}
		kinds, code := o.auditKinds(t, net)
		if code != 8 || kinds["range"] != 1 {
			t.Fatalf("SIZE %s: audit exit %d, findings %v; want 8 and one range", tc.size, code, kinds)
		}
		if _, code := o.driver(t, "netbox", o.vnetXML(t, net), "sync"); code != 0 {
			t.Fatalf("sync exit %d", code)
		}
		if rs := o.driverRanges(t, vrf); len(rs) != 1 || spanOf(t, rs[0]) != tc.span {
			t.Fatalf("after sync the range is %v, want %s", rs, tc.span)
		}
		if kinds, code := o.auditKinds(t, net); code != 0 {
			t.Fatalf("audit after sync: exit %d, %v", code, kinds)
		}
		vm := o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", net))
		if len(vm.NICs) != 1 {
			t.Fatalf("a lease after SIZE %s: %+v", tc.size, vm.NICs)
		}
		o.wantLeases(t, vrf, arOf(t, o.vnet(t, net), "0"))
	}
}

// TestUpdatearDropsDriverAttributes: updatear without --append replaces the AR, and
// oned keeps only its own attributes: the NetBox ids are gone. Leases, frees and the
// network's deletion still find the driver's range by the AR's span.
func TestUpdatearDropsDriverAttributes(t *testing.T) {
	o := oned(t)
	v := o.vrf(t)
	net := o.createVNet(t, vnetTemplate(uniq("dropped"),
		`TYPE = "IP4", NETWORK_ADDRESS = "10.132.0.0", NETWORK_MASK = "255.255.255.0", SIZE = "20", IPAM_MAD = "netbox", NETBOX_VRF = "`+strconv.Itoa(v.ID)+`"`))
	vm1 := o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", net))

	// Without --append the CLI wants the whole AR, as a vector with its AR_ID.
	o.must(t, "onevnet", "updatear", strconv.Itoa(net), "0", template(t, `AR = [ AR_ID = "0", SIZE = "20" ]`))
	ar := arOf(t, o.vnet(t, net), "0")
	if ar.Attrs.Get("NETBOX_IP_RANGE_ID") != "" || ar.Attrs.Get("NETBOX_PREFIX_ID") != "" || ar.Attrs.Get("IPAM_MAD") != "netbox" {
		t.Fatalf("after updatear oned's AR is %v; this test expects the NetBox ids gone and IPAM_MAD kept", ar.Attrs)
	}

	vm2 := o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", net))
	if len(vm2.NICs) != 1 || vm2.NICs[0].IP != "10.132.0.3" {
		t.Fatalf("lease after the ids were dropped: %+v", vm2.NICs)
	}
	o.wantLeases(t, v.ID, arOf(t, o.vnet(t, net), "0"))
	o.must(t, "onevnet", "hold", strconv.Itoa(net), "10.132.0.9")
	o.wantLeases(t, v.ID, arOf(t, o.vnet(t, net), "0"))

	o.terminate(t, vm1.ID)
	if _, ok := o.ips(t, v.ID)["10.132.0.2"]; ok {
		t.Error("free_address left 10.132.0.2 in NetBox")
	}
	o.must(t, "onevnet", "release", strconv.Itoa(net), "10.132.0.9")
	o.terminate(t, vm2.ID)
	if ips := o.ips(t, v.ID); len(ips) != 0 {
		t.Errorf("NetBox still holds %v", ips)
	}
	// audit names the lost ids; sync --all --prune must not take the live AR's range
	// (which no AR names any more) for a stale one, and writes the ids and NetBox's
	// network settings back into oned's AR.
	if kinds, code := o.auditKinds(t, net); code != 8 || kinds["ids"] != 1 {
		t.Errorf("audit of the AR without ids: exit %d, %v; want an ids finding", code, kinds)
	}
	if out, code := o.driver(t, "netbox", nil, "sync", "--all", "--prune"); code != 0 {
		t.Fatalf("sync --all --prune: exit %d\n%s", code, out)
	}
	rs := o.driverRanges(t, v.ID)
	if len(rs) != 1 {
		t.Fatalf("sync --all --prune removed the range of a live AR that lost its ids: %v", rs)
	}
	ar = arOf(t, o.vnet(t, net), "0")
	if ar.Attrs.Get("NETBOX_IP_RANGE_ID") != strconv.Itoa(rs[0].ID) || ar.Attrs.Get("GATEWAY") != "10.132.0.1" ||
		ar.Attrs.Get("NETWORK_MASK") != "255.255.255.0" || ar.Attrs.Get("NETBOX_PREFIX") != "10.132.0.0/24" {
		t.Errorf("after sync oned's AR is %v; want its NetBox ids and settings back", ar.Attrs)
	}
	if kinds, code := o.auditKinds(t, net); code != 0 {
		t.Errorf("audit after sync: exit %d, %v", code, kinds)
	}

	o.deleteVNet(t, net)
	if ps, rs := o.prefixes(t, v.ID), o.ranges(t, v.ID); len(ps)+len(rs) != 0 {
		t.Errorf("after delete NetBox still holds prefixes %v and ranges %v", ps, rs)
	}
}

// TestSyncKeepsUpdatearSize: sync's picture shows an AR that lost its NetBox ids
// (updatear without --append), so sync would write them back; an updatear SIZE made
// after the picture is kept: sync leaves the AR whose span changed and says so, and
// the next sync, from a new picture, restores the ids onto the new SIZE and makes the
// range match it.
func TestSyncKeepsUpdatearSize(t *testing.T) {
	o := oned(t)
	v := o.vrf(t)
	net := o.createVNet(t, vnetTemplate(uniq("resized"),
		`TYPE = "IP4", NETWORK_ADDRESS = "10.133.0.0", NETWORK_MASK = "255.255.255.0", SIZE = "20", IPAM_MAD = "netbox", NETBOX_VRF = "`+strconv.Itoa(v.ID)+`"`))
	o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", net))
	o.must(t, "onevnet", "updatear", strconv.Itoa(net), "0", template(t, `AR = [ AR_ID = "0", SIZE = "20" ]`))
	picture := o.vnetXML(t, net) // SIZE 20, no ids
	o.must(t, "onevnet", "updatear", strconv.Itoa(net), "0", template(t, `AR = [ AR_ID = "0", SIZE = "25" ]`))

	out, code := o.driver(t, "netbox", picture, "sync")
	if code != 0 || !strings.Contains(out, "changed during sync") {
		t.Errorf("sync from the picture before the resize: exit %d, want 0 and what it left\n%s", code, out)
	}
	ar := arOf(t, o.vnet(t, net), "0")
	if ar.Attrs.Get("SIZE") != "25" {
		t.Fatalf("sync reverted the resize made during it: oned's AR is %v", ar.Attrs)
	}
	if rs := o.driverRanges(t, v.ID); len(rs) != 1 || spanOf(t, rs[0]) != "10.133.0.2-10.133.0.21" {
		t.Fatalf("sync from the old picture changed the range: %v", rs)
	}

	if out, code := o.driver(t, "netbox", o.vnetXML(t, net), "sync"); code != 0 {
		t.Fatalf("sync from a new picture: exit %d\n%s", code, out)
	}
	rs := o.driverRanges(t, v.ID)
	ar = arOf(t, o.vnet(t, net), "0")
	if len(rs) != 1 || spanOf(t, rs[0]) != "10.133.0.2-10.133.0.26" || ar.Attrs.Get("SIZE") != "25" ||
		ar.Attrs.Get("NETBOX_IP_RANGE_ID") != strconv.Itoa(rs[0].ID) {
		t.Errorf("after the second sync: range %v, oned's AR %v", rs, ar.Attrs)
	}
	if kinds, code := o.auditKinds(t, net); code != 0 {
		t.Errorf("audit after sync: exit %d, %v", code, kinds)
	}
}
