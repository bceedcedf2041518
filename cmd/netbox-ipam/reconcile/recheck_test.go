package reconcile

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox/netboxtest"
)

// sync reads oned again before it repairs an AR, and does only what that second look
// agrees with. Each row is something oned (or a NetBox client) does between sync's
// picture and its repair: the fake oned changes after the picture's `onevnet show`.
// The AR is network 7 AR 0 (10.70.0.10…19); NetBox has the driver's objects at .10
// and .11, made an hour ago, and its prefix says DNS 10.70.0.53, which the AR lacks.
func TestSyncActsOnWhatOnedHoldsNow(t *testing.T) {
	cases := []struct {
		name      string
		picture   []string                                            // the leases oned holds at the picture ("ip vm")
		meanwhile func(f *fixture, o *onetest.Oned, ar mapping.Attrs) // what happens after the picture
		check     func(t *testing.T, f *fixture, o *onetest.Oned)
		left      string // what the report says sync left ("" for nothing)
	}{
		{
			name: "nothing changes: everything is repaired", picture: []string{"10.70.0.10 42", "10.70.0.12 43"},
			check: func(t *testing.T, f *fixture, o *onetest.Oned) {
				if f.Addr("10.70.0.11") != nil || f.Addr("10.70.0.12") == nil || !strings.Contains(f.Doc("7"), "10.70.0.53") {
					t.Errorf("orphan .11 %v, missing .12 %v, DNS restored %v", f.Addr("10.70.0.11"), f.Addr("10.70.0.12"), strings.Contains(f.Doc("7"), "10.70.0.53"))
				}
			},
		},
		{
			name: "a VM takes the orphan's address", picture: []string{"10.70.0.10 42"},
			meanwhile: func(f *fixture, o *onetest.Oned, ar mapping.Attrs) {
				f.SetVNet(onetest.VNetXML(ar, "10.70.0.10 42", "10.70.0.11 44"))
			},
			check: func(t *testing.T, f *fixture, o *onetest.Oned) {
				if f.Addr("10.70.0.11") == nil {
					t.Error("sync deleted the lease of VM 44, which oned holds now")
				}
			},
			left: "orphan 10.70.0.11 (#",
		},
		{
			name: "get_address makes an object oned has not recorded yet", picture: []string{"10.70.0.10 42", "10.70.0.11 43"},
			meanwhile: func(f *fixture, o *onetest.Oned, ar mapping.Attrs) {
				f.NB.Now = nil // made now, after the audit began
				if _, err := f.D.GetAddress(context.Background(), request(ar, "SIZE=1")); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, f *fixture, o *onetest.Oned) {
				if f.Addr("10.70.0.12") == nil {
					t.Error("sync deleted the lease get_address made while it ran")
				}
			},
			left: "too recently",
		},
		{
			name: "the missing lease is freed", picture: []string{"10.70.0.10 42", "10.70.0.11 43", "10.70.0.12 43"},
			meanwhile: func(f *fixture, o *onetest.Oned, ar mapping.Attrs) {
				f.SetVNet(onetest.VNetXML(ar, "10.70.0.10 42", "10.70.0.11 43"))
			},
			check: func(t *testing.T, f *fixture, o *onetest.Oned) {
				if a := f.Addr("10.70.0.12"); a != nil {
					t.Errorf("sync re-created the lease oned freed: %+v", a)
				}
			},
			left: "missing 10.70.0.12",
		},
		{
			name: "the lease goes to another VM", picture: []string{"10.70.0.10 42", "10.70.0.11 43"},
			meanwhile: func(f *fixture, o *onetest.Oned, ar mapping.Attrs) {
				f.SetVNet(onetest.VNetXML(ar, "10.70.0.10 42", "10.70.0.11 45"))
			},
			check: func(t *testing.T, f *fixture, o *onetest.Oned) {
				if a := f.Addr("10.70.0.11"); a == nil || a.CustomString(mapping.CFVMID) == "43" {
					t.Errorf("sync labelled VM 45's lease with VM 43: %+v", a)
				}
			},
			left: "its holder changed",
		},
		{
			name: "updatear SIZE", picture: []string{"10.70.0.10 42"},
			meanwhile: func(f *fixture, o *onetest.Oned, ar mapping.Attrs) {
				f.SetVNet(onetest.VNetXML(onetest.With(ar).Set(mapping.AttrSize, "20"), "10.70.0.10 42"))
			},
			check: func(t *testing.T, f *fixture, o *onetest.Oned) {
				if o.Count("UpdateAR") != 0 || !strings.Contains(f.Doc("7"), "<SIZE><![CDATA[20]]>") || f.Addr("10.70.0.11") == nil {
					t.Errorf("sync acted on the AR it saw before updatear: updates %q, .11 %v", o.Calls, f.Addr("10.70.0.11"))
				}
			},
			left: "the AR now spans 10.70.0.10…10.70.0.29",
		},
		{
			name: "another attribute edited: the restore keeps it", picture: []string{"10.70.0.10 42"},
			meanwhile: func(f *fixture, o *onetest.Oned, ar mapping.Attrs) {
				f.SetVNet(onetest.VNetXML(onetest.With(ar).Set("OWNER", "alice"), "10.70.0.10 42"))
			},
			check: func(t *testing.T, f *fixture, o *onetest.Oned) {
				if !strings.Contains(f.Doc("7"), "<OWNER><![CDATA[alice]]>") || !strings.Contains(f.Doc("7"), "10.70.0.53") {
					t.Errorf("the restore reverted an edit or was not made: %s", f.Doc("7"))
				}
			},
		},
		{
			name: "the DNS edited in oned", picture: []string{"10.70.0.10 42"},
			meanwhile: func(f *fixture, o *onetest.Oned, ar mapping.Attrs) {
				f.SetVNet(onetest.VNetXML(onetest.With(ar).Set(mapping.AttrDNS, "10.70.0.54"), "10.70.0.10 42"))
			},
			check: func(t *testing.T, f *fixture, o *onetest.Oned) {
				if o.Count("UpdateAR") != 0 || !strings.Contains(f.Doc("7"), "10.70.0.54") {
					t.Errorf("sync reverted an edit made while it ran: %q", o.Calls)
				}
			},
			left: "DNS: changed in oned",
		},
		{
			name: "the network is deleted", picture: []string{"10.70.0.10 42"},
			meanwhile: func(f *fixture, o *onetest.Oned, ar mapping.Attrs) { o.DeleteVNet("7") },
			check: func(t *testing.T, f *fixture, o *onetest.Oned) {
				if f.Addr("10.70.0.11") == nil || o.Count("UpdateAR") != 0 {
					t.Errorf("sync acted on a network that is gone: .11 %v, updates %q", f.Addr("10.70.0.11"), o.Calls)
				}
			},
			left: "network 7 is gone",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, ar := registered(t)
			f.NB.Now = func() time.Time { return time.Now().Add(-time.Hour) }
			for i := 0; i < 2; i++ {
				if _, err := f.D.GetAddress(context.Background(), request(ar, "SIZE=1")); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range f.NB.Prefixes {
				p.CustomFields[mapping.CFDNS] = "10.70.0.53"
			}
			o := f.Oned
			f.SetVNet(onetest.VNetXML(ar, tc.picture...))
			if tc.meanwhile != nil {
				f.Oned.AfterPicture(func() { tc.meanwhile(f, o, ar) })
			}
			rep, err := Run(context.Background(), f.D, Options{Sync: true, All: true}, nil)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, f, o)
			left := strings.Join(rep.ARs[0].Left, "; ")
			if (tc.left == "") != (left == "") || !strings.Contains(left, tc.left) {
				t.Errorf("left %q, want %q", left, tc.left)
			}
		})
	}
}

// Sync converges: whatever it repaired, an audit right after finds nothing. The AR
// lost its NetBox ids (onevnet updatear without --append), and the same updatear may
// have changed its SIZE: sync finds the range by the AR's first address (which no
// updatear changes), makes it match the AR, and writes the ids back into the AR as
// oned holds it (the fake applies updatear as oned does), keeping its SIZE; the next
// audit is clean. A restore that dropped the driver's attributes fails here.
func TestSyncRestoresLostIDs(t *testing.T) {
	for _, tc := range []struct{ name, size, found, last string }{
		{"ids lost", "10", "ids 10.70.0.10", "10.70.0.19"},
		{"ids lost and resized", "15", "ids 10.70.0.10, range 10.70.0.10", "10.70.0.24"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, ar := registered(t)
			lost := onetest.With(ar).Set(mapping.AttrIPRangeID, "").Set(mapping.AttrPrefixID, "").Set(mapping.AttrSize, tc.size)
			f.SetVNet(onetest.VNetXML(lost))
			ctx := context.Background()
			rep, err := Run(ctx, f.D, Options{All: true}, nil)
			if err != nil || kinds(rep) != tc.found {
				t.Fatalf("audit: %q, %v; want %q", kinds(rep), err, tc.found)
			}
			if _, err := Run(ctx, f.D, Options{Sync: true, All: true}, nil); err != nil {
				t.Fatal(err)
			}
			rep, err = Run(ctx, f.D, Options{All: true}, nil)
			if err != nil || rep.Drift != 0 || kinds(rep) != "" {
				t.Fatalf("audit after sync: %q, drift %d, %v\n%s", kinds(rep), rep.Drift, err, f.Doc("7"))
			}
			for _, a := range []string{mapping.AttrIPRangeID, mapping.AttrPrefixID} {
				if !strings.Contains(f.Doc("7"), "<"+a+"><![CDATA["+ar.Get(a)+"]]>") {
					t.Errorf("%s not restored: %s", a, f.Doc("7"))
				}
			}
			if !strings.Contains(f.Doc("7"), "<SIZE><![CDATA["+tc.size+"]]>") {
				t.Errorf("SIZE not kept: %s", f.Doc("7"))
			}
			if _, last, err := f.NB.Ranges[atoi(ar.Get(mapping.AttrIPRangeID))].Span(); err != nil || last.String() != tc.last {
				t.Errorf("range ends at %s (%v), want %s", last, err, tc.last)
			}
		})
	}
}

// With vms.enabled, sync reads each VM again before it makes or removes its NetBox
// virtual machine: a missing VM terminated meanwhile is not made, a stale one whose
// VM holds leases again is kept, and a VM NetBox refuses does not stop the others.
func TestSyncVMsReadEachVMAgain(t *testing.T) {
	vmDoc := func(id, name, state, ip, mac string) string {
		return `<VM><ID>` + id + `</ID><NAME>` + name + `</NAME><STATE>` + state + `</STATE><LCM_STATE>3</LCM_STATE><TEMPLATE><NIC><NIC_ID>0</NIC_ID><NAME>NIC0</NAME><NETWORK_ID>7</NETWORK_ID><AR_ID>0</AR_ID><IP>` + ip + `</IP><MAC>` + mac + `</MAC></NIC></TEMPLATE><HISTORY_RECORDS><HISTORY><CID>100</CID></HISTORY></HISTORY_RECORDS></VM>`
	}
	f, ar := vmFixture(t)
	ctx := context.Background()
	if _, err := hook(f, ctx, onetest.WebVM("3", "3", "100", "0")); err != nil { // VM 42 on .10 has its NetBox VM
		t.Fatal(err)
	}
	// The picture: VM 42 holds nothing (stale), VMs 43 and 44 hold .11 and .12 (missing).
	// By the time sync reads them: 42 holds .10 again, 43 is terminated (DONE), and
	// NetBox refuses 44's virtual machine once.
	if _, err := f.D.GetAddress(ctx, request(ar, "SIZE=1")); err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{
		vmDoc("42", "web", "3", "10.70.0.10", "02:00:0a:46:00:0a"),
		vmDoc("43", "db", "6", "10.70.0.11", "02:00:0a:46:00:0b"),
		vmDoc("44", "cache", "3", "10.70.0.12", "02:00:0a:46:00:0c"),
	} {
		vm, err := mapping.ParseVM([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		f.Oned.SetVM(vm)
	}
	f.SetVNet(onetest.VNetXML(ar, "10.70.0.11 43", "10.70.0.12 44")) // the picture
	f.Oned.AfterPicture(func() { f.SetVNet(onetest.VNetXML(ar, "10.70.0.10 42", "10.70.0.12 44")) })
	f.NB.Inject(netboxFault("CreateVirtualMachine"))
	rep, err := Run(ctx, f.D, Options{Sync: true, All: true, Prune: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	byVM := map[string]bool{}
	for _, v := range f.NB.VMs {
		byVM[v.CustomString(mapping.CFVMID)] = true
	}
	if !byVM["42"] || byVM["43"] {
		t.Errorf("NetBox VMs after sync: %v; want 42's kept (it holds .10 again) and none for 43 (terminated)", byVM)
	}
	if len(rep.FailedVMs) != 1 || !strings.Contains(rep.FailedVMs[0], "VM 44") {
		t.Errorf("failed %q, want VM 44's", rep.FailedVMs)
	}
	left := strings.Join(rep.LeftVMs, "; ")
	if !strings.Contains(left, "VM 43 holds no lease") || !strings.Contains(left, "VM 42 holds leases of the driver again") {
		t.Errorf("left %q", left)
	}
	// The next run makes 44's: one refusal does not stick.
	if _, err := Run(ctx, f.D, Options{Sync: true, All: true, Prune: true}, nil); err != nil {
		t.Fatal(err)
	}
	for _, v := range f.NB.VMs {
		byVM[v.CustomString(mapping.CFVMID)] = true
	}
	if !byVM["44"] {
		t.Errorf("VM 44 still has no NetBox VM after a second sync: %v", byVM)
	}
}

func netboxFault(op string) netboxtest.Fault {
	return netboxtest.Fault{Op: op, Err: &netbox.Error{Kind: netbox.KindInvalid, Op: op, Msg: "name: Ensure this field has no more than 64 characters."}}
}
