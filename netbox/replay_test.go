package netbox_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox/netboxtest"
)

// Every client call against answers each NetBox release gave (testdata/netbox-<release>.json,
// recorded by the integration suite's TestNetBoxScenario on that release): the requests
// must be the recorded ones, byte for byte in JSON, and the answers must decode to what
// the scenario expects there.
func TestRecordedNetBox(t *testing.T) {
	files, _ := filepath.Glob("testdata/netbox-*.json")
	if len(files) == 0 {
		t.Fatal("no recorded NetBox in testdata (record one: RECORD_NETBOX=1 go test -run TestNetBoxScenario ./integration/)")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "netbox-"), ".json"), func(t *testing.T) { replay(t, f) })
	}
}

func replay(t *testing.T, file string) {
	srv, n, done := netboxtest.Replay(t, file)
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
