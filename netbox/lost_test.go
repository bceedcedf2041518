package netbox

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

func TestAmbiguous(t *testing.T) {
	bg := context.Background()
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"connection broke", transportError(bg, "POST /x", io.EOF), true},
		{"connection refused", transportError(bg, "POST /x", &net.OpError{Op: "dial", Err: errors.New("connection refused")}), false},
		{"read reset", transportError(bg, "POST /x", &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}), true},
		{"502 from a proxy", statusError("POST /x", 502, nil), true},
		{"500", statusError("POST /x", 500, nil), true},
		{"400", statusError("POST /x", 400, []byte(`{"address":["Duplicate"]}`)), false},
		{"409", statusError("POST /x", 409, nil), false},
		{"403", statusError("POST /x", 403, nil), false},
		{"not ours", errors.New("other"), false},
	}
	for _, tc := range cases {
		if got := Ambiguous(tc.err); got != tc.want {
			t.Errorf("%s: Ambiguous = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// CreateOnce's policy: look up after a lost answer, send again only when nothing was
// found, and never more than twice.
func TestCreateOnce(t *testing.T) {
	lost := transportError(context.Background(), "POST /x", io.EOF)
	refused := statusError("POST /x", 400, []byte(`{"detail":"no"}`))
	cases := []struct {
		name       string
		posts      []error // the answers of successive POSTs (nil = success)
		finds      []bool  // what successive look-ups find
		findErr    error
		wantPosts  int
		wantFinds  int
		wantResult string
		wantErr    string
	}{
		{name: "plain success", posts: []error{nil}, wantPosts: 1, wantResult: "posted 1"},
		{name: "plain refusal is not looked up", posts: []error{refused}, wantPosts: 1, wantErr: "HTTP 400"},
		{name: "lost, found", posts: []error{lost}, finds: []bool{true}, wantPosts: 1, wantFinds: 1, wantResult: "found 1"},
		{name: "lost, not found, sent again", posts: []error{lost, nil}, finds: []bool{false}, wantPosts: 2, wantFinds: 1, wantResult: "posted 2"},
		{name: "lost twice, found the second", posts: []error{lost, lost}, finds: []bool{false, true}, wantPosts: 2, wantFinds: 2, wantResult: "found 2"},
		{name: "lost twice, never found", posts: []error{lost, lost}, finds: []bool{false, false}, wantPosts: 2, wantFinds: 2, wantErr: "broke before it answered"},
		{name: "look-up fails", posts: []error{lost}, findErr: errors.New("GET failed"), wantPosts: 1, wantFinds: 1, wantErr: "looking up whether it took effect failed too (GET failed)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			posts, finds := 0, 0
			got, err := CreateOnce(context.Background(),
				func(context.Context) (string, error) {
					posts++
					if e := tc.posts[posts-1]; e != nil {
						return "", e
					}
					return "posted " + string(rune('0'+posts)), nil
				},
				func(context.Context) (string, bool, error) {
					finds++
					if tc.findErr != nil {
						return "", false, tc.findErr
					}
					return "found " + string(rune('0'+finds)), tc.finds[finds-1], nil
				})
			if posts != tc.wantPosts || finds != tc.wantFinds {
				t.Errorf("posts %d, look-ups %d; want %d, %d", posts, finds, tc.wantPosts, tc.wantFinds)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.wantResult {
				t.Fatalf("got %q, %v; want %q", got, err, tc.wantResult)
			}
		})
	}
}
