package e2e

import (
	"fmt"
	"strconv"
	"testing"
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
