package hooks

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox/netboxtest"
)

// Only the leader's (or a solo oned's) hooks write, and the labels' drainer asks
// before each batch, not each hook before it queues its VM: a follower's drainer drops
// the spool (forwarded calls' VMs, which the leader's hooks label); during an election
// it leaves the spool to the next drain; a drainer whose oned stopped leading between
// two batches writes no more; a hook that writes without the spool (NetBox
// VMs, a virtual router's floating IPs) asks first; and a hook that finds the drainer
// busy asks oned nothing at all.
func TestSpoolLeaderOnly(t *testing.T) {
	vm := leaseVM
	labelled := func(f *fixture, n int) string {
		return f.Addr(fmt.Sprintf("10.70.0.%d", 10+n)).CustomString(mapping.CFVMID)
	}
	ctx := context.Background()

	t.Run("a follower's drainer drops its batch", func(t *testing.T) {
		f, _ := leased(t, 1)
		f.Oned.Raft = opennebula.RaftFollower
		f.NB.Calls = nil
		resp, err := f.hook(ctx, vm(0))
		if err != nil || !strings.Contains(resp.Skipped, "RAFT follower") || resp.VM != "" {
			t.Fatalf("hook: %+v %v, want it skipped as a follower's", resp, err)
		}
		if labelled(f, 0) != "" || len(f.NB.Calls) != 0 || strings.Contains(strings.Join(f.Oned.Calls, " "), "41") {
			t.Errorf("a follower labelled %q; NetBox calls %v, oned calls %v", labelled(f, 0), f.NB.Calls, f.Oned.Calls)
		}
		if files, _ := f.h.spoolFiles(); len(files) != 0 {
			t.Errorf("spool left %v", files)
		}
	})

	t.Run("an election leaves the spool to the next drain", func(t *testing.T) {
		f, _ := leased(t, 1)
		f.Oned.Raft = 1                                        // a candidate
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second) // a drainer that looked again would spin until then
		defer cancel()
		resp, err := f.hook(ctx, vm(0))
		if err != nil || !strings.Contains(resp.Skipped, "election") || labelled(f, 0) != "" {
			t.Fatalf("hook during an election: %+v %v, labelled %q", resp, err, labelled(f, 0))
		}
		if files, _ := f.h.spoolFiles(); len(files) != 1 {
			t.Fatalf("spool holds %v, want VM 41's file kept", files)
		}
		f.Oned.Raft = opennebula.RaftLeader // elected
		if resp, err := f.h.Drain(ctx); err != nil || resp.VM != "41" || labelled(f, 0) != "41" {
			t.Errorf("the next drain: %+v %v, labelled %q", resp, err, labelled(f, 0))
		}
	})

	t.Run("leadership lost between two batches", func(t *testing.T) {
		f, _ := leased(t, 2)
		f.Oned.After = func(call string) {
			if call == "RaftState" {
				f.Oned.Raft = opennebula.RaftFollower // from the next read on
			}
		}
		f.NB.Inject(netboxtest.Fault{Op: "PatchIPAddresses", Before: func(*netboxtest.NetBox) {
			if r, err := f.hook(ctx, vm(1)); err != nil || r.VM != "" { // queued while the drainer writes
				t.Errorf("VM 42's hook: %+v %v", r, err)
			}
		}})
		resp, err := f.hook(ctx, vm(0))
		if err != nil || resp.VM != "41" || !strings.Contains(resp.Skipped, "RAFT follower") {
			t.Fatalf("hook: %+v %v, want VM 41 recorded, then the drain stopped as a follower's", resp, err)
		}
		if labelled(f, 0) != "41" || labelled(f, 1) != "" {
			t.Errorf("labelled %q and %q, want 41 and none", labelled(f, 0), labelled(f, 1))
		}
		if files, _ := f.h.spoolFiles(); len(files) != 0 {
			t.Errorf("spool left %v", files)
		}
	})

	// Without the spool, each hook asks before it writes.
	t.Run("a follower keeps no NetBox VM", func(t *testing.T) {
		f, _ := vmFixture(t)
		f.Oned.Raft = opennebula.RaftFollower
		f.NB.Calls = nil
		resp, err := f.hook(ctx, onetest.WebVM("1", "0", "", "0", "1"))
		if err != nil || !strings.Contains(resp.Skipped, "RAFT follower") || len(f.NB.Calls) != 0 || len(f.NB.VMs) != 0 {
			t.Errorf("hook: %+v %v; NetBox calls %v", resp, err, f.NB.Calls)
		}
	})
	t.Run("a follower records no virtual router", func(t *testing.T) {
		f, _ := leased(t, 1)
		f.Oned.SetVM(vm(0))
		f.Oned.Raft = opennebula.RaftFollower
		f.NB.Calls = nil
		resp, err := f.h.HookVRouter(ctx, mapping.VRouter{ID: "5", Name: "vr", VMs: []string{"41"},
			NICs: []mapping.NIC{{ID: "0", NetworkID: "7", ARID: "0", IP: "10.70.0.10"}}})
		if err != nil || !strings.Contains(resp.Skipped, "RAFT follower") || len(f.NB.Calls) != 0 {
			t.Errorf("hook: %+v %v; NetBox calls %v", resp, err, f.NB.Calls)
		}
	})

	t.Run("a hook that queues asks oned nothing", func(t *testing.T) {
		f, _ := leased(t, 1)
		f.h.WithLocker(func(ctx context.Context, key string) (func(), error) {
			if strings.HasPrefix(key, "drain") {
				<-ctx.Done() // another hook drains
				return nil, ctx.Err()
			}
			return func() {}, nil
		})
		f.Oned.Calls = nil
		resp, err := f.hook(ctx, vm(0))
		if err != nil || resp.VM != "" || resp.Skipped != "" {
			t.Fatalf("hook: %+v %v, want its VM left in the spool", resp, err)
		}
		if len(f.Oned.Calls) != 0 {
			t.Errorf("a hook that only queued its VM asked oned %v", f.Oned.Calls)
		}
		if files, _ := f.h.spoolFiles(); len(files) != 1 {
			t.Errorf("spool holds %v, want VM 41's file", files)
		}
	})
}
