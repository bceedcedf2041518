package e2e

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// TestHoldRelease: onevnet hold takes the address in NetBox (allocate_address), release
// gives it back (free_address).
func TestHoldRelease(t *testing.T) {
	o := oned(t)
	vrf, net := o.spanNet(t, "10.121.0.0/24", "10.121.0.10", 20, "")
	o.must(t, "onevnet", "hold", strconv.Itoa(net), "10.121.0.20")
	ar := arOf(t, o.vnet(t, net), "0")
	if len(ar.Leases) != 1 || ar.Leases[0].IP != "10.121.0.20" || ar.Leases[0].VM != "-1" {
		t.Fatalf("oned's leases %+v; want a hold of 10.121.0.20", ar.Leases)
	}
	ips := o.ips(t, vrf)
	if ip, ok := ips["10.121.0.20"]; len(ips) != 1 || !ok || !hasTag(ip, o.tag) || ip.CF["one_mac"] != ar.Leases[0].MAC {
		t.Fatalf("NetBox holds %+v", ips)
	}
	o.must(t, "onevnet", "release", strconv.Itoa(net), "10.121.0.20")
	if got := leaseIPs(arOf(t, o.vnet(t, net), "0")); len(got) != 0 {
		t.Fatalf("oned's leases after release %v", got)
	}
	if ips := o.ips(t, vrf); len(ips) != 0 {
		t.Errorf("NetBox still holds %v after release", ips)
	}
}

// TestReserve: onevnet reserve N takes N contiguous addresses in NetBox (get_address
// SIZE=N), and --ip exactly those (allocate_address). oned gives the reservation
// network a copy of the parent's AR without IPAM_MAD, so its VMs lease without the
// driver; deleting it frees the addresses one by one on the parent's AR, and the
// parent's range stays.
func TestReserve(t *testing.T) {
	o := oned(t)
	vrf, net := o.spanNet(t, "10.122.0.0/24", "10.122.0.10", 20, "")
	o.foreignIP(t, vrf, "10.122.0.11/24", "someone else's")
	out := o.must(t, "onevnet", "reserve", strconv.Itoa(net), "--size", "4", "--name", uniq("resv"))
	res := createdID(t, out)
	t.Cleanup(func() { o.deleteVNet(t, res) })

	rv := o.vnet(t, res)
	rar := arOf(t, rv, "0")
	// The lowest 4 contiguous addresses NetBox has free: .12–.15 (after the foreign .11).
	if rar.Attrs.Get("IP") != "10.122.0.12" || rar.Attrs.Get("SIZE") != "4" || rar.Attrs.Get(mapping.AttrParentARID) != "0" {
		t.Fatalf("reservation AR %v", rar.Attrs)
	}
	if got := rar.Attrs.Get("IPAM_MAD"); got != "" {
		t.Errorf("reservation AR IPAM_MAD = %q: oned now routes reservations to the driver; the docs and this test need updating", got)
	}
	parent := arOf(t, o.vnet(t, net), "0")
	o.wantLeases(t, vrf, parent)
	for i := 12; i <= 15; i++ {
		if ip, ok := o.ips(t, vrf)[fmt.Sprintf("10.122.0.%d", i)]; !ok || !hasTag(ip, o.tag) {
			t.Errorf("NetBox has no reserved 10.122.0.%d", i)
		}
	}

	// A VM on the reservation: oned leases it from the reservation, NetBox is unchanged.
	before := o.ips(t, vrf)
	vm := o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", res))
	if len(vm.NICs) != 1 || vm.NICs[0].IP != "10.122.0.12" {
		t.Fatalf("VM on the reservation: NICs %+v", vm.NICs)
	}
	if after := o.ips(t, vrf); len(after) != len(before) {
		t.Errorf("a VM on the reservation changed NetBox: %d objects before, %d after", len(before), len(after))
	}
	o.terminate(t, vm.ID)

	// reserve --ip: exactly those addresses.
	out = o.must(t, "onevnet", "reserve", strconv.Itoa(net), "--size", "2", "--address_range", "0", "--ip", "10.122.0.20", "--name", uniq("resv-ip"))
	res2 := createdID(t, out)
	t.Cleanup(func() { o.deleteVNet(t, res2) })
	o.wantLeases(t, vrf, arOf(t, o.vnet(t, net), "0"))
	if _, ok := o.ips(t, vrf)["10.122.0.21"]; !ok {
		t.Error("reserve --ip 10.122.0.20 --size 2: NetBox has no 10.122.0.21")
	}

	o.deleteVNet(t, res)
	o.deleteVNet(t, res2)
	eventually(t, "the reservations' addresses freed in NetBox", func() error {
		if n := len(o.ips(t, vrf)); n != 1 {
			return fmt.Errorf("NetBox holds %d addresses, want only the foreign one", n)
		}
		return nil
	})
	if got := leaseIPs(arOf(t, o.vnet(t, net), "0")); len(got) != 0 {
		t.Errorf("oned's parent AR still holds %v", got)
	}
	if rs := o.driverRanges(t, vrf); len(rs) != 1 {
		t.Errorf("the parent's range is gone: %v", rs)
	}
}
