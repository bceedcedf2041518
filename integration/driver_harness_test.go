package integration

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	setupErr  error
)

// driverBin builds cmd/netbox-ipam once per test run and runs `setup` against NetBox.
func driverBin(t testing.TB) string {
	t.Helper()
	env := NetBox(t)
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "netbox-ipam-it-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "netbox-ipam")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/netbox-ipam")
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		setup := exec.Command(binPath, "setup")
		setup.Env = append(os.Environ(), "NETBOX_URL="+env.URL, "NETBOX_TOKEN="+env.Token, "NETBOX_IPAM_CONFIG=")
		if out, err := setup.CombinedOutput(); err != nil {
			setupErr = fmt.Errorf("netbox-ipam setup: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return binPath
}

// Result is what one_ipam sees of an action.
type Result struct {
	Code           int
	Stdout, Stderr string
	Took           time.Duration
}

// Message is stderr as oned builds the user's message: lines starting with ERROR:,
// INFO:, WARN: or DEBUG: go to oned.log only; the others are joined.
func (r Result) Message() string {
	var parts []string
	for _, l := range strings.Split(r.Stderr, "\n") {
		if l == "" || strings.HasPrefix(l, "INFO:") || strings.HasPrefix(l, "ERROR:") || strings.HasPrefix(l, "WARN:") || strings.HasPrefix(l, "DEBUG:") {
			continue
		}
		parts = append(parts, l)
	}
	return strings.Join(parts, "")
}

// messageLines counts the stderr lines oned would show the user.
func (r Result) messageLines() int {
	n := 0
	for _, l := range strings.Split(r.Stderr, "\n") {
		if l != "" && !strings.HasPrefix(l, "INFO:") {
			n++
		}
	}
	return n
}

// Run runs remotes/ipam/netbox/<action> the way one_ipam does: request id in argv,
// base64 on stdin without a newline, working directory not the repo. extraEnv
// overrides the environment (e.g. a wrong token).
func Run(t testing.TB, action, reqID, xml string, extraEnv ...string) Result {
	t.Helper()
	r, err := shimRunner(t)(action, reqID, xml, extraEnv...)
	if err != nil {
		t.Fatalf("running %s: %v", action, err)
	}
	return r
}

// runner runs one action; it is safe to call from many goroutines.
type runner func(action, reqID, xml string, extraEnv ...string) (Result, error)

// shimRunner prepares Run's environment once (building the driver, finding NetBox), so
// the returned runner does not need t: races call it from goroutines.
func shimRunner(t testing.TB) runner {
	t.Helper()
	bin := driverBin(t)
	env := NetBox(t)
	root := repoRoot(t)
	dir := t.TempDir()
	return func(action, reqID, xml string, extraEnv ...string) (Result, error) {
		cmd := exec.Command(filepath.Join(root, "remotes", "ipam", "netbox", action), reqID)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(base64.StdEncoding.EncodeToString([]byte(xml)))
		cmd.Env = append(os.Environ(), "NETBOX_IPAM_BIN="+bin, "NETBOX_URL="+env.URL, "NETBOX_TOKEN="+env.Token,
			"NETBOX_IPAM_CONFIG=", "NETBOX_IPAM_TIMEOUT=30s")
		cmd.Env = append(cmd.Env, extraEnv...)
		return execute(cmd)
	}
}

// execute runs cmd and returns what one_ipam sees of it: exit code, stdout, stderr,
// time taken. err is only for a command that could not run at all.
func execute(cmd *exec.Cmd) (Result, error) {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String(), Took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
		err = nil
	}
	return r, err
}

// mustOK fails the test unless the action succeeded.
func mustOK(t testing.TB, r Result, what string) Result {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("%s: exit %d, stderr: %s", what, r.Code, r.Stderr)
	}
	return r
}

// mustFail checks one clear line on stderr containing want, and a non-zero exit.
func mustFail(t testing.TB, r Result, want string) {
	t.Helper()
	if r.Code == 0 {
		t.Fatalf("exit 0, want a failure containing %q; stdout %q", want, r.Stdout)
	}
	if r.Stdout != "" {
		t.Errorf("stdout not empty on failure: %q", r.Stdout)
	}
	if r.messageLines() != 1 {
		t.Errorf("stderr has %d message lines, want 1: %q", r.messageLines(), r.Stderr)
	}
	if !strings.Contains(r.Message(), want) {
		t.Errorf("message %q does not contain %q", r.Message(), want)
	}
	if strings.Contains(r.Stderr, "goroutine ") || strings.Contains(r.Stderr, "panic") {
		t.Errorf("stack trace on stderr: %s", r.Stderr)
	}
}

// Req builds an IPAM_DRIVER_ACTION_DATA document; attributes are "NAME=value" pairs
// in order.
func Req(ar []string, addr []string) string {
	var b strings.Builder
	b.WriteString("<IPAM_DRIVER_ACTION_DATA><AR>")
	for _, kv := range ar {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "<%s><![CDATA[%s]]></%s>", k, v, k)
	}
	b.WriteString("</AR><ADDRESS>")
	if addr == nil {
		b.WriteString("<MAC/><IP/><IP6_GLOBAL/><IP6_ULA/><IP6/><SIZE/>")
	}
	for _, kv := range addr {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "<%s><![CDATA[%s]]></%s>", k, v, k)
	}
	b.WriteString("</ADDRESS></IPAM_DRIVER_ACTION_DATA>")
	return b.String()
}

// attrRe reads K = "v" as oned does: inside the quotes \" is a quote, anything else
// (a backslash too) is itself.
var attrRe = regexp.MustCompile(`([A-Z0-9_]+) = "((?:\\"|[^"])*)"`)

// ParseVector reads NAME = [ K = "v", … ] into a map, and the keys in order.
func ParseVector(t testing.TB, out, name string) (map[string]string, []string) {
	t.Helper()
	line := strings.TrimSpace(out)
	if !strings.HasPrefix(line, name+" = [ ") || !strings.HasSuffix(line, " ]") || strings.Count(line, "\n") != 0 {
		t.Fatalf("answer is not one %s = [ … ] line: %q", name, out)
	}
	m := map[string]string{}
	var keys []string
	for _, g := range attrRe.FindAllStringSubmatch(line, -1) {
		v := strings.ReplaceAll(g[2], `\"`, `"`)
		if _, dup := m[g[1]]; dup {
			t.Fatalf("attribute %s repeated in %q", g[1], out)
		}
		m[g[1]] = v
		keys = append(keys, g[1])
	}
	return m, keys
}

// registered turns a register answer into the S-shape attributes of later requests.
func registered(t testing.TB, out string, arID string) []string {
	t.Helper()
	m, keys := ParseVector(t, out, "AR")
	attrs := []string{"AR_ID=" + arID}
	for _, k := range keys {
		attrs = append(attrs, k+"="+m[k])
	}
	return attrs
}

// counts is how many objects NetBox holds, to prove a failure changed nothing.
type counts struct{ prefixes, ranges, addresses int }

func countAll(t testing.TB, c *netbox.Client) counts {
	t.Helper()
	n := func(path string) int {
		var page struct {
			Count int `json:"count"`
		}
		if err := c.Raw(ctx(t), "GET", path+"?limit=1", &page); err != nil {
			t.Fatal(err)
		}
		return page.Count
	}
	return counts{n("/api/ipam/prefixes/"), n("/api/ipam/ip-ranges/"), n("/api/ipam/ip-addresses/")}
}

// testVRF makes a VRF of the test's own, so its addresses never meet another test's.
func testVRF(t testing.TB, c *netbox.Client) netbox.VRF {
	t.Helper()
	v, err := c.CreateVRF(ctx(t), unique("it-vrf"))
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "vrf", func(cx ctxT) error { return c.DeleteVRF(cx, v.ID) })
	return v
}

// runStdin is Run with stdin given verbatim (for input that is not base64 at all).
func runStdin(t testing.TB, action, stdin string) Result {
	t.Helper()
	bin := driverBin(t)
	env := NetBox(t)
	cmd := exec.Command(filepath.Join(repoRoot(t), "remotes", "ipam", "netbox", action), "7")
	cmd.Dir = t.TempDir()
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "NETBOX_IPAM_BIN="+bin, "NETBOX_URL="+env.URL, "NETBOX_TOKEN="+env.Token, "NETBOX_IPAM_CONFIG=")
	r, err := execute(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
