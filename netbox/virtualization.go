package netbox

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
)

// NetBox's virtualization objects the driver keeps for OpenNebula's VMs (vms.enabled):
// cluster types, clusters, virtual machines and their interfaces. go-netbox 4.0 knows
// neither MAC address objects nor the `mac_address` shortcut on interfaces (NetBox 4.2
// moved MACs to objects of their own, 4.7 accepts the shortcut again), so these go
// through do() with plain JSON bodies.

// VMInterfaceType is how an IP address names a VM interface it is assigned to.
const VMInterfaceType = "virtualization.vminterface"

// Cluster is virtualization.cluster.
type Cluster struct {
	Tagged
	Name string `json:"name"`
	Type *Ref   `json:"type"`
}

// VirtualMachine is virtualization.virtualmachine.
type VirtualMachine struct {
	Tagged
	Name       string `json:"name"`
	Status     Choice `json:"status"`
	Cluster    *Ref   `json:"cluster"`
	PrimaryIP4 *Ref   `json:"primary_ip4"`
}

// VMInterface is virtualization.vminterface.
type VMInterface struct {
	Tagged
	Name           string `json:"name"`
	VirtualMachine Ref    `json:"virtual_machine"`
	MACAddress     string `json:"mac_address"`
}

// ClusterTypeBySlug returns the cluster type, or a KindNotFound error.
func (c *Client) ClusterTypeBySlug(ctx context.Context, slug string) (Ref, error) {
	t, ok, err := first[Ref](ctx, c, "/api/virtualization/cluster-types/", url.Values{"slug": {slug}})
	if err == nil && !ok {
		err = &Error{Kind: KindNotFound, Op: "GET /api/virtualization/cluster-types/", Msg: fmt.Sprintf("no cluster type with slug %q", slug)}
	}
	return t, err
}

// CreateClusterType creates a cluster type carrying the tag.
func (c *Client) CreateClusterType(ctx context.Context, name, slug, tag, description string) (Ref, error) {
	var t Ref
	body := map[string]any{"name": name, "slug": slug, "description": description, "tags": nestedTags([]TagRef{{tag}})}
	return t, c.do(ctx, "POST", "/api/virtualization/cluster-types/", nil, body, &t)
}

// ClusterWith returns the cluster of the type (by slug) that carries the tag and the
// custom field's value, and whether there is one. The type is matched here, not in the
// query: NetBox refuses a filter naming a cluster type that does not exist yet.
func (c *Client) ClusterWith(ctx context.Context, typeSlug, tag, field, value string) (Cluster, bool, error) {
	l, err := listAll[Cluster](ctx, c, "/api/virtualization/clusters/", url.Values{"tag": {tag}, "cf_" + field: {value}}, 100)
	for _, x := range l {
		if x.Type != nil && x.Type.Slug == typeSlug {
			return x, true, err
		}
	}
	return Cluster{}, false, err
}

// ClusterSpec is a cluster to create.
type ClusterSpec struct {
	Name, Description string
	TypeID            int
	Tags              []TagRef
	CustomFields      map[string]any
}

// CreateCluster creates a cluster.
func (c *Client) CreateCluster(ctx context.Context, s ClusterSpec) (Cluster, error) {
	var out Cluster
	body := map[string]any{"name": s.Name, "type": s.TypeID, "status": "active", "description": s.Description,
		"tags": nestedTags(s.Tags)}
	withFields(body, s.CustomFields)
	return out, c.do(ctx, "POST", "/api/virtualization/clusters/", nil, body, &out)
}

// withFields adds custom fields to a body: none is no key (NetBox refuses null).
func withFields(body map[string]any, cf map[string]any) {
	if len(cf) > 0 {
		body["custom_fields"] = cf
	}
}

// VirtualMachinesWith lists the virtual machines carrying the tag whose custom field
// holds one of values (every one of the tag when values is empty).
func (c *Client) VirtualMachinesWith(ctx context.Context, tag, field string, values ...string) ([]VirtualMachine, error) {
	q := url.Values{"tag": {tag}}
	if len(values) > 0 {
		q["cf_"+field] = values
	}
	return listAll[VirtualMachine](ctx, c, "/api/virtualization/virtual-machines/", q, 1<<20)
}

// VirtualMachineSpec is a virtual machine to create.
type VirtualMachineSpec struct {
	Name, Status, Description string
	ClusterID                 int
	Tags                      []TagRef
	CustomFields              map[string]any
}

// CreateVirtualMachine creates a virtual machine.
func (c *Client) CreateVirtualMachine(ctx context.Context, s VirtualMachineSpec) (VirtualMachine, error) {
	var out VirtualMachine
	body := map[string]any{"name": s.Name, "status": s.Status, "cluster": s.ClusterID, "description": s.Description,
		"tags": nestedTags(s.Tags)}
	withFields(body, s.CustomFields)
	return out, c.do(ctx, "POST", "/api/virtualization/virtual-machines/", nil, body, &out)
}

// PatchVirtualMachine changes fields of one virtual machine.
func (c *Client) PatchVirtualMachine(ctx context.Context, id int, fields map[string]any) (VirtualMachine, error) {
	var out VirtualMachine
	return out, c.do(ctx, "PATCH", fmt.Sprintf("/api/virtualization/virtual-machines/%d/", id), nil, fields, &out)
}

// DeleteVirtualMachine deletes a virtual machine; NetBox deletes its interfaces, their
// MAC addresses and the IP addresses still assigned to them with it.
func (c *Client) DeleteVirtualMachine(ctx context.Context, id int) error {
	return c.do(ctx, "DELETE", fmt.Sprintf("/api/virtualization/virtual-machines/%d/", id), nil, nil, nil)
}

// VMInterfaces lists a virtual machine's interfaces.
func (c *Client) VMInterfaces(ctx context.Context, vmID int) ([]VMInterface, error) {
	return listAll[VMInterface](ctx, c, "/api/virtualization/interfaces/", url.Values{"virtual_machine_id": {strconv.Itoa(vmID)}}, 1000)
}

// VMInterfaceSpec is a VM interface to create, with its MAC: through NetBox 4.7's
// mac_address shortcut (it creates the MAC address object and makes it primary), or on
// 4.2–4.6 as a MAC address object of its own, made the interface's primary MAC.
type VMInterfaceSpec struct {
	VMID        int
	Name, MAC   string
	Description string
	Tags        []TagRef
}

// CreateVMInterfaces creates interfaces in one request, with their MACs: where the
// mac_address shortcut is read-only (NetBox 4.2–4.6, known from the API-Version of the
// answers before) two more, whatever the number of interfaces: the MAC address objects
// (with the interfaces' tags) and the interfaces' primary MACs.
func (c *Client) CreateVMInterfaces(ctx context.Context, specs []VMInterfaceSpec) ([]VMInterface, error) {
	shortcut := MACShortcut(ParseRelease(c.APIVersion()))
	body := make([]map[string]any, 0, len(specs))
	for _, s := range specs {
		b := map[string]any{"virtual_machine": s.VMID, "name": s.Name, "description": s.Description, "tags": nestedTags(s.Tags)}
		if s.MAC != "" && shortcut {
			b["mac_address"] = s.MAC
		}
		body = append(body, b)
	}
	var out []VMInterface
	if err := c.do(ctx, "POST", "/api/virtualization/interfaces/", nil, body, &out); err != nil || shortcut {
		return out, err
	}
	return out, c.setMACs(ctx, specs, out)
}

// setMACs gives interfaces made without the shortcut their MACs: a MAC address object
// each (specs[i] made made[i]), assigned to it and made its primary MAC.
func (c *Client) setMACs(ctx context.Context, specs []VMInterfaceSpec, made []VMInterface) error {
	var macs []map[string]any
	var on []int // the index in made of each MAC
	for i, s := range specs {
		if s.MAC == "" || i >= len(made) {
			continue
		}
		macs = append(macs, map[string]any{"mac_address": s.MAC, "assigned_object_type": VMInterfaceType,
			"assigned_object_id": made[i].ID, "description": s.Description, "tags": nestedTags(s.Tags)})
		on = append(on, i)
	}
	if len(macs) == 0 {
		return nil
	}
	var objs []struct {
		ID         int    `json:"id"`
		MACAddress string `json:"mac_address"`
	}
	if err := c.do(ctx, "POST", "/api/dcim/mac-addresses/", nil, macs, &objs); err != nil {
		return err
	}
	primary := make([]map[string]any, 0, len(objs))
	for k, o := range objs {
		if k < len(on) {
			primary = append(primary, map[string]any{"id": made[on[k]].ID, "primary_mac_address": o.ID})
			made[on[k]].MACAddress = o.MACAddress
		}
	}
	return c.do(ctx, "PATCH", "/api/virtualization/interfaces/", nil, primary, nil)
}

// DeleteVMInterfaces deletes interfaces in one request.
func (c *Client) DeleteVMInterfaces(ctx context.Context, ids []int) error {
	body := make([]map[string]int, 0, len(ids))
	for _, id := range ids {
		body = append(body, map[string]int{"id": id})
	}
	return c.do(ctx, "DELETE", "/api/virtualization/interfaces/", nil, body, nil)
}

// IPAddressesOfVM lists the IP addresses assigned to the virtual machine's interfaces,
// whoever's they are.
func (c *Client) IPAddressesOfVM(ctx context.Context, vmID int) ([]IPAddress, error) {
	return listAll[IPAddress](ctx, c, "/api/ipam/ip-addresses/", url.Values{"virtual_machine_id": {strconv.Itoa(vmID)}}, 1000)
}

// PatchCustomField changes fields of a custom field (setup adds object types to it).
func (c *Client) PatchCustomField(ctx context.Context, id int, fields map[string]any) (CustomField, error) {
	var out CustomField
	return out, c.do(ctx, "PATCH", fmt.Sprintf("/api/extras/custom-fields/%d/", id), nil, fields, &out)
}
