package hooks

import (
	"context"
	"encoding/xml"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox/netboxtest"
)

// An event only says which VM to look at: the hook acts on what oned holds when it
// runs. Each row is an event older than oned (a hook retried with `onehook retry`, a
// spool a killed drainer left, RUNNING's $TEMPLATE behind a nic-detach), with and
// without vms.enabled.
func TestHookActsOnOnedNow(t *testing.T) {
	web := func(ips ...string) mapping.VM { // VM 42 as the event carried it, or as oned has it now
		vm := mapping.VM{ID: "42", Name: "web", State: "3", LCMState: "3"}
		vm.History = append(vm.History, struct {
			ClusterID string `xml:"CID"`
		}{"100"})
		for i, ip := range ips {
			vm.NICs = append(vm.NICs, mapping.NIC{ID: itoa(i), Name: "NIC" + itoa(i), NetworkID: "7", ARID: "0", IP: ip, MAC: "02:00:0a:46:00:0" + itoa(i)})
		}
		return vm
	}
	done := web("10.70.0.10")
	done.State = "6"
	db := mapping.VM{ID: "43", Name: "db", State: "3", LCMState: "3", NICs: []mapping.NIC{{ID: "0", Name: "NIC0", NetworkID: "7", ARID: "0", IP: "10.70.0.10", MAC: "02:00:0a:46:00:2b"}}}
	allocate := func(vm mapping.VM) string { // allocate's $API with the VM as it was then
		return `<CALL_INFO><RESULT>1</RESULT><PARAMETERS><PARAMETER><POSITION>1</POSITION><TYPE>OUT</TYPE><VALUE>true</VALUE></PARAMETER><PARAMETER><POSITION>2</POSITION><TYPE>OUT</TYPE><VALUE>42</VALUE></PARAMETER></PARAMETERS><EXTRA>` +
			vmXML(t, vm) + `</EXTRA></CALL_INFO>`
	}
	cases := []struct {
		name string
		now  *mapping.VM // VM 42 in oned when the hook runs; nil: gone
		// want: each lease's holder afterwards ("" unlabelled), and whether NetBox has a
		// virtual machine for VM 42 (vms.enabled).
		want42VM bool
		want     map[string]string
	}{
		{"terminated and purged, its address now VM 43's", nil, false, map[string]string{"10.70.0.10": "43", "10.70.0.11": ""}},
		{"terminated (DONE), its address now VM 43's", &done, false, map[string]string{"10.70.0.10": "43", "10.70.0.11": ""}},
		{"lost the NIC to VM 43, holds .11 now", ptr(web("10.70.0.11")), true, map[string]string{"10.70.0.10": "43", "10.70.0.11": "42"}},
	}
	for _, vms := range []bool{false, true} {
		for _, tc := range cases {
			t.Run(map[bool]string{false: "labels/", true: "vms/"}[vms]+tc.name, func(t *testing.T) {
				f, ar := twoLeases(t, vms)
				ctx := context.Background()
				f.Oned.SetCluster("100", "default")
				f.SetVNet(onetest.VNetXML(ar))
				// Then: VM 42 was made on .10 and hooked; now VM 43 holds .10 and is hooked.
				if _, err := f.hook(ctx, web("10.70.0.10")); err != nil {
					t.Fatal(err)
				}
				f.Oned.DeleteVM("42")
				if tc.now != nil {
					f.Oned.SetVM(*tc.now)
				}
				if _, err := f.hook(ctx, db); err != nil {
					t.Fatal(err)
				}
				// Now allocate's event for VM 42, as `onehook retry` replays it.
				info, err := mapping.ParseCallInfo([]byte(allocate(web("10.70.0.10"))))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.h.HookCall(ctx, "one.vm.allocate", info); err != nil {
					t.Fatal(err)
				}
				for ip, want := range tc.want {
					if got := f.Addr(ip).CustomString(mapping.CFVMID); got != want {
						t.Errorf("%s is labelled VM %q, want %q", ip, got, want)
					}
				}
				if vms {
					has := false
					for _, v := range f.NB.VMs {
						has = has || v.CustomString(mapping.CFVMID) == "42"
					}
					if has != tc.want42VM {
						t.Errorf("NetBox has a virtual machine for VM 42: %v, want %v", has, tc.want42VM)
					}
				}
			})
		}
	}
}

func ptr[T any](v T) *T { return &v }

// vmXML is vm's document, as onedVMs answers it.
func vmXML(t *testing.T, vm mapping.VM) string {
	t.Helper()
	b, err := xml.Marshal(vm)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The drainer looks at the spool again after it lets the lock go: a hook whose file
// came after the drainer's last look, and who found the lock still held, is recorded.
func TestSpoolLooksAgainAfterUnlock(t *testing.T) {
	f, _ := leased(t, 2)
	ctx := context.Background()
	vm := func(id, ip string) mapping.VM {
		return mapping.VM{ID: id, Name: "vm" + id, NICs: []mapping.NIC{{ID: "0", NetworkID: "7", ARID: "0", IP: ip, MAC: "02:00:00:00:00:" + id}}}
	}
	locks := &memLocker{}
	late := false
	locks.release = func(key string) {
		if key != f.h.drainLock() || late {
			return
		}
		late = true
		// VM 43's hook runs now: the drainer found the spool empty and holds the lock.
		if resp, err := f.hook(ctx, vm("43", "10.70.0.11")); err != nil || len(resp.Changes) != 0 {
			t.Errorf("the late hook: %+v %v (want its VM left to the drainer)", resp, err)
		}
	}
	f.h.lock = locks.lock
	resp, err := f.hook(ctx, vm("42", "10.70.0.10"))
	if err != nil || resp.VM != "42 43" {
		t.Fatalf("drain: %+v %v", resp, err)
	}
	for ip, want := range map[string]string{"10.70.0.10": "42", "10.70.0.11": "43"} {
		if got := f.Addr(ip).CustomString(mapping.CFVMID); got != want {
			t.Errorf("%s labelled %q, want %q", ip, got, want)
		}
	}
	if files, _ := f.h.spoolFiles(); len(files) != 0 {
		t.Errorf("spool left %v", files)
	}
}

// A spooled VM that cannot be recorded (its network deleted since) is said, and the
// others of its batch are recorded all the same.
func TestSpoolOneVMFails(t *testing.T) {
	f, ar := registered(t)
	ctx := context.Background()
	if _, err := f.D.GetAddress(ctx, request(ar, "SIZE=1")); err != nil {
		t.Fatal(err)
	}
	f.SetVNet(onetest.VNetXML(ar))                // network 8 is gone
	unlock, err := f.h.lock(ctx, f.h.drainLock()) // another hook is draining
	if err != nil {
		t.Fatal(err)
	}
	f.hook(ctx, mapping.VM{ID: "41", Name: "orphan", NICs: []mapping.NIC{{ID: "0", NetworkID: "8", ARID: "0", IP: "10.80.0.10"}}})
	f.hook(ctx, mapping.VM{ID: "42", Name: "web", NICs: []mapping.NIC{{ID: "0", NetworkID: "7", ARID: "0", IP: "10.70.0.10", MAC: "02:00:0a:46:00:0a"}}})
	unlock()
	_, err = f.h.Drain(ctx)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 VM(s) not recorded, left for `netbox-ipam sync` (VM 41)") || kindOf(err) != "opennebula" {
		t.Fatalf("drain: %v (%s)", err, kindOf(err))
	}
	if got := f.Addr("10.70.0.10").CustomString(mapping.CFVMID); got != "42" {
		t.Errorf("VM 42 of the same batch not recorded: %q", got)
	}
}

// lookupGate holds each hook after its first look for the VM's NetBox virtual machine
// until the other hook has looked too, or waits for the VM's lock: without the lock,
// both look before either makes one.
type lookupGate struct {
	*netboxtest.NetBox
	mu              sync.Mutex
	cond            *sync.Cond
	looked, waiting int
}

func (g *lookupGate) VirtualMachinesWith(ctx context.Context, tag, field string, values ...string) ([]netbox.VirtualMachine, error) {
	vms, err := g.NetBox.VirtualMachinesWith(ctx, tag, field, values...)
	g.mu.Lock()
	g.looked++
	g.cond.Broadcast()
	for g.looked < 2 && g.waiting == 0 {
		g.cond.Wait()
	}
	g.mu.Unlock()
	return vms, err
}

func (g *lookupGate) wait(key string) {
	if strings.HasPrefix(key, "vm-") {
		g.mu.Lock()
		g.waiting++
		g.cond.Broadcast()
		g.mu.Unlock()
	}
}

// Hooks of one VM that run at once (allocate's, then RUNNING's while it still works)
// make one NetBox virtual machine, one cluster and one interface per NIC: the second
// waits for the first's lock and finds what it made.
func TestHooksOfOneVMAtOnce(t *testing.T) {
	f, _ := vmFixture(t)
	gate := &lookupGate{NetBox: f.NB}
	gate.cond = sync.NewCond(&gate.mu)
	f.h.nb = gate
	f.h.lock = (&memLocker{waiting: gate.wait}).lock
	f.Oned.SetVM(onetest.WebVM("3", "3", "100", "0", "1"))
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.h.Hook(context.Background(), "42")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(f.NB.VMs) != 1 || len(f.NB.Clusters) != 1 || len(f.NB.Interfaces) != 2 {
		t.Fatalf("%d VMs, %d clusters, %d interfaces; want 1, 1, 2", len(f.NB.VMs), len(f.NB.Clusters), len(f.NB.Interfaces))
	}
}

// The VM id of allocate's $API as the real oned 7.5.80 sent it to a hook (recorded
// from the test oned): OUT 1 is oned's success flag, OUT 2 the id.
func TestCreatedIDFromOned(t *testing.T) {
	raw, err := os.ReadFile("testdata/api-vm-allocate-7.5.80.xml")
	if err != nil {
		t.Fatal(err)
	}
	info, err := mapping.ParseCallInfo(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := createdID(info); got != "92" || !info.Success {
		t.Fatalf("created id %q (success %v), want 92", got, info.Success)
	}
	info.Out = map[int]string{} // without the OUT values, the ID of the document in EXTRA
	if got := createdID(info); got != "92" {
		t.Fatalf("created id from EXTRA %q, want 92", got)
	}
}

// A NIC_ALIAS's and a PCI NIC's leases are the VM's like a NIC's: labelled, and with
// vms.enabled the alias's on its parent's interface, the PCI NIC's on an interface of
// its own. Here the VM's NIC is on another IPAM's network: its only leases of the
// driver are the alias's and the PCI NIC's, and its NetBox virtual machine stays.
func TestHookAliasAndPCI(t *testing.T) {
	for _, vms := range []bool{false, true} {
		t.Run(map[bool]string{false: "labels", true: "vms"}[vms], func(t *testing.T) {
			f, ar := twoLeases(t, vms)
			ctx := context.Background()
			dummy := strings.Replace(onetest.VNetXML(onetest.Attrs("AR_ID=0", "IPAM_MAD=dummy", "TYPE=IP4", "IP=192.168.0.10", "SIZE=5")), "<ID>7</ID>", "<ID>9</ID>", 1)
			f.Oned.SetCluster("100", "default")
			f.SetVNet(onetest.VNetXML(ar), dummy)
			vm := mapping.VM{ID: "42", Name: "web", State: "3", LCMState: "3",
				NICs:    []mapping.NIC{{ID: "0", Name: "eth0", NetworkID: "9", ARID: "0", IP: "192.168.0.10", MAC: "02:00:c0:a8:00:0a"}},
				PCI:     []mapping.NIC{{ID: "1", Name: "NIC1", Type: "NIC", NetworkID: "7", ARID: "0", IP: "10.70.0.10", MAC: "02:00:0a:46:00:0a"}},
				Aliases: []mapping.NIC{{ID: "2", Name: "NIC0_ALIAS2", ParentID: "0", NetworkID: "7", ARID: "0", IP: "10.70.0.11", MAC: "02:00:0a:46:00:0b"}}}
			vm.History = append(vm.History, struct {
				ClusterID string `xml:"CID"`
			}{"100"})
			if _, err := f.hook(ctx, vm); err != nil {
				t.Fatal(err)
			}
			for _, ip := range []string{"10.70.0.10", "10.70.0.11"} {
				if a := f.Addr(ip); a.CustomString(mapping.CFVMID) != "42" || !strings.Contains(a.Description, "VM 42 (web)") {
					t.Errorf("%s: %+v, want labelled VM 42", ip, a)
				}
			}
			if !vms {
				return
			}
			if len(f.NB.VMs) != 1 {
				t.Fatalf("%d NetBox VMs, want 1 (its leases are the alias's and the PCI NIC's)", len(f.NB.VMs))
			}
			names := map[int]string{}
			for _, i := range f.NB.Interfaces {
				names[i.ID] = i.Name
			}
			on := func(ip string) string { return names[f.Addr(ip).AssignedObjectID] }
			if on("10.70.0.10") != "NIC1" || on("10.70.0.11") != "eth0" || len(f.NB.Interfaces) != 2 {
				t.Errorf("PCI lease on %q (want NIC1), alias's on %q (want eth0); interfaces %v", on("10.70.0.10"), on("10.70.0.11"), names)
			}
		})
	}
}

// twoLeases is a registered AR (with vms.enabled when vms) holding 10.70.0.10 and .11.
func twoLeases(t *testing.T, vms bool) (*fixture, mapping.Attrs) {
	t.Helper()
	var configure []func(*config.Config)
	if vms {
		configure = append(configure, vmsOn)
	}
	f, ar := registered(t, configure...)
	for i := 0; i < 2; i++ {
		if _, err := f.D.GetAddress(context.Background(), request(ar, "SIZE=1")); err != nil {
			t.Fatal(err)
		}
	}
	return f, ar
}
