package reconcile

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// audit --all with vms.enabled: a NetBox virtual machine of a VM that holds no lease
// of the driver is stale (sync --prune removes it), a VM holding leases without one is
// missing (sync makes it).
func TestAuditVMs(t *testing.T) {
	f, ar := vmFixture(t)
	ctx := context.Background()
	if _, err := hook(f, ctx, onetest.WebVM("3", "3", "100", "0")); err != nil { // VM 42 on .10
		t.Fatal(err)
	}
	// Now VM 42 is gone from oned without its hook (onehem-server was down) and VM 43
	// holds .11.
	f.SetVNet(onetest.VNetXML(ar, "10.70.0.11 43"))
	f.Oned.DeleteVM("42")
	vm43 := `<VM><ID>43</ID><NAME>db</NAME><STATE>3</STATE><LCM_STATE>3</LCM_STATE><TEMPLATE><NIC><NIC_ID>0</NIC_ID><NAME>NIC0</NAME><NETWORK_ID>7</NETWORK_ID><AR_ID>0</AR_ID><IP>10.70.0.11</IP><MAC>02:00:0a:46:00:0b</MAC></NIC></TEMPLATE><HISTORY_RECORDS><HISTORY><CID>100</CID></HISTORY></HISTORY_RECORDS></VM>`
	f.Oned.SetVM(onetest.ParseVM(t, vm43))
	rep, err := Run(ctx, f.D, Options{All: true}, nil)
	if err != nil || len(rep.Stale) != 1 || rep.Stale[0].Kind != driver.ObjectVM || !strings.Contains(rep.Stale[0].What, "OpenNebula VM 42 (web)") ||
		strings.Join(rep.MissingVMs, ",") != "43" {
		t.Fatalf("audit: %v; stale %+v, missing %v", err, rep.Stale, rep.MissingVMs)
	}
	if _, err := Run(ctx, f.D, Options{Sync: true, All: true}, nil); err != nil || len(f.NB.VMs) != 2 {
		t.Fatalf("sync without prune: %v, %d VMs (want 43's made, 42's kept)", err, len(f.NB.VMs))
	}
	if _, err := Run(ctx, f.D, Options{Sync: true, All: true, Prune: true}, nil); err != nil || len(f.NB.VMs) != 1 {
		t.Fatalf("sync --prune: %v, %d VMs", err, len(f.NB.VMs))
	}
	for _, v := range f.NB.VMs {
		if v.CustomString(mapping.CFVMID) != "43" || v.Name != "db" {
			t.Errorf("the VM left is %+v", v)
		}
	}
	if rep, err := Run(ctx, f.D, Options{All: true}, nil); err != nil || len(rep.Stale)+len(rep.MissingVMs) != 0 {
		t.Errorf("audit after sync: %v %+v %v", err, rep.Stale, rep.MissingVMs)
	}
}

// What the hooks missed (onehem-server down, an event lost, an admin's edit in
// NetBox): audit --all finds each difference between a NetBox virtual machine and its
// VM as oned holds it, sync brings it in step, and audit is clean after.
func TestSyncBringsVMsInStep(t *testing.T) {
	nic := func(id, name, ip, mac string) mapping.NIC {
		return mapping.NIC{ID: id, Name: name, NetworkID: "7", ARID: "0", IP: ip, MAC: mac}
	}
	for _, tc := range []struct {
		name string
		// missed changes oned's VM 42 (held .10 on NIC0 and .11 on NIC1, running in
		// cluster 100) and the leases its network shows, or NetBox behind the hooks.
		missed func(f *fixture, vm *mapping.VM) []string
		found  string // a difference audit must name
		check  func(t *testing.T, f *fixture, v *netbox.VirtualMachine)
	}{
		{"renamed", func(f *fixture, vm *mapping.VM) []string {
			vm.Name = "web-2"
			return nil
		}, `name "web", the VM's is "web-2"`, func(t *testing.T, f *fixture, v *netbox.VirtualMachine) {
			if v.Name != "web-2" || !strings.Contains(f.Addr("10.70.0.10").Description, "web-2") {
				t.Errorf("name %q, lease %q", v.Name, f.Addr("10.70.0.10").Description)
			}
		}},
		{"powered off", func(f *fixture, vm *mapping.VM) []string {
			vm.State, vm.LCMState = "8", "0"
			return nil
		}, "status active, the VM's state makes it offline", func(t *testing.T, f *fixture, v *netbox.VirtualMachine) {
			if v.Status.Value != "offline" {
				t.Errorf("status %q", v.Status.Value)
			}
		}},
		{"moved to another cluster", func(f *fixture, vm *mapping.VM) []string {
			vm.History[0].ClusterID = "101"
			return nil
		}, "no NetBox cluster for OpenNebula cluster 101", func(t *testing.T, f *fixture, v *netbox.VirtualMachine) {
			if c := f.NB.Clusters[netbox.RefID(v.Cluster)]; c == nil || c.Name != "edge" {
				t.Errorf("cluster %+v", c)
			}
		}},
		{"NIC detached", func(f *fixture, vm *mapping.VM) []string {
			vm.NICs = vm.NICs[:1]
			return []string{"10.70.0.10 42"}
		}, "interface NIC1 of a NIC the VM no longer has", func(t *testing.T, f *fixture, v *netbox.VirtualMachine) {
			if names := ifaceNames(f, v.ID); names != "NIC0" {
				t.Errorf("interfaces %s", names)
			}
		}},
		{"NIC attached", func(f *fixture, vm *mapping.VM) []string {
			vm.NICs = append(vm.NICs, nic("2", "NIC2", "10.70.0.12", "02:00:0a:46:00:0c"))
			return []string{"10.70.0.10 42", "10.70.0.11 42", "10.70.0.12 42"}
		}, "no interface NIC2 for NIC 2", func(t *testing.T, f *fixture, v *netbox.VirtualMachine) {
			if names, a := ifaceNames(f, v.ID), f.Addr("10.70.0.12"); names != "NIC0 NIC1 NIC2" || a == nil || f.NB.Interfaces[a.AssignedObjectID].Name != "NIC2" {
				t.Errorf("interfaces %s, lease %+v", names, a)
			}
		}},
		{"NIC re-attached under the same name", func(f *fixture, vm *mapping.VM) []string {
			vm.NICs[1] = nic("2", "NIC1", "10.70.0.11", "02:00:0a:46:00:99")
			return nil
		}, "interface NIC1 has MAC 02:00:0A:46:00:0B, NIC 2 has 02:00:0a:46:00:99", func(t *testing.T, f *fixture, v *netbox.VirtualMachine) {
			a := f.Addr("10.70.0.11")
			if i := f.NB.Interfaces[a.AssignedObjectID]; i == nil || i.Name != "NIC1" || i.MACAddress != "02:00:0A:46:00:99" {
				t.Errorf("lease .11 on %+v", i)
			}
		}},
		{"interface deleted in NetBox", func(f *fixture, vm *mapping.VM) []string {
			a := f.Addr("10.70.0.11")
			delete(f.NB.Interfaces, a.AssignedObjectID)
			a.AssignedObjectType, a.AssignedObjectID = "", 0
			return nil
		}, "no interface NIC1 for NIC 1", func(t *testing.T, f *fixture, v *netbox.VirtualMachine) {
			if a := f.Addr("10.70.0.11"); f.NB.Interfaces[a.AssignedObjectID] == nil {
				t.Errorf("lease .11 on no interface: %+v", a)
			}
		}},
		{"lease taken off its interface", func(f *fixture, vm *mapping.VM) []string {
			a := f.Addr("10.70.0.11")
			a.AssignedObjectType, a.AssignedObjectID = "", 0
			return nil
		}, "lease 10.70.0.11 is not on interface NIC1", func(t *testing.T, f *fixture, v *netbox.VirtualMachine) {
			if a := f.Addr("10.70.0.11"); f.NB.Interfaces[a.AssignedObjectID] == nil {
				t.Errorf("lease .11 on no interface: %+v", a)
			}
		}},
		{"primary IPv4 cleared", func(f *fixture, vm *mapping.VM) []string {
			for _, v := range f.NB.VMs {
				v.PrimaryIP4 = nil
			}
			return nil
		}, "primary IPv4 is not 10.70.0.10", func(t *testing.T, f *fixture, v *netbox.VirtualMachine) {
			if netbox.RefID(v.PrimaryIP4) != f.Addr("10.70.0.10").ID {
				t.Errorf("primary %+v", v.PrimaryIP4)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, ar := vmFixture(t)
			ctx := context.Background()
			vnet := func(leases ...string) string {
				return strings.Replace(onetest.VNetXML(ar, leases...), "<NAME>cloud</NAME>", "<NAME>cloud</NAME><CLUSTERS><ID>100</ID></CLUSTERS>", 1)
			}
			vm := onetest.WebVM("3", "3", "100", "0", "1")
			if _, err := hook(f, ctx, vm); err != nil {
				t.Fatal(err)
			}
			f.SetVNet(vnet("10.70.0.10 42", "10.70.0.11 42"))
			if rep, err := Run(ctx, f.D, Options{All: true}, nil); err != nil || rep.Drift != 0 {
				t.Fatalf("audit after the hook: %v %+v", err, rep.OutOfStepVMs)
			}
			if leases := tc.missed(f, &vm); leases != nil {
				f.SetVNet(vnet(leases...))
			}
			f.Oned.SetVM(vm)
			rep, err := Run(ctx, f.D, Options{All: true}, nil)
			if err != nil || len(rep.OutOfStepVMs) != 1 || !strings.Contains(strings.Join(rep.OutOfStepVMs[0].Differences, "; "), tc.found) {
				t.Fatalf("audit: %v; out of step %+v, want %q", err, rep.OutOfStepVMs, tc.found)
			}
			// A minute on: a lease the detached NIC left is old enough to be an orphan.
			f.D.WithClock(func() time.Time { return time.Now().Add(time.Minute) })
			if rep, err := Run(ctx, f.D, Options{Sync: true, All: true}, nil); err != nil || len(rep.FailedVMs)+len(rep.LeftVMs) != 0 {
				t.Fatalf("sync: %v %v %v", err, rep.FailedVMs, rep.LeftVMs)
			}
			if rep, err := Run(ctx, f.D, Options{All: true}, nil); err != nil || rep.Drift != 0 {
				t.Fatalf("audit after sync: %v; %d finding(s), VMs %+v, AR %+v", err, rep.Drift, rep.OutOfStepVMs, rep.ARs[0].Findings)
			}
			if len(f.NB.VMs) != 1 {
				t.Fatalf("%d NetBox VMs", len(f.NB.VMs))
			}
			for _, v := range f.NB.VMs {
				tc.check(t, f, v)
			}
		})
	}
}

// ifaceNames are virtual machine id's interfaces, sorted, space-separated.
func ifaceNames(f *fixture, id int) string {
	var names []string
	for _, i := range f.NB.Interfaces {
		if i.VirtualMachine.ID == id {
			names = append(names, i.Name)
		}
	}
	slices.Sort(names)
	return strings.Join(names, " ")
}

// Sync brings a virtual machine in step with its VM as oned holds it when sync acts,
// not as audit saw it: renamed again meanwhile, it takes the newest name.
func TestSyncRereadsVM(t *testing.T) {
	f, ar := vmFixture(t)
	ctx := context.Background()
	vm := onetest.WebVM("3", "3", "100", "0")
	if _, err := hook(f, ctx, vm); err != nil {
		t.Fatal(err)
	}
	f.SetVNet(strings.Replace(onetest.VNetXML(ar, "10.70.0.10 42"), "<NAME>cloud</NAME>", "<NAME>cloud</NAME><CLUSTERS><ID>100</ID></CLUSTERS>", 1))
	vm.Name = "web-2"
	f.Oned.SetVM(vm)
	var once sync.Once
	f.Oned.After = func(call string) {
		if call == "VM 42" { // audit's look
			once.Do(func() {
				vm.Name = "web-3"
				f.Oned.SetVM(vm)
			})
		}
	}
	before := f.Oned.Requests()
	rep, err := Run(ctx, f.D, Options{Sync: true, All: true}, nil)
	if err != nil || len(rep.OutOfStepVMs) != 1 || !strings.Contains(rep.OutOfStepVMs[0].Differences[0], `"web-2"`) {
		t.Fatalf("sync: %v %+v", err, rep.OutOfStepVMs)
	}
	if n := f.Oned.Requests() - before; rep.OnedRequests != n || n < 4 { // raft, pool, network, VM twice
		t.Errorf("the report counts %d oned requests, the fake answered %d", rep.OnedRequests, n)
	}
	for _, v := range f.NB.VMs {
		if v.Name != "web-3" {
			t.Errorf("NetBox VM named %q, oned's VM is web-3 now", v.Name)
		}
	}
}
