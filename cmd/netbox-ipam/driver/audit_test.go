package driver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

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

// oned is a fake OpenNebula CLI over network documents: onevnet list/show answer docs
// (a network it lacks is oned's "Error getting"), updatear is recorded and applied the
// way oned applies it (onedUpdateAR), oneuser show answers oneadmin. afterPicture, when
// set, runs once after the first `onevnet show`: oned changing between sync's picture
// and its second look.
type oned struct {
	docs         map[string]string
	updates      []string
	afterPicture func(o *oned)
}

func (o *oned) cli(_ context.Context, name string, args ...string) ([]byte, error) {
	switch name + " " + args[0] {
	case "onevnet list":
		var b strings.Builder
		b.WriteString("<VNET_POOL>")
		for id := range o.docs {
			fmt.Fprintf(&b, "<VNET><ID>%s</ID></VNET>", id)
		}
		b.WriteString("</VNET_POOL>")
		return []byte(b.String()), nil
	case "onevnet show":
		doc, ok := o.docs[args[2]]
		if !ok {
			return nil, openNebulaf("onevnet show -x %s: exit status 255: [one.vn.info] Error getting virtual network [%s].", args[2], args[2])
		}
		if f := o.afterPicture; f != nil {
			o.afterPicture = nil
			f(o)
		}
		return []byte(doc), nil
	case "onevnet updatear":
		tpl, err := os.ReadFile(args[3])
		if err != nil {
			return nil, err
		}
		o.updates = append(o.updates, string(tpl))
		return nil, o.updateAR(args[1], args[2], string(tpl))
	case "oneuser show":
		return []byte("<USER><ID>0</ID><GID>0</GID><NAME>oneadmin</NAME></USER>"), nil
	}
	return nil, openNebulaf("unexpected %s %v", name, args)
}

// updateAR applies `onevnet updatear vnet ar` with template tpl to the documents.
func (o *oned) updateAR(vnet, arID, tpl string) error {
	vs, err := mapping.ParseVNets([]byte(o.docs[vnet]))
	if err != nil || len(vs) != 1 {
		return openNebulaf("onevnet updatear %s: [one.vn.update_ar] Error getting virtual network [%s].", vnet, vnet)
	}
	for i, ar := range vs[0].ARs {
		if ar.Attrs.Get(mapping.AttrARID) != arID {
			continue
		}
		attrs, err := onedUpdateAR(ar, templateVector(tpl))
		if err != nil {
			return openNebulaf("onevnet updatear %s %s: [one.vn.update_ar] %s", vnet, arID, err.Error())
		}
		vs[0].ARs[i].Attrs = attrs
		o.docs[vnet] = vnetDoc(vs[0])
		return nil
	}
	return openNebulaf("onevnet updatear %s %s: [one.vn.update_ar] Address Range does not exist", vnet, arID)
}

// onedUpdateAR is AddressRange::update_attributes (src/vnm/AddressRange.cc): the new
// attributes replace the AR's all, but TYPE, MAC, IP and AR_ID, which stay; the
// attributes oned computes are dropped; a SIZE that would leave a lease outside the
// AR is refused.
func onedUpdateAR(ar mapping.AR, up mapping.Attrs) (mapping.Attrs, error) {
	out := mapping.Attrs{}
	for _, a := range up {
		if !computedAR[a.Name] && a.Name != "LEASES" && a.Name != "PARENT_NETWORK_AR_ID" {
			out = out.Set(a.Name, a.Value)
		}
	}
	for _, keep := range []string{"TYPE", "MAC", "IP", mapping.AttrARID} {
		out = out.Set(keep, ar.Attrs.Get(keep))
	}
	size := out.Get(mapping.AttrSize)
	if size == "" {
		return out.Set(mapping.AttrSize, ar.Attrs.Get(mapping.AttrSize)), nil
	}
	span, err := mapping.ParseSpan("AR", out.Get("IP"), atoi(size))
	if err != nil {
		return nil, err
	}
	for _, l := range ar.Leases {
		if a, err := netip.ParseAddr(l.IP); err == nil && !span.Has(a) {
			return nil, errors.New("New SIZE cannot be applied. There are used leases that would fall outside the range.")
		}
	}
	return out, nil
}

// templateVector reads the attributes of a one-vector template (NAME = [ K = "v", … ])
// as oned's parser does: \" is a quote, nothing else is escaped.
func templateVector(tpl string) mapping.Attrs {
	var out mapping.Attrs
	for _, m := range regexp.MustCompile(`([A-Za-z0-9_]+) = "((?:[^"\\]|\\.)*)"`).FindAllStringSubmatch(tpl, -1) {
		out = out.Set(m[1], strings.ReplaceAll(m[2], `\"`, `"`))
	}
	return out
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

// raftEnv is the environment of a front-end whose oned answers RAFT state 0 (solo).
func raftEnv(t *testing.T) func(string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, raftAnswer(raftSolo)) }))
	t.Cleanup(srv.Close)
	auth := filepath.Join(t.TempDir(), "one_auth")
	os.WriteFile(auth, []byte("oneadmin:x"), 0o600)
	env := map[string]string{"ONE_XMLRPC": srv.URL, "ONE_AUTH": auth}
	return func(k string) string { return env[k] }
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
	one := &oned{docs: map[string]string{"7": vnetXML(ar, "10.70.0.10 42", "10.70.0.12 43")}}
	f.d.WithCLI(one.cli)
	getenv := raftEnv(t)

	rep, err := f.d.Audit(context.Background(), AuditOptions{All: true}, nil, getenv)
	if err != nil {
		t.Fatal(err)
	}
	want := "settings 10.70.0.10, label 10.70.0.10, orphan 10.70.0.11, missing 10.70.0.12, stale ip-range"
	if got := kinds(rep); got != want || rep.Drift != 4 {
		t.Fatalf("audit: %q, drift %d; want %q, drift 4", got, rep.Drift, want)
	}
	if _, err := f.d.Audit(context.Background(), AuditOptions{Sync: true, All: true, Prune: true}, nil, getenv); err != nil {
		t.Fatal(err)
	}
	if f.addr("10.70.0.11") != nil || f.addr("10.70.0.12") == nil || f.addr("10.70.0.12").CustomString(mapping.CFVMID) != "43" {
		t.Fatalf("after sync NetBox holds .11 %v, .12 %+v", f.addr("10.70.0.11"), f.addr("10.70.0.12"))
	}
	if _, ok := f.nb.Ranges[stale.ID]; ok {
		t.Errorf("stale range %d kept by sync --prune", stale.ID)
	}
	if len(one.updates) != 1 || !strings.Contains(one.updates[0], `DNS = "10.70.0.53"`) {
		t.Fatalf("updatear %q", one.updates)
	}
	// oned took the restored AR (the fake applies updatear as oned does).
	rep, err = f.d.Audit(context.Background(), AuditOptions{All: true}, nil, getenv)
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
			rep, err := f.d.Audit(context.Background(), AuditOptions{Files: []string{write("v.xml", tc.doc)}}, nil, nil)
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
	rep, err := f.d.Audit(context.Background(), AuditOptions{Files: []string{"-"}}, strings.NewReader(vnetXML(ar)), nil)
	if err != nil || len(rep.ARs) != 1 {
		t.Fatalf("from stdin: %+v, %v", rep, err)
	}
	if _, err := f.d.Audit(context.Background(), AuditOptions{}, strings.NewReader(""), nil); err == nil || !strings.Contains(err.Error(), "no network given") {
		t.Fatalf("empty stdin: %v", err)
	}
}

// sync on an HA follower does nothing; sync by a user outside oneadmin is refused.
func TestSyncGateInAudit(t *testing.T) {
	f, _ := registered(t, nil)
	f.d.WithCLI(func(_ context.Context, name string, args ...string) ([]byte, error) {
		return []byte("<USER><ID>3</ID><GID>1</GID><NAME>alice</NAME></USER>"), nil
	})
	_, err := f.d.Audit(context.Background(), AuditOptions{Sync: true, All: true}, nil, raftEnv(t))
	if kindOf(err) != "refused" {
		t.Fatalf("sync as alice: %v", err)
	}
}
