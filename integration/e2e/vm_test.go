package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// spanNet makes a VRF with an admin's /24 and a network whose AR 0 spans ip…ip+size-1
// in it; extra goes into the AR.
func (o *One) spanNet(t testing.TB, cidr, ip string, size int, extra string) (vrfID, netID int) {
	t.Helper()
	v := o.vrf(t)
	o.prefix(t, v.ID, cidr)
	ar := fmt.Sprintf(`TYPE = "IP4", IP = %q, SIZE = "%d", IPAM_MAD = "netbox", NETBOX_VRF = "%d"`, ip, size, v.ID)
	if extra != "" {
		ar += ", " + extra
	}
	return v.ID, o.createVNet(t, vnetTemplate(uniq("net"), ar))
}

// TestVMLeaseAndTerminate: a VM's NIC takes a lease through get_address; NetBox holds
// exactly that address with the lease's AR (its MAC is the hooks' to record, see
// hooks_test.go); terminate removes it.
func TestVMLeaseAndTerminate(t *testing.T) {
	o := oned(t)
	vrf, net := o.spanNet(t, "10.111.0.0/24", "10.111.0.10", 20, "")
	vm := o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", net))
	if len(vm.NICs) != 1 || vm.NICs[0].IP != "10.111.0.10" || vm.NICs[0].Gateway != "10.111.0.1" {
		t.Fatalf("VM NICs %+v; want 10.111.0.10 with gateway 10.111.0.1", vm.NICs)
	}
	ar := arOf(t, o.vnet(t, net), "0")
	if got := leaseIPs(ar); len(got) != 1 || got[0] != "10.111.0.10" {
		t.Fatalf("oned's leases %v", got)
	}
	ips := o.ips(t, vrf)
	ip, ok := ips["10.111.0.10"]
	if len(ips) != 1 || !ok || !hasTag(ip, o.tag) || ip.CF["one_ar_id"] != "0" || ip.CF["one_mac"] != "" ||
		ip.CF["one_request_id"] == "" || ip.Address != "10.111.0.10/24" {
		t.Fatalf("NetBox holds %+v; want 10.111.0.10/24 tagged %s, AR 0, no MAC yet", ips, o.tag)
	}
	o.wantLeases(t, vrf, ar)

	o.terminate(t, vm.ID)
	if got := leaseIPs(arOf(t, o.vnet(t, net), "0")); len(got) != 0 {
		t.Fatalf("oned still holds %v after terminate", got)
	}
	if ips := o.ips(t, vrf); len(ips) != 0 {
		t.Errorf("NetBox still holds %v after terminate", ips)
	}
}

// TestVMFixedIP: a NIC asking for an address takes it through allocate_address; an
// address someone else holds in NetBox makes oned refuse the VM and NetBox stays as it
// was.
func TestVMFixedIP(t *testing.T) {
	o := oned(t)
	vrf, net := o.spanNet(t, "10.112.0.0/24", "10.112.0.10", 20, "")
	vm := o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d, IP = \"10.112.0.17\" ]", net))
	if len(vm.NICs) != 1 || vm.NICs[0].IP != "10.112.0.17" {
		t.Fatalf("VM NICs %+v", vm.NICs)
	}
	if ip, ok := o.ips(t, vrf)["10.112.0.17"]; !ok || !hasTag(ip, o.tag) || ip.CF["one_mac"] != vm.NICs[0].MAC {
		t.Fatalf("NetBox %+v; want 10.112.0.17 tagged with MAC %s", o.ips(t, vrf), vm.NICs[0].MAC)
	}

	o.foreignIP(t, vrf, "10.112.0.12/24", "core router loopback")
	before := o.ips(t, vrf)
	if _, err := o.tryVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d, IP = \"10.112.0.12\" ]", net)); err == nil {
		t.Fatal("oned accepted a VM on an address NetBox gives to someone else")
	} else if !strings.Contains(err.Error(), "lease") {
		t.Errorf("refusal %q does not speak of the lease", err)
	}
	after := o.ips(t, vrf)
	if len(after) != len(before) || after["10.112.0.12"].ID != before["10.112.0.12"].ID || hasTag(after["10.112.0.12"], o.tag) {
		t.Errorf("a refused VM changed NetBox: before %v, after %v", before, after)
	}
	if got := leaseIPs(arOf(t, o.vnet(t, net), "0")); len(got) != 1 {
		t.Errorf("oned's leases after the refusal: %v", got)
	}
	if !strings.Contains(o.onedLog(t), "10.112.0.12 is already in NetBox") {
		t.Error("oned.log does not name the address NetBox already holds")
	}
}

// TestVMFailsAfterItsFirstLease: a VM whose second NIC is refused gets no VM, and the
// lease its first NIC took is freed in NetBox too.
func TestVMFailsAfterItsFirstLease(t *testing.T) {
	o := oned(t)
	vrf, net := o.spanNet(t, "10.113.0.0/24", "10.113.0.10", 20, "")
	o.foreignIP(t, vrf, "10.113.0.15/24", "a printer")
	_, err := o.tryVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]\nNIC = [ NETWORK_ID = %d, IP = \"10.113.0.15\" ]", net, net))
	if err == nil {
		t.Fatal("oned accepted the VM")
	}
	if got := leaseIPs(arOf(t, o.vnet(t, net), "0")); len(got) != 0 {
		t.Errorf("oned still holds %v", got)
	}
	ips := o.ips(t, vrf)
	if len(ips) != 1 || hasTag(ips["10.113.0.15"], o.tag) {
		t.Errorf("NetBox holds %v; want only the printer", ips)
	}
}

// TestNICAttachDetach: a running VM gets a second NIC (get_address) and loses it
// (free_address).
func TestNICAttachDetach(t *testing.T) {
	o := oned(t)
	vrf, net := o.spanNet(t, "10.114.0.0/24", "10.114.0.10", 20, "")
	vm := o.runningVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", net))
	o.must(t, "onevm", "nic-attach", strconv.Itoa(vm.ID), "--network", strconv.Itoa(net))
	var nic VMNIC
	eventually(t, "the attached NIC", func() error {
		d := o.vm(t, vm.ID)
		if len(d.NICs) != 2 {
			return fmt.Errorf("VM has %d NICs", len(d.NICs))
		}
		nic = d.NICs[1]
		return nil
	})
	if nic.IP != "10.114.0.11" {
		t.Fatalf("attached NIC %+v", nic)
	}
	o.wantLeases(t, vrf, arOf(t, o.vnet(t, net), "0"))
	if len(o.ips(t, vrf)) != 2 {
		t.Fatalf("NetBox holds %v", o.ips(t, vrf))
	}
	o.waitRunning(t, vm.ID)
	o.must(t, "onevm", "nic-detach", strconv.Itoa(vm.ID), nic.NICID)
	eventually(t, "the detached NIC's lease gone from NetBox", func() error {
		if _, ok := o.ips(t, vrf)[nic.IP]; ok {
			return fmt.Errorf("NetBox still holds %s", nic.IP)
		}
		return nil
	})
	o.wantLeases(t, vrf, arOf(t, o.vnet(t, net), "0"))
}

// runningVM creates a VM and deploys it to the dummy host.
func (o *One) runningVM(t testing.TB, tmpl string) VMDoc {
	t.Helper()
	vm := o.createVM(t, tmpl)
	host := o.vars["ONE_HOST"]
	if host == "" {
		host = "dummy-host"
	}
	// The scheduler may have placed it first (deploy then refuses: not PENDING).
	if _, err := o.cli("onevm", "deploy", strconv.Itoa(vm.ID), host); err != nil && !strings.Contains(err.Error(), "not available for state") {
		t.Fatal(err)
	}
	o.waitRunning(t, vm.ID)
	return o.vm(t, vm.ID)
}

const lcmRunning = 3

func (o *One) waitRunning(t testing.TB, id int) {
	t.Helper()
	eventually(t, fmt.Sprintf("VM %d RUNNING", id), func() error {
		if d := o.vm(t, id); d.LCMState != lcmRunning {
			return fmt.Errorf("VM %d is in state %d/%d", id, d.State, d.LCMState)
		}
		return nil
	})
}

// onedLog is oned's log (where the driver's one-line reasons for VM NICs land).
func (o *One) onedLog(t testing.TB) string {
	t.Helper()
	loc := o.vars["ONE_LOCATION"]
	if loc == "" {
		t.Skip("oned.log is only readable on the test oned's own machine")
	}
	b, err := readFile(loc + "/var/oned.log")
	if err != nil {
		t.Fatal(err)
	}
	return b
}
