package reconcile

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver/drivertest"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// sync --all --prune removes a stale prefix of the driver only when nothing is left in
// it, and a stale range or prefix only once it is older than the audit and the
// driver's timeout: a young one may be an AR that oned is registering right now (a
// network in LOCK_CREATE, whose AR oned writes once the driver has answered).
func TestPruneStale(t *testing.T) {
	f := drivertest.New(t)
	empty, _ := f.NB.CreatePrefix(context.Background(), netbox.PrefixSpec{Prefix: "10.80.0.0/24", Tags: f.D.Tags()})
	busy, _ := f.NB.CreatePrefix(context.Background(), netbox.PrefixSpec{Prefix: "10.81.0.0/24", Tags: f.D.Tags()})
	f.Take("10.81.0.7", false)
	young, _ := f.NB.CreateIPRange(context.Background(), netbox.IPRangeSpec{Start: "10.82.0.10/24", End: "10.82.0.19/24", Tags: f.D.Tags()})
	rep, err := Run(context.Background(), f.D, Options{Sync: true, All: true, Prune: true}, nil)
	if err != nil || rep.Drift != 3 || len(rep.LeftStale) != 3 || !strings.Contains(rep.LeftStale[0], "stale ip-range #"+itoa(young.ID)+": NetBox made it at") {
		t.Fatalf("sync of young stale objects: %+v, %v", rep, err)
	}
	if len(f.NB.Prefixes) != 2 || len(f.NB.Ranges) != 1 {
		t.Fatalf("young stale objects removed: %d prefixes, %d ranges left", len(f.NB.Prefixes), len(f.NB.Ranges))
	}
	f.D.WithClock(func() time.Time { return time.Now().Add(time.Minute) })
	rep, err = Run(context.Background(), f.D, Options{Sync: true, All: true, Prune: true}, nil)
	if err != nil || rep.Drift != 3 || len(rep.LeftStale) != 0 {
		t.Fatalf("sync: %+v, %v", rep, err)
	}
	if _, ok := f.NB.Ranges[young.ID]; ok {
		t.Errorf("stale range kept a minute on")
	}
	if _, ok := f.NB.Prefixes[empty.ID]; ok {
		t.Errorf("empty stale prefix kept")
	}
	if _, ok := f.NB.Prefixes[busy.ID]; !ok || !strings.Contains(f.Info.String(), "kept prefix 10.81.0.0/24") {
		t.Errorf("busy stale prefix removed; info %q", f.Info)
	}
}

// A stale prefix whose only address is a cooled lease of the driver goes in the same
// sync: the cooled lease is deleted before the prefix is pruned.
func TestPruneAfterCooled(t *testing.T) {
	f := drivertest.New(t, func(c *config.Config) { c.Release, c.Cooldown = "cooldown", 15*time.Minute })
	ctx := context.Background()
	p, _ := f.NB.CreatePrefix(ctx, netbox.PrefixSpec{Prefix: "10.83.0.0/24", Tags: f.D.Tags()})
	a := f.Take("10.83.0.7", true)
	f.NB.PatchIPAddress(ctx, a.ID, map[string]any{"status": mapping.StatusDeprecated, "custom_fields": map[string]any{mapping.CFFreesAt: "2026-01-01T00:00:00Z"}})
	f.D.WithClock(func() time.Time { return time.Now().Add(time.Minute) }) // the prefix is old enough
	rep, err := Run(ctx, f.D, Options{Sync: true, All: true, Prune: true}, nil)
	if err != nil || len(rep.Cooled) != 1 || len(rep.LeftStale) != 0 {
		t.Fatalf("sync: %+v, %v", rep, err)
	}
	if f.Addr("10.83.0.7") != nil {
		t.Errorf("the cooled lease is still in NetBox")
	}
	if _, ok := f.NB.Prefixes[p.ID]; ok {
		t.Errorf("the stale prefix was kept: %q", f.Info)
	}
}
