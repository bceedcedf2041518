package hooks

import (
	"context"
	"strconv"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver/drivertest"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// fixture is drivertest's driver and its hooks.
type fixture struct {
	*drivertest.Fixture
	h *Hooks
}

func withHooks(d *drivertest.Fixture) *fixture { return &fixture{d, New(d.D)} }

func newFixture(t *testing.T, configure ...func(*config.Config)) *fixture {
	return withHooks(drivertest.New(t, configure...))
}

// registered is a fixture with drivertest's AR (10.70.0.10…19 of network 7).
func registered(t *testing.T, configure ...func(*config.Config)) (*fixture, mapping.Attrs) {
	d, ar := drivertest.Registered(t, configure...)
	return withHooks(d), ar
}

// vmFixture is the AR with vms.enabled, two leases and oned's clusters 100 and 101
// (drivertest.WithVMs).
func vmFixture(t *testing.T) (*fixture, mapping.Attrs) {
	d, ar := drivertest.WithVMs(t)
	return withHooks(d), ar
}

var (
	request = drivertest.Request
	kindOf  = drivertest.KindOf
	vmsOn   = drivertest.VMs
)

// hook runs the VM hook for vm, which is what oned holds now.
func (f *fixture) hook(ctx context.Context, vm mapping.VM) (HookResponse, error) {
	f.Oned.SetVM(vm)
	return f.h.Hook(ctx, vm.ID)
}

func itoa(n int) string { return strconv.Itoa(n) }
