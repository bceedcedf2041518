package integration

import (
	"strconv"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// An IP4_6 AR's /64 from the real NetBox: carved from the AR's IPv6 parent (NetBox's
// available-prefixes of a /48), the next AR gets the next /64, the leases' SLAAC
// addresses are recorded inside, a register whose ULA pool is missing leaves nothing,
// an AR naming its GLOBAL_PREFIX gets NetBox's prefix of it made, and unregister
// gives each /64 back (the parent stays).
func TestRegisterIPv6Carve(t *testing.T) {
	c := Client(t)
	vrf := testVRF(t, c)
	parent, err := c.CreatePrefix(ctx(t), netbox.PrefixSpec{Prefix: "2001:db8:93::/48", VRFID: vrf.ID, Description: "an admin's IPv6 pool"})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "prefix", func(cx ctxT) error { return c.DeletePrefix(cx, parent.ID) })
	register := func(id string, net string, extra ...string) Result {
		return Run(t, "register_address_range", id, Req(append([]string{"TYPE=IP4_6", "NETWORK_ADDRESS=" + net, "NETWORK_MASK=24", "SIZE=10",
			"IPAM_MAD=netbox", "MAC=02:00:0a:5d:00:02", "NETBOX_VRF=" + vrf.Name}, extra...), nil))
	}
	first := registered(t, mustOK(t, register("1", "10.93.0.0", "NETBOX_PARENT_PREFIX6=2001:db8:93::/48"), "register").Stdout, "0")
	t.Cleanup(func() { Run(t, "unregister_address_range", "91", Req(first, nil)) })
	second := registered(t, mustOK(t, register("2", "10.93.1.0", "NETBOX_PARENT_PREFIX6="+strconv.Itoa(parent.ID)), "register by the parent's id").Stdout, "0")
	t.Cleanup(func() { Run(t, "unregister_address_range", "92", Req(second, nil)) })
	for _, x := range []struct {
		S    []string
		want string
	}{{first, "2001:db8:93::"}, {second, "2001:db8:93:1::"}} {
		if got := attr(x.S, "GLOBAL_PREFIX"); got != x.want {
			t.Fatalf("GLOBAL_PREFIX %q, want %q", got, x.want)
		}
		p, err := c.GetPrefix(ctx(t), atoi(attr(x.S, "NETBOX_PREFIX6_ID")))
		if err != nil || p.Prefix != x.want+"/64" || netbox.RefID(p.VRF) != vrf.ID || !p.HasTag("opennebula") {
			t.Fatalf("NETBOX_PREFIX6_ID %s: %+v, %v", attr(x.S, "NETBOX_PREFIX6_ID"), p, err)
		}
	}
	mustOK(t, Run(t, "get_address", "3", Req(first, []string{"SIZE=1"})), "lease")
	if v6 := findIP(t, c, vrf.ID, "2001:db8:93::aff:fe5d:2"); v6.Address != "2001:db8:93::aff:fe5d:2/64" {
		t.Fatalf("the lease's SLAAC address: %+v", v6)
	}

	// The ULA pool is missing: the global /64 carved first is taken back with the rest.
	before := countAll(t, c)
	mustFail(t, register("4", "10.93.2.0", "NETBOX_PARENT_PREFIX6=2001:db8:93::/48", "NETBOX_ULA_PARENT_PREFIX6=fd00:93::/48"),
		"pool parent prefix fd00:93::/48 does not exist")
	if after := countAll(t, c); after != before {
		t.Errorf("a failed register left objects: %+v, then %+v", before, after)
	}

	// An AR naming its /64: NetBox's prefix of it is made, and given back.
	named := registered(t, mustOK(t, register("5", "10.93.3.0", "GLOBAL_PREFIX=2001:db8:94:7::"), "register naming GLOBAL_PREFIX").Stdout, "0")
	p, err := c.GetPrefix(ctx(t), atoi(attr(named, "NETBOX_PREFIX6_ID")))
	if err != nil || p.Prefix != "2001:db8:94:7::/64" {
		t.Fatalf("the named /64 in NetBox: %+v, %v", p, err)
	}
	for i, S := range [][]string{first, second, named} {
		mustOK(t, Run(t, "unregister_address_range", strconv.Itoa(6+i), Req(S, nil)), "unregister")
		if _, err := c.GetPrefix(ctx(t), atoi(attr(S, "NETBOX_PREFIX6_ID"))); !netbox.IsNotFound(err) {
			t.Errorf("the /64 %s after unregister: %v", attr(S, "GLOBAL_PREFIX"), err)
		}
	}
	if _, err := c.GetPrefix(ctx(t), parent.ID); err != nil {
		t.Errorf("the admin's parent after unregister: %v", err)
	}
}
