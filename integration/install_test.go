package integration

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var actionNames = []string{"register_address_range", "unregister_address_range", "get_address", "allocate_address", "free_address"}

// makeInstall runs `make <target>` at the repo root with the given variables.
func makeInstall(t *testing.T, target string, vars ...string) string {
	t.Helper()
	cmd := exec.Command("make", append([]string{"-s", target}, vars...)...)
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %s %v: %v\n%s", target, vars, err, out)
	}
	return string(out)
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode()
}

// `make install DESTDIR=…` lays out the tree README describes: the binary outside the
// remotes tree, five small executable shims and nothing else under it (no binary, no
// link, no token), the example configuration 0640; installing again keeps the
// configuration and upgrades the rest; uninstall removes all but the configuration.
func TestInstallLayout(t *testing.T) {
	root := t.TempDir()
	out := makeInstall(t, "install", "DESTDIR="+root)
	for _, step := range []string{"netbox to the -i list of IPAM_MAD", "restart oned", "netbox-ipam setup", "netbox-ipam check"} {
		if !strings.Contains(out, step) {
			t.Errorf("install's summary does not mention %q:\n%s", step, out)
		}
	}
	bin := filepath.Join(root, "usr/lib/one/netbox-ipam/netbox-ipam")
	if m := mode(t, bin); m.Perm() != 0o755 || !m.IsRegular() {
		t.Errorf("binary mode %v", m)
	}
	if v, err := exec.Command(bin, "version").Output(); err != nil || !strings.HasPrefix(string(v), "netbox-ipam ") {
		t.Errorf("installed binary: %q, %v", v, err)
	}
	ipam := filepath.Join(root, "var/lib/one/remotes/ipam/netbox")
	entries, err := os.ReadDir(ipam)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "allocate_address free_address get_address register_address_range unregister_address_range" {
		t.Errorf("under the remotes tree: %v, want exactly the five shims", names)
	}
	env := NetBox(t)
	for _, a := range actionNames {
		p := filepath.Join(ipam, a)
		if m := mode(t, p); m.Perm() != 0o755 || !m.IsRegular() {
			t.Errorf("%s: mode %v, want a regular file 0755", a, m)
		}
		body, _ := os.ReadFile(p)
		if len(body) > 1024 || !bytes.HasPrefix(body, []byte("#!/bin/sh\n")) || bytes.Contains(body, []byte("\x7fELF")) {
			t.Errorf("%s is not a small shell shim (%d bytes)", a, len(body))
		}
		if bytes.Contains(body, []byte(env.Token)) || bytes.Contains(body, []byte("nbt_")) || bytes.Contains(body, []byte(root)) {
			t.Errorf("%s holds a token or the staging path:\n%s", a, body)
		}
		if !bytes.Contains(body, []byte("/usr/lib/one/netbox-ipam/netbox-ipam")) || !bytes.Contains(body, []byte(" "+a+` "$@"`)) {
			t.Errorf("%s does not exec the installed binary with its action:\n%s", a, body)
		}
	}
	conf := filepath.Join(root, "etc/one/netbox-ipam.yaml")
	if m := mode(t, conf); m.Perm() != 0o640 {
		t.Errorf("configuration mode %v, want 0640", m)
	}

	// Again, over an operator's configuration: it stays, the rest is replaced.
	mine := []byte("url: https://netbox.example.org\ntoken_file: /etc/one/netbox-token\n")
	if err := os.WriteFile(conf, mine, 0o640); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(ipam, "get_address"), []byte("#!/bin/sh\nold\n"), 0o755)
	out = makeInstall(t, "install", "DESTDIR="+root)
	if got, _ := os.ReadFile(conf); !bytes.Equal(got, mine) || !strings.Contains(out, "kept /etc/one/netbox-ipam.yaml") {
		t.Errorf("a second install touched the configuration (%q) or did not say so:\n%s", got, out)
	}
	if got, _ := os.ReadFile(filepath.Join(ipam, "get_address")); bytes.Contains(got, []byte("old")) {
		t.Error("a second install did not upgrade the shim")
	}

	makeInstall(t, "uninstall", "DESTDIR="+root)
	for _, gone := range []string{bin, filepath.Join(ipam, "get_address"), ipam} {
		if _, err := os.Lstat(gone); !os.IsNotExist(err) {
			t.Errorf("%s still there after uninstall", gone)
		}
	}
	if got, _ := os.ReadFile(conf); !bytes.Equal(got, mine) {
		t.Error("uninstall removed or changed the configuration")
	}
}

// Installed into its own prefix (no DESTDIR, so the paths in the shims are real), the
// driver runs through the installed shims the way one_ipam calls them, with nothing
// but its configuration file: no NETBOX_* in the environment. The file also turns on
// the JSON log, which gets one line per action and never the token.
func TestInstalledShimsAndLog(t *testing.T) {
	c := Client(t)
	vrf := testVRF(t, c)
	root := t.TempDir()
	makeInstall(t, "install", "PREFIX="+root+"/usr", "SYSCONFDIR="+root+"/etc", "REMOTES="+root+"/remotes")
	env := NetBox(t)
	logFile := filepath.Join(root, "netbox-ipam.log")
	conf := "url: " + env.URL + "\ntoken: " + env.Token + "\nlog:\n  file: " + logFile + "\n  format: json\n"
	if err := os.WriteFile(filepath.Join(root, "etc/one/netbox-ipam.yaml"), []byte(conf), 0o640); err != nil {
		t.Fatal(err)
	}
	var clean []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NETBOX_") {
			clean = append(clean, kv)
		}
	}
	call := func(action, id, xml string) Result {
		cmd := exec.Command(filepath.Join(root, "remotes/ipam/netbox", action), id)
		cmd.Dir = t.TempDir()
		cmd.Env = clean
		cmd.Stdin = strings.NewReader(base64.StdEncoding.EncodeToString([]byte(xml)))
		r, err := execute(cmd)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	reg := mustOK(t, call("register_address_range", "11", Req([]string{"TYPE=IP4", "NETWORK_ADDRESS=10.77.0.0", "NETWORK_MASK=24", "SIZE=10", "IPAM_MAD=netbox", "MAC=02:00:0a:4d:00:02", "NETBOX_VRF=" + vrf.Name}, nil)), "installed register")
	S := registered(t, reg.Stdout, "3")
	got := mustOK(t, call("get_address", "12", Req(S, []string{"SIZE=1"})), "installed get_address")
	lease, _ := ParseVector(t, got.Stdout, "ADDRESS")
	mustFail(t, call("allocate_address", "13", Req(S, []string{"IP=" + lease["IP"], "SIZE=1"})), "is already in NetBox")
	mustOK(t, call("unregister_address_range", "14", Req(S, nil)), "installed unregister")

	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(env.Token)) || bytes.Contains(raw, []byte(strings.SplitN(env.Token, ".", 2)[1])) {
		t.Fatal("the log holds the token")
	}
	var lines []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		lines = append(lines, m)
	}
	if len(lines) != 4 {
		t.Fatalf("%d log lines for 4 actions:\n%s", len(lines), raw)
	}
	want := []struct{ action, request, level, ip, objects string }{
		{"register_address_range", "11", "INFO", "", "+prefix/ +ip-range/"},
		{"get_address", "12", "INFO", lease["IP"], "+ip-address/"},
		{"allocate_address", "13", "ERROR", lease["IP"], ""},
		{"unregister_address_range", "14", "INFO", "", "-ip-address/ -ip-range/ -prefix/"},
	}
	for i, w := range want {
		l := lines[i]
		if l["action"] != w.action || l["request"] != w.request || l["level"] != w.level {
			t.Errorf("line %d: %v, want action %s request %s level %s", i, l, w.action, w.request, w.level)
		}
		if w.ip != "" && l["ip"] != w.ip {
			t.Errorf("line %d: ip %v, want %s", i, l["ip"], w.ip)
		}
		objs, _ := l["objects"].(string)
		for _, o := range strings.Fields(w.objects) {
			if !strings.Contains(objs, o) {
				t.Errorf("line %d: objects %q lack %s", i, objs, o)
			}
		}
		if n, _ := l["netbox_requests"].(float64); n < 1 {
			t.Errorf("line %d: netbox_requests %v", i, l["netbox_requests"])
		}
		if _, ok := l["duration_ms"].(float64); !ok {
			t.Errorf("line %d: no duration_ms", i)
		}
	}
	if e, _ := lines[2]["error"].(string); !strings.Contains(e, "is already in NetBox") {
		t.Errorf("the failed allocate's line has error %q", e)
	}
	if lines[1]["ar"] != "3" {
		t.Errorf("get_address line names AR %v, want 3", lines[1]["ar"])
	}
}
