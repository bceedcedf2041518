package hooks

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox/netboxtest"
)

// The API hooks: allocate and template instantiate name their VM by OUT (or EXTRA's
// ID), attachnic by its IN; each then reads the VM from oned.
func TestHookCall(t *testing.T) {
	f, ar := registered(t)
	if _, err := f.D.GetAddress(context.Background(), request(ar, "SIZE=1")); err != nil {
		t.Fatal(err)
	}
	vmDoc := `<VM><ID>42</ID><NAME>web</NAME><TEMPLATE><NIC><NIC_ID>0</NIC_ID><NETWORK_ID>7</NETWORK_ID><AR_ID>0</AR_ID><IP>10.70.0.10</IP><MAC>02:00:0a:46:00:0a</MAC></NIC></TEMPLATE></VM>`
	f.SetVNet(onetest.VNetXML(ar))
	f.Oned.SetVM(onetest.ParseVM(t, vmDoc))
	cases := []struct {
		call, info string
		wantAsk    string
		wantErr    bool
	}{
		{"one.vm.allocate", `<CALL_INFO><RESULT>1</RESULT><PARAMETERS/><EXTRA>` + vmDoc + `</EXTRA></CALL_INFO>`, "RaftState;VMs 42;VNet 7", false},
		{"one.template.instantiate", `<CALL_INFO><RESULT>1</RESULT><PARAMETERS><PARAMETER><POSITION>1</POSITION><TYPE>OUT</TYPE><VALUE>true</VALUE></PARAMETER><PARAMETER><POSITION>2</POSITION><TYPE>OUT</TYPE><VALUE>42</VALUE></PARAMETER></PARAMETERS><EXTRA/></CALL_INFO>`, "RaftState;VMs 42;VNet 7", false},
		{"one.vm.attachnic", `<CALL_INFO><RESULT>1</RESULT><PARAMETERS><PARAMETER><POSITION>2</POSITION><TYPE>IN</TYPE><VALUE>42</VALUE></PARAMETER></PARAMETERS><EXTRA/></CALL_INFO>`, "RaftState;VMs 42;VNet 7", false},
		{"one.vm.chown", `<CALL_INFO><RESULT>1</RESULT><PARAMETERS><PARAMETER><POSITION>2</POSITION><TYPE>IN</TYPE><VALUE>42</VALUE></PARAMETER><PARAMETER><POSITION>3</POSITION><TYPE>IN</TYPE><VALUE>5</VALUE></PARAMETER></PARAMETERS><EXTRA/></CALL_INFO>`, "RaftState;VMs 42;VNet 7", false},
		{"one.vm.rename", `<CALL_INFO><RESULT>1</RESULT><PARAMETERS><PARAMETER><POSITION>2</POSITION><TYPE>IN</TYPE><VALUE>42</VALUE></PARAMETER><PARAMETER><POSITION>3</POSITION><TYPE>IN</TYPE><VALUE>web</VALUE></PARAMETER></PARAMETERS><EXTRA/></CALL_INFO>`, "RaftState;VMs 42;VNet 7", false},
		// Nothing to do; whether this front-end's hooks act is asked, to say why on a follower.
		{"one.vm.attachnic", `<CALL_INFO><RESULT>0</RESULT><PARAMETERS/><EXTRA/></CALL_INFO>`, "RaftState", false},
		// A failed attachnic may have left leases: the VM is read and recorded as oned holds it.
		{"one.vm.attachnic", `<CALL_INFO><RESULT>0</RESULT><PARAMETERS><PARAMETER><POSITION>2</POSITION><TYPE>IN</TYPE><VALUE>42</VALUE></PARAMETER></PARAMETERS><EXTRA/></CALL_INFO>`, "RaftState;VMs 42;VNet 7", false},
		{"one.vm.allocate", `<CALL_INFO><RESULT>0</RESULT><PARAMETERS/><EXTRA/></CALL_INFO>`, "RaftState", false},
		{"one.vm.deploy", `<CALL_INFO><RESULT>1</RESULT><PARAMETERS/><EXTRA/></CALL_INFO>`, "", true},
	}
	for _, tc := range cases {
		f.Oned.Calls = nil
		f.Addr("10.70.0.10").Description = "old"
		info, err := mapping.ParseCallInfo([]byte(tc.info))
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.h.HookCall(context.Background(), tc.call, info)
		if (err != nil) != tc.wantErr || strings.Join(f.Oned.Calls, ";") != tc.wantAsk {
			t.Fatalf("%s: err %v, asked %q", tc.call, err, f.Oned.Calls)
		}
		if want := "OpenNebula VM 42 (web), network 7 AR 0"; !tc.wantErr && strings.Contains(tc.wantAsk, "VMs") && f.Addr("10.70.0.10").Description != want {
			t.Errorf("%s: description %q", tc.call, f.Addr("10.70.0.10").Description)
		}
	}
}

// hooks install creates what is missing, by name; remove deletes them.
func TestInstallHooks(t *testing.T) {
	f := newFixture(t)
	hooks := f.Oned.HookList // name → template
	name := func(key string) string { return "netbox-ipam-netbox-" + key }
	lines, err := f.h.InstallHooks(context.Background(), "/usr/lib/one/netbox-ipam/netbox-ipam")
	if err != nil || len(lines) != 7 || len(hooks()) != 7 {
		t.Fatalf("install: %v %v", lines, err)
	}
	if !strings.Contains(hooks()[name("vm-allocate")], `COMMAND = "/usr/lib/one/netbox-ipam/netbox-ipam hook --name netbox api one.vm.allocate"`) || !strings.Contains(hooks()[name("vm-allocate")], `ARGUMENTS_STDIN = "YES"`) {
		t.Errorf("hook template:\n%s", hooks()[name("vm-allocate")])
	}
	if !strings.Contains(hooks()[name("template-instantiate")], `CALL = "one.template.instantiate"`) || !strings.Contains(hooks()[name("template-instantiate")], "api one.template.instantiate") {
		t.Errorf("template instantiate hook template:\n%s", hooks()[name("template-instantiate")])
	}
	if !strings.Contains(hooks()[name("vrouter-instantiate")], `CALL = "one.vrouter.instantiate"`) || !strings.Contains(hooks()[name("vrouter-instantiate")], "api one.vrouter.instantiate") {
		t.Errorf("virtual router hook template:\n%s", hooks()[name("vrouter-instantiate")])
	}
	if tpl := hooks()[name("vm-running")]; !strings.Contains(tpl, `ON = "RUNNING"`) || !strings.Contains(tpl, `ARGUMENTS = "$TEMPLATE"`) {
		t.Errorf("RUNNING hook template (installed without vms too):\n%s", tpl)
	}
	if !strings.Contains(hooks()[name("vm-allocate")], `TIMEOUT = "25"`) {
		t.Errorf("TIMEOUT is not the driver's timeout (10s) and 15 s:\n%s", hooks()[name("vm-allocate")])
	}
	if lines, _ := f.h.InstallHooks(context.Background(), "/usr/lib/one/netbox-ipam/netbox-ipam"); len(hooks()) != 7 || !strings.HasPrefix(lines[0], "exists") {
		t.Errorf("second install: %v, %d hooks", lines, len(hooks()))
	}
	// The binary moved (another prefix, a package after a tarball): install points
	// every hook at the new one, in place.
	if lines, _ := f.h.InstallHooks(context.Background(), "/opt/nb/netbox-ipam"); len(hooks()) != 7 ||
		lines[0] != "updated hook netbox-ipam-netbox-vm-allocate (id 0): COMMAND /opt/nb/netbox-ipam hook --name netbox api one.vm.allocate, was /usr/lib/one/netbox-ipam/netbox-ipam hook --name netbox api one.vm.allocate" ||
		!strings.Contains(hooks()[name("vm-running")], `COMMAND = "/opt/nb/netbox-ipam hook --name netbox state"`) {
		t.Errorf("install after the binary moved: %v", lines)
	}
	// A longer timeout since: install updates each hook's TIMEOUT in place.
	f.h.cfg.Timeout = 85 * time.Second
	if lines, err := f.h.InstallHooks(context.Background(), "/opt/nb/netbox-ipam"); err != nil || len(hooks()) != 7 ||
		lines[0] != "updated hook netbox-ipam-netbox-vm-allocate (id 0): TIMEOUT 100, was 25" || !strings.Contains(hooks()[name("vm-allocate")], `TIMEOUT = "100"`) {
		t.Fatalf("install after timeout grew: %v %v\n%s", lines, err, hooks()[name("vm-allocate")])
	}
	// vms.enabled adds the detachnic hooks and the state hook on DONE.
	f.h.cfg.VMs.Enabled = true
	if lines, err := f.h.InstallHooks(context.Background(), "nb"); err != nil || len(lines) != 16 || len(hooks()) != 16 {
		t.Fatalf("install with vms: %v %v", lines, err)
	}
	if tpl := hooks()[name("vm-poweroff")]; !strings.Contains(tpl, `ON = "CUSTOM"`) || !strings.Contains(tpl, `STATE = "POWEROFF"`) || !strings.Contains(tpl, `LCM_STATE = "LCM_INIT"`) ||
		!strings.Contains(tpl, `COMMAND = "nb hook --name netbox state"`) {
		t.Errorf("POWEROFF hook template:\n%s", tpl)
	}
	if tpl := hooks()[name("vm-done")]; !strings.Contains(tpl, `ON = "DONE"`) || !strings.Contains(tpl, `RESOURCE = "VM"`) ||
		!strings.Contains(tpl, `ARGUMENTS = "$TEMPLATE"`) || !strings.Contains(tpl, `COMMAND = "nb hook --name netbox state"`) {
		t.Errorf("DONE hook template:\n%s", tpl)
	}
	// tenants adds the chown hook (a new owner may map to another tenant); dns_name
	// wants the rename hook, which vms.enabled has already.
	f.h.cfg.Tenants = config.Tenants{Groups: map[string]string{"devops": "team-ops"}}
	if lines, err := f.h.InstallHooks(context.Background(), "nb"); err != nil || len(hooks()) != 17 || !strings.Contains(hooks()[name("vm-chown")], `CALL = "one.vm.chown"`) {
		t.Fatalf("install with tenants: %v %v", lines, err)
	}
	// remove takes them all, whatever the configuration says now.
	f.h.cfg.VMs.Enabled, f.h.cfg.Tenants = false, config.Tenants{}
	if lines, err := f.h.RemoveHooks(context.Background()); err != nil || len(lines) != 17 || len(hooks()) != 0 {
		t.Errorf("remove: %v %v, %d hooks left", lines, err, len(hooks()))
	}
	// dns_name alone: the seven and rename.
	f.h.cfg.DNS, _ = mapping.ParseDNSTemplate("{vm}.example.org")
	if lines, err := f.h.InstallHooks(context.Background(), "nb"); err != nil || len(hooks()) != 8 || hooks()[name("vm-rename")] == "" {
		t.Fatalf("install with dns_name: %v %v", lines, err)
	}
}

// The spool: VMs queued by hooks that found another one draining are recorded
// together, in one read and one write for all (a VM spooled twice is read from oned
// once, as it is now); a hook that finds the drainer busy leaves its VM for it and
// returns at once.
func TestSpool(t *testing.T) {
	f, _ := leased(t, 3)
	ctx := context.Background()
	vm := func(id, name, ip string) mapping.VM {
		return mapping.VM{ID: id, Name: name, NICs: []mapping.NIC{{ID: "0", NetworkID: "7", ARID: "0", IP: ip, MAC: "02:00:00:00:00:" + id}}}
	}
	unlock, err := f.h.lock(ctx, f.h.drainLock()) // another hook is draining
	if err != nil {
		t.Fatal(err)
	}
	f.NB.Calls = nil
	for _, v := range []mapping.VM{vm("41", "old name", "10.70.0.10"), vm("41", "a", "10.70.0.10"), vm("42", "b", "10.70.0.11"), vm("43", "c", "10.70.0.12")} {
		if resp, err := f.hook(ctx, v); err != nil || len(resp.Changes) != 0 {
			t.Fatalf("hook with the drainer busy: %+v %v", resp, err)
		}
	}
	if f.NB.Requests() != 0 || f.Addr("10.70.0.10").CustomString(mapping.CFVMID) != "" {
		t.Fatalf("a hook wrote while another drained: %v", f.NB.Calls)
	}
	unlock()
	resp, err := f.h.Drain(ctx)
	if err != nil || resp.VM != "41 42 43" {
		t.Fatalf("drain: %+v %v", resp, err)
	}
	if got := strings.Join(f.NB.Calls, " "); got != "GetIPRange IPAddressesTaggedAt PatchIPAddresses" {
		t.Errorf("NetBox calls for three VMs: %s", got)
	}
	for ip, want := range map[string]string{"10.70.0.10": "OpenNebula VM 41 (a), network 7 AR 0", "10.70.0.11": "OpenNebula VM 42 (b), network 7 AR 0", "10.70.0.12": "OpenNebula VM 43 (c), network 7 AR 0"} {
		if got := f.Addr(ip).Description; got != want {
			t.Errorf("%s: %q, want %q", ip, got, want)
		}
	}
	if files, _ := f.h.spoolFiles(); len(files) != 0 {
		t.Errorf("spool left %v", files)
	}
	// A batch that fails is dropped (sync catches up) and the error said.
	f.NB.Inject(netboxtest.Fault{Op: "PatchIPAddresses", Err: netboxtest.Unreachable("PATCH /api/ipam/ip-addresses/")})
	if _, err := f.hook(ctx, vm("44", "d", "10.70.0.12")); kindOf(err) != "netbox" {
		t.Fatalf("failed batch: %v", err)
	}
	if files, _ := f.h.spoolFiles(); len(files) != 0 {
		t.Errorf("spool kept a failed batch: %v", files)
	}
}
