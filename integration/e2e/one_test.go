// Package e2e drives a real OpenNebula front-end the way operators do (its CLI:
// onevnet, onevm, onehost) with this checkout's driver installed in it as a
// front-end would have it, and after every step checks both sides: what oned shows
// (onevnet show -x, onevm show -x) and what NetBox holds.
//
// It reads .opennebula.env (make opennebula-up) and .netbox.env (make netbox-up), or
// ONE_XMLRPC/ONE_AUTH and NETBOX_URL/NETBOX_TOKEN to run against another test cloud
// whose driver points at that NetBox. The tests create and delete networks and VMs.
package e2e

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/integration/testenv"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// One is the test oned and the NetBox its driver uses.
type One struct {
	env     []string // the CLI's environment
	path    string   // where the CLI is ("" = on PATH)
	vars    map[string]string
	nb      *netbox.Client
	tag     string // the tag of the driver installed as "netbox"
	version string
}

var (
	oneOnce sync.Once
	oneVal  *One
	oneErr  string
)

func repoRoot() string {
	root, err := testenv.RepoRoot()
	if err != nil {
		return "."
	}
	return root
}

// oned returns the test oned after checking that it answers. Unreachable: a failure
// under CI=true, a skip naming the start command otherwise.
func oned(t testing.TB) *One {
	t.Helper()
	oneOnce.Do(func() { oneVal, oneErr = connect() })
	if oneErr != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("OpenNebula is not reachable (CI=true): %s", oneErr)
		}
		t.Skipf("OpenNebula is not reachable: %s; start one with `make opennebula-up`", oneErr)
	}
	return oneVal
}

func connect() (*One, string) {
	root := repoRoot()
	vars := testenv.ReadFile(filepath.Join(root, ".opennebula.env"))
	nbv := testenv.ReadFile(filepath.Join(root, ".netbox.env"))
	for _, k := range []string{"ONE_XMLRPC", "ONE_AUTH", "ONE_LOCATION", "NETBOX_URL", "NETBOX_TOKEN"} {
		if v := os.Getenv(k); v != "" {
			vars[k] = v
		} else if v := nbv[k]; v != "" && vars[k] == "" {
			vars[k] = v
		}
	}
	if vars["ONE_XMLRPC"] == "" || vars["ONE_AUTH"] == "" {
		return nil, "no .opennebula.env and no ONE_XMLRPC/ONE_AUTH"
	}
	if vars["NETBOX_URL"] == "" || vars["NETBOX_TOKEN"] == "" {
		return nil, "no .netbox.env and no NETBOX_URL/NETBOX_TOKEN"
	}
	path := os.Getenv("PATH")
	if p := vars["ONE_PATH"]; p != "" {
		path = p + ":" + path
	}
	o := &One{vars: vars, tag: vars["ONE_TAG_PREFIX"] + "netbox", path: vars["ONE_PATH"]}
	if v := os.Getenv("E2E_TAG"); v != "" {
		o.tag = v
	}
	o.env = append(os.Environ(), "PATH="+path, "ONE_XMLRPC="+vars["ONE_XMLRPC"], "ONE_AUTH="+vars["ONE_AUTH"])
	if vars["ONE_LOCATION"] != "" {
		o.env = append(o.env, "ONE_LOCATION="+vars["ONE_LOCATION"], "RUBYLIB="+vars["RUBYLIB"])
	}
	if _, err := o.cli("onevnet", "list"); err != nil {
		return nil, err.Error()
	}
	nb, err := netbox.New(netbox.Config{URL: vars["NETBOX_URL"], Token: vars["NETBOX_TOKEN"], Retries: 2})
	if err != nil {
		return nil, err.Error()
	}
	o.nb = nb
	o.version = vars["ONE_VERSION"]
	return o, ""
}

// cli runs an OpenNebula command; the error carries its output.
func (o *One) cli(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if o.path != "" && !strings.Contains(name, "/") {
		name = filepath.Join(o.path, name)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = o.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

func (o *One) must(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := o.cli(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// template writes an OpenNebula template to a file for the CLI.
func template(t testing.TB, text string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "template")
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

var idRE = regexp.MustCompile(`ID:\s*(\d+)`)

func createdID(t testing.TB, out string) int {
	t.Helper()
	m := idRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no ID in %q", out)
	}
	id, _ := strconv.Atoi(m[1])
	return id
}

// uniq makes names unique across runs that share one oned and one NetBox.
func uniq(prefix string) string {
	return fmt.Sprintf("%s-%09d", prefix, time.Now().UnixNano()%1e9) // fixed width: callers cut it
}

// ---- OpenNebula's side ---------------------------------------------------------

// VNetDoc is what the tests read of `onevnet show -x` besides mapping.VNet.
type VNetDoc struct {
	ID       int    `xml:"ID"`
	State    int    `xml:"STATE"`
	Error    string `xml:"TEMPLATE>ERROR"`
	ParentID string `xml:"PARENT_NETWORK_ID"`
}

// Virtual network states (VirtualNetwork.h).
const (
	vnetReady = 1
	vnetError = 5
)

func (o *One) vnetXML(t testing.TB, id int) []byte {
	t.Helper()
	return []byte(o.must(t, "onevnet", "show", "-x", strconv.Itoa(id)))
}

// vnet is oned's view of a network: its ARs (attributes and leases).
func (o *One) vnet(t testing.TB, id int) mapping.VNet {
	t.Helper()
	vs, err := mapping.ParseVNets(o.vnetXML(t, id))
	if err != nil || len(vs) != 1 {
		t.Fatalf("onevnet show -x %d: %v", id, err)
	}
	return vs[0]
}

func (o *One) vnetDoc(t testing.TB, id int) VNetDoc {
	t.Helper()
	var d VNetDoc
	if err := xml.Unmarshal(o.vnetXML(t, id), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// createVNet creates a network and waits until oned says READY (or fails with its ERROR).
func (o *One) createVNet(t testing.TB, tmpl string) int {
	t.Helper()
	id, err := o.tryVNet(t, tmpl)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// tryVNet creates a network; the error is oned's (the CLI's, or the network's ERROR).
func (o *One) tryVNet(t testing.TB, tmpl string) (int, error) {
	t.Helper()
	out, err := o.cli("onevnet", "create", template(t, tmpl))
	if err != nil {
		return -1, err
	}
	id := createdID(t, out)
	t.Cleanup(func() { o.deleteVNet(t, id) })
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		d := o.vnetDoc(t, id)
		switch d.State {
		case vnetReady:
			return id, nil
		case vnetError:
			return id, fmt.Errorf("network %d is in ERROR: %s", id, d.Error)
		}
	}
	return id, fmt.Errorf("network %d not READY after 60 s", id)
}

// deleteVNet deletes a network if it still exists and waits until it is gone.
func (o *One) deleteVNet(t testing.TB, id int) {
	t.Helper()
	if _, err := o.cli("onevnet", "show", strconv.Itoa(id)); err != nil {
		return
	}
	for _, ar := range o.vnet(t, id).ARs { // oned deletes no network with holds
		for _, l := range ar.Leases {
			if l.VM == "-1" {
				_, _ = o.cli("onevnet", "release", strconv.Itoa(id), l.IP)
			}
		}
	}
	// A VM's leases go a moment after it is DONE; a network that keeps leases is refused.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, err := o.cli("onevnet", "delete", strconv.Itoa(id))
		if err == nil {
			break
		}
		if _, serr := o.cli("onevnet", "show", strconv.Itoa(id)); serr != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("cleanup: network %d: %v", id, err)
			return
		}
	}
	o.waitGone(t, "onevnet", id)
}

func (o *One) waitGone(t testing.TB, cmd string, id int) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if _, err := o.cli(cmd, "show", strconv.Itoa(id)); err != nil {
			return
		}
	}
	t.Errorf("%s %d still exists after 60 s", cmd, id)
}

// arAttr is one attribute of an AR as oned holds it.
func arOf(t testing.TB, v mapping.VNet, arID string) mapping.AR {
	t.Helper()
	for _, ar := range v.ARs {
		if ar.Attrs.Get(mapping.AttrARID) == arID {
			return ar
		}
	}
	t.Fatalf("network %s has no AR %s", v.ID, arID)
	return mapping.AR{}
}

// VMDoc is what the tests read of `onevm show -x`.
type VMDoc struct {
	ID       int     `xml:"ID"`
	State    int     `xml:"STATE"`
	LCMState int     `xml:"LCM_STATE"`
	NICs     []VMNIC `xml:"TEMPLATE>NIC"`
}

// VMNIC is one NIC of a VM, as oned filled it from the lease.
type VMNIC struct {
	NICID     string `xml:"NIC_ID"`
	NetworkID string `xml:"NETWORK_ID"`
	ARID      string `xml:"AR_ID"`
	IP        string `xml:"IP"`
	MAC       string `xml:"MAC"`
	IP6Global string `xml:"IP6_GLOBAL"`
	IP6ULA    string `xml:"IP6_ULA"`
	IP6       string `xml:"IP6"`
	Gateway   string `xml:"GATEWAY"`
	DNS       string `xml:"DNS"`
}

func (o *One) vm(t testing.TB, id int) VMDoc {
	t.Helper()
	var d VMDoc
	if err := xml.Unmarshal([]byte(o.must(t, "onevm", "show", "-x", strconv.Itoa(id))), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// tryVM creates a VM (no hypervisor needed: its leases are taken at creation).
func (o *One) tryVM(t testing.TB, tmpl string) (int, error) {
	t.Helper()
	out, err := o.cli("onevm", "create", template(t, "CPU = 0.1\nMEMORY = 32\n"+tmpl))
	if err != nil {
		return -1, err
	}
	id := createdID(t, out)
	t.Cleanup(func() { o.terminate(t, id) })
	return id, nil
}

func (o *One) createVM(t testing.TB, tmpl string) VMDoc {
	t.Helper()
	id, err := o.tryVM(t, tmpl)
	if err != nil {
		t.Fatal(err)
	}
	return o.vm(t, id)
}

// terminate ends a VM and waits until oned has released its leases (state DONE).
func (o *One) terminate(t testing.TB, id int) {
	t.Helper()
	if d, err := o.vmState(id); err != nil || d == vmDone {
		return
	}
	// The scheduler deploys VMs to the dummy host, and oned refuses terminate while a VM
	// is between states (PROLOG, BOOT: "wrong state"): try again until it takes, or a VM
	// left behind keeps its leases and its network, and a later audit --all finds them.
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := o.cli("onevm", "terminate", "--hard", strconv.Itoa(id))
		if err == nil {
			break
		}
		if s, serr := o.vmState(id); serr != nil || s == vmDone {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("terminate %d: %v", id, err)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	for done := time.Now().Add(60 * time.Second); time.Now().Before(done); time.Sleep(200 * time.Millisecond) {
		if s, err := o.vmState(id); err != nil || s == vmDone {
			return
		}
	}
	t.Errorf("VM %d not DONE 60 s after terminate", id)
}

const vmDone = 6

func (o *One) vmState(id int) (int, error) {
	out, err := o.cli("onevm", "show", "-x", strconv.Itoa(id))
	if err != nil {
		return -1, err
	}
	var d VMDoc
	if err := xml.Unmarshal([]byte(out), &d); err != nil {
		return -1, err
	}
	return d.State, nil
}

// ---- NetBox's side -------------------------------------------------------------

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// vrf makes a NetBox VRF of the test's own, so that tests sharing one NetBox never see
// each other's addresses; removed with everything in it at the end.
func (o *One) vrf(t testing.TB) netbox.VRF {
	t.Helper()
	v, err := o.nb.CreateVRF(ctxT(t), uniq("e2e-"+strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.emptyVRF(t, v.ID) })
	return v
}

// emptyVRF removes every object in a VRF, then the VRF.
func (o *One) emptyVRF(t testing.TB, id int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var ips []netbox.IPAddress
	var rs []netbox.IPRange
	var ps []netbox.Prefix
	q := fmt.Sprintf("vrf_id=%d&limit=1000", id)
	_ = o.nb.Raw(ctx, "GET", "/api/ipam/ip-addresses/?"+q, &listOf[netbox.IPAddress]{Results: &ips})
	_ = o.nb.Raw(ctx, "GET", "/api/ipam/ip-ranges/?"+q, &listOf[netbox.IPRange]{Results: &rs})
	_ = o.nb.Raw(ctx, "GET", "/api/ipam/prefixes/?"+q, &listOf[netbox.Prefix]{Results: &ps})
	for _, a := range ips {
		_ = o.nb.DeleteIPAddress(ctx, a.ID)
	}
	for _, r := range rs {
		_ = o.nb.DeleteIPRange(ctx, r.ID)
	}
	for _, p := range ps {
		_ = o.nb.DeletePrefix(ctx, p.ID)
	}
	if err := o.nb.DeleteVRF(ctx, id); err != nil {
		t.Logf("cleanup of VRF %d: %v", id, err)
	}
}

type listOf[T any] struct {
	Results *[]T `json:"results"`
}

// NetBoxIP is what a test checks of a NetBox IP address.
type NetBoxIP struct {
	ID      int
	Address string
	Tags    []string
	CF      map[string]string
	Desc    string
}

// ips lists the IP addresses of a VRF (IPv4 and IPv6), by address without mask.
func (o *One) ips(t testing.TB, vrfID int) map[string]NetBoxIP {
	t.Helper()
	var raw []struct {
		ID           int                     `json:"id"`
		Address      string                  `json:"address"`
		Description  string                  `json:"description"`
		Tags         []struct{ Slug string } `json:"tags"`
		CustomFields map[string]any          `json:"custom_fields"`
	}
	if err := o.nb.Raw(ctxT(t), "GET", fmt.Sprintf("/api/ipam/ip-addresses/?vrf_id=%d&limit=1000", vrfID), &struct {
		Results any `json:"results"`
	}{&raw}); err != nil {
		t.Fatal(err)
	}
	out := map[string]NetBoxIP{}
	for _, r := range raw {
		p := netip.MustParsePrefix(r.Address)
		ip := NetBoxIP{ID: r.ID, Address: r.Address, Desc: r.Description, CF: map[string]string{}}
		for _, tg := range r.Tags {
			ip.Tags = append(ip.Tags, tg.Slug)
		}
		for k, v := range r.CustomFields {
			if v != nil {
				ip.CF[k] = fmt.Sprint(v)
			}
		}
		out[p.Addr().String()] = ip
	}
	return out
}

func (o *One) ranges(t testing.TB, vrfID int) []netbox.IPRange {
	t.Helper()
	var rs []netbox.IPRange
	if err := o.nb.Raw(ctxT(t), "GET", fmt.Sprintf("/api/ipam/ip-ranges/?vrf_id=%d&limit=1000", vrfID), &listOf[netbox.IPRange]{Results: &rs}); err != nil {
		t.Fatal(err)
	}
	return rs
}

func (o *One) prefixes(t testing.TB, vrfID int) []netbox.Prefix {
	t.Helper()
	var ps []netbox.Prefix
	if err := o.nb.Raw(ctxT(t), "GET", fmt.Sprintf("/api/ipam/prefixes/?vrf_id=%d&limit=1000", vrfID), &listOf[netbox.Prefix]{Results: &ps}); err != nil {
		t.Fatal(err)
	}
	return ps
}

// prefix creates an admin's prefix (no driver tag) in a VRF.
func (o *One) prefix(t testing.TB, vrfID int, cidr string) netbox.Prefix {
	t.Helper()
	p, err := o.nb.CreatePrefix(ctxT(t), netbox.PrefixSpec{Prefix: cidr, VRFID: vrfID, Status: "active", Description: "a network admin's prefix"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// foreignIP creates an address someone else holds in NetBox.
func (o *One) foreignIP(t testing.TB, vrfID int, addr, desc string) {
	t.Helper()
	if _, err := o.nb.CreateIPAddresses(ctxT(t), []netbox.IPAddressSpec{{Address: addr, VRFID: vrfID, Status: "active", Description: desc}}); err != nil {
		t.Fatal(err)
	}
}

// ---- checks -------------------------------------------------------------------

// leaseIPs lists the IPv4 addresses oned holds in an AR.
func leaseIPs(ar mapping.AR) []string {
	var out []string
	for _, l := range ar.Leases {
		out = append(out, l.IP)
	}
	return out
}

// wantLeases checks that NetBox's driver-tagged IPv4 objects in the VRF are exactly
// the addresses oned holds, each with its AR id and MAC.
func (o *One) wantLeases(t testing.TB, vrfID int, ars ...mapping.AR) {
	t.Helper()
	have := o.ips(t, vrfID)
	want := map[string]mapping.Lease{}
	for _, ar := range ars {
		for _, l := range ar.Leases {
			want[l.IP] = l
		}
	}
	for addr, ip := range have {
		a := netip.MustParseAddr(addr)
		if !a.Is4() || !hasTag(ip, o.tag) {
			continue
		}
		l, ok := want[addr]
		if !ok {
			t.Errorf("NetBox holds %s (ip-address %d, %q) but oned holds no lease there", ip.Address, ip.ID, ip.Desc)
			continue
		}
		if ip.CF["one_mac"] != "" && !strings.EqualFold(ip.CF["one_mac"], l.MAC) {
			t.Errorf("NetBox %s: one_mac %s, oned's lease MAC %s", addr, ip.CF["one_mac"], l.MAC)
		}
		delete(want, addr)
	}
	for addr := range want {
		t.Errorf("oned holds %s but NetBox has no %s object there", addr, o.tag)
	}
}

func hasTag(ip NetBoxIP, tag string) bool {
	for _, t := range ip.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// eventually retries check until it returns nil or 30 s pass: oned acts on a VM's
// leases asynchronously after some calls return.
func eventually(t testing.TB, what string, check func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if err = check(); err == nil {
			return
		}
	}
	t.Fatalf("%s: %v", what, err)
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
