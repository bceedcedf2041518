package hooks

import (
	"context"
	"fmt"
	"strings"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// What a lease's object says of its holder: the label (custom fields and description,
// always), and where the configuration asks for them its DNS name (dns_name) and its
// tenant (tenants). The hooks write it; `sync` finds what lags (RecordDifferences)
// and has the hooks write it again from the VM as oned holds it then.

// holder is whom a lease's record names: a VM, or a virtual router holding its own
// floating IPs.
type holder struct {
	who         string // in oned.log: "VM 42"
	id, name    string
	user, group string // the owner, for tenants
	label       func(mapping.NIC) (map[string]any, string)
}

func vmHolder(vm mapping.VM) holder {
	return holder{who: "VM " + vm.ID, id: vm.ID, name: vm.Name, user: vm.UName, group: vm.GName,
		label: func(n mapping.NIC) (map[string]any, string) { return mapping.LeaseRecord(vm, n) }}
}

func vrouterHolder(vr mapping.VRouter) holder {
	return holder{who: "virtual router " + vr.ID, id: vr.ID, name: vr.Name, user: vr.UName, group: vr.GName,
		label: func(n mapping.NIC) (map[string]any, string) { return mapping.VRouterRecord(vr, n) }}
}

// record is what the driver's object of one lease should say.
type record struct {
	cf   map[string]any
	desc string
	// dns is the DNS name, nil to leave dns_name alone (no template).
	dns *string
	// tenant is the tenant's id (0: none), nil to leave it alone (no tenants mapping).
	tenant *int
}

// recordOf is the record of h's lease on n.
func (c *Call) recordOf(ctx context.Context, h holder, n leasedNIC) (record, error) {
	var r record
	r.cf, r.desc = h.label(n.NIC)
	if !c.cfg.DNS.IsZero() {
		name, err := c.cfg.DNS.Name(mapping.NameOf{VM: h.name, ID: h.id, Network: n.network, NetworkID: n.NetworkID, NIC: n.Name})
		if err != nil { // no valid name: none, rather than a stale one
			c.Infof("%s: no DNS name for %s: %v", h.who, n.IP, err)
		}
		r.dns = &name
	}
	if !c.cfg.Tenants.IsZero() {
		id := n.tenant // no entry for the owner: the range's
		if slug := c.cfg.Tenants.For(h.user, h.group); slug != "" {
			t, err := c.tenant(ctx, slug)
			if err != nil {
				return r, err
			}
			if t != 0 {
				id = t
			}
		}
		r.tenant = &id
	}
	return r, nil
}

// tenant is the id of the NetBox tenant slug, 0 when NetBox has none such: the lease
// is recorded without it, and the call says so once in the driver's log (`check`
// names every unknown one).
func (c *Call) tenant(ctx context.Context, slug string) (int, error) {
	if id, ok := c.tenants[slug]; ok {
		return id, nil
	}
	if c.tenants == nil {
		c.tenants = map[string]int{}
	}
	ref, err := c.nb.Resolve(ctx, "tenant", slug)
	switch {
	case netbox.IsNotFound(err):
		c.Infof("tenants maps to %q, which is no NetBox tenant: leases keep their range's tenant (create it in NetBox or fix the mapping)", slug)
	case err != nil:
		return 0, err
	}
	c.tenants[slug] = ref.ID
	return ref.ID, nil
}

// differs lists how obj differs from r, one phrase each, for what the hooks write.
func (r record) differs(obj netbox.IPAddress) (label, extra []string) {
	if obj.Description != r.desc {
		label = append(label, fmt.Sprintf("description %q", obj.Description))
	}
	for k, v := range r.cf {
		if obj.CustomString(k) != v {
			label = append(label, fmt.Sprintf("%s %q", k, obj.CustomString(k)))
		}
	}
	if r.dns != nil && obj.DNSName != *r.dns {
		extra = append(extra, fmt.Sprintf("DNS name %q, want %q", obj.DNSName, *r.dns))
	}
	if r.tenant != nil && netbox.RefID(obj.Tenant) != *r.tenant {
		extra = append(extra, fmt.Sprintf("tenant %d, want %d", netbox.RefID(obj.Tenant), *r.tenant))
	}
	return label, extra
}

// change is the PATCH that makes obj say r (nil when it does).
func (r record) change(obj netbox.IPAddress) map[string]any {
	label, extra := r.differs(obj)
	if len(label)+len(extra) == 0 {
		return nil
	}
	ch := map[string]any{}
	if len(label) > 0 {
		ch["custom_fields"], ch["description"] = r.cf, r.desc
	}
	if r.dns != nil && obj.DNSName != *r.dns {
		ch["dns_name"] = *r.dns
	}
	if r.tenant != nil && netbox.RefID(obj.Tenant) != *r.tenant {
		if *r.tenant == 0 {
			ch["tenant"] = nil
		} else {
			ch["tenant"] = *r.tenant
		}
	}
	return ch
}

// records are the changes that make the driver's objects of nics say what h's records
// say and, with kept, put each on its NIC's interface; and the object that should be
// the VM's primary IPv4: its first NIC's lease.
func (c *Call) records(ctx context.Context, h holder, nics []leasedNIC, have []netbox.IPAddress, kept *keptVM) ([]map[string]any, int, error) {
	var changes []map[string]any
	primary := 0
	for _, n := range nics {
		obj, ok := leaseOf(n, have)
		if !ok {
			c.Infof("%s: no lease object of the driver at %s in NetBox IP range %d's VRF; left for `netbox-ipam sync`", h.who, n.IP, n.rangeID)
			continue
		}
		r, err := c.recordOf(ctx, h, n)
		if err != nil {
			return nil, 0, err
		}
		change := r.change(obj)
		if change == nil {
			change = map[string]any{}
		}
		if kept != nil {
			iface := kept.interfaces[n.ID]
			if iface != 0 && primary == 0 {
				primary = obj.ID
			}
			if iface != 0 && (obj.AssignedObjectType != netbox.VMInterfaceType || obj.AssignedObjectID != iface) {
				change["assigned_object_type"], change["assigned_object_id"] = netbox.VMInterfaceType, iface
			}
		}
		if len(change) > 0 {
			change["id"] = obj.ID
			changes = append(changes, change)
		}
	}
	return changes, primary, nil
}

// recordDifferences says, per lease of nics, how its DNS name and tenant differ from
// what the hooks would write (the label is audit's own comparison, mapping.Compare).
func (c *Call) recordDifferences(ctx context.Context, h holder, nics []leasedNIC, have []netbox.IPAddress) ([]string, error) {
	if !c.cfg.RecordsMore() {
		return nil, nil
	}
	var out []string
	for _, n := range nics {
		obj, ok := leaseOf(n, have)
		if !ok {
			continue // no lease object: the AR's audit says so
		}
		r, err := c.recordOf(ctx, h, n)
		if err != nil {
			return nil, err
		}
		if _, extra := r.differs(obj); len(extra) > 0 {
			out = append(out, n.IP+": "+strings.Join(extra, ", "))
		}
	}
	return out, nil
}

// RecordDifferences is recordDifferences for VM vm as oned holds it (sync, labels
// only: with vms.enabled VMDifferences says it too).
func (c *Call) RecordDifferences(ctx context.Context, vm mapping.VM) ([]string, error) {
	if vm.Done() {
		return nil, nil
	}
	nics, err := c.leasedNICs(ctx, vm)
	if err != nil || len(nics) == 0 {
		return nil, err
	}
	have, err := c.leaseObjects(ctx, nics)
	if err != nil {
		return nil, err
	}
	return c.recordDifferences(ctx, vmHolder(vm), nics, have)
}

// RecordVM records VM id's leases from the VM as oned holds it now (sync, labels only;
// with vms.enabled SyncVM does it). recorded says whether the VM still holds leases of
// the driver.
func (c *Call) RecordVM(ctx context.Context, id string) (recorded bool, err error) {
	vm, err := c.oned.VM(ctx, id)
	switch {
	case opennebula.IsGone(err):
		return false, nil
	case err != nil:
		return false, err
	}
	if vm.Done() {
		return false, nil
	}
	var failed batchError
	if _, err := c.recordMany(ctx, []mapping.VM{vm}, &failed); err != nil {
		return false, err
	}
	return failed.first == nil, failed.err(1)
}
