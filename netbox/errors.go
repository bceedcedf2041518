package netbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"strings"
)

// Kind says what went wrong, so the edge can choose a message and exit code without
// parsing text.
type Kind int

const (
	KindInternal    Kind = iota // a bug or an impossible state
	KindConfig                  // our configuration is unusable
	KindUnavailable             // NetBox cannot be reached or did not answer in time
	KindAuth                    // NetBox refused the token or its permissions
	KindNotFound                // the object does not exist
	KindConflict                // NetBox has no room (409) or the object exists already
	KindInvalid                 // NetBox rejected the request's data (400)
	KindServer                  // NetBox failed (5xx) or answered nonsense
	KindLimit                   // a query matched more objects than the driver reads
)

// Error is every error this package returns. Msg never contains the token.
type Error struct {
	Kind   Kind
	Op     string // e.g. "POST /api/ipam/ip-ranges/7/available-ips/"
	Status int    // HTTP status, 0 when there was no answer
	Msg    string
	unsent bool // the request never left (no connection): a write did not happen
}

func (e *Error) Error() string {
	if e.Op == "" {
		return e.Msg
	}
	return e.Op + ": " + e.Msg
}

// KindOf returns the Kind of err, KindInternal when err is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// IsNotFound reports whether err is NetBox's 404.
func IsNotFound(err error) bool { return KindOf(err) == KindNotFound }

func transportError(ctx context.Context, op string, err error) error {
	msg, unsent := err.Error(), false
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		msg = "NetBox did not answer before the action's deadline"
	case errors.Is(err, context.Canceled):
		msg = "cancelled"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		msg = "the connection to NetBox broke before it answered"
	default:
		var ne *net.OpError
		var ue *url.Error
		if errors.As(err, &ne) {
			msg = "cannot reach NetBox: " + ne.Err.Error()
			unsent = ne.Op == "dial"
		} else if errors.As(err, &ue) {
			msg = "cannot reach NetBox: " + ue.Err.Error()
		} else {
			msg = "cannot reach NetBox: " + msg
		}
	}
	return &Error{Kind: KindUnavailable, Op: op, Msg: msg, unsent: unsent}
}

func statusError(op string, status int, body []byte) error {
	e := &Error{Op: op, Status: status, Msg: fmt.Sprintf("HTTP %d: %s", status, detail(body))}
	switch {
	case status == 401 || status == 403:
		e.Kind = KindAuth
		e.Msg = fmt.Sprintf("NetBox refused the request (HTTP %d: %s); check the token and its permissions", status, detail(body))
	case status == 404:
		e.Kind = KindNotFound
	case status == 409:
		e.Kind = KindConflict
	case status == 400:
		e.Kind = KindInvalid
	case status == 429 || status >= 500:
		e.Kind = KindServer
	default:
		e.Kind = KindServer
	}
	return e
}

// detail makes one short line of a NetBox error body: {"detail": …}, {"field": [...]},
// {"__all__": [...]}, a list of those (bulk requests), or the text itself.
func detail(body []byte) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		s := strings.Join(strings.Fields(string(body)), " ")
		if len(s) > 200 {
			s = s[:200] + "…"
		}
		if s == "" {
			s = "empty answer"
		}
		return s
	}
	return flatten(v)
}

func flatten(v any) string {
	switch t := v.(type) {
	case map[string]any:
		if d, ok := t["detail"]; ok {
			if errs, ok := t["errors"]; ok { // bulk: {"detail": "1 of 2 …", "errors": [{"index": 1, "errors": {…}}]}
				return flatten(d) + " " + flatten(errs)
			}
			return flatten(d)
		}
		if idx, ok := t["index"]; ok {
			return fmt.Sprintf("(object %v) %s", idx, flatten(t["errors"]))
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			if k == "__all__" || k == "non_field_errors" {
				parts = append(parts, flatten(t[k]))
			} else {
				parts = append(parts, k+": "+flatten(t[k]))
			}
		}
		return strings.Join(parts, "; ")
	case []any:
		parts := make([]string, 0, len(t))
		for _, x := range t {
			if s := flatten(x); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "; ")
	case string:
		return strings.Join(strings.Fields(t), " ")
	case nil:
		return ""
	default:
		return fmt.Sprint(t)
	}
}
