package opennebula

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// answer is an XML-RPC answer as oned writes it: ok with a document (escaped), or a
// refusal with its error code.
func answer(ok bool, text string, code int) string {
	b := "0"
	if ok {
		b = "1"
	}
	var esc strings.Builder
	for _, r := range text {
		switch r {
		case '<':
			esc.WriteString("&lt;")
		case '>':
			esc.WriteString("&gt;")
		case '&':
			esc.WriteString("&amp;")
		default:
			esc.WriteRune(r)
		}
	}
	return fmt.Sprintf(`<?xml version="1.0"?><methodResponse><params><param><value><array><data><value><boolean>%s</boolean></value>`+
		`<value><string>%s</string></value><value><i4>%d</i4></value></data></array></value></param></params></methodResponse>`, b, esc.String(), code)
}

// server is an oned XML-RPC endpoint answering each method from answers (by method
// name), recording every request body; it returns the RPC client over it.
func server(t *testing.T, answers map[string]string) (Client, *[]string) {
	t.Helper()
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, string(b))
		for method, a := range answers {
			if strings.Contains(string(b), "<methodName>"+method+"</methodName>") {
				fmt.Fprint(w, a)
				return
			}
		}
		fmt.Fprint(w, answer(false, "[unknown] no such method", 0x0200))
	}))
	t.Cleanup(srv.Close)
	auth := filepath.Join(t.TempDir(), "one_auth")
	if err := os.WriteFile(auth, []byte("oneadmin:s3cret&<\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ONE_XMLRPC": srv.URL, "ONE_AUTH": auth}
	return RPC(func(k string) string { return env[k] }), &got
}

// Each call is the method and parameters oned's API takes (checked against the real
// oned in integration/e2e TestOnedClient), with the credentials escaped.
func TestRPCRequests(t *testing.T) {
	ok := answer(true, "0", 0)
	c, got := server(t, map[string]string{
		"one.vm.info":         answer(true, "<VM><ID>42</ID><NAME>web</NAME><STATE>3</STATE></VM>", 0),
		"one.vn.info":         answer(true, "<VNET><ID>7</ID><NAME>cloud</NAME><AR_POOL/></VNET>", 0),
		"one.vnpool.info":     answer(true, "<VNET_POOL><VNET><ID>7</ID></VNET><VNET><ID>9</ID></VNET></VNET_POOL>", 0),
		"one.cluster.info":    answer(true, "<CLUSTER><ID>100</ID><NAME>edge</NAME></CLUSTER>", 0),
		"one.user.info":       answer(true, "<USER><ID>3</ID><GID>1</GID><GROUPS><ID>1</ID><ID>0</ID></GROUPS><NAME>alice</NAME></USER>", 0),
		"one.zone.raftstatus": answer(true, "<RAFT><SERVER_ID>-1</SERVER_ID><STATE>3</STATE></RAFT>", 0),
		"one.hookpool.info":   answer(true, "<HOOK_POOL><HOOK><ID>5</ID><NAME>h</NAME><TEMPLATE><COMMAND>/x</COMMAND><TIMEOUT>30</TIMEOUT></TEMPLATE></HOOK></HOOK_POOL>", 0),
		"one.hook.allocate":   answer(true, "", 0),
		"one.hook.update":     ok, "one.hook.delete": ok, "one.vn.update_ar": ok,
	})
	ctx := context.Background()
	vm, err := c.VM(ctx, "42")
	if err != nil || vm.Name != "web" {
		t.Fatalf("VM: %+v %v", vm, err)
	}
	v, err := c.VNet(ctx, "7")
	if err != nil || v.Name != "cloud" {
		t.Fatalf("VNet: %+v %v", v, err)
	}
	ids, err := c.VNetIDs(ctx)
	if err != nil || strings.Join(ids, ",") != "7,9" {
		t.Fatalf("VNetIDs: %v %v", ids, err)
	}
	if name, err := c.ClusterName(ctx, "100"); err != nil || name != "edge" {
		t.Fatalf("ClusterName: %q %v", name, err)
	}
	if u, err := c.Self(ctx); err != nil || u != (User{Name: "alice", Admin: true}) {
		t.Fatalf("Self: %+v %v", u, err)
	}
	if s, err := c.RaftState(ctx); err != nil || s != RaftLeader {
		t.Fatalf("RaftState: %d %v", s, err)
	}
	if hs, err := c.Hooks(ctx); err != nil || len(hs) != 1 || hs[0] != (Hook{ID: "5", Name: "h", Command: "/x", Timeout: "30"}) {
		t.Fatalf("Hooks: %+v %v", hs, err)
	}
	for _, err := range []error{c.CreateHook(ctx, `NAME = "h"`), c.UpdateHook(ctx, "5", `NAME = "h"`), c.DeleteHook(ctx, "5"),
		c.UpdateAR(ctx, "7", "0", mapping.Attrs{{Name: "DNS", Value: "10.0.0.53"}})} {
		if err != nil {
			t.Fatal(err)
		}
	}
	session := "<param><value><string>oneadmin:s3cret&amp;&lt;</string></value></param>"
	want := []string{
		"one.vm.info", "<int>42</int></value></param><param><value><boolean>0</boolean>",
		"one.vn.info", "<int>7</int></value></param><param><value><boolean>0</boolean>",
		"one.vnpool.info", "<int>-2</int></value></param><param><value><int>-1</int></value></param><param><value><int>-1</int>",
		"one.cluster.info", "<int>100</int>",
		"one.user.info", "<int>-1</int>",
		"one.zone.raftstatus", "</string></value></param></params>",
		"one.hookpool.info", "<int>-2</int>",
		"one.hook.allocate", "<string>NAME = &#34;h&#34;</string>",
		"one.hook.update", "<int>5</int></value></param><param><value><string>NAME = &#34;h&#34;</string></value></param><param><value><int>0</int>",
		"one.hook.delete", "<int>5</int>",
		"one.vn.update_ar", "<int>7</int></value></param><param><value><string>AR = [ AR_ID = &#34;0&#34;, DNS = &#34;10.0.0.53&#34; ]",
	}
	if len(*got) != len(want)/2 {
		t.Fatalf("%d requests, want %d", len(*got), len(want)/2)
	}
	for i, body := range *got {
		method, params := want[2*i], want[2*i+1]
		if !strings.Contains(body, "<methodName>"+method+"</methodName><params>"+session) || !strings.Contains(body, params) {
			t.Errorf("request %d: %s\nwant %s with %s", i, body, method, params)
		}
	}
}

// VMs reads runs of nearby ids with one pool read each, and keeps the VMs asked for:
// 42 and 43 in one read (44, between, comes with it), 80 in another.
func TestRPCVMs(t *testing.T) {
	pool := "<VM_POOL><VM><ID>42</ID><NAME>a</NAME></VM><VM><ID>43</ID><NAME>b</NAME></VM><VM><ID>44</ID><NAME>c</NAME></VM><VM><ID>80</ID><NAME>d</NAME></VM></VM_POOL>"
	c, got := server(t, map[string]string{"one.vmpool.infoextended": answer(true, pool, 0)})
	vms, err := c.VMs(context.Background(), []string{"80", "43", "42", "43"})
	var names []string
	for _, v := range vms {
		names = append(names, v.ID+"="+v.Name)
	}
	if err != nil || strings.Join(names, " ") != "42=a 43=b 80=d" {
		t.Fatalf("VMs: %v %v", names, err)
	}
	want := []string{
		"<int>-2</int></value></param><param><value><int>42</int></value></param><param><value><int>43</int></value></param><param><value><int>-1</int>",
		"<int>-2</int></value></param><param><value><int>80</int></value></param><param><value><int>80</int></value></param><param><value><int>-1</int>",
	}
	if len(*got) != len(want) || c.Requests() != len(want) {
		t.Fatalf("%d requests (%d counted), want %d: %v", len(*got), c.Requests(), len(want), *got)
	}
	for i, body := range *got {
		if !strings.Contains(body, "<methodName>one.vmpool.infoextended</methodName>") || !strings.Contains(body, want[i]) {
			t.Errorf("request %d: %s\nwant %s", i, body, want[i])
		}
	}
	if _, err := c.VMs(context.Background(), []string{"4x"}); err == nil {
		t.Error("an id that is not a number reached oned")
	}

	// Where runs stop: a gap wider than vmRunGap, a span of vmRunSpan ids.
	for _, tc := range []struct {
		ids  []int
		runs string
	}{
		{[]int{100, 100 + vmRunGap, 100 + 2*vmRunGap + 1}, "100-116 133-133"},
		{nil, "0-240 256-272"}, // 0, 16, … 272
	} {
		if tc.ids == nil {
			for n := 0; n <= 272; n += vmRunGap {
				tc.ids = append(tc.ids, n)
			}
		}
		*got = nil
		var ids []string
		for _, n := range tc.ids {
			ids = append(ids, strconv.Itoa(n))
		}
		if _, err := c.VMs(context.Background(), ids); err != nil {
			t.Fatal(err)
		}
		var runs []string
		for _, body := range *got {
			var n []string
			for _, m := range regexp.MustCompile(`<int>(-?\d+)</int>`).FindAllStringSubmatch(body, -1) {
				n = append(n, m[1])
			}
			runs = append(runs, n[1]+"-"+n[2]) // filter, start, end, state
		}
		if strings.Join(runs, " ") != tc.runs {
			t.Errorf("ids %v read as %v, want %s", tc.ids, runs, tc.runs)
		}
	}
}

// oned's refusals and what is not its answer: NO_EXISTS is gone, anything else a
// failure; an id that is not a number never reaches oned.
func TestRPCAnswers(t *testing.T) {
	c, got := server(t, map[string]string{
		"one.vm.info":         answer(false, "[one.vm.info] Error getting virtual machine [43].", 0x0400),
		"one.vn.info":         answer(false, "[one.vn.info] User couldn't be authenticated, aborting call.", 0x0100),
		"one.cluster.info":    "<html>proxy</html>",
		"one.zone.raftstatus": answer(true, "<RAFT><SERVER_ID>-1</SERVER_ID></RAFT>", 0),
	})
	ctx := context.Background()
	if _, err := c.VM(ctx, "43"); !IsGone(err) || !strings.Contains(err.Error(), "oned refused one.vm.info: [one.vm.info] Error getting virtual machine [43]") {
		t.Errorf("VM 43: %v", err)
	}
	if _, err := c.VNet(ctx, "7"); err == nil || IsGone(err) || !strings.Contains(err.Error(), "couldn't be authenticated") {
		t.Errorf("VNet refused: %v", err)
	}
	if _, err := c.ClusterName(ctx, "100"); err == nil || !strings.Contains(err.Error(), "not readable") {
		t.Errorf("a proxy's page: %v", err)
	}
	if _, err := c.RaftState(ctx); err == nil || !strings.Contains(err.Error(), "no STATE") {
		t.Errorf("no STATE: %v", err)
	}
	n := len(*got)
	for _, id := range []string{"cloud", "-1", "4 2", "", "05", "+5", "../x"} {
		if _, err := c.VM(ctx, id); err == nil || !strings.Contains(err.Error(), "is not an OpenNebula virtual machine id") {
			t.Errorf("VM %q: %v", id, err)
		}
	}
	if len(*got) != n {
		t.Errorf("an id that is not a number reached oned")
	}
}
