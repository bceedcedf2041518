// Package nbrecord records a driver process's NetBox conversation through a local
// proxy and replays it with a minimal client: the floor the benchmarks set beside the
// driver's own time (make bench, make bench-sync).
package nbrecord

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// Recorder is a proxy that records the driver's NetBox requests and their answers, so
// a benchmark's floor can replay exactly them.
type Recorder struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []Call
}

// Call is one recorded exchange.
type Call struct {
	method, uri string
	body        []byte
	answer      []byte
	status      int
}

var idInPath = regexp.MustCompile(`/(\d+)/`)

// New starts a recorder in front of NetBox at target.
func New(b testing.TB, target string) *Recorder {
	r := &Recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		body, _ := io.ReadAll(q.Body)
		out, _ := http.NewRequest(q.Method, target+q.URL.RequestURI(), bytes.NewReader(body))
		out.Header = q.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		r.mu.Lock()
		r.calls = append(r.calls, Call{q.Method, q.URL.RequestURI(), body, answer, resp.StatusCode})
		r.mu.Unlock()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(answer)
	}))
	b.Cleanup(r.srv.Close)
	return r
}

// URL is where the driver is pointed (NETBOX_IPAM_URL).
func (r *Recorder) URL() string { return r.srv.URL }

// Summary lists the recorded requests, ids masked.
func (r *Recorder) Summary() string {
	var s []string
	for _, c := range r.calls {
		s = append(s, c.method+" "+idInPath.ReplaceAllString(strings.SplitN(c.uri, "?", 2)[0], "/{id}/"))
	}
	return strings.Join(s, ", ")
}

// Replay sends the recorded requests with a fresh minimal client (a new connection,
// as a new driver process has) and returns the time they took. Ids that an earlier
// answer of the recording returned are replaced by the ids this replay got.
func (r *Recorder) Replay(b testing.TB, base, token string, seed map[string]string) time.Duration {
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	ids := map[string]string{}
	for k, v := range seed {
		ids[k] = v
	}
	auth := netbox.AuthHeader(token)
	start := time.Now()
	for _, c := range r.Calls() {
		uri := idInPath.ReplaceAllStringFunc(c.uri, func(m string) string {
			if n, ok := ids[strings.Trim(m, "/")]; ok {
				return "/" + n + "/"
			}
			return m
		})
		req, _ := http.NewRequest(c.method, base+uri, bytes.NewReader(c.body))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Accept", "application/json")
		if len(c.body) > 0 {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			b.Fatalf("replay of %s %s: HTTP %d, the driver got %d: %s", c.method, uri, resp.StatusCode, c.status, answer)
		}
		mapIDs(c.answer, answer, ids)
	}
	return time.Since(start)
}

// mapIDs pairs the "id"s of a recorded answer with those of its replay, in order.
func mapIDs(recorded, replayed []byte, ids map[string]string) {
	a, b := collectIDs(recorded), collectIDs(replayed)
	for i := range a {
		if i < len(b) {
			ids[a[i]] = b[i]
		}
	}
}

func collectIDs(raw []byte) []string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	var out []string
	var walk func(any, bool)
	walk = func(x any, top bool) {
		switch t := x.(type) {
		case map[string]any:
			if id, ok := t["id"].(float64); ok && top {
				out = append(out, strconv.Itoa(int(id)))
			}
			if res, ok := t["results"]; ok {
				walk(res, true)
			}
		case []any:
			for _, e := range t {
				walk(e, true)
			}
		}
	}
	walk(v, true)
	return out
}

// Calls are the exchanges recorded so far.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

// Only keeps the recorded exchanges whose method is one of methods (a floor of reads
// replays the GETs alone).
func (r *Recorder) Only(methods ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var kept []Call
	for _, c := range r.calls {
		for _, m := range methods {
			if c.method == m {
				kept = append(kept, c)
			}
		}
	}
	r.calls = kept
}
