package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// Exit codes: any non-zero is a failure to oned; the values help scripts and tests.
const (
	exitFailure     = 1 // the request cannot be done as asked (conflict, no room)
	exitUsage       = 2
	exitInput       = 3  // malformed request or AR attributes
	exitConfig      = 4  // configuration unusable
	exitUnavailable = 5  // NetBox (or, for audit and sync, OpenNebula) unreachable, slow or failing
	exitAuth        = 6  // NetBox refused the token
	exitCheck       = 7  // check found problems
	exitDrift       = 8  // audit (or sync --dry-run) found drift
	exitState       = 9  // NetBox's objects do not fit the AR (gone, changed, missing)
	exitPartial     = 10 // sync did the rest, but NetBox or oned failed on some virtual machines
	exitInternal    = 70
)

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// answerError: the action was done but its answer could not be written to oned.
type answerError struct{ msg string }

func (e *answerError) Error() string { return e.msg }

// fail prints err as the one line oned shows the user and returns the exit code.
func fail(stderr io.Writer, err error) int {
	msg, code := describe(err)
	fmt.Fprintln(stderr, mapping.OneLine(msg))
	return code
}

// describe is the one place where an error becomes a message and an exit code. The
// kind of the error inside chooses both; what a caller wrapped around it (which VMs a
// batch left, for one) stays in front of the message.
func describe(err error) (string, int) {
	msg, code, inner := describeKind(err)
	if inner != nil {
		if outer, ok := strings.CutSuffix(err.Error(), inner.Error()); ok && outer != "" {
			msg = outer + msg
		}
	}
	return msg, code
}

// describeKind is the message and exit code of the kind of error inside err, and that
// error (nil when err is of no kind: an internal error).
func describeKind(err error) (string, int, error) {
	var in *mapping.InputError
	var ue *usageError
	var ce *configError
	var ae *answerError
	var de *driver.Error
	var ne *netbox.Error
	var oe *opennebula.Error
	switch {
	case errors.As(err, &in):
		return in.Msg, exitInput, in
	case errors.As(err, &ue):
		return ue.msg, exitUsage, ue
	case errors.As(err, &ce):
		return "netbox-ipam configuration: " + ce.msg, exitConfig, ce
	case errors.As(err, &ae):
		return ae.msg, exitFailure, ae
	case errors.As(err, &de):
		msg, code := describeDriver(de)
		return msg, code, de
	case errors.As(err, &ne):
		msg, code := describeNetBox(ne)
		return msg, code, ne
	case errors.As(err, &oe):
		return "OpenNebula: " + oe.Msg, exitUnavailable, oe
	}
	return "netbox-ipam: internal error: " + err.Error(), exitInternal, nil
}

func describeDriver(e *driver.Error) (string, int) {
	switch e.Kind {
	case driver.Conflict, driver.Refused:
		return e.Msg, exitFailure
	case driver.State:
		return e.Msg, exitState
	case driver.Setup:
		return e.Msg, exitConfig
	}
	return "netbox-ipam: internal error: " + e.Msg, exitInternal
}

func describeNetBox(e *netbox.Error) (string, int) {
	switch e.Kind {
	case netbox.KindUnavailable, netbox.KindServer:
		return "NetBox unavailable: " + e.Error(), exitUnavailable
	case netbox.KindAuth:
		return e.Msg, exitAuth
	case netbox.KindConfig:
		return "netbox-ipam configuration: " + e.Msg, exitConfig
	case netbox.KindInvalid, netbox.KindConflict, netbox.KindNotFound:
		return "NetBox rejected the request: " + e.Error(), exitFailure
	case netbox.KindLimit:
		return e.Error(), exitState
	}
	return "netbox-ipam: internal error: " + e.Error(), exitInternal
}
