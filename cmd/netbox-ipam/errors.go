package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
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

// describe is the one place where an error becomes a message and an exit code.
func describe(err error) (string, int) {
	var in *mapping.InputError
	var ue *usageError
	var ce *configError
	var ae *answerError
	var de *driver.Error
	var ne *netbox.Error
	switch {
	case errors.As(err, &in):
		return in.Msg, exitInput
	case errors.As(err, &ue):
		return ue.msg, exitUsage
	case errors.As(err, &ce):
		return "netbox-ipam configuration: " + ce.msg, exitConfig
	case errors.As(err, &ae):
		return ae.msg, exitFailure
	case errors.As(err, &de):
		return describeDriver(de)
	case errors.As(err, &ne):
		return describeNetBox(ne)
	}
	return "netbox-ipam: internal error: " + err.Error(), exitInternal
}

func describeDriver(e *driver.Error) (string, int) {
	switch e.Kind {
	case driver.Conflict, driver.Refused:
		return e.Msg, exitFailure
	case driver.State:
		return e.Msg, exitState
	case driver.OpenNebula:
		return "OpenNebula: " + e.Msg, exitUnavailable
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
