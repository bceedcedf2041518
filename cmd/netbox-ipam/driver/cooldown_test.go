package driver

import (
	"context"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// cooldown is release: cooldown with 15 minutes.
func cooldown(c *config.Config) { c.Release, c.Cooldown = "cooldown", 15*time.Minute }

// A freed lease cools down: deprecated, with the time it frees, and no get_address
// hands it out meanwhile.
func TestFreeCoolsDown(t *testing.T) {
	f, ar := registered(t, []string{"SIZE=2"}, cooldown)
	at := time.Date(2026, 12, 6, 10, 30, 0, 0, time.UTC)
	f.d.WithClock(func() time.Time { return at })
	ctx := context.Background()
	if _, err := f.d.GetAddress(ctx, request(ar, "SIZE=1")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.d.Free(ctx, request(ar, "IP=10.70.0.10", "SIZE=1")); err != nil {
		t.Fatal(err)
	}
	l := f.addr("10.70.0.10")
	if l == nil || l.Status.Value != mapping.StatusDeprecated || l.CustomString(mapping.CFFreesAt) != "2026-12-06T10:45:00Z" {
		t.Fatalf("the freed lease is %+v, want deprecated until 10:45", l)
	}
	if got := f.d.Freed(*l); got != mapping.Cooling {
		t.Errorf("freed state %v, want cooling", got)
	}
	resp, err := f.d.GetAddress(ctx, request(ar, "SIZE=1"))
	if err != nil {
		t.Fatal(err)
	}
	if ip := resp.IP.String(); ip != "10.70.0.11" {
		t.Errorf("get_address handed out %s, want 10.70.0.11 (10.70.0.10 cools down)", ip)
	}
	// The AR is full now: the cooling address stays out of reach.
	if _, err := f.d.GetAddress(ctx, request(ar, "SIZE=1")); kindOf(err) != "conflict" {
		t.Errorf("get_address on a full AR whose other address cools down: %v, want a conflict", err)
	}
}

// An explicit allocate_address of a cooling address takes it over (a VM re-created
// with its fixed IP); anything else at the address still refuses it.
func TestAllocateTakesOverCooling(t *testing.T) {
	cases := []struct {
		name    string
		extra   []string
		setup   func(f *fixture)
		size    string // of the second allocate ("": 1)
		wantErr string
	}{
		{name: "cooling", setup: func(f *fixture) {}},
		{name: "cooled, sync not run yet", setup: func(f *fixture) { f.addr("10.70.0.12").CustomFields[mapping.CFFreesAt] = "2026-12-06T09:00:00Z" }},
		{name: "with its IPv6", extra: []string{"TYPE=IP4_6", "GLOBAL_PREFIX=2001:db8::"}, setup: func(f *fixture) {}},
		{name: "kept deprecated (release: deprecate before)", setup: func(f *fixture) { delete(f.addr("10.70.0.12").CustomFields, mapping.CFFreesAt) },
			wantErr: "conflict: 10.70.0.12 is already in NetBox"},
		{name: "someone's deprecated address", setup: func(f *fixture) { f.addr("10.70.0.12").Tags = nil },
			wantErr: "conflict: 10.70.0.12 is already in NetBox"},
		{name: "beside someone's address: refused before anything goes", setup: func(f *fixture) { f.take("10.70.0.13", false) }, size: "2",
			wantErr: "conflict: 10.70.0.13 is already in NetBox"},
		{name: "a lease oned holds", setup: func(f *fixture) { f.addr("10.70.0.12").Status = netbox.Choice{Value: "active"} },
			wantErr: "conflict: 10.70.0.12 is already in NetBox"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, ar := registered(t, tc.extra, cooldown)
			f.d.WithClock(func() time.Time { return time.Date(2026, 12, 6, 10, 30, 0, 0, time.UTC) })
			ctx := context.Background()
			if _, err := f.d.Allocate(ctx, request(ar, "IP=10.70.0.12")); err != nil {
				t.Fatal(err)
			}
			if _, err := f.d.Free(ctx, request(ar, "IP=10.70.0.12")); err != nil {
				t.Fatal(err)
			}
			before := f.addr("10.70.0.12").ID
			tc.setup(f)
			size := tc.size
			if size == "" {
				size = "1"
			}
			_, err := f.d.Allocate(ctx, request(ar, "IP=10.70.0.12", "SIZE="+size))
			if tc.wantErr != "" {
				failedAs(t, err, tc.wantErr)
				if l := f.addr("10.70.0.12"); l == nil || l.ID != before {
					t.Errorf("the refused allocate changed the object at the address: %+v", l)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			l := f.addr("10.70.0.12")
			if l == nil || l.ID == before || l.Status.Value != "active" || l.CustomString(mapping.CFFreesAt) != "" || l.CustomString(mapping.CFMAC) != "02:00:0a:46:00:0c" {
				t.Fatalf("the address is %+v, want a new active lease (the cooling one was %d)", l, before)
			}
			n := 0
			for _, a := range f.nb.Addresses {
				if a.HasTag("opennebula") && a.Status.Value == mapping.StatusDeprecated {
					t.Errorf("%s still cools down beside the new lease", a.Address)
				}
				n++
			}
			if want := map[bool]int{false: 1, true: 2}[len(tc.extra) > 0]; n != want {
				t.Errorf("%d addresses in NetBox, want %d", n, want)
			}
		})
	}
}
