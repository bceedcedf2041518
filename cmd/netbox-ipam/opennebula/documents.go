package opennebula

import (
	"context"
	"encoding/xml"
	"errors"
	"maps"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// transport is how a document is fetched from oned or a change sent to it; XML-RPC
// and the CLI both give the very documents `one<object> show -x` prints, so one set
// of parsers (documents) serves both. object is oned's name for the kind in its API
// (vm, vn, cluster, vrouter, user).
type transport interface {
	info(ctx context.Context, object string, id int) ([]byte, error)
	pool(ctx context.Context, object string) ([]byte, error) // vn, hook: everything
	// vmRange lists the VMs with ids from start to end but DONE ones, or errNoRange.
	vmRange(ctx context.Context, start, end int) ([]byte, error)
	raft(ctx context.Context) ([]byte, error)
	createHook(ctx context.Context, template string) error
	updateHook(ctx context.Context, id int, template string) error
	deleteHook(ctx context.Context, id int) error
	updateAR(ctx context.Context, vnet, ar int, template string) error
}

// documents is the Client over a transport: ids checked, answers parsed, requests
// counted.
type documents struct {
	t transport
	n *atomic.Int64
}

func newDocuments(t transport) documents {
	n := new(atomic.Int64)
	return documents{counted{t, n}, n}
}

func (c documents) Requests() int { return int(c.n.Load()) }

// counted counts the requests a transport sends.
type counted struct {
	t transport
	n *atomic.Int64
}

func (c counted) info(ctx context.Context, object string, id int) ([]byte, error) {
	c.n.Add(1)
	return c.t.info(ctx, object, id)
}

func (c counted) pool(ctx context.Context, object string) ([]byte, error) {
	c.n.Add(1)
	return c.t.pool(ctx, object)
}

// errNoRange: the transport lists no range of VMs (the CLI).
var errNoRange = errors.New("no VM range listing")

func (c counted) vmRange(ctx context.Context, start, end int) ([]byte, error) {
	doc, err := c.t.vmRange(ctx, start, end)
	if !errors.Is(err, errNoRange) {
		c.n.Add(1)
	}
	return doc, err
}

func (c counted) raft(ctx context.Context) ([]byte, error) {
	c.n.Add(1)
	return c.t.raft(ctx)
}

func (c counted) createHook(ctx context.Context, template string) error {
	c.n.Add(1)
	return c.t.createHook(ctx, template)
}

func (c counted) updateHook(ctx context.Context, id int, template string) error {
	c.n.Add(1)
	return c.t.updateHook(ctx, id, template)
}

func (c counted) deleteHook(ctx context.Context, id int) error {
	c.n.Add(1)
	return c.t.deleteHook(ctx, id)
}

func (c counted) updateAR(ctx context.Context, vnet, ar int, template string) error {
	c.n.Add(1)
	return c.t.updateAR(ctx, vnet, ar, template)
}

func (c documents) VM(ctx context.Context, id string) (mapping.VM, error) {
	doc, err := c.info(ctx, "vm", "virtual machine", id)
	if err != nil {
		return mapping.VM{}, err
	}
	return mapping.ParseVM(doc)
}

// A range read lists every VM between its first and last id, those asked for or not:
// a run of ids stops at a gap wider than vmRunGap, and spans vmRunSpan ids at most (a
// few MB of documents).
const (
	vmRunGap  = 16
	vmRunSpan = 256
)

func (c documents) VMs(ctx context.Context, ids []string) ([]mapping.VM, error) {
	want := map[int]bool{}
	for _, id := range ids {
		n, err := objectID("virtual machine", id)
		if err != nil {
			return nil, err
		}
		want[n] = true
	}
	nums := slices.Sorted(maps.Keys(want))
	var out []mapping.VM
	for len(nums) > 0 {
		end := 1
		for end < len(nums) && nums[end]-nums[end-1] <= vmRunGap && nums[end]-nums[0] < vmRunSpan {
			end++
		}
		doc, err := c.t.vmRange(ctx, nums[0], nums[end-1])
		if errors.Is(err, errNoRange) {
			return c.eachVM(ctx, nums)
		}
		if err != nil {
			return nil, err
		}
		vms, err := mapping.ParseVMPool(doc)
		if err != nil {
			return nil, err
		}
		for _, v := range vms { // the run's VMs asked for, each once
			if n, err := strconv.Atoi(v.ID); err == nil && want[n] && n >= nums[0] && n <= nums[end-1] {
				out = append(out, v)
			}
		}
		nums = nums[end:]
	}
	return out, nil
}

// eachVM is VMs one VM at a time.
func (c documents) eachVM(ctx context.Context, nums []int) ([]mapping.VM, error) {
	var out []mapping.VM
	for _, n := range nums {
		v, err := c.VM(ctx, strconv.Itoa(n))
		switch {
		case IsGone(err):
		case err != nil:
			return nil, err
		case !v.Done():
			out = append(out, v)
		}
	}
	return out, nil
}

func (c documents) VNet(ctx context.Context, id string) (mapping.VNet, error) {
	doc, err := c.info(ctx, "vn", "virtual network", id)
	if err != nil {
		return mapping.VNet{}, err
	}
	vs, err := mapping.ParseVNets(doc)
	if err != nil {
		return mapping.VNet{}, err
	}
	if len(vs) != 1 || vs[0].ID != id {
		return mapping.VNet{}, errorf("oned answered %d networks for network %s", len(vs), id)
	}
	return vs[0], nil
}

func (c documents) VNetIDs(ctx context.Context) ([]string, error) {
	doc, err := c.t.pool(ctx, "vn")
	if err != nil {
		return nil, err
	}
	vs, err := mapping.ParseVNetPool(doc)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = v.ID
	}
	return ids, nil
}

func (c documents) ClusterName(ctx context.Context, id string) (string, error) {
	doc, err := c.info(ctx, "cluster", "cluster", id)
	if err != nil {
		return "", err
	}
	var cl struct {
		Name string `xml:"NAME"`
	}
	if err := xml.Unmarshal(doc, &cl); err != nil || cl.Name == "" {
		return "", errorf("cluster %s: no cluster name in %q", id, mapping.OneLine(string(doc)))
	}
	return mapping.OneLine(cl.Name), nil
}

func (c documents) VRouter(ctx context.Context, id string) (mapping.VRouter, error) {
	doc, err := c.info(ctx, "vrouter", "virtual router", id)
	if err != nil {
		return mapping.VRouter{}, err
	}
	return mapping.ParseVRouter(doc)
}

func (c documents) Self(ctx context.Context) (User, error) {
	doc, err := c.t.info(ctx, "user", -1)
	if err != nil {
		return User{}, err
	}
	return parseUser(doc)
}

// parseUser reads a USER document: its name and whether group 0 is among its groups.
func parseUser(doc []byte) (User, error) {
	var u struct {
		Name   string   `xml:"NAME"`
		GID    string   `xml:"GID"`
		Groups []string `xml:"GROUPS>ID"`
	}
	if err := xml.Unmarshal(doc, &u); err != nil || u.Name == "" {
		return User{}, errorf("oned's user document has no NAME")
	}
	admin := u.GID == OneadminGroup
	for _, g := range u.Groups {
		admin = admin || g == OneadminGroup
	}
	return User{Name: u.Name, Admin: admin}, nil
}

func (c documents) RaftState(ctx context.Context) (int, error) {
	doc, err := c.t.raft(ctx)
	if err != nil {
		return 0, err
	}
	var raft struct {
		State *int `xml:"STATE"`
	}
	if err := xml.Unmarshal(doc, &raft); err != nil || raft.State == nil {
		return 0, errorf("oned's RAFT status has no STATE")
	}
	return *raft.State, nil
}

func (c documents) Hooks(ctx context.Context) ([]Hook, error) {
	doc, err := c.t.pool(ctx, "hook")
	if err != nil {
		return nil, err
	}
	var pool struct {
		Hooks []Hook `xml:"HOOK"`
	}
	if err := xml.Unmarshal(doc, &pool); err != nil {
		return nil, errorf("oned's hook pool is not readable: %v", err)
	}
	return pool.Hooks, nil
}

func (c documents) CreateHook(ctx context.Context, template string) error {
	return c.t.createHook(ctx, template)
}

func (c documents) UpdateHook(ctx context.Context, id, template string) error {
	n, err := objectID("hook", id)
	if err != nil {
		return err
	}
	return c.t.updateHook(ctx, n, template)
}

func (c documents) DeleteHook(ctx context.Context, id string) error {
	n, err := objectID("hook", id)
	if err != nil {
		return err
	}
	return c.t.deleteHook(ctx, n)
}

func (c documents) UpdateAR(ctx context.Context, vnet, arID string, attrs mapping.Attrs) error {
	n, err := objectID("virtual network", vnet)
	if err != nil {
		return err
	}
	ar, err := objectID("address range", arID)
	if err != nil {
		return err
	}
	if err := mapping.Echoable(attrs); err != nil {
		return err
	}
	vector := mapping.Attrs{{Name: mapping.AttrARID, Value: arID}}
	for _, a := range attrs {
		if a.Name != mapping.AttrARID {
			vector = append(vector, a)
		}
	}
	var tpl mapping.Template
	tpl.Vector("AR", vector)
	return c.t.updateAR(ctx, n, ar, tpl.String())
}

// info fetches the document of object id (kind names it in an error).
func (c documents) info(ctx context.Context, object, kind, id string) ([]byte, error) {
	n, err := objectID(kind, id)
	if err != nil {
		return nil, err
	}
	return c.t.info(ctx, object, n)
}
