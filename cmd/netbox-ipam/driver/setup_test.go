package driver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox/netboxtest"
)

// setup creates what is missing and keeps what exists, then says what more checks
// (the hooks: package hooks' Check).
func TestSetup(t *testing.T) {
	f := newFixture(t) // setup ran once
	delete(f.nb.Fields, mapping.CFDNS)
	hooks := func(_ context.Context, r *CheckReport) { r.Line("ok", "hooks", "installed (7)") }
	lines, err := f.d.Setup(context.Background(), hooks)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Join(lines, "\n")
	if !strings.Contains(out, "exists  tag opennebula") || !strings.Contains(out, "created custom field one_dns on ipam.prefix") ||
		!strings.Contains(out, "exists  custom field one_gateway") || len(lines) != 2+len(customFields) ||
		lines[len(lines)-1] != "hooks   installed (7)" {
		t.Fatalf("setup said:\n%s", out)
	}
	f.nb.Inject(netboxtest.Fault{Op: "TagBySlug", Err: netboxtest.Unreachable("GET /api/extras/tags/")})
	if _, err := f.d.Setup(context.Background()); kindOf(err) != "netbox" {
		t.Fatalf("setup with NetBox gone: %v", err)
	}
}

// check names each problem on its own line and fails on any FAIL.
func TestCheck(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(n *netboxtest.NetBox)
		wantOK bool
		want   string // "WORD item" of a line that must be there
	}{
		{"all good", func(*netboxtest.NetBox) {}, true, "ok   custom field one_vrouter_id"},
		{"old NetBox", func(n *netboxtest.NetBox) { n.Version = "4.1.9" }, false, "FAIL netbox version"},
		{"token refused", func(n *netboxtest.NetBox) {
			n.Inject(netboxtest.Fault{Op: "Status", Err: netboxtest.Refused("GET /api/status/", 403, "Invalid v2 token")})
		}, false, "FAIL token"},
		{"NetBox gone", func(n *netboxtest.NetBox) {
			n.Inject(netboxtest.Fault{Op: "Status", Err: netboxtest.Unreachable("GET /api/status/")})
		}, false, "FAIL url"},
		{"not NetBox", func(n *netboxtest.NetBox) {
			n.Inject(netboxtest.Fault{Op: "Status", Err: netboxtest.Refused("GET /api/status/", 404, "Not Found")})
		}, false, "FAIL url"},
		{"may not delete prefixes", func(n *netboxtest.NetBox) { n.Denied["DELETE /api/ipam/prefixes/"] = true }, false, "FAIL permissions ipam.prefix"},
		{"may not read VRFs", func(n *netboxtest.NetBox) { n.Denied["GET /api/ipam/vrfs/"] = true }, true, "WARN permissions ipam.vrf"},
		{"permission probe fails", func(n *netboxtest.NetBox) {
			n.Inject(netboxtest.Fault{Op: "Allowed", Err: netboxtest.Unreachable("GET /api/ipam/prefixes/")})
		}, false, "FAIL permissions ipam.prefix"},
		{"no tag", func(n *netboxtest.NetBox) { delete(n.Tags, "opennebula") }, false, "FAIL tag opennebula"},
		{"field missing", func(n *netboxtest.NetBox) { delete(n.Fields, mapping.CFMAC) }, false, "FAIL custom field one_mac"},
		{"field on the wrong model", func(n *netboxtest.NetBox) {
			cf := n.Fields[mapping.CFMAC]
			cf.ObjectTypes = []string{"ipam.prefix"}
			n.Fields[mapping.CFMAC] = cf
		}, false, "FAIL custom field one_mac"},
		{"loose filter", func(n *netboxtest.NetBox) {
			cf := n.Fields[mapping.CFARID]
			cf.FilterLogic = netbox.Choice{Value: "loose"}
			n.Fields[mapping.CFARID] = cf
		}, false, "FAIL custom field one_ar_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.break_(f.nb)
			r := f.d.Check(context.Background())
			var lines []string
			for _, l := range r.Lines {
				lines = append(lines, strings.TrimSpace(l.Word+"    "[len(l.Word):]+" "+l.Item))
			}
			if r.OK != tc.wantOK || !contains(lines, tc.want) {
				t.Fatalf("ok %v, lines:\n%s\nwant ok %v and %q", r.OK, strings.Join(lines, "\n"), tc.wantOK, tc.want)
			}
		})
	}
}

// A lost answer to creating leases is looked up: all found is success, none found is
// sent again, some found is an error (an atomic request cannot half succeed).
func TestAllocateLostAnswer(t *testing.T) {
	f, ar := registered(t, nil)
	f.nb.Inject(netboxtest.Fault{Op: "CreateIPAddresses", Err: netboxtest.Lost("POST /api/ipam/ip-addresses/"), After: true})
	if _, err := f.d.Allocate(context.Background(), request(ar, "IP=10.70.0.12", "SIZE=2")); err != nil {
		t.Fatal(err)
	}
	if _, _, a := f.owned(); a != 2 || f.nb.Count("CreateIPAddresses") != 1 {
		t.Fatalf("%d leases after %v", a, f.nb.Calls)
	}
	f.nb.Inject(netboxtest.Fault{Op: "CreateIPAddresses", Err: netboxtest.Lost("POST /api/ipam/ip-addresses/")})
	if _, err := f.d.Allocate(context.Background(), request(ar, "IP=10.70.0.15")); err != nil {
		t.Fatal(err)
	}
	if f.addr("10.70.0.15") == nil || f.nb.Count("CreateIPAddresses") != 3 {
		t.Fatalf("not sent again: %v", f.nb.Calls)
	}
}

// Turning vms.enabled on: setup puts one_vm_id on virtual machines too (keeping what
// an admin added) and creates one_cluster_id; check fails until it did, and wants the
// token's virtualization permissions.
func TestSetupVMs(t *testing.T) {
	f := newFixture(t)
	cf := f.nb.Fields[mapping.CFVMID]
	cf.ObjectTypes = append(cf.ObjectTypes, "dcim.device")
	f.nb.Fields[mapping.CFVMID] = cf
	f.d.cfg.VMs = config.VMs{Enabled: true, ClusterType: "OpenNebula"}
	if r := f.d.Check(context.Background()); r.OK {
		t.Fatal("check passed before setup added the VM fields")
	}
	lines, err := f.d.Setup(context.Background())
	out := strings.Join(lines, "\n")
	if err != nil || !strings.Contains(out, "changed custom field one_vm_id: also on virtualization.virtualmachine") ||
		!strings.Contains(out, "created custom field one_cluster_id on virtualization.cluster") {
		t.Fatalf("setup: %v\n%s", err, out)
	}
	if got := f.nb.Fields[mapping.CFVMID].ObjectTypes; strings.Join(got, ",") != "ipam.ipaddress,dcim.device,virtualization.virtualmachine" {
		t.Errorf("one_vm_id on %v", got)
	}
	if r := f.d.Check(context.Background()); !r.OK {
		t.Fatalf("check after setup: %+v", r.Lines)
	}
	f.nb.Denied["POST /api/virtualization/virtual-machines/"] = true
	if r := f.d.Check(context.Background()); r.OK {
		t.Fatal("check passed with a token that may not add virtual machines")
	}
}

// check finds each configured pool parent in NetBox, of its pool's family.
func TestCheckPools(t *testing.T) {
	f := newFixture(t, func(c *config.Config) {
		c.Pool.ParentPrefixes = []string{"10.90.0.0/16"}
		c.Pool.ParentPrefixes6 = []string{"2001:db8:100::/48", "2001:db8:200::/48"}
	})
	f.prefix("10.90.0.0/16", 0, nil)
	f.prefix("2001:db8:100::/48", 0, nil)
	r := f.d.Check(context.Background())
	var lines []string
	for _, l := range r.Lines {
		if strings.HasPrefix(l.Item, "pool") {
			lines = append(lines, l.Word+" "+l.Item+" "+l.Msg)
		}
	}
	want := []string{"ok pool.parent_prefixes 10.90.0.0/16: NetBox prefix", "ok pool.parent_prefixes6 2001:db8:100::/48: NetBox prefix",
		"FAIL pool.parent_prefixes6 pool parent prefix 2001:db8:200::/48 does not exist in the global table"}
	if r.OK || len(lines) != len(want) {
		t.Fatalf("ok %v, pool lines:\n%s", r.OK, strings.Join(lines, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d: %q, want %q…", i, lines[i], w)
		}
	}
}

// release: cooldown needs one_frees_at on IP addresses: check fails until setup made
// it, and then says what the cool-down does.
func TestSetupCooldown(t *testing.T) {
	f := newFixture(t)
	f.d.cfg.Release, f.d.cfg.Cooldown = "cooldown", 15*time.Minute
	if r := f.d.Check(context.Background()); r.OK {
		t.Fatal("check passed before setup added one_frees_at")
	}
	lines, err := f.d.Setup(context.Background())
	if out := strings.Join(lines, "\n"); err != nil || !strings.Contains(out, "created custom field one_frees_at on ipam.ipaddress") {
		t.Fatalf("setup: %v\n%s", err, out)
	}
	r := f.d.Check(context.Background())
	var release string
	for _, l := range r.Lines {
		if l.Item == "release" {
			release = l.Msg
		}
	}
	if !r.OK || !strings.HasPrefix(release, "cooldown 15m0s: a freed lease stays in NetBox as deprecated") {
		t.Fatalf("check after setup: ok %v, release %q", r.OK, release)
	}
}

// check names NetBox's release, says whether the driver was tested on its release line,
// refuses one before 4.2, and lists what is off (or done another way) there and why.
func TestCheckRelease(t *testing.T) {
	for _, tc := range []struct {
		version string
		ok      bool
		want    []string // lines (word item: part of the message) that must be there
		not     string   // a part no line may have
	}{
		{"4.7.3", true, []string{"ok netbox version: 4.7.3 (tested: 4.2.9"}, "feature"},
		{"4.7.9", true, []string{"ok netbox version: 4.7.9 (tested:", "the same release line"}, "feature"},
		{"4.6.8", true, []string{"ok netbox version: 4.6.8", "ok feature: VM interface MACs (vms.enabled) as MAC address objects"}, "SIZE 1"},
		{"4.6.0", true, []string{"WARN feature: off: ARs of SIZE 1"}, "v1 tokens only"},
		{"4.4.10", true, []string{"WARN feature: off: ARs of SIZE 1", "ok feature: v1 tokens only: NetBox 4.4.10", "ok feature: VM interface MACs"}, ""},
		{"4.2.9", true, []string{"ok netbox version: 4.2.9", "WARN feature: off: ARs of SIZE 1"}, ""},
		{"4.1.9", false, []string{"FAIL netbox version: 4.1.9: the driver needs NetBox 4.2 or later"}, ""},
		{"4.8.0", true, []string{"WARN netbox version: 4.8.0 is not a release line the driver was tested on"}, "feature"},
		{"main", true, []string{"WARN netbox version: \"main\" (cannot read it"}, "feature"},
	} {
		t.Run(tc.version, func(t *testing.T) {
			f := newFixture(t)
			f.nb.Version = tc.version
			r := f.d.Check(context.Background())
			var lines []string
			for _, l := range r.Lines {
				lines = append(lines, l.Word+" "+l.Item+": "+l.Msg)
			}
			all := strings.Join(lines, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("no line says %q:\n%s", w, all)
				}
			}
			if r.OK != tc.ok || (tc.not != "" && strings.Contains(all, tc.not)) {
				t.Errorf("ok %v (want %v), and no line may say %q:\n%s", r.OK, tc.ok, tc.not, all)
			}
		})
	}
}

// A v2 token refused by a NetBox before 4.5 (its refusal's API-Version says which):
// check says that release has no v2 tokens.
func TestCheckV2TokenOnOldNetBox(t *testing.T) {
	for _, tc := range []struct {
		version, token string
		hint           bool
	}{{"4.4.10", "nbt_abc.def", true}, {"4.5.10", "nbt_abc.def", false}, {"4.4.10", "0123456789abcdef0123456789abcdef01234567", false}} {
		f := newFixture(t, func(c *config.Config) { c.Token = tc.token })
		f.nb.Version = tc.version
		f.nb.Inject(netboxtest.Fault{Op: "Status", Err: netboxtest.Refused("GET /api/status/", 403, "Invalid token")})
		r := f.d.Check(context.Background())
		var msg string
		for _, l := range r.Lines {
			if l.Item == "token" {
				msg = l.Word + " " + l.Msg
			}
		}
		if !strings.HasPrefix(msg, "FAIL") || strings.Contains(msg, "which NetBox 4.4 does not have (from 4.5): create a v1 token") != tc.hint {
			t.Errorf("NetBox %s, token %.8s…: %q (hint wanted: %v)", tc.version, tc.token, msg, tc.hint)
		}
	}
}
