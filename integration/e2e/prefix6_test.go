package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// TestDualStackCarved: a dual-stack network whose /64 comes from NetBox. The AR names
// no GLOBAL_PREFIX, only NetBox's IPv6 pool (NETBOX_PARENT_PREFIX6): register carves
// the next free /64 and answers GLOBAL_PREFIX, which oned keeps; a VM's lease carries
// its SLAAC address in that /64, recorded in NetBox; deleting the network gives the
// /64 back and leaves the admin's pool.
func TestDualStackCarved(t *testing.T) {
	o := oned(t)
	v := o.vrf(t)
	o.prefix(t, v.ID, "10.154.0.0/24")
	pool := o.prefix(t, v.ID, "2001:db8:154::/48")
	o.prefix(t, v.ID, "2001:db8:154::/64") // taken by someone: the carve skips it
	net := o.createVNet(t, vnetTemplate(uniq("carved"),
		`TYPE = "IP4_6", IP = "10.154.0.10", SIZE = "5", IPAM_MAD = "netbox", NETBOX_VRF = "`+strconv.Itoa(v.ID)+`", NETBOX_PARENT_PREFIX6 = "2001:db8:154::/48"`))
	ar := arOf(t, o.vnet(t, net), "0")
	if got := ar.Attrs.Get("GLOBAL_PREFIX"); got != "2001:db8:154:1::" {
		t.Fatalf("oned's AR GLOBAL_PREFIX = %q after register, want the carved 2001:db8:154:1::", got)
	}
	id, _ := strconv.Atoi(ar.Attrs.Get("NETBOX_PREFIX6_ID"))
	p, err := o.nb.GetPrefix(ctxT(t), id)
	if err != nil || p.Prefix != "2001:db8:154:1::/64" || !p.HasTag(o.tag) {
		t.Fatalf("NETBOX_PREFIX6_ID %d: %+v, %v", id, p, err)
	}

	vm := o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", net))
	nic := vm.NICs[0]
	if !strings.HasPrefix(nic.IP6Global, "2001:db8:154:1:") {
		t.Fatalf("the VM's SLAAC address %q is not in the carved /64", nic.IP6Global)
	}
	if ip, ok := o.ips(t, v.ID)[nic.IP6Global]; !ok || !hasTag(ip, o.tag) || ip.CF["one_mac"] != nic.MAC {
		t.Fatalf("NetBox has no lease object for %s with MAC %s: %v", nic.IP6Global, nic.MAC, o.ips(t, v.ID))
	}
	if kinds, code := o.auditKinds(t, net); code != 0 {
		t.Errorf("audit: exit %d, %v", code, kinds)
	}
	o.terminate(t, vm.ID)
	o.deleteVNet(t, net)
	if _, err := o.nb.GetPrefix(ctxT(t), id); !netbox.IsNotFound(err) {
		t.Errorf("the carved /64 after the network's delete: %v", err)
	}
	if _, err := o.nb.GetPrefix(ctxT(t), pool.ID); err != nil {
		t.Errorf("the admin's pool after the network's delete: %v", err)
	}
}
