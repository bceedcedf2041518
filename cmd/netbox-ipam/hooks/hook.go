package hooks

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// Hook records on each lease of VM id who holds it: one_vm_id, one_mac and a
// description with the VM's name, from what oned holds when the hook acts. The event
// that ran the hook (allocate's EXTRA, a state hook's $TEMPLATE, the ARGUMENTS that
// `onehook retry` replays days later) only says which VM to look at: by the time the
// hook runs the VM may have lost a NIC, been terminated, and its address gone to
// another VM. Without vms.enabled the VM goes through the hooks' spool (spool.go),
// whose drainer reads each VM from oned and records many at once (recordMany). With
// it, under the VM's lock, the VM is read and its NetBox virtual machine kept in step
// too (SyncVM, vms.go): a VM oned no longer has, or has terminated, loses it and is
// never given one. Either way it asks oned which of the VM's NICs have a lease of this
// driver (their AR's IPAM_MAD) and in which NetBox IP range, since the same address
// may be the driver's in another network and VRF; then it reads the driver's objects
// at those addresses once and writes the records in one bulk request. What it cannot
// tell apart is left as it is: `netbox-ipam sync` catches up on it.
func (h *Hooks) Hook(ctx context.Context, id string) (HookResponse, error) {
	if err := opennebula.CheckID("virtual machine", id); err != nil { // it names files and locks
		return HookResponse{}, err
	}
	// Both ways check the state folder before NetBox is asked: the spool's folder
	// (ownSpool) and the VM's lock (lock.go) are made in it only when it is the driver's.
	if !h.cfg.VMs.Enabled {
		// Labels only: many VMs' at once (spool.go), and the drainer asks whether this
		// front-end acts, once a batch rather than once a hook.
		return h.spoolAndDrain(ctx, id)
	}
	if resp, stop, err := h.skip(ctx); stop {
		return resp, err
	}
	c := h.Begin()
	_, err := c.SyncVM(ctx, id)
	return HookResponse{Response: driver.Response{Changes: c.Changes()}, VM: id}, err
}

// SyncVM is Hook for sync (vms.enabled): under the VM's lock it reads VM id from oned
// and acts on what oned holds now, never on what an earlier read said. A VM oned no
// longer has, or has terminated, loses its NetBox virtual machine. kept says whether
// the VM has one afterwards (it holds leases of the driver now).
func (c *Call) SyncVM(ctx context.Context, id string) (kept bool, err error) {
	unlock, err := c.lock(ctx, "vm-"+c.cfg.Name+"-"+id)
	if err != nil {
		return false, fmt.Errorf("cannot lock VM %s's hooks: %w", id, err)
	}
	defer unlock()
	now, err := c.oned.VM(ctx, id)
	switch {
	case opennebula.IsGone(err):
		return false, c.forgetVM(ctx, id)
	case err != nil:
		return false, err
	}
	return c.keepInStep(ctx, now)
}

// keepInStep makes NetBox hold what vm holds (vms.enabled, under the VM's lock): its
// virtual machine, an interface per NIC with a lease of the driver, the records; or
// nothing of it once it holds no lease of the driver. kept says which.
func (c *Call) keepInStep(ctx context.Context, vm mapping.VM) (kept bool, err error) {
	if vm.Done() { // oned has freed its leases
		return false, c.forgetVM(ctx, vm.ID)
	}
	nics, err := c.leasedNICs(ctx, vm)
	if err != nil {
		return false, err
	}
	if len(nics) == 0 {
		return false, c.forgetVM(ctx, vm.ID)
	}
	have, err := c.leaseObjects(ctx, nics)
	if err != nil {
		return false, err
	}
	v, err := c.keepVM(ctx, vm, nics)
	if err != nil {
		return false, err
	}
	changes, primary, err := c.records(ctx, vmHolder(vm), nics, have, v)
	if err != nil {
		return false, err
	}
	if err := c.writeRecords(ctx, "VM "+vm.ID, changes); err != nil {
		return false, err
	}
	if v != nil {
		return true, c.setPrimary(ctx, v, primary)
	}
	return true, nil
}

// recordMany records the holders of many VMs' leases at once (labels only, the hooks'
// spool), within call c, whose NIC ARs (c.ars) the drainer keeps from batch to batch:
// one oned read per network, one NetBox read per 100 addresses and one bulk write for
// them all. vms are as oned holds them now (the drainer read them); a terminated VM
// has nothing left to record. A VM whose networks cannot be read (deleted since, or
// oned failing) is left out and added to failed, and the others are recorded; the
// error is NetBox's, for the whole batch.
func (c *Call) recordMany(ctx context.Context, vms []mapping.VM, failed *batchError) (HookResponse, error) {
	start := len(c.Changes())
	ids := make([]string, 0, len(vms))
	for _, vm := range vms {
		ids = append(ids, vm.ID)
	}
	resp := HookResponse{VM: strings.Join(ids, " ")}
	held := make([][]leasedNIC, len(vms))
	var all []leasedNIC
	for i, vm := range vms {
		if vm.Done() {
			continue
		}
		nics, err := c.leasedNICs(ctx, vm)
		if err != nil {
			failed.add(vm.ID, err)
			continue
		}
		held[i] = nics
		all = append(all, nics...)
	}
	have, err := c.leaseObjects(ctx, all)
	if err == nil {
		var changes []map[string]any
		for i, vm := range vms {
			ch, _, rerr := c.records(ctx, vmHolder(vm), held[i], have, nil)
			if rerr != nil {
				err = rerr
				break
			}
			changes = append(changes, ch...)
		}
		if err == nil {
			err = c.writeRecords(ctx, "VM "+resp.VM, changes)
		}
	}
	resp.Changes = c.Changes()[start:]
	return resp, err
}

// batchError gathers the VMs of a batch that could not be recorded: one line for all,
// with the first one's error (and its kind) wrapped.
type batchError struct {
	ids   []string
	first error
}

func (b *batchError) add(id string, err error) {
	if b.first == nil {
		b.first = err
	}
	b.ids = append(b.ids, id)
}

func (b *batchError) err(of int) error {
	if b.first == nil {
		return nil
	}
	return fmt.Errorf("%d of %d VM(s) not recorded, left for `netbox-ipam sync` (VM %s): %w", len(b.ids), of, strings.Join(b.ids, ", "), b.first)
}

// leaseObjects reads the driver's objects at the NICs' addresses, in all VRFs (leaseOf
// picks each NIC's): one NetBox request per 100 addresses, none for no NIC.
func (c *Call) leaseObjects(ctx context.Context, nics []leasedNIC) ([]netbox.IPAddress, error) {
	if len(nics) == 0 {
		return nil, nil
	}
	ips := make([]string, 0, len(nics))
	for _, n := range nics {
		ips = append(ips, n.IP)
	}
	return c.nb.IPAddressesTaggedAt(ctx, c.cfg.Tag, ips)
}

// writeRecords writes the records' changes in bulk and says so in oned.log, naming
// their holder (who).
func (c *Call) writeRecords(ctx context.Context, who string, changes []map[string]any) error {
	if len(changes) == 0 {
		return nil
	}
	if err := c.nb.PatchIPAddresses(ctx, changes); err != nil {
		return err
	}
	c.Infof("%s: recorded %d lease(s) in NetBox", who, len(changes))
	return nil
}

// HookVRouter records the leases a virtual router holds itself (floating IPs) with its
// id and name, then each of its VMs (Hook): they are made inside oned, without
// one.vm.allocate and its hook.
func (h *Hooks) HookVRouter(ctx context.Context, vr mapping.VRouter) (HookResponse, error) {
	if resp, stop, err := h.skip(ctx); stop {
		return resp, err
	}
	if err := h.d.StateReady(); err != nil { // the floating IPs are written before any spool or lock
		return HookResponse{}, err
	}
	c := h.Begin()
	var ofVMs driver.Changes // what the hooks of its VMs changed
	out := func(err error) (HookResponse, error) {
		return HookResponse{Response: driver.Response{Changes: append(c.Changes(), ofVMs...)}, VM: "vrouter/" + vr.ID}, err
	}
	nics, err := c.leasedNICs(ctx, mapping.VM{ID: vr.ID, NICs: vr.NICs})
	if err != nil {
		return out(err)
	}
	have, err := c.leaseObjects(ctx, nics)
	if err != nil {
		return out(err)
	}
	changes, _, err := c.records(ctx, vrouterHolder(vr), nics, have, nil)
	if err != nil {
		return out(err)
	}
	if err := c.writeRecords(ctx, "virtual router "+vr.ID, changes); err != nil {
		return out(err)
	}
	resp, err := h.hookMany(ctx, vr.VMs)
	ofVMs = resp.Changes
	return out(err)
}

// hookMany is Hook for several VMs: without vms.enabled they go into the spool
// together and are drained once, as one batch rather than one wait for quiet each.
func (h *Hooks) hookMany(ctx context.Context, ids []string) (HookResponse, error) {
	var out HookResponse
	if h.cfg.VMs.Enabled || len(ids) < 2 {
		for _, id := range ids {
			resp, err := h.Hook(ctx, id)
			out.Changes, out.VM = append(out.Changes, resp.Changes...), joinNonEmpty(out.VM, resp.VM)
			if err != nil {
				return out, err
			}
		}
		return out, nil
	}
	for _, id := range ids {
		if err := opennebula.CheckID("virtual machine", id); err != nil {
			return out, err
		}
		if err := h.enqueue(id); err != nil {
			return out, err
		}
	}
	return h.Drain(ctx)
}

// HookResponse says which VM a hook kept in NetBox, and the objects it created and
// removed; or why it did nothing on this front-end (a RAFT follower), for the hook's
// record in oned.
type HookResponse struct {
	driver.Response
	VM      string
	Skipped string
}

// leasedNIC is a NIC whose lease the driver holds, and where: the AR's IP range and
// its VRF.
type leasedNIC struct {
	mapping.NIC
	rangeID, vrf int
	tenant       int      // the range's tenant (0: none): a lease's unless tenants maps its holder
	network      string   // the network's name
	clusters     []string // the network's OpenNebula clusters
}

// leasedNICs keeps the VM's IPv4 leases (its NICs, PCI NICs and aliases: vm.Leases)
// whose AR is this driver's, reading each network from oned once and each AR's range
// from NetBox once per call (d.ars).
func (d *Call) leasedNICs(ctx context.Context, vm mapping.VM) ([]leasedNIC, error) {
	if d.ars == nil {
		d.ars = map[[2]string]*leasedNIC{}
	}
	ars := d.ars
	var out []leasedNIC
	for _, n := range vm.Leases() {
		if a, err := netip.ParseAddr(n.IP); err != nil || !a.Is4() {
			continue
		}
		key := [2]string{n.NetworkID, n.ARID}
		where, seen := ars[key]
		if !seen {
			var err error
			if where, err = d.arOfNIC(ctx, n); err != nil {
				return nil, err
			}
			ars[key] = where
		}
		if where != nil {
			out = append(out, leasedNIC{NIC: n, rangeID: where.rangeID, vrf: where.vrf, tenant: where.tenant, network: where.network, clusters: where.clusters})
		}
	}
	return out, nil
}

// arOfNIC finds the NIC's AR in oned and, when it is this driver's, its IP range and
// VRF; nil when the AR is another IPAM's or its range is gone.
func (d *Call) arOfNIC(ctx context.Context, n mapping.NIC) (*leasedNIC, error) {
	v, err := d.oned.VNet(ctx, n.NetworkID)
	if err != nil {
		return nil, err
	}
	for _, ar := range v.ARs {
		if ar.Attrs.Get(mapping.AttrARID) != n.ARID || !ar.UsesIPAM(d.cfg.Name) {
			continue
		}
		s, err := mapping.ReadStoredAR(ar.Attrs)
		if err != nil {
			return nil, err
		}
		if err := d.FindRange(ctx, &s); err != nil || s.RangeID == 0 {
			return nil, err
		}
		r, err := d.nb.GetIPRange(ctx, s.RangeID)
		if netbox.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return &leasedNIC{rangeID: r.ID, vrf: netbox.RefID(r.VRF), tenant: netbox.RefID(r.Tenant), network: v.Name, clusters: v.Clusters}, nil
	}
	return nil, nil
}

// leaseOf is the driver's object of a NIC's lease among have: at its address, in its
// range's VRF.
func leaseOf(n leasedNIC, have []netbox.IPAddress) (netbox.IPAddress, bool) {
	for _, h := range have {
		if a, err := h.Addr(); err == nil && a.String() == n.IP && netbox.RefID(h.VRF) == n.vrf {
			return h, true
		}
	}
	return netbox.IPAddress{}, false
}
