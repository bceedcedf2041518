// Command netbox-ipam is the OpenNebula IPAM driver for NetBox. OpenNebula's one_ipam
// runs the shims in remotes/ipam/netbox/, which exec this binary with the action name:
//
//	netbox-ipam <action> <request-id>   (base64 XML request on stdin)
//
// The dispatcher (run) is the only place that knows argv, stdin, stdout, stderr and exit
// codes; each action is a method of Driver that takes a typed request and returns an
// answer or an error.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// action is one of OpenNebula's five IPAM actions.
type action func(d *Driver, ctx context.Context, req mapping.Request) (string, error)

var actions = map[string]action{
	"register_address_range":   (*Driver).Register,
	"unregister_address_range": (*Driver).Unregister,
	"get_address":              (*Driver).GetAddress,
	"allocate_address":         (*Driver).Allocate,
	"free_address":             (*Driver).Free,
}

const usage = "usage: netbox-ipam <register_address_range|unregister_address_range|get_address|allocate_address|free_address> <request-id> < request.b64 | setup | check | audit | sync [--name IPAM_MAD] | version"

// auditDeadline bounds audit and sync, which no oned is waiting for and which may
// read many networks.
const auditDeadline = 15 * time.Minute

// run is the whole program: args without argv[0]; returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "netbox-ipam: internal error: %v (please report it)\n", oneLine(fmt.Sprint(r)))
			code = exitInternal
		}
	}()
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return exitUsage
	}
	name := args[0]
	if name == "version" {
		fmt.Fprintln(stdout, "netbox-ipam", version)
		return 0
	}
	act, isAction := actions[name]
	isAudit := name == "audit" || name == "sync"
	if !isAction && !isAudit && name != "setup" && name != "check" {
		fmt.Fprintf(stderr, "unknown command %q; %s\n", name, usage)
		return exitUsage
	}

	if !isAction {
		var err error
		if args, getenv, err = nameFlag(args, getenv); err != nil {
			return fail(stderr, err)
		}
	}

	var req mapping.Request
	reqID := ""
	if isAction {
		if len(args) > 1 {
			reqID = args[1]
		}
		if !validRequestID(reqID) {
			return fail(stderr, &mapping.InputError{Msg: fmt.Sprintf("request id %q is not a number; oned passes its request number as the first argument (%s)", reqID, usage)})
		}
		raw, err := io.ReadAll(io.LimitReader(stdin, mapping.MaxRequest+1))
		if err != nil {
			return fail(stderr, &mapping.InputError{Msg: "cannot read the request from stdin: " + err.Error()})
		}
		if len(raw) > mapping.MaxRequest {
			return fail(stderr, &mapping.InputError{Msg: fmt.Sprintf("request larger than %d bytes", mapping.MaxRequest)})
		}
		// Older OpenNebula passed the base64 as the second argument.
		if len(bytes.TrimSpace(raw)) == 0 && len(args) > 2 {
			raw = []byte(args[2])
		}
		if req, err = mapping.Decode(raw); err != nil {
			return fail(stderr, err)
		}
	}

	var auditOpts auditOptions
	if isAudit {
		var err error
		if auditOpts, err = parseAuditArgs(name, args[1:]); err != nil {
			return fail(stderr, err)
		}
	}

	cfg, err := config.Load(getenv)
	if err != nil {
		return fail(stderr, &configError{err.Error()})
	}
	deadline := cfg.Timeout
	if isAudit {
		deadline = auditDeadline
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	d, err := NewDriver(cfg, reqID, stderr)
	if err != nil {
		return fail(stderr, err)
	}
	defer d.Close()
	start := time.Now()
	switch name {
	case "setup":
		err = d.Setup(ctx, stdout)
	case "check":
		if !d.Check(ctx, stdout) {
			return exitCheck
		}
		return 0
	case "audit", "sync":
		skip, err := frontEndGate(ctx, auditOpts, getenv, stderr)
		if err != nil {
			return fail(stderr, err)
		}
		if skip != "" {
			fmt.Fprintln(stdout, skip)
			return 0
		}
		drift, err := d.Audit(ctx, auditOpts, stdin, stdout)
		if err != nil {
			return fail(stderr, err)
		}
		if drift && (name == "audit" || auditOpts.dryRun) {
			return exitDrift
		}
		return 0
	default:
		var answer string
		answer, err = act(d, ctx, req)
		d.logAction(name, req, err, time.Since(start))
		if err == nil {
			io.WriteString(stdout, answer)
		}
	}
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

// validRequestID accepts what oned sends (its request counter). The id goes into NetBox
// descriptions and custom fields, so anything else is refused before it gets there.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// nameFlag takes `--name NAME` out of setup's, check's, audit's and sync's arguments:
// the IPAM_MAD name of the driver they act for (its configuration file and, for audit
// and sync, its ARs), as the shims of that name say with NETBOX_IPAM_NAME.
func nameFlag(args []string, getenv func(string) string) ([]string, func(string) string, error) {
	out := []string{args[0]}
	name := ""
	for i := 1; i < len(args); i++ {
		if args[i] != "--name" {
			out = append(out, args[i])
			continue
		}
		if i+1 >= len(args) || !validName(args[i+1]) {
			return nil, nil, &usageError{"--name takes the IPAM_MAD name the driver is installed under (letters, digits, - and _); " + usage}
		}
		name = args[i+1]
		i++
	}
	if name == "" {
		return out, getenv, nil
	}
	return out, func(k string) string {
		if k == "NETBOX_IPAM_NAME" {
			return name
		}
		return getenv(k)
	}, nil
}

func validName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}
