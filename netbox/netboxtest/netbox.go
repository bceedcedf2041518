// Package netboxtest is an in-memory NetBox for unit tables: the subset of NetBox 4.7's
// behaviour the driver relies on (unique addresses per VRF, non-overlapping ranges per
// VRF, available-ips and available-prefixes under one lock, 404 on what is gone,
// custom fields that must exist), with faults to inject: a refusal, a lost answer (the
// request took effect, the answer never came), or another client acting first.
// Integration tests run against a real NetBox; this one answers in microseconds and
// on demand fails exactly where a test wants.
package netboxtest

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// NetBox is the in-memory server. Its maps are exported so that tests set up and read
// state directly; lock-free access is fine while no call runs.
type NetBox struct {
	mu     sync.Mutex
	nextID int

	Prefixes  map[int]*netbox.Prefix
	Ranges    map[int]*netbox.IPRange
	Addresses map[int]*netbox.IPAddress
	Refs      map[string][]netbox.Ref // "vrf", "tenant", "role", "site"
	Tags      map[string]netbox.Tag
	Fields    map[string]netbox.CustomField
	// Virtualization: cluster types by slug, clusters, VMs, VM interfaces.
	ClusterTypes map[string]netbox.Ref
	Clusters     map[int]*netbox.Cluster
	VMs          map[int]*netbox.VirtualMachine
	Interfaces   map[int]*netbox.VMInterface
	Denied       map[string]bool // "METHOD /api/path/" the token may not do
	Version      string
	// Now is NetBox's clock, which stamps each address's created (nil: the time now).
	Now func() time.Time

	faults []Fault
	// Calls lists the operations called, in order (a lost answer's too).
	Calls []string
}

// Fault changes one future call of Op (the method name): Before runs first (another
// client acting just before it), then the call fails with Err, before doing anything
// or, with After, once done (the answer is lost).
type Fault struct {
	Op     string
	Err    error
	After  bool
	Before func(n *NetBox)
}

// New is an empty NetBox 4.7.3.
func New() *NetBox {
	return &NetBox{Prefixes: map[int]*netbox.Prefix{}, Ranges: map[int]*netbox.IPRange{}, Addresses: map[int]*netbox.IPAddress{},
		Refs: map[string][]netbox.Ref{}, Tags: map[string]netbox.Tag{}, Fields: map[string]netbox.CustomField{},
		ClusterTypes: map[string]netbox.Ref{}, Clusters: map[int]*netbox.Cluster{}, VMs: map[int]*netbox.VirtualMachine{},
		Interfaces: map[int]*netbox.VMInterface{}, Denied: map[string]bool{}, Version: "4.7.3", nextID: 100}
}

func (n *NetBox) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// Inject queues faults; each applies once, to the next call of its Op.
func (n *NetBox) Inject(f ...Fault) { n.faults = append(n.faults, f...) }

// Lost is the error of a request whose answer never came (netbox.Ambiguous holds).
func Lost(op string) error {
	return &netbox.Error{Kind: netbox.KindUnavailable, Op: op, Msg: "the connection to NetBox broke before it answered"}
}

// Unreachable is the error of a request that never left (no connection).
func Unreachable(op string) error {
	return &netbox.Error{Kind: netbox.KindUnavailable, Op: op, Msg: "cannot reach NetBox: connection refused"}
}

// Refused is NetBox's answer to a request it rejects with this status.
func Refused(op string, status int, msg string) error {
	kind := map[int]netbox.Kind{400: netbox.KindInvalid, 401: netbox.KindAuth, 403: netbox.KindAuth, 404: netbox.KindNotFound, 409: netbox.KindConflict}[status]
	if kind == 0 {
		kind = netbox.KindServer
	}
	return &netbox.Error{Kind: kind, Op: op, Status: status, Msg: fmt.Sprintf("HTTP %d: %s", status, msg)}
}

func notFound(op string, id int) error {
	return Refused(op, 404, "No "+op+" matches id "+strconv.Itoa(id))
}

// call runs one operation under the lock with its fault, if any.
func call[T any](n *NetBox, op string, body func() (T, error)) (T, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.Calls = append(n.Calls, op)
	var zero T
	for i, f := range n.faults {
		if f.Op != op {
			continue
		}
		n.faults = append(n.faults[:i:i], n.faults[i+1:]...)
		if f.Before != nil {
			f.Before(n)
		}
		if f.Err == nil {
			break
		}
		if !f.After {
			return zero, f.Err
		}
		if _, err := body(); err != nil {
			return zero, err
		}
		return zero, f.Err
	}
	return body()
}

func (n *NetBox) id() int { n.nextID++; return n.nextID }

// Requests counts the calls, as the real client counts HTTP requests.
// APIVersion is the API-Version NetBox answers with: its release line ("4.7").
func (n *NetBox) APIVersion() string {
	r := netbox.ParseRelease(n.Version)
	return fmt.Sprintf("%d.%d", r.Major, r.Minor)
}

func (n *NetBox) Requests() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.Calls)
}

// Count is how many calls of op were made.
func (n *NetBox) Count(op string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, x := range n.Calls {
		if x == op {
			c++
		}
	}
	return c
}

// --- helpers (called under the lock) -------------------------------------------------

func (n *NetBox) ref(kind string, id int) *netbox.Ref {
	if id == 0 {
		return nil
	}
	for _, r := range n.Refs[kind] {
		if r.ID == id {
			return &r
		}
	}
	return &netbox.Ref{ID: id}
}

func tagged(id int, tags []netbox.TagRef, cf map[string]any, desc string) netbox.Tagged {
	t := netbox.Tagged{ID: id, Description: desc, CustomFields: map[string]any{}}
	for _, x := range tags {
		t.Tags = append(t.Tags, netbox.Ref{Slug: x.Slug, Name: x.Slug})
	}
	for k, v := range cf {
		t.CustomFields[k] = v
	}
	return t
}

func (n *NetBox) checkFields(op string, cf map[string]any) error {
	for k := range cf {
		if _, ok := n.Fields[k]; !ok {
			return Refused(op, 400, "custom_fields: Unknown field name '"+k+"' in custom field data.")
		}
	}
	return nil
}

func sameVRF(r *netbox.Ref, vrf int) bool { return netbox.RefID(r) == vrf }

func hostOf(s string) netip.Addr {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr()
	}
	a, _ := netip.ParseAddr(s)
	return a
}

// sorted returns the values of m in id order (NetBox lists by id here).
func sorted[T any](m map[int]*T, keep func(*T) bool) []T {
	ids := make([]int, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	var out []T
	for _, id := range ids {
		if keep(m[id]) {
			out = append(out, *m[id])
		}
	}
	return out
}

func (n *NetBox) addressTaken(vrf int, a netip.Addr) bool {
	for _, x := range n.Addresses {
		if sameVRF(x.VRF, vrf) && hostOf(x.Address) == a {
			return true
		}
	}
	return false
}

// remove deletes object id of m: NetBox's 404 when it is gone.
func remove[T any](n *NetBox, op string, m map[int]*T, id int) error {
	_, err := call(n, op, func() (bool, error) {
		if _, ok := m[id]; !ok {
			return false, notFound(op, id)
		}
		delete(m, id)
		return true, nil
	})
	return err
}
