package driver

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// Every object the driver creates or removes goes through the functions below, so the
// call's Changes list them. Each POST carries the call's description (request
// id and the call's timestamp, unique to this process) so that, when its answer is
// lost, netbox.CreateOnce can find exactly what it made instead of sending it again or
// leaving it behind.

// The kinds of NetBox objects the driver owns, as the log names them.
const (
	ObjectIPAddress = "ip-address"
	ObjectIPRange   = "ip-range"
	ObjectPrefix    = "prefix"
	// vms.enabled (package hooks)
	ObjectClusterType = "cluster-type"
	ObjectCluster     = "cluster"
	ObjectVM          = "virtual-machine"
	ObjectInterface   = "vm-interface"
)

// NoteObject records a NetBox object this call created (+) or removed (-).
func (d *Call) NoteObject(sign, kind string, id int) {
	d.changes = append(d.changes, fmt.Sprintf("%s%s/%d", sign, kind, id))
}

// Remove deletes one object the driver owns; already gone is success.
func (d *Call) Remove(ctx context.Context, kind string, id int) error {
	var err error
	switch kind {
	case ObjectIPAddress:
		err = d.nb.DeleteIPAddress(ctx, id)
	case ObjectIPRange:
		err = d.nb.DeleteIPRange(ctx, id)
	case ObjectPrefix:
		err = d.nb.DeletePrefix(ctx, id)
	default:
		return fmt.Errorf("cannot remove a NetBox %s", kind)
	}
	if netbox.IsNotFound(err) {
		return nil
	}
	if err == nil {
		d.NoteObject("-", kind, id)
	}
	return err
}

// RemoveAddresses deletes IP addresses the driver owns, in bulk.
func (d *Call) RemoveAddresses(ctx context.Context, ids []int) error {
	if len(ids) == 0 {
		return nil
	}
	if err := d.nb.DeleteIPAddresses(ctx, ids); err != nil {
		return err
	}
	for _, id := range ids {
		d.NoteObject("-", ObjectIPAddress, id)
	}
	return nil
}

// takeFromRange is available-ips POST of one lease in the AR's IP range.
func (d *Call) takeFromRange(ctx context.Context, s mapping.StoredAR, spec netbox.IPAddressSpec) (netbox.IPAddress, error) {
	got, err := netbox.CreateOnce(ctx,
		func(c context.Context) ([]netbox.IPAddress, error) {
			return d.nb.TakeFromRange(c, s.RangeID, []netbox.IPAddressSpec{spec})
		},
		func(c context.Context) ([]netbox.IPAddress, bool, error) {
			have, err := d.nb.IPAddressesLabelled(c, d.cfg.Tag, spec.Description)
			var mine []netbox.IPAddress
			for _, h := range have { // the call's IPv4 lease (its IPv6 ones come later)
				if a, aerr := h.Addr(); aerr == nil && a.Is4() {
					mine = append(mine, h)
				}
			}
			d.InfoLost(fmt.Sprintf("a lease in NetBox IP range %d", s.RangeID), len(mine))
			return mine, len(mine) > 0, err
		})
	if err != nil {
		return netbox.IPAddress{}, err
	}
	for _, g := range got {
		d.NoteObject("+", ObjectIPAddress, g.ID)
	}
	if len(got) != 1 {
		ids := make([]int, 0, len(got))
		for _, g := range got {
			ids = append(ids, g.ID)
		}
		d.dropLeases(ids...)
		return netbox.IPAddress{}, statef("NetBox returned %d addresses for one", len(got))
	}
	return got[0], nil
}

// createLeases creates IP addresses at the specs' exact addresses in one atomic request.
func (d *Call) createLeases(ctx context.Context, specs []netbox.IPAddressSpec) ([]netbox.IPAddress, error) {
	want := map[netip.Addr]int{} // address → VRF
	for _, s := range specs {
		if p, err := netip.ParsePrefix(s.Address); err == nil {
			want[p.Addr()] = s.VRFID
		}
	}
	got, err := netbox.CreateOnce(ctx,
		func(c context.Context) ([]netbox.IPAddress, error) { return d.nb.CreateIPAddresses(c, specs) },
		func(c context.Context) ([]netbox.IPAddress, bool, error) {
			have, err := d.nb.IPAddressesLabelled(c, d.cfg.Tag, specs[0].Description)
			var mine []netbox.IPAddress
			for _, h := range have {
				a, aerr := h.Addr()
				if vrf, ok := want[a]; aerr == nil && ok && vrf == netbox.RefID(h.VRF) {
					mine = append(mine, h)
				}
			}
			d.InfoLost(fmt.Sprintf("IP addresses (%d)", len(specs)), len(mine))
			if err == nil && len(mine) > 0 && len(mine) != len(specs) {
				err = statef("NetBox holds %d of the %d addresses of one atomic request", len(mine), len(specs))
			}
			return mine, len(mine) == len(specs), err
		})
	for _, g := range got {
		d.NoteObject("+", ObjectIPAddress, g.ID)
	}
	return got, err
}

// createPrefixOnce creates a prefix named by the AR.
func (d *Call) createPrefixOnce(ctx context.Context, spec netbox.PrefixSpec) (netbox.Prefix, error) {
	return d.notePrefix(netbox.CreateOnce(ctx,
		func(c context.Context) (netbox.Prefix, error) { return d.nb.CreatePrefix(c, spec) },
		func(c context.Context) (netbox.Prefix, bool, error) {
			return d.onePrefix(c, spec.Description, func(p netbox.Prefix) bool {
				return p.Prefix == spec.Prefix && netbox.RefID(p.VRF) == spec.VRFID
			})
		}))
}

// carvePrefix takes a child prefix of length from parent through available-prefixes.
func (d *Call) carvePrefix(ctx context.Context, parent netbox.Prefix, length int, spec netbox.PrefixSpec) (netbox.Prefix, error) {
	pnet, _ := parent.Net()
	return d.notePrefix(netbox.CreateOnce(ctx,
		func(c context.Context) (netbox.Prefix, error) { return d.nb.CarvePrefix(c, parent.ID, length, spec) },
		func(c context.Context) (netbox.Prefix, bool, error) {
			return d.onePrefix(c, spec.Description, func(p netbox.Prefix) bool {
				n, err := p.Net()
				return err == nil && n.Bits() == length && pnet.Contains(n.Addr()) && netbox.RefID(p.VRF) == spec.VRFID
			})
		}))
}

func (d *Call) notePrefix(p netbox.Prefix, err error) (netbox.Prefix, error) {
	if err == nil {
		d.NoteObject("+", ObjectPrefix, p.ID)
	}
	return p, err
}

func (d *Call) onePrefix(ctx context.Context, desc string, match func(netbox.Prefix) bool) (netbox.Prefix, bool, error) {
	have, err := d.nb.PrefixesLabelled(ctx, d.cfg.Tag, desc)
	if err != nil {
		return netbox.Prefix{}, false, err
	}
	for _, p := range have {
		if match(p) {
			d.InfoLost("a prefix", 1)
			return p, true, nil
		}
	}
	d.InfoLost("a prefix", 0)
	return netbox.Prefix{}, false, nil
}

// createIPRange creates the AR's IP range.
func (d *Call) createIPRange(ctx context.Context, spec netbox.IPRangeSpec) (netbox.IPRange, error) {
	r, err := netbox.CreateOnce(ctx,
		func(c context.Context) (netbox.IPRange, error) { return d.nb.CreateIPRange(c, spec) },
		func(c context.Context) (netbox.IPRange, bool, error) {
			have, err := d.nb.IPRangesLabelled(c, d.cfg.Tag, spec.Description)
			for _, r := range have {
				if r.StartAddress == spec.Start && r.EndAddress == spec.End && netbox.RefID(r.VRF) == spec.VRFID {
					d.InfoLost("an IP range", 1)
					return r, true, nil
				}
			}
			d.InfoLost("an IP range", 0)
			return netbox.IPRange{}, false, err
		})
	if err == nil {
		d.NoteObject("+", ObjectIPRange, r.ID)
	}
	return r, err
}

// InfoLost tells oned.log that an answer was lost and what the look-up found.
func (d *Call) InfoLost(what string, found int) {
	d.Infof("NetBox's answer to creating %s was lost; the look-up by description found %d", what, found)
}
