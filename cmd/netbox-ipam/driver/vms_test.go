package driver

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox/netboxtest"
)

func vmsOn(c *config.Config) { c.VMs = config.VMs{Enabled: true, ClusterType: "OpenNebula"} }

// vmFixture is a registered AR with vms.enabled, two leases (10.70.0.10 and .11) and
// an oned that knows network 7 (in cluster 100) and clusters 100 and 101.
func vmFixture(t *testing.T) (*fixture, mapping.Attrs) {
	f, ar := registered(t, nil, vmsOn)
	for i := 0; i < 2; i++ {
		if _, err := f.d.GetAddress(context.Background(), request(ar, "SIZE=1")); err != nil {
			t.Fatal(err)
		}
	}
	f.setVNet(strings.Replace(vnetXML(ar), "<NAME>cloud</NAME>", "<NAME>cloud</NAME><CLUSTERS><ID>100</ID></CLUSTERS>", 1))
	f.oned.SetCluster("100", "default")
	f.oned.SetCluster("101", "edge")
	f.nb.Calls = nil
	return f, ar
}

func vmWith(state, lcm, cluster string, nics ...string) mapping.VM {
	vm := mapping.VM{ID: "42", Name: "web", State: state, LCMState: lcm}
	for _, id := range nics {
		last := map[string]string{"0": "0a", "1": "0b"}[id]
		vm.NICs = append(vm.NICs, mapping.NIC{ID: id, Name: "NIC" + id, NetworkID: "7", ARID: "0", IP: "10.70.0." + map[string]string{"0": "10", "1": "11"}[id], MAC: "02:00:0a:46:00:" + last})
	}
	if cluster != "" {
		vm.History = append(vm.History, struct {
			ClusterID string `xml:"CID"`
		}{cluster})
	}
	return vm
}

// The NetBox virtual machine through a VM's life: created on allocate in the cluster
// of its network, moved to its host's cluster and made active when running, its
// interface gone on nic-detach (the address stays), removed on terminate with every
// address that was on it left in NetBox, someone else's included.
func TestHookKeepsNetBoxVM(t *testing.T) {
	f, _ := vmFixture(t)
	ctx := context.Background()
	one := func() *netbox.VirtualMachine {
		t.Helper()
		if len(f.nb.VMs) != 1 {
			t.Fatalf("%d NetBox VMs, want 1", len(f.nb.VMs))
		}
		for _, v := range f.nb.VMs {
			return v
		}
		return nil
	}
	onIface := func(ip string) string {
		a := f.addr(ip)
		if a == nil || a.AssignedObjectType == "" {
			return ""
		}
		return f.nb.Interfaces[a.AssignedObjectID].Name
	}

	// allocate: pending, not placed yet.
	if _, err := f.hook(ctx, vmWith("1", "0", "", "0", "1")); err != nil {
		t.Fatal(err)
	}
	v := one()
	c := f.nb.Clusters[netbox.RefID(v.Cluster)]
	if v.Name != "web" || v.Status.Value != "planned" || v.CustomString(mapping.CFVMID) != "42" || !v.HasTag("opennebula") ||
		c == nil || c.Name != "default" || c.CustomString(mapping.CFClusterID) != "100" || f.nb.ClusterTypes["opennebula"].Name != "OpenNebula" {
		t.Fatalf("VM %+v in cluster %+v", v, c)
	}
	if len(f.nb.Interfaces) != 2 || onIface("10.70.0.10") != "NIC0" || onIface("10.70.0.11") != "NIC1" || netbox.RefID(v.PrimaryIP4) != f.addr("10.70.0.10").ID {
		t.Fatalf("interfaces %v, primary %v", f.nb.Interfaces, v.PrimaryIP4)
	}
	for _, i := range f.nb.Interfaces {
		if want := map[string]string{"NIC0": "02:00:0A:46:00:0A", "NIC1": "02:00:0A:46:00:0B"}[i.Name]; i.MACAddress != want {
			t.Errorf("%s MAC %q, want %q", i.Name, i.MACAddress, want)
		}
	}
	if f.addr("10.70.0.10").CustomString(mapping.CFVMID) != "42" {
		t.Errorf("the label was not written with the VM: %+v", f.addr("10.70.0.10"))
	}

	// running on a host of cluster 101; then the same hook again changes nothing.
	if _, err := f.hook(ctx, vmWith("3", "3", "101", "0", "1")); err != nil {
		t.Fatal(err)
	}
	if v = one(); v.Status.Value != "active" || f.nb.Clusters[netbox.RefID(v.Cluster)].Name != "edge" || len(f.nb.Clusters) != 2 {
		t.Fatalf("running: %+v, clusters %d", v, len(f.nb.Clusters))
	}
	f.nb.Calls = nil
	if _, err := f.hook(ctx, vmWith("3", "3", "101", "0", "1")); err != nil || strings.Contains(strings.Join(f.nb.Calls, " "), "Patch") || strings.Contains(strings.Join(f.nb.Calls, " "), "Create") {
		t.Fatalf("a hook with nothing new wrote: %v %v", f.nb.Calls, err)
	}

	// nic-detach of NIC0 while its lease object stays (release: deprecate).
	if _, err := f.hook(ctx, vmWith("3", "3", "101", "1")); err != nil {
		t.Fatal(err)
	}
	if v = one(); len(f.nb.Interfaces) != 1 || onIface("10.70.0.10") != "" || f.addr("10.70.0.10") == nil || netbox.RefID(v.PrimaryIP4) != f.addr("10.70.0.11").ID {
		t.Fatalf("after detach: interfaces %v, .10 %+v, primary %v", f.nb.Interfaces, f.addr("10.70.0.10"), v.PrimaryIP4)
	}

	// An admin puts an address of their own on the VM's interface; terminate.
	mine, _ := f.nb.CreateIPAddresses(ctx, []netbox.IPAddressSpec{{Address: "10.70.0.50/24", Description: "admin's"}})
	for id := range f.nb.Interfaces {
		if _, err := f.nb.PatchIPAddress(ctx, mine[0].ID, map[string]any{"assigned_object_type": netbox.VMInterfaceType, "assigned_object_id": id}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := f.hook(ctx, vmWith("6", "0", "101", "1"))
	if err != nil || len(f.nb.VMs) != 0 || len(f.nb.Interfaces) != 0 || f.addr("10.70.0.11") == nil || f.nb.Addresses[mine[0].ID] == nil {
		t.Fatalf("terminate: %v; VMs %d, interfaces %d, .11 %v, admin's %v", err, len(f.nb.VMs), len(f.nb.Interfaces), f.addr("10.70.0.11"), f.nb.Addresses[mine[0].ID])
	}
	if got := strings.Join(resp.Changes, " "); got != "-virtual-machine/"+itoa(v.ID) {
		t.Errorf("changes %q", got)
	}
	if _, err := f.hook(ctx, vmWith("6", "0", "101", "1")); err != nil || len(f.nb.Clusters) != 2 {
		t.Errorf("terminate again: %v", err)
	}
	if f.oned.Count("ClusterName 101") != 1 {
		t.Errorf("oned was asked %v", f.oned.Calls)
	}
}

// Where the driver's NetBox VM stops: it is kept only with vms.enabled, for a VM that
// holds a lease of the driver; an interface someone else added to it stays; a failure
// half way leaves what was made for the next hook.
func TestHookNetBoxVMCases(t *testing.T) {
	ctx := context.Background()
	t.Run("vms off: labels only", func(t *testing.T) {
		f, ar := registered(t, nil)
		if _, err := f.d.GetAddress(ctx, request(ar, "SIZE=1")); err != nil {
			t.Fatal(err)
		}
		f.setVNet(vnetXML(ar))
		if _, err := f.hook(ctx, vmWith("3", "3", "0", "0")); err != nil || len(f.nb.VMs)+len(f.nb.Clusters) != 0 {
			t.Fatalf("%v, %d VMs", err, len(f.nb.VMs))
		}
	})
	t.Run("no lease of the driver any more: the VM goes", func(t *testing.T) {
		f, _ := vmFixture(t)
		if _, err := f.hook(ctx, vmWith("3", "3", "100", "0")); err != nil || len(f.nb.VMs) != 1 {
			t.Fatal(err)
		}
		if _, err := f.hook(ctx, vmWith("3", "3", "100")); err != nil || len(f.nb.VMs) != 0 || f.addr("10.70.0.10") == nil {
			t.Fatalf("%v; VMs %d", err, len(f.nb.VMs))
		}
	})
	t.Run("someone else's interface on the driver's VM stays", func(t *testing.T) {
		f, _ := vmFixture(t)
		if _, err := f.hook(ctx, vmWith("3", "3", "100", "0")); err != nil {
			t.Fatal(err)
		}
		var vmID int
		for id := range f.nb.VMs {
			vmID = id
		}
		if _, err := f.nb.CreateVMInterfaces(ctx, []netbox.VMInterfaceSpec{{VMID: vmID, Name: "mgmt"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.hook(ctx, vmWith("3", "3", "100", "0")); err != nil || len(f.nb.Interfaces) != 2 {
			t.Fatalf("%v; interfaces %v", err, f.nb.Interfaces)
		}
	})
	t.Run("interfaces refused: the next hook finishes", func(t *testing.T) {
		f, _ := vmFixture(t)
		f.nb.Inject(netboxtest.Fault{Op: "CreateVMInterfaces", Err: netboxtest.Refused("CreateVMInterfaces", 403, "You do not have permission to create MAC addresses.")})
		if _, err := f.hook(ctx, vmWith("1", "0", "", "0", "1")); err == nil {
			t.Fatal("no error")
		}
		if f.addr("10.70.0.10").AssignedObjectType != "" || f.addr("10.70.0.10").CustomString(mapping.CFVMID) != "" {
			t.Fatalf("half a record: %+v", f.addr("10.70.0.10"))
		}
		if _, err := f.hook(ctx, vmWith("1", "0", "", "0", "1")); err != nil || len(f.nb.VMs) != 1 || len(f.nb.Interfaces) != 2 || f.addr("10.70.0.11").AssignedObjectType == "" {
			t.Fatalf("next hook: %v; VMs %d, interfaces %d", err, len(f.nb.VMs), len(f.nb.Interfaces))
		}
	})
	t.Run("two VMs of one name in one cluster", func(t *testing.T) {
		f, _ := vmFixture(t)
		other := vmWith("3", "3", "100", "1")
		other.ID = "43"
		for _, vm := range []mapping.VM{vmWith("3", "3", "100", "0"), other, vmWith("3", "3", "100", "0"), other} {
			if _, err := f.hook(ctx, vm); err != nil {
				t.Fatal(err)
			}
		}
		names := map[string]string{}
		for _, v := range f.nb.VMs {
			names[v.CustomString(mapping.CFVMID)] = v.Name
		}
		if len(f.nb.VMs) != 2 || names["42"] != "web" || names["43"] != "web (VM 43)" {
			t.Fatalf("NetBox VMs %v", names)
		}
	})
	t.Run("a 70-character name and two NICs named alike: made to fit NetBox", func(t *testing.T) {
		f, _ := vmFixture(t)
		vm := vmWith("3", "3", "100", "0", "1")
		vm.Name = strings.Repeat("a-long-name-", 6)[:70]
		vm.NICs[0].Name, vm.NICs[1].Name = "eth0", "eth0"
		if _, err := f.hook(ctx, vm); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, i := range f.nb.Interfaces {
			names = append(names, i.Name)
		}
		slices.Sort(names)
		if len(f.nb.VMs) != 1 || strings.Join(names, ",") != "eth0,eth0 (NIC 1)" {
			t.Fatalf("%d VMs, interfaces %q", len(f.nb.VMs), names)
		}
		for _, v := range f.nb.VMs {
			if v.Name != vm.Name[:55]+"… (VM 42)" {
				t.Errorf("NetBox VM named %q", v.Name)
			}
		}
		// Again: the names are recognised as the VM's, nothing is renamed or added.
		f.nb.Calls = nil
		if _, err := f.hook(ctx, vm); err != nil || f.nb.Count("PatchVirtualMachine")+f.nb.Count("CreateVMInterfaces") != 0 {
			t.Errorf("second hook: %v, %v", err, f.nb.Calls)
		}
	})
	t.Run("oned has no such cluster: one line, nothing made", func(t *testing.T) {
		f, _ := vmFixture(t)
		_, err := f.hook(ctx, vmWith("3", "3", "999", "0"))
		if kindOf(err) != "opennebula" || !strings.Contains(err.Error(), "Error getting cluster [999]") || strings.Contains(err.Error(), "\n") ||
			len(f.nb.VMs)+len(f.nb.Clusters) != 0 {
			t.Fatalf("%v; %d VMs, %d clusters", err, len(f.nb.VMs), len(f.nb.Clusters))
		}
	})
	t.Run("a VM in no cluster: labels now, the VM later", func(t *testing.T) {
		f, ar := registered(t, nil, vmsOn)
		if _, err := f.d.GetAddress(ctx, request(ar, "SIZE=1")); err != nil {
			t.Fatal(err)
		}
		f.setVNet(vnetXML(ar))
		if _, err := f.hook(ctx, vmWith("1", "0", "", "0")); err != nil || len(f.nb.VMs) != 0 || f.addr("10.70.0.10").CustomString(mapping.CFVMID) != "42" {
			t.Fatalf("%v; VMs %d, lease %+v", err, len(f.nb.VMs), f.addr("10.70.0.10"))
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

// audit --all with vms.enabled: a NetBox virtual machine of a VM that holds no lease
// of the driver is stale (sync --prune removes it), a VM holding leases without one is
// missing (sync makes it).
func TestAuditVMs(t *testing.T) {
	f, ar := vmFixture(t)
	ctx := context.Background()
	if _, err := f.hook(ctx, vmWith("3", "3", "100", "0")); err != nil { // VM 42 on .10
		t.Fatal(err)
	}
	// Now VM 42 is gone from oned without its hook (onehem-server was down) and VM 43
	// holds .11.
	f.setVNet(vnetXML(ar, "10.70.0.11 43"))
	f.oned.DeleteVM("42")
	vm43 := `<VM><ID>43</ID><NAME>db</NAME><STATE>3</STATE><LCM_STATE>3</LCM_STATE><TEMPLATE><NIC><NIC_ID>0</NIC_ID><NAME>NIC0</NAME><NETWORK_ID>7</NETWORK_ID><AR_ID>0</AR_ID><IP>10.70.0.11</IP><MAC>02:00:0a:46:00:0b</MAC></NIC></TEMPLATE><HISTORY_RECORDS><HISTORY><CID>100</CID></HISTORY></HISTORY_RECORDS></VM>`
	f.oned.SetVM(parseVM(t, vm43))
	rep, err := f.d.Audit(ctx, AuditOptions{All: true}, nil)
	if err != nil || len(rep.Stale) != 1 || rep.Stale[0].Kind != kindVM || !strings.Contains(rep.Stale[0].What, "OpenNebula VM 42 (web)") ||
		strings.Join(rep.MissingVMs, ",") != "43" {
		t.Fatalf("audit: %v; stale %+v, missing %v", err, rep.Stale, rep.MissingVMs)
	}
	if _, err := f.d.Audit(ctx, AuditOptions{Sync: true, All: true}, nil); err != nil || len(f.nb.VMs) != 2 {
		t.Fatalf("sync without prune: %v, %d VMs (want 43's made, 42's kept)", err, len(f.nb.VMs))
	}
	if _, err := f.d.Audit(ctx, AuditOptions{Sync: true, All: true, Prune: true}, nil); err != nil || len(f.nb.VMs) != 1 {
		t.Fatalf("sync --prune: %v, %d VMs", err, len(f.nb.VMs))
	}
	for _, v := range f.nb.VMs {
		if v.CustomString(mapping.CFVMID) != "43" || v.Name != "db" {
			t.Errorf("the VM left is %+v", v)
		}
	}
	if rep, err := f.d.Audit(ctx, AuditOptions{All: true}, nil); err != nil || len(rep.Stale)+len(rep.MissingVMs) != 0 {
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
			if v.Name != "web-2" || !strings.Contains(f.addr("10.70.0.10").Description, "web-2") {
				t.Errorf("name %q, lease %q", v.Name, f.addr("10.70.0.10").Description)
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
			if c := f.nb.Clusters[netbox.RefID(v.Cluster)]; c == nil || c.Name != "edge" {
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
			if names, a := ifaceNames(f, v.ID), f.addr("10.70.0.12"); names != "NIC0 NIC1 NIC2" || a == nil || f.nb.Interfaces[a.AssignedObjectID].Name != "NIC2" {
				t.Errorf("interfaces %s, lease %+v", names, a)
			}
		}},
		{"NIC re-attached under the same name", func(f *fixture, vm *mapping.VM) []string {
			vm.NICs[1] = nic("2", "NIC1", "10.70.0.11", "02:00:0a:46:00:99")
			return nil
		}, "interface NIC1 has MAC 02:00:0A:46:00:0B, NIC 2 has 02:00:0a:46:00:99", func(t *testing.T, f *fixture, v *netbox.VirtualMachine) {
			a := f.addr("10.70.0.11")
			if i := f.nb.Interfaces[a.AssignedObjectID]; i == nil || i.Name != "NIC1" || i.MACAddress != "02:00:0A:46:00:99" {
				t.Errorf("lease .11 on %+v", i)
			}
		}},
		{"interface deleted in NetBox", func(f *fixture, vm *mapping.VM) []string {
			a := f.addr("10.70.0.11")
			delete(f.nb.Interfaces, a.AssignedObjectID)
			a.AssignedObjectType, a.AssignedObjectID = "", 0
			return nil
		}, "no interface NIC1 for NIC 1", func(t *testing.T, f *fixture, v *netbox.VirtualMachine) {
			if a := f.addr("10.70.0.11"); f.nb.Interfaces[a.AssignedObjectID] == nil {
				t.Errorf("lease .11 on no interface: %+v", a)
			}
		}},
		{"lease taken off its interface", func(f *fixture, vm *mapping.VM) []string {
			a := f.addr("10.70.0.11")
			a.AssignedObjectType, a.AssignedObjectID = "", 0
			return nil
		}, "lease 10.70.0.11 is not on interface NIC1", func(t *testing.T, f *fixture, v *netbox.VirtualMachine) {
			if a := f.addr("10.70.0.11"); f.nb.Interfaces[a.AssignedObjectID] == nil {
				t.Errorf("lease .11 on no interface: %+v", a)
			}
		}},
		{"primary IPv4 cleared", func(f *fixture, vm *mapping.VM) []string {
			for _, v := range f.nb.VMs {
				v.PrimaryIP4 = nil
			}
			return nil
		}, "primary IPv4 is not 10.70.0.10", func(t *testing.T, f *fixture, v *netbox.VirtualMachine) {
			if netbox.RefID(v.PrimaryIP4) != f.addr("10.70.0.10").ID {
				t.Errorf("primary %+v", v.PrimaryIP4)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, ar := vmFixture(t)
			ctx := context.Background()
			vnet := func(leases ...string) string {
				return strings.Replace(vnetXML(ar, leases...), "<NAME>cloud</NAME>", "<NAME>cloud</NAME><CLUSTERS><ID>100</ID></CLUSTERS>", 1)
			}
			vm := vmWith("3", "3", "100", "0", "1")
			if _, err := f.hook(ctx, vm); err != nil {
				t.Fatal(err)
			}
			f.setVNet(vnet("10.70.0.10 42", "10.70.0.11 42"))
			if rep, err := f.d.Audit(ctx, AuditOptions{All: true}, nil); err != nil || rep.Drift != 0 {
				t.Fatalf("audit after the hook: %v %+v", err, rep.OutOfStepVMs)
			}
			if leases := tc.missed(f, &vm); leases != nil {
				f.setVNet(vnet(leases...))
			}
			f.oned.SetVM(vm)
			rep, err := f.d.Audit(ctx, AuditOptions{All: true}, nil)
			if err != nil || len(rep.OutOfStepVMs) != 1 || !strings.Contains(strings.Join(rep.OutOfStepVMs[0].Differences, "; "), tc.found) {
				t.Fatalf("audit: %v; out of step %+v, want %q", err, rep.OutOfStepVMs, tc.found)
			}
			// A minute on: a lease the detached NIC left is old enough to be an orphan.
			f.d.now = func() time.Time { return time.Now().Add(time.Minute) }
			if rep, err := f.d.Audit(ctx, AuditOptions{Sync: true, All: true}, nil); err != nil || len(rep.FailedVMs)+len(rep.LeftVMs) != 0 {
				t.Fatalf("sync: %v %v %v", err, rep.FailedVMs, rep.LeftVMs)
			}
			if rep, err := f.d.Audit(ctx, AuditOptions{All: true}, nil); err != nil || rep.Drift != 0 {
				t.Fatalf("audit after sync: %v; %d finding(s), VMs %+v, AR %+v", err, rep.Drift, rep.OutOfStepVMs, rep.ARs[0].Findings)
			}
			if len(f.nb.VMs) != 1 {
				t.Fatalf("%d NetBox VMs", len(f.nb.VMs))
			}
			for _, v := range f.nb.VMs {
				tc.check(t, f, v)
			}
		})
	}
}

// ifaceNames are virtual machine id's interfaces, sorted, space-separated.
func ifaceNames(f *fixture, id int) string {
	var names []string
	for _, i := range f.nb.Interfaces {
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
	vm := vmWith("3", "3", "100", "0")
	if _, err := f.hook(ctx, vm); err != nil {
		t.Fatal(err)
	}
	f.setVNet(strings.Replace(vnetXML(ar, "10.70.0.10 42"), "<NAME>cloud</NAME>", "<NAME>cloud</NAME><CLUSTERS><ID>100</ID></CLUSTERS>", 1))
	vm.Name = "web-2"
	f.oned.SetVM(vm)
	var once sync.Once
	f.oned.After = func(call string) {
		if call == "VM 42" { // audit's look
			once.Do(func() {
				vm.Name = "web-3"
				f.oned.SetVM(vm)
			})
		}
	}
	before := f.oned.Requests()
	rep, err := f.d.Audit(ctx, AuditOptions{Sync: true, All: true}, nil)
	if err != nil || len(rep.OutOfStepVMs) != 1 || !strings.Contains(rep.OutOfStepVMs[0].Differences[0], `"web-2"`) {
		t.Fatalf("sync: %v %+v", err, rep.OutOfStepVMs)
	}
	if n := f.oned.Requests() - before; rep.OnedRequests != n || n < 4 { // raft, pool, network, VM twice
		t.Errorf("the report counts %d oned requests, the fake answered %d", rep.OnedRequests, n)
	}
	for _, v := range f.nb.VMs {
		if v.Name != "web-3" {
			t.Errorf("NetBox VM named %q, oned's VM is web-3 now", v.Name)
		}
	}
}
