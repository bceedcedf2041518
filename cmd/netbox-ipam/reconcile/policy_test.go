package reconcile

import (
	"strings"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// ops names changes by their Op, in order.
func ops(cs []Change) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Op.String())
	}
	return strings.Join(out, " ")
}

// A plan lists its changes in the order they are safe to apply (leases before the
// virtual machines that hold them, ranges before the prefixes around them), and the
// options' policies leave only what the run may do.
func TestPolicies(t *testing.T) {
	p := Plan{
		ARs:          []*ARPlan{{AR: "0", repairs: mapping.Repairs{Delete: []int{5}}}, {AR: "1"}, {AR: "2", Restore: onetest.Attrs("DNS=10.0.0.53")}},
		MissingVMs:   []string{"43"},
		OutOfStepVMs: []VMDrift{{VM: "42"}},
		Stale: []StaleObject{{Kind: driver.ObjectPrefix, ID: 1}, {Kind: driver.ObjectIPRange, ID: 2},
			{Kind: driver.ObjectVM, ID: 3, vm: "41"}},
	}
	all := p.changes()
	if got := ops(all); got != "repair-ar repair-ar make-vm step-vm drop-vm prune-range prune-prefix" {
		t.Fatalf("changes %q", got)
	}
	if all[5].Stale.ID != 2 || all[4].VM != "41" || all[1].AR.AR != "2" {
		t.Errorf("changes carry the wrong objects: %+v", all)
	}
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"audit", Options{All: true}, ""},
		{"dry run", Options{Sync: true, DryRun: true, All: true, Prune: true}, ""},
		{"sync", Options{Sync: true, All: true}, "repair-ar repair-ar make-vm step-vm"},
		{"sync --prune", Options{Sync: true, All: true, Prune: true}, ops(all)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := append([]Change(nil), all...)
			for _, filter := range policies(tc.o) {
				cs = filter(cs)
			}
			if got := ops(cs); got != tc.want {
				t.Errorf("changes %q, want %q", got, tc.want)
			}
		})
	}
}

// The second look: an AR sync goes on with only while oned still holds it as in the
// picture (this driver's, the same span).
func TestARNow(t *testing.T) {
	ar := onetest.Attrs("AR_ID=0", "TYPE=IP4", "IP=10.70.0.10", "SIZE=10", "IPAM_MAD=netbox")
	s, err := mapping.ReadStoredAR(ar)
	if err != nil {
		t.Fatal(err)
	}
	plan := &ARPlan{VNet: "7", AR: "0", s: s}
	vnet := func(attrs mapping.Attrs) *mapping.VNet {
		return &mapping.VNet{ID: "7", ARs: []mapping.AR{{Attrs: attrs}}}
	}
	for _, tc := range []struct {
		name string
		v    *mapping.VNet
		why  string
	}{
		{"as in the picture", vnet(ar), ""},
		{"network deleted", nil, "network 7 is gone"},
		{"AR removed", &mapping.VNet{ID: "7"}, "AR 0 is gone from network 7"},
		{"AR handed to another IPAM", vnet(onetest.With(ar).Set("IPAM_MAD", "dummy")), "no longer uses IPAM_MAD netbox"},
		{"AR resized", vnet(onetest.With(ar).Set("SIZE", "20")), "now spans 10.70.0.10…10.70.0.29"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, why := arNow(plan, tc.v, "netbox"); (tc.why == "") != (why == "") || !strings.Contains(why, tc.why) {
				t.Errorf("why %q, want %q", why, tc.why)
			}
		})
	}
}

// What sync says it left of a VM change once SyncVM has read the VM again.
func TestVMLeft(t *testing.T) {
	for _, tc := range []struct {
		op   Op
		kept bool
		want string
	}{
		{MakeVM, true, ""},
		{MakeVM, false, "holds no lease of the driver now; nothing made"},
		{StepVM, true, ""},
		{StepVM, false, "its virtual machine removed"},
		{DropVM, false, ""},
		{DropVM, true, "holds leases of the driver again; kept, in step"},
	} {
		if got := vmLeft(tc.op, "42", tc.kept); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s kept=%v: %q, want %q", tc.op, tc.kept, got, tc.want)
		}
	}
}

// An object is judged only once it is older than the run and the driver's timeout.
func TestSettled(t *testing.T) {
	began := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		now     time.Time
		created time.Time
		young   bool
	}{
		{began.Add(time.Second), began.Add(-time.Second), true},          // within the timeout of now
		{began.Add(time.Minute), began.Add(-time.Minute), false},         // older than both
		{began.Add(time.Minute), began.Add(time.Second), true},           // made after the run began
		{began.Add(time.Minute), time.Time{}, false},                     // NetBox gave no date
		{began.Add(5 * time.Second), began.Add(-6 * time.Second), false}, // timeout 10s: settled at began-5s
	} {
		if got := tooYoung("x", tc.created, settled(began, tc.now, 10*time.Second)) != ""; got != tc.young {
			t.Errorf("now %s created %s: young %v, want %v", tc.now, tc.created, got, tc.young)
		}
	}
}
