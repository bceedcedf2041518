package driver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/config"
)

// raftAnswer is one.zone.raftstatus's answer as oned writes it.
func raftAnswer(state int) string {
	return fmt.Sprintf(`<?xml version="1.0"?><methodResponse><params><param><value><array><data><value><boolean>1</boolean></value>`+
		`<value><string>&lt;RAFT&gt;&lt;SERVER_ID&gt;-1&lt;/SERVER_ID&gt;&lt;STATE&gt;%d&lt;/STATE&gt;&lt;TERM&gt;0&lt;/TERM&gt;&lt;/RAFT&gt;</string></value>`+
		`<value><i4>0</i4></value></data></array></value></param></params></methodResponse>`, state)
}

func TestSyncGate(t *testing.T) {
	var gotAuth string
	state := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 4096)
		n, _ := r.Body.Read(b)
		gotAuth = string(b[:n])
		fmt.Fprint(w, raftAnswer(state))
	}))
	defer srv.Close()
	auth := filepath.Join(t.TempDir(), "one_auth")
	if err := os.WriteFile(auth, []byte("oneadmin:s3cret&<\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ONE_XMLRPC": srv.URL, "ONE_AUTH": auth}
	getenv := func(k string) string { return env[k] }
	user := func(gid string, groups ...string) OneCLI {
		return func(_ context.Context, name string, args ...string) ([]byte, error) {
			g := ""
			for _, x := range groups {
				g += "<ID>" + x + "</ID>"
			}
			return []byte("<USER><ID>3</ID><GID>" + gid + "</GID><GROUPS>" + g + "</GROUPS><NAME>alice</NAME></USER>"), nil
		}
	}
	for _, tc := range []struct {
		name     string
		cli      OneCLI
		state    int
		wantSkip string
		wantErr  string
	}{
		{"oneadmin, solo", user("0", "0"), raftSolo, "", ""},
		{"oneadmin, leader", user("0", "0"), raftLeader, "", ""},
		{"secondary group oneadmin, leader", user("1", "1", "0"), raftLeader, "", ""},
		{"follower does nothing", user("0", "0"), raftFollower, "RAFT follower", ""},
		{"candidate does nothing", user("0", "0"), 1, "election", ""},
		{"users group refused", user("1", "1"), raftSolo, "", "user alice is not in the oneadmin group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state = tc.state
			d := New(config.Config{}, nil, io.Discard).WithCLI(tc.cli)
			skip, err := d.syncGate(context.Background(), getenv)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || (tc.wantSkip == "") != (skip == "") || !strings.Contains(skip, tc.wantSkip) {
				t.Fatalf("skip %q err %v, want skip %q", skip, err, tc.wantSkip)
			}
			if !strings.Contains(gotAuth, "<string>oneadmin:s3cret&amp;&lt;</string>") || !strings.Contains(gotAuth, "one.zone.raftstatus") {
				t.Errorf("request %q", gotAuth)
			}
		})
	}
}

// oned's answers to one.zone.raftstatus: a state, a refusal, a proxy's page, no state.
func TestParseRaftStatus(t *testing.T) {
	parseRaftStatus := func(raw []byte) (int, error) {
		doc, err := parseRPCAnswer("one.zone.raftstatus", raw)
		if err != nil {
			return 0, err
		}
		return raftStateOf(doc)
	}
	if s, err := parseRaftStatus([]byte(raftAnswer(3))); err != nil || s != 3 {
		t.Errorf("leader: %d %v", s, err)
	}
	refused := `<methodResponse><params><param><value><array><data><value><boolean>0</boolean></value><value><string>[one.zone.raftstatus] User couldn't be authenticated, aborting call.</string></value></data></array></value></param></params></methodResponse>`
	for _, tc := range []struct{ raw, want string }{
		{refused, "oned refused one.zone.raftstatus: [one.zone.raftstatus] User couldn't be authenticated"},
		{"<html>proxy</html>", "not readable"},
		{strings.Replace(raftAnswer(0), "STATE", "X", 2), "no STATE"},
	} {
		if _, err := parseRaftStatus([]byte(tc.raw)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.raw, err, tc.want)
		}
	}
}

// The hooks' `show -x` go to oned's XML-RPC API (no Ruby start-up); other commands, and
// a show of something that is not an id, go to the CLI.
func TestFrontEndAsksXMLRPC(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
		if strings.Contains(got, "<int>404</int>") {
			fmt.Fprint(w, `<methodResponse><params><param><value><array><data><value><boolean>0</boolean></value><value><string>[one.vn.info] Error getting virtual network [404].</string></value></data></array></value></param></params></methodResponse>`)
			return
		}
		fmt.Fprint(w, `<methodResponse><params><param><value><array><data><value><boolean>1</boolean></value><value><string>&lt;VNET&gt;&lt;ID&gt;7&lt;/ID&gt;&lt;/VNET&gt;</string></value></data></array></value></param></params></methodResponse>`)
	}))
	defer srv.Close()
	auth := filepath.Join(t.TempDir(), "one_auth")
	if err := os.WriteFile(auth, []byte("oneadmin:pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ONE_XMLRPC": srv.URL, "ONE_AUTH": auth}
	one := frontEnd(func(k string) string { return env[k] })
	out, err := one(context.Background(), "onevnet", "show", "-x", "7")
	if err != nil || string(out) != "<VNET><ID>7</ID></VNET>" ||
		!strings.Contains(got, "<methodName>one.vn.info</methodName>") || !strings.Contains(got, "<string>oneadmin:pw</string>") ||
		!strings.Contains(got, "<int>7</int>") || !strings.Contains(got, "<boolean>0</boolean>") {
		t.Fatalf("%q %v; request %s", out, err, got)
	}
	if _, err := one(context.Background(), "onevnet", "show", "-x", "404"); kindOf(err) != "opennebula" || !strings.Contains(err.Error(), "Error getting virtual network [404]") {
		t.Errorf("refused: %v", err)
	}
	got = ""
	if _, err := one(context.Background(), "onevnet", "show", "-x", "cloud"); got != "" || err == nil {
		t.Errorf("a name went to XML-RPC (%q) or the missing CLI answered: %v", got, err)
	}
}
