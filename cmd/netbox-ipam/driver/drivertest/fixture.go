// Package drivertest is the unit tests' driver for the packages built on it (hooks,
// reconcile): a driver.Driver over netbox/netboxtest's in-memory NetBox and onetest's
// in-memory oned, with one AR registered through it as oned would have it. (The
// driver package's own tests keep an internal fixture: they reach its unexported
// state, and a package's tests cannot import a package that imports it.)
package drivertest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox/netboxtest"
)

// Fixture is a driver over an in-memory NetBox on which setup has run.
type Fixture struct {
	T    testing.TB
	NB   *netboxtest.NetBox
	D    *driver.Driver
	Info *bytes.Buffer // the driver's INFO lines (oned.log)
	Oned *onetest.Oned // what oned holds now
	Cfg  config.Config // the driver's configuration
}

// New is a fixture with the unit tests' configuration (tag opennebula, a state
// folder of the test's own), changed by configure.
func New(t testing.TB, configure ...func(*config.Config)) *Fixture {
	t.Helper()
	cfg := config.Config{Name: "netbox", Tag: "opennebula", Gateway: "first", Release: "delete", LeaseMAC: "now", Timeout: 10 * time.Second,
		StateDir: t.TempDir()} // never the front-end's state folder
	for _, c := range configure {
		c(&cfg)
	}
	f := &Fixture{T: t, NB: netboxtest.New(), Info: &bytes.Buffer{}, Oned: onetest.New(), Cfg: cfg}
	f.D = driver.New(cfg, f.NB, f.Oned, f.Info)
	if _, err := f.D.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.NB.Calls = nil
	return f
}

// VMs turns vms.enabled on (NetBox virtual machines in clusters of type OpenNebula).
func VMs(c *config.Config) { c.VMs = config.VMs{Enabled: true, ClusterType: "OpenNebula"} }

// Registered is a fixture with one AR of 10 addresses registered (10.70.0.10…19 of
// network 7, MAC 02:00:0a:46:00:0a) in a prefix someone else made, and the AR's
// attributes as oned stores them.
func Registered(t testing.TB, configure ...func(*config.Config)) (*Fixture, mapping.Attrs) {
	t.Helper()
	f := New(t, configure...)
	if _, err := f.NB.CreatePrefix(context.Background(), netbox.PrefixSpec{Prefix: "10.70.0.0/24"}); err != nil {
		t.Fatal(err)
	}
	resp, err := f.D.Register(context.Background(), Request(onetest.Attrs("TYPE=IP4", "IP=10.70.0.10", "SIZE=10", "MAC=02:00:0a:46:00:0a")))
	if err != nil {
		t.Fatal(err)
	}
	f.NB.Calls = nil
	return f, append(resp.AR, mapping.Attr{Name: mapping.AttrARID, Value: "0"})
}

// WithVMs is the AR with vms.enabled, two leases (10.70.0.10 and .11) and an oned that
// knows network 7 (in cluster 100) and clusters 100 and 101.
func WithVMs(t testing.TB) (*Fixture, mapping.Attrs) {
	t.Helper()
	f, ar := Registered(t, VMs)
	for i := 0; i < 2; i++ {
		f.Lease(ar)
	}
	f.SetVNet(strings.Replace(onetest.VNetXML(ar), "<NAME>cloud</NAME>", "<NAME>cloud</NAME><CLUSTERS><ID>100</ID></CLUSTERS>", 1))
	f.Oned.SetCluster("100", "default")
	f.Oned.SetCluster("101", "edge")
	f.NB.Calls = nil
	return f, ar
}

// Request is oned's request 41 for the AR (and the ADDRESS attributes addr).
func Request(ar mapping.Attrs, addr ...string) driver.Request {
	return driver.Request{ID: "41", Request: mapping.Request{AR: ar, Address: onetest.Attrs(addr...)}}
}

// Lease is get_address of one address of the AR.
func (f *Fixture) Lease(ar mapping.Attrs) {
	f.T.Helper()
	if _, err := f.D.GetAddress(context.Background(), Request(ar, "SIZE=1")); err != nil {
		f.T.Fatal(err)
	}
}

// Addr is the address object NetBox holds at ip (any VRF), or nil.
func (f *Fixture) Addr(ip string) *netbox.IPAddress {
	for _, a := range f.NB.Addresses {
		if p, err := a.Addr(); err == nil && p.String() == ip {
			return a
		}
	}
	return nil
}

// Take puts an address someone else made (or the driver's, with owned) into NetBox.
func (f *Fixture) Take(ip string, owned bool) netbox.IPAddress {
	f.T.Helper()
	s := netbox.IPAddressSpec{Address: ip + "/24", Description: "someone's"}
	if owned {
		s.Tags = f.D.Tags()
	}
	got, err := f.NB.CreateIPAddresses(context.Background(), []netbox.IPAddressSpec{s})
	if err != nil {
		f.T.Fatal(err)
	}
	return got[0]
}

// SetVNet puts the networks of docs (`onevnet show -x`) into oned.
func (f *Fixture) SetVNet(docs ...string) { f.T.Helper(); f.Oned.SetVNetXML(f.T, docs...) }

// Doc is the `onevnet show -x` document of network id as oned holds it now.
func (f *Fixture) Doc(id string) string { f.T.Helper(); return f.Oned.Doc(f.T, id) }

// KindOf names how an error will be reported: input, conflict, state, refused,
// setup, netbox, opennebula, internal ("" for none).
func KindOf(err error) string {
	var in *mapping.InputError
	var de *driver.Error
	var ne *netbox.Error
	var oe *opennebula.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &in):
		return "input"
	case errors.As(err, &de):
		return map[driver.Kind]string{driver.Conflict: "conflict", driver.State: "state", driver.Refused: "refused", driver.Setup: "setup"}[de.Kind]
	case errors.As(err, &ne):
		return "netbox"
	case errors.As(err, &oe):
		return "opennebula"
	}
	return "internal"
}
