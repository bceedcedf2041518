package hooks

import (
	"context"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// check (and setup) say whether the hooks are installed, as a warning when they are
// not.
func TestCheckHooks(t *testing.T) {
	f := newFixture(t)
	if r := f.D.Check(context.Background(), f.h.Check); !r.OK || r.Lines[len(r.Lines)-1].Word != "WARN" {
		t.Fatalf("without hooks: %+v", r.Lines[len(r.Lines)-1])
	}
	for _, k := range []string{"vm-allocate", "template-instantiate", "vm-attachnic", "vrouter-allocate", "vrouter-instantiate", "vrouter-attachnic", "vm-running"} {
		if err := f.Oned.CreateHook(context.Background(), "NAME = \"netbox-ipam-netbox-"+k+"\"\nCOMMAND = \"nb\"\n"); err != nil {
			t.Fatal(err)
		}
	}
	if r := f.D.Check(context.Background(), f.h.Check); !r.OK || r.Lines[len(r.Lines)-1] != (driver.CheckLine{Word: "ok", Item: "hooks", Msg: "installed (7)"}) {
		t.Fatalf("with hooks: %+v", r.Lines[len(r.Lines)-1])
	}
	// vms.enabled wants nine more.
	f.h.cfg.VMs = config.VMs{Enabled: true, ClusterType: "OpenNebula"}
	if r := f.D.Check(context.Background(), f.h.Check); r.Lines[len(r.Lines)-1].Word != "WARN" || !strings.Contains(r.Lines[len(r.Lines)-1].Msg, "missing netbox-ipam-netbox-vm-detachnic, netbox-ipam-netbox-vm-rename, netbox-ipam-netbox-vrouter-detachnic, netbox-ipam-netbox-vm-done, netbox-ipam-netbox-vm-poweroff") {
		t.Fatalf("vms without their hooks: %+v", r.Lines[len(r.Lines)-1])
	}
	if lines, err := f.D.Setup(context.Background(), f.h.Check); err != nil || !strings.HasPrefix(lines[len(lines)-1], "hooks   missing netbox-ipam-netbox-vm-detachnic") {
		t.Fatalf("setup: %v, %q", err, lines)
	}
}

// check shows what dns_name makes of an example, and warns of a tenant the mapping
// names that NetBox lacks.
func TestCheckNamesAndTenants(t *testing.T) {
	f := newFixture(t, func(c *config.Config) {
		c.DNSName = "{vm}-{id}.{network}.example.org"
		c.DNS, _ = mapping.ParseDNSTemplate(c.DNSName)
		c.Tenants = config.Tenants{Users: map[string]string{"alice": "team-a"}, Groups: map[string]string{"devops": "team-ops"}}
	})
	f.NB.AddRef("tenant", "team-a")
	line := func(r driver.CheckReport, item string) driver.CheckLine {
		for _, l := range r.Lines {
			if l.Item == item {
				return l
			}
		}
		return driver.CheckLine{}
	}
	r := f.D.Check(context.Background(), f.h.Check)
	if l := line(r, "dns_name"); l.Word != "ok" || !strings.Contains(l.Msg, "web-42.public.example.org") {
		t.Errorf("dns_name: %+v", l)
	}
	if l := line(r, "tenants"); l.Word != "WARN" || !strings.Contains(l.Msg, "NetBox has no tenant team-ops") || !r.OK {
		t.Errorf("tenants with one missing: %+v (ok %v)", l, r.OK)
	}
	f.NB.AddRef("tenant", "team-ops")
	if l := line(f.D.Check(context.Background(), f.h.Check), "tenants"); l.Word != "ok" || l.Msg != "2 mapped: team-a, team-ops" {
		t.Errorf("tenants: %+v", l)
	}
}
