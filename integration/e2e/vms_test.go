package e2e

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// TestHooksKeepNetBoxVMs: with vms.enabled and the hooks installed, NetBox shows an
// OpenNebula VM as a virtual machine (its name, id, status and the cluster of its
// host), with an interface per NIC carrying the MAC and the lease, within seconds of
// onevm create, nic-attach and nic-detach; rename, suspend, undeploy, stop (each with
// the resume after it) and poweroff show in its name and
// status; after terminate nothing of it is left.
func TestHooksKeepNetBoxVMs(t *testing.T) {
	o := oned(t)
	conf := o.vmsConfig(t)
	env := []string{"NETBOX_IPAM_CONFIG=" + conf}
	if out, code := o.driverEnv(t, "netbox", nil, env, "setup"); code != 0 || !strings.Contains(out, "one_cluster_id") {
		t.Fatalf("setup with vms: exit %d\n%s", code, out)
	}
	o.driver(t, "netbox", nil, "hooks", "remove") // another test's, without vms
	out, code := o.driverEnv(t, "netbox", nil, env, "hooks", "install")
	if code != 0 || !strings.Contains(out, "created hook netbox-ipam-netbox-vm-done") {
		t.Fatalf("hooks install with vms: exit %d\n%s", code, out)
	}
	t.Cleanup(func() { o.driver(t, "netbox", nil, "hooks", "remove") })
	t.Cleanup(func() { o.hookFailures(t) })
	if out, code := o.driverEnv(t, "netbox", nil, env, "check"); !strings.Contains(out, "ok   hooks") {
		t.Errorf("check with the vms hooks: exit %d\n%s", code, out)
	}

	vrf, net := o.spanNet(t, "10.116.0.0/24", "10.116.0.10", 20, "")
	name := uniq("vm-in-netbox")
	start := time.Now()
	vm := o.runningVM(t, fmt.Sprintf("NAME = %q\nNIC = [ NETWORK_ID = %d ]", name, net))
	id := strconv.Itoa(vm.ID)
	var nbvm netbox.VirtualMachine
	o.eventuallyVM(t, id, func(v netbox.VirtualMachine, ifaces map[string]netbox.VMInterface, on map[string]string) error {
		nbvm = v
		switch {
		case v.Name != name || v.Status.Value != "active" || v.Cluster == nil:
			return fmt.Errorf("virtual machine %q status %s cluster %v", v.Name, v.Status.Value, v.Cluster)
		case len(ifaces) != 1 || !strings.EqualFold(ifaces["NIC0"].MACAddress, vm.NICs[0].MAC):
			return fmt.Errorf("interfaces %+v", ifaces)
		case on[vm.NICs[0].IP] != "NIC0" || v.PrimaryIP4 == nil:
			return fmt.Errorf("addresses on interfaces %v, primary %v", on, v.PrimaryIP4)
		}
		return nil
	})
	t.Logf("create: NetBox virtual machine %d complete %s after onevm create", nbvm.ID, time.Since(start).Round(time.Millisecond))
	cl, ok, err := o.nb.ClusterWith(context.Background(), "opennebula", o.tag, "one_cluster_id", "0")
	if err != nil || !ok || cl.ID != nbvm.Cluster.ID || cl.Name != "default" {
		t.Errorf("the VM's cluster %v is not the driver's cluster of OpenNebula cluster 0 (default): %+v %v", nbvm.Cluster, cl, err)
	}
	if ip := o.ips(t, vrf)[vm.NICs[0].IP]; nbvm.PrimaryIP4.ID != ip.ID {
		t.Errorf("primary IPv4 %d, lease %+v", nbvm.PrimaryIP4.ID, ip)
	}

	start = time.Now()
	ip2, nic2 := o.attachNIC(t, vm.ID, net)
	o.eventuallyVM(t, id, func(_ netbox.VirtualMachine, ifaces map[string]netbox.VMInterface, on map[string]string) error {
		if len(ifaces) != 2 || on[ip2] != "NIC"+nic2 {
			return fmt.Errorf("interfaces %v, addresses on them %v", len(ifaces), on)
		}
		return nil
	})
	t.Logf("nic-attach: interface and lease after %s", time.Since(start).Round(time.Millisecond))

	o.waitRunning(t, vm.ID)
	start = time.Now()
	o.must(t, "onevm", "nic-detach", id, nic2)
	o.eventuallyVM(t, id, func(_ netbox.VirtualMachine, ifaces map[string]netbox.VMInterface, on map[string]string) error {
		if len(ifaces) != 1 || len(on) != 1 {
			return fmt.Errorf("interfaces %d, addresses on them %v", len(ifaces), on)
		}
		return nil
	})
	t.Logf("nic-detach: interface gone after %s", time.Since(start).Round(time.Millisecond))

	renamed := uniq("renamed")
	start = time.Now()
	o.must(t, "onevm", "rename", id, renamed)
	o.eventuallyVM(t, id, func(v netbox.VirtualMachine, _ map[string]netbox.VMInterface, _ map[string]string) error {
		if v.Name != renamed {
			return fmt.Errorf("virtual machine named %q", v.Name)
		}
		return nil
	})
	t.Logf("rename: name after %s", time.Since(start).Round(time.Millisecond))
	// suspend, undeploy and stop: each state hook sets the status, and the VM's return
	// to RUNNING (resume, then deploy where it left its host) sets it active again.
	host := o.vars["ONE_HOST"]
	if host == "" {
		host = "dummy-host"
	}
	for _, step := range []struct{ cmd, status string }{{"suspend", "paused"}, {"undeploy", "offline"}, {"stop", "offline"}} {
		o.waitRunning(t, vm.ID)
		start = time.Now()
		o.must(t, "onevm", step.cmd, id)
		o.eventuallyVM(t, id, func(v netbox.VirtualMachine, _ map[string]netbox.VMInterface, _ map[string]string) error {
			if v.Status.Value != step.status {
				return fmt.Errorf("virtual machine %s after %s, want %s", v.Status.Value, step.cmd, step.status)
			}
			return nil
		})
		t.Logf("%s: %s after %s", step.cmd, step.status, time.Since(start).Round(time.Millisecond))
		o.must(t, "onevm", "resume", id)
		if step.cmd != "suspend" { // back to PENDING: it needs a host again
			eventually(t, "VM "+id+" PENDING (or placed by the scheduler)", func() error {
				if s, err := o.vmState(vm.ID); err != nil || s != 1 && s != 3 {
					return fmt.Errorf("state %d %v", s, err)
				}
				return nil
			})
			if _, err := o.cli("onevm", "deploy", id, host); err != nil && !strings.Contains(err.Error(), "not available for state") {
				t.Fatal(err)
			}
		}
		o.eventuallyVM(t, id, func(v netbox.VirtualMachine, _ map[string]netbox.VMInterface, _ map[string]string) error {
			if v.Status.Value != "active" {
				return fmt.Errorf("virtual machine %s after resume", v.Status.Value)
			}
			return nil
		})
	}
	o.waitRunning(t, vm.ID)
	start = time.Now()
	o.must(t, "onevm", "poweroff", "--hard", id)
	o.eventuallyVM(t, id, func(v netbox.VirtualMachine, _ map[string]netbox.VMInterface, _ map[string]string) error {
		if v.Status.Value != "offline" {
			return fmt.Errorf("virtual machine %s", v.Status.Value)
		}
		return nil
	})
	t.Logf("poweroff: offline after %s", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	o.terminate(t, vm.ID)
	eventually(t, "the virtual machine gone", func() error {
		vms, err := o.nb.VirtualMachinesWith(context.Background(), o.tag, "one_vm_id", id)
		if err != nil || len(vms) != 0 {
			return fmt.Errorf("NetBox holds %d virtual machines of VM %s (%v)", len(vms), id, err)
		}
		if n := len(o.ips(t, vrf)); n != 0 {
			return fmt.Errorf("NetBox holds %d addresses", n)
		}
		return nil
	})
	t.Logf("terminate: virtual machine and leases gone after %s", time.Since(start).Round(time.Millisecond))
	// Each hook run is a line of the driver's log: the DONE hook's names what it removed.
	log, _ := os.ReadFile(filepath.Join(o.vars["ONE_LOCATION"], "var", "netbox-ipam-netbox.log"))
	if want := fmt.Sprintf("action=hook hook=state vm=%s objects=-virtual-machine/%d", id, nbvm.ID); !strings.Contains(string(log), want) {
		t.Errorf("the driver's log has no %q", want)
	}
}

// TestSyncKeepsNetBoxVMs: without the hooks running, audit --all (vms.enabled) finds
// a VM that holds a lease and has no NetBox virtual machine, sync makes it; after the
// VM is terminated audit finds its virtual machine stale and sync --prune removes it.
func TestSyncKeepsNetBoxVMs(t *testing.T) {
	o := oned(t)
	env := []string{"NETBOX_IPAM_CONFIG=" + o.vmsConfig(t)}
	if _, code := o.driverEnv(t, "netbox", nil, env, "setup"); code != 0 {
		t.Fatalf("setup with vms: exit %d", code)
	}
	o.driver(t, "netbox", nil, "hooks", "remove")
	_, net := o.spanNet(t, "10.117.0.0/24", "10.117.0.10", 20, "")
	vm := o.runningVM(t, fmt.Sprintf("NAME = %q\nNIC = [ NETWORK_ID = %d ]", uniq("synced"), net))
	id := strconv.Itoa(vm.ID)
	vms := func() []netbox.VirtualMachine {
		l, err := o.nb.VirtualMachinesWith(context.Background(), o.tag, "one_vm_id", id)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if l := vms(); len(l) != 0 {
		t.Fatalf("a NetBox virtual machine without hooks: %+v", l)
	}
	missing := "missing  virtual-machine  OpenNebula VM " + id + " "
	if out, code := o.driverEnv(t, "netbox", nil, env, "audit", "--all"); code != 8 || !strings.Contains(out, missing) {
		t.Fatalf("audit --all: exit %d, want 8 and %q\n%s", code, missing, out)
	}
	if out, code := o.driverEnv(t, "netbox", nil, env, "sync", "--all"); code != 0 || len(vms()) != 1 {
		t.Fatalf("sync --all: exit %d, %d virtual machines\n%s", code, len(vms()), out)
	}
	o.eventuallyVM(t, id, func(v netbox.VirtualMachine, ifaces map[string]netbox.VMInterface, on map[string]string) error {
		if len(ifaces) != 1 || on[vm.NICs[0].IP] != "NIC0" || v.Status.Value != "active" {
			return fmt.Errorf("status %s, interfaces %v, addresses on them %v", v.Status.Value, ifaces, on)
		}
		return nil
	})

	o.terminate(t, vm.ID)
	stale := fmt.Sprintf("virtual-machine #%-6d OpenNebula VM %s", vms()[0].ID, id)
	if out, code := o.driverEnv(t, "netbox", nil, env, "audit", "--all"); code != 8 || !strings.Contains(out, stale) {
		t.Fatalf("audit --all after terminate: exit %d, want 8 and %q\n%s", code, stale, out)
	}
	if out, code := o.driverEnv(t, "netbox", nil, env, "sync", "--all", "--prune"); code != 0 || len(vms()) != 0 {
		t.Fatalf("sync --all --prune: exit %d, %d virtual machines\n%s", code, len(vms()), out)
	}
}

// hookFailures logs, when the test failed, what the driver's hooks said when they
// failed (onehem-server keeps each run's output in the hook's EXECUTION_RECORDs).
func (o *One) hookFailures(t *testing.T) {
	if !t.Failed() {
		return
	}
	var pool struct {
		Hooks []struct {
			ID   string `xml:"ID"`
			Name string `xml:"NAME"`
		} `xml:"HOOK"`
	}
	out, _ := o.cli("onehook", "list", "-x")
	_ = xml.Unmarshal([]byte(out), &pool)
	for _, h := range pool.Hooks {
		if !strings.HasPrefix(h.Name, "netbox-ipam-") {
			continue
		}
		show, _ := o.cli("onehook", "show", "-x", h.ID)
		var one struct {
			Records []struct {
				Code   string `xml:"EXECUTION_RESULT>CODE"`
				Stderr string `xml:"EXECUTION_RESULT>STDERR"`
			} `xml:"HOOKLOG>HOOK_EXECUTION_RECORD"`
		}
		_ = xml.Unmarshal([]byte(show), &one)
		for _, r := range one.Records {
			if r.Code != "0" {
				msg, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(r.Stderr))
				t.Logf("hook %s failed (exit %s): %s", h.Name, r.Code, msg)
			}
		}
	}
}

// vmsConfig is the installed driver's configuration with vms.enabled, in a file of the
// test's own (the hooks name it; oned's actions keep the installed one).
func (o *One) vmsConfig(t *testing.T) string {
	t.Helper()
	return o.configWith(t, "\nvms:\n  enabled: true\n")
}

// eventuallyVM waits until the driver's NetBox virtual machine of OpenNebula VM id
// passes check, given its interfaces by name and which interface each address is on.
func (o *One) eventuallyVM(t *testing.T, id string, check func(netbox.VirtualMachine, map[string]netbox.VMInterface, map[string]string) error) {
	t.Helper()
	ctx := context.Background()
	eventually(t, "NetBox virtual machine of VM "+id, func() error {
		vms, err := o.nb.VirtualMachinesWith(ctx, o.tag, "one_vm_id", id)
		if err != nil || len(vms) != 1 {
			return fmt.Errorf("%d virtual machines (%v)", len(vms), err)
		}
		list, err := o.nb.VMInterfaces(ctx, vms[0].ID)
		if err != nil {
			return err
		}
		ifaces, byID := map[string]netbox.VMInterface{}, map[int]string{}
		for _, i := range list {
			ifaces[i.Name], byID[i.ID] = i, i.Name
		}
		addrs, err := o.nb.IPAddressesOfVM(ctx, vms[0].ID)
		if err != nil {
			return err
		}
		on := map[string]string{}
		for _, a := range addrs {
			if ip, err := a.Addr(); err == nil {
				on[ip.String()] = byID[a.AssignedObjectID]
			}
		}
		return check(vms[0], ifaces, on)
	})
}

// TestSyncBringsNetBoxVMsInStep: what oned did while onehem-server was stopped (its
// events are lost) reaches NetBox with sync --all: a rename, a nic-detach and a
// poweroff of a VM the hooks had recorded, and VMs created meanwhile, one named with
// 70 characters and two NICs named alike, which NetBox would refuse as they are.
// Audit names each difference, sync brings every VM in step, audit is clean after.
func TestSyncBringsNetBoxVMsInStep(t *testing.T) {
	o := oned(t)
	loc := o.vars["ONE_LOCATION"]
	if loc == "" {
		t.Skip("onehem-server is only stopped on the test oned's own machine (.opennebula.env)")
	}
	env := []string{"NETBOX_IPAM_CONFIG=" + o.vmsConfig(t)}
	if _, code := o.driverEnv(t, "netbox", nil, env, "setup"); code != 0 {
		t.Fatalf("setup with vms: exit %d", code)
	}
	o.installHooks(t, env)
	_, net := o.spanNet(t, "10.118.0.0/24", "10.118.0.10", 40, "")
	vm := o.runningVM(t, fmt.Sprintf("NAME = %q\nNIC = [ NETWORK_ID = %d ]\nNIC = [ NETWORK_ID = %d ]", uniq("in-step"), net, net))
	id := strconv.Itoa(vm.ID)
	o.eventuallyVM(t, id, func(v netbox.VirtualMachine, ifaces map[string]netbox.VMInterface, on map[string]string) error {
		if len(ifaces) != 2 || len(on) != 2 || v.Status.Value != "active" {
			return fmt.Errorf("status %s, interfaces %v, addresses on them %v", v.Status.Value, ifaces, on)
		}
		return nil
	})

	hem := filepath.Join(loc, "bin", "onehem-server")
	o.must(t, hem, "stop")
	started := false
	start := func() {
		if !started {
			started = true
			o.must(t, hem, "start")
		}
	}
	t.Cleanup(start)
	renamed := uniq("renamed-while-down")
	o.must(t, "onevm", "rename", id, renamed)
	o.must(t, "onevm", "nic-detach", id, vm.NICs[1].NICID)
	o.waitRunning(t, vm.ID)
	o.must(t, "onevm", "poweroff", "--hard", id)
	eventually(t, "VM "+id+" POWEROFF", func() error {
		if s, err := o.vmState(vm.ID); err != nil || s != 8 {
			return fmt.Errorf("state %d (%v)", s, err)
		}
		return nil
	})
	long := strings.Repeat("a", 60) + uniq("")[:10]
	// Running before onehem-server is back: no event of theirs is left for it.
	longVM := o.runningVM(t, fmt.Sprintf("NAME = %q\nNIC = [ NAME = \"eth\", NETWORK_ID = %d ]\nNIC = [ NAME = \"eth\", NETWORK_ID = %d ]", long, net, net))
	plain := o.runningVM(t, fmt.Sprintf("NAME = %q\nNIC = [ NETWORK_ID = %d ]", uniq("plain"), net))
	start()

	out, code := o.driverEnv(t, "netbox", nil, env, "audit", "--all")
	for _, want := range []string{
		fmt.Sprintf("OpenNebula VM %s (", id),
		fmt.Sprintf("the VM's is %q", renamed),
		"status active, the VM's state makes it offline",
		"interface NIC1 of a NIC the VM no longer has",
		"missing  virtual-machine  OpenNebula VM " + strconv.Itoa(longVM.ID) + " ",
		"missing  virtual-machine  OpenNebula VM " + strconv.Itoa(plain.ID) + " ",
	} {
		if code != 8 || !strings.Contains(out, want) {
			t.Errorf("audit --all: exit %d, want 8 and %q\n%s", code, want, out)
		}
	}
	if out, code := o.driverEnv(t, "netbox", nil, env, "sync", "--all"); code != 0 || !strings.Contains(out, "brought in step") {
		t.Fatalf("sync --all: exit %d\n%s", code, out)
	}
	o.eventuallyVM(t, id, func(v netbox.VirtualMachine, ifaces map[string]netbox.VMInterface, on map[string]string) error {
		if v.Name != renamed || v.Status.Value != "offline" || len(ifaces) != 1 || on[vm.NICs[0].IP] != "NIC0" {
			return fmt.Errorf("%q %s, interfaces %v, addresses on them %v", v.Name, v.Status.Value, ifaces, on)
		}
		return nil
	})
	// NetBox allows 64 characters and one interface name per VM: the rule of the
	// README's "NetBox virtual machines" (mapping.VMNames, mapping.InterfaceNames).
	o.eventuallyVM(t, strconv.Itoa(longVM.ID), func(v netbox.VirtualMachine, ifaces map[string]netbox.VMInterface, on map[string]string) error {
		suffix := fmt.Sprintf(" (VM %d)", longVM.ID) // long is ASCII: bytes are characters
		want := long[:64-len(suffix)-1] + "…" + suffix
		if v.Name != want || len(ifaces) != 2 || on[longVM.NICs[0].IP] != "eth" || on[longVM.NICs[1].IP] != "eth (NIC 1)" {
			return fmt.Errorf("%q (want %q), interfaces %v, addresses on them %v", v.Name, want, ifaces, on)
		}
		return nil
	})
	o.eventuallyVM(t, strconv.Itoa(plain.ID), func(v netbox.VirtualMachine, ifaces map[string]netbox.VMInterface, on map[string]string) error {
		if len(ifaces) != 1 || on[plain.NICs[0].IP] != "NIC0" {
			return fmt.Errorf("interfaces %v, addresses on them %v", ifaces, on)
		}
		return nil
	})
	if out, code := o.driverEnv(t, "netbox", nil, env, "audit", "--all"); code != 0 {
		t.Errorf("audit --all after sync: exit %d\n%s", code, out)
	}
}
