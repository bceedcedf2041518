package driver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// customFields are the NetBox custom fields the driver reads and writes.
var customFields = []netbox.CustomFieldSpec{
	{Name: mapping.CFGateway, Label: "OpenNebula gateway", Type: "text", ObjectTypes: []string{"ipam.prefix"}},
	{Name: mapping.CFDNS, Label: "OpenNebula DNS", Type: "text", ObjectTypes: []string{"ipam.prefix"}, Description: "space-separated, as OpenNebula writes DNS"},
	{Name: mapping.CFNetworkMask, Label: "OpenNebula network mask", Type: "text", ObjectTypes: []string{"ipam.prefix"}},
	{Name: mapping.CFGuestMTU, Label: "OpenNebula guest MTU", Type: "integer", ObjectTypes: []string{"ipam.prefix"}},
	{Name: mapping.CFSearchDomain, Label: "OpenNebula search domain", Type: "text", ObjectTypes: []string{"ipam.prefix"}},
	{Name: mapping.CFRequestID, Label: "OpenNebula request id", Type: "text", ObjectTypes: []string{"ipam.ipaddress"}, Description: "restarts with oned: for people, not a key"},
	{Name: mapping.CFARID, Label: "OpenNebula AR id", Type: "text", ObjectTypes: []string{"ipam.ipaddress"}},
	{Name: mapping.CFMAC, Label: "OpenNebula MAC", Type: "text", ObjectTypes: []string{"ipam.ipaddress"}},
	{Name: mapping.CFVMID, Label: "OpenNebula VM id", Type: "text", ObjectTypes: []string{"ipam.ipaddress"}},
	{Name: mapping.CFVNetID, Label: "OpenNebula network id", Type: "text", ObjectTypes: []string{"ipam.ipaddress"}},
	{Name: mapping.CFVRouterID, Label: "OpenNebula virtual router id", Type: "text", ObjectTypes: []string{"ipam.ipaddress"}},
}

// vmFields are what vms.enabled adds: one_vm_id also on NetBox's virtual machines, and
// one_cluster_id on clusters.
var vmFields = map[string][]string{mapping.CFVMID: {"virtualization.virtualmachine"}, mapping.CFClusterID: {"virtualization.cluster"}}

// freesAtField is what release: cooldown adds: when a freed lease may go.
var freesAtField = netbox.CustomFieldSpec{Name: mapping.CFFreesAt, Label: "OpenNebula frees at", Type: "text", ObjectTypes: []string{"ipam.ipaddress"},
	Description: "release: cooldown: a freed lease (deprecated) stays until this time (UTC); then netbox-ipam sync deletes it",
	Group:       "OpenNebula", FilterLogic: "exact"}

// fields are the custom fields this configuration needs.
func (d *Driver) fields() []netbox.CustomFieldSpec {
	out := make([]netbox.CustomFieldSpec, 0, len(customFields)+2)
	for _, f := range customFields {
		if d.cfg.VMs.Enabled {
			f.ObjectTypes = append(append([]string(nil), f.ObjectTypes...), vmFields[f.Name]...)
		}
		out = append(out, f)
	}
	if d.cfg.VMs.Enabled {
		out = append(out, netbox.CustomFieldSpec{Name: mapping.CFClusterID, Label: "OpenNebula cluster id", Type: "text", ObjectTypes: vmFields[mapping.CFClusterID],
			Group: "OpenNebula", FilterLogic: "exact"})
	}
	if d.cfg.Release == "cooldown" {
		out = append(out, freesAtField)
	}
	return out
}

func init() {
	for i := range customFields {
		customFields[i].Group = "OpenNebula"
		customFields[i].FilterLogic = "exact" // NetBox's default text filter matches substrings
	}
}

// Setup creates the tag and the custom fields the driver needs; what exists stays. It
// returns one line per object (created or exists), then what more says (whether the
// OpenNebula hooks are installed: package hooks' Check).
func (d *Driver) Setup(ctx context.Context, more ...func(context.Context, *CheckReport)) ([]string, error) {
	var out []string
	if _, err := d.nb.TagBySlug(ctx, d.cfg.Tag); netbox.IsNotFound(err) {
		if _, err := d.nb.CreateTag(ctx, d.cfg.Tag, d.cfg.Tag, "Created and owned by OpenNebula's netbox IPAM driver"); err != nil {
			return out, err
		}
		out = append(out, "created tag "+d.cfg.Tag)
	} else if err != nil {
		return out, err
	} else {
		out = append(out, "exists  tag "+d.cfg.Tag)
	}
	for _, spec := range d.fields() {
		f, err := d.nb.CustomFieldByName(ctx, spec.Name)
		switch {
		case netbox.IsNotFound(err):
			if _, err := d.nb.CreateCustomField(ctx, spec); err != nil {
				return out, err
			}
			out = append(out, fmt.Sprintf("created custom field %s on %s", spec.Name, strings.Join(spec.ObjectTypes, ",")))
		case err != nil:
			return out, err
		case len(lacking(f.ObjectTypes, spec.ObjectTypes)) > 0:
			// The driver's own field, needed on more objects (vms.enabled turned on):
			// add them, keeping any an admin added.
			add := lacking(f.ObjectTypes, spec.ObjectTypes)
			if _, err := d.nb.PatchCustomField(ctx, f.ID, map[string]any{"object_types": append(f.ObjectTypes, add...)}); err != nil {
				return out, err
			}
			out = append(out, fmt.Sprintf("changed custom field %s: also on %s", spec.Name, strings.Join(add, ",")))
		default:
			out = append(out, "exists  custom field "+spec.Name)
		}
	}
	var r CheckReport // setup creates no hooks (they are oned's, not NetBox's): it says what check would
	for _, check := range more {
		check(ctx, &r)
	}
	for _, l := range r.Lines {
		out = append(out, fmt.Sprintf("%-7s %s", l.Item, l.Msg))
	}
	return out, nil
}

// tokenNeeds is what the driver's token must be allowed to do, per NetBox model: what
// check probes and README's permission table lists. optional says when a model is
// needed at all.
var tokenNeeds = []struct {
	model, path string
	actions     []string
	optional    string
	vms         bool // needed (and probed) only with vms.enabled
}{
	{"ipam.prefix", "/api/ipam/prefixes/", []string{"view", "add", "change", "delete"}, "", false},
	{"ipam.iprange", "/api/ipam/ip-ranges/", []string{"view", "add", "delete"}, "", false},
	{"ipam.ipaddress", "/api/ipam/ip-addresses/", []string{"view", "add", "change", "delete"}, "", false},
	{"extras.tag", "/api/extras/tags/", []string{"view"}, "", false},
	{"extras.customfield", "/api/extras/custom-fields/", []string{"view"}, "", false},
	{"ipam.vrf", "/api/ipam/vrfs/", []string{"view"}, "when ARs or pool.vrf name a VRF", false},
	{"ipam.role", "/api/ipam/roles/", []string{"view"}, "when ARs or pool.role name a role", false},
	{"tenancy.tenant", "/api/tenancy/tenants/", []string{"view"}, "when ARs or pool.tenant name a tenant", false},
	{"dcim.site", "/api/dcim/sites/", []string{"view"}, "when ARs name NETBOX_SITE", false},
	{"virtualization.clustertype", "/api/virtualization/cluster-types/", []string{"view", "add"}, "", true},
	{"virtualization.cluster", "/api/virtualization/clusters/", []string{"view", "add"}, "", true},
	{"virtualization.virtualmachine", "/api/virtualization/virtual-machines/", []string{"view", "add", "change", "delete"}, "", true},
	{"virtualization.vminterface", "/api/virtualization/interfaces/", []string{"view", "add", "delete"}, "", true},
	{"dcim.macaddress", "/api/dcim/mac-addresses/", []string{"add"}, "", true},
}

var actionMethod = map[string]string{"view": "GET", "add": "POST", "change": "PATCH", "delete": "DELETE"}

// CheckLine is one line of check: ok, WARN or FAIL, what was checked, and why.
type CheckLine struct{ Word, Item, Msg string }

// CheckReport is check's result: OK when no line says FAIL.
type CheckReport struct {
	Lines []CheckLine
	OK    bool
}

// Line adds a line: word is ok, WARN or FAIL.
func (r *CheckReport) Line(word, item, msg string) {
	r.Lines = append(r.Lines, CheckLine{word, item, mapping.OneLine(msg)})
	if word == "FAIL" {
		r.OK = false
	}
}

// Check reports whether NetBox is usable by the driver: URL, token, version, the
// token's permissions, the tag and the custom fields, then what more asks (the hooks).
// It stops at the first item that leaves nothing else to ask (NetBox unreachable,
// token refused).
func (d *Driver) Check(ctx context.Context, more ...func(context.Context, *CheckReport)) CheckReport {
	r := CheckReport{OK: true}
	d.checkFiles(&r)
	if !d.checkServer(ctx, &r) || !d.checkPermissions(ctx, &r) {
		return r
	}
	d.checkSchema(ctx, &r)
	d.checkPools(ctx, &r)
	for _, check := range more {
		check(ctx, &r)
	}
	return r
}

// checkFiles checks the front-end's files: the configuration and token file, which
// hold the NetBox token (others may not read them, or write them), and the hooks'
// state folder (state.go).
func (d *Driver) checkFiles(r *CheckReport) {
	for _, f := range []struct{ item, path string }{{"config file", d.cfg.File}, {"token file", d.cfg.TokenFile}} {
		if f.path == "" {
			continue
		}
		fi, err := os.Stat(f.path)
		if err != nil {
			r.Line("WARN", f.item, err.Error())
			continue
		}
		switch perm := fi.Mode().Perm(); {
		case perm&0o022 != 0:
			r.Line("FAIL", f.item, fmt.Sprintf("%s can be written by others (mode %04o): they could point the driver elsewhere; chmod 0640 %s", f.path, perm, f.path))
		case perm&0o004 != 0:
			r.Line("WARN", f.item, fmt.Sprintf("%s can be read by every user (mode %04o) and holds the NetBox token; chmod 0640 %s and chgrp oneadmin %s", f.path, perm, f.path, f.path))
		default:
			r.Line("ok", f.item, fmt.Sprintf("%s (mode %04o)", f.path, perm))
		}
	}
	fi, err := os.Lstat(d.cfg.StateDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, perr := os.Stat(filepath.Dir(d.cfg.StateDir)); perr != nil {
			// Not a front-end (or not yet): only the hooks and sync with vms need it.
			r.Line("WARN", "state folder", fmt.Sprintf("%s cannot be made (%v): the hooks would fail here; set state_dir to a folder the driver's user may create", d.cfg.StateDir, perr))
		} else {
			r.Line("ok", "state folder", d.cfg.StateDir+" (made, mode 0700, by the first hook)")
		}
	case err != nil:
		r.Line("FAIL", "state folder", err.Error())
	default:
		if err := d.checkOwn(d.cfg.StateDir, fi); err != nil {
			r.Line("FAIL", "state folder", err.Error())
		} else {
			r.Line("ok", "state folder", d.cfg.StateDir)
		}
	}
}

// checkServer checks the URL, the token and NetBox's version.
func (d *Driver) checkServer(ctx context.Context, r *CheckReport) bool {
	base := d.nb.BaseURL()
	st, err := d.nb.Status(ctx)
	if err != nil {
		var ne *netbox.Error
		errors.As(err, &ne)
		switch {
		case netbox.KindOf(err) == netbox.KindAuth:
			r.Line("ok", "url", base)
			msg := ne.Msg
			// The refusal's API-Version names the release: a v2 token on one without them.
			if rel := netbox.ParseRelease(d.nb.APIVersion()); strings.HasPrefix(strings.TrimSpace(d.cfg.Token), "nbt_") && rel.Known() && !netbox.V2Tokens(rel) {
				msg += fmt.Sprintf("; the token is a v2 token (nbt_…), which NetBox %d.%d does not have (from 4.5): create a v1 token", rel.Major, rel.Minor)
			}
			r.Line("FAIL", "token", msg)
		case netbox.KindOf(err) == netbox.KindUnavailable:
			r.Line("FAIL", "url", fmt.Sprintf("cannot reach %s (%s); check url (NETBOX_URL) and that NetBox runs", base, strings.TrimPrefix(ne.Msg, "cannot reach NetBox: ")))
		case ne != nil && ne.Status != 0:
			r.Line("FAIL", "url", fmt.Sprintf("%s does not answer like NetBox (GET /api/status/: HTTP %d); set url to NetBox's base URL, without /api", base, ne.Status))
		default:
			r.Line("FAIL", "url", fmt.Sprintf("%s does not answer like NetBox (%v); set url to NetBox's base URL, without /api", base, err))
		}
		return false
	}
	r.Line("ok", "url", base)
	r.Line("ok", "token", "accepted")
	rel := netbox.ParseRelease(st.NetBoxVersion)
	word, msg := releaseCheck(rel, st.NetBoxVersion)
	r.Line(word, "netbox version", msg)
	for _, f := range releaseFeatures(rel) {
		r.Line(f.Word, "feature", f.Msg)
	}
	return true
}

// TestedReleases are the NetBox releases the driver's tests run on (make
// test-netbox-matrix; CI: the oldest and the newest).
var TestedReleases = []string{"4.2.9", "4.3.7", "4.4.10", "4.5.10", "4.6.8", "4.7.3"}

// releaseCheck says whether the driver runs on NetBox release rel (v as NetBox wrote
// it): before 4.2 it does not (prefixes have no scope, MACs no objects), a release
// line it was not tested on is a warning.
func releaseCheck(rel netbox.Release, v string) (word, msg string) {
	tested := "tested: " + strings.Join(TestedReleases, ", ")
	switch {
	case !rel.Known():
		return "WARN", fmt.Sprintf("%q (cannot read it; the driver needs 4.2 or later; %s)", v, tested)
	case !rel.AtLeast(4, 2, 0):
		return "FAIL", fmt.Sprintf("%s: the driver needs NetBox 4.2 or later (prefix scope, MAC address objects); upgrade NetBox (%s)", v, tested)
	}
	for _, t := range TestedReleases {
		if t == rel.String() {
			return "ok", v + " (" + tested + ")"
		}
		if tr := netbox.ParseRelease(t); tr.Major == rel.Major && tr.Minor == rel.Minor {
			return "ok", fmt.Sprintf("%s (%s: the same release line)", v, tested)
		}
	}
	return "WARN", fmt.Sprintf("%s is not a release line the driver was tested on (%s)", v, tested)
}

// releaseFeatures says what the driver does not do on release rel (WARN), or does
// another way (ok), each with why.
func releaseFeatures(rel netbox.Release) []CheckLine {
	var out []CheckLine
	if !netbox.SingleAddressRanges(rel) {
		out = append(out, CheckLine{"WARN", "", fmt.Sprintf("off: ARs of SIZE 1 (register refuses them): NetBox %s has no IP range of one address (from 4.6.1)", rel)})
	}
	if !netbox.V2Tokens(rel) {
		out = append(out, CheckLine{"ok", "", fmt.Sprintf("v1 tokens only: NetBox %s has no v2 tokens (nbt_…, from 4.5)", rel)})
	}
	if !netbox.MACShortcut(rel) {
		out = append(out, CheckLine{"ok", "", fmt.Sprintf("VM interface MACs (vms.enabled) as MAC address objects, two more requests per batch of new interfaces: NetBox %s's interface mac_address is read-only (writable from 4.7)", rel)})
	}
	return out
}

// releaseLine is NetBox's release line as its answers named it, for messages.
func releaseLine(nb Store) string {
	if v := nb.APIVersion(); v != "" {
		return v
	}
	return "(release unknown)"
}

// checkPermissions probes what the token may do on each model the driver uses.
func (d *Driver) checkPermissions(ctx context.Context, r *CheckReport) bool {
	for _, need := range tokenNeeds {
		if need.vms && !d.cfg.VMs.Enabled {
			continue
		}
		var missing []string
		for _, a := range need.actions {
			allowed, err := d.nb.Allowed(ctx, actionMethod[a], need.path)
			if err != nil {
				r.Line("FAIL", "permissions "+need.model, err.Error())
				return false
			}
			if !allowed {
				missing = append(missing, a)
			}
		}
		switch {
		case len(missing) == 0:
			r.Line("ok", "permissions "+need.model, strings.Join(need.actions, " "))
		case need.optional != "":
			r.Line("WARN", "permissions "+need.model, fmt.Sprintf("the token may not %s; needed only %s", strings.Join(missing, ", "), need.optional))
		default:
			r.Line("FAIL", "permissions "+need.model, fmt.Sprintf("the token may not %s; grant the token's user %s on %s (README: the token's permissions)", strings.Join(missing, ", "), strings.Join(need.actions, ", "), need.model))
		}
	}
	return true
}

// checkSchema checks the tag and the custom fields setup creates.
func (d *Driver) checkSchema(ctx context.Context, r *CheckReport) {
	if _, err := d.nb.TagBySlug(ctx, d.cfg.Tag); err != nil {
		r.Line("FAIL", "tag "+d.cfg.Tag, "missing: run `netbox-ipam setup`")
	} else {
		r.Line("ok", "tag "+d.cfg.Tag, "present")
	}
	for _, spec := range d.fields() {
		f, err := d.nb.CustomFieldByName(ctx, spec.Name)
		switch {
		case netbox.IsNotFound(err):
			r.Line("FAIL", "custom field "+spec.Name, "missing: run `netbox-ipam setup`")
		case err != nil:
			r.Line("FAIL", "custom field "+spec.Name, err.Error())
		case len(lacking(f.ObjectTypes, spec.ObjectTypes)) > 0:
			r.Line("FAIL", "custom field "+spec.Name, fmt.Sprintf("is on %v, not on %v: run `netbox-ipam setup`", f.ObjectTypes, lacking(f.ObjectTypes, spec.ObjectTypes)))
		case f.FilterLogic.Value != "exact":
			r.Line("FAIL", "custom field "+spec.Name, "filter logic is "+f.FilterLogic.Value+", want exact (a loose filter matches substrings)")
		default:
			r.Line("ok", "custom field "+spec.Name, "present")
		}
	}
	if d.cfg.Release == "cooldown" {
		r.Line("ok", "release", fmt.Sprintf("cooldown %s: a freed lease stays in NetBox as deprecated with %s, so no get_address hands it out; `netbox-ipam sync --all` (netbox-ipam-sync.timer) deletes it once due; an explicit allocate of it takes it back", d.cfg.Cooldown, mapping.CFFreesAt))
	}
}

// checkPools finds each configured pool parent in NetBox, of the family its pool
// carves: what register would find, before an AR needs it.
func (d *Driver) checkPools(ctx context.Context, r *CheckReport) {
	if len(d.cfg.Pool.ParentPrefixes)+len(d.cfg.Pool.ParentPrefixes6)+len(d.cfg.Pool.ULAParentPrefixes6) == 0 {
		return
	}
	c := d.Begin("")
	pl, err := c.placement(ctx, nil) // pool.vrf, as for an AR that names none
	if err != nil {
		r.Line("FAIL", "pool", err.Error())
		return
	}
	type pooled struct {
		from    pool
		parents []string
	}
	pools := []pooled{{pool4, d.cfg.Pool.ParentPrefixes}}
	for _, k := range mapping.IPv6Prefixes {
		from, parents := c.pool6(k)
		pools = append(pools, pooled{from, parents})
	}
	for _, pool := range pools {
		for _, ref := range pool.parents {
			p, err := c.parentPrefix(ctx, pl, ref)
			n, nerr := p.Net()
			switch {
			case err != nil:
				r.Line("FAIL", pool.from.conf, err.Error())
			case nerr != nil || !pool.from.ofFamily(n):
				r.Line("FAIL", pool.from.conf, fmt.Sprintf("%s is NetBox prefix %s (id %d), not an %s prefix", ref, p.Prefix, p.ID, pool.from.family()))
			default:
				r.Line("ok", pool.from.conf, fmt.Sprintf("%s: NetBox prefix %d", n, p.ID))
			}
		}
	}
}

// lacking is what of want have lacks (object types an admin added are fine).
func lacking(have, want []string) []string {
	m := map[string]bool{}
	for _, x := range have {
		m[x] = true
	}
	var out []string
	for _, x := range want {
		if !m[x] {
			out = append(out, x)
		}
	}
	return out
}
