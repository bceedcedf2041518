package netboxtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// Cassette is a recorded conversation with a real NetBox (see Scenario).
type Cassette struct {
	NetBox    string     `json:"netbox"`
	Exchanges []Exchange `json:"exchanges"`
}

// Exchange is one request and NetBox's answer. Bodies are JSON (or empty); the token
// is not recorded.
type Exchange struct {
	Method   string          `json:"method"`
	Path     string          `json:"path"`              // with the query, keys sorted
	Request  json.RawMessage `json:"request,omitempty"` // the request's body
	Status   int             `json:"status"`
	Response json.RawMessage `json:"response,omitempty"`
}

// NewExchange records one exchange.
func NewExchange(method string, u *url.URL, reqBody []byte, status int, respBody []byte) Exchange {
	return Exchange{Method: method, Path: pathOf(u), Request: raw(reqBody), Status: status, Response: raw(respBody)}
}

func pathOf(u *url.URL) string {
	if q := u.Query().Encode(); q != "" {
		return u.Path + "?" + q
	}
	return u.Path
}

// raw keeps a JSON body as it is (compacted); anything else becomes a JSON string.
func raw(b []byte) json.RawMessage {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	var out bytes.Buffer
	if json.Compact(&out, b) == nil {
		return out.Bytes()
	}
	s, _ := json.Marshal(string(b))
	return s
}

// Replay serves a cassette in order: each request must be the recorded one (method,
// path and query, JSON body), and gets the recorded answer. n is how many exchanges
// the cassette holds; done reports whether all were asked for.
func Replay(t *testing.T, file string) (srv *httptest.Server, n int, done func() error) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (record it: RECORD_NETBOX=1 go test -run TestNetBoxScenario ./integration/)", err)
	}
	var c Cassette
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	next := 0
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		if next >= len(c.Exchanges) {
			t.Errorf("request %d (%s %s) past the end of the recording", next, r.Method, pathOf(r.URL))
			http.Error(w, "past the recording", http.StatusTeapot)
			return
		}
		x := c.Exchanges[next]
		next++
		if got := pathOf(r.URL); r.Method != x.Method || got != x.Path || !sameJSON(raw(body), x.Request) {
			t.Errorf("request %d: %s %s %s; recorded %s %s %s", next-1, r.Method, got, raw(body), x.Method, x.Path, x.Request)
		}
		if r.Header.Get("Authorization") == "" {
			t.Errorf("request %d without a token", next-1)
		}
		w.Header().Set("Content-Type", "application/json")
		if rel := netbox.ParseRelease(c.NetBox); rel.Known() { // as NetBox sends on every answer
			w.Header().Set("API-Version", fmt.Sprintf("%d.%d", rel.Major, rel.Minor))
		}
		w.WriteHeader(x.Status)
		w.Write(x.Response)
	}))
	t.Cleanup(srv.Close)
	return srv, len(c.Exchanges), func() error {
		mu.Lock()
		defer mu.Unlock()
		if next != len(c.Exchanges) {
			return fmt.Errorf("%d of %d recorded exchanges asked for", next, len(c.Exchanges))
		}
		return nil
	}
}

func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
