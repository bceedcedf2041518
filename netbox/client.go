package netbox

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	gonb "github.com/netbox-community/go-netbox/v4"
)

// Config is what a Client needs to reach NetBox.
type Config struct {
	URL      string // base URL, e.g. https://netbox.example.com (no /api)
	Token    string // v2 "nbt_<key>.<secret>" or v1 40-hex token
	CAFile   string // optional PEM bundle added to the system roots
	Insecure bool   // skip TLS verification (explicit opt-in only)
	Retries  int    // extra attempts for GET/HEAD/DELETE; 0 means none
	// RetryWaitMin/Max bound the backoff between attempts; zero picks 100 ms / 2 s.
	RetryWaitMin, RetryWaitMax time.Duration
	UserAgent                  string
	// Observe, when set, hears of every HTTP request sent (each retry too): for the
	// driver's debug log. It never sees the token.
	Observe func(method, path string, status int, took time.Duration)
}

// Client talks to one NetBox. It is safe for concurrent use.
type Client struct {
	api      *gonb.APIClient
	http     *http.Client
	base     string
	auth     string
	ua       string
	requests atomic.Int64
	// api is the API-Version header of NetBox's last answer ("4.2"): the release
	// line the client is talking to, learnt from answers it gets anyway (release.go).
	apiVersion atomic.Value
}

// AuthHeader returns the Authorization header value for token: v2 tokens (nbt_ prefix)
// use Bearer, anything else is a v1 token.
func AuthHeader(token string) string {
	if strings.HasPrefix(token, "nbt_") {
		return "Bearer " + token
	}
	return "Token " + token
}

// New checks cfg and builds a Client. It does not contact NetBox.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &Error{Kind: KindConfig, Msg: fmt.Sprintf("NetBox URL %q is not an http(s) URL; set url (or NETBOX_URL) to e.g. https://netbox.example.com", cfg.URL)}
	}
	u.Path = strings.TrimSuffix(u.Path, "/api")
	if strings.TrimSpace(cfg.Token) == "" {
		return nil, &Error{Kind: KindConfig, Msg: "no NetBox API token; set token or token_file (or NETBOX_TOKEN)"}
	}
	tlsConf := &tls.Config{InsecureSkipVerify: cfg.Insecure} //nolint:gosec // explicit opt-in
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, &Error{Kind: KindConfig, Msg: fmt.Sprintf("cannot read CA file: %v", err)}
		}
		pool, _ := x509.SystemCertPool()
		if pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &Error{Kind: KindConfig, Msg: fmt.Sprintf("CA file %s holds no PEM certificate", cfg.CAFile)}
		}
		tlsConf.RootCAs = pool
	}
	base := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     tlsConf,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     30 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	c := &Client{base: u.String(), ua: cfg.UserAgent}
	sent := &counting{next: base, n: &c.requests, observe: cfg.Observe, version: &c.apiVersion}
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{Transport: sent}
	rc.Logger = nil
	rc.RetryMax = cfg.Retries
	rc.RetryWaitMin, rc.RetryWaitMax = cfg.RetryWaitMin, cfg.RetryWaitMax
	if rc.RetryWaitMin == 0 {
		rc.RetryWaitMin = 100 * time.Millisecond
	}
	if rc.RetryWaitMax == 0 {
		rc.RetryWaitMax = 2 * time.Second
	}
	// The last answer or error reaches the caller as it is, so a 503 stays a 503.
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	c.http = &http.Client{Transport: byMethod{retrying: &retryablehttp.RoundTripper{Client: rc}, once: sent}}

	if c.ua == "" {
		c.ua = "one-netbox-ipam"
	}
	gc := gonb.NewConfiguration()
	gc.Servers[0].URL = c.base
	gc.HTTPClient = c.http
	gc.UserAgent = c.ua
	c.auth = AuthHeader(strings.TrimSpace(cfg.Token))
	gc.AddDefaultHeader("Authorization", c.auth)
	c.api = gonb.NewAPIClient(gc)
	return c, nil
}

// Requests is how many HTTP requests the client has sent, retries included.
func (c *Client) Requests() int { return int(c.requests.Load()) }

// counting counts (and reports to Observe) every request that goes on the wire.
type counting struct {
	next    http.RoundTripper
	n       *atomic.Int64
	observe func(method, path string, status int, took time.Duration)
	version *atomic.Value // API-Version of the last answer that had one
}

func (t *counting) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Content-Type") == "" {
		// NetBox names its release line (API-Version) only in answers to requests that
		// say they are JSON (is_api_request reads the request's Content-Type), so a GET
		// says it too: the client learns the release from its first answer.
		r = r.Clone(r.Context())
		r.Header.Set("Content-Type", "application/json")
	}
	t.n.Add(1)
	start := time.Now()
	resp, err := t.next.RoundTrip(r)
	if resp != nil && t.version != nil {
		if v := resp.Header.Get("API-Version"); v != "" {
			t.version.Store(v)
		}
	}
	if t.observe != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.observe(r.Method, r.URL.Path, status, time.Since(start))
	}
	return resp, err
}

// API exposes the go-netbox client for calls this package does not wrap (tests use it
// to pin go-netbox's own decoding).
func (c *Client) API() *gonb.APIClient { return c.api }

// BaseURL is NetBox's URL without /api, e.g. for UI links, with any password in it
// hidden.
func (c *Client) BaseURL() string {
	u, err := url.Parse(c.base)
	if err != nil {
		return c.base
	}
	return u.Redacted()
}

// byMethod retries only idempotent requests; a POST or PATCH is sent once.
type byMethod struct{ retrying, once http.RoundTripper }

func (t byMethod) RoundTrip(r *http.Request) (*http.Response, error) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodDelete, http.MethodOptions:
		return t.retrying.RoundTrip(r)
	}
	return t.once.RoundTrip(r)
}

// do sends one request that go-netbox cannot express and decodes the JSON answer into
// out (when out is not nil). query may be nil.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return &Error{Kind: KindInternal, Op: method + " " + path, Msg: err.Error()}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return &Error{Kind: KindInternal, Op: method + " " + path, Msg: err.Error()}
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	return decode(ctx, method+" "+path, resp, err, out)
}

// decode turns the result of a go-netbox call into our own type. go-netbox has already
// read the body and put it back on resp, so the raw answer is decoded into out whether
// or not go-netbox's own decoding worked (see the package doc for why).
func decode(ctx context.Context, op string, resp *http.Response, err error, out any) error {
	if resp == nil {
		if err == nil {
			err = fmt.Errorf("no answer")
		}
		return transportError(ctx, op, err)
	}
	raw, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	if rerr != nil {
		return transportError(ctx, op, rerr)
	}
	if resp.StatusCode >= 300 {
		return statusError(op, resp.StatusCode, raw)
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if jerr := json.Unmarshal(raw, out); jerr != nil {
		return &Error{Kind: KindServer, Op: op, Msg: "unreadable answer from NetBox: " + jerr.Error()}
	}
	return nil
}
