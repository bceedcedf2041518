package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// TestDualStack: an IP4_6 lease brings its SLAAC addresses (GLOBAL_PREFIX, ULA_PREFIX)
// into NetBox exactly as oned hands them to the VM, and terminate takes all three away
// although oned's free_address carries a literal 0 in IP6_GLOBAL and IP6_ULA. An
// IP4_6_STATIC lease brings its static IPv6 address (IP6 + index).
func TestDualStack(t *testing.T) {
	o := oned(t)
	v := o.vrf(t)
	o.prefix(t, v.ID, "10.141.0.0/24")
	vrf := strconv.Itoa(v.ID)
	net := o.createVNet(t, vnetTemplate(uniq("dual"),
		`TYPE = "IP4_6", IP = "10.141.0.10", SIZE = "10", IPAM_MAD = "netbox", NETBOX_VRF = "`+vrf+`", GLOBAL_PREFIX = "2001:db8:141::", ULA_PREFIX = "fd00:141::"`,
		`TYPE = "IP4_6_STATIC", IP = "10.141.0.100", SIZE = "10", IPAM_MAD = "netbox", NETBOX_VRF = "`+vrf+`", IP6 = "2001:db8:142::100", PREFIX_LENGTH = "64"`))

	checkLease := func(nic VMNIC, v6 ...string) {
		t.Helper()
		ips := o.ips(t, v.ID)
		for _, a := range append([]string{nic.IP}, v6...) {
			ip, ok := ips[a]
			if a == "" || !ok || !hasTag(ip, o.tag) || ip.CF["one_mac"] != nic.MAC {
				t.Errorf("NetBox has no lease object for %q with MAC %s (NetBox: %v)", a, nic.MAC, ips)
			}
		}
		if len(ips) != 1+len(v6) {
			t.Errorf("NetBox holds %d objects, want %d: %v", len(ips), 1+len(v6), ips)
		}
	}

	vm := o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", net))
	nic := vm.NICs[0]
	if nic.IP6Global == "" || nic.IP6ULA == "" {
		t.Fatalf("oned gave the NIC no SLAAC addresses: %+v", nic)
	}
	checkLease(nic, nic.IP6Global, nic.IP6ULA)
	o.terminate(t, vm.ID)
	if ips := o.ips(t, v.ID); len(ips) != 0 {
		t.Errorf("after terminate NetBox still holds %v", ips)
	}

	// hold/release (allocate_address/free_address) on the same AR.
	o.must(t, "onevnet", "hold", strconv.Itoa(net), "10.141.0.15")
	var held VMNIC
	for _, l := range arOf(t, o.vnet(t, net), "0").Leases {
		held = VMNIC{IP: l.IP, MAC: l.MAC, IP6Global: l.IP6Global, IP6ULA: l.IP6ULA}
	}
	if held.IP6Global == "" {
		t.Fatalf("oned's hold has no IP6_GLOBAL: %+v", held)
	}
	checkLease(held, held.IP6Global, held.IP6ULA)
	o.must(t, "onevnet", "release", strconv.Itoa(net), "10.141.0.15")
	if ips := o.ips(t, v.ID); len(ips) != 0 {
		t.Errorf("after release NetBox still holds %v", ips)
	}

	// IP4_6_STATIC: the VM asks for the AR by its first address.
	vm = o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d, IP = \"10.141.0.103\" ]", net))
	nic = vm.NICs[0]
	if nic.IP6 != "2001:db8:142::103" {
		t.Fatalf("IP4_6_STATIC NIC %+v; want IP6 2001:db8:142::103", nic)
	}
	checkLease(nic, nic.IP6)
	if ip := o.ips(t, v.ID)[nic.IP6]; ip.Address != "2001:db8:142::103/64" {
		t.Errorf("static IPv6 recorded as %q, want 2001:db8:142::103/64", ip.Address)
	}
	o.terminate(t, vm.ID)
	if ips := o.ips(t, v.ID); len(ips) != 0 {
		t.Errorf("after terminate NetBox still holds %v", ips)
	}
}

// TestMACGlobalSpace: with oned.conf's MAC_GLOBAL_SPACE = "YES" (OpenNebula 7.4 and
// later) an AR's first MAC comes from oned's global pool (AddressRange::init_mac,
// after the driver registered the AR), no longer from MAC_PREFIX and the AR's IPv4
// address; a lease's MAC is still the AR's MAC plus its index. NetBox holds the MAC
// oned gave each lease (get_address on an IP4 AR, allocate_address on an IP4_6 one),
// the IP4_6 lease's SLAAC address follows from it, and audit is clean.
func TestMACGlobalSpace(t *testing.T) {
	o := oned(t)
	loc := o.vars["ONE_LOCATION"]
	if loc == "" {
		t.Skip("oned.conf is only readable on the test oned's own machine")
	}
	conf, err := os.ReadFile(filepath.Join(loc, "etc", "oned.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^MAC_GLOBAL_SPACE\s*=\s*"YES"`).Match(conf) {
		t.Skip(`oned runs without MAC_GLOBAL_SPACE = "YES"; ONE_MAC_GLOBAL_SPACE=YES integration/opennebula/up sets it (7.4 and later; make test-e2e-releases does)`)
	}
	v := o.vrf(t)
	o.prefix(t, v.ID, "10.161.0.0/24")
	vrf := strconv.Itoa(v.ID)
	net := o.createVNet(t, vnetTemplate(uniq("gmac"),
		`TYPE = "IP4", IP = "10.161.0.10", SIZE = "10", IPAM_MAD = "netbox", NETBOX_VRF = "`+vrf+`"`,
		`TYPE = "IP4_6", IP = "10.161.0.100", SIZE = "10", IPAM_MAD = "netbox", NETBOX_VRF = "`+vrf+`", GLOBAL_PREFIX = "2001:db8:161::"`))
	vnet := o.vnet(t, net)
	mac0, mac1 := arOf(t, vnet, "0").Attrs.Get("MAC"), arOf(t, vnet, "1").Attrs.Get("MAC")
	if mac0 == "02:00:0a:a1:00:0a" || mac1 == "02:00:0a:a1:00:64" {
		t.Fatalf("the ARs' MACs %s and %s are MAC_PREFIX and their IPv4 addresses: MAC_GLOBAL_SPACE is not in effect", mac0, mac1)
	}
	vm := o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]\nNIC = [ NETWORK_ID = %d, IP = \"10.161.0.105\" ]", net, net))
	if len(vm.NICs) != 2 || vm.NICs[0].IP != "10.161.0.10" || vm.NICs[1].IP != "10.161.0.105" {
		t.Fatalf("VM NICs %+v", vm.NICs)
	}
	for i, want := range []string{macPlus(t, mac0, 0), macPlus(t, mac1, 5)} {
		if vm.NICs[i].MAC != want {
			t.Errorf("NIC %d has MAC %s; the AR's MAC plus the lease's index is %s", i, vm.NICs[i].MAC, want)
		}
	}
	// The IP4 lease's MAC is written later (lease_mac: later): sync writes it here.
	if out, code := o.driver(t, "netbox", o.vnetXML(t, net), "sync"); code != 0 {
		t.Fatalf("sync: exit %d\n%s", code, out)
	}
	ips := o.ips(t, v.ID)
	for _, nic := range vm.NICs {
		for _, a := range []string{nic.IP, nic.IP6Global} {
			if a == "" {
				continue
			}
			if ip, ok := ips[a]; !ok || ip.CF["one_mac"] != nic.MAC {
				t.Errorf("NetBox's %s: %+v, want one_mac %s", a, ip, nic.MAC)
			}
		}
	}
	if vm.NICs[1].IP6Global == "" || !strings.HasPrefix(vm.NICs[1].IP6Global, "2001:db8:161:") {
		t.Errorf("the IP4_6 lease has no SLAAC address in 2001:db8:161::/64: %+v", vm.NICs[1])
	}
	if kinds, code := o.auditKinds(t, net); code != 0 {
		t.Errorf("audit: exit %d, %v", code, kinds)
	}

	// An AR whose MAC is one the global pool already gave out: oned refuses it only after
	// the driver registered it, and sends no unregister_address_range. The range left in
	// NetBox is no AR's: audit reports it stale, sync --prune removes it.
	_, err = o.tryVNet(t, vnetTemplate(uniq("gmac-dup"),
		`TYPE = "IP4", IP = "10.161.0.200", SIZE = "5", IPAM_MAD = "netbox", NETBOX_VRF = "`+vrf+`", MAC = "`+mac0+`"`))
	if err == nil || !strings.Contains(err.Error(), "conflicting global MAC") {
		t.Fatalf("a network on a MAC of the global pool in use: %v, want oned's refusal", err)
	}
	var left []netbox.IPRange
	for _, r := range o.ranges(t, v.ID) {
		if strings.HasPrefix(r.StartAddress, "10.161.0.200/") {
			left = append(left, r)
		}
	}
	if len(left) != 1 {
		t.Fatalf("NetBox ranges at 10.161.0.200 after oned refused the AR: %+v, want the one register made", left)
	}
	stale := fmt.Sprintf("ip-range #%d", left[0].ID)
	if out, code := o.driver(t, "netbox", nil, "audit", "--all"); code != 8 || !strings.Contains(out, stale) {
		t.Fatalf("audit --all: exit %d, want 8 and %q\n%s", code, stale, out)
	}
	// Not younger than the driver's timeout, so sync may judge it (it might be an AR
	// being registered otherwise).
	time.Sleep(2 * time.Second)
	if out, code := o.driverEnv(t, "netbox", nil, []string{"NETBOX_IPAM_TIMEOUT=1s"}, "sync", "--all", "--prune"); code != 0 {
		t.Fatalf("sync --all --prune: exit %d\n%s", code, out)
	}
	if _, err := o.nb.GetIPRange(ctxT(t), left[0].ID); !netbox.IsNotFound(err) {
		t.Errorf("range %d is still in NetBox after sync --prune: %v", left[0].ID, err)
	}
}

// macPlus is MAC mac plus n, as oned computes a lease's MAC.
func macPlus(t *testing.T, mac string, n uint64) string {
	t.Helper()
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 {
		t.Fatalf("MAC %q: %v", mac, err)
	}
	var v uint64
	for _, b := range hw {
		v = v<<8 | uint64(b)
	}
	v += n
	out := make(net.HardwareAddr, 6)
	for i := 5; i >= 0; i-- {
		out[i] = byte(v)
		v >>= 8
	}
	return out.String()
}
