package driver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// vnetXML is `onevnet show -x` of network 7 with one AR and its leases ("ip vm").
func vnetXML(ar mapping.Attrs, leases ...string) string {
	var b strings.Builder
	b.WriteString("<VNET><ID>7</ID><NAME>cloud</NAME><AR_POOL><AR>")
	for _, a := range ar {
		fmt.Fprintf(&b, "<%s><![CDATA[%s]]></%s>", a.Name, a.Value, a.Name)
	}
	b.WriteString("<LEASES>")
	for _, l := range leases {
		ip, vm, _ := strings.Cut(l, " ")
		fmt.Fprintf(&b, "<LEASE><IP>%s</IP><VM>%s</VM></LEASE>", ip, vm)
	}
	b.WriteString("</LEASES></AR></AR_POOL></VNET>")
	return b.String()
}

// doc is the `onevnet show -x` document of network id as f's oned holds it now.
func (f *fixture) doc(id string) string {
	f.t.Helper()
	v, err := f.oned.VNet(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return vnetDoc(v)
}

// afterPicture runs meanwhile once, right after the first read of a network (sync's
// picture), before anything else reads oned: oned changing while sync runs.
func (f *fixture) afterPicture(meanwhile func()) {
	var once sync.Once
	f.oned.After = func(call string) {
		if strings.HasPrefix(call, "VNet ") {
			once.Do(meanwhile)
		}
	}
}

// vnetDoc is the `onevnet show -x` document of v.
func vnetDoc(v mapping.VNet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<VNET><ID>%s</ID><NAME>%s</NAME><AR_POOL>", v.ID, v.Name)
	for _, ar := range v.ARs {
		b.WriteString("<AR>")
		for _, a := range ar.Attrs {
			fmt.Fprintf(&b, "<%s><![CDATA[%s]]></%s>", a.Name, a.Value, a.Name)
		}
		b.WriteString("<LEASES>")
		for _, l := range ar.Leases {
			b.WriteString("<LEASE>")
			for _, f := range [][2]string{{"IP", l.IP}, {"MAC", l.MAC}, {"VM", l.VM}, {"VNET", l.VNet}, {"VROUTER", l.VRouter}} {
				if f[1] != "" {
					fmt.Fprintf(&b, "<%s>%s</%s>", f[0], f[1], f[0])
				}
			}
			b.WriteString("</LEASE>")
		}
		b.WriteString("</LEASES></AR>")
	}
	b.WriteString("</AR_POOL></VNET>")
	return b.String()
}

func kinds(rep AuditReport) string {
	var out []string
	for _, r := range rep.ARs {
		for _, f := range r.Findings {
			out = append(out, string(f.Kind)+" "+f.IP)
		}
	}
	for _, s := range rep.Stale {
		out = append(out, "stale "+s.Kind)
	}
	return strings.Join(out, ", ")
}

// audit finds what differs, sync repairs it, a second audit finds nothing.
func TestAuditAndSync(t *testing.T) {
	f, ar := registered(t, nil)
	f.nb.Now = func() time.Time { return time.Now().Add(-time.Hour) } // the leases were made an hour ago
	for i := 0; i < 2; i++ {
		if _, err := f.d.GetAddress(context.Background(), request(ar, "SIZE=1")); err != nil {
			t.Fatal(err)
		}
	}
	stale, _ := f.nb.CreateIPRange(context.Background(), netbox.IPRangeSpec{Start: "10.70.0.100/24", End: "10.70.0.110/24", Tags: f.d.tags()})
	// NetBox's prefix got a DNS the AR lacks: NetBox wins, sync writes it back to oned.
	for _, p := range f.nb.Prefixes {
		p.CustomFields[mapping.CFDNS] = "10.70.0.53"
	}
	f.setVNet(vnetXML(ar, "10.70.0.10 42", "10.70.0.12 43"))

	rep, err := f.d.Audit(context.Background(), AuditOptions{All: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "settings 10.70.0.10, label 10.70.0.10, orphan 10.70.0.11, missing 10.70.0.12, stale ip-range"
	if got := kinds(rep); got != want || rep.Drift != 4 {
		t.Fatalf("audit: %q, drift %d; want %q, drift 4", got, rep.Drift, want)
	}
	if _, err := f.d.Audit(context.Background(), AuditOptions{Sync: true, All: true, Prune: true}, nil); err != nil {
		t.Fatal(err)
	}
	if f.addr("10.70.0.11") != nil || f.addr("10.70.0.12") == nil || f.addr("10.70.0.12").CustomString(mapping.CFVMID) != "43" {
		t.Fatalf("after sync NetBox holds .11 %v, .12 %+v", f.addr("10.70.0.11"), f.addr("10.70.0.12"))
	}
	if _, ok := f.nb.Ranges[stale.ID]; ok {
		t.Errorf("stale range %d kept by sync --prune", stale.ID)
	}
	if f.oned.Count("UpdateAR") != 1 || !strings.Contains(f.doc("7"), "<DNS><![CDATA[10.70.0.53]]>") {
		t.Fatalf("updatear: %v\n%s", f.oned.Calls, f.doc("7"))
	}
	// oned took the restored AR (the fake applies updatear as oned does).
	rep, err = f.d.Audit(context.Background(), AuditOptions{All: true}, nil)
	if err != nil || rep.Drift != 0 {
		t.Fatalf("audit after sync: %q, drift %d, %v", kinds(rep), rep.Drift, err)
	}
}

// What audit reads from files and what it says about ARs it cannot use.
func TestAuditFiles(t *testing.T) {
	f, ar := registered(t, nil)
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
		{"in step", vnetXML(ar), "", ""},
		{"range deleted", vnetXML(with(ar).Set(mapping.AttrIPRangeID, "999")), "range 10.70.0.10", ""},
		{"range shrunk", vnetXML(with(ar).Set(mapping.AttrSize, "12")), "range 10.70.0.10", ""},
		{"ids lost", vnetXML(with(ar).Set(mapping.AttrIPRangeID, "").Set(mapping.AttrPrefixID, "")), "ids 10.70.0.10", ""},
		{"unreadable AR", vnetXML(with(ar).Set(mapping.AttrSize, "x")), "range 10.70.0.10", ""},
		{"another IPAM's AR", vnetXML(with(ar).Set(mapping.AttrIPAMMAD, "dummy")), "", ""},
		{"not a network", "<VM/>", "", "is not an OpenNebula network document"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := f.d.Audit(context.Background(), AuditOptions{Files: []string{write("v.xml", tc.doc)}}, nil)
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
	rep, err := f.d.Audit(context.Background(), AuditOptions{Files: []string{"-"}}, strings.NewReader(vnetXML(ar)))
	if err != nil || len(rep.ARs) != 1 {
		t.Fatalf("from stdin: %+v, %v", rep, err)
	}
	if _, err := f.d.Audit(context.Background(), AuditOptions{}, strings.NewReader("")); err == nil || !strings.Contains(err.Error(), "no network given") {
		t.Fatalf("empty stdin: %v", err)
	}
}

// sync on an HA follower does nothing; sync by a user outside oneadmin is refused.
func TestSyncGateInAudit(t *testing.T) {
	f, _ := registered(t, nil)
	f.oned.User = opennebula.User{Name: "alice"}
	_, err := f.d.Audit(context.Background(), AuditOptions{Sync: true, All: true}, nil)
	if kindOf(err) != "refused" {
		t.Fatalf("sync as alice: %v", err)
	}
}
