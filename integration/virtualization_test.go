package integration

import (
	"strconv"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// TestVirtualizationAsTheDriverUsesIt pins the NetBox 4.7 behaviours the driver's
// virtual machines (vms.enabled) rely on, against the real server: the interfaces'
// mac_address shortcut (go-netbox 4.0 has none), a VM name unique per cluster (the
// driver then names the second "name (VM id)"), a primary address that cannot leave
// its VM, and the cascade that makes the driver take addresses off before deleting:
// NetBox deletes the addresses still assigned to a deleted VM's interfaces.
func TestVirtualizationAsTheDriverUsesIt(t *testing.T) {
	c := Client(t)
	cx := ctx(t)
	name := unique("it-virt")
	tag, err := c.CreateTag(cx, name, name, "")
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "tag", func(cx ctxT) error { return c.DeleteTag(cx, tag.ID) })
	typ, err := c.CreateClusterType(cx, name, name, name, "")
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "cluster type", func(cx ctxT) error {
		return c.Raw(cx, "DELETE", "/api/virtualization/cluster-types/"+strconv.Itoa(typ.ID)+"/", nil)
	})
	cl, err := c.CreateCluster(cx, netbox.ClusterSpec{Name: "default", TypeID: typ.ID, Tags: []netbox.TagRef{{Slug: tag.Slug}}})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "cluster", func(cx ctxT) error {
		return c.Raw(cx, "DELETE", "/api/virtualization/clusters/"+strconv.Itoa(cl.ID)+"/", nil)
	})
	vm, err := c.CreateVirtualMachine(cx, netbox.VirtualMachineSpec{Name: "web", Status: "planned", ClusterID: cl.ID, Tags: []netbox.TagRef{{Slug: tag.Slug}}})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "vm", func(cx ctxT) error {
		if err := c.DeleteVirtualMachine(cx, vm.ID); err != nil && !netbox.IsNotFound(err) {
			return err
		}
		return nil
	})
	if _, err := c.CreateVirtualMachine(cx, netbox.VirtualMachineSpec{Name: "WEB", Status: "planned", ClusterID: cl.ID}); netbox.KindOf(err) != netbox.KindInvalid || !strings.Contains(err.Error(), "must be unique") {
		t.Fatalf("a second VM named like the first in its cluster: %v", err)
	}

	ifs, err := c.CreateVMInterfaces(cx, []netbox.VMInterfaceSpec{{VMID: vm.ID, Name: "NIC0", MAC: "02:00:0a:4e:00:05"}, {VMID: vm.ID, Name: "NIC1"}})
	if err != nil || len(ifs) != 2 || ifs[0].MACAddress != "02:00:0A:4E:00:05" {
		t.Fatalf("interfaces with the mac_address shortcut: %+v %v", ifs, err)
	}
	vrf := testVRF(t, c)
	ips, err := c.CreateIPAddresses(cx, []netbox.IPAddressSpec{{Address: "10.78.5.5/24", VRFID: vrf.ID}, {Address: "10.78.5.6/24", VRFID: vrf.ID}})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "addresses", func(cx ctxT) error { return c.DeleteIPAddresses(cx, []int{ips[0].ID, ips[1].ID}) })
	assign := func(ip, iface int) map[string]any {
		return map[string]any{"id": ip, "assigned_object_type": netbox.VMInterfaceType, "assigned_object_id": iface}
	}
	if err := c.PatchIPAddresses(cx, []map[string]any{assign(ips[0].ID, ifs[0].ID), assign(ips[1].ID, ifs[1].ID)}); err != nil {
		t.Fatal(err)
	}
	if on, err := c.IPAddressesOfVM(cx, vm.ID); err != nil || len(on) != 2 || on[0].AssignedObjectType != netbox.VMInterfaceType {
		t.Fatalf("addresses on the VM: %+v %v", on, err)
	}
	if _, err := c.PatchVirtualMachine(cx, vm.ID, map[string]any{"primary_ip4": ips[0].ID}); err != nil {
		t.Fatal(err)
	}
	off := map[string]any{"id": ips[0].ID, "assigned_object_type": nil, "assigned_object_id": nil}
	if err := c.PatchIPAddresses(cx, []map[string]any{off}); netbox.KindOf(err) != netbox.KindInvalid {
		t.Fatalf("the primary address taken off its VM: %v (want refused)", err)
	}
	if _, err := c.PatchVirtualMachine(cx, vm.ID, map[string]any{"primary_ip4": nil}); err != nil {
		t.Fatal(err)
	}
	if err := c.PatchIPAddresses(cx, []map[string]any{off}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteVirtualMachine(cx, vm.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetIPAddress(cx, ips[0].ID); err != nil {
		t.Errorf("the address taken off first is gone with the VM: %v", err)
	}
	if _, err := c.GetIPAddress(cx, ips[1].ID); !netbox.IsNotFound(err) {
		t.Errorf("the address left on an interface outlived its VM (%v): the driver's unassigning may be moot now", err)
	}
}
