package integration

import (
	"context"
	"testing"

	gonb "github.com/netbox-community/go-netbox/v4"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// TestGoNetboxDecodeGaps pins where go-netbox v4.0.3-0's own decoding fails against
// NetBox 4.7, and that our decoding (the fallback in netbox.decode) reads the same
// answers. If a row flips, go-netbox or NetBox changed: update the table here and in
// the netbox package doc.
func TestGoNetboxDecodeGaps(t *testing.T) {
	c := Client(t)
	ctx := ctx(t)
	api := c.API()
	name := unique("it-gaps")

	tag, err := c.CreateTag(ctx, name, name, "")
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "tag", func(cx ctxT) error { return c.DeleteTag(cx, tag.ID) })
	vrf, err := c.CreateVRF(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "vrf", func(cx ctxT) error { return c.DeleteVRF(cx, vrf.ID) })
	role, err := c.CreateRole(ctx, name, name)
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "role", func(cx ctxT) error { return c.DeleteRole(cx, role.ID) })
	plain, err := c.CreatePrefix(ctx, netbox.PrefixSpec{Prefix: "10.78.1.0/24", VRFID: vrf.ID})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "plain prefix", func(cx ctxT) error { return c.DeletePrefix(cx, plain.ID) })
	full, err := c.CreatePrefix(ctx, netbox.PrefixSpec{Prefix: "10.78.2.0/24", VRFID: vrf.ID, RoleID: role.ID})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "prefix with role", func(cx ctxT) error { return c.DeletePrefix(cx, full.ID) })
	rng, err := c.CreateIPRange(ctx, netbox.IPRangeSpec{Start: "10.78.2.10/24", End: "10.78.2.20/24", VRFID: vrf.ID, RoleID: role.ID})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "ip range", func(cx ctxT) error { return c.DeleteIPRange(cx, rng.ID) })
	plainRng, err := c.CreateIPRange(ctx, netbox.IPRangeSpec{Start: "10.78.1.10/24", End: "10.78.1.20/24", VRFID: vrf.ID})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "plain ip range", func(cx ctxT) error { return c.DeleteIPRange(cx, plainRng.ID) })
	// A range in the global table, in a /24 no other test uses.
	g := randomNet24(t)
	globalRng, err := c.CreateIPRange(ctx, netbox.IPRangeSpec{Start: g + ".10/24", End: g + ".20/24"})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "global ip range", func(cx ctxT) error { return c.DeleteIPRange(cx, globalRng.ID) })
	ips, err := c.TakeFromRange(ctx, rng.ID, []netbox.IPAddressSpec{{VRFID: vrf.ID}})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "ip address", func(cx ctxT) error { return c.DeleteIPAddress(cx, ips[0].ID) })

	type row struct {
		call     string
		goNetbox func(context.Context) error // go-netbox's own typed call
		ours     func(context.Context) error // the same answer through our types
		decodes  bool                        // does go-netbox decode it against 4.7?
	}
	rows := []row{
		{"StatusRetrieve", func(x context.Context) error { _, _, err := api.StatusAPI.StatusRetrieve(x).Execute(); return err },
			func(x context.Context) error { _, err := c.Status(x); return err }, true},
		{"ExtrasTagsList", func(x context.Context) error {
			_, _, err := api.ExtrasAPI.ExtrasTagsList(x).Slug([]string{name}).Execute()
			return err
		}, func(x context.Context) error { _, err := c.TagBySlug(x, name); return err }, true},
		{"IpamPrefixesRetrieve (VRF, no role)", func(x context.Context) error {
			_, _, err := api.IpamAPI.IpamPrefixesRetrieve(x, int32(plain.ID)).Execute()
			return err
		}, func(x context.Context) error { _, err := c.GetPrefix(x, plain.ID); return err }, false},
		{"IpamPrefixesRetrieve (VRF + role)", func(x context.Context) error {
			_, _, err := api.IpamAPI.IpamPrefixesRetrieve(x, int32(full.ID)).Execute()
			return err
		}, func(x context.Context) error { _, err := c.GetPrefix(x, full.ID); return err }, false},
		{"IpamIpRangesRetrieve (VRF + role)", func(x context.Context) error {
			_, _, err := api.IpamAPI.IpamIpRangesRetrieve(x, int32(rng.ID)).Execute()
			return err
		}, func(x context.Context) error { _, err := c.GetIPRange(x, rng.ID); return err }, false},
		{"IpamIpRangesRetrieve (VRF, no role)", func(x context.Context) error {
			_, _, err := api.IpamAPI.IpamIpRangesRetrieve(x, int32(plainRng.ID)).Execute()
			return err
		}, func(x context.Context) error { _, err := c.GetIPRange(x, plainRng.ID); return err }, false},
		{"IpamIpRangesRetrieve (no VRF, no role)", func(x context.Context) error {
			_, _, err := api.IpamAPI.IpamIpRangesRetrieve(x, int32(globalRng.ID)).Execute()
			return err
		}, func(x context.Context) error { _, err := c.GetIPRange(x, globalRng.ID); return err }, true},
		{"IpamIpAddressesRetrieve", func(x context.Context) error {
			_, _, err := api.IpamAPI.IpamIpAddressesRetrieve(x, int32(ips[0].ID)).Execute()
			return err
		}, func(x context.Context) error { _, err := c.GetIPAddress(x, ips[0].ID); return err }, true},
		{"IpamIpRangesAvailableIpsList", func(x context.Context) error {
			_, _, err := api.IpamAPI.IpamIpRangesAvailableIpsList(x, int32(rng.ID)).Execute()
			return err
		}, func(x context.Context) error { _, err := c.AvailableInRange(x, rng.ID, 5); return err }, false},
		{"IpamIpRangesAvailableIpsList (range without VRF)", func(x context.Context) error {
			_, _, err := api.IpamAPI.IpamIpRangesAvailableIpsList(x, int32(globalRng.ID)).Execute()
			return err
		}, func(x context.Context) error { _, err := c.AvailableInRange(x, globalRng.ID, 5); return err }, true},
		{"IpamIpRangesAvailableIpsCreate (VRF + role)", func(x context.Context) error {
			got, _, err := api.IpamAPI.IpamIpRangesAvailableIpsCreate(x, int32(rng.ID)).IPAddressRequest([]gonb.IPAddressRequest{*gonb.NewIPAddressRequest("")}).Execute()
			for _, a := range got {
				cleanup(t, "ip address", func(cx ctxT) error { return c.DeleteIPAddress(cx, int(a.Id)) })
			}
			return err
		}, func(x context.Context) error {
			got, err := c.TakeFromRange(x, rng.ID, []netbox.IPAddressSpec{{VRFID: vrf.ID}})
			for _, a := range got {
				cleanup(t, "ip address", func(cx ctxT) error { return c.DeleteIPAddress(cx, a.ID) })
			}
			return err
		}, true},
	}
	for _, r := range rows {
		t.Run(r.call, func(t *testing.T) {
			gerr := r.goNetbox(ctx)
			t.Logf("go-netbox %s: decode error = %v", r.call, gerr)
			if (gerr == nil) != r.decodes {
				t.Errorf("go-netbox decodes %s: %v, table says %v (err: %v)", r.call, gerr == nil, r.decodes, gerr)
			}
			if gerr != nil {
				var oe *gonb.GenericOpenAPIError
				if !asGeneric(gerr, &oe) || len(oe.Body()) == 0 {
					t.Errorf("go-netbox's error for %s carries no raw body to fall back on: %v", r.call, gerr)
				}
			}
			if err := r.ours(ctx); err != nil {
				t.Errorf("our decoding of %s failed: %v", r.call, err)
			}
		})
	}
}
