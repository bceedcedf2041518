package reconcile

import (
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// Options are what audit and sync are asked to do.
type Options struct {
	Sync, JSON, All, DryRun bool
	Prune                   bool     // sync removes stale ranges, prefixes and virtual machines (destructive: opt in)
	Files                   []string // `onevnet show -x` output ("-": stdin)
}

// acting says whether the run may change anything: sync, not a dry run.
func (o Options) acting() bool { return o.Sync && !o.DryRun }

// Plan is one run of audit or sync: every drift found (per AR, the stale objects, the
// NetBox virtual machines), the changes that would repair it, and, once applied,
// what sync did and what it left. Everything the report says is rendered from it.
type Plan struct {
	ARs   []*ARPlan     `json:"ars"`
	Stale []StaleObject `json:"stale,omitempty"`
	// MissingVMs are the VMs (ids) holding leases of the driver that have no NetBox
	// virtual machine (vms.enabled, --all); sync makes them.
	MissingVMs []string `json:"missing_vms,omitempty"`
	// OutOfStepVMs are the NetBox virtual machines that differ from their VM as oned
	// holds it (a rename, a state, a NIC the hooks missed); sync brings them in step.
	OutOfStepVMs []VMDrift `json:"out_of_step_vms,omitempty"`
	// UnrecordedVMs are the VMs whose leases' DNS names or tenants are not what the
	// hooks write (dns_name, tenants; --all, labels only: with vms.enabled they are
	// among OutOfStepVMs); sync has the hooks record them again.
	UnrecordedVMs []VMDrift `json:"unrecorded_vms,omitempty"`
	// Cooling are the freed leases resting in NetBox (release: cooldown, --all): not
	// drift, and no get_address hands them out. Cooled are those whose time is up,
	// which sync deletes: routine, not drift either.
	Cooling []FreedLease `json:"cooling,omitempty"`
	Cooled  []FreedLease `json:"cooled,omitempty"`
	// Revived are freed IPv6 addresses of leases oned holds again (a free whose end
	// oned never saw): drift; sync makes them active. The IPv4 address of such a lease
	// is a mismatch of its AR.
	Revived  []FreedLease `json:"revived,omitempty"`
	Drift    int          `json:"drift"`           // findings before any repair
	Requests int          `json:"netbox_requests"` // how many it took to find out (and repair)
	// OnedRequests is how many oned requests (XML-RPC calls, commands) it took.
	OnedRequests int `json:"oned_requests"`
	// Skipped says why sync did nothing (an HA follower); the rest is then empty.
	Skipped string `json:"skipped,omitempty"`
	// LeftVMs are the NetBox virtual machines sync did not make or remove because
	// oned changed them during the run; FailedVMs those NetBox refused (the others
	// went on: the run was partial).
	LeftVMs []string `json:"left_vms,omitempty"`
	// LeftStale are the stale ranges and prefixes --prune did not remove because NetBox
	// made them too recently (an AR oned may be registering).
	LeftStale []string `json:"left_stale,omitempty"`
	FailedVMs []string `json:"failed_vms,omitempty"`

	// Changes are what the applier does: all the repairs collection found, as the
	// policies left them.
	Changes []Change `json:"-"`
}

// ARPlan is the audit of one AR and what sync did with it.
type ARPlan struct {
	VNet     string            `json:"vnet"`
	AR       string            `json:"ar"`
	Span     string            `json:"span"`
	IPRange  int               `json:"netbox_ip_range,omitempty"`
	Leases   int               `json:"leases"`
	Findings []mapping.Finding `json:"findings"`
	Done     []string          `json:"done,omitempty"` // what sync did
	// Left is what sync did not do because oned changed it during the run (the second
	// look disagreed with the picture): the next run takes it up.
	Left []string `json:"left,omitempty"`
	// Restore is what sync writes back into oned's AR (onevnet updatear --append): the
	// NetBox ids it lost and the network settings NetBox holds.
	Restore mapping.Attrs `json:"restore,omitempty"`

	repairs mapping.Repairs
	held    []mapping.Held  // NetBox's objects in and around the AR, as compared
	spans   []mapping.Span  // the spans its leases and orphans are looked for in
	rng     *netbox.IPRange // the AR's IP range, when it exists
	prefix  int             // the AR's prefix, when known
	attrs   mapping.Attrs   // the AR as oned showed it
	s       mapping.StoredAR
	vrf     int
	bits    int // mask length of the leases sync creates
}

// StaleObject is a range or prefix of the driver that no AR references, or (with
// vms.enabled) a virtual machine of a VM that holds no lease of the driver.
type StaleObject struct {
	Kind string `json:"kind"` // ip-range | prefix | virtual-machine
	ID   int    `json:"netbox_id"`
	What string `json:"what"`
	vm   string // the OpenNebula VM of a stale virtual machine
}

// FreedLease is one of the driver's leases oned freed that cools down in NetBox
// (deprecated, with the time it frees: mapping.FreedState).
type FreedLease struct {
	ID      int    `json:"netbox_id"`
	IP      string `json:"ip"`
	FreesAt string `json:"frees_at"`
	What    string `json:"what"` // its description: who held it last
	// Note says what is wrong with it: a time that is not one (an edit) leaves it.
	Note string `json:"note,omitempty"`
}

// VMDrift is a NetBox virtual machine of the driver that is not what its VM, as oned
// holds it now, wants: each difference in a phrase.
type VMDrift struct {
	VM          string   `json:"vm"`
	NetBoxVM    int      `json:"netbox_vm"`
	Name        string   `json:"name"` // NetBox's
	Differences []string `json:"differences"`
}

// Op is what a change does.
type Op int

const (
	RepairAR    Op = iota // the AR's range span, leases, labels, lost attributes
	MakeVM                // a missing NetBox virtual machine
	StepVM                // an out-of-step one
	DropVM                // a stale one
	PruneRange            // a stale IP range, with the driver's leases in it
	PrunePrefix           // a stale prefix that holds nothing else
	RecordVM              // a VM's leases' DNS names and tenants
	FreeCooled            // a freed lease whose cool-down is over
	ReviveFreed           // a freed IPv6 address of a lease oned holds again
)

func (op Op) String() string {
	return [...]string{"repair-ar", "make-vm", "step-vm", "drop-vm", "prune-range", "prune-prefix", "record-vm", "free-cooled", "revive-freed"}[op]
}

// Change is one thing sync would do. Each is carried out after a second look at
// what it is about, in oned or NetBox: the plan is a picture, and oned moves.
type Change struct {
	Op    Op
	AR    *ARPlan     // RepairAR
	VM    string      // MakeVM, StepVM, DropVM, RecordVM: the OpenNebula VM
	Stale StaleObject // DropVM, PruneRange, PrunePrefix
	Freed FreedLease  // FreeCooled, ReviveFreed
}

// changes lists every repair the plan holds, in the order they are applied: the ARs
// first (their leases, some of them freed ones oned holds again), then the virtual
// machines (whose interfaces hold them), the cooled leases, then stale ranges before
// stale prefixes (a prefix goes once it is empty, of cooled leases too).
func (p *Plan) changes() []Change {
	var out []Change
	for _, r := range p.ARs {
		if !r.repairs.Empty() || len(r.Restore) > 0 {
			out = append(out, Change{Op: RepairAR, AR: r})
		}
	}
	for _, id := range p.MissingVMs {
		out = append(out, Change{Op: MakeVM, VM: id})
	}
	for _, v := range p.OutOfStepVMs {
		out = append(out, Change{Op: StepVM, VM: v.VM})
	}
	for _, v := range p.UnrecordedVMs {
		out = append(out, Change{Op: RecordVM, VM: v.VM})
	}
	for _, f := range p.Revived {
		out = append(out, Change{Op: ReviveFreed, Freed: f})
	}
	for _, f := range p.Cooled {
		out = append(out, Change{Op: FreeCooled, Freed: f})
	}
	for _, kind := range []string{driver.ObjectVM, driver.ObjectIPRange, driver.ObjectPrefix} {
		for _, st := range p.Stale {
			if st.Kind != kind {
				continue
			}
			c := Change{Op: DropVM, VM: st.vm, Stale: st}
			switch kind {
			case driver.ObjectIPRange:
				c.Op = PruneRange
			case driver.ObjectPrefix:
				c.Op = PrunePrefix
			}
			out = append(out, c)
		}
	}
	return out
}
