package hooks

import (
	"context"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// names and tenants configure dns_name and a tenants mapping.
func names(c *config.Config) {
	c.DNS, _ = mapping.ParseDNSTemplate("{vm}.{network}.cloud.example.org")
	c.Tenants = config.Tenants{Users: map[string]string{"alice": "team-a"}, Groups: map[string]string{"devops": "team-ops", "ghosts": "no-such"}}
}

// The hooks write each lease's DNS name from the template and its tenant from its
// owner: the user's entry first, then the group's; no entry keeps the range's tenant
// (and takes back one an earlier owner's entry set); an unknown tenant is said once
// and the lease recorded without it. Without the settings neither field is touched.
func TestHookNamesAndTenants(t *testing.T) {
	cases := []struct {
		name        string
		configure   func(*config.Config)
		vm          mapping.VM
		before      func(f *fixture, lease *netbox.IPAddress)
		wantDNS     string
		wantTenant  string // its slug, "" none
		wantInfo    string
		wantWritten int // objects patched (0: none)
	}{
		{name: "user entry", configure: names, vm: mapping.VM{ID: "42", Name: "Web_01", UName: "alice", GName: "devops"},
			wantDNS: "web-01.cloud.cloud.example.org", wantTenant: "team-a", wantWritten: 1},
		{name: "group entry", configure: names, vm: mapping.VM{ID: "42", Name: "db", UName: "bob", GName: "DevOps"},
			wantDNS: "db.cloud.cloud.example.org", wantTenant: "team-ops", wantWritten: 1},
		{name: "no entry keeps the range's tenant", configure: names, vm: mapping.VM{ID: "42", Name: "db", UName: "bob", GName: "users"},
			before:  func(f *fixture, l *netbox.IPAddress) { l.Tenant = &netbox.Ref{ID: f.NB.AddRef("tenant", "team-old")} },
			wantDNS: "db.cloud.cloud.example.org", wantTenant: "", wantWritten: 1},
		{name: "no entry: the range's tenant", configure: names, vm: mapping.VM{ID: "42", Name: "db", UName: "bob", GName: "users"},
			before: func(f *fixture, l *netbox.IPAddress) {
				for _, r := range f.NB.Ranges {
					r.Tenant = &netbox.Ref{ID: f.NB.AddRef("tenant", "team-range")}
				}
			}, wantDNS: "db.cloud.cloud.example.org", wantTenant: "team-range", wantWritten: 1},
		{name: "unknown tenant", configure: names, vm: mapping.VM{ID: "42", Name: "db", UName: "bob", GName: "ghosts"},
			wantDNS: "db.cloud.cloud.example.org", wantTenant: "", wantInfo: `"no-such", which is no NetBox tenant`, wantWritten: 1},
		{name: "no valid name: none", configure: names, vm: mapping.VM{ID: "42", Name: "日本", UName: "bob", GName: "users"},
			before:  func(f *fixture, l *netbox.IPAddress) { l.DNSName = "old.cloud.cloud.example.org" },
			wantDNS: "", wantInfo: "no DNS name for 10.70.0.10", wantWritten: 1},
		{name: "in step: nothing written", configure: names, vm: mapping.VM{ID: "42", Name: "db", UName: "alice"},
			before: func(f *fixture, l *netbox.IPAddress) {
				l.DNSName, l.Tenant = "db.cloud.cloud.example.org", &netbox.Ref{ID: tenantID(f, "team-a")}
				l.Description, l.CustomFields[mapping.CFVMID] = "OpenNebula VM 42 (db), network 7 AR 0", "42"
			}, wantDNS: "db.cloud.cloud.example.org", wantTenant: "team-a"},
		{name: "unset: an admin's name and tenant stay", vm: mapping.VM{ID: "42", Name: "db", UName: "alice"},
			before: func(f *fixture, l *netbox.IPAddress) {
				l.DNSName, l.Tenant = "admin.example.org", &netbox.Ref{ID: f.NB.AddRef("tenant", "admins")}
			}, wantDNS: "admin.example.org", wantTenant: "admins", wantWritten: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var conf []func(*config.Config)
			if tc.configure != nil {
				conf = append(conf, tc.configure)
			}
			f, ar := registered(t, conf...)
			f.NB.AddRef("tenant", "team-a")
			f.NB.AddRef("tenant", "team-ops")
			if _, err := f.D.GetAddress(context.Background(), request(ar, "SIZE=1")); err != nil {
				t.Fatal(err)
			}
			f.SetVNet(onetest.VNetXML(ar, "10.70.0.10 42"))
			lease := f.Addr("10.70.0.10")
			if tc.before != nil {
				tc.before(f, lease)
			}
			tc.vm.NICs = []mapping.NIC{{ID: "0", Name: "NIC0", NetworkID: "7", ARID: "0", IP: "10.70.0.10", MAC: "02:00:0a:46:00:0a"}}
			f.NB.Calls = nil
			if _, err := f.hook(context.Background(), tc.vm); err != nil {
				t.Fatal(err)
			}
			lease = f.Addr("10.70.0.10")
			tenant := ""
			if lease.Tenant != nil {
				for _, r := range f.NB.Refs["tenant"] {
					if r.ID == lease.Tenant.ID {
						tenant = r.Slug
					}
				}
			}
			if lease.DNSName != tc.wantDNS || tenant != tc.wantTenant {
				t.Errorf("dns_name %q, tenant %q; want %q, %q", lease.DNSName, tenant, tc.wantDNS, tc.wantTenant)
			}
			if !strings.Contains(f.Info.String(), tc.wantInfo) {
				t.Errorf("log %q, want %q", f.Info, tc.wantInfo)
			}
			if got := strings.Count(strings.Join(f.NB.Calls, ";"), "PatchIPAddresses"); (got > 0) != (tc.wantWritten > 0) {
				t.Errorf("NetBox calls %v, want a write: %v", f.NB.Calls, tc.wantWritten > 0)
			}
		})
	}
}

func tenantID(f *fixture, slug string) int {
	r, err := f.NB.Resolve(context.Background(), "tenant", slug)
	if err != nil {
		f.T.Fatal(err)
	}
	return r.ID
}
