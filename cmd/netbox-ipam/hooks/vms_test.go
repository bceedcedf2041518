package hooks

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox/netboxtest"
)

// The NetBox virtual machine through a VM's life: created on allocate in the cluster
// of its network, moved to its host's cluster and made active when running, its
// interface gone on nic-detach (the address stays), removed on terminate with every
// address that was on it left in NetBox, someone else's included.
func TestHookKeepsNetBoxVM(t *testing.T) {
	f, _ := vmFixture(t)
	ctx := context.Background()
	one := func() *netbox.VirtualMachine {
		t.Helper()
		if len(f.NB.VMs) != 1 {
			t.Fatalf("%d NetBox VMs, want 1", len(f.NB.VMs))
		}
		for _, v := range f.NB.VMs {
			return v
		}
		return nil
	}
	onIface := func(ip string) string {
		a := f.Addr(ip)
		if a == nil || a.AssignedObjectType == "" {
			return ""
		}
		return f.NB.Interfaces[a.AssignedObjectID].Name
	}

	// allocate: pending, not placed yet.
	if _, err := f.hook(ctx, onetest.WebVM("1", "0", "", "0", "1")); err != nil {
		t.Fatal(err)
	}
	v := one()
	c := f.NB.Clusters[netbox.RefID(v.Cluster)]
	if v.Name != "web" || v.Status.Value != "planned" || v.CustomString(mapping.CFVMID) != "42" || !v.HasTag("opennebula") ||
		c == nil || c.Name != "default" || c.CustomString(mapping.CFClusterID) != "100" || f.NB.ClusterTypes["opennebula"].Name != "OpenNebula" {
		t.Fatalf("VM %+v in cluster %+v", v, c)
	}
	if len(f.NB.Interfaces) != 2 || onIface("10.70.0.10") != "NIC0" || onIface("10.70.0.11") != "NIC1" || netbox.RefID(v.PrimaryIP4) != f.Addr("10.70.0.10").ID {
		t.Fatalf("interfaces %v, primary %v", f.NB.Interfaces, v.PrimaryIP4)
	}
	for _, i := range f.NB.Interfaces {
		if want := map[string]string{"NIC0": "02:00:0A:46:00:0A", "NIC1": "02:00:0A:46:00:0B"}[i.Name]; i.MACAddress != want {
			t.Errorf("%s MAC %q, want %q", i.Name, i.MACAddress, want)
		}
	}
	if f.Addr("10.70.0.10").CustomString(mapping.CFVMID) != "42" {
		t.Errorf("the label was not written with the VM: %+v", f.Addr("10.70.0.10"))
	}

	// running on a host of cluster 101; then the same hook again changes nothing.
	if _, err := f.hook(ctx, onetest.WebVM("3", "3", "101", "0", "1")); err != nil {
		t.Fatal(err)
	}
	if v = one(); v.Status.Value != "active" || f.NB.Clusters[netbox.RefID(v.Cluster)].Name != "edge" || len(f.NB.Clusters) != 2 {
		t.Fatalf("running: %+v, clusters %d", v, len(f.NB.Clusters))
	}
	f.NB.Calls = nil
	if _, err := f.hook(ctx, onetest.WebVM("3", "3", "101", "0", "1")); err != nil || strings.Contains(strings.Join(f.NB.Calls, " "), "Patch") || strings.Contains(strings.Join(f.NB.Calls, " "), "Create") {
		t.Fatalf("a hook with nothing new wrote: %v %v", f.NB.Calls, err)
	}

	// nic-detach of NIC0 while its lease object stays (release: deprecate).
	if _, err := f.hook(ctx, onetest.WebVM("3", "3", "101", "1")); err != nil {
		t.Fatal(err)
	}
	if v = one(); len(f.NB.Interfaces) != 1 || onIface("10.70.0.10") != "" || f.Addr("10.70.0.10") == nil || netbox.RefID(v.PrimaryIP4) != f.Addr("10.70.0.11").ID {
		t.Fatalf("after detach: interfaces %v, .10 %+v, primary %v", f.NB.Interfaces, f.Addr("10.70.0.10"), v.PrimaryIP4)
	}

	// An admin puts an address of their own on the VM's interface; terminate.
	mine, _ := f.NB.CreateIPAddresses(ctx, []netbox.IPAddressSpec{{Address: "10.70.0.50/24", Description: "admin's"}})
	for id := range f.NB.Interfaces {
		if _, err := f.NB.PatchIPAddress(ctx, mine[0].ID, map[string]any{"assigned_object_type": netbox.VMInterfaceType, "assigned_object_id": id}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := f.hook(ctx, onetest.WebVM("6", "0", "101", "1"))
	if err != nil || len(f.NB.VMs) != 0 || len(f.NB.Interfaces) != 0 || f.Addr("10.70.0.11") == nil || f.NB.Addresses[mine[0].ID] == nil {
		t.Fatalf("terminate: %v; VMs %d, interfaces %d, .11 %v, admin's %v", err, len(f.NB.VMs), len(f.NB.Interfaces), f.Addr("10.70.0.11"), f.NB.Addresses[mine[0].ID])
	}
	if got := strings.Join(resp.Changes, " "); got != "-virtual-machine/"+itoa(v.ID) {
		t.Errorf("changes %q", got)
	}
	if _, err := f.hook(ctx, onetest.WebVM("6", "0", "101", "1")); err != nil || len(f.NB.Clusters) != 2 {
		t.Errorf("terminate again: %v", err)
	}
	if f.Oned.Count("ClusterName 101") != 1 {
		t.Errorf("oned was asked %v", f.Oned.Calls)
	}
}

// Where the driver's NetBox VM stops: it is kept only with vms.enabled, for a VM that
// holds a lease of the driver; an interface someone else added to it stays; a failure
// half way leaves what was made for the next hook.
func TestHookNetBoxVMCases(t *testing.T) {
	ctx := context.Background()
	t.Run("vms off: labels only", func(t *testing.T) {
		f, ar := registered(t)
		if _, err := f.D.GetAddress(ctx, request(ar, "SIZE=1")); err != nil {
			t.Fatal(err)
		}
		f.SetVNet(onetest.VNetXML(ar))
		if _, err := f.hook(ctx, onetest.WebVM("3", "3", "0", "0")); err != nil || len(f.NB.VMs)+len(f.NB.Clusters) != 0 {
			t.Fatalf("%v, %d VMs", err, len(f.NB.VMs))
		}
	})
	t.Run("no lease of the driver any more: the VM goes", func(t *testing.T) {
		f, _ := vmFixture(t)
		if _, err := f.hook(ctx, onetest.WebVM("3", "3", "100", "0")); err != nil || len(f.NB.VMs) != 1 {
			t.Fatal(err)
		}
		if _, err := f.hook(ctx, onetest.WebVM("3", "3", "100")); err != nil || len(f.NB.VMs) != 0 || f.Addr("10.70.0.10") == nil {
			t.Fatalf("%v; VMs %d", err, len(f.NB.VMs))
		}
	})
	t.Run("someone else's interface on the driver's VM stays", func(t *testing.T) {
		f, _ := vmFixture(t)
		if _, err := f.hook(ctx, onetest.WebVM("3", "3", "100", "0")); err != nil {
			t.Fatal(err)
		}
		var vmID int
		for id := range f.NB.VMs {
			vmID = id
		}
		if _, err := f.NB.CreateVMInterfaces(ctx, []netbox.VMInterfaceSpec{{VMID: vmID, Name: "mgmt"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.hook(ctx, onetest.WebVM("3", "3", "100", "0")); err != nil || len(f.NB.Interfaces) != 2 {
			t.Fatalf("%v; interfaces %v", err, f.NB.Interfaces)
		}
	})
	t.Run("interfaces refused: the next hook finishes", func(t *testing.T) {
		f, _ := vmFixture(t)
		f.NB.Inject(netboxtest.Fault{Op: "CreateVMInterfaces", Err: netboxtest.Refused("CreateVMInterfaces", 403, "You do not have permission to create MAC addresses.")})
		if _, err := f.hook(ctx, onetest.WebVM("1", "0", "", "0", "1")); err == nil {
			t.Fatal("no error")
		}
		if f.Addr("10.70.0.10").AssignedObjectType != "" || f.Addr("10.70.0.10").CustomString(mapping.CFVMID) != "" {
			t.Fatalf("half a record: %+v", f.Addr("10.70.0.10"))
		}
		if _, err := f.hook(ctx, onetest.WebVM("1", "0", "", "0", "1")); err != nil || len(f.NB.VMs) != 1 || len(f.NB.Interfaces) != 2 || f.Addr("10.70.0.11").AssignedObjectType == "" {
			t.Fatalf("next hook: %v; VMs %d, interfaces %d", err, len(f.NB.VMs), len(f.NB.Interfaces))
		}
	})
	t.Run("two VMs of one name in one cluster", func(t *testing.T) {
		f, _ := vmFixture(t)
		other := onetest.WebVM("3", "3", "100", "1")
		other.ID = "43"
		for _, vm := range []mapping.VM{onetest.WebVM("3", "3", "100", "0"), other, onetest.WebVM("3", "3", "100", "0"), other} {
			if _, err := f.hook(ctx, vm); err != nil {
				t.Fatal(err)
			}
		}
		names := map[string]string{}
		for _, v := range f.NB.VMs {
			names[v.CustomString(mapping.CFVMID)] = v.Name
		}
		if len(f.NB.VMs) != 2 || names["42"] != "web" || names["43"] != "web (VM 43)" {
			t.Fatalf("NetBox VMs %v", names)
		}
	})
	t.Run("a 70-character name and two NICs named alike: made to fit NetBox", func(t *testing.T) {
		f, _ := vmFixture(t)
		vm := onetest.WebVM("3", "3", "100", "0", "1")
		vm.Name = strings.Repeat("a-long-name-", 6)[:70]
		vm.NICs[0].Name, vm.NICs[1].Name = "eth0", "eth0"
		if _, err := f.hook(ctx, vm); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, i := range f.NB.Interfaces {
			names = append(names, i.Name)
		}
		slices.Sort(names)
		if len(f.NB.VMs) != 1 || strings.Join(names, ",") != "eth0,eth0 (NIC 1)" {
			t.Fatalf("%d VMs, interfaces %q", len(f.NB.VMs), names)
		}
		for _, v := range f.NB.VMs {
			if v.Name != vm.Name[:55]+"… (VM 42)" {
				t.Errorf("NetBox VM named %q", v.Name)
			}
		}
		// Again: the names are recognised as the VM's, nothing is renamed or added.
		f.NB.Calls = nil
		if _, err := f.hook(ctx, vm); err != nil || f.NB.Count("PatchVirtualMachine")+f.NB.Count("CreateVMInterfaces") != 0 {
			t.Errorf("second hook: %v, %v", err, f.NB.Calls)
		}
	})
	t.Run("oned has no such cluster: one line, nothing made", func(t *testing.T) {
		f, _ := vmFixture(t)
		_, err := f.hook(ctx, onetest.WebVM("3", "3", "999", "0"))
		if kindOf(err) != "opennebula" || !strings.Contains(err.Error(), "Error getting cluster [999]") || strings.Contains(err.Error(), "\n") ||
			len(f.NB.VMs)+len(f.NB.Clusters) != 0 {
			t.Fatalf("%v; %d VMs, %d clusters", err, len(f.NB.VMs), len(f.NB.Clusters))
		}
	})
	t.Run("a VM in no cluster: labels now, the VM later", func(t *testing.T) {
		f, ar := registered(t, vmsOn)
		if _, err := f.D.GetAddress(ctx, request(ar, "SIZE=1")); err != nil {
			t.Fatal(err)
		}
		f.SetVNet(onetest.VNetXML(ar))
		if _, err := f.hook(ctx, onetest.WebVM("1", "0", "", "0")); err != nil || len(f.NB.VMs) != 0 || f.Addr("10.70.0.10").CustomString(mapping.CFVMID) != "42" {
			t.Fatalf("%v; VMs %d, lease %+v", err, len(f.NB.VMs), f.Addr("10.70.0.10"))
		}
	})
}

// A VM's OpenNebula state as its NetBox status.
func TestVMStatus(t *testing.T) {
	for _, tc := range []struct{ state, lcm, want string }{
		{"1", "0", "planned"}, {"2", "0", "planned"}, {"3", "1", "staged"}, {"3", "3", "active"}, {"3", "16", "offline"},
		{"3", "36", "failed"}, {"3", "43", "staged"}, {"3", "61", "failed"}, {"8", "0", "offline"}, {"9", "0", "offline"},
		{"5", "0", "paused"}, {"7", "0", "failed"}, {"3", "", "staged"},
	} {
		if got := mapping.VMStatus(tc.state, tc.lcm); got != tc.want {
			t.Errorf("STATE %s LCM_STATE %s: %s, want %s", tc.state, tc.lcm, got, tc.want)
		}
	}
}
