package hooks

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// NetBox virtual machines for OpenNebula's VMs (vms.enabled), kept by the hooks: a VM
// that holds a lease of the driver has one NetBox virtual machine (tag, one_vm_id, its
// name and status) in the NetBox cluster of its OpenNebula cluster, one interface per
// NIC with the NIC's MAC, each lease on its interface and the first one as primary
// IPv4. When the VM is terminated or holds no lease of the driver any more, the virtual
// machine goes, after its addresses were taken off it: NetBox deletes the addresses on
// a deleted VM's interfaces, and a lease may outlive the VM (release: deprecate) or
// an address on it may be someone else's. NetBox objects the driver did not tag are
// never changed.

// keptVM is a VM's NetBox virtual machine and its interfaces by NIC id.
type keptVM struct {
	netbox.VirtualMachine
	interfaces map[string]int
}

// vmWant is what a VM's NetBox virtual machine should be, from the VM as oned holds it
// and its NICs with leases of the driver: one rule for the hooks that keep it and for
// the audit that compares it.
type vmWant struct {
	// name, or twin when NetBox has that name in the cluster already: NetBox wants a
	// name unique in its cluster and at most 64 characters, OpenNebula does not, so a
	// second "web" becomes "web (VM 43)" (mapping.VMNames).
	name, twin string
	status     string
	cluster    string // the OpenNebula cluster, "" before the VM has one
	// interfaces are by NIC id (an alias's is its parent's): the interface's name
	// (mapping.InterfaceNames) and the NIC's MAC.
	interfaces map[string]wantIface
}

type wantIface struct{ name, mac string }

func wantVM(vm mapping.VM, nics []leasedNIC) vmWant {
	w := vmWant{status: mapping.VMStatus(vm.State, vm.LCMState), cluster: vm.ClusterID(), interfaces: map[string]wantIface{}}
	w.name, w.twin = mapping.VMNames(vm)
	if w.cluster == "" && len(nics) > 0 && len(nics[0].clusters) > 0 {
		w.cluster = nics[0].clusters[0] // not placed yet: where its network is
	}
	ifaces := vm.Interfaces()
	names := mapping.InterfaceNames(ifaces)
	for _, n := range ifaces {
		w.interfaces[n.ID] = wantIface{names[n.ID], n.MAC}
	}
	for _, a := range vm.Aliases {
		if p, ok := w.interfaces[a.ParentID]; ok {
			w.interfaces[a.ID] = p
		}
	}
	return w
}

// sameMAC says whether NetBox's MAC (upper case) is the NIC's (oned writes lower
// case); an interface without one is taken as it is.
func sameMAC(netboxMAC, nicMAC string) bool {
	return netboxMAC == "" || nicMAC == "" || strings.EqualFold(netboxMAC, nicMAC)
}

// keepVM creates or updates the VM's NetBox virtual machine and its interfaces.
func (d *Call) keepVM(ctx context.Context, vm mapping.VM, nics []leasedNIC) (*keptVM, error) {
	w := wantVM(vm, nics)
	if w.cluster == "" {
		d.Infof("VM %s: in no OpenNebula cluster yet; its NetBox virtual machine waits for the next hook", vm.ID)
		return nil, nil
	}
	cluster, err := d.clusterFor(ctx, w.cluster)
	if err != nil {
		return nil, err
	}
	name, twin, status := w.name, w.twin, w.status
	found, err := d.nb.VirtualMachinesWith(ctx, d.cfg.Tag, mapping.CFVMID, vm.ID)
	if err != nil {
		return nil, err
	}
	var kept keptVM
	if len(found) == 0 {
		spec := netbox.VirtualMachineSpec{Name: name, Status: status, ClusterID: cluster,
			Description: "OpenNebula VM " + vm.ID, Tags: d.Tags(), CustomFields: map[string]any{mapping.CFVMID: vm.ID}}
		kept.VirtualMachine, err = d.nb.CreateVirtualMachine(ctx, spec)
		if nameTaken(err) {
			spec.Name = twin
			kept.VirtualMachine, err = d.nb.CreateVirtualMachine(ctx, spec)
		}
		if err != nil {
			return nil, err
		}
		d.NoteObject("+", driver.ObjectVM, kept.ID)
	} else {
		kept.VirtualMachine = found[0]
		if (kept.Name != name && kept.Name != twin) || kept.Status.Value != status || netbox.RefID(kept.Cluster) != cluster {
			fields := map[string]any{"name": name, "status": status, "cluster": cluster}
			kept.VirtualMachine, err = d.nb.PatchVirtualMachine(ctx, kept.ID, fields)
			if nameTaken(err) {
				fields["name"] = twin
				kept.VirtualMachine, err = d.nb.PatchVirtualMachine(ctx, found[0].ID, fields)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	kept.interfaces, err = d.keepInterfaces(ctx, kept.VirtualMachine, w.interfaces, len(found) == 0)
	return &kept, err
}

// nameTaken reports NetBox's refusal of a virtual machine name used in its cluster.
func nameTaken(err error) bool {
	return netbox.KindOf(err) == netbox.KindInvalid && strings.Contains(err.Error(), "must be unique")
}

// keepInterfaces makes the virtual machine's interfaces those the VM wants (by NIC
// id): it creates the missing ones (with the NIC's MAC) in one request and removes the
// driver's interfaces of NICs that were detached. An interface of the driver with the
// NIC's name but another MAC was a detached NIC's, whose name a new NIC took: it is
// replaced, so the new NIC's lease never sits on the old NIC's MAC. It returns
// interface ids by NIC id.
func (d *Call) keepInterfaces(ctx context.Context, v netbox.VirtualMachine, want map[string]wantIface, fresh bool) (map[string]int, error) {
	var have []netbox.VMInterface
	if !fresh {
		var err error
		if have, err = d.nb.VMInterfaces(ctx, v.ID); err != nil {
			return nil, err
		}
	}
	wanted := map[string]string{} // interface name → MAC
	for _, i := range want {
		wanted[i.name] = i.mac
	}
	byName := map[string]int{}
	var gone []int
	for _, i := range have {
		mac, ok := wanted[i.Name]
		if i.HasTag(d.cfg.Tag) && (!ok || !sameMAC(i.MACAddress, mac)) {
			gone = append(gone, i.ID)
			continue
		}
		byName[i.Name] = i.ID // someone else's interface of that name is used as it is
	}
	if err := d.dropInterfaces(ctx, v, gone); err != nil {
		return nil, err
	}
	var specs []netbox.VMInterfaceSpec
	for _, id := range sortedKeys(want) {
		i := want[id]
		if _, ok := byName[i.name]; ok {
			continue
		}
		byName[i.name] = 0 // an alias shares its parent's interface
		specs = append(specs, netbox.VMInterfaceSpec{VMID: v.ID, Name: i.name, MAC: i.mac, Description: "OpenNebula VM NIC " + id,
			Tags: d.Tags()})
	}
	if len(specs) > 0 {
		made, err := d.nb.CreateVMInterfaces(ctx, specs)
		if err != nil {
			return nil, err
		}
		for _, i := range made {
			d.NoteObject("+", driver.ObjectInterface, i.ID)
			byName[i.Name] = i.ID
		}
	}
	out := map[string]int{}
	for id, i := range want {
		if byName[i.name] != 0 {
			out[id] = byName[i.name]
		}
	}
	return out, nil
}

// sortedKeys are NIC ids in oned's order (numbers), so interfaces are made in it.
func sortedKeys(m map[string]wantIface) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, _ := strconv.Atoi(ids[i])
		b, _ := strconv.Atoi(ids[j])
		return a < b || (a == b && ids[i] < ids[j])
	})
	return ids
}

// dropInterfaces removes interfaces of v after taking the addresses off them.
func (d *Call) dropInterfaces(ctx context.Context, v netbox.VirtualMachine, ids []int) error {
	if len(ids) == 0 {
		return nil
	}
	on := map[int]bool{}
	for _, id := range ids {
		on[id] = true
	}
	if err := d.unassign(ctx, v, func(a netbox.IPAddress) bool { return on[a.AssignedObjectID] }); err != nil {
		return err
	}
	if err := d.nb.DeleteVMInterfaces(ctx, ids); err != nil {
		return err
	}
	for _, id := range ids {
		d.NoteObject("-", driver.ObjectInterface, id)
	}
	return nil
}

// unassign takes the addresses of v that match off their interfaces, so that deleting
// the interfaces leaves them in NetBox; the primary IPv4 is cleared first, since
// NetBox refuses to move a primary address.
func (d *Call) unassign(ctx context.Context, v netbox.VirtualMachine, match func(netbox.IPAddress) bool) error {
	on, err := d.nb.IPAddressesOfVM(ctx, v.ID)
	if err != nil {
		return err
	}
	var changes []map[string]any
	primary := false
	for _, a := range on {
		if match(a) {
			changes = append(changes, map[string]any{"id": a.ID, "assigned_object_type": nil, "assigned_object_id": nil})
			primary = primary || a.ID == netbox.RefID(v.PrimaryIP4)
		}
	}
	if primary {
		if _, err := d.nb.PatchVirtualMachine(ctx, v.ID, map[string]any{"primary_ip4": nil}); err != nil {
			return err
		}
	}
	if len(changes) == 0 {
		return nil
	}
	return d.nb.PatchIPAddresses(ctx, changes)
}

// setPrimary makes address id the virtual machine's primary IPv4.
func (d *Call) setPrimary(ctx context.Context, v *keptVM, id int) error {
	if id == 0 || netbox.RefID(v.PrimaryIP4) == id {
		return nil
	}
	_, err := d.nb.PatchVirtualMachine(ctx, v.ID, map[string]any{"primary_ip4": id})
	return err
}

// forgetVM removes the NetBox virtual machine of OpenNebula VM id, if the driver has
// one, leaving every address that was on it in NetBox.
func (d *Call) forgetVM(ctx context.Context, id string) error {
	if !d.cfg.VMs.Enabled {
		return nil
	}
	found, err := d.nb.VirtualMachinesWith(ctx, d.cfg.Tag, mapping.CFVMID, id)
	if err != nil {
		return err
	}
	for _, v := range found {
		if err := d.dropVM(ctx, v); err != nil {
			return err
		}
		d.Infof("VM %s: removed NetBox virtual machine %d", id, v.ID)
	}
	return nil
}

// dropVM deletes one of the driver's virtual machines after taking every address off
// its interfaces.
func (d *Call) dropVM(ctx context.Context, v netbox.VirtualMachine) error {
	if err := d.unassign(ctx, v, func(netbox.IPAddress) bool { return true }); err != nil {
		return err
	}
	if err := d.nb.DeleteVirtualMachine(ctx, v.ID); err != nil && !netbox.IsNotFound(err) {
		return err
	}
	d.NoteObject("-", driver.ObjectVM, v.ID)
	return nil
}

// VMDifferences compares the driver's virtual machine v with what vm wants (wantVM): name,
// status, cluster, an interface with the NIC's MAC per NIC and none of a detached one,
// each lease of the driver on its NIC's interface and the first one as primary IPv4,
// and the leases' DNS names and tenants where configured. It writes nothing;
// keepInStep makes the same comparisons and writes.
func (d *Call) VMDifferences(ctx context.Context, vm mapping.VM, v netbox.VirtualMachine) ([]string, error) {
	if vm.Done() {
		return nil, nil
	}
	nics, err := d.leasedNICs(ctx, vm)
	if err != nil || len(nics) == 0 {
		return nil, err // none: it holds nothing of the driver since its networks were read
	}
	w := wantVM(vm, nics)
	var diff []string
	if v.Name != w.name && v.Name != w.twin {
		diff = append(diff, fmt.Sprintf("name %q, the VM's is %q", v.Name, w.name))
	}
	if v.Status.Value != w.status {
		diff = append(diff, fmt.Sprintf("status %s, the VM's state makes it %s", v.Status.Value, w.status))
	}
	if w.cluster != "" {
		c, ok, err := d.clusterOf(ctx, w.cluster)
		switch {
		case err != nil:
			return nil, err
		case !ok:
			diff = append(diff, fmt.Sprintf("no NetBox cluster for OpenNebula cluster %s, where the VM is", w.cluster))
		case netbox.RefID(v.Cluster) != c.ID:
			diff = append(diff, fmt.Sprintf("in NetBox cluster %d, the VM is in OpenNebula cluster %s (NetBox cluster %d)", netbox.RefID(v.Cluster), w.cluster, c.ID))
		}
	}
	ifaces, err := d.nb.VMInterfaces(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	byName := map[string]netbox.VMInterface{}
	for _, i := range ifaces {
		byName[i.Name] = i
	}
	wanted := map[string]bool{}
	for _, id := range sortedKeys(w.interfaces) {
		want := w.interfaces[id]
		if wanted[want.name] {
			continue // an alias: its parent's interface
		}
		wanted[want.name] = true
		switch i, ok := byName[want.name]; {
		case !ok:
			diff = append(diff, fmt.Sprintf("no interface %s for NIC %s", want.name, id))
		case i.HasTag(d.cfg.Tag) && !sameMAC(i.MACAddress, want.mac):
			diff = append(diff, fmt.Sprintf("interface %s has MAC %s, NIC %s has %s", want.name, i.MACAddress, id, want.mac))
		}
	}
	for _, i := range ifaces {
		if !wanted[i.Name] && i.HasTag(d.cfg.Tag) {
			diff = append(diff, fmt.Sprintf("interface %s of a NIC the VM no longer has", i.Name))
		}
	}
	have, err := d.leaseObjects(ctx, nics)
	if err != nil {
		return nil, err
	}
	primary, primaryIP := 0, ""
	for _, n := range nics {
		obj, ok := leaseOf(n, have)
		i, ok2 := byName[w.interfaces[n.ID].name]
		if !ok || !ok2 {
			continue // no lease object: the AR's audit says so; no interface: said above
		}
		if primary == 0 {
			primary, primaryIP = obj.ID, n.IP
		}
		if obj.AssignedObjectType != netbox.VMInterfaceType || obj.AssignedObjectID != i.ID {
			diff = append(diff, fmt.Sprintf("lease %s is not on interface %s", n.IP, i.Name))
		}
	}
	if primary != 0 && netbox.RefID(v.PrimaryIP4) != primary {
		diff = append(diff, fmt.Sprintf("primary IPv4 is not %s, the lease of the VM's first NIC", primaryIP))
	}
	records, err := d.recordDifferences(ctx, vmHolder(vm), nics, have)
	return append(diff, records...), err
}

// clusterOf finds the driver's NetBox cluster of OpenNebula cluster cid, once per call
// (an audit compares many VMs of few clusters).
func (d *Call) clusterOf(ctx context.Context, cid string) (netbox.Cluster, bool, error) {
	if c, ok := d.clusters[cid]; ok {
		return c, c.ID != 0, nil
	}
	c, ok, err := d.nb.ClusterWith(ctx, mapping.Slug(d.cfg.VMs.ClusterType), d.cfg.Tag, mapping.CFClusterID, cid)
	if err != nil {
		return c, false, err
	}
	if d.clusters == nil {
		d.clusters = map[string]netbox.Cluster{}
	}
	d.clusters[cid] = c
	return c, ok, nil
}

// clusterFor is the NetBox cluster of OpenNebula cluster cid: the driver's cluster of
// type vms.cluster_type carrying one_cluster_id, created (with the type, when missing)
// under OpenNebula's name for it.
func (d *Call) clusterFor(ctx context.Context, cid string) (int, error) {
	slug := mapping.Slug(d.cfg.VMs.ClusterType)
	c, ok, err := d.nb.ClusterWith(ctx, slug, d.cfg.Tag, mapping.CFClusterID, cid)
	if err != nil || ok {
		return c.ID, err
	}
	// Another VM's hook may be making it right now: ask again under the lock.
	unlock, err := d.lock(ctx, "cluster-"+d.cfg.Name+"-"+cid)
	if err != nil {
		return 0, fmt.Errorf("cannot lock the creation of cluster %s: %w", cid, err)
	}
	defer unlock()
	if c, ok, err = d.nb.ClusterWith(ctx, slug, d.cfg.Tag, mapping.CFClusterID, cid); err != nil || ok {
		return c.ID, err
	}
	t, err := d.nb.ClusterTypeBySlug(ctx, slug)
	if netbox.IsNotFound(err) {
		t, err = d.nb.CreateClusterType(ctx, d.cfg.VMs.ClusterType, slug, d.cfg.Tag, "OpenNebula clusters, kept by OpenNebula's netbox IPAM driver")
		if err == nil {
			d.NoteObject("+", driver.ObjectClusterType, t.ID)
		}
	}
	if err != nil {
		return 0, err
	}
	name, err := d.oned.ClusterName(ctx, cid)
	if err != nil {
		return 0, err
	}
	c, err = d.nb.CreateCluster(ctx, netbox.ClusterSpec{Name: name, TypeID: t.ID, Description: "OpenNebula cluster " + cid,
		Tags: d.Tags(), CustomFields: map[string]any{mapping.CFClusterID: cid}})
	if err != nil {
		return 0, err
	}
	d.NoteObject("+", driver.ObjectCluster, c.ID)
	return c.ID, nil
}
