package netbox

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestAuthHeader(t *testing.T) {
	for token, want := range map[string]string{
		"nbt_abc123.secret":                        "Bearer nbt_abc123.secret",
		"0123456789abcdef0123456789abcdef01234567": "Token 0123456789abcdef0123456789abcdef01234567",
	} {
		if got := AuthHeader(token); got != want {
			t.Errorf("AuthHeader(%q) = %q, want %q", token, got, want)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no scheme", Config{URL: "netbox.example.com", Token: "x"}, "is not an http(s) URL"},
		{"ftp", Config{URL: "ftp://netbox", Token: "x"}, "is not an http(s) URL"},
		{"no token", Config{URL: "http://netbox"}, "no NetBox API token"},
		{"missing CA", Config{URL: "https://netbox", Token: "x", CAFile: "/nonexistent/ca.pem"}, "cannot read CA file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || KindOf(err) != KindConfig {
				t.Fatalf("New = %v, want a config error containing %q", err, tc.want)
			}
		})
	}
}

// GET and DELETE are retried on 503; POST is sent exactly once whatever NetBox answers.
func TestRetriesOnlyIdempotentMethods(t *testing.T) {
	cases := []struct {
		method    string
		wantCalls int32
		wantErr   bool
	}{
		{http.MethodGet, 3, false},    // 503, 503, 200
		{http.MethodDelete, 3, false}, // 503, 503, 204
		{http.MethodPost, 1, true},    // 503, given to the caller
	}
	for _, tc := range cases {
		t.Run(tc.method, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer nbt_k.s" {
					t.Errorf("Authorization = %q", r.Header.Get("Authorization"))
				}
				if calls.Add(1) < 3 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				if r.Method == http.MethodDelete {
					w.WriteHeader(http.StatusNoContent)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{}`))
			}))
			defer srv.Close()
			c, err := New(Config{URL: srv.URL, Token: "nbt_k.s", Retries: 4, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			var body any
			if tc.method == http.MethodPost {
				body = map[string]string{}
			}
			err = c.do(context.Background(), tc.method, "/api/x/", nil, body, nil)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr && KindOf(err) != KindServer {
				t.Fatalf("kind = %v, want KindServer", KindOf(err))
			}
			if got := calls.Load(); got != tc.wantCalls {
				t.Fatalf("%s reached the server %d times, want %d", tc.method, got, tc.wantCalls)
			}
		})
	}
}

// An unreachable NetBox is KindUnavailable, and a deadline is reported as such.
func TestUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
	}))
	defer srv.Close()
	c, _ := New(Config{URL: srv.URL, Token: "t", Retries: 5, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := c.do(ctx, http.MethodGet, "/api/x/", nil, nil, nil)
	if KindOf(err) != KindUnavailable || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("slow NetBox: %v, want unavailable before the deadline", err)
	}

	srv.Close() // nothing listens any more
	err = c.do(context.Background(), http.MethodPost, "/api/x/", nil, map[string]int{}, nil)
	if KindOf(err) != KindUnavailable || !strings.Contains(err.Error(), "cannot reach NetBox") {
		t.Fatalf("closed NetBox: %v, want 'cannot reach NetBox'", err)
	}
}

// A list that matches more than the caller reads is an error, never a short answer.
func TestListAllLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("limit") != "3" {
			t.Errorf("limit %q, want max+1", r.URL.Query().Get("limit"))
		}
		w.Write([]byte(`{"count":5,"next":"http://x/?offset=3","results":[{"id":1},{"id":2},{"id":3}]}`))
	}))
	defer srv.Close()
	c, _ := New(Config{URL: srv.URL, Token: "t"})
	_, err := listAll[Ref](context.Background(), c, "/api/ipam/vrfs/", url.Values{}, 2)
	if KindOf(err) != KindLimit || !strings.Contains(err.Error(), "NetBox holds 5 matching objects, more than the 2 the driver reads") {
		t.Fatalf("err %v", err)
	}
}
