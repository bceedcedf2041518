package hooks

import (
	"context"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// The OpenNebula hooks that keep NetBox's lease records current between syncs, run by
// onehem-server on the front-end with their argument on stdin (a VM document can be
// larger than an argument may be). API hooks run after oned answered the call: leases
// are taken during it, so the hook finds them in NetBox; they run `netbox-ipam hook
// api <call>` with $API. State hooks run `netbox-ipam hook state` with $TEMPLATE, the
// VM; oned's HookStateVM knows them by ON, not by STATE/LCM_STATE (which it reads only
// with ON = CUSTOM). With vms.enabled, more hooks keep NetBox's virtual machines:
// detachnic (the interface goes), rename (its name), RUNNING also refreshes status and
// the host's cluster, POWEROFF, UNDEPLOYED, STOPPED, SUSPENDED and UNKNOWN (ON =
// CUSTOM with the STATE and LCM_STATE oned shows) the status, and ON DONE the virtual
// machine goes. The failure states (a dozen LCM states) have no hook: the next hook or
// `netbox-ipam sync --all` brings the status.
//
// The state hook ON RUNNING runs for every configuration: a VM is back in RUNNING after
// each nic-attach, and OpenNebula 7.2.0 runs no API hook for an XML-RPC one: its
// request is named one.vm.nicattach (VirtualMachineXRPC.h, OpenNebula bug 7725, fixed
// on one-7.2 after 7.2.0), which `onehook create` refuses as a call that does not
// exist, while a hook on the registered one.vm.attachnic never fires.
type hookSpec struct {
	key  string // the name's tail: netbox-ipam-<IPAM_MAD>-<key>
	call string // an API hook's call
	on   string // a state hook's ON
	// state and lcm make a state hook ON = CUSTOM for that STATE and LCM_STATE.
	state, lcm string
	vms        bool // wanted with vms.enabled
	names      bool // wanted with dns_name (a rename renames the leases)
	owners     bool // wanted with tenants (a new owner may map to another tenant)
}

// always says whether every configuration wants the hook.
func (h hookSpec) always() bool { return !h.vms && !h.names && !h.owners }

var hookSpecs = []hookSpec{
	{key: "vm-allocate", call: "one.vm.allocate"},
	// onetemplate instantiate (Sunstone, OneFlow) makes its VM without one.vm.allocate.
	{key: "template-instantiate", call: "one.template.instantiate"},
	{key: "vm-attachnic", call: "one.vm.attachnic"},
	{key: "vm-detachnic", call: "one.vm.detachnic", vms: true},
	{key: "vm-rename", call: "one.vm.rename", vms: true, names: true},
	{key: "vm-chown", call: "one.vm.chown", owners: true},
	// A virtual router's floating IPs are taken by one.vrouter.allocate and attachnic;
	// its VMs are made (and given NICs) inside oned by instantiate and attachnic,
	// which no VM hook sees.
	{key: "vrouter-allocate", call: "one.vrouter.allocate"},
	{key: "vrouter-instantiate", call: "one.vrouter.instantiate"},
	{key: "vrouter-attachnic", call: "one.vrouter.attachnic"},
	{key: "vrouter-detachnic", call: "one.vrouter.detachnic", vms: true},
	{key: "vm-running", on: "RUNNING"},
	{key: "vm-done", on: "DONE", vms: true},
	{key: "vm-poweroff", state: "POWEROFF", lcm: "LCM_INIT", vms: true},
	{key: "vm-undeployed", state: "UNDEPLOYED", lcm: "LCM_INIT", vms: true},
	{key: "vm-stopped", state: "STOPPED", lcm: "LCM_INIT", vms: true},
	{key: "vm-suspended", state: "SUSPENDED", lcm: "LCM_INIT", vms: true},
	{key: "vm-unknown", state: "ACTIVE", lcm: "UNKNOWN", vms: true},
}

// template is a hook's template: when it runs, what it runs, its argument on stdin,
// and how long onehem-server lets it run (timeout, in seconds).
func (h hookSpec) template(name, command, timeout string) string {
	tail := "ARGUMENTS_STDIN = \"YES\"\nTIMEOUT = \"" + timeout + "\"\n"
	switch {
	case h.on != "":
		return fmt.Sprintf("NAME = %q\nTYPE = \"state\"\nRESOURCE = \"VM\"\nON = %q\nCOMMAND = %q\nARGUMENTS = \"$TEMPLATE\"\n%s",
			name, h.on, h.command(command), tail)
	case h.state != "":
		return fmt.Sprintf("NAME = %q\nTYPE = \"state\"\nRESOURCE = \"VM\"\nON = \"CUSTOM\"\nSTATE = %q\nLCM_STATE = %q\nCOMMAND = %q\nARGUMENTS = \"$TEMPLATE\"\n%s",
			name, h.state, h.lcm, h.command(command), tail)
	}
	return fmt.Sprintf("NAME = %q\nTYPE = \"api\"\nCALL = %q\nCOMMAND = %q\nARGUMENTS = \"$API\"\n%s",
		name, h.call, h.command(command), tail)
}

// command is the hook's COMMAND: how onehem-server runs netbox-ipam's hook command
// (command) for this hook.
func (h hookSpec) command(command string) string {
	if h.call == "" {
		return command + " state"
	}
	return command + " api " + h.call
}

// hooks are the hooks this configuration wants.
func (h *Hooks) hooks() []hookSpec {
	var out []hookSpec
	for _, spec := range hookSpecs {
		if h.every || spec.always() || spec.vms && h.cfg.VMs.Enabled || spec.names && !h.cfg.DNS.IsZero() || spec.owners && !h.cfg.Tenants.IsZero() {
			out = append(out, spec)
		}
	}
	return out
}

// hookName is the name of one of the driver's hooks: an admin reading `onehook list`
// sees whose it is.
func (h *Hooks) hookName(spec hookSpec) string {
	return "netbox-ipam-" + h.cfg.Name + "-" + spec.key
}

// HookCall handles an API hook: the VM the call made or changed, recorded on its
// leases as oned holds them now (Hook). The call's parameters only name the VM: its
// document in EXTRA is what it was when the call ended, and `onehook retry` replays
// it whenever an admin asks. A failed allocate or instantiate made nothing to record;
// any other failed call may have left leases oned took before it failed (a virtual
// router's attachnic keeps those of the VMs it reached), and since the hook reads
// what oned holds now it records them all the same.
func (h *Hooks) HookCall(ctx context.Context, call string, info mapping.CallInfo) (HookResponse, error) {
	made := call == "one.vm.allocate" || call == "one.template.instantiate" || call == "one.vrouter.allocate"
	if !info.Success && made {
		return h.nothing(ctx)
	}
	var id string
	switch call {
	case "one.vm.allocate", "one.template.instantiate":
		id = createdID(info)
	case "one.vm.attachnic", "one.vm.detachnic", "one.vm.rename", "one.vm.chown":
		id = info.In[2]
	case "one.vrouter.allocate", "one.vrouter.instantiate", "one.vrouter.attachnic", "one.vrouter.detachnic":
		return h.hookVRouterCall(ctx, call, info)
	default:
		return HookResponse{}, inputf("hook for %s: the driver records VMs on one.vm.allocate, one.template.instantiate, attachnic, detachnic, rename and chown, and virtual routers on one.vrouter.allocate, instantiate, attachnic and detachnic", call)
	}
	switch {
	case id == "" && !info.Success:
		return h.nothing(ctx) // failed before it named a VM
	case id == "":
		return h.namesNone(ctx, call, "VM (no OUT value, no document in EXTRA)")
	}
	return h.Hook(ctx, id)
}

// namesNone answers a successful call whose argument names no object (what): on a
// follower, that of a call it forwarded over gRPC (RESULT 1, no OUT, no EXTRA:
// RequestGRPC::execute), whose leader's hook has the id; anywhere else, an input
// error.
func (h *Hooks) namesNone(ctx context.Context, call, what string) (HookResponse, error) {
	if resp, stop, err := h.skip(ctx); stop {
		return resp, err
	}
	return HookResponse{}, inputf("hook for %s: the call's argument names no %s", call, what)
}

// createdID is the id of the object an allocate or instantiate call made: its second
// OUT value (the first is oned's success flag, "true"), else the ID of the document in
// EXTRA.
func createdID(info mapping.CallInfo) string {
	if id := info.Out[2]; id != "" {
		return id
	}
	var doc struct {
		ID string `xml:"ID"`
	}
	if xml.Unmarshal(info.Extra, &doc) == nil {
		return doc.ID
	}
	return ""
}

// hookVRouterCall reads the virtual router a call made or changed from oned (allocate
// names it by its OUT value or its document in EXTRA; the others by their first IN
// value after the session) and records it (HookVRouter).
func (h *Hooks) hookVRouterCall(ctx context.Context, call string, info mapping.CallInfo) (HookResponse, error) {
	id := info.In[2]
	if call == "one.vrouter.allocate" {
		id = createdID(info)
	}
	if id == "" {
		return h.namesNone(ctx, call, "virtual router")
	}
	vr, err := h.oned.VRouter(ctx, id)
	if err != nil {
		return HookResponse{}, err
	}
	return h.HookVRouter(ctx, vr)
}

// HooksInstalled lists the driver's hooks oned has (of those this configuration
// wants), by key.
func (h *Hooks) HooksInstalled(ctx context.Context) (map[string]opennebula.Hook, error) {
	hooks, err := h.oned.Hooks(ctx)
	if err != nil {
		return nil, err
	}
	have := map[string]opennebula.Hook{}
	for _, hook := range hooks {
		for _, spec := range h.hooks() {
			if hook.Name == h.hookName(spec) {
				have[spec.key] = hook
			}
		}
	}
	return have, nil
}

// hookTimeout is the hooks' TIMEOUT: the driver's own deadline (timeout, which also
// bounds a drainer's batches) and a margin to start and to log, so that
// onehem-server never kills a hook in the middle of a batch it would then replay.
func (h *Hooks) hookTimeout() string {
	return strconv.Itoa(int(h.cfg.Timeout.Seconds()) + 15)
}

// InstallHooks creates the driver's hooks that oned lacks. command is how
// onehem-server runs netbox-ipam on the front-end (its absolute path, after an
// `/usr/bin/env NETBOX_IPAM_CONFIG=…` when the configuration is not where the binary
// looks by itself). It returns one line per hook.
func (h *Hooks) InstallHooks(ctx context.Context, command string) ([]string, error) {
	have, err := h.HooksInstalled(ctx)
	if err != nil {
		return nil, err
	}
	var lines []string
	timeout := h.hookTimeout()
	run := command + " hook --name " + h.cfg.Name
	for _, spec := range h.hooks() {
		tpl := spec.template(h.hookName(spec), run, timeout)
		old, ok := have[spec.key]
		cmd := spec.command(run)
		switch {
		case ok && old.Timeout == timeout && old.Command == cmd:
			lines = append(lines, fmt.Sprintf("exists  hook %s (id %s)", h.hookName(spec), old.ID))
		case ok: // made by an older driver, moved since, or its timeout changed
			if err := h.oned.UpdateHook(ctx, old.ID, tpl); err != nil {
				return lines, err
			}
			var was []string
			if old.Timeout != timeout {
				was = append(was, fmt.Sprintf("TIMEOUT %s, was %s", timeout, old.Timeout))
			}
			if old.Command != cmd {
				was = append(was, fmt.Sprintf("COMMAND %s, was %s", cmd, old.Command))
			}
			lines = append(lines, fmt.Sprintf("updated hook %s (id %s): %s", h.hookName(spec), old.ID, strings.Join(was, "; ")))
		default:
			if err := h.oned.CreateHook(ctx, tpl); err != nil {
				return lines, err
			}
			lines = append(lines, "created hook "+h.hookName(spec))
		}
	}
	return lines, nil
}

// RemoveHooks deletes the driver's hooks, those of every setting (vms.enabled,
// dns_name, tenants) too; it returns one line per hook removed.
func (h *Hooks) RemoveHooks(ctx context.Context) ([]string, error) {
	all := *h
	all.every = true
	have, err := all.HooksInstalled(ctx)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, spec := range hookSpecs {
		if old, ok := have[spec.key]; ok {
			if err := h.oned.DeleteHook(ctx, old.ID); err != nil {
				return lines, err
			}
			lines = append(lines, "removed hook "+h.hookName(spec))
		}
	}
	return lines, nil
}

// Check says whether the driver's OpenNebula hooks are installed (for check and setup:
// driver.Driver.Check's more). Without them leases name their VM only after
// `netbox-ipam sync`, which is a choice, not a fault.
func (h *Hooks) Check(ctx context.Context, r *driver.CheckReport) {
	have, err := h.HooksInstalled(ctx)
	var missing []string
	for _, spec := range h.hooks() {
		if _, ok := have[spec.key]; !ok {
			missing = append(missing, h.hookName(spec))
		}
	}
	switch {
	case err != nil:
		r.Line("WARN", "hooks", "cannot ask oned ("+err.Error()+"); run check on the front-end as oneadmin to see them")
	case len(have) == 0:
		r.Line("WARN", "hooks", "not installed: leases name their VM only after `netbox-ipam sync`; run `netbox-ipam hooks install`")
	case len(missing) > 0:
		r.Line("WARN", "hooks", "missing "+strings.Join(missing, ", ")+"; run `netbox-ipam hooks install`")
	default:
		r.Line("ok", "hooks", fmt.Sprintf("installed (%d)", len(have)))
	}
	if !h.cfg.DNS.IsZero() {
		example, _ := h.cfg.DNS.Name(mapping.NameOf{VM: "web", ID: "42", Network: "public", NetworkID: "7", NIC: "NIC0"})
		r.Line("ok", "dns_name", fmt.Sprintf("%s (VM 42 \"web\", NIC0 on network 7 \"public\": %s)", h.cfg.DNSName, example))
	}
	h.checkTenants(ctx, r)
}

// checkTenants says whether NetBox has every tenant the tenants mapping names: a lease
// whose owner maps to one it lacks keeps its range's tenant.
func (h *Hooks) checkTenants(ctx context.Context, r *driver.CheckReport) {
	slugs := h.cfg.Tenants.Slugs()
	if len(slugs) == 0 {
		return
	}
	var unknown []string
	for _, slug := range slugs {
		_, err := h.nb.Resolve(ctx, "tenant", slug)
		switch {
		case netbox.IsNotFound(err):
			unknown = append(unknown, slug)
		case err != nil:
			r.Line("WARN", "tenants", "cannot look them up: "+err.Error())
			return
		}
	}
	if len(unknown) > 0 {
		r.Line("WARN", "tenants", fmt.Sprintf("NetBox has no tenant %s: leases of the VMs mapped to it keep their range's tenant; create it in NetBox or fix the mapping", strings.Join(unknown, ", ")))
		return
	}
	r.Line("ok", "tenants", fmt.Sprintf("%d mapped: %s", len(slugs), strings.Join(slugs, ", ")))
}
