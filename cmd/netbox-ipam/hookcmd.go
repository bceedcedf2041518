package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/hooks"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// hook runs an OpenNebula hook with its argument on stdin (onehem-server's
// ARGUMENTS_STDIN): `hook api <call>` with $API, `hook state` with $TEMPLATE (the VM).
// A failure may leave some of a batch's labels written and others not; every write is
// one sync would make, and sync catches up with the rest.
func (p *program) hook(s *session, ctx context.Context, args []string) int {
	raw, err := io.ReadAll(io.LimitReader(p.stdin, mapping.MaxHookArgument+1))
	if err != nil {
		return fail(p.stderr, &mapping.InputError{Msg: "cannot read the hook's argument from stdin: " + err.Error()})
	}
	if len(raw) > mapping.MaxHookArgument {
		// Cut, it would fail to parse with a message about XML; say what it is.
		return fail(p.stderr, &mapping.InputError{Msg: fmt.Sprintf("the hook's argument is larger than %d MiB (a VM with a very long history?); nothing recorded, `netbox-ipam sync` catches up", mapping.MaxHookArgument>>20)})
	}
	start, sent, h := time.Now(), s.nb.Requests(), hooks.New(s.d)
	// The argument is read first: a bad one is the same input error on any server.
	var act func() (hooks.HookResponse, error)
	if args[1] == "state" {
		var vm mapping.VM
		vm, err = mapping.ParseVM(raw)
		act = func() (hooks.HookResponse, error) { return h.Hook(ctx, vm.ID) } // oned's VM now, not $TEMPLATE
	} else {
		var info mapping.CallInfo
		info, err = mapping.ParseCallInfo(raw)
		act = func() (hooks.HookResponse, error) { return h.HookCall(ctx, args[2], info) }
	}
	var resp hooks.HookResponse
	if err == nil {
		resp, err = act() // on an HA follower, nothing (hooks.HookResponse.Skipped)
	}
	if resp.Skipped != "" {
		fmt.Fprintln(p.stdout, resp.Skipped) // onehem-server keeps it in the hook's record
	}
	name := strings.Join(args[1:], " ")
	logHook(s.log, name, resp.VM, resp.Changes, err, s.nb.Requests()-sent, time.Since(start))
	if err != nil {
		return fail(p.stderr, err)
	}
	return 0
}

// hooks installs or removes the driver's OpenNebula hooks.
func (p *program) hooks(s *session, ctx context.Context, args []string) int {
	var lines []string
	var err error
	switch {
	case args[1] == "install":
		bin, berr := os.Executable()
		if berr == nil {
			bin, berr = filepath.EvalSymlinks(bin)
		}
		if berr != nil {
			return fail(p.stderr, fmt.Errorf("cannot tell where netbox-ipam is: %v", berr))
		}
		// onehem-server's environment is not this shell's: say where the
		// configuration is when it was not found by default, and which OpenNebula
		// (ONE_LOCATION decides the default state folder, which the hooks and this
		// shell's sync must share).
		var env []string
		for _, k := range []string{"NETBOX_IPAM_CONFIG", "NETBOX_IPAM_CONFDIR"} {
			if v := p.getenv(k); v != "" {
				env = append(env, k+"="+v)
				break
			}
		}
		for _, k := range []string{"ONE_LOCATION", "NETBOX_IPAM_ONE"} {
			if v := p.getenv(k); v != "" {
				env = append(env, k+"="+v)
			}
		}
		if len(env) > 0 {
			bin = "/usr/bin/env " + strings.Join(env, " ") + " " + bin
		}
		lines, err = hooks.New(s.d).InstallHooks(ctx, bin)
	case args[1] == "remove":
		lines, err = hooks.New(s.d).RemoveHooks(ctx)
	}
	for _, l := range lines {
		fmt.Fprintln(p.stdout, l)
	}
	if err != nil {
		return fail(p.stderr, err)
	}
	return 0
}

func hookArgs(args []string) error {
	if !(len(args) == 2 && args[0] == "api") && !(len(args) == 1 && args[0] == "state") {
		return &usageError{"usage: netbox-ipam hook [--name IPAM_MAD] api <call> < $API | state < $TEMPLATE (as `netbox-ipam hooks install` sets it up)"}
	}
	return nil
}

func hooksArgs(args []string) error {
	if len(args) != 1 || (args[0] != "install" && args[0] != "remove") {
		return &usageError{"usage: netbox-ipam hooks [--name IPAM_MAD] install|remove"}
	}
	return nil
}
