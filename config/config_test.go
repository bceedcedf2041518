package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "netbox-ipam.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	_ = os.WriteFile(tokenFile, []byte("nbt_k.s\n"), 0o600)
	cases := []struct {
		name    string
		file    string // "" = no NETBOX_IPAM_CONFIG
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{"environment only, defaults", "", map[string]string{"NETBOX_URL": "http://nb", "NETBOX_TOKEN": "t"}, "", func(t *testing.T, c Config) {
			if c.URL != "http://nb" || c.Token != "t" || c.Timeout != 20*time.Second || c.Tag != "opennebula" || c.Gateway != "first" || c.Release != "delete" || c.Retries != 3 || c.LeaseMAC != "later" {
				t.Errorf("%+v", c)
			}
		}},
		{"file", "url: https://netbox\ntoken_file: " + tokenFile + "\ntimeout: 20s\npool:\n  parent_prefixes: [10.0.0.0/8, \"42\"]\n  vrf: cloud\ndefaults:\n  guest_mtu: 1450\n", nil, "", func(t *testing.T, c Config) {
			if c.Token != "nbt_k.s" || c.Timeout != 20*time.Second || len(c.Pool.ParentPrefixes) != 2 || c.Pool.VRF != "cloud" || c.Defaults.GuestMTU != 1450 {
				t.Errorf("%+v", c)
			}
		}},
		{"environment overrides file", "url: https://netbox\ntoken: a\ntag: one\n", map[string]string{"NETBOX_IPAM_TAG": "cloud", "NETBOX_IPAM_POOL_PARENT_PREFIXES": "10.1.0.0/16,10.2.0.0/16", "NETBOX_TOKEN": "b"}, "", func(t *testing.T, c Config) {
			if c.Tag != "cloud" || len(c.Pool.ParentPrefixes) != 2 || c.Token != "b" {
				t.Errorf("%+v", c)
			}
		}},
		{"unknown key", "url: https://netbox\ntoken: a\ntimout: 5s\n", nil, "timout", nil},
		{"bad duration", "url: https://netbox\ntoken: a\ntimeout: soon\n", nil, "timeout", nil},
		{"dns names and tenants", "url: https://netbox\ntoken: a\ndns_name: \"{vm}.{network}.cloud.example.org\"\ntenants:\n  users: {Alice: team-a}\n  groups: {devops: team-ops, users: team-a}\n", nil, "", func(t *testing.T, c Config) {
			if c.DNS.IsZero() || c.Tenants.For("alice", "devops") != "team-a" || c.Tenants.For("bob", "DevOps") != "team-ops" || c.Tenants.For("bob", "other") != "" {
				t.Errorf("dns %q, tenants %+v", c.DNSName, c.Tenants)
			}
			if got := strings.Join(c.Tenants.Slugs(), ","); got != "team-a,team-ops" {
				t.Errorf("slugs %s", got)
			}
		}},
		{"dns name from the environment", "url: https://netbox\ntoken: a\n", map[string]string{"NETBOX_IPAM_DNS_NAME": "{vm}.example.org"}, "", func(t *testing.T, c Config) {
			if n, err := c.DNS.Name(mapping.NameOf{VM: "web"}); n != "web.example.org" || err != nil {
				t.Errorf("name %q, %v", n, err)
			}
		}},
		{"bad dns name", "url: https://netbox\ntoken: a\ndns_name: \"{host}.example.org\"\n", nil, "unknown placeholder {host}", nil},
		{"bad tenant slug", "url: https://netbox\ntoken: a\ntenants:\n  groups: {devops: \"Team Ops\"}\n", nil, `tenants.groups.devops: "Team Ops" is not a NetBox slug`, nil},
		{"timeout too long", "url: https://netbox\ntoken: a\ntimeout: 120s\n", nil, "timeout 2m0s: must be between", nil},
		{"timeout too short", "url: https://netbox\ntoken: a\ntimeout: 500ms\n", nil, "timeout 500ms: must be between", nil},
		{"bad gateway policy", "url: https://netbox\ntoken: a\ngateway: middle\n", nil, `gateway "middle"`, nil},
		{"bad release", "url: https://netbox\ntoken: a\nrelease: keep\n", nil, `release "keep"`, nil},
		{"IPv6 pools", "url: https://netbox\ntoken: a\npool:\n  parent_prefixes6: [\"2001:db8::/48\", \"17\"]\n  ula_parent_prefixes6: [\"fd00:1::/48\"]\n", nil, "", func(t *testing.T, c Config) {
			if strings.Join(c.Pool.ParentPrefixes6, ",") != "2001:db8::/48,17" || strings.Join(c.Pool.ULAParentPrefixes6, ",") != "fd00:1::/48" {
				t.Errorf("pools %v %v", c.Pool.ParentPrefixes6, c.Pool.ULAParentPrefixes6)
			}
		}},
		{"IPv6 pool from the environment", "url: https://netbox\ntoken: a\n", map[string]string{"NETBOX_IPAM_POOL_PARENT_PREFIXES6": "2001:db8::/48, 2001:db9::/48"}, "", func(t *testing.T, c Config) {
			if strings.Join(c.Pool.ParentPrefixes6, ",") != "2001:db8::/48,2001:db9::/48" {
				t.Errorf("pool %v", c.Pool.ParentPrefixes6)
			}
		}},
		{"IPv4 parent in an IPv6 pool", "url: https://netbox\ntoken: a\npool:\n  parent_prefixes6: [\"10.0.0.0/8\"]\n", nil, `pool.parent_prefixes6: "10.0.0.0/8" is neither an IPv6 CIDR`, nil},
		{"IPv6 parent too small", "url: https://netbox\ntoken: a\npool:\n  parent_prefixes6: [\"2001:db8::/80\"]\n", nil, "pool.parent_prefixes6: 2001:db8::/80 cannot hold a /64", nil},
		{"global parent in the ULA pool", "url: https://netbox\ntoken: a\npool:\n  ula_parent_prefixes6: [\"2001:db8::/48\"]\n", nil, "pool.ula_parent_prefixes6: 2001:db8::/48 is not a unique local prefix", nil},
		{"cooldown", "url: https://netbox\ntoken: a\nrelease: cooldown\ncooldown: 15m\n", nil, "", func(t *testing.T, c Config) {
			if c.Release != "cooldown" || c.Cooldown != 15*time.Minute {
				t.Errorf("release %q cooldown %s", c.Release, c.Cooldown)
			}
		}},
		{"cooldown from the environment", "url: https://netbox\ntoken: a\n", map[string]string{"NETBOX_IPAM_RELEASE": "cooldown", "NETBOX_IPAM_COOLDOWN": "2h"}, "", func(t *testing.T, c Config) {
			if c.Cooldown != 2*time.Hour {
				t.Errorf("cooldown %s", c.Cooldown)
			}
		}},
		{"cooldown without its time", "url: https://netbox\ntoken: a\nrelease: cooldown\n", nil, "cooldown 0s: release: cooldown needs how long", nil},
		{"cooldown too short", "url: https://netbox\ntoken: a\nrelease: cooldown\ncooldown: 10s\n", nil, "cooldown 10s: release: cooldown needs", nil},
		{"cooldown with another release", "url: https://netbox\ntoken: a\nrelease: deprecate\ncooldown: 15m\n", nil, "cooldown 15m0s: only release: cooldown uses it", nil},
		{"cooldown not a duration", "url: https://netbox\ntoken: a\nrelease: cooldown\ncooldown: soon\n", nil, "cooldown", nil},
		{"lease_mac sync is the old spelling of later", "url: https://netbox\ntoken: a\nlease_mac: sync\n", nil, "", func(t *testing.T, c Config) {
			if c.LeaseMAC != "later" {
				t.Errorf("lease_mac %q", c.LeaseMAC)
			}
		}},
		{"vms opted in from the environment", "url: https://netbox\ntoken: a\n", map[string]string{"NETBOX_IPAM_VMS_ENABLED": "true"}, "", func(t *testing.T, c Config) {
			if !c.VMs.Enabled || c.VMs.ClusterType != "OpenNebula" {
				t.Errorf("vms %+v", c.VMs)
			}
		}},
		{"vms without a cluster type", "url: https://netbox\ntoken: a\nvms:\n  enabled: true\n  cluster_type: \" \"\n", nil, "vms.cluster_type: must not be empty", nil},
		{"bad lease_mac", "url: https://netbox\ntoken: a\nlease_mac: soon\n", nil, `lease_mac "soon": must be later or now`, nil},
		{"no url", "token: a\n", nil, "no NetBox URL", nil},
		{"no token", "url: https://netbox\n", nil, "no NetBox token", nil},
		{"not yaml", "url: [unclosed\n", nil, "not valid YAML", nil},
		{"missing explicit file", "MISSING", nil, "cannot read configuration file", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := map[string]string{"NETBOX_IPAM_CONFIG": filepath.Join(t.TempDir(), "absent.yaml")}
			if tc.file == "" {
				e["NETBOX_IPAM_CONFIG"] = ""
			} else if tc.file != "MISSING" {
				e["NETBOX_IPAM_CONFIG"] = write(t, tc.file)
			}
			for k, v := range tc.env {
				e[k] = v
			}
			c, err := Load(env(e))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error spans lines: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

// The example configuration that `make install` puts in /etc/one is valid as shipped
// (once a token is given) and gives the documented defaults.
func TestExampleFileLoads(t *testing.T) {
	c, err := Load(env(map[string]string{"NETBOX_IPAM_CONFIG": "netbox-ipam.yaml.example", "NETBOX_TOKEN": "nbt_k.s"}))
	if err != nil {
		t.Fatal(err)
	}
	defaults, err := Load(env(map[string]string{"NETBOX_IPAM_CONFIG": "", "NETBOX_URL": "https://netbox.example.com", "NETBOX_TOKEN": "nbt_k.s"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != defaults.URL || c.Timeout != defaults.Timeout || c.Retries != defaults.Retries || c.Tag != defaults.Tag ||
		c.Gateway != defaults.Gateway || c.Release != defaults.Release || c.Log != defaults.Log || c.Defaults != defaults.Defaults {
		t.Errorf("the example's values differ from the defaults:\nexample  %+v\ndefaults %+v", c, defaults)
	}
}

// A driver installed under another IPAM_MAD name reads its own file when there is one,
// else the common one; NETBOX_IPAM_CONFIG always wins.
func TestPathByName(t *testing.T) {
	dir := t.TempDir()
	common := filepath.Join(dir, "netbox-ipam.yaml")
	own := filepath.Join(dir, "netbox-ipam.d", "dc2.yaml")
	if err := os.MkdirAll(filepath.Dir(own), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{common, own} {
		if err := os.WriteFile(f, []byte("url: http://"+filepath.Base(f)+"\ntoken: t\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		env     map[string]string
		wantURL string
		name    string
	}{
		{map[string]string{"NETBOX_IPAM_CONFDIR": dir}, "http://netbox-ipam.yaml", "netbox"},
		{map[string]string{"NETBOX_IPAM_CONFDIR": dir, "NETBOX_IPAM_NAME": "dc2"}, "http://dc2.yaml", "dc2"},
		{map[string]string{"NETBOX_IPAM_CONFDIR": dir, "NETBOX_IPAM_NAME": "dc3"}, "http://netbox-ipam.yaml", "dc3"},
		{map[string]string{"NETBOX_IPAM_CONFDIR": dir, "NETBOX_IPAM_NAME": "dc2", "NETBOX_IPAM_CONFIG": common}, "http://netbox-ipam.yaml", "dc2"},
	} {
		c, err := Load(env(tc.env))
		if err != nil || c.URL != tc.wantURL || c.Name != tc.name {
			t.Errorf("%v: url %q name %q (%v), want %q %q", tc.env, c.URL, c.Name, err, tc.wantURL, tc.name)
		}
	}
}
