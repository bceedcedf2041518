// Package config owns the driver's configuration: the file (/etc/one/netbox-ipam.yaml,
// /etc/one/netbox-ipam.d/<name>.yaml for a driver installed under another IPAM_MAD
// name, or NETBOX_IPAM_CONFIG), NETBOX_IPAM_… environment overrides, NETBOX_URL and
// NETBOX_TOKEN, defaults and validation. Every error names the key.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// DefaultDir is where operators put the files on the front-end (NETBOX_IPAM_CONFDIR
// names another); DefaultName is the IPAM_MAD name the driver answers to unless its
// shims say otherwise (NETBOX_IPAM_NAME).
const (
	DefaultDir  = "/etc/one"
	DefaultName = "netbox"
)

// Path is the configuration file of the driver installed as name: its own
// netbox-ipam.d/<name>.yaml when there is one, else the common netbox-ipam.yaml.
func Path(dir, name string) string {
	if name != "" && name != DefaultName {
		p := filepath.Join(dir, "netbox-ipam.d", name+".yaml")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join(dir, "netbox-ipam.yaml")
}

// Config is the whole configuration.
type Config struct {
	// Name is the IPAM_MAD name this driver answers to (not read from the file: the
	// shims or --name give it).
	Name      string        `mapstructure:"-"`
	URL       string        `mapstructure:"url"`
	Token     string        `mapstructure:"token"`
	TokenFile string        `mapstructure:"token_file"`
	CAFile    string        `mapstructure:"ca_file"`
	Insecure  bool          `mapstructure:"insecure"`
	Timeout   time.Duration `mapstructure:"timeout"` // one deadline per action, retries included
	Retries   int           `mapstructure:"retries"`
	Tag       string        `mapstructure:"tag"`
	Pool      Pool          `mapstructure:"pool"`
	Defaults  Defaults      `mapstructure:"defaults"`
	Gateway   string        `mapstructure:"gateway"` // first | last | none
	Release   string        `mapstructure:"release"` // delete | deprecate | cooldown
	// Cooldown is how long a freed lease stays in NetBox (release: cooldown), as
	// deprecated with the time it frees, before sync deletes it: NetBox hands out the
	// lowest free address, so without it a freed IP goes to the next VM at once.
	Cooldown time.Duration `mapstructure:"cooldown"`
	// LeaseMAC is when get_address records a lease's MAC: "later" (one request; the
	// hooks of `netbox-ipam hooks install`, or `netbox-ipam sync`, record it) or "now"
	// (a second request, since the MAC follows from the address NetBox picks; for
	// front-ends without the hooks). "sync" is the old spelling of "later". IP4_6
	// leases always record it now: their IPv6 address follows from the MAC.
	LeaseMAC string `mapstructure:"lease_mac"`
	VMs      VMs    `mapstructure:"vms"`
	// DNSName is the template of each lease's DNS name in NetBox, e.g.
	// "{vm}.{network}.cloud.example.org" (placeholders and rules: mapping.DNSTemplate);
	// "" writes none. The hooks write it with the lease's label; sync catches up.
	DNSName string `mapstructure:"dns_name"`
	// DNS is DNSName, read (not a key).
	DNS mapping.DNSTemplate `mapstructure:"-"`
	// Tenants gives a VM's leases the NetBox tenant of its owner (the hooks set it).
	Tenants Tenants `mapstructure:"tenants"`
	Log     Log     `mapstructure:"log"`
	// StateDir holds the hooks' spool and locks: a folder of the driver's user alone
	// (the driver refuses one others can write). Default: $ONE_LOCATION/var/netbox-ipam
	// for a self-contained OpenNebula, else /var/lib/one/netbox-ipam (oneadmin's home).
	StateDir string `mapstructure:"state_dir"`
	// File is the configuration file read, "" when none was (not a key).
	File string `mapstructure:"-"`
}

// VMs is whether the hooks also keep NetBox virtual machines for OpenNebula's VMs
// that hold the driver's leases: a cluster per OpenNebula cluster (of ClusterType),
// the VM, an interface per NIC with its MAC, the lease on it.
type VMs struct {
	Enabled     bool   `mapstructure:"enabled"`
	ClusterType string `mapstructure:"cluster_type"` // its name; the slug follows from it
}

// RecordsMore says whether the hooks write more than a lease's label: its DNS name
// (dns_name) or its owner's tenant (tenants); audit --all then compares those too.
func (c Config) RecordsMore() bool { return !c.DNS.IsZero() || !c.Tenants.IsZero() }

// Tenants maps OpenNebula users and groups, by name, to NetBox tenants, by slug. A VM's
// owner decides: the user's entry, else the group's; a VM that neither names keeps its
// range's tenant. Names are matched without case (YAML keys are read in lower case).
type Tenants struct {
	Users  map[string]string `mapstructure:"users"`
	Groups map[string]string `mapstructure:"groups"`
}

// For is the tenant slug of a VM owned by user and group, "" when none is mapped.
func (t Tenants) For(user, group string) string {
	if s := t.Users[strings.ToLower(user)]; s != "" {
		return s
	}
	return t.Groups[strings.ToLower(group)]
}

// IsZero says whether the mapping names no one: leases keep their range's tenant.
func (t Tenants) IsZero() bool { return len(t.Users)+len(t.Groups) == 0 }

// Slugs are the tenants the mapping names, each once, sorted.
func (t Tenants) Slugs() []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]string{t.Users, t.Groups} {
		for _, s := range m {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Pool is where register carves new prefixes when the AR names no network.
type Pool struct {
	ParentPrefixes []string `mapstructure:"parent_prefixes"` // CIDRs or NetBox ids, tried in order
	// ParentPrefixes6 and ULAParentPrefixes6 are the NetBox IPv6 prefixes an IP4_6 AR's
	// GLOBAL_PREFIX and ULA_PREFIX /64s are carved from, when the AR names neither the
	// /64 nor a parent of its own (CIDRs or NetBox ids, tried in order).
	ParentPrefixes6    []string `mapstructure:"parent_prefixes6"`
	ULAParentPrefixes6 []string `mapstructure:"ula_parent_prefixes6"`
	VRF                string   `mapstructure:"vrf"`
	Tenant             string   `mapstructure:"tenant"`
	Role               string   `mapstructure:"role"`
	Status             string   `mapstructure:"status"`
}

// Defaults fill network settings neither NetBox nor the AR gives.
type Defaults struct {
	DNS          string `mapstructure:"dns"`
	GuestMTU     int    `mapstructure:"guest_mtu"`
	SearchDomain string `mapstructure:"search_domain"`
}

// Log is the driver's own log file.
type Log struct {
	File   string `mapstructure:"file"`
	Level  string `mapstructure:"level"`  // debug | info | warn | error
	Format string `mapstructure:"format"` // json | logfmt
}

// defaults are every key's value when neither the file nor the environment gives
// one; AllKeys (and so the NETBOX_IPAM_<KEY> overrides) knows a key from here.
var defaults = map[string]any{
	"url": "", "token": "", "token_file": "", "ca_file": "", "insecure": false,
	// oned's 90 s clock starts when it queues a request, and one_ipam runs one action
	// at a time: with 20 s each, four actions queued behind a NetBox that stopped
	// answering still reach oned in time.
	"timeout":              "20s",
	"retries":              3,
	"tag":                  mapping.DefaultTag,
	"pool.parent_prefixes": []string{}, "pool.parent_prefixes6": []string{}, "pool.ula_parent_prefixes6": []string{}, "pool.vrf": "", "pool.tenant": "", "pool.role": "", "pool.status": "",
	"defaults.dns": "", "defaults.guest_mtu": 0, "defaults.search_domain": "",
	"gateway": "first", "release": "delete", "cooldown": "0s", "lease_mac": "later",
	"vms.enabled": false, "vms.cluster_type": "OpenNebula",
	"dns_name": "", "tenants.users": map[string]string{}, "tenants.groups": map[string]string{},
	"log.file": "", "log.level": "info", "log.format": "logfmt",
	"state_dir": "",
}

// Load reads the configuration. getenv is os.Getenv in production (tests pass their own).
func Load(getenv func(string) string) (Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	for k, val := range defaults {
		v.SetDefault(k, val)
	}
	name := getenv("NETBOX_IPAM_NAME")
	if name == "" {
		name = DefaultName
	}
	path, err := readFile(v, getenv, name)
	if err != nil {
		return Config{}, err
	}
	applyEnv(v, getenv)
	var c Config
	if err := v.UnmarshalExact(&c); err != nil {
		return Config{}, fmt.Errorf("configuration %s: %v", path, mapping.OneLine(err.Error()))
	}
	if c.StateDir == "" {
		c.StateDir = "/var/lib/one/netbox-ipam"
		if loc := getenv("ONE_LOCATION"); loc != "" {
			c.StateDir = filepath.Join(loc, "var", "netbox-ipam")
		}
	}
	if err := c.finish(path); err != nil {
		return Config{}, err
	}
	c.Name = name
	if _, err := os.Stat(path); err == nil {
		c.File = path
	}
	return c, nil
}

// readFile reads the driver's configuration file into v and returns its path. A
// missing default file is fine (the environment may give URL and token); a file named
// by NETBOX_IPAM_CONFIG must exist.
func readFile(v *viper.Viper, getenv func(string) string, name string) (string, error) {
	path := getenv("NETBOX_IPAM_CONFIG")
	explicit := path != ""
	if !explicit {
		dir := getenv("NETBOX_IPAM_CONFDIR")
		if dir == "" {
			dir = DefaultDir
		}
		path = Path(dir, name)
	}
	f, err := os.Open(path)
	switch {
	case err == nil:
		defer f.Close()
		if err := v.ReadConfig(f); err != nil {
			return path, fmt.Errorf("configuration file %s is not valid YAML: %v", path, mapping.OneLine(err.Error()))
		}
	case errors.Is(err, fs.ErrNotExist) && !explicit:
	default:
		return path, fmt.Errorf("cannot read configuration file: %v", err)
	}
	return path, nil
}

// applyEnv sets NETBOX_IPAM_<KEY> (dots as underscores) for every known key, and
// NETBOX_URL and NETBOX_TOKEN unless NETBOX_IPAM_URL and NETBOX_IPAM_TOKEN are set.
func applyEnv(v *viper.Viper, getenv func(string) string) {
	for _, key := range v.AllKeys() {
		env := "NETBOX_IPAM_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		if val, ok := lookup(getenv, env); ok {
			if strings.HasPrefix(key, "pool.") && strings.Contains(key, "parent_prefixes") { // lists
				v.Set(key, strings.FieldsFunc(val, func(r rune) bool { return r == ',' || r == ' ' }))
			} else {
				v.Set(key, val)
			}
		}
	}
	if val, ok := lookup(getenv, "NETBOX_URL"); ok && getenv("NETBOX_IPAM_URL") == "" {
		v.Set("url", val)
	}
	if val, ok := lookup(getenv, "NETBOX_TOKEN"); ok && getenv("NETBOX_IPAM_TOKEN") == "" {
		v.Set("token", val)
	}
}

func lookup(getenv func(string) string, k string) (string, bool) {
	v := getenv(k)
	return v, v != ""
}

// slugRe is what NetBox accepts as a slug.
var slugRe = regexp.MustCompile(`^[-a-zA-Z0-9_]+$`)

func (c *Config) finish(path string) error {
	if c.URL == "" {
		return fmt.Errorf("no NetBox URL: set url in %s or NETBOX_URL", path)
	}
	if c.Token == "" && c.TokenFile != "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return fmt.Errorf("token_file: %v", err)
		}
		c.Token = strings.TrimSpace(string(b))
	}
	if c.Token == "" {
		return fmt.Errorf("no NetBox token: set token or token_file in %s, or NETBOX_TOKEN", path)
	}
	if c.Timeout < time.Second || c.Timeout > 85*time.Second {
		return fmt.Errorf("timeout %s: must be between 1s and 85s (oned gives up after 90s)", c.Timeout)
	}
	if c.Retries < 0 || c.Retries > 10 {
		return fmt.Errorf("retries %d: must be 0-10", c.Retries)
	}
	if c.Tag == "" {
		return errors.New("tag: must not be empty")
	}
	for _, pool := range []struct {
		key     string
		parents []string
		ula     bool
	}{{"pool.parent_prefixes6", c.Pool.ParentPrefixes6, false}, {"pool.ula_parent_prefixes6", c.Pool.ULAParentPrefixes6, true}} {
		for _, ref := range pool.parents {
			if err := parentPrefix6(ref, pool.ula); err != nil {
				return fmt.Errorf("%s: %v", pool.key, err)
			}
		}
	}
	switch c.Gateway {
	case "first", "last", "none":
	default:
		return fmt.Errorf("gateway %q: must be first, last or none", c.Gateway)
	}
	switch c.LeaseMAC {
	case "sync":
		c.LeaseMAC = "later"
	case "now", "later":
	default:
		return fmt.Errorf("lease_mac %q: must be later or now", c.LeaseMAC)
	}
	if c.VMs.Enabled && strings.TrimSpace(c.VMs.ClusterType) == "" {
		return errors.New("vms.cluster_type: must not be empty when vms.enabled is true")
	}
	switch c.Release {
	case "delete", "deprecate":
		if c.Cooldown != 0 {
			return fmt.Errorf("cooldown %s: only release: cooldown uses it (release is %s)", c.Cooldown, c.Release)
		}
	case "cooldown":
		if c.Cooldown < time.Minute || c.Cooldown > 90*24*time.Hour {
			return fmt.Errorf("cooldown %s: release: cooldown needs how long a freed address rests, from 1m to 2160h (90 days), e.g. cooldown: 15m", c.Cooldown)
		}
	default:
		return fmt.Errorf("release %q: must be delete, deprecate or cooldown", c.Release)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level %q: must be debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "logfmt":
	default:
		return fmt.Errorf("log.format %q: must be json or logfmt", c.Log.Format)
	}
	if !filepath.IsAbs(c.StateDir) {
		return fmt.Errorf("state_dir %q: must be an absolute path", c.StateDir)
	}
	dns, err := mapping.ParseDNSTemplate(c.DNSName)
	if err != nil {
		return err
	}
	c.DNS = dns
	for kind, m := range map[string]map[string]string{"users": c.Tenants.Users, "groups": c.Tenants.Groups} {
		for name, slug := range m {
			if !slugRe.MatchString(slug) {
				return fmt.Errorf("tenants.%s.%s: %q is not a NetBox slug (letters, digits, '-' and '_')", kind, name, slug)
			}
		}
	}
	if c.Defaults.GuestMTU < 0 {
		return fmt.Errorf("defaults.guest_mtu %d: must not be negative", c.Defaults.GuestMTU)
	}
	return nil
}

// parentPrefix6 checks one parent of an IPv6 pool: a NetBox id, or an IPv6 CIDR that
// can hold a /64 (a ULA one inside fc00::/7).
func parentPrefix6(ref string, ula bool) error {
	if id, err := strconv.Atoi(ref); err == nil {
		if id <= 0 {
			return fmt.Errorf("%q is not a NetBox id", ref)
		}
		return nil
	}
	p, err := netip.ParsePrefix(ref)
	switch {
	case err != nil || !p.Addr().Is6():
		return fmt.Errorf("%q is neither an IPv6 CIDR nor a NetBox id", ref)
	case p.Bits() > 64:
		return fmt.Errorf("%s cannot hold a /64", p)
	case ula && !mapping.ULASpace.Contains(p.Addr()):
		return fmt.Errorf("%s is not a unique local prefix (fc00::/7)", p)
	}
	return nil
}
