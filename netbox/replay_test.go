package netbox_test

import (
	"context"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox/netboxtest"
)

// Every client call against answers NetBox 4.7.3 gave (recorded by the integration
// suite's TestNetBoxScenario): the requests must be the recorded ones, byte for byte
// in JSON, and the answers must decode to what the scenario expects.
func TestRecordedNetBox(t *testing.T) {
	srv, n, done := netboxtest.Replay(t, "testdata/netbox-4.7.3.json")
	c, err := netbox.New(netbox.Config{URL: srv.URL, Token: "nbt_replay.secret"})
	if err != nil {
		t.Fatal(err)
	}
	if err := netboxtest.Scenario(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if err := done(); err != nil {
		t.Fatal(err)
	}
	if c.Requests() != n {
		t.Errorf("%d requests counted, want the %d recorded", c.Requests(), n)
	}
}
