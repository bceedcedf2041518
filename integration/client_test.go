package integration

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// Both token versions authenticate; a wrong token is a KindAuth error whose message
// says so and never shows the token.
func TestClientAuth(t *testing.T) {
	env := NetBox(t)
	if env.TokenV1 == "" {
		t.Fatal("NETBOX_TOKEN_V1 is not set: integration/netbox/up provisions it; rerun `make netbox-up`")
	}
	bogusV2 := "nbt_abcdefghijkl.ZZZZ0000secretpart0000ZZZZ0000secretpart00"
	bogusV1 := "0123456789abcdef0123456789abcdef01234567"
	cases := []struct {
		name, token string
		wantOK      bool
	}{
		{"v2 bearer", env.Token, true},
		{"v1 token", env.TokenV1, true},
		{"wrong v2", bogusV2, false},
		{"wrong v1", bogusV1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := netbox.New(netbox.Config{URL: env.URL, Token: tc.token})
			if err != nil {
				t.Fatal(err)
			}
			st, err := c.Status(ctx(t))
			if tc.wantOK {
				if err != nil {
					t.Fatalf("Status: %v", err)
				}
				if !strings.HasPrefix(st.NetBoxVersion, "4.7") {
					t.Fatalf("NetBox version %q, want 4.7.x", st.NetBoxVersion)
				}
				return
			}
			if netbox.KindOf(err) != netbox.KindAuth {
				t.Fatalf("err = %v (kind %v), want an auth error", err, netbox.KindOf(err))
			}
			if strings.Contains(err.Error(), tc.token) || strings.Contains(err.Error(), "secretpart") {
				t.Fatalf("error shows the token: %v", err)
			}
			if !strings.Contains(err.Error(), "token") {
				t.Fatalf("error does not say the token is the problem: %v", err)
			}
		})
	}
}

// Create, read and delete every kind of object the driver uses, through go-netbox with
// go-retryablehttp as its transport: a tag, a custom field, a VRF, a role, a prefix in
// the VRF with the role, an IP range in it, and an IP address taken through available-ips.
func TestClientObjectLifecycle(t *testing.T) {
	c := Client(t)
	ctx := ctx(t)
	name := unique("it-life")

	tag, err := c.CreateTag(ctx, name, name, "integration test tag")
	if err != nil {
		t.Fatalf("CreateTag: %v", err)
	}
	cleanup(t, "tag", func(cx ctxT) error { return c.DeleteTag(cx, tag.ID) })
	if got, err := c.TagBySlug(ctx, name); err != nil || got.ID != tag.ID {
		t.Fatalf("TagBySlug = %+v, %v; want id %d", got, err, tag.ID)
	}

	cfName := strings.ReplaceAll(name, "-", "_")
	cf, err := c.CreateCustomField(ctx, netbox.CustomFieldSpec{
		Name: cfName, Type: "text", ObjectTypes: []string{"ipam.ipaddress"}, FilterLogic: "exact", Group: "OpenNebula tests",
	})
	if err != nil {
		t.Fatalf("CreateCustomField: %v", err)
	}
	cleanup(t, "custom field", func(cx ctxT) error { return c.DeleteCustomField(cx, cf.ID) })
	if got, err := c.CustomFieldByName(ctx, cfName); err != nil || got.FilterLogic.Value != "exact" || got.Type.Value != "text" {
		t.Fatalf("CustomFieldByName = %+v, %v; want text/exact", got, err)
	}

	vrf, err := c.CreateVRF(ctx, name)
	if err != nil {
		t.Fatalf("CreateVRF: %v", err)
	}
	cleanup(t, "vrf", func(cx ctxT) error { return c.DeleteVRF(cx, vrf.ID) })
	role, err := c.CreateRole(ctx, name, name)
	if err != nil {
		t.Fatalf("CreateRole: %v", err)
	}
	cleanup(t, "role", func(cx ctxT) error { return c.DeleteRole(cx, role.ID) })

	tags := []netbox.TagRef{{Slug: tag.Slug}}
	p, err := c.CreatePrefix(ctx, netbox.PrefixSpec{
		Prefix: "10.77.0.0/24", VRFID: vrf.ID, RoleID: role.ID, Tags: tags, Description: "integration test prefix",
	})
	if err != nil {
		t.Fatalf("CreatePrefix: %v", err)
	}
	cleanup(t, "prefix", func(cx ctxT) error { return c.DeletePrefix(cx, p.ID) })
	got, err := c.GetPrefix(ctx, p.ID)
	if err != nil {
		t.Fatalf("GetPrefix: %v", err)
	}
	if got.Prefix != "10.77.0.0/24" || netbox.RefID(got.VRF) != vrf.ID || netbox.RefID(got.Role) != role.ID || !got.HasTag(tag.Slug) {
		t.Fatalf("GetPrefix = %+v; want 10.77.0.0/24 in vrf %d, role %d, tag %s", got, vrf.ID, role.ID, tag.Slug)
	}

	r, err := c.CreateIPRange(ctx, netbox.IPRangeSpec{
		Start: "10.77.0.10/24", End: "10.77.0.19/24", VRFID: vrf.ID, RoleID: role.ID, Tags: tags,
	})
	if err != nil {
		t.Fatalf("CreateIPRange: %v", err)
	}
	cleanup(t, "ip range", func(cx ctxT) error { return c.DeleteIPRange(cx, r.ID) })
	gr, err := c.GetIPRange(ctx, r.ID)
	if err != nil {
		t.Fatalf("GetIPRange: %v", err)
	}
	first, last, err := gr.Span()
	if err != nil || first != netip.MustParseAddr("10.77.0.10") || last != netip.MustParseAddr("10.77.0.19") || gr.Size.String() != "10" {
		t.Fatalf("GetIPRange span = %v…%v size %s (%v); want 10.77.0.10…19 size 10", first, last, gr.Size, err)
	}
	if netbox.RefID(gr.VRF) != vrf.ID || netbox.RefID(gr.Role) != role.ID {
		t.Fatalf("GetIPRange vrf/role = %d/%d, want %d/%d", netbox.RefID(gr.VRF), netbox.RefID(gr.Role), vrf.ID, role.ID)
	}

	ips, err := c.TakeFromRange(ctx, r.ID, []netbox.IPAddressSpec{{
		VRFID: vrf.ID, Status: "active", Tags: tags, Description: "integration test lease",
		CustomFields: map[string]any{cfName: "req-41"},
	}})
	if err != nil {
		t.Fatalf("TakeFromRange: %v", err)
	}
	if len(ips) != 1 {
		t.Fatalf("TakeFromRange returned %d addresses, want 1", len(ips))
	}
	ip := ips[0]
	cleanup(t, "ip address", func(cx ctxT) error { return c.DeleteIPAddress(cx, ip.ID) })
	if ip.Address != "10.77.0.10/24" {
		t.Fatalf("first address of the range = %s, want 10.77.0.10/24 (the range's start, with the prefix's mask)", ip.Address)
	}
	ga, err := c.GetIPAddress(ctx, ip.ID)
	if err != nil {
		t.Fatalf("GetIPAddress: %v", err)
	}
	if !ga.HasTag(tag.Slug) || ga.CustomString(cfName) != "req-41" || netbox.RefID(ga.VRF) != vrf.ID || ga.Status.Value != "active" {
		t.Fatalf("GetIPAddress = %+v; want tag %s, %s=req-41, vrf %d, active", ga, tag.Slug, cfName, vrf.ID)
	}
	avail, err := c.AvailableInRange(ctx, r.ID, 3)
	if err != nil {
		t.Fatalf("AvailableInRange: %v", err)
	}
	if len(avail) != 3 || avail[0].Address != "10.77.0.11/24" {
		t.Fatalf("AvailableInRange(limit 3) = %+v; want 3 entries from 10.77.0.11/24", avail)
	}

	// Delete in dependency order and check each is gone.
	if err := c.DeleteIPAddress(ctx, ip.ID); err != nil {
		t.Fatalf("DeleteIPAddress: %v", err)
	}
	if _, err := c.GetIPAddress(ctx, ip.ID); !netbox.IsNotFound(err) {
		t.Fatalf("GetIPAddress after delete: %v, want not found", err)
	}
	if err := c.DeleteIPRange(ctx, r.ID); err != nil {
		t.Fatalf("DeleteIPRange: %v", err)
	}
	if err := c.DeletePrefix(ctx, p.ID); err != nil {
		t.Fatalf("DeletePrefix: %v", err)
	}
	if _, err := c.GetPrefix(ctx, p.ID); !netbox.IsNotFound(err) {
		t.Fatalf("GetPrefix after delete: %v, want not found", err)
	}
}

// Bulk delete: NetBox 4.7 refuses the whole batch when one id is gone already; the
// client then deletes one by one and counts gone as deleted.
func TestClientBulkDeleteWithOneGone(t *testing.T) {
	c := Client(t)
	vrf := testVRF(t, c)
	got, err := c.CreateIPAddresses(ctx(t), []netbox.IPAddressSpec{
		{Address: "10.78.0.1/24", VRFID: vrf.ID}, {Address: "10.78.0.2/24", VRFID: vrf.ID}, {Address: "10.78.0.3/24", VRFID: vrf.ID},
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := []int{got[0].ID, got[1].ID, got[2].ID}
	if err := c.DeleteIPAddress(ctx(t), ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteIPAddresses(ctx(t), ids); err != nil {
		t.Fatalf("bulk delete with one id gone: %v", err)
	}
	if left, _ := c.IPAddressesIn(ctx(t), vrf.ID, "10.78.0.0/24"); len(left) != 0 {
		t.Fatalf("left after bulk delete: %+v", left)
	}
}
