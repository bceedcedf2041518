package reconcile

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox/netboxtest"
)

// fixture is a driver over an in-memory NetBox on which setup has run, with one AR
// registered through it (10.70.0.10…19 of network 7, MAC 02:00:0a:46:00:0a) in a
// prefix someone else made: what audit and sync find after the driver's actions.
type fixture struct {
	t    *testing.T
	nb   *netboxtest.NetBox
	d    *driver.Driver
	info *bytes.Buffer
	oned *onetest.Oned // what oned holds now
}

func newFixture(t *testing.T, configure ...func(*config.Config)) *fixture {
	t.Helper()
	cfg := config.Config{Name: "netbox", Tag: "opennebula", Gateway: "first", Release: "delete", LeaseMAC: "now", Timeout: 10 * time.Second,
		StateDir: t.TempDir()} // never the front-end's state folder
	for _, c := range configure {
		c(&cfg)
	}
	f := &fixture{t: t, nb: netboxtest.New(), info: &bytes.Buffer{}, oned: onetest.New()}
	f.d = driver.New(cfg, f.nb, f.oned, f.info)
	if _, err := f.d.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.nb.Calls = nil
	return f
}

// registered is a fixture with the AR registered: the attributes oned stores.
func registered(t *testing.T, configure ...func(*config.Config)) (*fixture, mapping.Attrs) {
	f := newFixture(t, configure...)
	if _, err := f.nb.CreatePrefix(context.Background(), netbox.PrefixSpec{Prefix: "10.70.0.0/24"}); err != nil {
		t.Fatal(err)
	}
	resp, err := f.d.Register(context.Background(), request(onetest.Attrs("TYPE=IP4", "IP=10.70.0.10", "SIZE=10", "MAC=02:00:0a:46:00:0a")))
	if err != nil {
		t.Fatal(err)
	}
	f.nb.Calls = nil
	return f, append(resp.AR, mapping.Attr{Name: mapping.AttrARID, Value: "0"})
}

func vmsOn(c *config.Config) { c.VMs = config.VMs{Enabled: true, ClusterType: "OpenNebula"} }

// vmFixture is the AR with vms.enabled, two leases (10.70.0.10 and .11) and an oned
// that knows network 7 (in cluster 100) and clusters 100 and 101.
func vmFixture(t *testing.T) (*fixture, mapping.Attrs) {
	f, ar := registered(t, vmsOn)
	for i := 0; i < 2; i++ {
		f.lease(ar)
	}
	f.setVNet(strings.Replace(onetest.VNetXML(ar), "<NAME>cloud</NAME>", "<NAME>cloud</NAME><CLUSTERS><ID>100</ID></CLUSTERS>", 1))
	f.oned.SetCluster("100", "default")
	f.oned.SetCluster("101", "edge")
	f.nb.Calls = nil
	return f, ar
}

func request(ar mapping.Attrs, addr ...string) driver.Request {
	return driver.Request{ID: "41", Request: mapping.Request{AR: ar, Address: onetest.Attrs(addr...)}}
}

// lease is get_address of one address of the AR.
func (f *fixture) lease(ar mapping.Attrs) {
	f.t.Helper()
	if _, err := f.d.GetAddress(context.Background(), request(ar, "SIZE=1")); err != nil {
		f.t.Fatal(err)
	}
}

// addr is the address object NetBox holds at ip (any VRF), or nil.
func (f *fixture) addr(ip string) *netbox.IPAddress {
	for _, a := range f.nb.Addresses {
		if p, err := a.Addr(); err == nil && p.String() == ip {
			return a
		}
	}
	return nil
}

// take puts an address someone else made (or the driver's, with owned) into NetBox.
func (f *fixture) take(ip string, owned bool) netbox.IPAddress {
	f.t.Helper()
	s := netbox.IPAddressSpec{Address: ip + "/24", Description: "someone's"}
	if owned {
		s.Tags = f.d.Tags()
	}
	got, err := f.nb.CreateIPAddresses(context.Background(), []netbox.IPAddressSpec{s})
	if err != nil {
		f.t.Fatal(err)
	}
	return got[0]
}

// hook runs the VM hook for vm, which is what oned holds now.
func (f *fixture) hook(ctx context.Context, vm mapping.VM) (driver.HookResponse, error) {
	f.oned.SetVM(vm)
	return f.d.Hook(ctx, vm.ID)
}

func (f *fixture) setVNet(docs ...string) { f.t.Helper(); f.oned.SetVNetXML(f.t, docs...) }

func (f *fixture) doc(id string) string { f.t.Helper(); return f.oned.Doc(f.t, id) }

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
