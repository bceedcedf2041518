package hooks

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// Hooks runs the hooks over one driver: its configuration, NetBox and OpenNebula.
type Hooks struct {
	d    *driver.Driver
	cfg  config.Config
	nb   driver.Backend
	oned opennebula.Client
	lock Locker
	// gate says whether this front-end's hooks act (driver.Driver.HookGate), asked
	// where a hook would change NetBox (skip).
	gate  func(context.Context) (driver.Gate, error)
	spool string // the labels' queue (spool.go), in the state folder
	// wait is how the drainer waits for a batch to gather (spool.go): a timer, or a
	// test's clock moving on.
	wait  func(context.Context, time.Duration) error
	every bool // hooks() lists every hook, whatever the configuration wants (RemoveHooks)
}

// New is the hooks of driver d, locking with files in its state folder.
func New(d *driver.Driver) *Hooks {
	h := &Hooks{d: d, cfg: d.Config(), nb: d.NetBox(), oned: d.OpenNebula(), spool: filepath.Join(d.Config().StateDir, "spool-"+d.Config().Name)}
	h.lock, h.wait, h.gate = h.fileLock, sleep, d.HookGate
	return h
}

// WithWait replaces the drainer's timer (a test moves the driver's clock on instead).
func (h *Hooks) WithWait(wait func(context.Context, time.Duration) error) *Hooks {
	h.wait = wait
	return h
}

// WithLocker replaces the file locks (a test orders two hooks by its own).
func (h *Hooks) WithLocker(l Locker) *Hooks { h.lock = l; return h }

// skip asks the gate: stop when this front-end's hooks must do nothing (resp says why)
// or it cannot tell (err).
func (h *Hooks) skip(ctx context.Context) (resp HookResponse, stop bool, err error) {
	g, err := h.gate(ctx)
	return HookResponse{Skipped: g.Skip}, err != nil || g.Skip != "", err
}

// nothing is the answer of a hook with nothing to do, saying why on a front-end whose
// hooks do not act (a follower's hook of a call it forwarded): the leader's hook acts.
func (h *Hooks) nothing(ctx context.Context) (HookResponse, error) {
	g, _ := h.gate(ctx) // nothing is done either way: oned failing is no error here
	return HookResponse{Skipped: g.Skip}, nil
}

// Call is one hook's work, or one sync's work on NetBox virtual machines: the driver's
// call (what it created and removed) and what it looked up once for all the VMs it
// handles.
type Call struct {
	*driver.Call
	*Hooks
	ars map[[2]string]*leasedNIC // the NICs' ARs: (network, AR) → range and VRF, nil when not the driver's
	// clusters are the driver's NetBox clusters looked up, by OpenNebula cluster (a
	// zero Cluster: none).
	clusters map[string]netbox.Cluster
	// tenants are the NetBox tenants looked up, by slug (0: NetBox has none such).
	tenants map[string]int
}

// Begin starts a call.
func (h *Hooks) Begin() *Call { return &Call{Call: h.d.Begin(""), Hooks: h} }

func (h *Hooks) infof(format string, a ...any) { h.d.Infof(format, a...) }

func inputf(format string, a ...any) error {
	return &mapping.InputError{Msg: fmt.Sprintf(format, a...)}
}
