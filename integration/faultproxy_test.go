package integration

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultMode is how the proxy spoils one request.
type faultMode int

const (
	dropBefore      faultMode = iota // close the connection without forwarding: NetBox never sees it
	dropAfter                        // forward, let NetBox answer (commit), then close without answering
	badGatewayAfter                  // forward, then answer 502 as a broken reverse proxy would
	unavailable                      // answer 503 without forwarding
	slow                             // forward after a delay
	slowAfter                        // forward (NetBox commits), then answer after a delay
)

func (m faultMode) String() string {
	return [...]string{"drop-before", "drop-after", "502-after", "503", "slow", "slow-after"}[m]
}

// fault spoils the next `times` requests whose method matches and whose path contains
// path (times 0 means every one).
type fault struct {
	method, path string
	mode         faultMode
	times        int
	delay        time.Duration
}

// faultProxy is a reverse proxy on loopback in front of the test NetBox that spoils
// chosen requests: the network and NetBox misbehaving, on purpose, between the driver
// and the real server.
type faultProxy struct {
	target string
	srv    *httptest.Server
	mu     sync.Mutex
	faults []fault
	fired  []string // "mode method path" of each spoiled request
	seen   []string // "method path" of every request
}

func newFaultProxy(t testing.TB, faults ...fault) *faultProxy {
	t.Helper()
	p := &faultProxy{target: NetBox(t).URL, faults: faults}
	p.srv = httptest.NewServer(p)
	t.Cleanup(p.srv.Close)
	return p
}

// URL is the proxy's address, to give the driver as NETBOX_URL.
func (p *faultProxy) URL() string { return p.srv.URL }

func (p *faultProxy) take(r *http.Request) (fault, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, r.Method+" "+r.URL.Path)
	for i, f := range p.faults {
		if f.method == r.Method && strings.Contains(r.URL.Path, f.path) {
			if f.times > 0 {
				if p.faults[i].times--; p.faults[i].times == 0 {
					p.faults = append(p.faults[:i:i], p.faults[i+1:]...)
				}
			}
			p.fired = append(p.fired, f.mode.String()+" "+r.Method+" "+r.URL.Path)
			return f, true
		}
	}
	return fault{}, false
}

// Fired lists the requests the proxy spoiled.
func (p *faultProxy) Fired() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.fired...)
}

// Seen counts the requests that reached the proxy with this method and path part.
func (p *faultProxy) Seen(method, path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.seen {
		m, pth, _ := strings.Cut(s, " ")
		if m == method && strings.Contains(pth, path) {
			n++
		}
	}
	return n
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Read the body first: only then does net/http notice a client that hangs up
	// (and cancel r.Context()), which the slow modes rely on.
	body, _ := io.ReadAll(r.Body)
	f, spoil := p.take(r)
	if spoil {
		switch f.mode {
		case dropBefore:
			hangUp(w)
			return
		case unavailable:
			http.Error(w, "503 Service Unavailable", http.StatusServiceUnavailable)
			return
		case slow:
			if !stall(r, f.delay) {
				return
			}
		}
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if spoil {
		switch f.mode {
		case dropAfter:
			hangUp(w)
			return
		case badGatewayAfter:
			http.Error(w, "502 Bad Gateway", http.StatusBadGateway)
			return
		case slowAfter:
			if !stall(r, f.delay) {
				return
			}
		}
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
}

// stall waits d, or less when the client gives up (then it reports false).
func stall(r *http.Request, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-r.Context().Done():
		return false
	}
}

// hangUp closes the client's connection without an answer.
func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
