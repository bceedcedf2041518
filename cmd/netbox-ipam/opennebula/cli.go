package opennebula

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// CLI is the Client over OpenNebula's own commands (onevm, onevnet, onehook, …) on
// the PATH, for an operator whose access goes through them (a wrapper, another
// ONE_AUTH in their environment): NETBOX_IPAM_ONE=cli. oned's RAFT state has no
// command, so it is still asked over XML-RPC.
func CLI(getenv func(string) string) Client { return newDocuments(cli{rpc{getenv}}) }

type cli struct{ raftOf rpc }

// commands are the CLI command of each object kind of oned's API.
var commands = map[string]string{"vm": "onevm", "vn": "onevnet", "cluster": "onecluster", "vrouter": "onevrouter",
	"user": "oneuser", "hook": "onehook"}

func (c cli) info(ctx context.Context, object string, id int) ([]byte, error) {
	if id < 0 { // the caller itself: `oneuser show` without an id
		return run(ctx, commands[object], "show", "-x")
	}
	return run(ctx, commands[object], "show", "-x", strconv.Itoa(id))
}

func (c cli) pool(ctx context.Context, object string) ([]byte, error) {
	return run(ctx, commands[object], "list", "-x")
}

func (c cli) raft(ctx context.Context) ([]byte, error) { return c.raftOf.raft(ctx) }

// vmRange: `onevm list -x` is the short pool (no NIC_ALIAS, no PCI) and lists every
// VM; documents.VMs reads one VM at a time instead.
func (c cli) vmRange(context.Context, int, int) ([]byte, error) { return nil, errNoRange }

func (c cli) createHook(ctx context.Context, template string) error {
	return withTemplate(ctx, template, "onehook", "create")
}

func (c cli) updateHook(ctx context.Context, id int, template string) error {
	return withTemplate(ctx, template, "onehook", "update", strconv.Itoa(id))
}

func (c cli) deleteHook(ctx context.Context, id int) error {
	_, err := run(ctx, "onehook", "delete", strconv.Itoa(id))
	return err
}

func (c cli) updateAR(ctx context.Context, vnet, ar int, template string) error {
	return withTemplate(ctx, template, "onevnet", "updatear", strconv.Itoa(vnet), strconv.Itoa(ar))
}

// run runs an OpenNebula command on the PATH under the call's context and returns its
// stdout; a failure carries the command's own last words.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	if _, err := exec.LookPath(name); err != nil {
		return nil, &mapping.InputError{Msg: name + " is not on the PATH (run this on the front-end as oneadmin, or leave NETBOX_IPAM_ONE unset to use XML-RPC)"}
	}
	var errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		msg := mapping.OneLine(errb.String())
		return nil, &Error{Msg: name + " " + strings.Join(args, " ") + ": " + err.Error() + ": " + msg,
			Gone: strings.Contains(msg, "] Error getting ")}
	}
	return out, nil
}

// withTemplate runs a command that takes a template as a file (the CLI's way): name,
// args and then a temporary file holding text.
func withTemplate(ctx context.Context, text, name string, args ...string) error {
	f, err := os.CreateTemp("", "netbox-ipam-template-*")
	if err != nil {
		return errorf("a template for %s: %v", name, err)
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errorf("a template for %s: %v", name, err)
	}
	_, err = run(ctx, name, append(args, f.Name())...)
	return err
}
