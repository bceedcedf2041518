package mapping

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// Drift between OpenNebula's leases of one AR and what NetBox holds there, and what
// `sync` may do about it. This file is the policy only: it sees NetBox objects as
// Held values and says what to create, delete and update; cmd/netbox-ipam/driver
// talks to NetBox.

// Held is what NetBox holds at one address near an AR.
type Held struct {
	ID          int
	Addr        netip.Addr
	Owned       bool              // carries the driver's tag
	CF          map[string]string // the driver's custom fields on it
	Description string
	Created     time.Time // when NetBox made it (zero: unknown)
	Status      string    // NetBox's status value
}

// Finding kinds. All but label are drift (audit exits non-zero); a label is only
// the record of who holds a lease, which sync keeps up to date.
const (
	DriftMissing  = "missing"  // oned holds the lease, NetBox has no object
	DriftOrphan   = "orphan"   // the driver's object, oned holds no lease there
	DriftMismatch = "mismatch" // the driver's object disagrees on MAC or AR
	DriftForeign  = "foreign"  // oned holds the lease, someone else's object is there
	DriftRange    = "range"    // the AR's IP range is gone or spans other addresses
	DriftIDs      = "ids"      // the AR lost its NetBox ids; the driver's range spans it
	DriftSettings = "settings" // the AR's network settings differ from NetBox's prefix
	Label         = "label"    // the VM / network / router on the object is not current
)

// Finding is one line of the audit.
type Finding struct {
	Kind   string `json:"kind"`
	IP     string `json:"ip"`
	Object int    `json:"netbox_id,omitempty"`
	Detail string `json:"detail"`
}

// IsDrift reports whether the finding is a disagreement, not just a label to refresh.
func (f Finding) IsDrift() bool { return f.Kind != Label }

// LeaseObject is a lease object sync creates for a missing lease.
type LeaseObject struct {
	Addr         netip.Addr
	CustomFields map[string]any
	Description  string
}

// Update is a change sync makes to one of the driver's objects.
type Update struct {
	ID           int
	CustomFields map[string]any
	Description  string
	Status       string // NetBox's status to set; empty: leave it
}

// Repairs is what sync does for one AR.
type Repairs struct {
	Create    []LeaseObject
	Delete    []int
	Update    []Update
	RangeSpan bool // make the AR's IP range span the AR again
}

// Empty reports whether there is nothing to do.
func (r Repairs) Empty() bool { return len(r.Create)+len(r.Delete)+len(r.Update) == 0 && !r.RangeSpan }

// Compare finds the drift of one AR of network vnet. spans are the address spans that
// belong to the AR (its own IP…IP+SIZE-1 and, when they differ, its NetBox IP
// range's): the driver's objects inside them that oned does not hold are orphans.
// held is what NetBox holds in and around them (any order, any owner).
func Compare(vnet string, ar AR, spans []Span, held []Held) ([]Finding, Repairs) {
	arID := ar.Attrs.Get(AttrARID)
	byAddr := map[netip.Addr][]Held{}
	for _, h := range held {
		byAddr[h.Addr] = append(byAddr[h.Addr], h)
	}
	var out []Finding
	var rep Repairs
	want := map[netip.Addr]bool{}
	for _, l := range ar.Leases {
		a, err := netip.ParseAddr(l.IP)
		if err != nil || !a.Is4() {
			continue // IPv6-only leases are not the IPv4 AR's
		}
		want[a] = true
		hs := byAddr[a]
		var mine *Held
		for i := range hs {
			if hs[i].Owned {
				mine = &hs[i]
				break
			}
		}
		switch {
		case len(hs) == 0:
			cf, desc := leaseRecord(vnet, arID, l)
			out = append(out, Finding{DriftMissing, a.String(), 0, fmt.Sprintf("oned holds it (%s), NetBox has no object", holder(vnet, l))})
			rep.Create = append(rep.Create, LeaseObject{Addr: a, CustomFields: cf, Description: desc})
		case mine == nil:
			out = append(out, Finding{DriftForeign, a.String(), hs[0].ID, fmt.Sprintf("oned holds it (%s), but NetBox's object is not the driver's (%q); left alone", holder(vnet, l), hs[0].Description)})
		default:
			f, u := compareRecord(vnet, arID, l, a, *mine)
			out = append(out, f...)
			rep.Update = append(rep.Update, u...)
		}
	}
	orphans := orphansIn(spans, held, want)
	for _, h := range orphans {
		out = append(out, Finding{DriftOrphan, h.Addr.String(), h.ID, fmt.Sprintf("the driver's object (request %q), but oned holds no lease there", h.CF[CFRequestID])})
		rep.Delete = append(rep.Delete, h.ID)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, _ := netip.ParseAddr(out[i].IP)
		b, _ := netip.ParseAddr(out[j].IP)
		return a.Less(b)
	})
	return out, rep
}

// compareRecord compares the driver's object of lease l with what it should say: a
// wrong AR or MAC is a mismatch, an old holder a label; both are rewritten. An object
// the driver freed (deprecated) that oned holds again is a mismatch too (a free whose
// end oned never saw, or a lease taken while the driver was elsewhere): left so, sync
// would delete it once its cool-down ran out and NetBox would hand it out twice; it is
// made a lease again.
func compareRecord(vnet, arID string, l Lease, a netip.Addr, mine Held) ([]Finding, []Update) {
	cf, desc := leaseRecord(vnet, arID, l)
	var diffs []string
	status := ""
	if mine.Status == StatusDeprecated {
		diffs = append(diffs, "freed in NetBox (deprecated), but oned holds it")
		status = StatusActive
	}
	if got := mine.CF[CFARID]; got != arID {
		diffs = append(diffs, fmt.Sprintf("AR %q, oned says %q", got, arID))
	}
	if got := mine.CF[CFMAC]; l.MAC != "" && got != "" && !strings.EqualFold(got, l.MAC) { // empty: not recorded yet (lease_mac: sync), a label
		diffs = append(diffs, fmt.Sprintf("MAC %q, oned says %q", got, l.MAC))
	}
	fix := map[string]any{}
	for k, v := range cf {
		if mine.CF[k] != v {
			fix[k] = v
		}
	}
	if status != "" && mine.CF[CFFreesAt] != "" {
		fix[CFFreesAt] = nil
	}
	stale := len(fix) > 0 || status != "" || !sameHolder(mine.Description, desc)
	var out []Finding
	switch {
	case len(diffs) > 0:
		out = append(out, Finding{DriftMismatch, a.String(), mine.ID, strings.Join(diffs, "; ")})
	case stale:
		out = append(out, Finding{Label, a.String(), mine.ID, "now " + holder(vnet, l)})
	}
	if !stale {
		return out, nil
	}
	return out, []Update{{ID: mine.ID, CustomFields: fix, Description: desc, Status: status}}
}

// orphansIn is the driver's IPv4 objects inside spans at addresses oned does not hold.
// A deprecated one is no orphan: it is a freed lease the driver keeps (release:
// deprecate, or cooldown until its time, when sync --all deletes it).
func orphansIn(spans []Span, held []Held, want map[netip.Addr]bool) []Held {
	inSpan := func(a netip.Addr) bool {
		for _, s := range spans {
			if s.Has(a) {
				return true
			}
		}
		return false
	}
	var out []Held
	for _, h := range held {
		if h.Owned && h.Status != StatusDeprecated && !want[h.Addr] && h.Addr.Is4() && inSpan(h.Addr) {
			out = append(out, h)
		}
	}
	return out
}

// sameHolder reports whether a lease object's description says what desc says, the
// holder's name (which hooks add and onevnet does not show) aside.
func sameHolder(got, desc string) bool {
	if got == desc {
		return true
	}
	head, tail, ok := strings.Cut(desc, ", network ")
	return ok && strings.HasPrefix(got, head+" (") && strings.HasSuffix(got, "), network "+tail)
}

// LeaseRecord is what the driver's object of the lease at ip of a VM's NIC should
// say, the VM's name included (hooks write it; audit accepts it).
func LeaseRecord(vm VM, nic NIC) (map[string]any, string) {
	cf, desc := leaseRecord(nic.NetworkID, nic.ARID, Lease{IP: nic.IP, MAC: nic.MAC, VM: vm.ID})
	return cf, named(desc, vm.Name)
}

// VRouterRecord is LeaseRecord for a lease a virtual router holds itself (a floating
// IP of one of its NICs).
func VRouterRecord(vr VRouter, nic NIC) (map[string]any, string) {
	cf, desc := leaseRecord(nic.NetworkID, nic.ARID, Lease{IP: nic.IP, MAC: nic.MAC, VRouter: vr.ID})
	return cf, named(desc, vr.Name)
}

// named puts the holder's name after it in a lease's description: "OpenNebula VM 42
// (web), network 7 AR 0" (what sameHolder accepts as current).
func named(desc, name string) string {
	if name == "" {
		return desc
	}
	head, tail, _ := strings.Cut(desc, ", network ")
	return head + " (" + OneLine(name) + "), network " + tail
}

// leaseRecord is what the driver's object of lease l should say: its custom fields
// and a description naming the holder.
func leaseRecord(vnet, arID string, l Lease) (map[string]any, string) {
	cf := map[string]any{CFARID: arID, CFVMID: "", CFVNetID: "", CFVRouterID: ""}
	if l.MAC != "" {
		cf[CFMAC] = strings.ToLower(l.MAC)
	}
	switch {
	case l.VRouter != "" && l.VRouter != "-1":
		cf[CFVRouterID] = l.VRouter
	case l.VM != "" && l.VM != "-1":
		cf[CFVMID] = l.VM
	}
	if l.VNet != "" && l.VNet != "-1" {
		cf[CFVNetID] = l.VNet // a reservation: the network that reserved it
	}
	return cf, fmt.Sprintf("OpenNebula %s, network %s AR %s", holder(vnet, l), vnet, arID)
}

// holder names who holds a lease, as people say it.
func holder(vnet string, l Lease) string {
	switch {
	case l.VRouter != "" && l.VRouter != "-1":
		return "virtual router " + l.VRouter
	case l.VM != "" && l.VM != "-1":
		return "VM " + l.VM
	case l.VNet != "" && l.VNet != "-1" && l.VNet != vnet:
		return "reservation of network " + l.VNet
	}
	return "hold"
}
