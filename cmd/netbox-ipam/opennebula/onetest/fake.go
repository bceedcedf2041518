// Package onetest is an in-memory oned behind opennebula.Client, for unit tests. It
// behaves as oned does where the driver relies on it: an object it does not hold is
// gone (opennebula.IsGone), ids must be numbers, UpdateAR applies the new attributes
// the way AddressRange::update_attributes does, and every read hands out a copy.
// Where it differs from oned, the end-to-end suite (integration/e2e) runs the same
// path through the real one.
package onetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// Oned is the fake. Set its objects with the Set methods (or fill the maps before
// the first call); Calls records every call in order ("VM 42", "UpdateAR 7 0").
type Oned struct {
	mu       sync.Mutex
	vms      map[string]mapping.VM
	vnets    map[string]mapping.VNet
	clusters map[string]string
	vrouters map[string]mapping.VRouter
	hooks    []fakeHook
	nextHook int

	User  opennebula.User // Self's answer (oneadmin unless set)
	Raft  int             // RaftState's answer (0: solo)
	Calls []string
	// Before, when set, runs before each call (outside the fake's lock) with its
	// record in Calls; an error it returns is the call's: oned refusing or failing.
	// After runs once the call has its answer. Both may change the fake: oned moving
	// between two reads.
	Before func(call string) error
	After  func(call string)
}

type fakeHook struct {
	opennebula.Hook
	template string
}

// New is an oned with nothing but its oneadmin user.
func New() *Oned {
	return &Oned{vms: map[string]mapping.VM{}, vnets: map[string]mapping.VNet{}, clusters: map[string]string{},
		vrouters: map[string]mapping.VRouter{}, User: opennebula.User{Name: "oneadmin", Admin: true}}
}

// SetVM puts VMs as oned holds them now; DeleteVM purges one.
func (o *Oned) SetVM(vms ...mapping.VM) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, v := range vms {
		o.vms[v.ID] = v
	}
}

func (o *Oned) DeleteVM(id string) { o.mu.Lock(); delete(o.vms, id); o.mu.Unlock() }

// SetVNet puts networks; DeleteVNet removes one.
func (o *Oned) SetVNet(vs ...mapping.VNet) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, v := range vs {
		o.vnets[v.ID] = copyVNet(v)
	}
}

func (o *Oned) DeleteVNet(id string) { o.mu.Lock(); delete(o.vnets, id); o.mu.Unlock() }

// SetCluster names a cluster; SetVRouter puts a virtual router.
func (o *Oned) SetCluster(id, name string) { o.mu.Lock(); o.clusters[id] = name; o.mu.Unlock() }

func (o *Oned) SetVRouter(v mapping.VRouter) { o.mu.Lock(); o.vrouters[v.ID] = v; o.mu.Unlock() }

// Count is how many calls started with prefix ("VM", "UpdateAR").
func (o *Oned) Count(prefix string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, c := range o.Calls {
		if c == prefix || strings.HasPrefix(c, prefix+" ") {
			n++
		}
	}
	return n
}

// Requests is how many calls the fake has answered or refused.
func (o *Oned) Requests() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.Calls)
}

// HookList is the hooks oned holds, with their templates as last written.
func (o *Oned) HookList() map[string]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string]string{}
	for _, h := range o.hooks {
		out[h.Name] = h.template
	}
	return out
}

// do records call, runs Before, checks the ids, runs fn under the fake's lock, then
// After.
func (o *Oned) do(call string, ids []string, fn func() error) error {
	o.mu.Lock()
	o.Calls = append(o.Calls, call)
	before, after := o.Before, o.After
	o.mu.Unlock()
	if before != nil {
		if err := before(call); err != nil {
			return err
		}
	}
	for _, id := range ids {
		if err := opennebula.CheckID("object", id); err != nil {
			return err
		}
	}
	o.mu.Lock()
	err := fn()
	o.mu.Unlock()
	if after != nil {
		after(call)
	}
	return err
}

// gone is oned's answer for an object it does not hold.
func gone(method, kind, id string) error {
	return &opennebula.Error{Msg: fmt.Sprintf("oned refused %s: [%s] Error getting %s [%s].", method, method, kind, id), Gone: true}
}

func (o *Oned) VM(_ context.Context, id string) (mapping.VM, error) {
	var out mapping.VM
	err := o.do("VM "+id, []string{id}, func() error {
		v, ok := o.vms[id]
		if !ok {
			return gone("one.vm.info", "virtual machine", id)
		}
		out = copyVM(v)
		return nil
	})
	return out, err
}

// copyVM is a VM that shares no slice with the fake's.
func copyVM(v mapping.VM) mapping.VM {
	v.NICs, v.Aliases, v.PCI = slices.Clone(v.NICs), slices.Clone(v.Aliases), slices.Clone(v.PCI)
	return v
}

// VMs records "VMs 41 42": those oned holds and has not terminated, as the pool read
// with state -1 lists them.
func (o *Oned) VMs(_ context.Context, ids []string) ([]mapping.VM, error) {
	var out []mapping.VM
	err := o.do("VMs "+strings.Join(ids, " "), ids, func() error {
		seen := map[string]bool{}
		for _, id := range ids {
			v, ok := o.vms[id]
			if !ok || v.Done() || seen[id] {
				continue
			}
			seen[id] = true
			out = append(out, copyVM(v))
		}
		return nil
	})
	return out, err
}

func (o *Oned) VNet(_ context.Context, id string) (mapping.VNet, error) {
	var out mapping.VNet
	err := o.do("VNet "+id, []string{id}, func() error {
		v, ok := o.vnets[id]
		if !ok {
			return gone("one.vn.info", "virtual network", id)
		}
		out = copyVNet(v)
		return nil
	})
	return out, err
}

func (o *Oned) VNetIDs(context.Context) ([]string, error) {
	var out []string
	err := o.do("VNetIDs", nil, func() error {
		var ids []string
		for id := range o.vnets {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, b string) int { n, _ := strconv.Atoi(a); m, _ := strconv.Atoi(b); return n - m })
		out = ids
		return nil
	})
	return out, err
}

func (o *Oned) ClusterName(_ context.Context, id string) (string, error) {
	var out string
	err := o.do("ClusterName "+id, []string{id}, func() error {
		name, ok := o.clusters[id]
		if !ok {
			return gone("one.cluster.info", "cluster", id)
		}
		out = name
		return nil
	})
	return out, err
}

func (o *Oned) VRouter(_ context.Context, id string) (mapping.VRouter, error) {
	var out mapping.VRouter
	err := o.do("VRouter "+id, []string{id}, func() error {
		v, ok := o.vrouters[id]
		if !ok {
			return gone("one.vrouter.info", "virtual router", id)
		}
		v.NICs, v.VMs = slices.Clone(v.NICs), slices.Clone(v.VMs)
		out = v
		return nil
	})
	return out, err
}

func (o *Oned) Self(context.Context) (opennebula.User, error) {
	var out opennebula.User
	err := o.do("Self", nil, func() error {
		out = o.User
		return nil
	})
	return out, err
}

func (o *Oned) RaftState(context.Context) (int, error) {
	var out int
	err := o.do("RaftState", nil, func() error {
		out = o.Raft
		return nil
	})
	return out, err
}

func (o *Oned) Hooks(context.Context) ([]opennebula.Hook, error) {
	var out []opennebula.Hook
	err := o.do("Hooks", nil, func() error {
		for _, h := range o.hooks {
			out = append(out, h.Hook)
		}
		return nil
	})
	return out, err
}

// hookAttr reads NAME = "…" and the like from a hook template.
var hookAttr = regexp.MustCompile(`(?m)^\s*([A-Z_]+)\s*=\s*"((?:[^"\\]|\\.)*)"`)

func parseHook(id int, template string) (fakeHook, error) {
	h := fakeHook{Hook: opennebula.Hook{ID: strconv.Itoa(id)}, template: template}
	for _, m := range hookAttr.FindAllStringSubmatch(template, -1) {
		switch m[1] {
		case "NAME":
			h.Name = m[2]
		case "COMMAND":
			h.Command = m[2]
		case "TIMEOUT":
			h.Timeout = m[2]
		}
	}
	if h.Name == "" || h.Command == "" {
		return h, &opennebula.Error{Msg: "oned refused one.hook.allocate: [one.hook.allocate] Missing NAME or COMMAND"}
	}
	return h, nil
}

func (o *Oned) CreateHook(_ context.Context, template string) error {
	return o.do("CreateHook", nil, func() error {
		h, err := parseHook(o.nextHook, template)
		if err != nil {
			return err
		}
		o.nextHook++
		o.hooks = append(o.hooks, h)
		return nil
	})
}

func (o *Oned) UpdateHook(_ context.Context, id, template string) error {
	return o.do("UpdateHook "+id, []string{id}, func() error {
		for i, h := range o.hooks {
			if h.ID == id {
				n, _ := strconv.Atoi(id)
				nh, err := parseHook(n, template)
				if err != nil {
					return err
				}
				nh.Name = h.Name // oned renames a hook only through one.hook.rename
				o.hooks[i] = nh
				return nil
			}
		}
		return gone("one.hook.update", "hook", id)
	})
}

func (o *Oned) DeleteHook(_ context.Context, id string) error {
	return o.do("DeleteHook "+id, []string{id}, func() error {
		for i, h := range o.hooks {
			if h.ID == id {
				o.hooks = slices.Delete(o.hooks, i, i+1)
				return nil
			}
		}
		return gone("one.hook.delete", "hook", id)
	})
}

// UpdateAR applies attrs as AddressRange::update_attributes does (update_ar without
// append, src/vnm/AddressRange.cc): the new attributes replace the AR's all, but TYPE,
// MAC, IP and AR_ID, which stay whatever attrs say; the attributes oned computes are
// not taken; a SIZE that would leave a lease outside the AR is refused, and the AR
// keeps its SIZE when attrs give none.
func (o *Oned) UpdateAR(_ context.Context, vnet, arID string, attrs mapping.Attrs) error {
	return o.do("UpdateAR "+vnet+" "+arID, []string{vnet, arID}, func() error {
		v, ok := o.vnets[vnet]
		if !ok {
			return gone("one.vn.update_ar", "virtual network", vnet)
		}
		for i, ar := range v.ARs {
			if ar.Attrs.Get(mapping.AttrARID) != arID {
				continue
			}
			if err := mapping.Echoable(attrs); err != nil {
				return err
			}
			out, err := updateAttributes(ar, attrs)
			if err != nil {
				return &opennebula.Error{Msg: "oned refused one.vn.update_ar: " + err.Error()}
			}
			v.ARs[i].Attrs = out
			o.vnets[vnet] = v
			return nil
		}
		return &opennebula.Error{Msg: "oned refused one.vn.update_ar: Address Range does not exist"}
	})
}

// kept are the attributes oned copies from the AR whatever the update says (IPAM_MAD
// when the AR has one; a reservation's PARENT_NETWORK_AR_ID).
var kept = []string{mapping.AttrType, mapping.AttrMAC, mapping.AttrIP, mapping.AttrARID, mapping.AttrIPAMMAD, mapping.AttrParentARID}

func updateAttributes(ar mapping.AR, up mapping.Attrs) (mapping.Attrs, error) {
	out := mapping.Attrs{}
	for _, a := range up {
		// oned takes neither what it computes nor a parent from the caller (kept
		// copies the reservation's own back).
		if !mapping.ComputedAR(a.Name) && a.Name != "LEASES" && a.Name != mapping.AttrParentARID {
			out = out.Set(a.Name, a.Value)
		}
	}
	for _, keep := range kept {
		if v := ar.Attrs.Get(keep); v != "" {
			out = out.Set(keep, v)
		}
	}
	size := out.Get(mapping.AttrSize)
	if size == "" {
		return out.Set(mapping.AttrSize, ar.Attrs.Get(mapping.AttrSize)), nil
	}
	if ar.Attrs.Get(mapping.AttrParentARID) != "" && size != ar.Attrs.Get(mapping.AttrSize) {
		return nil, errors.New("The SIZE of a reservation cannot be changed.")
	}
	n, err := strconv.Atoi(size)
	if err != nil {
		return nil, err
	}
	span, err := mapping.ParseSpan("AR", out.Get("IP"), n)
	if err != nil {
		return nil, err
	}
	for _, l := range ar.Leases {
		if a, err := netip.ParseAddr(l.IP); err == nil && !span.Has(a) {
			return nil, errors.New("New SIZE cannot be applied. There are used leases that would fall outside the range.")
		}
	}
	return out, nil
}

func copyVNet(v mapping.VNet) mapping.VNet {
	v.ARs = slices.Clone(v.ARs)
	for i := range v.ARs {
		v.ARs[i].Attrs = slices.Clone(v.ARs[i].Attrs)
		v.ARs[i].Leases = slices.Clone(v.ARs[i].Leases)
	}
	v.Clusters = slices.Clone(v.Clusters)
	return v
}

var _ opennebula.Client = (*Oned)(nil)
