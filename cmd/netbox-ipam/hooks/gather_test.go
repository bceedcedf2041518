package hooks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox/netboxtest"
)

// The drainer gathers a batch before it writes (spool.go): a lone VM waits for the
// spool to be quiet, a burst is one batch, and a stream that never goes quiet is cut
// once its oldest VM has waited batchMost. VMs arrive while the drainer waits, as
// hooks do during a burst: each finds the drainer busy and leaves its VM in the spool.
func TestSpoolGathers(t *testing.T) {
	cases := []struct {
		name string
		// arrive are when VMs 42, 43, … are created, after VM 41 (whose hook drains),
		// in steps of the drainer's look at the spool (batchPoll); atPatch more arrive
		// while the drainer writes its first batch.
		arrive  []time.Duration
		atPatch int
		// waited is how long the drainer waited before its first batch; batches are
		// the VMs of each PATCH.
		waited  time.Duration
		batches []string
	}{
		{"a lone VM waits for the quiet", nil, 0, batchQuiet, []string{"41"}},
		{"a burst is one batch", []time.Duration{50 * ms, 100 * ms, 150 * ms, 200 * ms}, 0,
			200*ms + batchQuiet, []string{"41 42 43 44 45"}},
		{"a stream is cut when its oldest VM waited batchMost", []time.Duration{150 * ms, 300 * ms, 450 * ms, 600 * ms, 750 * ms, 900 * ms}, 2,
			batchMost, []string{"41 42 43 44 45 46 47", "48 49"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, _ := leased(t, 1+len(c.arrive)+c.atPatch)
			ctx := context.Background()
			vm := leaseVM
			start := f.clock.at
			var batches []string
			var firstAt time.Duration // when the first batch was written, from VM 41's hook
			next := 0
			arrives := func() {
				next++
				if resp, err := f.hook(ctx, vm(next)); err != nil || resp.VM != "" {
					t.Fatalf("VM %d's hook while the drainer works: %+v %v (want its VM left in the spool)", 41+next, resp, err)
				}
			}
			f.clock.during = func(int) {
				for next < len(c.arrive) && f.clock.at.Sub(start) >= c.arrive[next] {
					arrives()
				}
			}
			f.NB.Inject(netboxtest.Fault{Op: "PatchIPAddresses", Before: func(*netboxtest.NetBox) {
				firstAt = f.clock.at.Sub(start)
				for i := 0; i < c.atPatch; i++ {
					arrives()
				}
			}})
			// Each batch's VMs, in the order the drainer wrote them (one description each).
			resp, err := f.hook(ctx, vm(0))
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(strings.TrimSpace(f.Info.String()), "\n") {
				if _, who, ok := strings.Cut(line, "VM "); ok && strings.Contains(who, "recorded") {
					ids, _, _ := strings.Cut(who, ":")
					batches = append(batches, ids)
				}
			}
			if strings.Join(batches, " | ") != strings.Join(c.batches, " | ") {
				t.Errorf("batches %q, want %q (oned.log:\n%s)", batches, c.batches, f.Info)
			}
			// The first batch goes out once it waited (the clock's ticks aside).
			if firstAt < c.waited || firstAt > c.waited+time.Millisecond {
				t.Errorf("first batch written %v after VM 41's hook, want %v", firstAt, c.waited)
			}
			if want := strings.Join(c.batches, " "); resp.VM != want {
				t.Errorf("drained %q, want %q", resp.VM, want)
			}
			if files, _ := f.h.spoolFiles(); len(files) != 0 {
				t.Errorf("spool left %v", files)
			}
		})
	}
}

const ms = time.Millisecond

// The drainer reads a batch's VMs in one read of oned; when that read fails it reads
// them one at a time, so that a VM oned cannot give leaves the others be.
func TestSpoolReadFallsBack(t *testing.T) {
	f, _ := leased(t, 3)
	ctx := context.Background()
	f.Oned.SetVM(leaseVM(0), leaseVM(1), leaseVM(2))
	f.Oned.Before = func(call string) error {
		if strings.HasPrefix(call, "VMs ") || call == "VM 42" {
			return fmt.Errorf("oned failed %s", call)
		}
		return nil
	}
	resp, err := f.h.hookMany(ctx, []string{"41", "42", "43"})
	if err == nil || !strings.Contains(err.Error(), "1 of 3 VM(s) not recorded") || !strings.Contains(err.Error(), "VM 42") {
		t.Errorf("drain: %+v, error %v; want VM 42 named as not recorded", resp, err)
	}
	for i, want := range []string{"41", "", "43"} {
		if got := f.Addr(fmt.Sprintf("10.70.0.%d", 10+i)).CustomString(mapping.CFVMID); got != want {
			t.Errorf("lease %d labelled %q, want %q", i, got, want)
		}
	}
}

// The drainer's wait has bounds of its own: a spool file named by a clock that was
// ahead (stepped back since) holds its batch no longer than batchMost, and a drainer
// near its deadline writes what it has instead of gathering more.
func TestSpoolGatherBounds(t *testing.T) {
	cases := []struct {
		name   string
		ahead  time.Duration // the spool file's name, ahead of the clock
		within time.Duration // the drainer's deadline (0: none)
		waited time.Duration
	}{
		{"a name from a clock that was a minute ahead", time.Minute, 0, batchMost},
		{"a drainer near its deadline", 0, 1500 * ms, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, _ := leased(t, 1)
			ctx := context.Background()
			f.Oned.SetVM(leaseVM(0))
			if err := f.h.ownSpool(); err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("%d-41.json", f.clock.at.Add(c.ahead).UnixNano())
			if err := os.WriteFile(filepath.Join(f.h.spool, name), []byte(`{"ID":"41"}`), 0o600); err != nil {
				t.Fatal(err)
			}
			if c.within > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, c.within)
				defer cancel()
			}
			resp, err := f.h.Drain(ctx)
			if err != nil || resp.VM != "41" || f.Addr("10.70.0.10").CustomString(mapping.CFVMID) != "41" {
				t.Fatalf("drain: %+v %v, VM 41 labelled %q", resp, err, f.Addr("10.70.0.10").CustomString(mapping.CFVMID))
			}
			var waited time.Duration
			for _, w := range f.clock.waited {
				waited += w
			}
			if waited != c.waited {
				t.Errorf("the drainer waited %v, want %v", waited, c.waited)
			}
		})
	}
}

// A virtual router's VMs (made inside oned, without a hook of their own) are drained
// as one batch: one wait for quiet, one read of oned and one write, not one of each
// per VM.
func TestVRouterVMsOneBatch(t *testing.T) {
	f, _ := leased(t, 3)
	ctx := context.Background()
	for i, id := range []string{"41", "42", "43"} {
		f.Oned.SetVM(mapping.VM{ID: id, Name: "vr-vm" + id, NICs: []mapping.NIC{{ID: "0", NetworkID: "7", ARID: "0", IP: fmt.Sprintf("10.70.0.%d", 10+i), MAC: "02:00:00:00:00:" + id}}})
	}
	f.NB.Calls = nil
	resp, err := f.h.HookVRouter(ctx, mapping.VRouter{ID: "5", Name: "vr", VMs: []string{"41", "42", "43"}})
	if err != nil || len(resp.Changes) != 0 {
		t.Fatalf("virtual router hook: %+v %v", resp, err)
	}
	for i, id := range []string{"41", "42", "43"} {
		if got := f.Addr(fmt.Sprintf("10.70.0.%d", 10+i)).CustomString(mapping.CFVMID); got != id {
			t.Errorf("VM %s's lease labelled %q", id, got)
		}
	}
	var waited time.Duration
	for _, w := range f.clock.waited {
		waited += w
	}
	// The clock's ticks (a microsecond a read) count towards the quiet.
	if patches := strings.Count(strings.Join(f.NB.Calls, " "), "PatchIPAddresses"); patches != 1 || waited < batchQuiet-ms || waited > batchQuiet {
		t.Errorf("%d PATCHes after waiting %v in all, want 1 after %v (NetBox calls: %v)", patches, waited, batchQuiet, f.NB.Calls)
	}
	// and one read of oned for the batch's VMs.
	if f.Oned.Count("VMs 41 42 43") != 1 || f.Oned.Count("VM") != 0 {
		t.Errorf("oned asked %v, want one read of VMs 41 42 43", f.Oned.Calls)
	}
}
