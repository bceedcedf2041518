package e2e

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// installHooks installs the driver's hooks (with env, e.g. a configuration with
// vms.enabled) for this test, and removes them after it, saying what they printed
// when the test failed.
func (o *One) installHooks(t *testing.T, env []string) {
	t.Helper()
	o.driver(t, "netbox", nil, "hooks", "remove") // another test's
	if out, code := o.driverEnv(t, "netbox", nil, env, "hooks", "install"); code != 0 {
		t.Fatalf("hooks install: exit %d\n%s", code, out)
	}
	t.Cleanup(func() { o.driver(t, "netbox", nil, "hooks", "remove") })
	t.Cleanup(func() { o.hookFailures(t) })
}

// hookRun is one run of a hook, as onehem-server keeps it.
type hookRun struct {
	ExecID string `xml:"EXECUTION_ID"`
	Args   string `xml:"ARGUMENTS"`
	Code   string `xml:"EXECUTION_RESULT>CODE"`
	Stdout string `xml:"EXECUTION_RESULT>STDOUT"`
	Stderr string `xml:"EXECUTION_RESULT>STDERR"`
}

func decoded(s string) string {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return s
	}
	return string(b)
}

// hookRuns is the id of the driver's hook key (netbox-ipam-netbox-<key>) and its runs.
func (o *One) hookRuns(t *testing.T, key string) (string, []hookRun) {
	t.Helper()
	var pool struct {
		Hooks []struct {
			ID   string `xml:"ID"`
			Name string `xml:"NAME"`
		} `xml:"HOOK"`
	}
	if err := xml.Unmarshal([]byte(o.must(t, "onehook", "list", "-x")), &pool); err != nil {
		t.Fatal(err)
	}
	for _, h := range pool.Hooks {
		if h.Name == "netbox-ipam-netbox-"+key {
			var one struct {
				Runs []hookRun `xml:"HOOKLOG>HOOK_EXECUTION_RECORD"`
			}
			if err := xml.Unmarshal([]byte(o.must(t, "onehook", "show", "-x", h.ID)), &one); err != nil {
				t.Fatal(err)
			}
			return h.ID, one.Runs
		}
	}
	t.Fatalf("no hook netbox-ipam-netbox-%s", key)
	return "", nil
}

// holder is the VM id NetBox's lease at ip in VRF vrf names ("" unlabelled, "-" none).
func (o *One) holder(t *testing.T, vrf int, ip string) string {
	l, ok := o.ips(t, vrf)[ip]
	if !ok {
		return "-"
	}
	return l.CF["one_vm_id"]
}

// TestHookTemplateInstantiateHold: a VM made by `onetemplate instantiate --hold`
// (Sunstone's and OneFlow's way: one.template.instantiate, no one.vm.allocate, and
// the VM never reaches RUNNING) has its lease labelled.
func TestHookTemplateInstantiateHold(t *testing.T) {
	o := oned(t)
	o.installHooks(t, nil)
	vrf, net := o.spanNet(t, "10.158.0.0/24", "10.158.0.10", 10, "")
	name := uniq("tmpl")
	tid := createdID(t, o.must(t, "onetemplate", "create", template(t, fmt.Sprintf("NAME = %q\nCPU = 0.1\nMEMORY = 32\nNIC = [ NETWORK_ID = %d ]", name, net))))
	t.Cleanup(func() { o.cli("onetemplate", "delete", strconv.Itoa(tid)) })
	start := time.Now()
	id := createdID(t, o.must(t, "onetemplate", "instantiate", strconv.Itoa(tid), "--hold", "--name", name+"-vm"))
	t.Cleanup(func() { o.terminate(t, id) })
	vm := o.vm(t, id)
	if len(vm.NICs) != 1 {
		t.Fatalf("VM %d NICs %+v", id, vm.NICs)
	}
	eventually(t, "the held VM's lease labelled", func() error {
		if got := o.holder(t, vrf, vm.NICs[0].IP); got != strconv.Itoa(id) {
			return fmt.Errorf("NetBox's lease at %s names VM %q", vm.NICs[0].IP, got)
		}
		return nil
	})
	t.Logf("onetemplate instantiate --hold: labelled %s after the command", time.Since(start).Round(time.Millisecond))
	if s, _ := o.vmState(id); s != 2 { // HOLD: no state hook ran for it
		t.Errorf("VM %d in state %d, want HOLD (2)", id, s)
	}
}

// TestHookRetryActsOnOnedNow: `onehook retry` of VM A's allocate, after A was
// terminated and its address went to VM B, leaves B's label; with vms.enabled, A's
// NetBox virtual machine stays gone.
func TestHookRetryActsOnOnedNow(t *testing.T) {
	for _, vms := range []bool{false, true} {
		t.Run(map[bool]string{false: "labels", true: "vms.enabled"}[vms], func(t *testing.T) {
			o := oned(t)
			var env []string
			cidr, first := "10.159.0.0/24", "10.159.0.10"
			if vms {
				cidr, first = "10.160.0.0/24", "10.160.0.10"
				env = []string{"NETBOX_IPAM_CONFIG=" + o.vmsConfig(t)}
				if out, code := o.driverEnv(t, "netbox", nil, env, "setup"); code != 0 {
					t.Fatalf("setup with vms: exit %d\n%s", code, out)
				}
			}
			o.installHooks(t, env)
			vrf, net := o.spanNet(t, cidr, first, 10, "")
			a := o.createVM(t, fmt.Sprintf("NAME = %q\nNIC = [ NETWORK_ID = %d, IP = %q ]", uniq("a"), net, first))
			eventually(t, "A's label", func() error {
				if got := o.holder(t, vrf, first); got != strconv.Itoa(a.ID) {
					return fmt.Errorf("%s names VM %q", first, got)
				}
				return nil
			})
			hookID, runs := o.hookRuns(t, "vm-allocate")
			if len(runs) != 1 {
				t.Fatalf("allocate hook ran %d times, want once (A)", len(runs))
			}
			o.terminate(t, a.ID)
			if vms {
				o.eventuallyNoVM(t, strconv.Itoa(a.ID))
			}
			b := o.createVM(t, fmt.Sprintf("NAME = %q\nNIC = [ NETWORK_ID = %d, IP = %q ]", uniq("b"), net, first))
			eventually(t, "B's label on A's old address", func() error {
				if got := o.holder(t, vrf, first); got != strconv.Itoa(b.ID) {
					return fmt.Errorf("%s names VM %q", first, got)
				}
				return nil
			})
			// What an admin does after a NetBox outage: retry A's allocate.
			o.must(t, "onehook", "retry", hookID, runs[0].ExecID)
			eventually(t, "the retried run", func() error {
				if _, runs := o.hookRuns(t, "vm-allocate"); len(runs) < 3 { // A, B, the retry
					return fmt.Errorf("%d runs", len(runs))
				}
				return nil
			})
			_, runs = o.hookRuns(t, "vm-allocate")
			if last := runs[len(runs)-1]; last.Code != "0" {
				t.Errorf("the retried hook: exit %s: %s", last.Code, decoded(last.Stderr))
			}
			if got := o.holder(t, vrf, first); got != strconv.Itoa(b.ID) {
				t.Errorf("after the retry %s names VM %q, want B (%d)", first, got, b.ID)
			}
			if vms {
				if found, err := o.nb.VirtualMachinesWith(ctxT(t), o.tag, "one_vm_id", strconv.Itoa(a.ID)); err != nil || len(found) != 0 {
					t.Errorf("after the retry NetBox has %d virtual machines for terminated VM %d (%v)", len(found), a.ID, err)
				}
			}
		})
	}
}

// eventuallyNoVM waits until NetBox has no virtual machine for VM id.
func (o *One) eventuallyNoVM(t *testing.T, id string) {
	t.Helper()
	eventually(t, "VM "+id+"'s NetBox virtual machine gone", func() error {
		found, err := o.nb.VirtualMachinesWith(ctxT(t), o.tag, "one_vm_id", id)
		if err == nil && len(found) > 0 {
			err = fmt.Errorf("%d left", len(found))
		}
		return err
	})
}

// TestHookRefusesForeignSpool: a spool folder another user made (or took) is refused
// by the hook, which says so in its record and writes nothing.
func TestHookRefusesForeignSpool(t *testing.T) {
	o := oned(t)
	if o.vars["ONE_LOCATION"] == "" || os.Getuid() != 0 {
		t.Skip("needs the test oned's tree (.opennebula.env) and root, to give its spool folder to another user")
	}
	spool := filepath.Join(o.vars["ONE_LOCATION"], "var", "netbox-ipam", "spool-netbox")
	if err := os.MkdirAll(spool, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(spool, 65534, 65534); err != nil { // nobody
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chown(spool, 0, 0) })
	o.installHooks(t, nil)
	vrf, net := o.spanNet(t, "10.161.0.0/24", "10.161.0.10", 10, "")
	vm := o.createVM(t, fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", net))
	var run hookRun
	eventually(t, "the allocate hook's run", func() error {
		if _, runs := o.hookRuns(t, "vm-allocate"); len(runs) > 0 {
			run = runs[0]
			return nil
		}
		return fmt.Errorf("no run yet")
	})
	if msg := decoded(run.Stderr); run.Code == "0" || !strings.Contains(msg, "spool-netbox: it belongs to uid 65534") ||
		strings.Count(strings.TrimSpace(msg), "\n") != 0 {
		t.Fatalf("hook with another user's spool: exit %s, stderr %q", run.Code, msg)
	}
	if got := o.holder(t, vrf, vm.NICs[0].IP); got != "" {
		t.Errorf("the lease was labelled %q through another user's spool", got)
	}
	entries, _ := os.ReadDir(spool)
	if len(entries) != 0 {
		t.Errorf("the hook wrote into another user's spool: %v", entries)
	}
}

// TestHookAliasAndPCI: a NIC_ALIAS's lease and a PCI NIC's (TYPE = "NIC") are labelled
// like a NIC's: oned takes them from the driver at onevm create, in one NIC_ID sequence.
func TestHookAliasAndPCI(t *testing.T) {
	o := oned(t)
	o.installHooks(t, nil)
	vrf, net := o.spanNet(t, "10.162.0.0/24", "10.162.0.10", 10, "")
	id := createdID(t, o.must(t, "onevm", "create", "--hold", template(t, fmt.Sprintf(`NAME = %q
CPU = 0.1
MEMORY = 32
NIC = [ NETWORK_ID = %d, NAME = "eth0" ]
NIC_ALIAS = [ NETWORK_ID = %d, PARENT = "eth0" ]
PCI = [ TYPE = "NIC", NETWORK_ID = %d, VENDOR = "8086", CLASS = "0200", DEVICE = "10d3" ]`, uniq("alias"), net, net, net))))
	t.Cleanup(func() { o.terminate(t, id) })
	ips := map[string]bool{}
	for _, ip := range leaseIPs(arOf(t, o.vnet(t, net), "0")) {
		ips[ip] = true
	}
	if len(ips) != 3 {
		t.Fatalf("oned's leases %v, want 3 (NIC, PCI NIC, alias)", ips)
	}
	eventually(t, "the three leases labelled", func() error {
		for ip := range ips {
			if got := o.holder(t, vrf, ip); got != strconv.Itoa(id) {
				return fmt.Errorf("%s names VM %q", ip, got)
			}
		}
		return nil
	})
}
