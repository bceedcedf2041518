package driver

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// runRetries bounds how often a contiguous reservation is retried after losing a race.
const runRetries = 10

// getAddress takes SIZE free addresses of the AR, contiguous.
func (d *Call) getAddress(ctx context.Context, req mapping.Request) (netip.Addr, int, error) {
	s, err := d.needRange(ctx, req.AR)
	if err != nil {
		return netip.Addr{}, 0, err
	}
	n, err := mapping.AddressSize(req.Address)
	if err != nil {
		return netip.Addr{}, 0, err
	}
	if n > s.Size() {
		return netip.Addr{}, 0, inputf("cannot take %d addresses from %s of %d", n, s, s.Size())
	}
	var first netip.Addr
	if n == 1 {
		first, err = d.takeOne(ctx, s)
	} else {
		first, err = d.takeRun(ctx, s, n)
	}
	if err != nil {
		return netip.Addr{}, 0, err
	}
	d.Infof("lease %s (+%d) from %s for request %s", first, n-1, s, d.reqID)
	return first, n, nil
}

// takeOne asks NetBox's available-ips of the range for one address: NetBox picks it
// under its lock, so racing clients never get the same one.
func (d *Call) takeOne(ctx context.Context, s mapping.StoredAR) (netip.Addr, error) {
	lease, err := d.takeFromRange(ctx, s, d.leaseSpec(s, netip.Addr{}, 0, 0, ""))
	switch {
	case netbox.IsNotFound(err):
		return netip.Addr{}, statef("NetBox IP range %d of %s no longer exists; restore it in NetBox or re-create the AR", s.RangeID, s)
	case netbox.KindOf(err) == netbox.KindConflict:
		// NetBox says "insufficient space" also for a range that is not full but cannot
		// take leases (marked populated): only the failure pays for a second look.
		if _, rerr := d.ipRange(ctx, s); rerr != nil {
			return netip.Addr{}, rerr
		}
		return netip.Addr{}, conflictf("no free address in %s (NetBox IP range %d is full)", s, s.RangeID)
	case err != nil:
		return netip.Addr{}, err
	}
	a, err := lease.Addr()
	if err != nil || !s.Has(a) {
		d.dropLeases(lease.ID)
		return netip.Addr{}, statef("NetBox IP range %d handed out %s, outside %s; make the range match the AR (onevnet updatear or edit the range)", s.RangeID, lease.Address, s)
	}
	if d.cfg.LeaseMAC == "later" && s.Type != "IP4_6" {
		return a, nil // one request: the hooks, or `netbox-ipam sync`, record the MAC
	}
	if err := d.completeLeases(ctx, s, []netbox.IPAddress{lease}); err != nil {
		return netip.Addr{}, err
	}
	return a, nil
}

// takeRun finds n contiguous free addresses and creates them in one atomic request.
// It takes the lowest free block; when other clients took part of it meanwhile (NetBox
// refuses the whole request), it tries again at a random free block, so that racing
// reservations spread out instead of all chasing the same one.
func (d *Call) takeRun(ctx context.Context, s mapping.StoredAR, n int) (netip.Addr, error) {
	r, err := d.ipRange(ctx, s)
	if err != nil {
		return netip.Addr{}, err
	}
	bits := RangeBits(r)
	for attempt := 0; attempt < runRetries; attempt++ {
		avail, err := d.nb.AvailableInRange(ctx, r.ID, 1000)
		if err != nil {
			return netip.Addr{}, err
		}
		free := make([]netip.Addr, 0, len(avail))
		for _, f := range avail {
			if p, err := netip.ParsePrefix(f.Address); err == nil {
				free = append(free, p.Addr())
			}
		}
		runs := mapping.FreeRuns(free, n)
		if len(runs) == 0 {
			return netip.Addr{}, conflictf("no %d contiguous free addresses in %s (NetBox IP range %d)", n, s, r.ID)
		}
		first := runs[0]
		if attempt > 0 {
			first = runs[rand.IntN(len(runs))]
		}
		specs := make([]netbox.IPAddressSpec, 0, n)
		for i := 0; i < n; i++ {
			a, _ := mapping.Add(first, int64(i))
			specs = append(specs, d.leaseSpec(s, a, bits, netbox.RefID(r.VRF), s.MACAt(a)))
		}
		got, err := d.createLeases(ctx, specs)
		if netbox.KindOf(err) == netbox.KindInvalid {
			d.Infof("lost a race for %s (+%d): another client took part of it; trying another block", first, n-1)
			continue
		}
		if err != nil {
			return netip.Addr{}, err
		}
		return first, d.completeLeases(ctx, s, got)
	}
	return netip.Addr{}, conflictf("could not reserve %d contiguous addresses in %s: other clients kept taking them (%d tries)", n, s, runRetries)
}

func RangeBits(r netbox.IPRange) int {
	p, err := netip.ParsePrefix(r.StartAddress)
	if err != nil {
		return 32
	}
	return p.Bits()
}

// completeLeases records what a lease needs beyond available-ips: the MAC (known only
// once NetBox chose the address) and the lease's IPv6 addresses (leaseIPv6). On failure
// the leases are removed, so OpenNebula and NetBox stay in step.
func (d *Call) completeLeases(ctx context.Context, s mapping.StoredAR, leases []netbox.IPAddress) (err error) {
	ids := make([]int, 0, len(leases))
	for _, l := range leases {
		ids = append(ids, l.ID)
	}
	defer func() {
		if err != nil {
			d.dropLeases(ids...)
		}
	}()
	var v6 []netbox.IPAddressSpec
	for _, l := range leases {
		a, _ := l.Addr()
		mac := s.MACAt(a)
		if mac != "" && l.CustomString(mapping.CFMAC) == "" {
			if _, err := d.nb.PatchIPAddress(ctx, l.ID, map[string]any{"custom_fields": map[string]any{mapping.CFMAC: mac}}); err != nil {
				return err
			}
		}
		for _, x := range s.IPv6At(a) {
			v6 = append(v6, d.leaseSpec(s, x.Addr(), x.Bits(), netbox.RefID(l.VRF), mac))
		}
	}
	if len(v6) == 0 {
		return nil
	}
	got, err := d.createLeases(ctx, v6)
	if err != nil {
		return fmt.Errorf("recording the IPv6 addresses of the lease: %w", err)
	}
	for _, g := range got {
		ids = append(ids, g.ID)
	}
	return nil
}

// dropLeases removes leases this call created, on its own short deadline.
func (d *Call) dropLeases(ids ...int) {
	ctx, cancel := cleanupCtx()
	defer cancel()
	for _, id := range ids {
		if err := d.Remove(ctx, ObjectIPAddress, id); err != nil {
			d.Infof("could not remove ip-address %d after a failure: %v", id, err)
		}
	}
}

// allocate holds exactly IP…IP+SIZE-1, atomically.
func (d *Call) allocate(ctx context.Context, req mapping.Request) error {
	s, err := d.needRange(ctx, req.AR)
	if err != nil {
		return err
	}
	addrs, err := s.Requested(req.Address)
	if err != nil {
		return err
	}
	r, err := d.ipRange(ctx, s)
	if err != nil {
		return err
	}
	vrf, bits := netbox.RefID(r.VRF), RangeBits(r)
	if err := d.takeOver(ctx, s, vrf, addrs); err != nil {
		return err
	}
	specs := make([]netbox.IPAddressSpec, 0, len(addrs))
	for _, a := range addrs {
		specs = append(specs, d.leaseSpec(s, a, bits, vrf, s.MACAt(a)))
	}
	got, err := d.createLeases(ctx, specs)
	if netbox.KindOf(err) == netbox.KindInvalid {
		if terr := d.refuseTaken(ctx, vrf, addrs); terr != nil { // taken between our look and our POST
			return terr
		}
	}
	if err != nil {
		return err
	}
	if err := d.completeLeases(ctx, s, got); err != nil {
		return err
	}
	d.Infof("hold %s (+%d) in %s for request %s", addrs[0], len(addrs)-1, s, d.reqID)
	return nil
}

// takeOver fails naming the first of addrs that NetBox already holds, unless what it
// holds there is the driver's cooling lease (release: cooldown): an explicit allocate
// of a freed address (a VM re-created with its fixed IP) takes it. The cooling
// objects, the IPv6 addresses of an IP4_6 lease among them, are deleted and the lease
// made afresh by the caller; should another client's get_address take the address in
// between, the caller's create fails saying so: never two holders.
func (d *Call) takeOver(ctx context.Context, s mapping.StoredAR, vrf int, addrs []netip.Addr) error {
	if d.cfg.Release != "cooldown" {
		return d.refuseTaken(ctx, vrf, addrs)
	}
	lookup := append(append([]netip.Addr{}, addrs...), s.IPv6Addrs(addrs)...)
	have, err := d.nb.IPAddressesAt(ctx, vrf, addrStrings(lookup))
	if err != nil {
		return err
	}
	var cooling []int
	for _, h := range have {
		a, _ := h.Addr()
		switch {
		case d.Freed(h).TakesOver():
			cooling = append(cooling, h.ID)
		case a.Is4():
			return takenError(h)
		}
	}
	if len(cooling) == 0 {
		return nil
	}
	if err := d.RemoveAddresses(ctx, cooling); err != nil {
		return err
	}
	d.Infof("took %s (+%d) over from its cool-down for request %s", addrs[0], len(addrs)-1, d.reqID)
	return nil
}

// refuseTaken fails naming the first of addrs that NetBox already holds, whoever owns it.
func (d *Call) refuseTaken(ctx context.Context, vrf int, addrs []netip.Addr) error {
	have, err := d.nb.IPAddressesAt(ctx, vrf, addrStrings(addrs))
	if err != nil {
		return err
	}
	if len(have) > 0 {
		return takenError(have[0])
	}
	return nil
}

// takenError is the conflict of an address NetBox holds object h at.
func takenError(h netbox.IPAddress) error {
	a, _ := h.Addr()
	label := h.Description
	if label == "" {
		label = h.Display
	}
	return conflictf("%s is already in NetBox (ip-address %d, %q)", a, h.ID, label)
}

// free removes the driver's objects at IP…IP+SIZE-1 (and the lease's IPv6 addresses).
// Gone already is success; someone else's object stays.
//
// A free that fails strands the lease: oned keeps it and a later `onevnet release` no
// longer matches a terminated VM. So once the request is understood, a NetBox that is
// unreachable, slow, failing or refusing the token still gets success: the objects
// stay in NetBox, an INFO line in oned.log and the warning (for the driver's log) name
// them, and `netbox-ipam audit` reports them as orphans that `sync` removes.
func (d *Call) free(ctx context.Context, req mapping.Request) (warning string, err error) {
	s, err := mapping.ReadStoredAR(req.AR)
	if err != nil {
		return "", err
	}
	addrs, err := s.Requested(req.Address)
	if err != nil {
		return "", err
	}
	if err := d.removeLeases(ctx, s, addrs); err != nil {
		d.Infof("could not free %s (+%d) in %s in NetBox, left for `netbox-ipam sync`: %v", addrs[0], len(addrs)-1, s, err)
		return "free left NetBox objects behind: " + mapping.OneLine(err.Error()), nil
	}
	return "", nil
}

func (d *Call) removeLeases(ctx context.Context, s mapping.StoredAR, addrs []netip.Addr) error {
	if s.LostIDs() {
		if err := d.FindRange(ctx, &s); err != nil {
			return err
		}
	}
	o, err := d.ObjectsOf(ctx, s, false)
	if err != nil {
		return err
	}
	if !o.Known() {
		d.Infof("neither the IP range nor the prefix of %s exists; nothing to free", s)
		return nil
	}
	lookup := append(append([]netip.Addr{}, addrs...), s.IPv6Addrs(addrs)...)
	have, err := d.nb.IPAddressesAt(ctx, o.VRF, addrStrings(lookup))
	if err != nil {
		return err
	}
	for _, h := range have {
		if !d.Owned(h.Tagged) {
			d.Infof("left %s alone: NetBox ip-address %d is not tagged %s", h.Address, h.ID, d.cfg.Tag)
			continue
		}
		if err := d.release(ctx, h); err != nil {
			return err
		}
	}
	d.Infof("free %s (+%d) in %s", addrs[0], len(addrs)-1, s)
	return nil
}

// release deletes a lease, or keeps it deprecated when so configured: for good
// (deprecate) or until the cool-down is up (cooldown: the time it frees is written on
// it, and sync deletes it then). A deprecated lease loses the DNS name the hooks gave
// it (dns_name), which named its holder; its label stays, saying who held it last.
func (d *Call) release(ctx context.Context, a netbox.IPAddress) error {
	if d.cfg.Release == "delete" {
		return d.Remove(ctx, ObjectIPAddress, a.ID)
	}
	change := map[string]any{"status": mapping.StatusDeprecated}
	if !d.cfg.DNS.IsZero() && a.DNSName != "" {
		change["dns_name"] = ""
	}
	if d.cfg.Release == "cooldown" {
		change["custom_fields"] = map[string]any{mapping.CFFreesAt: mapping.FreesAt(d.Now().Add(d.cfg.Cooldown))}
	}
	_, err := d.nb.PatchIPAddress(ctx, a.ID, change)
	return err
}

// Freed is where an IP address object stands after frees (mapping.FreedState);
// someone else's object is never freed by the driver, so it counts as leased.
func (d *Driver) Freed(a netbox.IPAddress) mapping.Freed {
	if !d.Owned(a.Tagged) {
		return mapping.Leased
	}
	return mapping.FreedState(a.Status.Value, a.CustomString(mapping.CFFreesAt), d.Now())
}

// addrStrings is addrs as NetBox's address filter takes them.
func addrStrings(addrs []netip.Addr) []string {
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.String())
	}
	return out
}
