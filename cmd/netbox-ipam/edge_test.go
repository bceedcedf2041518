package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/reconcile"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox/netboxtest"
)

// edge runs the whole program in-process over one in-memory NetBox.
type edge struct {
	t    *testing.T
	nb   *netboxtest.NetBox
	env  map[string]string
	log  string
	oned *onetest.Oned // what oned holds
}

func newEdge(t *testing.T) *edge {
	dir := t.TempDir()
	e := &edge{t: t, nb: netboxtest.New(), oned: onetest.New(), log: filepath.Join(dir, "netbox-ipam.log"),
		env: map[string]string{"NETBOX_IPAM_CONFIG": "", "NETBOX_URL": "http://netbox.test", "NETBOX_TOKEN": "nbt_k.secret",
			"NETBOX_IPAM_STATE_DIR": filepath.Join(dir, "state")}} // never the front-end's state folder
	e.env["NETBOX_IPAM_LOG_FILE"] = e.log
	if code, out, errs := e.run(nil, "setup"); code != 0 {
		t.Fatalf("setup: exit %d %s %s", code, out, errs)
	}
	return e
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func (e *edge) runTo(stdout interface{ Write([]byte) (int, error) }, stdin []byte, args ...string) (int, string) {
	var errb bytes.Buffer
	p := &program{args: args, stdin: bytes.NewReader(stdin), stdout: stdout, stderr: &errb, getenv: func(k string) string { return e.env[k] },
		open: func(config.Config, *slog.Logger) (driver.Backend, error) { return e.nb, nil }, oned: e.oned}
	return p.run(), errb.String()
}

func (e *edge) run(stdin []byte, args ...string) (int, string, string) {
	var out bytes.Buffer
	code, errs := e.runTo(&out, stdin, args...)
	return code, out.String(), errs
}

func b64(xml string) []byte { return []byte(base64.StdEncoding.EncodeToString([]byte(xml))) }

func actionXML(ar mapping.Attrs, addr string) string {
	var b strings.Builder
	b.WriteString("<IPAM_DRIVER_ACTION_DATA><AR>")
	for _, a := range ar {
		b.WriteString("<" + a.Name + "><![CDATA[" + a.Value + "]]></" + a.Name + ">")
	}
	return b.String() + "</AR><ADDRESS>" + addr + "</ADDRESS></IPAM_DRIVER_ACTION_DATA>"
}

// An AR's life through the edge: answers on stdout as oned reads them, INFO lines on
// stderr, one log line per action with the NetBox objects it touched.
func TestLifeThroughTheEdge(t *testing.T) {
	e := newEdge(t)
	e.nb.CreatePrefix(context.Background(), netbox.PrefixSpec{Prefix: "10.60.0.0/24"})
	code, out, errs := e.run(b64(`<IPAM_DRIVER_ACTION_DATA><AR><TYPE>IP4</TYPE><IP>10.60.0.10</IP><SIZE>4</SIZE><IPAM_MAD>netbox</IPAM_MAD></AR></IPAM_DRIVER_ACTION_DATA>`), "register_address_range", "40")
	if code != 0 || !strings.HasPrefix(out, `AR = [ TYPE = "IP4", IP = "10.60.0.10", SIZE = "4", IPAM_MAD = "netbox", NETWORK_ADDRESS = "10.60.0.0", GATEWAY = "10.60.0.1"`) ||
		!strings.HasPrefix(errs, "INFO: registered 10.60.0.10…10.60.0.13 as NetBox IP range") {
		t.Fatalf("register: exit %d\n%s\n%s", code, out, errs)
	}
	tpl, err := mapping.Parse([]byte("<IPAM_DRIVER_ACTION_DATA><AR>" + templateToXML(t, out) + "</AR></IPAM_DRIVER_ACTION_DATA>"))
	if err != nil {
		t.Fatal(err)
	}
	ar := tpl.AR.Set(mapping.AttrARID, "0")
	code, out, _ = e.run(b64(actionXML(ar, "<SIZE>1</SIZE>")), "get_address", "41")
	if code != 0 || out != "ADDRESS = [ IP = \"10.60.0.10\", SIZE = \"1\" ]\n" {
		t.Fatalf("get_address: exit %d %q", code, out)
	}
	code, _, errs = e.run(b64(actionXML(ar, "<IP>10.60.0.10</IP><SIZE>1</SIZE>")), "allocate_address", "42")
	if code != exitFailure || !strings.Contains(errs, "10.60.0.10 is already in NetBox") {
		t.Fatalf("allocate of a leased address: exit %d %q", code, errs)
	}
	for _, act := range []string{"free_address", "unregister_address_range"} {
		if code, _, errs := e.run(b64(actionXML(ar, "<IP>10.60.0.10</IP><SIZE>1</SIZE>")), act, "43"); code != 0 {
			t.Fatalf("%s: exit %d %q", act, code, errs)
		}
	}
	log, _ := os.ReadFile(e.log)
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	want := []string{"msg=ok action=register_address_range request=40", "msg=ok action=get_address request=41 ar=0",
		"msg=failed action=allocate_address request=42", "msg=ok action=free_address", "msg=ok action=unregister_address_range"}
	if len(lines) != len(want) {
		t.Fatalf("log:\n%s", log)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) || strings.Contains(lines[i], "secret") {
			t.Errorf("log line %d %q, want %q", i, lines[i], w)
		}
	}
	if !strings.Contains(lines[1], "ip=10.60.0.10") || !strings.Contains(lines[1], "objects=+ip-address/") || !strings.Contains(lines[2], "exit=1") {
		t.Errorf("log lines %q", lines[1:3])
	}
}

// templateToXML turns register's answer into the XML of the AR oned would send next.
func templateToXML(t *testing.T, tpl string) string {
	body := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(tpl), "AR = [ "), " ]")
	var b strings.Builder
	for _, kv := range strings.Split(body, `", `) {
		k, v, ok := strings.Cut(kv, ` = "`)
		if !ok {
			t.Fatalf("cannot read %q", kv)
		}
		b.WriteString("<" + k + ">" + strings.TrimSuffix(v, `"`) + "</" + k + ">")
	}
	return b.String()
}

// An answer that cannot reach oned is a failure that names what NetBox keeps.
func TestAnswerNotWritten(t *testing.T) {
	e := newEdge(t)
	e.nb.CreatePrefix(context.Background(), netbox.PrefixSpec{Prefix: "10.60.0.0/24"})
	code, errs := e.runTo(failingWriter{}, b64(`<IPAM_DRIVER_ACTION_DATA><AR><TYPE>IP4</TYPE><IP>10.60.0.10</IP><SIZE>4</SIZE></AR></IPAM_DRIVER_ACTION_DATA>`), "register_address_range", "40")
	if code != exitFailure || !strings.Contains(errs, "could not write the answer to oned: broken pipe; NetBox keeps +ip-range/") {
		t.Fatalf("exit %d %q", code, errs)
	}
}

// Operator commands through the edge: check's lines and exit code, audit's drift exit.
func TestOperatorCommands(t *testing.T) {
	e := newEdge(t)
	if code, out, _ := e.run(nil, "check"); code != 0 || !strings.Contains(out, "ok   custom field one_mac") {
		t.Fatalf("check: exit %d\n%s", code, out)
	}
	delete(e.nb.Fields, mapping.CFMAC)
	if code, out, _ := e.run(nil, "check", "--name", "netbox"); code != exitCheck || !strings.Contains(out, "FAIL custom field one_mac") {
		t.Fatalf("check with a field missing: exit %d\n%s", code, out)
	}
	vnet := `<VNET><ID>7</ID><AR_POOL><AR><AR_ID>0</AR_ID><IPAM_MAD>netbox</IPAM_MAD><TYPE>IP4</TYPE><IP>10.9.0.2</IP><SIZE>4</SIZE><NETBOX_IP_RANGE_ID>999</NETBOX_IP_RANGE_ID></AR></AR_POOL></VNET>`
	code, out, _ := e.run([]byte(vnet), "audit")
	if code != exitDrift || !strings.Contains(out, "names NetBox IP range 999, which does not exist") || !strings.Contains(out, "1 drift finding(s) in 1 AR(s)") {
		t.Fatalf("audit: exit %d\n%s", code, out)
	}
	code, out, _ = e.run([]byte(vnet), "sync", "--json")
	if code != 0 || !strings.Contains(out, `"drift": 1`) {
		t.Fatalf("sync --json: exit %d\n%s", code, out)
	}
	if code, out, _ := e.run(nil, "version"); code != 0 || out != "netbox-ipam dev\n" {
		t.Fatalf("version: %d %q", code, out)
	}
}

// Each kind of error has one message and one exit code.
func TestDescribe(t *testing.T) {
	cases := []struct {
		err  error
		code int
		msg  string
	}{
		{&mapping.InputError{Msg: "bad"}, exitInput, "bad"},
		{&usageError{"usage"}, exitUsage, "usage"},
		{&configError{"no url"}, exitConfig, "netbox-ipam configuration: no url"},
		{&answerError{"lost"}, exitFailure, "lost"},
		{&driver.Error{Kind: driver.Conflict, Msg: "taken"}, exitFailure, "taken"},
		{&driver.Error{Kind: driver.Refused, Msg: "not oneadmin"}, exitFailure, "not oneadmin"},
		{&driver.Error{Kind: driver.State, Msg: "range gone"}, exitState, "range gone"},
		{&opennebula.Error{Msg: "onevnet failed"}, exitUnavailable, "OpenNebula: onevnet failed"},
		{&driver.Error{Kind: driver.Setup, Msg: "hooks' state /x: it is a symlink"}, exitConfig, "hooks' state /x: it is a symlink"},
		{netboxtest.Unreachable("GET /x"), exitUnavailable, "NetBox unavailable: GET /x: cannot reach NetBox"},
		{netboxtest.Refused("GET /x", 500, "boom"), exitUnavailable, "NetBox unavailable"},
		{netboxtest.Refused("GET /x", 403, "no"), exitAuth, "HTTP 403: no"},
		{netboxtest.Refused("POST /x", 400, "dup"), exitFailure, "NetBox rejected the request: POST /x: HTTP 400: dup"},
		{&netbox.Error{Kind: netbox.KindConfig, Msg: "no token"}, exitConfig, "netbox-ipam configuration: no token"},
		{&netbox.Error{Kind: netbox.KindLimit, Op: "GET /x", Msg: "too many"}, exitState, "GET /x: too many"},
		{&netbox.Error{Kind: netbox.KindInternal, Msg: "bug"}, exitInternal, "internal error: bug"},
		{errors.New("unclassified"), exitInternal, "netbox-ipam: internal error: unclassified"},
		{&driver.Error{Msg: "no kind"}, exitInternal, "internal error: no kind"},
		// What a caller wrapped around the error stays: a drain's failed VMs.
		{fmt.Errorf("1 of 2 VM(s) not recorded (VM 41): %w", &opennebula.Error{Msg: "[one.vn.info] Error getting virtual network [8]."}), exitUnavailable,
			"1 of 2 VM(s) not recorded (VM 41): OpenNebula: [one.vn.info] Error getting virtual network [8]."},
		{fmt.Errorf("VM 41: %w", netboxtest.Unreachable("GET /x")), exitUnavailable, "VM 41: NetBox unavailable: GET /x: cannot reach NetBox"},
	}
	for _, tc := range cases {
		msg, code := describe(tc.err)
		if code != tc.code || !strings.Contains(msg, tc.msg) || (strings.HasPrefix(tc.msg, "VM") || strings.HasPrefix(tc.msg, "1 of")) && !strings.HasPrefix(msg, tc.msg) {
			t.Errorf("%T %v: %q exit %d, want %q exit %d", tc.err, tc.err, msg, code, tc.msg, tc.code)
		}
	}
}

// audit's and sync's exit codes from their report, and the one stderr line of a
// partial sync.
func TestAuditExit(t *testing.T) {
	cases := []struct {
		name   string
		rep    reconcile.Plan
		o      reconcile.Options
		code   int
		stderr string
	}{
		{"audit in step", reconcile.Plan{}, reconcile.Options{}, 0, ""},
		{"audit with drift", reconcile.Plan{Drift: 2}, reconcile.Options{}, exitDrift, ""},
		{"dry run with drift", reconcile.Plan{Drift: 2}, reconcile.Options{Sync: true, DryRun: true}, exitDrift, ""},
		{"sync repaired the drift", reconcile.Plan{Drift: 2}, reconcile.Options{Sync: true}, 0, ""},
		{"sync left what changed meanwhile", reconcile.Plan{Drift: 1, LeftVMs: []string{"changed during sync: …"}}, reconcile.Options{Sync: true}, 0, ""},
		{"sync failed on a VM", reconcile.Plan{Drift: 2, FailedVMs: []string{"OpenNebula VM 44: …"}}, reconcile.Options{Sync: true}, exitPartial,
			"netbox-ipam: sync was partial: 1 NetBox virtual machine(s) could not be kept in step (see failed above); the rest is done\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			if code := auditExit(&stderr, tc.rep, tc.o); code != tc.code || stderr.String() != tc.stderr {
				t.Errorf("exit %d, stderr %q; want %d, %q", code, stderr.String(), tc.code, tc.stderr)
			}
		})
	}
}

// A follower's API hooks of the calls it forwarded to the leader: over gRPC (7.2 on)
// they succeeded with no OUT and no EXTRA, over XML-RPC they failed; either way the
// hook does nothing and says why, where on the leader a call that succeeded and names
// no VM is an input error.
func TestAPIHookOnFollower(t *testing.T) {
	forwarded := []byte(`<CALL_INFO><RESULT>1</RESULT><PARAMETERS/><EXTRA/></CALL_INFO>`)
	failed := []byte(`<CALL_INFO><RESULT>0</RESULT><PARAMETERS/><EXTRA/></CALL_INFO>`)
	follows := "this front-end is a RAFT follower: the hooks act on the leader only (nothing done)\n"
	for _, tc := range []struct {
		name    string
		state   int
		call    string
		info    []byte
		code    int
		out     string
		errLine string
	}{
		{"allocate forwarded over gRPC", 2, "one.vm.allocate", forwarded, 0, follows, ""},
		{"instantiate forwarded over gRPC", 2, "one.template.instantiate", forwarded, 0, follows, ""},
		{"virtual router forwarded over gRPC", 2, "one.vrouter.allocate", forwarded, 0, follows, ""},
		{"allocate forwarded over XML-RPC", 2, "one.vm.allocate", failed, 0, follows, ""},
		{"a failed allocate on the leader", 3, "one.vm.allocate", failed, 0, "", ""},
		{"an allocate naming no VM on the leader", 3, "one.vm.allocate", forwarded, exitInput, "", "names no VM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEdge(t)
			e.oned.Raft = tc.state
			e.nb.Calls = nil
			code, out, errs := e.run(tc.info, "hook", "api", tc.call)
			if code != tc.code || out != tc.out || !strings.Contains(errs, tc.errLine) || (tc.errLine == "") != (errs == "") {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out, errs, tc.code, tc.out, tc.errLine)
			}
			if e.nb.Requests() != 0 {
				t.Errorf("NetBox %v", e.nb.Calls)
			}
		})
	}
}

// A hook on a RAFT follower does nothing and says why (exit 0: the leader's
// onehem-server runs the same hook); on the leader or a solo oned it reads the VM.
// The labels' drainer asks, not each hook (hooks.TestSpoolLeaderOnly).
func TestHookOnFollower(t *testing.T) {
	for _, tc := range []struct {
		name    string
		state   int
		wantOut string
		asks    bool
	}{
		{"solo", 0, "", true},
		{"leader", 3, "", true},
		{"follower", 2, "this front-end is a RAFT follower: the hooks act on the leader only (nothing done)\n", false},
		{"candidate", 1, "this front-end's RAFT state is 1 (an election is under way): the hooks act on the leader only (nothing done)\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEdge(t)
			e.oned.Raft = tc.state // and VM 42 is gone
			e.nb.Calls = nil
			code, out, errs := e.run([]byte(`<VM><ID>42</ID><NAME>web</NAME></VM>`), "hook", "state")
			if code != 0 || out != tc.wantOut || errs != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 0, %q", code, out, errs, tc.wantOut)
			}
			if (e.oned.Count("VMs 42") > 0) != tc.asks || e.nb.Requests() != 0 {
				t.Errorf("oned asked %v, NetBox %v", e.oned.Calls, e.nb.Calls)
			}
			// Asked once, by the drainer before its batch: not by each hook too.
			if n := e.oned.Count("RaftState"); n != 1 {
				t.Errorf("oned asked its RAFT state %d times (%v), want once", n, e.oned.Calls)
			}
		})
	}
}
