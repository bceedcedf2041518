package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// runRetries bounds how often a contiguous reservation is retried after losing a race.
const runRetries = 10

// GetAddress handles get_address: SIZE n free addresses of the AR, contiguous.
func (d *Driver) GetAddress(ctx context.Context, req mapping.Request) (string, error) {
	s, err := d.needRange(ctx, req.AR)
	if err != nil {
		return "", err
	}
	n, err := addressSize(req.Address)
	if err != nil {
		return "", err
	}
	if n > s.size {
		return "", inputf("cannot take %d addresses from %s of %d", n, s, s.size)
	}
	var first netip.Addr
	if n == 1 {
		first, err = d.takeOne(ctx, s)
	} else {
		first, err = d.takeRun(ctx, s, n)
	}
	if err != nil {
		return "", err
	}
	var tpl mapping.Template
	tpl.Vector("ADDRESS", mapping.Attrs{{Name: mapping.AttrIP, Value: first.String()}, {Name: mapping.AttrSize, Value: strconv.Itoa(n)}})
	d.leased = first.String()
	d.info("lease %s (+%d) from %s for request %s", first, n-1, s, d.reqID)
	return tpl.String(), nil
}

func addressSize(addr mapping.Attrs) (int, error) {
	n, ok, err := addr.Int(mapping.AttrSize)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 1, nil
	}
	if n < 1 {
		return 0, inputf("ADDRESS SIZE must be positive, got %d", n)
	}
	return n, nil
}

// takeOne asks NetBox's available-ips of the range for one address: NetBox picks it
// under its lock, so racing clients never get the same one.
func (d *Driver) takeOne(ctx context.Context, s arSpan) (netip.Addr, error) {
	lease, err := d.takeFromRange(ctx, s, d.leaseSpec(s, netip.Addr{}, 0, 0, ""))
	switch {
	case netbox.IsNotFound(err):
		return netip.Addr{}, inputf("NetBox IP range %d of %s no longer exists; restore it in NetBox or re-create the AR", s.rangeID, s)
	case netbox.KindOf(err) == netbox.KindConflict:
		return netip.Addr{}, conflictf("no free address in %s (NetBox IP range %d is full)", s, s.rangeID)
	case err != nil:
		return netip.Addr{}, err
	}
	a, err := lease.Addr()
	if err != nil || a.Less(s.first) || s.last.Less(a) {
		d.dropLeases(lease.ID)
		return netip.Addr{}, inputf("NetBox IP range %d handed out %s, outside %s; make the range match the AR (onevnet updatear or edit the range)", s.rangeID, lease.Address, s)
	}
	if d.cfg.LeaseMAC == "sync" && s.arType != "IP4_6" {
		return a, nil // one request: `netbox-ipam sync` records the MAC
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
func (d *Driver) takeRun(ctx context.Context, s arSpan, n int) (netip.Addr, error) {
	r, err := d.ipRange(ctx, s)
	if err != nil {
		return netip.Addr{}, err
	}
	bits := rangeBits(r)
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
			specs = append(specs, d.leaseSpec(s, a, bits, netbox.RefID(r.VRF), macFor(s, a)))
		}
		got, err := d.createLeases(ctx, specs)
		if netbox.KindOf(err) == netbox.KindInvalid {
			d.info("lost a race for %s (+%d): another client took part of it; trying another block", first, n-1)
			continue
		}
		if err != nil {
			return netip.Addr{}, err
		}
		return first, d.completeLeases(ctx, s, got)
	}
	return netip.Addr{}, conflictf("could not reserve %d contiguous addresses in %s: other clients kept taking them (%d tries)", n, s, runRetries)
}

func rangeBits(r netbox.IPRange) int {
	p, err := netip.ParsePrefix(r.StartAddress)
	if err != nil {
		return 32
	}
	return p.Bits()
}

// completeLeases records what a lease needs beyond available-ips: the MAC (known only
// once NetBox chose the address) and the lease's IPv6 addresses (leaseIPv6). On failure
// the leases are removed, so OpenNebula and NetBox stay in step.
func (d *Driver) completeLeases(ctx context.Context, s arSpan, leases []netbox.IPAddress) (err error) {
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
		mac := macFor(s, a)
		if mac != "" && l.CustomString(mapping.CFMAC) == "" {
			if _, err := d.nb.PatchIPAddress(ctx, l.ID, map[string]any{"custom_fields": map[string]any{mapping.CFMAC: mac}}); err != nil {
				return err
			}
		}
		for _, x := range leaseIPv6(s, a) {
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
func (d *Driver) dropLeases(ids ...int) {
	ctx, cancel := cleanupCtx()
	defer cancel()
	for _, id := range ids {
		if err := d.remove(ctx, kindIPAddress, id); err != nil {
			d.info("could not remove ip-address %d after a failure: %v", id, err)
		}
	}
}

// Allocate handles allocate_address: exactly IP…IP+SIZE-1, atomically.
func (d *Driver) Allocate(ctx context.Context, req mapping.Request) (string, error) {
	s, err := d.needRange(ctx, req.AR)
	if err != nil {
		return "", err
	}
	addrs, err := requestedAddrs(s, req.Address)
	if err != nil {
		return "", err
	}
	r, err := d.ipRange(ctx, s)
	if err != nil {
		return "", err
	}
	vrf, bits := netbox.RefID(r.VRF), rangeBits(r)
	if err := d.refuseTaken(ctx, vrf, addrs); err != nil {
		return "", err
	}
	specs := make([]netbox.IPAddressSpec, 0, len(addrs))
	for _, a := range addrs {
		specs = append(specs, d.leaseSpec(s, a, bits, vrf, macFor(s, a)))
	}
	got, err := d.createLeases(ctx, specs)
	if netbox.KindOf(err) == netbox.KindInvalid {
		if terr := d.refuseTaken(ctx, vrf, addrs); terr != nil { // taken between our look and our POST
			return "", terr
		}
	}
	if err != nil {
		return "", err
	}
	if err := d.completeLeases(ctx, s, got); err != nil {
		return "", err
	}
	d.info("hold %s (+%d) in %s for request %s", addrs[0], len(addrs)-1, s, d.reqID)
	return "", nil
}

// requestedAddrs reads ADDRESS IP and SIZE and checks they lie inside the AR.
func requestedAddrs(s arSpan, addr mapping.Attrs) ([]netip.Addr, error) {
	ip := addr.Get(mapping.AttrIP)
	first, err := netip.ParseAddr(ip)
	if err != nil || !first.Is4() {
		return nil, inputf("ADDRESS IP %q is not an IPv4 address", ip)
	}
	n, err := addressSize(addr)
	if err != nil {
		return nil, err
	}
	last, ok := mapping.Add(first, int64(n-1))
	if !ok || first.Less(s.first) || s.last.Less(last) {
		return nil, inputf("%s (+%d) is outside %s", first, n-1, s)
	}
	out := make([]netip.Addr, 0, n)
	for a := first; len(out) < n; a = a.Next() {
		out = append(out, a)
	}
	return out, nil
}

// refuseTaken fails naming the first of addrs that NetBox already holds, whoever owns it.
func (d *Driver) refuseTaken(ctx context.Context, vrf int, addrs []netip.Addr) error {
	have, err := d.nb.IPAddressesAt(ctx, vrf, addrStrings(addrs))
	if err != nil {
		return err
	}
	if len(have) > 0 {
		h := have[0]
		a, _ := h.Addr()
		label := h.Description
		if label == "" {
			label = h.Display
		}
		return conflictf("%s is already in NetBox (ip-address %d, %q)", a, h.ID, label)
	}
	return nil
}

// Free handles free_address: remove the driver's objects at IP…IP+SIZE-1 (and the
// lease's IPv6 addresses). Gone already is success; someone else's object stays.
//
// A free that fails strands the lease: oned keeps it and a later `onevnet release` no
// longer matches a terminated VM. So once the request is understood, a NetBox that is
// unreachable, slow, failing or refusing the token still gets exit 0: the objects stay
// in NetBox, an INFO line in oned.log and a WARN in the driver's log name them, and
// `netbox-ipam audit` reports them as orphans that `sync` removes.
func (d *Driver) Free(ctx context.Context, req mapping.Request) (string, error) {
	s, err := storedAR(req.AR)
	if err != nil {
		return "", err
	}
	addrs, err := requestedAddrs(s, req.Address)
	if err != nil {
		return "", err
	}
	if err := d.free(ctx, s, addrs); err != nil {
		what := fmt.Sprintf("%s (+%d) in %s", addrs[0], len(addrs)-1, s)
		d.info("could not free %s in NetBox, left for `netbox-ipam sync`: %v", what, err)
		if d.log != nil {
			d.log.Warn("free left NetBox objects behind", "request", d.reqID, "ip", addrs[0].String(), "size", len(addrs), "ar", s.id, "error", oneLine(err.Error()))
		}
	}
	return "", nil
}

func (d *Driver) free(ctx context.Context, s arSpan, addrs []netip.Addr) error {
	if s.lostIDs() {
		if err := d.findRange(ctx, &s); err != nil {
			return err
		}
	}
	o, err := d.arObjects(ctx, s, false)
	if err != nil {
		return err
	}
	if !o.known() {
		d.info("neither the IP range nor the prefix of %s exists; nothing to free", s)
		return nil
	}
	lookup := append(append([]netip.Addr{}, addrs...), leaseIPv6Addrs(s, addrs)...)
	have, err := d.nb.IPAddressesAt(ctx, o.vrf, addrStrings(lookup))
	if err != nil {
		return err
	}
	for _, h := range have {
		if !d.owned(h.Tagged) {
			d.info("left %s alone: NetBox ip-address %d is not tagged %s", h.Address, h.ID, d.cfg.Tag)
			continue
		}
		if err := d.release(ctx, h); err != nil {
			return err
		}
	}
	d.info("free %s (+%d) in %s", addrs[0], len(addrs)-1, s)
	return nil
}

// release deletes a lease, or deprecates it when so configured.
func (d *Driver) release(ctx context.Context, a netbox.IPAddress) error {
	if d.cfg.Release == "deprecate" {
		_, err := d.nb.PatchIPAddress(ctx, a.ID, map[string]any{"status": "deprecated"})
		return err
	}
	return d.remove(ctx, kindIPAddress, a.ID)
}

// addrStrings is addrs as NetBox's address filter takes them.
func addrStrings(addrs []netip.Addr) []string {
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.String())
	}
	return out
}
