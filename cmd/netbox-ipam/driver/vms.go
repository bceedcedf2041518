package driver

import (
	"context"
	"fmt"
	"sort"
	"strings"

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

// keepVM creates or updates the VM's NetBox virtual machine and its interfaces.
func (d *call) keepVM(ctx context.Context, vm mapping.VM, nics []leasedNIC) (*keptVM, error) {
	cid := vm.ClusterID()
	if cid == "" && len(nics[0].clusters) > 0 {
		cid = nics[0].clusters[0] // not placed yet: where its network is
	}
	if cid == "" {
		d.infof("VM %s: in no OpenNebula cluster yet; its NetBox virtual machine waits for the next hook", vm.ID)
		return nil, nil
	}
	cluster, err := d.clusterFor(ctx, cid)
	if err != nil {
		return nil, err
	}
	// NetBox wants a name unique in its cluster and at most 64 characters; OpenNebula
	// does not: a second "web" becomes "web (VM 43)" (mapping.VMNames).
	name, twin := mapping.VMNames(vm)
	status := mapping.VMStatus(vm.State, vm.LCMState)
	found, err := d.nb.VirtualMachinesWith(ctx, d.cfg.Tag, mapping.CFVMID, vm.ID)
	if err != nil {
		return nil, err
	}
	var kept keptVM
	if len(found) == 0 {
		spec := netbox.VirtualMachineSpec{Name: name, Status: status, ClusterID: cluster,
			Description: "OpenNebula VM " + vm.ID, Tags: d.tags(), CustomFields: map[string]any{mapping.CFVMID: vm.ID}}
		kept.VirtualMachine, err = d.nb.CreateVirtualMachine(ctx, spec)
		if nameTaken(err) {
			spec.Name = twin
			kept.VirtualMachine, err = d.nb.CreateVirtualMachine(ctx, spec)
		}
		if err != nil {
			return nil, err
		}
		d.noteObject("+", kindVM, kept.ID)
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
	kept.interfaces, err = d.keepInterfaces(ctx, kept.VirtualMachine, vm.Interfaces(), len(found) == 0)
	for _, a := range vm.Aliases { // an alias's lease goes on its parent's interface
		if iface, ok := kept.interfaces[a.ParentID]; ok {
			kept.interfaces[a.ID] = iface
		}
	}
	return &kept, err
}

// nameTaken reports NetBox's refusal of a virtual machine name used in its cluster.
func nameTaken(err error) bool {
	return netbox.KindOf(err) == netbox.KindInvalid && strings.Contains(err.Error(), "must be unique")
}

// keepInterfaces makes the virtual machine's interfaces those of the VM's NICs: it
// creates the missing ones (with the NIC's MAC) in one request and removes the driver's
// interfaces of NICs that were detached. It returns interface ids by NIC id.
func (d *call) keepInterfaces(ctx context.Context, v netbox.VirtualMachine, nics []mapping.NIC, fresh bool) (map[string]int, error) {
	var have []netbox.VMInterface
	if !fresh {
		var err error
		if have, err = d.nb.VMInterfaces(ctx, v.ID); err != nil {
			return nil, err
		}
	}
	byName := map[string]netbox.VMInterface{}
	for _, i := range have {
		byName[i.Name] = i
	}
	out := map[string]int{}
	var specs []netbox.VMInterfaceSpec
	want := map[string]string{} // interface name → NIC id
	names := mapping.InterfaceNames(nics)
	for _, n := range nics {
		name := names[n.ID]
		want[name] = n.ID
		if i, ok := byName[name]; ok {
			out[n.ID] = i.ID
			continue
		}
		specs = append(specs, netbox.VMInterfaceSpec{VMID: v.ID, Name: name, MAC: n.MAC, Description: "OpenNebula VM NIC " + n.ID,
			Tags: d.tags()})
	}
	var gone []int
	for _, i := range have {
		if _, ok := want[i.Name]; !ok && i.HasTag(d.cfg.Tag) {
			gone = append(gone, i.ID)
		}
	}
	if err := d.dropInterfaces(ctx, v, gone); err != nil {
		return nil, err
	}
	if len(specs) > 0 {
		made, err := d.nb.CreateVMInterfaces(ctx, specs)
		if err != nil {
			return nil, err
		}
		for _, i := range made {
			d.noteObject("+", kindInterface, i.ID)
			out[want[i.Name]] = i.ID
		}
	}
	return out, nil
}

// dropInterfaces removes interfaces of v after taking the addresses off them.
func (d *call) dropInterfaces(ctx context.Context, v netbox.VirtualMachine, ids []int) error {
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
		d.noteObject("-", kindInterface, id)
	}
	return nil
}

// unassign takes the addresses of v that match off their interfaces, so that deleting
// the interfaces leaves them in NetBox; the primary IPv4 is cleared first, since
// NetBox refuses to move a primary address.
func (d *call) unassign(ctx context.Context, v netbox.VirtualMachine, match func(netbox.IPAddress) bool) error {
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
func (d *call) setPrimary(ctx context.Context, v *keptVM, id int) error {
	if id == 0 || netbox.RefID(v.PrimaryIP4) == id {
		return nil
	}
	_, err := d.nb.PatchVirtualMachine(ctx, v.ID, map[string]any{"primary_ip4": id})
	return err
}

// forgetVM removes the NetBox virtual machine of OpenNebula VM id, if the driver has
// one, leaving every address that was on it in NetBox.
func (d *call) forgetVM(ctx context.Context, id string) error {
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
		d.infof("VM %s: removed NetBox virtual machine %d", id, v.ID)
	}
	return nil
}

// dropVM deletes one of the driver's virtual machines after taking every address off
// its interfaces.
func (d *call) dropVM(ctx context.Context, v netbox.VirtualMachine) error {
	if err := d.unassign(ctx, v, func(netbox.IPAddress) bool { return true }); err != nil {
		return err
	}
	if err := d.nb.DeleteVirtualMachine(ctx, v.ID); err != nil && !netbox.IsNotFound(err) {
		return err
	}
	d.noteObject("-", kindVM, v.ID)
	return nil
}

// auditVMs compares the driver's NetBox virtual machines with the VMs that hold its
// leases in vnets (all of oned's networks): a virtual machine whose VM holds none is
// stale (terminated while the hooks were not running); a VM that holds some and has no
// virtual machine is missing.
func (d *call) auditVMs(ctx context.Context, vnets []mapping.VNet, rep *AuditReport) error {
	holders := map[string]bool{}
	for _, v := range vnets {
		for _, ar := range v.ARs {
			if !ar.UsesIPAM(d.cfg.Name) {
				continue
			}
			for _, l := range ar.Leases {
				if l.VM != "" && l.VM != "-1" {
					holders[l.VM] = true
				}
			}
		}
	}
	have, err := d.nb.VirtualMachinesWith(ctx, d.cfg.Tag, mapping.CFVMID)
	if err != nil {
		return err
	}
	kept := map[string]bool{}
	for _, v := range have {
		id := v.CustomString(mapping.CFVMID)
		kept[id] = true
		if !holders[id] {
			rep.Stale = append(rep.Stale, StaleObject{kindVM, v.ID, "OpenNebula VM " + id + " (" + v.Name + ")"})
			rep.staleVMs = append(rep.staleVMs, v)
		}
	}
	for id := range holders {
		if !kept[id] {
			rep.MissingVMs = append(rep.MissingVMs, id)
		}
	}
	sort.Strings(rep.MissingVMs)
	return nil
}

// repairVMs makes the missing virtual machines and, with prune, removes the stale
// ones, each after reading its VM from oned again under the VM's lock (syncVM): a
// missing VM that oned has terminated meanwhile is not made, a stale one whose VM
// holds leases again is kept in step instead of removed. A VM oned or NetBox fails on
// is reported in FailedVMs and the others go on.
func (d *call) repairVMs(ctx context.Context, rep *AuditReport, prune bool) {
	ids := append([]string(nil), rep.MissingVMs...)
	if prune {
		for _, v := range rep.staleVMs {
			ids = append(ids, v.CustomString(mapping.CFVMID))
		}
	}
	for i, id := range ids {
		kept, err := d.syncVM(ctx, id)
		switch missing := i < len(rep.MissingVMs); {
		case err != nil:
			rep.FailedVMs = append(rep.FailedVMs, fmt.Sprintf("OpenNebula VM %s: %s", id, mapping.OneLine(err.Error())))
		case missing && !kept:
			rep.LeftVMs = append(rep.LeftVMs, "changed during sync: OpenNebula VM "+id+" holds no lease of the driver now; nothing made")
		case !missing && kept:
			rep.LeftVMs = append(rep.LeftVMs, "changed during sync: OpenNebula VM "+id+" holds leases of the driver again; kept, in step")
		}
	}
}

// clusterFor is the NetBox cluster of OpenNebula cluster cid: the driver's cluster of
// type vms.cluster_type carrying one_cluster_id, created (with the type, when missing)
// under OpenNebula's name for it.
func (d *call) clusterFor(ctx context.Context, cid string) (int, error) {
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
			d.noteObject("+", kindClusterType, t.ID)
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
		Tags: d.tags(), CustomFields: map[string]any{mapping.CFClusterID: cid}})
	if err != nil {
		return 0, err
	}
	d.noteObject("+", kindCluster, c.ID)
	return c.ID, nil
}
