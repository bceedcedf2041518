package netboxtest

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// Scenario walks a netbox.Client through every call the driver makes (and the ones
// tests use), checking what NetBox answers. The integration suite runs it against the
// real NetBox through a recorder (integration/recorded_test.go) and saves the
// exchanges to netbox/testdata; netbox's unit tests replay them. The same code on both
// sides makes the same requests in the same order, so the replay checks the client's
// encoding and decoding against answers a real NetBox gave. Everything it creates
// carries ScenarioTag and lives in its own VRF, and it removes all of it.
func Scenario(ctx context.Context, c *netbox.Client) error {
	s := &scenario{ctx: ctx, c: c}
	s.run()
	return s.err
}

// ScenarioTag marks the scenario's objects (and ScenarioVRF holds them).
const (
	ScenarioTag   = "nbtest-scenario"
	ScenarioVRF   = "nbtest-scenario"
	scenarioField = "nbtest_scenario_note"
)

type scenario struct {
	ctx context.Context
	c   *netbox.Client
	rel netbox.Release // the release /api/status/ named
	err error
}

// must records the first failure: a call that failed, or an answer that is not what
// NetBox gives.
func (s *scenario) must(ok bool, format string, a ...any) bool {
	if !ok && s.err == nil {
		s.err = fmt.Errorf(format, a...)
	}
	return ok && s.err == nil
}

func (s *scenario) no(err error, what string) bool { return s.must(err == nil, "%s: %v", what, err) }

func (s *scenario) run() {
	ctx, c := s.ctx, s.c
	st, err := c.Status(ctx)
	s.no(err, "status")
	s.must(st.NetBoxVersion != "", "status has no version")
	s.rel = netbox.ParseRelease(st.NetBoxVersion)
	tag, err := c.CreateTag(ctx, ScenarioTag, ScenarioTag, "netboxtest scenario")
	if !s.no(err, "create tag") {
		return
	}
	defer func() { s.no(c.DeleteTag(ctx, tag.ID), "delete tag") }()
	got, err := c.TagBySlug(ctx, ScenarioTag)
	s.must(err == nil && got.ID == tag.ID, "tag by slug: %+v %v", got, err)
	_, err = c.TagBySlug(ctx, ScenarioTag+"-none")
	s.must(netbox.IsNotFound(err), "missing tag: %v", err)
	field, err := c.CreateCustomField(ctx, netbox.CustomFieldSpec{Name: scenarioField, Label: "scenario", Type: "text",
		ObjectTypes: []string{"ipam.prefix", "ipam.ipaddress", "virtualization.cluster", "virtualization.virtualmachine"}, FilterLogic: "exact", Group: "scenario", Description: "netboxtest"})
	if !s.no(err, "create custom field") {
		return
	}
	defer func() { s.no(c.DeleteCustomField(ctx, field.ID), "delete custom field") }()
	f, err := c.CustomFieldByName(ctx, scenarioField)
	s.must(err == nil && f.FilterLogic.Value == "exact" && len(f.ObjectTypes) == 4, "custom field: %+v %v", f, err)
	vrf, err := c.CreateVRF(ctx, ScenarioVRF)
	if !s.no(err, "create VRF") {
		return
	}
	defer func() { s.no(c.DeleteVRF(ctx, vrf.ID), "delete VRF") }()
	role, err := c.CreateRole(ctx, "nbtest-scenario", "nbtest-scenario")
	if !s.no(err, "create role") {
		return
	}
	defer func() { s.no(c.DeleteRole(ctx, role.ID), "delete role") }()
	s.resolve(vrf, role)
	s.permissions()
	s.prefixes(vrf.ID, role.ID)
	s.virtualization(vrf.ID)
}

func (s *scenario) resolve(vrf netbox.VRF, role netbox.Ref) {
	ctx, c := s.ctx, s.c
	for _, q := range []struct{ kind, v string }{{"vrf", ScenarioVRF}, {"vrf", strconv.Itoa(vrf.ID)}, {"role", "nbtest-scenario"}} {
		r, err := c.Resolve(ctx, q.kind, q.v)
		s.must(err == nil && (r.ID == vrf.ID || r.ID == role.ID), "resolve %s %s: %+v %v", q.kind, q.v, r, err)
	}
	_, err := c.Resolve(ctx, "site", "nbtest-no-such-site")
	s.must(netbox.IsNotFound(err), "resolve a missing site: %v", err)
}

func (s *scenario) permissions() {
	for _, m := range []string{"GET", "POST", "PATCH", "DELETE"} {
		ok, err := s.c.Allowed(s.ctx, m, "/api/ipam/prefixes/")
		s.must(err == nil && ok, "allowed %s: %v %v", m, ok, err)
	}
}

func (s *scenario) prefixes(vrf, role int) {
	ctx, c := s.ctx, s.c
	tags := []netbox.TagRef{{Slug: ScenarioTag}}
	parent, err := c.CreatePrefix(ctx, netbox.PrefixSpec{Prefix: "10.251.0.0/16", VRFID: vrf, RoleID: role, Status: "container",
		Description: "scenario parent", Tags: tags, CustomFields: map[string]any{scenarioField: "parent"}})
	if !s.no(err, "create prefix") {
		return
	}
	defer func() { s.no(c.DeletePrefix(ctx, parent.ID), "delete prefix") }()
	s.must(netbox.RefID(parent.VRF) == vrf && netbox.RefID(parent.Role) == role && parent.HasTag(ScenarioTag) && parent.CustomString(scenarioField) == "parent" && !parent.Created.IsZero(),
		"created prefix %+v", parent)
	_, err = c.CreatePrefix(ctx, netbox.PrefixSpec{Prefix: "10.251.0.0/16", VRFID: vrf})
	s.must(netbox.KindOf(err) == netbox.KindInvalid, "duplicate prefix: %v", err)
	child, err := c.CarvePrefix(ctx, parent.ID, 24, netbox.PrefixSpec{Description: "scenario child", Tags: tags, Status: "active"})
	if !s.no(err, "carve") {
		return
	}
	defer func() { s.no(c.DeletePrefix(ctx, child.ID), "delete child") }()
	s.must(child.Prefix == "10.251.0.0/24" && netbox.RefID(child.VRF) == vrf, "carved %+v", child)
	p, err := c.SetPrefixCustomFields(ctx, child.ID, map[string]any{scenarioField: "child"})
	s.must(err == nil && p.CustomString(scenarioField) == "child", "set custom fields: %+v %v", p, err)
	p, err = c.GetPrefix(ctx, child.ID)
	s.must(err == nil && p.Prefix == child.Prefix, "get prefix: %v", err)
	_, err = c.GetPrefix(ctx, 999999999)
	s.must(netbox.IsNotFound(err), "get a missing prefix: %v", err)
	p, err = c.PrefixExact(ctx, vrf, "10.251.0.0/24")
	s.must(err == nil && p.ID == child.ID, "prefix exact: %v", err)
	_, err = c.PrefixExact(ctx, vrf, "10.251.9.0/24")
	s.must(netbox.IsNotFound(err), "missing exact prefix: %v", err)
	ps, err := c.PrefixesContaining(ctx, vrf, "10.251.0.7")
	s.must(err == nil && len(ps) == 2, "containing: %d %v", len(ps), err)
	ps, err = c.PrefixesLabelled(ctx, ScenarioTag, "scenario child")
	s.must(err == nil && len(ps) == 1, "labelled prefixes: %d %v", len(ps), err)
	ps, err = c.PrefixesTagged(ctx, ScenarioTag)
	s.must(err == nil && len(ps) == 2, "tagged prefixes: %d %v", len(ps), err)
	s.ranges(vrf, child)
}

func (s *scenario) ranges(vrf int, p netbox.Prefix) {
	ctx, c := s.ctx, s.c
	tags := []netbox.TagRef{{Slug: ScenarioTag}}
	r, err := c.CreateIPRange(ctx, netbox.IPRangeSpec{Start: "10.251.0.10/24", End: "10.251.0.19/24", VRFID: vrf, Status: "active",
		Description: "scenario range", Tags: tags})
	if !s.no(err, "create range") {
		return
	}
	defer func() { s.no(c.DeleteIPRange(ctx, r.ID), "delete range") }()
	first, last, err := r.Span()
	s.must(err == nil && first.String() == "10.251.0.10" && last.String() == "10.251.0.19" && r.Size.String() == "10", "range %+v", r)
	s.must(!r.Created.IsZero(), "range without created: %+v", r) // sync --prune's age rule reads it
	_, err = c.CreateIPRange(ctx, netbox.IPRangeSpec{Start: "10.251.0.15/24", End: "10.251.0.25/24", VRFID: vrf})
	s.must(netbox.KindOf(err) == netbox.KindInvalid, "overlapping range: %v", err)
	got, err := c.GetIPRange(ctx, r.ID)
	s.must(err == nil && netbox.RefID(got.VRF) == vrf, "get range: %+v %v", got, err)
	rs, err := c.IPRangesStartingAt(ctx, ScenarioTag, "10.251.0.10")
	s.must(err == nil && len(rs) == 1 && rs[0].ID == r.ID, "starting at: %d %v", len(rs), err)
	rs, err = c.IPRangesStartingAt(ctx, ScenarioTag, "10.251.0.11")
	s.must(err == nil && len(rs) == 0, "starting at an address inside: %d %v", len(rs), err)
	rs, err = c.IPRangesLabelled(ctx, ScenarioTag, "scenario range")
	s.must(err == nil && len(rs) == 1, "labelled ranges: %d %v", len(rs), err)
	rs, err = c.IPRangesTagged(ctx, ScenarioTag)
	s.must(err == nil && len(rs) == 1, "tagged ranges: %d %v", len(rs), err)
	rs, err = c.IPRangesIn(ctx, vrf, p.Prefix)
	s.must(err == nil && len(rs) == 1, "ranges in: %d %v", len(rs), err)
	fr, ok, err := c.FirstIPRangeIn(ctx, vrf, p.Prefix)
	s.must(err == nil && ok && fr.ID == r.ID, "first range in: %v %v", ok, err)
	_, ok, err = c.FirstIPRangeIn(ctx, vrf, "10.251.9.0/24")
	s.must(err == nil && !ok, "first range in an empty prefix: %v %v", ok, err)
	got, err = c.PatchIPRange(ctx, r.ID, map[string]any{"description": "scenario range, patched"})
	s.must(err == nil && got.Description == "scenario range, patched", "patch range: %v", err)
	// A range of one address (an AR of SIZE 1): NetBox has it from 4.6.1 only.
	one, err := c.CreateIPRange(ctx, netbox.IPRangeSpec{Start: "10.251.0.30/24", End: "10.251.0.30/24", VRFID: vrf, Status: "active", Tags: tags})
	if netbox.SingleAddressRanges(s.rel) {
		s.must(err == nil && one.Size.String() == "1", "range of one address: %+v %v", one, err)
		if err == nil {
			defer func() { s.no(c.DeleteIPRange(ctx, one.ID), "delete the range of one address") }()
		}
	} else {
		s.must(netbox.KindOf(err) == netbox.KindInvalid && strings.Contains(err.Error(), "must be greater than the starting address"),
			"range of one address before NetBox 4.6.1: %v, want NetBox's refusal (register names it)", err)
	}
	s.addresses(vrf, r, p)
}

func (s *scenario) addresses(vrf int, r netbox.IPRange, p netbox.Prefix) {
	ctx, c := s.ctx, s.c
	tags := []netbox.TagRef{{Slug: ScenarioTag}}
	spec := netbox.IPAddressSpec{Status: "active", Tags: tags, Description: "scenario lease", CustomFields: map[string]any{scenarioField: "lease"}}
	taken, err := c.TakeFromRange(ctx, r.ID, []netbox.IPAddressSpec{spec})
	s.must(err == nil && len(taken) == 1 && taken[0].Address == "10.251.0.10/24" && netbox.RefID(taken[0].VRF) == vrf &&
		taken[0].CustomString(scenarioField) == "lease" && taken[0].HasTag(ScenarioTag), "available-ips: %+v %v", taken, err)
	avail, err := c.AvailableInRange(ctx, r.ID, 3)
	s.must(err == nil && len(avail) == 3 && avail[0].Address == "10.251.0.11/24", "available: %+v %v", avail, err)
	made, err := c.CreateIPAddresses(ctx, []netbox.IPAddressSpec{
		{Address: "10.251.0.12/24", VRFID: vrf, Status: "active", Tags: tags, Description: "scenario pair"},
		{Address: "10.251.0.13/24", VRFID: vrf, Status: "active", Tags: tags, Description: "scenario pair"}})
	s.must(err == nil && len(made) == 2, "bulk create: %v", err)
	_, err = c.CreateIPAddresses(ctx, []netbox.IPAddressSpec{{Address: "10.251.0.12/24", VRFID: vrf}})
	s.must(netbox.KindOf(err) == netbox.KindInvalid, "duplicate address: %v", err)
	as, err := c.IPAddressesAt(ctx, vrf, []string{"10.251.0.10", "10.251.0.12"})
	s.must(err == nil && len(as) == 2, "at: %d %v", len(as), err)
	as, err = c.IPAddressesIn(ctx, vrf, p.Prefix)
	s.must(err == nil && len(as) == 3, "in: %d %v", len(as), err)
	a, ok, err := c.FirstIPAddressIn(ctx, vrf, p.Prefix)
	s.must(err == nil && ok && a.Address == "10.251.0.10/24", "first in: %+v %v", a, err)
	as, err = c.IPAddressesLabelled(ctx, ScenarioTag, "scenario pair")
	s.must(err == nil && len(as) == 2, "labelled: %d %v", len(as), err)
	a, err = c.PatchIPAddress(ctx, taken[0].ID, map[string]any{"status": "deprecated"})
	s.must(err == nil && a.Status.Value == "deprecated", "patch: %+v %v", a, err)
	err = c.PatchIPAddresses(ctx, []map[string]any{{"id": made[0].ID, "description": "scenario pair, relabelled"}})
	s.no(err, "bulk patch")
	a, err = c.GetIPAddress(ctx, made[0].ID)
	s.must(err == nil && a.Description == "scenario pair, relabelled", "get address: %+v %v", a, err)
	s.no(c.DeleteIPAddress(ctx, made[1].ID), "delete address")
	s.must(netbox.IsNotFound(c.DeleteIPAddress(ctx, made[1].ID)), "delete a gone address")
	// One id already gone: NetBox refuses the bulk delete, the client deletes one by one.
	s.no(c.DeleteIPAddresses(ctx, []int{taken[0].ID, made[0].ID, made[1].ID}), "bulk delete")
	as, err = c.IPAddressesIn(ctx, vrf, p.Prefix)
	s.must(err == nil && len(as) == 0, "left after delete: %d %v", len(as), err)
	var raw struct {
		Count int `json:"count"`
	}
	s.no(c.Raw(ctx, "GET", "/api/ipam/ip-ranges/?tag="+ScenarioTag, &raw), "raw")
	want := 1 // the scenario range, and the range of one address where NetBox has it
	if netbox.SingleAddressRanges(s.rel) {
		want++
	}
	s.must(raw.Count == want, "raw count %d, want %d", raw.Count, want)
}

// virtualization is what the driver does with NetBox virtual machines (vms.enabled):
// a cluster of its type found by custom field, a VM renamed and its status changed,
// interfaces with MACs (the mac_address shortcut from 4.7, MAC address objects made
// primary on 4.2–4.6: the interfaces read back with their MACs either way), an address
// on an interface and the VM's primary IPv4, taken off again, and all of it deleted.
func (s *scenario) virtualization(vrf int) {
	ctx, c, rel := s.ctx, s.c, s.rel
	tags := []netbox.TagRef{{Slug: ScenarioTag}}
	typ, err := c.CreateClusterType(ctx, "nbtest-scenario", "nbtest-scenario", ScenarioTag, "scenario")
	if err != nil { // made nothing to clean up
		s.no(err, "create cluster type")
		return
	}
	defer func() {
		s.no(c.Raw(ctx, "DELETE", "/api/virtualization/cluster-types/"+strconv.Itoa(typ.ID)+"/", nil), "delete cluster type")
	}()
	got, err := c.ClusterTypeBySlug(ctx, "nbtest-scenario")
	s.must(err == nil && got.ID == typ.ID, "cluster type by slug: %+v %v", got, err)
	cl, err := c.CreateCluster(ctx, netbox.ClusterSpec{Name: "nbtest-scenario", TypeID: typ.ID, Tags: tags, CustomFields: map[string]any{scenarioField: "100"}})
	if err != nil { // made nothing to clean up
		s.no(err, "create cluster")
		return
	}
	defer func() {
		s.no(c.Raw(ctx, "DELETE", "/api/virtualization/clusters/"+strconv.Itoa(cl.ID)+"/", nil), "delete cluster")
	}()
	found, ok, err := c.ClusterWith(ctx, "nbtest-scenario", ScenarioTag, scenarioField, "100")
	s.must(err == nil && ok && found.ID == cl.ID, "cluster with: %+v %v %v", found, ok, err)
	vm, err := c.CreateVirtualMachine(ctx, netbox.VirtualMachineSpec{Name: "scenario-vm", Status: "planned", ClusterID: cl.ID, Tags: tags,
		CustomFields: map[string]any{scenarioField: "42"}})
	if err != nil { // made nothing to clean up
		s.no(err, "create VM")
		return
	}
	defer func() { s.no(c.DeleteVirtualMachine(ctx, vm.ID), "delete VM") }()
	vms, err := c.VirtualMachinesWith(ctx, ScenarioTag, scenarioField, "42", "43")
	s.must(err == nil && len(vms) == 1 && vms[0].ID == vm.ID, "VMs with: %+v %v", vms, err)
	vm, err = c.PatchVirtualMachine(ctx, vm.ID, map[string]any{"name": "scenario-vm-2", "status": "active"})
	s.must(err == nil && vm.Name == "scenario-vm-2" && vm.Status.Value == "active", "patch VM: %+v %v", vm, err)
	ifs, err := c.CreateVMInterfaces(ctx, []netbox.VMInterfaceSpec{{VMID: vm.ID, Name: "NIC0", MAC: "02:00:0a:fb:00:0a", Tags: tags},
		{VMID: vm.ID, Name: "NIC1", MAC: "02:00:0a:fb:00:0b", Tags: tags}})
	if err != nil || len(ifs) != 2 { // deleting the VM deletes any interface made
		s.must(false, "interfaces (NetBox %s): %+v %v", rel, ifs, err)
		return
	}
	s.must(ifs[0].MACAddress == "02:00:0A:FB:00:0A", "interfaces made with their MACs (NetBox %s): %+v", rel, ifs)
	read, err := c.VMInterfaces(ctx, vm.ID)
	s.must(err == nil && len(read) == 2 && read[0].MACAddress == "02:00:0A:FB:00:0A" && read[1].MACAddress == "02:00:0A:FB:00:0B",
		"interfaces read back with their MACs (NetBox %s): %+v %v", rel, read, err)
	ips, err := c.CreateIPAddresses(ctx, []netbox.IPAddressSpec{{Address: "10.251.0.40/24", VRFID: vrf, Status: "active", Tags: tags}})
	if err != nil || len(ips) != 1 {
		s.must(false, "create the VM's address: %+v %v", ips, err)
		return
	}
	defer func() { s.no(c.DeleteIPAddresses(ctx, []int{ips[0].ID}), "delete the VM's address") }()
	s.no(c.PatchIPAddresses(ctx, []map[string]any{{"id": ips[0].ID, "assigned_object_type": netbox.VMInterfaceType, "assigned_object_id": ifs[0].ID}}), "assign")
	vm, err = c.PatchVirtualMachine(ctx, vm.ID, map[string]any{"primary_ip4": ips[0].ID})
	s.must(err == nil && netbox.RefID(vm.PrimaryIP4) == ips[0].ID, "primary IPv4: %+v %v", vm, err)
	on, err := c.IPAddressesOfVM(ctx, vm.ID)
	s.must(err == nil && len(on) == 1 && on[0].AssignedObjectID == ifs[0].ID, "addresses of the VM: %+v %v", on, err)
	_, err = c.PatchVirtualMachine(ctx, vm.ID, map[string]any{"primary_ip4": nil})
	s.no(err, "clear primary IPv4")
	s.no(c.PatchIPAddresses(ctx, []map[string]any{{"id": ips[0].ID, "assigned_object_type": nil, "assigned_object_id": nil}}), "unassign")
	s.no(c.DeleteVMInterfaces(ctx, []int{ifs[0].ID, ifs[1].ID}), "delete interfaces")
	read, err = c.VMInterfaces(ctx, vm.ID)
	s.must(err == nil && len(read) == 0, "interfaces left: %+v %v", read, err)
	// The interfaces' MAC address objects go with them (the driver never deletes one).
	var macs struct {
		Count int `json:"count"`
	}
	s.no(c.Raw(ctx, "GET", "/api/dcim/mac-addresses/?mac_address=02:00:0A:FB:00:0A&mac_address=02:00:0A:FB:00:0B", &macs), "MAC addresses")
	s.must(macs.Count == 0, "%d MAC address objects outlived their interfaces (NetBox %s)", macs.Count, rel)
}
