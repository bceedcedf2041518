package driver

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox/netboxtest"
)

var _ Backend = (*netboxtest.NetBox)(nil)

// fixture is a Driver over an in-memory NetBox on which setup has run.
type fixture struct {
	t    *testing.T
	nb   *netboxtest.NetBox
	d    *Driver
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
	f.d = New(cfg, f.nb, f.oned, f.info)
	if _, err := f.d.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.nb.Calls = nil
	return f
}

func request(ar mapping.Attrs, addr ...string) Request {
	return Request{ID: "41", Request: mapping.Request{AR: ar, Address: onetest.Attrs(addr...)}}
}

// prefix puts a prefix someone else made into NetBox.
func (f *fixture) prefix(cidr string, vrf int, cf map[string]any) netbox.Prefix {
	f.t.Helper()
	p, err := f.nb.CreatePrefix(context.Background(), netbox.PrefixSpec{Prefix: cidr, VRFID: vrf, CustomFields: cf})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// register registers an AR and returns the attributes oned would store.
func (f *fixture) register(kv ...string) mapping.Attrs {
	f.t.Helper()
	resp, err := f.d.Register(context.Background(), request(onetest.Attrs(kv...)))
	if err != nil {
		f.t.Fatalf("register %v: %v", kv, err)
	}
	return append(resp.AR, mapping.Attr{Name: mapping.AttrARID, Value: "0"})
}

// owned counts the driver's objects in NetBox: prefixes, ranges, addresses.
func (f *fixture) owned() (prefixes, ranges, addresses int) {
	for _, p := range f.nb.Prefixes {
		if p.HasTag("opennebula") {
			prefixes++
		}
	}
	for _, r := range f.nb.Ranges {
		if r.HasTag("opennebula") {
			ranges++
		}
	}
	for _, a := range f.nb.Addresses {
		if a.HasTag("opennebula") {
			addresses++
		}
	}
	return
}

// kindOf names how an error will be reported: input, conflict, state, netbox, internal.
func kindOf(err error) string {
	var in *mapping.InputError
	var de *Error
	var ne *netbox.Error
	var oe *opennebula.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &in):
		return "input"
	case errors.As(err, &de):
		return map[Kind]string{Conflict: "conflict", State: "state", Refused: "refused", Setup: "setup"}[de.Kind]
	case errors.As(err, &ne):
		return "netbox"
	case errors.As(err, &oe):
		return "opennebula"
	}
	return "internal"
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

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// failedAs reports whether err matches want, "kind: part of the message" (kindOf).
func failedAs(t *testing.T, err error, want string) {
	t.Helper()
	kind, msg, _ := strings.Cut(want, ": ")
	if kindOf(err) != kind || !strings.Contains(err.Error(), msg) {
		t.Fatalf("err %v (%s), want %s containing %q", err, kindOf(err), kind, msg)
	}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

// setVNet puts the networks of docs (`onevnet show -x`) into f's oned.
func (f *fixture) setVNet(docs ...string) { f.t.Helper(); f.oned.SetVNetXML(f.t, docs...) }
