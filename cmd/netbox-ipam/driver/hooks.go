package driver

import (
	"context"
	"encoding/xml"
	"fmt"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// The OpenNebula hooks that keep NetBox's lease records current between syncs, run by
// onehem-server on the front-end with their argument on stdin (a VM document can be
// larger than an argument may be). API hooks run after oned answered the call: leases
// are taken during it, so the hook finds them in NetBox; they run `netbox-ipam hook
// api <call>` with $API. With vms.enabled, the hooks that keep NetBox's virtual
// machines too: detachnic (the interface goes), and state hooks ON RUNNING (status and
// the host's cluster) and ON DONE (the virtual machine goes; oned's HookStateVM knows
// these by ON, not by STATE/LCM_STATE, which it wants only with ON = CUSTOM), which run
// `netbox-ipam hook state` with $TEMPLATE, the VM.
type hookSpec struct {
	key  string // the name's tail: netbox-ipam-<IPAM_MAD>-<key>
	on   string // the template's lines saying when it runs
	args string // of `netbox-ipam hook`
	vms  bool   // only with vms.enabled
}

var hookSpecs = []hookSpec{
	{"vm-allocate", "TYPE = \"api\"\nCALL = \"one.vm.allocate\"\nARGUMENTS = \"$API\"\n", "api one.vm.allocate", false},
	{"vm-attachnic", "TYPE = \"api\"\nCALL = \"one.vm.attachnic\"\nARGUMENTS = \"$API\"\n", "api one.vm.attachnic", false},
	{"vm-detachnic", "TYPE = \"api\"\nCALL = \"one.vm.detachnic\"\nARGUMENTS = \"$API\"\n", "api one.vm.detachnic", true},
	// A virtual router's floating IPs are taken by one.vrouter.allocate and attachnic;
	// its VMs are made (and given NICs) inside oned by instantiate and attachnic,
	// which no VM hook sees.
	{"vrouter-allocate", "TYPE = \"api\"\nCALL = \"one.vrouter.allocate\"\nARGUMENTS = \"$API\"\n", "api one.vrouter.allocate", false},
	{"vrouter-instantiate", "TYPE = \"api\"\nCALL = \"one.vrouter.instantiate\"\nARGUMENTS = \"$API\"\n", "api one.vrouter.instantiate", false},
	{"vrouter-attachnic", "TYPE = \"api\"\nCALL = \"one.vrouter.attachnic\"\nARGUMENTS = \"$API\"\n", "api one.vrouter.attachnic", false},
	{"vrouter-detachnic", "TYPE = \"api\"\nCALL = \"one.vrouter.detachnic\"\nARGUMENTS = \"$API\"\n", "api one.vrouter.detachnic", true},
	{"vm-running", "TYPE = \"state\"\nRESOURCE = \"VM\"\nON = \"RUNNING\"\nARGUMENTS = \"$TEMPLATE\"\n", "state", true},
	{"vm-done", "TYPE = \"state\"\nRESOURCE = \"VM\"\nON = \"DONE\"\nARGUMENTS = \"$TEMPLATE\"\n", "state", true},
}

// hooks are the hooks this configuration wants.
func (d *Driver) hooks() []hookSpec {
	var out []hookSpec
	for _, h := range hookSpecs {
		if !h.vms || d.cfg.VMs.Enabled {
			out = append(out, h)
		}
	}
	return out
}

// hookName is the name of one of the driver's hooks: an admin reading `onehook list`
// sees whose it is.
func (d *Driver) hookName(h hookSpec) string {
	return "netbox-ipam-" + d.cfg.Name + "-" + h.key
}

// HookCall handles an API hook: the VM the call made or changed, recorded on its
// leases (Hook). A failed call, or another call, records nothing.
func (d *Driver) HookCall(ctx context.Context, call string, info mapping.CallInfo) (HookResponse, error) {
	if !info.Success {
		return HookResponse{}, nil
	}
	var id string
	switch call {
	case "one.vm.allocate":
		if vm, err := mapping.ParseVM(info.Extra); err == nil {
			return d.Hook(ctx, vm)
		}
		id = info.Out[1]
	case "one.vm.attachnic", "one.vm.detachnic":
		id = info.In[2]
	case "one.vrouter.allocate", "one.vrouter.instantiate", "one.vrouter.attachnic", "one.vrouter.detachnic":
		return d.hookVRouterCall(ctx, call, info)
	default:
		return HookResponse{}, inputf("hook for %s: the driver records VMs on one.vm.allocate, attachnic and detachnic, and virtual routers on one.vrouter.allocate, instantiate, attachnic and detachnic", call)
	}
	vm, err := d.showVM(ctx, id)
	if err != nil {
		return HookResponse{}, err
	}
	return d.Hook(ctx, vm)
}

// showVM asks oned for VM id (over XML-RPC, see onerpc.go).
func (d *Driver) showVM(ctx context.Context, id string) (mapping.VM, error) {
	doc, err := d.one(ctx, "onevm", "show", "-x", id)
	if err != nil {
		return mapping.VM{}, err
	}
	return mapping.ParseVM(doc)
}

// hookVRouterCall reads the virtual router a call made or changed (allocate's
// document is in EXTRA, or its id is the call's OUT value; the others name it as their
// first IN value after the session) and records it (HookVRouter).
func (d *Driver) hookVRouterCall(ctx context.Context, call string, info mapping.CallInfo) (HookResponse, error) {
	id := info.In[2]
	if call == "one.vrouter.allocate" {
		if vr, err := mapping.ParseVRouter(info.Extra); err == nil {
			return d.HookVRouter(ctx, vr)
		}
		id = info.Out[1]
	}
	doc, err := d.one(ctx, "onevrouter", "show", "-x", id)
	if err != nil {
		return HookResponse{}, err
	}
	vr, err := mapping.ParseVRouter(doc)
	if err != nil {
		return HookResponse{}, err
	}
	return d.HookVRouter(ctx, vr)
}

// HooksInstalled lists the driver's hooks oned has (of those this configuration
// wants), by key.
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
		for _, spec := range d.hooks() {
			if h.Name == d.hookName(spec) {
				have[spec.key] = h.ID
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
	for _, h := range d.hooks() {
		if id, ok := have[h.key]; ok {
			lines = append(lines, fmt.Sprintf("exists  hook %s (id %s)", d.hookName(h), id))
			continue
		}
		tpl := fmt.Sprintf("NAME = %q\n%sCOMMAND = %q\nARGUMENTS_STDIN = \"YES\"\nTIMEOUT = \"30\"\n",
			d.hookName(h), h.on, command+" hook --name "+d.cfg.Name+" "+h.args)
		if err := d.oneWithTemplate(ctx, tpl, "onehook", "create"); err != nil {
			return lines, err
		}
		lines = append(lines, "created hook "+d.hookName(h))
	}
	return lines, nil
}

// RemoveHooks deletes the driver's hooks, those of vms.enabled too; it returns one
// line per hook removed.
func (d *Driver) RemoveHooks(ctx context.Context) ([]string, error) {
	all := *d
	all.cfg.VMs.Enabled = true
	have, err := all.HooksInstalled(ctx)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, h := range hookSpecs {
		if id, ok := have[h.key]; ok {
			if _, err := d.one(ctx, "onehook", "delete", id); err != nil {
				return lines, err
			}
			lines = append(lines, "removed hook "+d.hookName(h))
		}
	}
	return lines, nil
}
