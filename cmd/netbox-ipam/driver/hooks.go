package driver

import (
	"context"
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// The OpenNebula hooks that keep NetBox's lease records current between syncs. Each is
// an API hook run by onehem-server on the front-end, after oned answered the call:
// leases are taken during the call, so the hook finds them in NetBox. They run
// `netbox-ipam hook api <call>` with $API on stdin (a VM document can be larger than an
// argument may be).
var hookCalls = []string{"one.vm.allocate", "one.vm.attachnic"}

// hookName is the name of the driver's hook for call: an admin reading `onehook list`
// sees whose it is.
func (d *Driver) hookName(call string) string {
	return "netbox-ipam-" + d.cfg.Name + "-" + strings.ReplaceAll(strings.TrimPrefix(call, "one."), ".", "-")
}

// HookCall handles an API hook: the VM the call made or changed, recorded on its
// leases (Hook). A failed call, or another call, records nothing.
func (d *Driver) HookCall(ctx context.Context, call string, info mapping.CallInfo) (Response, error) {
	if !info.Success {
		return Response{}, nil
	}
	var id string
	switch call {
	case "one.vm.allocate":
		if vm, err := mapping.ParseVM(info.Extra); err == nil {
			return d.Hook(ctx, vm)
		}
		id = info.Out[1]
	case "one.vm.attachnic":
		id = info.In[2]
	default:
		return Response{}, inputf("hook for %s: the driver records VMs on one.vm.allocate and one.vm.attachnic", call)
	}
	doc, err := d.one(ctx, "onevm", "show", "-x", id)
	if err != nil {
		return Response{}, err
	}
	vm, err := mapping.ParseVM(doc)
	if err != nil {
		return Response{}, err
	}
	return d.Hook(ctx, vm)
}

// HooksInstalled lists the driver's hooks oned has, by call.
func (d *Driver) HooksInstalled(ctx context.Context) (map[string]string, error) {
	out, err := d.one(ctx, "onehook", "list", "-x")
	if err != nil {
		return nil, err
	}
	var pool struct {
		Hooks []struct {
			ID   string `xml:"ID"`
			Name string `xml:"NAME"`
		} `xml:"HOOK"`
	}
	if err := xml.Unmarshal(out, &pool); err != nil {
		return nil, openNebulaf("onehook list -x: %v", err)
	}
	have := map[string]string{}
	for _, h := range pool.Hooks {
		for _, call := range hookCalls {
			if h.Name == d.hookName(call) {
				have[call] = h.ID
			}
		}
	}
	return have, nil
}

// InstallHooks creates the driver's hooks that oned lacks. command is how
// onehem-server runs netbox-ipam on the front-end (its absolute path, after an
// `/usr/bin/env NETBOX_IPAM_CONFIG=…` when the configuration is not where the binary
// looks by itself). It returns one line per hook.
func (d *Driver) InstallHooks(ctx context.Context, command string) ([]string, error) {
	have, err := d.HooksInstalled(ctx)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, call := range hookCalls {
		if id, ok := have[call]; ok {
			lines = append(lines, fmt.Sprintf("exists  hook %s (id %s)", d.hookName(call), id))
			continue
		}
		tpl := fmt.Sprintf("NAME = %q\nTYPE = \"api\"\nCALL = %q\nCOMMAND = %q\nARGUMENTS = \"$API\"\nARGUMENTS_STDIN = \"YES\"\nTIMEOUT = \"30\"\n",
			d.hookName(call), call, command+" hook --name "+d.cfg.Name+" api "+call)
		if err := d.oneWithTemplate(ctx, tpl, "onehook", "create"); err != nil {
			return lines, err
		}
		lines = append(lines, "created hook "+d.hookName(call)+" on "+call)
	}
	return lines, nil
}

// RemoveHooks deletes the driver's hooks; it returns one line per hook removed.
func (d *Driver) RemoveHooks(ctx context.Context) ([]string, error) {
	have, err := d.HooksInstalled(ctx)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, call := range hookCalls {
		if id, ok := have[call]; ok {
			if _, err := d.one(ctx, "onehook", "delete", id); err != nil {
				return lines, err
			}
			lines = append(lines, "removed hook "+d.hookName(call))
		}
	}
	return lines, nil
}
