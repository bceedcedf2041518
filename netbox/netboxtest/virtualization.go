package netboxtest

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// NetBox 4.7's rules kept here: a VM needs a cluster; an interface's name is unique on
// its VM; an address that is its VM's primary IPv4 cannot leave the VM's interfaces;
// deleting a VM deletes its interfaces and the addresses still assigned to them.

// ClusterTypeBySlug returns the cluster type.
func (n *NetBox) ClusterTypeBySlug(_ context.Context, slug string) (netbox.Ref, error) {
	return call(n, "ClusterTypeBySlug", func() (netbox.Ref, error) {
		if t, ok := n.ClusterTypes[slug]; ok {
			return t, nil
		}
		return netbox.Ref{}, Refused("ClusterTypeBySlug", 404, "no cluster type "+slug)
	})
}

// CreateClusterType creates a cluster type.
func (n *NetBox) CreateClusterType(_ context.Context, name, slug, _, _ string) (netbox.Ref, error) {
	return call(n, "CreateClusterType", func() (netbox.Ref, error) {
		t := netbox.Ref{ID: n.id(), Name: name, Slug: slug}
		n.ClusterTypes[slug] = t
		return t, nil
	})
}

// ClusterWith returns the cluster of the type with the tag and custom field value.
func (n *NetBox) ClusterWith(_ context.Context, typeSlug, tag, field, value string) (netbox.Cluster, bool, error) {
	type found struct {
		c  netbox.Cluster
		ok bool
	}
	f, err := call(n, "ClusterWith", func() (found, error) {
		l := sorted(n.Clusters, func(c *netbox.Cluster) bool {
			return c.Type != nil && c.Type.Slug == typeSlug && c.HasTag(tag) && c.CustomString(field) == value
		})
		if len(l) == 0 {
			return found{}, nil
		}
		return found{l[0], true}, nil
	})
	return f.c, f.ok, err
}

// CreateCluster creates a cluster.
func (n *NetBox) CreateCluster(_ context.Context, s netbox.ClusterSpec) (netbox.Cluster, error) {
	return call(n, "CreateCluster", func() (netbox.Cluster, error) {
		if err := n.checkFields("CreateCluster", s.CustomFields); err != nil {
			return netbox.Cluster{}, err
		}
		typ := &netbox.Ref{ID: s.TypeID}
		for _, t := range n.ClusterTypes {
			if t.ID == s.TypeID {
				typ = &netbox.Ref{ID: t.ID, Name: t.Name, Slug: t.Slug}
			}
		}
		c := &netbox.Cluster{Tagged: tagged(n.id(), s.Tags, s.CustomFields, s.Description), Name: s.Name, Type: typ}
		n.Clusters[c.ID] = c
		return *c, nil
	})
}

// VirtualMachinesWith lists the VMs with the tag whose custom field is one of values.
func (n *NetBox) VirtualMachinesWith(_ context.Context, tag, field string, values ...string) ([]netbox.VirtualMachine, error) {
	return call(n, "VirtualMachinesWith", func() ([]netbox.VirtualMachine, error) {
		return sorted(n.VMs, func(v *netbox.VirtualMachine) bool {
			if !v.HasTag(tag) {
				return false
			}
			for _, x := range values {
				if v.CustomString(field) == x {
					return true
				}
			}
			return len(values) == 0
		}), nil
	})
}

// CreateVirtualMachine creates a VM.
func (n *NetBox) CreateVirtualMachine(_ context.Context, s netbox.VirtualMachineSpec) (netbox.VirtualMachine, error) {
	return call(n, "CreateVirtualMachine", func() (netbox.VirtualMachine, error) {
		if err := n.checkFields("CreateVirtualMachine", s.CustomFields); err != nil {
			return netbox.VirtualMachine{}, err
		}
		if _, ok := n.Clusters[s.ClusterID]; !ok {
			return netbox.VirtualMachine{}, Refused("CreateVirtualMachine", 400, "A virtual machine must be assigned to a site, cluster, or device.")
		}
		if err := nameFits("CreateVirtualMachine", s.Name); err != nil {
			return netbox.VirtualMachine{}, err
		}
		if n.vmNameTaken(0, s.Name, s.ClusterID) {
			return netbox.VirtualMachine{}, Refused("CreateVirtualMachine", 400, "Virtual machine name must be unique per cluster and tenant.")
		}
		v := &netbox.VirtualMachine{Tagged: tagged(n.id(), s.Tags, s.CustomFields, s.Description), Name: s.Name,
			Status: netbox.Choice{Value: s.Status}, Cluster: &netbox.Ref{ID: s.ClusterID}}
		n.VMs[v.ID] = v
		return *v, nil
	})
}

// PatchVirtualMachine changes name, status, cluster, description, custom fields and
// primary_ip4 (which must be on one of the VM's interfaces).
func (n *NetBox) PatchVirtualMachine(_ context.Context, id int, fields map[string]any) (netbox.VirtualMachine, error) {
	return call(n, "PatchVirtualMachine", func() (netbox.VirtualMachine, error) {
		v, ok := n.VMs[id]
		if !ok {
			return netbox.VirtualMachine{}, notFound("PatchVirtualMachine", id)
		}
		name, _ := fields["name"].(string)
		cluster, _ := fields["cluster"].(int)
		if name == "" {
			name = v.Name
		}
		if cluster == 0 {
			cluster = netbox.RefID(v.Cluster)
		}
		if err := nameFits("PatchVirtualMachine", name); err != nil {
			return netbox.VirtualMachine{}, err
		}
		if n.vmNameTaken(id, name, cluster) {
			return netbox.VirtualMachine{}, Refused("PatchVirtualMachine", 400, "Virtual machine name must be unique per cluster and tenant.")
		}
		if p, ok := fields["primary_ip4"]; ok {
			ip, _ := p.(int)
			if a := n.Addresses[ip]; ip != 0 && (a == nil || n.vmOf(a) != id) {
				return netbox.VirtualMachine{}, Refused("PatchVirtualMachine", 400, "primary_ip4: the address is not assigned to this VM")
			}
			v.PrimaryIP4 = nil
			if ip != 0 {
				v.PrimaryIP4 = &netbox.Ref{ID: ip}
			}
		}
		for k, val := range fields {
			switch x, _ := val.(string); k {
			case "name":
				v.Name = x
			case "status":
				v.Status = netbox.Choice{Value: x}
			case "description":
				v.Description = x
			case "cluster":
				v.Cluster = &netbox.Ref{ID: val.(int)}
			}
		}
		return *v, nil
	})
}

// DeleteVirtualMachine deletes a VM, its interfaces and the addresses on them.
func (n *NetBox) DeleteVirtualMachine(_ context.Context, id int) error {
	_, err := call(n, "DeleteVirtualMachine", func() (bool, error) {
		if _, ok := n.VMs[id]; !ok {
			return false, notFound("DeleteVirtualMachine", id)
		}
		for aid, a := range n.Addresses {
			if n.vmOf(a) == id {
				delete(n.Addresses, aid)
			}
		}
		for iid, i := range n.Interfaces {
			if i.VirtualMachine.ID == id {
				delete(n.Interfaces, iid)
			}
		}
		delete(n.VMs, id)
		return true, nil
	})
	return err
}

// VMInterfaces lists a VM's interfaces.
func (n *NetBox) VMInterfaces(_ context.Context, vmID int) ([]netbox.VMInterface, error) {
	return call(n, "VMInterfaces", func() ([]netbox.VMInterface, error) {
		return sorted(n.Interfaces, func(i *netbox.VMInterface) bool { return i.VirtualMachine.ID == vmID }), nil
	})
}

// CreateVMInterfaces creates interfaces, all or none.
func (n *NetBox) CreateVMInterfaces(_ context.Context, specs []netbox.VMInterfaceSpec) ([]netbox.VMInterface, error) {
	return call(n, "CreateVMInterfaces", func() ([]netbox.VMInterface, error) {
		for k, s := range specs {
			if _, ok := n.VMs[s.VMID]; !ok {
				return nil, Refused("CreateVMInterfaces", 400, "virtual_machine: object does not exist")
			}
			if err := nameFits("CreateVMInterfaces", s.Name); err != nil {
				return nil, err
			}
			for _, i := range n.Interfaces {
				if i.VirtualMachine.ID == s.VMID && i.Name == s.Name {
					return nil, Refused("CreateVMInterfaces", 400, "Virtual machine and name must be unique.")
				}
			}
			for _, o := range specs[:k] { // one bulk request is one transaction
				if o.VMID == s.VMID && o.Name == s.Name {
					return nil, Refused("CreateVMInterfaces", 400, "Virtual machine and name must be unique.")
				}
			}
		}
		var out []netbox.VMInterface
		for _, s := range specs {
			i := &netbox.VMInterface{Tagged: tagged(n.id(), s.Tags, nil, s.Description), Name: s.Name,
				VirtualMachine: netbox.Ref{ID: s.VMID}, MACAddress: strings.ToUpper(s.MAC)}
			n.Interfaces[i.ID] = i
			out = append(out, *i)
		}
		return out, nil
	})
}

// DeleteVMInterfaces deletes interfaces and the addresses still on them.
func (n *NetBox) DeleteVMInterfaces(_ context.Context, ids []int) error {
	_, err := call(n, "DeleteVMInterfaces", func() (bool, error) {
		for _, id := range ids {
			if _, ok := n.Interfaces[id]; !ok {
				return false, notFound("DeleteVMInterfaces", id)
			}
		}
		for _, id := range ids {
			for aid, a := range n.Addresses {
				if a.AssignedObjectType == netbox.VMInterfaceType && a.AssignedObjectID == id {
					delete(n.Addresses, aid)
				}
			}
			delete(n.Interfaces, id)
		}
		return true, nil
	})
	return err
}

// IPAddressesOfVM lists the addresses on a VM's interfaces.
func (n *NetBox) IPAddressesOfVM(_ context.Context, vmID int) ([]netbox.IPAddress, error) {
	return call(n, "IPAddressesOfVM", func() ([]netbox.IPAddress, error) {
		return sorted(n.Addresses, func(a *netbox.IPAddress) bool { return n.vmOf(a) == vmID }), nil
	})
}

// PatchCustomField changes a custom field's object types.
func (n *NetBox) PatchCustomField(_ context.Context, id int, fields map[string]any) (netbox.CustomField, error) {
	return call(n, "PatchCustomField", func() (netbox.CustomField, error) {
		for name, f := range n.Fields {
			if f.ID == id {
				if t, ok := fields["object_types"].([]string); ok {
					f.ObjectTypes = t
				}
				n.Fields[name] = f
				return f, nil
			}
		}
		return netbox.CustomField{}, notFound("PatchCustomField", id)
	})
}

// vmNameTaken reports whether another VM than except has the name in the cluster
// (NetBox compares names without case).
func (n *NetBox) vmNameTaken(except int, name string, cluster int) bool {
	for id, v := range n.VMs {
		if id != except && strings.EqualFold(v.Name, name) && netbox.RefID(v.Cluster) == cluster {
			return true
		}
	}
	return false
}

// vmOf is the VM an address is assigned to (through an interface), 0 for none.
func (n *NetBox) vmOf(a *netbox.IPAddress) int {
	if a.AssignedObjectType != netbox.VMInterfaceType {
		return 0
	}
	if i, ok := n.Interfaces[a.AssignedObjectID]; ok {
		return i.VirtualMachine.ID
	}
	return 0
}

// assign puts an address on an interface (or on none: t nil), refusing to move a VM's
// primary IPv4 away from it.
func (n *NetBox) assign(op string, a *netbox.IPAddress, t, id any) error {
	typ, _ := t.(string)
	iid, _ := id.(int)
	if typ != "" && (typ != netbox.VMInterfaceType || n.Interfaces[iid] == nil) {
		return Refused(op, 400, "assigned_object: no such interface")
	}
	if vm := n.VMs[n.vmOf(a)]; vm != nil && netbox.RefID(vm.PrimaryIP4) == a.ID && (typ == "" || n.Interfaces[iid].VirtualMachine.ID != vm.ID) {
		return Refused(op, 400, "Cannot reassign IP address while it is designated as the primary IP for the parent object")
	}
	a.AssignedObjectType, a.AssignedObjectID = typ, iid
	return nil
}

// nameFits is NetBox's limit on a virtual machine's and an interface's name (64
// characters, as Python counts them).
func nameFits(op, name string) error {
	if utf8.RuneCountInString(name) > 64 {
		return Refused(op, 400, "name: Ensure this field has no more than 64 characters.")
	}
	return nil
}
