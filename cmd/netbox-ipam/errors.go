package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// Exit codes: any non-zero is a failure to oned; the values help scripts and tests.
const (
	exitFailure     = 1 // the request cannot be done as asked (conflict, no room)
	exitUsage       = 2
	exitInput       = 3 // malformed request or AR attributes
	exitConfig      = 4 // configuration unusable
	exitUnavailable = 5 // NetBox unreachable, slow or failing
	exitAuth        = 6 // NetBox refused the token
	exitCheck       = 7 // check found problems
	exitDrift       = 8 // audit (or sync --dry-run) found drift
	exitInternal    = 70
)

// conflictError: NetBox state forbids the request (address taken, range full).
type conflictError struct{ msg string }

func (e *conflictError) Error() string { return e.msg }

type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

func conflictf(format string, a ...any) error { return &conflictError{fmt.Sprintf(format, a...)} }

func inputf(format string, a ...any) error {
	return &mapping.InputError{Msg: fmt.Sprintf(format, a...)}
}

// fail prints err as the one line oned shows the user and returns the exit code.
func fail(stderr io.Writer, err error) int {
	msg, code := describe(err)
	fmt.Fprintln(stderr, oneLine(msg))
	return code
}

func describe(err error) (string, int) {
	var in *mapping.InputError
	var ue *usageError
	var cf *conflictError
	var ce *configError
	var ne *netbox.Error
	switch {
	case errors.As(err, &in):
		return in.Msg, exitInput
	case errors.As(err, &ue):
		return ue.msg, exitUsage
	case errors.As(err, &cf):
		return cf.msg, exitFailure
	case errors.As(err, &ce):
		return "netbox-ipam configuration: " + ce.msg, exitConfig
	case errors.As(err, &ne):
		switch ne.Kind {
		case netbox.KindUnavailable, netbox.KindServer:
			return "NetBox unavailable: " + ne.Error(), exitUnavailable
		case netbox.KindAuth:
			return ne.Msg, exitAuth
		case netbox.KindConfig:
			return "netbox-ipam configuration: " + ne.Msg, exitConfig
		case netbox.KindInvalid, netbox.KindConflict, netbox.KindNotFound:
			return "NetBox rejected the request: " + ne.Error(), exitFailure
		}
		return ne.Error(), exitInternal
	}
	return err.Error(), exitFailure
}
