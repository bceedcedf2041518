package reconcile

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver/drivertest"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// An IP4_6 AR's carved /64 is referenced by the AR (NETBOX_PREFIX6_ID, or its
// GLOBAL_PREFIX once updatear dropped the id): audit --all does not call it stale. Once
// no AR names it, it is stale, and sync --all --prune gives it back.
func TestAuditIPv6Prefix(t *testing.T) {
	f := drivertest.New(t, func(c *config.Config) { c.Pool.ParentPrefixes6 = []string{"2001:db8:100::/48"} })
	ctx := context.Background()
	f.NB.Now = func() time.Time { return time.Now().Add(-time.Hour) } // made an hour ago: settled
	f.NB.CreatePrefix(ctx, netbox.PrefixSpec{Prefix: "10.70.0.0/24"})
	f.NB.CreatePrefix(ctx, netbox.PrefixSpec{Prefix: "2001:db8:100::/48"})
	resp, err := f.D.Register(ctx, request(onetest.Attrs("TYPE=IP4_6", "IP=10.70.0.10", "SIZE=10", "MAC=02:00:0a:46:00:0a")))
	if err != nil {
		t.Fatal(err)
	}
	ar := onetest.With(resp.AR).Set("AR_ID", "0")
	id, _ := strconv.Atoi(ar.Get("NETBOX_PREFIX6_ID"))
	f.SetVNet(onetest.VNetXML(ar))
	p, err := Run(ctx, f.D, Options{All: true}, nil)
	if err != nil || len(p.Stale) != 0 || p.Drift != 0 {
		t.Fatalf("audit of an AR with its /64: %q, stale %+v, drift %d, %v", kinds(p), p.Stale, p.Drift, err)
	}
	// updatear without --append dropped the id, the AR still names the /64: not stale.
	f.SetVNet(onetest.VNetXML(onetest.With(ar).Set("NETBOX_PREFIX6_ID", "")))
	if p, err = Run(ctx, f.D, Options{All: true}, nil); err != nil || len(p.Stale) != 0 {
		t.Fatalf("audit of an AR that lost the /64's id: stale %+v, %v", p.Stale, err)
	}
	f.SetVNet(onetest.VNetXML(onetest.With(ar).Set("NETBOX_PREFIX6_ID", "").Set("GLOBAL_PREFIX", "")))
	p, err = Run(ctx, f.D, Options{All: true}, nil)
	if err != nil || len(p.Stale) != 1 || p.Stale[0].ID != id {
		t.Fatalf("audit with the /64 no AR names: stale %+v, %v", p.Stale, err)
	}
	if _, err := Run(ctx, f.D, Options{Sync: true, All: true, Prune: true}, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.NB.Prefixes[id]; ok {
		t.Error("sync --all --prune kept the stale /64")
	}
}
