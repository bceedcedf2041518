package reconcile

import (
	"context"
	"strconv"
	"strings"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver/drivertest"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/hooks"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// The fixture: audit and sync run over drivertest's driver, after the driver's actions
// and hooks made what they find.
type fixture = drivertest.Fixture

var (
	registered = drivertest.Registered
	vmFixture  = drivertest.WithVMs
	request    = drivertest.Request
	vmsOn      = drivertest.VMs
)

// hook runs the VM hook for vm, which is what oned holds now.
func hook(f *fixture, ctx context.Context, vm mapping.VM) (hooks.HookResponse, error) {
	f.Oned.SetVM(vm)
	return hooks.New(f.D).Hook(ctx, vm.ID)
}

// kinds are the plan's findings, "kind ip" in order, and its stale objects.
func kinds(p Plan) string {
	var out []string
	for _, r := range p.ARs {
		for _, f := range r.Findings {
			out = append(out, string(f.Kind)+" "+f.IP)
		}
	}
	for _, s := range p.Stale {
		out = append(out, "stale "+s.Kind)
	}
	return strings.Join(out, ", ")
}

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
