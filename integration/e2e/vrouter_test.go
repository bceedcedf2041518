package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHooksRecordVRouter: with the hooks installed, a virtual router's floating IP
// names the router (one_vrouter_id and its name) and the VMs that onevrouter
// instantiate makes inside oned (no one.vm.allocate, so no VM hook) name themselves;
// deleting the router leaves nothing in NetBox.
func TestHooksRecordVRouter(t *testing.T) {
	o := oned(t)
	o.driver(t, "netbox", nil, "hooks", "remove") // another test's, maybe with vms
	if out, code := o.driver(t, "netbox", nil, "hooks", "install"); code != 0 || !strings.Contains(out, "hook netbox-ipam-netbox-vrouter-instantiate") {
		t.Fatalf("hooks install: exit %d\n%s", code, out)
	}
	t.Cleanup(func() { o.driver(t, "netbox", nil, "hooks", "remove") })
	t.Cleanup(func() { o.hookFailures(t) })
	vrf, net := o.spanNet(t, "10.118.0.0/24", "10.118.0.10", 20, "")

	tmpl := createdID(t, o.must(t, "onetemplate", "create", template(t, fmt.Sprintf("NAME = %q\nVROUTER = \"YES\"\nCPU = 0.1\nMEMORY = 32\n", uniq("vr-tmpl")))))
	t.Cleanup(func() { o.cli("onetemplate", "delete", strconv.Itoa(tmpl)) })
	name := uniq("gw")
	start := time.Now()
	vr := createdID(t, o.must(t, "onevrouter", "create", template(t, fmt.Sprintf("NAME = %q\nNIC = [ NETWORK_ID = %d, FLOATING_IP = \"YES\" ]\n", name, net))))
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			o.cli("onevrouter", "delete", strconv.Itoa(vr))
		}
	})
	// Two VMs: the hook drains a router's VMs as one batch.
	o.must(t, "onevrouter", "instantiate", strconv.Itoa(vr), strconv.Itoa(tmpl), "--multiple", "2")
	id := strconv.Itoa(vr)
	var vmIPs map[string]string // VM id → its lease, as NetBox names them
	eventually(t, "the router's and its VMs' leases named in NetBox", func() error {
		ips := o.ips(t, vrf)
		if len(ips) != 3 {
			return fmt.Errorf("NetBox holds %d addresses", len(ips))
		}
		routers := 0
		vmIPs = map[string]string{}
		for ip, l := range ips {
			switch {
			case l.CF["one_vrouter_id"] == id && strings.Contains(l.Desc, "virtual router "+id+" ("+name+")"):
				routers++
			case l.CF["one_vm_id"] != "" && strings.Contains(l.Desc, "(vr-"+name+"-"):
				vmIPs[l.CF["one_vm_id"]] = ip
			}
		}
		if routers != 1 || len(vmIPs) != 2 {
			return fmt.Errorf("NetBox holds %+v", ips)
		}
		return nil
	})
	t.Logf("vrouter create + instantiate of two VMs: the three leases named %s after the create", time.Since(start).Round(time.Millisecond))
	for vmID, vmIP := range vmIPs {
		if d := o.vm(t, atoi(t, vmID)); len(d.NICs) != 1 || d.NICs[0].IP != vmIP {
			t.Errorf("NetBox names VM %s at %s; oned says %+v", vmID, vmIP, d.NICs)
		}
	}
	if kinds, code := o.auditKinds(t, net); code != 0 {
		t.Errorf("audit with the router's leases named: exit %d, %v", code, kinds)
	}

	o.must(t, "onevrouter", "delete", id)
	deleted = true
	o.waitGone(t, "onevrouter", vr)
	eventually(t, "the router's leases gone", func() error {
		if n := len(o.ips(t, vrf)); n != 0 {
			return fmt.Errorf("NetBox holds %d addresses", n)
		}
		return nil
	})
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}
