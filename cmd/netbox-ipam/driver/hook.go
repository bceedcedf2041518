package driver

import (
	"context"
	"net/netip"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// Hook records on each lease of a VM who holds it: one_vm_id, one_mac and a
// description with the VM's name, in one read and one bulk write. A lease whose object
// cannot be told apart (the same address in two VRFs, both the driver's, same AR id)
// or is not the driver's is left as it is; `netbox-ipam sync` catches up on it.
func (d *Driver) Hook(ctx context.Context, vm mapping.VM) (Response, error) {
	c := d.begin("")
	var ips []string
	for _, n := range vm.NICs {
		if a, err := netip.ParseAddr(n.IP); err == nil && a.Is4() {
			ips = append(ips, a.String())
		}
	}
	if len(ips) == 0 {
		return Response{}, nil
	}
	have, err := d.nb.IPAddressesTaggedAt(ctx, d.cfg.Tag, ips)
	if err != nil {
		return Response{}, err
	}
	var changes []map[string]any
	for _, n := range vm.NICs {
		obj, ok := c.leaseOf(n, have)
		if !ok {
			continue
		}
		cf, desc := mapping.LeaseRecord(vm, n)
		if sameRecord(obj, cf, desc) {
			continue
		}
		changes = append(changes, map[string]any{"id": obj.ID, "custom_fields": cf, "description": desc})
	}
	if len(changes) == 0 {
		return Response{}, nil
	}
	if err := d.nb.PatchIPAddresses(ctx, changes); err != nil {
		return Response{}, err
	}
	d.infof("VM %s: recorded %d lease(s) in NetBox", vm.ID, len(changes))
	return Response{Changes: c.changes}, nil
}

// leaseOf is the driver's object of a NIC's lease among have: at its address, of its
// AR. More than one is left for sync (their VRFs tell them apart, which the hook does
// not read).
func (d *call) leaseOf(n mapping.NIC, have []netbox.IPAddress) (netbox.IPAddress, bool) {
	var found []netbox.IPAddress
	for _, h := range have {
		if a, err := h.Addr(); err == nil && a.String() == n.IP && h.CustomString(mapping.CFARID) == n.ARID {
			found = append(found, h)
		}
	}
	if len(found) > 1 {
		d.infof("lease %s of NIC %s is in NetBox %d times (several VRFs); left for `netbox-ipam sync`", n.IP, n.ID, len(found))
	}
	if len(found) != 1 {
		return netbox.IPAddress{}, false
	}
	return found[0], true
}

// sameRecord reports whether obj already says what the hook would write.
func sameRecord(obj netbox.IPAddress, cf map[string]any, desc string) bool {
	if obj.Description != desc {
		return false
	}
	for k, v := range cf {
		if obj.CustomString(k) != v {
			return false
		}
	}
	return true
}
