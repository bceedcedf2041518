package reconcile

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver/drivertest"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox/netboxtest"
)

// Freed leases cool down (release: cooldown): audit calls none of them an orphan and
// counts no drift for them; sync --all deletes those whose time is up, after a second
// look, and keeps the rest, an admin's deprecated addresses and those of release:
// deprecate.
func TestSyncFreesCooledLeases(t *testing.T) {
	cases := []struct {
		name       string
		meanwhile  func(n *netboxtest.NetBox, f *fixture) // between the audit's look and sync's second look
		wantGone   []string
		wantKept   []string
		wantReport []string
		wantNot    []string // in the report
	}{
		{name: "due and not yet", wantGone: []string{"10.70.0.10"}, wantKept: []string{"10.70.0.11", "10.70.0.12", "10.70.0.13", "10.70.0.14"},
			wantReport: []string{"cooled   ip-address", "10.70.0.10 (OpenNebula VM 40, network 7 AR 0): freed, its cool-down ended at 2026-12-06T10:15:00Z; deleted",
				"cooling  1 freed lease(s) rest in NetBox as deprecated (release: cooldown), the last until 2026-12-06T10:25:00Z"}},
		{name: "taken over meanwhile", meanwhile: func(n *netboxtest.NetBox, f *fixture) {
			a := f.Addr("10.70.0.10")
			a.Status, a.CustomFields[mapping.CFFreesAt] = netbox.Choice{Value: "active"}, nil // as a new lease
		}, wantKept: []string{"10.70.0.10", "10.70.0.11", "10.70.0.12", "10.70.0.13", "10.70.0.14"},
			wantReport: []string{"left     changed during sync: freed lease 10.70.0.10 (ip-address #"}, wantNot: []string{"; deleted"}},
		{name: "its time moved meanwhile", meanwhile: func(n *netboxtest.NetBox, f *fixture) {
			f.Addr("10.70.0.10").CustomFields[mapping.CFFreesAt] = "2026-12-07T00:00:00Z"
		}, wantKept: []string{"10.70.0.10", "10.70.0.11", "10.70.0.12", "10.70.0.13", "10.70.0.14"},
			wantReport: []string{"is no longer due"}, wantNot: []string{"; deleted"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, ar := registered(t, func(c *config.Config) { c.Release, c.Cooldown = "cooldown", 15*time.Minute })
			ctx := context.Background()
			clock := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
			f.D.WithClock(func() time.Time { return clock })
			f.NB.Now = func() time.Time { return clock }
			for i := 0; i < 3; i++ {
				f.Lease(ar)
			}
			// .10 and .11 were VM 40's and 41's; .12 is VM 42's now.
			f.NB.PatchIPAddress(ctx, f.Addr("10.70.0.10").ID, map[string]any{"description": "OpenNebula VM 40, network 7 AR 0"})
			free := func(ip string) {
				if _, err := f.D.Free(ctx, request(ar, "IP="+ip)); err != nil {
					t.Fatal(err)
				}
			}
			free("10.70.0.10") // frees at 10:15
			clock = clock.Add(10 * time.Minute)
			free("10.70.0.11") // frees at 10:25
			kept := f.Take("10.70.0.13", true)
			f.NB.PatchIPAddress(ctx, kept.ID, map[string]any{"status": "deprecated"}) // release: deprecate's, before
			foreign := f.Take("10.70.0.14", false)
			f.NB.PatchIPAddress(ctx, foreign.ID, map[string]any{"status": "deprecated", "custom_fields": map[string]any{mapping.CFFreesAt: "2026-01-01T00:00:00Z"}})
			f.SetVNet(onetest.VNetXML(ar, "10.70.0.12 42"))
			clock = clock.Add(10 * time.Minute) // 10:20

			p, err := Run(ctx, f.D, Options{All: true}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if kinds(p) != "label 10.70.0.12" || p.Drift != 0 || len(p.Cooled) != 1 || p.Cooled[0].IP != "10.70.0.10" || len(p.Cooling) != 1 || p.Cooling[0].IP != "10.70.0.11" {
				t.Fatalf("audit: %q, drift %d, cooled %+v, cooling %+v", kinds(p), p.Drift, p.Cooled, p.Cooling)
			}
			if tc.meanwhile != nil {
				f.NB.Inject(netboxtest.Fault{Op: "IPAddressesTaggedWithStatus"}, // collect's look
					netboxtest.Fault{Op: "IPAddressesTaggedWithStatus", Before: func(n *netboxtest.NetBox) { tc.meanwhile(n, f) }})
			}
			o := Options{Sync: true, All: true}
			p, err = Run(ctx, f.D, o, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, ip := range tc.wantGone {
				if f.Addr(ip) != nil {
					t.Errorf("%s is still in NetBox", ip)
				}
			}
			for _, ip := range tc.wantKept {
				if f.Addr(ip) == nil {
					t.Errorf("%s was deleted", ip)
				}
			}
			var out bytes.Buffer
			Text(&out, p, o)
			for _, want := range tc.wantReport {
				if !strings.Contains(out.String(), want) {
					t.Errorf("the report lacks %q:\n%s", want, out.String())
				}
			}
			for _, not := range tc.wantNot {
				if strings.Contains(out.String(), not) {
					t.Errorf("the report says %q:\n%s", not, out.String())
				}
			}
		})
	}
}

// A freed lease that oned holds again (a free whose end oned never saw) is no cooled
// lease: sync never deletes it, even when its time is up, and makes it a lease again.
func TestSyncKeepsAFreedLeaseOnedHolds(t *testing.T) {
	f, ar := registered(t, func(c *config.Config) { c.Release, c.Cooldown = "cooldown", 15*time.Minute })
	ctx := context.Background()
	clock := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	f.D.WithClock(func() time.Time { return clock })
	f.NB.Now = func() time.Time { return clock }
	f.Lease(ar)
	if _, err := f.D.Free(ctx, request(ar, "IP=10.70.0.10")); err != nil {
		t.Fatal(err)
	}
	f.SetVNet(onetest.VNetXML(ar, "10.70.0.10 40"))
	clock = clock.Add(20 * time.Minute) // its cool-down is over

	p, err := Run(ctx, f.D, Options{All: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if kinds(p) != "mismatch 10.70.0.10" || p.Drift != 1 || len(p.Cooled) != 0 || len(p.Cooling) != 1 || !strings.Contains(p.Cooling[0].Note, "oned holds it again (network 7 AR 0)") {
		t.Fatalf("audit: %q, drift %d, cooled %+v, cooling %+v", kinds(p), p.Drift, p.Cooled, p.Cooling)
	}
	if _, err := Run(ctx, f.D, Options{Sync: true, All: true}, nil); err != nil {
		t.Fatal(err)
	}
	a := f.Addr("10.70.0.10")
	if a == nil || a.Status.Value != mapping.StatusActive || a.CustomString(mapping.CFFreesAt) != "" {
		t.Fatalf("after sync the lease oned holds is %+v; want it active, with no %s", a, mapping.CFFreesAt)
	}
	if p, _ := Run(ctx, f.D, Options{All: true}, nil); p.Drift != 0 || len(p.Cooling) != 0 {
		t.Errorf("audit after sync: %q, drift %d, cooling %+v", kinds(p), p.Drift, p.Cooling)
	}
}

// Without release: cooldown, sync reads no freed leases (one request less) and
// deprecated leases of the driver are no orphans either: release: deprecate keeps them.
func TestDeprecatedLeasesAreNoOrphans(t *testing.T) {
	f, ar := registered(t, func(c *config.Config) { c.Release = "deprecate" })
	ctx := context.Background()
	f.Lease(ar)
	if _, err := f.D.Free(ctx, request(ar, "IP=10.70.0.10")); err != nil {
		t.Fatal(err)
	}
	f.SetVNet(onetest.VNetXML(ar))
	f.NB.Calls = nil
	p, err := Run(ctx, f.D, Options{Sync: true, All: true}, nil)
	if err != nil || kinds(p) != "" || p.Drift != 0 || f.Addr("10.70.0.10") == nil {
		t.Fatalf("sync: %q, drift %d, %v; the deprecated lease is %+v", kinds(p), p.Drift, err, f.Addr("10.70.0.10"))
	}
	for _, c := range f.NB.Calls {
		if c == "IPAddressesTaggedWithStatus" {
			t.Errorf("sync listed freed leases without release: cooldown")
		}
	}
}

// The same for a dual-stack lease: its freed IPv6 (SLAAC) address is revived too. A
// freed lease at the same address in another VRF is not oned's: it is deleted when due.
func TestSyncRevivesAFreedDualStackLease(t *testing.T) {
	f := drivertest.New(t, func(c *config.Config) { c.Release, c.Cooldown = "cooldown", 15*time.Minute })
	ctx := context.Background()
	clock := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	f.D.WithClock(func() time.Time { return clock })
	f.NB.Now = func() time.Time { return clock }
	f.NB.CreatePrefix(ctx, netbox.PrefixSpec{Prefix: "10.70.0.0/24"})
	resp, err := f.D.Register(ctx, drivertest.Request(onetest.Attrs("TYPE=IP4_6", "IP=10.70.0.10", "SIZE=10", "MAC=02:00:0a:46:00:0a", "GLOBAL_PREFIX=2001:db8:70::")))
	if err != nil {
		t.Fatal(err)
	}
	ar := append(resp.AR, mapping.Attr{Name: mapping.AttrARID, Value: "0"})
	f.Lease(ar)
	const v6 = "2001:db8:70::aff:fe46:a" // SLAAC of 02:00:0a:46:00:0a
	if _, err := f.D.Free(ctx, request(ar, "IP=10.70.0.10")); err != nil {
		t.Fatal(err)
	}
	if a := f.Addr(v6); a == nil || a.Status.Value != mapping.StatusDeprecated {
		t.Fatalf("the freed lease's IPv6 address: %+v", a)
	}
	blue := f.NB.AddRef("vrf", "blue")
	other, _ := f.NB.CreateIPAddresses(ctx, []netbox.IPAddressSpec{{Address: "10.70.0.10/24", VRFID: blue, Tags: f.D.Tags(), Status: mapping.StatusDeprecated,
		CustomFields: map[string]any{mapping.CFFreesAt: "2026-12-06T09:00:00Z"}}})
	f.SetVNet(onetest.VNetDoc(mapping.VNet{ID: "7", Name: "cloud", ARs: []mapping.AR{{Attrs: ar,
		Leases: []mapping.Lease{{IP: "10.70.0.10", IP6Global: v6, MAC: "02:00:0a:46:00:0a", VM: "40"}}}}}))
	clock = clock.Add(20 * time.Minute) // the cool-down is over

	p, err := Run(ctx, f.D, Options{All: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if kinds(p) != "mismatch 10.70.0.10" || p.Drift != 2 || len(p.Revived) != 1 || p.Revived[0].IP != v6 ||
		len(p.Cooled) != 1 || p.Cooled[0].ID != other[0].ID {
		t.Fatalf("audit: %q, drift %d, revived %+v, cooled %+v, cooling %+v", kinds(p), p.Drift, p.Revived, p.Cooled, p.Cooling)
	}
	o := Options{Sync: true, All: true}
	if p, err = Run(ctx, f.D, o, nil); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	Text(&out, p, o)
	if !strings.Contains(out.String(), v6+" (") || !strings.Contains(out.String(), "oned holds it again (network 7 AR 0); made active") {
		t.Errorf("the report of the revived address:\n%s", out.String())
	}
	for _, ip := range []string{"10.70.0.10", v6} {
		a := f.Addr(ip)
		if a == nil || netbox.RefID(a.VRF) != 0 || a.Status.Value != mapping.StatusActive || a.CustomString(mapping.CFFreesAt) != "" {
			t.Errorf("after sync %s is %+v; want active, with no %s", ip, a, mapping.CFFreesAt)
		}
	}
	if _, ok := f.NB.Addresses[other[0].ID]; ok {
		t.Errorf("the cooled lease in VRF blue was kept")
	}
	if p, _ := Run(ctx, f.D, Options{All: true}, nil); p.Drift != 0 || len(p.Cooling)+len(p.Revived)+len(p.Cooled) != 0 {
		t.Errorf("audit after sync: %q, drift %d, cooling %+v, revived %+v", kinds(p), p.Drift, p.Cooling, p.Revived)
	}
}
