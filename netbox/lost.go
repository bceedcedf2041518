package netbox

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// A POST whose answer is lost (the connection broke after the request went out, the
// deadline ran out while NetBox worked, a proxy answered 502/504, NetBox failed after
// its commit) may or may not have created its objects. Sending it again could make a
// second object; giving up could leak the first. So such a write is never repeated
// blindly: CreateOnce first looks up whether it took effect.

// Ambiguous reports whether a failed write may have taken effect in NetBox anyway.
// A refused connection, an auth error or a 4xx means it did not.
func Ambiguous(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Kind {
	case KindUnavailable:
		return !e.unsent
	case KindServer:
		return e.Status >= 500 || e.Status == 0
	}
	return false
}

// lookupTimeout bounds the look-up after a lost answer when the action's own deadline
// has run out (that may be why the answer was lost).
const lookupTimeout = 15 * time.Second

// CreateOnce runs post. When its answer is lost (Ambiguous), it asks find whether the
// objects exist: if they do, they are the result; if not, post is sent once more (and
// looked up again if that answer is lost too). find must recognise exactly the
// objects this post creates, e.g. by a description no other call uses.
func CreateOnce[T any](ctx context.Context, post func(context.Context) (T, error), find func(context.Context) (T, bool, error)) (T, error) {
	v, err := post(ctx)
	for attempt := 1; Ambiguous(err); attempt++ {
		fctx, cancel := ctx, context.CancelFunc(func() {})
		if ctx.Err() != nil {
			fctx, cancel = context.WithTimeout(context.Background(), lookupTimeout)
		}
		got, ok, ferr := find(fctx)
		cancel()
		switch {
		case ferr != nil:
			var e *Error
			errors.As(err, &e) // Ambiguous(err) holds, so err is an *Error
			return v, &Error{Kind: e.Kind, Op: e.Op, Status: e.Status,
				Msg: fmt.Sprintf("%s; looking up whether it took effect failed too (%v), so it may have: look in NetBox for objects whose description names this request", e.Msg, ferr)}
		case ok:
			return got, nil
		case attempt == 2 || ctx.Err() != nil:
			return v, err
		}
		v, err = post(ctx)
	}
	return v, err
}

// labelled lists the objects at path that carry tag and exactly this description: how
// CreateOnce's find recognises a call's own objects.
func labelled[T any](ctx context.Context, c *Client, path, tag, description string) ([]T, error) {
	return listAll[T](ctx, c, path, url.Values{"tag": {tag}, "description": {description}}, 10000)
}

// IPAddressesLabelled lists the IP addresses with this tag and description.
func (c *Client) IPAddressesLabelled(ctx context.Context, tag, description string) ([]IPAddress, error) {
	return labelled[IPAddress](ctx, c, "/api/ipam/ip-addresses/", tag, description)
}

// PrefixesLabelled lists the prefixes with this tag and description.
func (c *Client) PrefixesLabelled(ctx context.Context, tag, description string) ([]Prefix, error) {
	return labelled[Prefix](ctx, c, "/api/ipam/prefixes/", tag, description)
}

// IPRangesLabelled lists the IP ranges with this tag and description.
func (c *Client) IPRangesLabelled(ctx context.Context, tag, description string) ([]IPRange, error) {
	return labelled[IPRange](ctx, c, "/api/ipam/ip-ranges/", tag, description)
}
