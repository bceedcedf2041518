package integration

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox/netboxtest"
)

// TestNetBoxScenario runs netboxtest.Scenario (every client call, with what NetBox
// should answer) against the real NetBox through a recorder. With RECORD_NETBOX=1 it
// saves the exchanges as netbox/testdata/netbox-<version>.json, which netbox's unit
// tests replay: answers a real NetBox gave, without a server.
//
// A run killed mid-way leaves the scenario's objects behind, and the next run's creates
// of the same names fail (a CI run met a leftover custom field): they are removed
// first, outside the recorder. The test plants the leftovers such a run leaves (the tag
// and the custom field) to see them removed.
func TestNetBoxScenario(t *testing.T) {
	env := NetBox(t)
	direct := Client(t)
	if gone, err := netboxtest.RemoveScenarioLeftovers(ctx(t), direct); err != nil {
		t.Fatal(err)
	} else if len(gone) > 0 {
		t.Logf("removed an earlier run's leftovers: %v", gone)
	}
	if _, err := direct.CreateTag(ctx(t), netboxtest.ScenarioTag, netboxtest.ScenarioTag, "left by a killed run"); err != nil {
		t.Fatal(err)
	}
	if _, err := direct.CreateCustomField(ctx(t), netbox.CustomFieldSpec{Name: "nbtest_scenario_note", Type: "text", ObjectTypes: []string{"ipam.prefix"}}); err != nil {
		t.Fatal(err)
	}
	gone, err := netboxtest.RemoveScenarioLeftovers(ctx(t), direct)
	if err != nil || len(gone) != 2 {
		t.Fatalf("planted leftovers (the tag, the custom field): removed %v, %v", gone, err)
	}
	var mu sync.Mutex
	var exchanges []netboxtest.Exchange
	upstream := &http.Client{}
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, env.URL+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := upstream.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		mu.Lock()
		exchanges = append(exchanges, netboxtest.NewExchange(r.Method, r.URL, body, resp.StatusCode, answer))
		mu.Unlock()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.Header().Set("API-Version", resp.Header.Get("API-Version")) // the client's release line
		w.WriteHeader(resp.StatusCode)
		w.Write(answer)
	}))
	defer rec.Close()
	c, err := netbox.New(netbox.Config{URL: rec.URL, Token: env.Token})
	if err != nil {
		t.Fatal(err)
	}
	if err := netboxtest.Scenario(ctx(t), c); err != nil {
		t.Fatalf("against the real NetBox: %v", err)
	}
	if os.Getenv("RECORD_NETBOX") != "1" {
		return
	}
	st, _ := Client(t).Status(ctx(t))
	b, err := json.MarshalIndent(netboxtest.Cassette{NetBox: st.NetBoxVersion, Exchanges: exchanges}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(repoRoot(t), "netbox", "testdata", "netbox-"+st.NetBoxVersion+".json")
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d exchanges in %s", len(exchanges), out)
}
