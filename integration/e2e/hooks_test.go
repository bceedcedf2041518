package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHooksRecordHolders: with the driver's hooks installed, NetBox shows a VM's id and
// name on its lease within seconds of onevm create and nic-attach (to a running VM and
// to a powered-off one); nic-detach and terminate leave nothing of it.
func TestHooksRecordHolders(t *testing.T) {
	o := oned(t)
	if out, code := o.driver(t, "netbox", nil, "hooks", "install"); code != 0 || !strings.Contains(out, "hook netbox-ipam-netbox-vm-allocate") {
		t.Fatalf("hooks install: exit %d\n%s", code, out)
	}
	t.Cleanup(func() { o.driver(t, "netbox", nil, "hooks", "remove") })
	if out, code := o.driver(t, "netbox", nil, "hooks", "install"); code != 0 || !strings.Contains(out, "exists  hook netbox-ipam-netbox-vm-attachnic") {
		t.Fatalf("hooks install again: exit %d\n%s", code, out)
	}
	vrf, net := o.spanNet(t, "10.115.0.0/24", "10.115.0.10", 20, "")
	name := uniq("hooked")
	start := time.Now()
	vm := o.runningVM(t, fmt.Sprintf("NAME = %q\nNIC = [ NETWORK_ID = %d ]", name, net))
	id := strconv.Itoa(vm.ID)
	recorded := func(ip string) {
		t.Helper()
		eventually(t, "the holder of "+ip+" in NetBox", func() error {
			l, ok := o.ips(t, vrf)[ip]
			if !ok || l.CF["one_vm_id"] != id || !strings.Contains(l.Desc, "("+name+")") || l.CF["one_mac"] == "" {
				return fmt.Errorf("NetBox holds %+v", l)
			}
			return nil
		})
	}
	recorded(vm.NICs[0].IP)
	t.Logf("create: VM %s's id and name on its lease after %s", id, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	ip2, nic2 := o.attachNIC(t, vm.ID, net)
	recorded(ip2)
	t.Logf("nic-attach: recorded after %s", time.Since(start).Round(time.Millisecond))
	o.waitRunning(t, vm.ID)
	o.must(t, "onevm", "nic-detach", id, nic2)
	eventually(t, "the detached NIC's lease gone", func() error {
		if _, ok := o.ips(t, vrf)[ip2]; ok {
			return fmt.Errorf("NetBox still holds %s", ip2)
		}
		return nil
	})
	// A nic-attach to a powered-off VM: the attachnic hook records it. OpenNebula 7.2
	// runs no API hook for it (it logs the call as one.vm.nicattach, which onehook
	// refuses) and the VM changes no state (a POWEROFF hook never fires): there the
	// lease is recorded when the VM resumes (RUNNING), or by sync.
	o.must(t, "onevm", "poweroff", "--hard", id)
	eventually(t, "VM "+id+" POWEROFF", func() error {
		if s, err := o.vmState(vm.ID); err != nil || s != 8 {
			return fmt.Errorf("state %d %v", s, err)
		}
		return nil
	})
	start = time.Now()
	ip3, _ := o.attachNIC(t, vm.ID, net)
	if strings.HasPrefix(o.version, "7.2.") {
		o.must(t, "onevm", "resume", id)
		o.waitRunning(t, vm.ID)
	}
	recorded(ip3)
	t.Logf("nic-attach while powered off: recorded after %s", time.Since(start).Round(time.Millisecond))
	o.terminate(t, vm.ID)
	eventually(t, "the VM's leases gone", func() error {
		if n := len(o.ips(t, vrf)); n != 0 {
			return fmt.Errorf("NetBox holds %d addresses", n)
		}
		return nil
	})
	if kinds, code := o.auditKinds(t, net); code != 0 {
		t.Errorf("audit after the hooks: exit %d, %v", code, kinds)
	}
}

// attachNIC attaches a NIC on network net to VM id (one NIC before) and returns the new
// NIC's address and id once oned shows it.
func (o *One) attachNIC(t *testing.T, id, net int) (ip, nicID string) {
	t.Helper()
	o.must(t, "onevm", "nic-attach", strconv.Itoa(id), "--network", strconv.Itoa(net))
	eventually(t, "the attached NIC", func() error {
		if d := o.vm(t, id); len(d.NICs) == 2 {
			ip, nicID = d.NICs[1].IP, d.NICs[1].NICID
			return nil
		}
		return fmt.Errorf("one NIC")
	})
	return ip, nicID
}
