package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// vnetTemplate is a bridge network with the given ARs.
func vnetTemplate(name string, ars ...string) string {
	s := fmt.Sprintf("NAME = %q\nVN_MAD = \"bridge\"\nBRIDGE = \"br-e2e\"\n", name)
	for _, ar := range ars {
		s += "AR = [ " + ar + " ]\n"
	}
	return s
}

// driverRanges are the IP ranges of a VRF carrying the driver's tag.
func (o *One) driverRanges(t testing.TB, vrfID int) []netbox.IPRange {
	t.Helper()
	var out []netbox.IPRange
	for _, r := range o.ranges(t, vrfID) {
		if r.HasTag(o.tag) {
			out = append(out, r)
		}
	}
	return out
}

func spanOf(t testing.TB, r netbox.IPRange) string {
	t.Helper()
	first, last, err := r.Span()
	if err != nil {
		t.Fatal(err)
	}
	return first.String() + "-" + last.String()
}

// TestNetworkInAdminPrefix: onevnet create with IP and SIZE inside a prefix a network
// admin made; addar and rmar; delete leaves the admin's prefix as it was.
func TestNetworkInAdminPrefix(t *testing.T) {
	o := oned(t)
	v := o.vrf(t)
	admin := o.prefix(t, v.ID, "10.101.0.0/24")
	vrf := strconv.Itoa(v.ID)
	id := o.createVNet(t, vnetTemplate(uniq("span"),
		`TYPE = "IP4", IP = "10.101.0.10", SIZE = "20", IPAM_MAD = "netbox", NETBOX_VRF = "`+vrf+`", DNS = "10.101.0.53"`))

	ar := arOf(t, o.vnet(t, id), "0")
	for attr, want := range map[string]string{
		"IPAM_MAD": "netbox", "IP": "10.101.0.10", "SIZE": "20", "NETBOX_PREFIX_ID": strconv.Itoa(admin.ID),
		"NETBOX_PREFIX": "10.101.0.0/24", "GATEWAY": "10.101.0.1", "NETWORK_MASK": "255.255.255.0", "DNS": "10.101.0.53",
	} {
		if got := ar.Attrs.Get(attr); got != want {
			t.Errorf("oned's AR 0 %s = %q, want %q", attr, got, want)
		}
	}
	rs := o.driverRanges(t, v.ID)
	if len(rs) != 1 || spanOf(t, rs[0]) != "10.101.0.10-10.101.0.29" || ar.Attrs.Get("NETBOX_IP_RANGE_ID") != strconv.Itoa(rs[0].ID) {
		t.Fatalf("NetBox ranges %v, oned's NETBOX_IP_RANGE_ID %s; want one 10.101.0.10-10.101.0.29", rs, ar.Attrs.Get("NETBOX_IP_RANGE_ID"))
	}
	p, err := o.nb.GetPrefix(ctxT(t), admin.ID)
	if err != nil || p.CustomString("one_gateway") != "10.101.0.1" || p.CustomString("one_dns") != "10.101.0.53" {
		t.Errorf("admin's prefix custom fields: gateway %q dns %q (%v)", p.CustomString("one_gateway"), p.CustomString("one_dns"), err)
	}

	// addar: a second AR, a second range.
	o.must(t, "onevnet", "addar", strconv.Itoa(id), template(t, `AR = [ TYPE = "IP4", IP = "10.101.0.100", SIZE = "10", IPAM_MAD = "netbox", NETBOX_VRF = "`+vrf+`" ]`))
	ar1 := arOf(t, o.vnet(t, id), "1")
	if got := len(o.driverRanges(t, v.ID)); got != 2 || ar1.Attrs.Get("NETBOX_IP_RANGE_ID") == "" {
		t.Fatalf("after addar: %d ranges, AR 1 range id %q; want 2 and an id", got, ar1.Attrs.Get("NETBOX_IP_RANGE_ID"))
	}
	// rmar: that range goes, the first stays.
	o.must(t, "onevnet", "rmar", strconv.Itoa(id), "1")
	if rs := o.driverRanges(t, v.ID); len(rs) != 1 || spanOf(t, rs[0]) != "10.101.0.10-10.101.0.29" {
		t.Fatalf("after rmar 1: ranges %v, want only 10.101.0.10-10.101.0.29", rs)
	}
	if n := len(o.vnet(t, id).ARs); n != 1 {
		t.Fatalf("after rmar oned has %d ARs", n)
	}

	// delete: no range of the driver is left; the admin's prefix is still there, untagged.
	o.deleteVNet(t, id)
	if rs := o.driverRanges(t, v.ID); len(rs) != 0 {
		t.Errorf("after onevnet delete NetBox still holds ranges %v", rs)
	}
	ps := o.prefixes(t, v.ID)
	if len(ps) != 1 || ps[0].ID != admin.ID || ps[0].HasTag(o.tag) {
		t.Errorf("after onevnet delete the VRF's prefixes are %v, want only the admin's %d", ps, admin.ID)
	}
}

// TestNetworkNamed: NETWORK_ADDRESS/NETWORK_MASK of a network NetBox does not have yet:
// the driver creates the prefix (tagged) and the AR covers its hosts but the gateway;
// delete removes both.
func TestNetworkNamed(t *testing.T) {
	o := oned(t)
	v := o.vrf(t)
	id := o.createVNet(t, vnetTemplate(uniq("named"),
		`TYPE = "IP4", NETWORK_ADDRESS = "10.102.0.0", NETWORK_MASK = "255.255.255.0", IPAM_MAD = "netbox", NETBOX_VRF = "`+strconv.Itoa(v.ID)+`"`))
	ar := arOf(t, o.vnet(t, id), "0")
	if ar.Attrs.Get("IP") != "10.102.0.2" || ar.Attrs.Get("SIZE") != "253" || ar.Attrs.Get("GATEWAY") != "10.102.0.1" {
		t.Errorf("oned's AR: IP %s SIZE %s GATEWAY %s; want 10.102.0.2, 253, 10.102.0.1", ar.Attrs.Get("IP"), ar.Attrs.Get("SIZE"), ar.Attrs.Get("GATEWAY"))
	}
	ps := o.prefixes(t, v.ID)
	if len(ps) != 1 || ps[0].Prefix != "10.102.0.0/24" || !ps[0].HasTag(o.tag) {
		t.Fatalf("NetBox prefixes %v; want 10.102.0.0/24 tagged %s", ps, o.tag)
	}
	if rs := o.driverRanges(t, v.ID); len(rs) != 1 || spanOf(t, rs[0]) != "10.102.0.2-10.102.0.254" {
		t.Fatalf("NetBox ranges %v", rs)
	}
	o.deleteVNet(t, id)
	if ps, rs := o.prefixes(t, v.ID), o.ranges(t, v.ID); len(ps)+len(rs) != 0 {
		t.Errorf("after delete NetBox still holds prefixes %v and ranges %v", ps, rs)
	}
}

// TestNetworkFromPool: an AR with only SIZE is carved from a pool prefix, in the pool's
// VRF and with the AR's role; delete removes the carved prefix, the pool stays.
func TestNetworkFromPool(t *testing.T) {
	o := oned(t)
	v := o.vrf(t)
	pool := o.prefix(t, v.ID, "10.103.0.0/16")
	role, err := o.nb.CreateRole(ctxT(t), uniq("e2e-vms"), uniq("e2e-vms"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.nb.DeleteRole(ctxT(t), role.ID) })
	id := o.createVNet(t, vnetTemplate(uniq("pool"),
		fmt.Sprintf(`TYPE = "IP4", SIZE = "20", IPAM_MAD = "netbox", NETBOX_PARENT_PREFIX = "10.103.0.0/16", NETBOX_VRF = "%d", NETBOX_ROLE = "%d"`, v.ID, role.ID)))
	ar := arOf(t, o.vnet(t, id), "0")
	var carved netbox.Prefix
	for _, p := range o.prefixes(t, v.ID) {
		if p.ID != pool.ID {
			carved = p
		}
	}
	if carved.Prefix != "10.103.0.0/27" || !carved.HasTag(o.tag) || netbox.RefID(carved.Role) != role.ID || ar.Attrs.Get("NETBOX_PREFIX") != carved.Prefix {
		t.Fatalf("carved prefix %+v (role %d); oned's NETBOX_PREFIX %s; want 10.103.0.0/27 tagged, role %d", carved, netbox.RefID(carved.Role), ar.Attrs.Get("NETBOX_PREFIX"), role.ID)
	}
	if ar.Attrs.Get("IP") != "10.103.0.2" || ar.Attrs.Get("SIZE") != "20" {
		t.Errorf("oned's AR: IP %s SIZE %s", ar.Attrs.Get("IP"), ar.Attrs.Get("SIZE"))
	}
	o.deleteVNet(t, id)
	if ps := o.prefixes(t, v.ID); len(ps) != 1 || ps[0].ID != pool.ID {
		t.Errorf("after delete the VRF's prefixes are %v, want only the pool", ps)
	}
}

// TestRmarWithLeases: rmar of an AR with a lease is refused by oned and changes
// nothing; rmar --force removes the AR and, in NetBox, its range and its leases.
func TestRmarWithLeases(t *testing.T) {
	o := oned(t)
	v := o.vrf(t)
	o.prefix(t, v.ID, "10.104.0.0/24")
	id := o.createVNet(t, vnetTemplate(uniq("rmar"),
		`TYPE = "IP4", IP = "10.104.0.10", SIZE = "10", IPAM_MAD = "netbox", NETBOX_VRF = "`+strconv.Itoa(v.ID)+`"`))
	vm := o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", id))
	if len(vm.NICs) != 1 || vm.NICs[0].IP != "10.104.0.10" {
		t.Fatalf("VM NICs %+v", vm.NICs)
	}
	o.wantLeases(t, v.ID, arOf(t, o.vnet(t, id), "0"))

	if _, err := o.cli("onevnet", "rmar", strconv.Itoa(id), "0"); err == nil {
		t.Fatal("rmar of an AR with a lease succeeded without --force")
	}
	if len(o.driverRanges(t, v.ID)) != 1 || len(o.ips(t, v.ID)) != 1 {
		t.Fatalf("a refused rmar changed NetBox: ranges %v, ips %v", o.ranges(t, v.ID), o.ips(t, v.ID))
	}
	o.must(t, "onevnet", "rmar", strconv.Itoa(id), "0", "--force")
	if n := len(o.vnet(t, id).ARs); n != 0 {
		t.Fatalf("after rmar --force oned has %d ARs", n)
	}
	if rs, ips := o.driverRanges(t, v.ID), o.ips(t, v.ID); len(rs)+len(ips) != 0 {
		t.Errorf("after rmar --force NetBox still holds ranges %v and addresses %v", rs, ips)
	}
	// The VM still names the address; terminating it must not fail nor touch NetBox.
	o.terminate(t, vm.ID)
	if ips := o.ips(t, v.ID); len(ips) != 0 {
		t.Errorf("after terminate NetBox holds %v", ips)
	}
}

// TestRegisterRefusedByOned: ARs oned would refuse after register answered (and then
// send no unregister) are refused by the driver first, so nothing leaks into NetBox.
func TestRegisterRefusedByOned(t *testing.T) {
	o := oned(t)
	v := o.vrf(t)
	o.prefix(t, v.ID, "10.105.0.0/24")
	base := `TYPE = "IP4_6", IP = "10.105.0.10", SIZE = "10", IPAM_MAD = "netbox", NETBOX_VRF = "` + strconv.Itoa(v.ID) + `"`
	for _, tc := range []struct{ name, extra, want string }{
		{"shared", `, SHARED = "YES"`, "SHARED"},
		{"bad global prefix", `, GLOBAL_PREFIX = "2001:db8::/64"`, "GLOBAL_PREFIX"},
		{"bad MAC", `, MAC = "02:00:0a"`, "MAC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := o.tryVNet(t, vnetTemplate(uniq("refused"), base+tc.extra))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("onevnet create: %v; want a refusal naming %s", err, tc.want)
			}
			if rs, ips := o.ranges(t, v.ID), o.ips(t, v.ID); len(rs)+len(ips) != 0 {
				t.Errorf("a refused AR left %v and %v in NetBox", rs, ips)
			}
		})
	}
}
