package driver

import (
	"fmt"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// Kind says why a call failed, so that the edge (cmd/netbox-ipam) chooses the message
// and exit code in one place. Bad requests are mapping.InputError; NetBox's own
// failures are *netbox.Error; everything else the driver refuses is an *Error.
type Kind int

const (
	// Conflict: NetBox's state forbids the request as asked (address taken, range or
	// pool full, another client kept winning).
	Conflict Kind = iota + 1
	// State: NetBox does not hold what the AR needs, or holds it otherwise (its range is
	// gone or spans other addresses, two ranges claim it, a named VRF or parent prefix
	// does not exist, the custom fields are missing). Fix NetBox or the AR.
	State
	// Refused: the command will not act here (sync by a user outside oneadmin).
	Refused
	// Setup: the front-end is not fit to run on (the hooks' state folder is not the
	// driver's own).
	Setup
)

// Error is a failure of the driver's own making.
type Error struct {
	Kind Kind
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

func conflictf(format string, a ...any) error {
	return &Error{Kind: Conflict, Msg: fmt.Sprintf(format, a...)}
}

func statef(format string, a ...any) error {
	return &Error{Kind: State, Msg: fmt.Sprintf(format, a...)}
}

func inputf(format string, a ...any) error {
	return &mapping.InputError{Msg: fmt.Sprintf(format, a...)}
}

func refusedf(format string, a ...any) error {
	return &Error{Kind: Refused, Msg: fmt.Sprintf(format, a...)}
}
