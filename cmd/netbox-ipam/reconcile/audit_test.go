package reconcile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// audit finds what differs, sync repairs it, a second audit finds nothing.
func TestAuditAndSync(t *testing.T) {
	f, ar := registered(t)
	f.NB.Now = func() time.Time { return time.Now().Add(-time.Hour) } // the leases were made an hour ago
	for i := 0; i < 2; i++ {
		if _, err := f.D.GetAddress(context.Background(), request(ar, "SIZE=1")); err != nil {
			t.Fatal(err)
		}
	}
	stale, _ := f.NB.CreateIPRange(context.Background(), netbox.IPRangeSpec{Start: "10.70.0.100/24", End: "10.70.0.110/24", Tags: f.D.Tags()})
	// NetBox's prefix got a DNS the AR lacks: NetBox wins, sync writes it back to oned.
	for _, p := range f.NB.Prefixes {
		p.CustomFields[mapping.CFDNS] = "10.70.0.53"
	}
	f.SetVNet(onetest.VNetXML(ar, "10.70.0.10 42", "10.70.0.12 43"))

	rep, err := Run(context.Background(), f.D, Options{All: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "settings 10.70.0.10, label 10.70.0.10, orphan 10.70.0.11, missing 10.70.0.12, stale ip-range"
	if got := kinds(rep); got != want || rep.Drift != 4 {
		t.Fatalf("audit: %q, drift %d; want %q, drift 4", got, rep.Drift, want)
	}
	if _, err := Run(context.Background(), f.D, Options{Sync: true, All: true, Prune: true}, nil); err != nil {
		t.Fatal(err)
	}
	if f.Addr("10.70.0.11") != nil || f.Addr("10.70.0.12") == nil || f.Addr("10.70.0.12").CustomString(mapping.CFVMID) != "43" {
		t.Fatalf("after sync NetBox holds .11 %v, .12 %+v", f.Addr("10.70.0.11"), f.Addr("10.70.0.12"))
	}
	if _, ok := f.NB.Ranges[stale.ID]; ok {
		t.Errorf("stale range %d kept by sync --prune", stale.ID)
	}
	if f.Oned.Count("UpdateAR") != 1 || !strings.Contains(f.Doc("7"), "<DNS><![CDATA[10.70.0.53]]>") {
		t.Fatalf("updatear: %v\n%s", f.Oned.Calls, f.Doc("7"))
	}
	// oned took the restored AR (the fake applies updatear as oned does).
	rep, err = Run(context.Background(), f.D, Options{All: true}, nil)
	if err != nil || rep.Drift != 0 {
		t.Fatalf("audit after sync: %q, drift %d, %v", kinds(rep), rep.Drift, err)
	}
}

// What audit reads from files and what it says about ARs it cannot use.
func TestAuditFiles(t *testing.T) {
	f, ar := registered(t)
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(doc), 0o644)
		return p
	}
	cases := []struct {
		name    string
		doc     string
		want    string
		wantErr string
	}{
		{"in step", onetest.VNetXML(ar), "", ""},
		{"range deleted", onetest.VNetXML(onetest.With(ar).Set(mapping.AttrIPRangeID, "999")), "range 10.70.0.10", ""},
		{"range shrunk", onetest.VNetXML(onetest.With(ar).Set(mapping.AttrSize, "12")), "range 10.70.0.10", ""},
		{"ids lost", onetest.VNetXML(onetest.With(ar).Set(mapping.AttrIPRangeID, "").Set(mapping.AttrPrefixID, "")), "ids 10.70.0.10", ""},
		{"unreadable AR", onetest.VNetXML(onetest.With(ar).Set(mapping.AttrSize, "x")), "range 10.70.0.10", ""},
		{"another IPAM's AR", onetest.VNetXML(onetest.With(ar).Set(mapping.AttrIPAMMAD, "dummy")), "", ""},
		{"not a network", "<VM/>", "", "is not an OpenNebula network document"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Run(context.Background(), f.D, Options{Files: []string{write("v.xml", tc.doc)}}, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || kinds(rep) != tc.want {
				t.Fatalf("findings %q, %v; want %q", kinds(rep), err, tc.want)
			}
		})
	}
	rep, err := Run(context.Background(), f.D, Options{Files: []string{"-"}}, strings.NewReader(onetest.VNetXML(ar)))
	if err != nil || len(rep.ARs) != 1 {
		t.Fatalf("from stdin: %+v, %v", rep, err)
	}
	if _, err := Run(context.Background(), f.D, Options{}, strings.NewReader("")); err == nil || !strings.Contains(err.Error(), "no network given") {
		t.Fatalf("empty stdin: %v", err)
	}
}

// sync on an HA follower does nothing; sync by a user outside oneadmin is refused.
func TestSyncGateInAudit(t *testing.T) {
	f, _ := registered(t)
	f.Oned.User = opennebula.User{Name: "alice"}
	_, err := Run(context.Background(), f.D, Options{Sync: true, All: true}, nil)
	var refused *driver.Error
	if !errors.As(err, &refused) || refused.Kind != driver.Refused {
		t.Fatalf("sync as alice: %v", err)
	}
}

// sync with vms.enabled keeps NetBox virtual machines under the hooks' per-VM locks, in
// the state folder: one that others may write refuses the whole run before NetBox is
// read or written, not VM by VM.
func TestSyncRefusesUnsafeState(t *testing.T) {
	var dir string
	f, _ := registered(t, vmsOn, func(c *config.Config) { dir = c.StateDir })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	f.NB.Calls = nil
	_, err := Run(context.Background(), f.D, Options{Sync: true, All: true}, nil)
	var refused *driver.Error
	if !errors.As(err, &refused) || refused.Kind != driver.Setup || !strings.Contains(err.Error(), dir) {
		t.Fatalf("sync with an unsafe state folder: %v, want a setup refusal naming it", err)
	}
	if f.NB.Requests() != 0 {
		t.Errorf("NetBox asked with an unsafe state folder: %v", f.NB.Calls)
	}
	if _, err := Run(context.Background(), f.D, Options{All: true}, nil); err != nil {
		t.Errorf("audit writes nothing and needs no state folder: %v", err)
	}
}

// An admin's "Mark populated" on the AR's range keeps new leases out (NetBox 4.3+):
// audit says so, sync leaves the mark alone.
func TestAuditPopulatedRange(t *testing.T) {
	f, ar := registered(t)
	for _, r := range f.NB.Ranges {
		r.MarkPopulated = true
	}
	f.SetVNet(onetest.VNetXML(ar))
	for _, opts := range []Options{{All: true}, {Sync: true, All: true, Prune: true}} {
		rep, err := Run(context.Background(), f.D, opts, nil)
		if err != nil || kinds(rep) != "range 10.70.0.10" || !strings.Contains(rep.ARs[0].Findings[0].Detail, "is marked populated") {
			t.Fatalf("%+v: findings %q, %v; want the populated range", opts, kinds(rep), err)
		}
	}
	for _, r := range f.NB.Ranges {
		if !r.MarkPopulated {
			t.Errorf("sync cleared an admin's mark on range %d", r.ID)
		}
	}
}
