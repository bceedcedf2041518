package hooks

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver/drivertest"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// fixture is drivertest's driver and its hooks, on a clock of their own.
type fixture struct {
	*drivertest.Fixture
	h     *Hooks
	clock *testClock
}

func withHooks(d *drivertest.Fixture) *fixture {
	c := &testClock{at: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}
	d.D.WithClock(c.now)
	return &fixture{d, New(d.D).WithWait(c.wait), c}
}

// testClock is the driver's clock in the hooks' tests: it moves on by a microsecond
// each time it is read (spool files are named by it) and by what the drainer waits,
// at once. during, when set, runs inside each wait: a test queues VMs "meanwhile".
type testClock struct {
	mu     sync.Mutex // a test may run hooks side by side
	at     time.Time
	waited []time.Duration
	during func(wait int)
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(time.Microsecond)
	return c.at
}

func (c *testClock) wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("the drainer waits %v", d) // it would spin
	}
	c.mu.Lock()
	c.at = c.at.Add(d)
	c.waited = append(c.waited, d)
	n := len(c.waited)
	c.mu.Unlock()
	if c.during != nil {
		c.during(n)
	}
	return ctx.Err()
}

func newFixture(t *testing.T, configure ...func(*config.Config)) *fixture {
	return withHooks(drivertest.New(t, configure...))
}

// registered is a fixture with drivertest's AR (10.70.0.10…19 of network 7).
func registered(t *testing.T, configure ...func(*config.Config)) (*fixture, mapping.Attrs) {
	d, ar := drivertest.Registered(t, configure...)
	return withHooks(d), ar
}

// leased is registered with n leases taken from the AR (10.70.0.10 on) and oned
// holding the AR's network.
func leased(t *testing.T, n int, configure ...func(*config.Config)) (*fixture, mapping.Attrs) {
	t.Helper()
	f, ar := registered(t, configure...)
	for i := 0; i < n; i++ {
		if _, err := f.D.GetAddress(context.Background(), request(ar, "SIZE=1")); err != nil {
			t.Fatal(err)
		}
	}
	f.SetVNet(onetest.VNetXML(ar))
	return f, ar
}

// vmFixture is the AR with vms.enabled, two leases and oned's clusters 100 and 101
// (drivertest.WithVMs).
func vmFixture(t *testing.T) (*fixture, mapping.Attrs) {
	d, ar := drivertest.WithVMs(t)
	return withHooks(d), ar
}

// leaseVM is VM 41+n holding lease n of the fixture's AR (10.70.0.10+n).
func leaseVM(n int) mapping.VM {
	id := fmt.Sprint(41 + n)
	return mapping.VM{ID: id, Name: "vm" + id, NICs: []mapping.NIC{{ID: "0", NetworkID: "7", ARID: "0", IP: fmt.Sprintf("10.70.0.%d", 10+n), MAC: "02:00:00:00:00:" + id}}}
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
