package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// runBin runs the driver binary with args (setup, check …), environment like Run's.
func runBin(t testing.TB, extraEnv []string, args ...string) Result {
	t.Helper()
	bin := driverBin(t)
	env := NetBox(t)
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "NETBOX_URL="+env.URL, "NETBOX_TOKEN="+env.Token, "NETBOX_IPAM_CONFIG=", "NETBOX_IPAM_TIMEOUT=20s")
	cmd.Env = append(cmd.Env, extraEnv...)
	r, err := execute(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkLines splits check's output into item → line, and the items that failed.
func checkLines(out string) (map[string]string, []string) {
	lines := map[string]string{}
	var failed []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		item := f[1]
		if (item == "permissions" || item == "custom" || item == "tag") && len(f) > 2 {
			item += " " + f[2]
			if f[1] == "custom" && len(f) > 3 {
				item += " " + f[3]
			}
		}
		lines[item] = sc.Text()
		if f[0] == "FAIL" {
			failed = append(failed, item)
		}
	}
	return lines, failed
}

// apiJSON sends one request to the test NetBox with the admin token.
func apiJSON(t testing.TB, method, path string, body, out any) {
	t.Helper()
	env := NetBox(t)
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequestWithContext(ctx(t), method, env.URL+path, rd)
	req.Header.Set("Authorization", netbox.AuthHeader(env.Token)) // a v1 token before NetBox 4.5
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		t.Fatalf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, b.String())
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

// `check` explains each thing an operator gets wrong in one line of its own, and
// exits non-zero; `setup` repairs what it can.
func TestCheckExplains(t *testing.T) {
	good := runBin(t, nil, "check")
	if good.Code != 0 || strings.Contains(good.Stdout, "FAIL") {
		t.Fatalf("check against the test NetBox: exit %d\n%s%s", good.Code, good.Stdout, good.Stderr)
	}
	env := NetBox(t)
	rows := []struct {
		name, item, want string
		env              []string
		before, after    func(t *testing.T)
	}{
		{name: "wrong port", item: "url", env: []string{"NETBOX_URL=http://127.0.0.1:9"},
			want: "cannot reach http://127.0.0.1:9 (connect: connection refused); check url (NETBOX_URL) and that NetBox runs"},
		{name: "not NetBox's base URL", item: "url", env: []string{"NETBOX_URL=" + env.URL + "/netbox"},
			want: "does not answer like NetBox (GET /api/status/: HTTP 404); set url to NetBox's base URL, without /api"},
		{name: "wrong token", item: "token", env: []string{"NETBOX_TOKEN=nbt_wrongkey99.notthesecretatall000000000000000000"},
			want: wrongV2TokenSays(t)},
		{name: "tag missing", item: "tag it-no-such-tag", env: []string{"NETBOX_IPAM_TAG=it-no-such-tag"},
			want: "missing: run `netbox-ipam setup`"},
		{name: "custom field missing", item: "custom field one_search_domain", want: "missing: run `netbox-ipam setup`",
			before: func(t *testing.T) {
				var l struct {
					Results []struct{ ID int } `json:"results"`
				}
				apiJSON(t, "GET", "/api/extras/custom-fields/?name=one_search_domain", nil, &l)
				if len(l.Results) != 1 {
					t.Fatalf("custom field one_search_domain: %+v", l)
				}
				apiJSON(t, "DELETE", fmt.Sprintf("/api/extras/custom-fields/%d/", l.Results[0].ID), nil, nil)
			},
			after: func(t *testing.T) { // setup puts it back
				if r := runBin(t, nil, "setup"); r.Code != 0 || !strings.Contains(r.Stdout, "created custom field one_search_domain") {
					t.Fatalf("setup after deleting a custom field: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
				}
			}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			if row.before != nil {
				row.before(t)
			}
			if row.after != nil {
				t.Cleanup(func() { row.after(t) })
			}
			r := runBin(t, row.env, "check")
			lines, failed := checkLines(r.Stdout)
			if r.Code != 7 {
				t.Errorf("exit %d, want 7", r.Code)
			}
			if len(failed) != 1 || failed[0] != row.item {
				t.Errorf("failed items %v, want just %q:\n%s", failed, row.item, r.Stdout)
			}
			if !strings.Contains(lines[row.item], row.want) {
				t.Errorf("line %q does not say %q", lines[row.item], row.want)
			}
			if strings.Contains(r.Stdout+r.Stderr, "notthesecretatall") || strings.Contains(r.Stdout+r.Stderr, env.Token) {
				t.Errorf("a token is shown:\n%s%s", r.Stdout, r.Stderr)
			}
		})
	}
	if r := runBin(t, nil, "check"); r.Code != 0 {
		t.Fatalf("check after the rows: exit %d\n%s", r.Code, r.Stdout)
	}
}

// The permissions README lists are enough: a user holding only those runs check clean
// and a whole AR life cycle; take one away and check names it.
func TestMinimalTokenPermissions(t *testing.T) {
	c := Client(t)
	vrf := testVRF(t, c)
	name, password := unique("it-driver"), unique("pw")+"-Aa1!"
	var user struct{ ID int }
	apiJSON(t, "POST", "/api/users/users/", map[string]any{"username": name, "password": password}, &user)
	cleanup(t, "user", func(cx ctxT) error {
		apiJSON(t, "DELETE", fmt.Sprintf("/api/users/users/%d/", user.ID), nil, nil)
		return nil
	})
	perm := func(types []string, actions ...string) int {
		var p struct{ ID int }
		apiJSON(t, "POST", "/api/users/permissions/", map[string]any{"name": unique("it-perm"), "object_types": types, "actions": actions, "users": []int{user.ID}}, &p)
		cleanup(t, "permission", func(cx ctxT) error {
			apiJSON(t, "DELETE", fmt.Sprintf("/api/users/permissions/%d/", p.ID), nil, nil)
			return nil
		})
		return p.ID
	}
	// Exactly README's table (the required rows, plus VRF view since the AR names one).
	ipPerm := perm([]string{"ipam.prefix", "ipam.ipaddress"}, "view", "add", "change", "delete")
	perm([]string{"ipam.iprange"}, "view", "add", "delete")
	perm([]string{"extras.tag", "extras.customfield", "ipam.vrf"}, "view")
	var tok struct {
		Key     string `json:"key"`
		Token   string `json:"token"`
		Version int    `json:"version"`
	}
	apiJSON(t, "POST", "/api/users/tokens/provision/", map[string]any{"username": name, "password": password, "version": 2}, &tok)
	token, secret := "nbt_"+tok.Key+"."+tok.Token, tok.Token
	if tok.Version != 2 { // NetBox before 4.5: a v1 token, its key the secret
		token, secret = tok.Key, tok.Key
	}
	as := []string{"NETBOX_TOKEN=" + token}

	r := runBin(t, as, "check")
	if _, failed := checkLines(r.Stdout); r.Code != 0 || len(failed) != 0 {
		t.Fatalf("check with the minimal permissions: exit %d, failed %v\n%s", r.Code, failed, r.Stdout)
	}
	reg := mustOK(t, Run(t, "register_address_range", "1", Req([]string{
		"TYPE=IP4", "NETWORK_ADDRESS=10.76.0.0", "NETWORK_MASK=255.255.255.0", "SIZE=10", "IPAM_MAD=netbox", "MAC=02:00:0a:4c:00:02", "NETBOX_VRF=" + vrf.Name,
	}, nil), as...), "register with the minimal token")
	S := registered(t, reg.Stdout, "0")
	mustOK(t, Run(t, "get_address", "2", Req(S, []string{"SIZE=1"}), as...), "get_address")
	mustOK(t, Run(t, "get_address", "3", Req(S, []string{"SIZE=3"}), as...), "reserve 3")
	mustOK(t, Run(t, "allocate_address", "4", Req(S, []string{"IP=10.76.0.9", "SIZE=1"}), as...), "allocate")
	mustOK(t, Run(t, "free_address", "5", Req(S, []string{"IP=10.76.0.9", "SIZE=1"}), as...), "free")
	mustOK(t, Run(t, "unregister_address_range", "6", Req(S, nil), as...), "unregister")
	if got := countVRF(t, c, vrf.ID); got != (counts{}) {
		t.Fatalf("left in the VRF after unregister: %+v", got)
	}

	apiJSON(t, "PATCH", fmt.Sprintf("/api/users/permissions/%d/", ipPerm), map[string]any{"actions": []string{"view", "add", "change"}}, nil)
	r = runBin(t, as, "check")
	lines, failed := checkLines(r.Stdout)
	if r.Code != 7 || strings.Join(failed, ",") != "permissions ipam.prefix,permissions ipam.ipaddress" ||
		!strings.Contains(lines["permissions ipam.ipaddress"], "the token may not delete; grant") {
		t.Fatalf("check without delete: exit %d, failed %v\n%s", r.Code, failed, r.Stdout)
	}
	if strings.Contains(r.Stdout, secret) {
		t.Fatal("check shows the token")
	}
}

// wrongV2TokenSays is what check says of a v2 token NetBox does not know: NetBox 4.5
// and later refuse it as such; an older NetBox has no v2 tokens, and check says so.
func wrongV2TokenSays(t *testing.T) string {
	st, err := Client(t).Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if rel := netbox.ParseRelease(st.NetBoxVersion); !netbox.V2Tokens(rel) {
		return fmt.Sprintf("the token is a v2 token (nbt_…), which NetBox %d.%d does not have (from 4.5): create a v1 token", rel.Major, rel.Minor)
	}
	return "NetBox refused the request (HTTP 403: Invalid v2 token); check the token and its permissions"
}
