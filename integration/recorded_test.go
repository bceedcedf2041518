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
func TestNetBoxScenario(t *testing.T) {
	env := NetBox(t)
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
