package reconcile

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/hooks"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// A hook records the VM on its leases in one read and one write (after asking oned
// which NICs are the driver's and NetBox for their range); audit then finds the leases
// in step (the name is not drift); a second hook writes nothing.
func TestHookRecordsTheHolder(t *testing.T) {
	f, ar := registered(t)
	for i := 0; i < 2; i++ {
		if _, err := f.D.GetAddress(context.Background(), request(ar, "SIZE=1")); err != nil {
			t.Fatal(err)
		}
	}
	// The same address is the driver's in another network and VRF, and an address of a
	// dummy-IPAM network is someone else's object in NetBox.
	other := f.NB.AddRef("vrf", "other")
	twin, _ := f.NB.CreateIPAddresses(context.Background(), []netbox.IPAddressSpec{{Address: "10.70.0.10/24", VRFID: other,
		Tags: f.D.Tags(), CustomFields: map[string]any{mapping.CFARID: "0"}, Description: "twin"}})
	f.Take("10.70.0.30", false)
	f.SetVNet(onetest.VNetXML(ar), strings.Replace(onetest.VNetXML(onetest.Attrs("AR_ID=0", "IPAM_MAD=dummy", "TYPE=IP4", "IP=10.70.0.30", "SIZE=5")), "<ID>7</ID>", "<ID>9</ID>", 1))
	vm := mapping.VM{ID: "42", Name: "web 1", NICs: []mapping.NIC{
		{ID: "0", NetworkID: "7", ARID: "0", IP: "10.70.0.10", MAC: "02:00:0A:46:00:0A"},
		{ID: "1", NetworkID: "7", ARID: "0", IP: "10.70.0.11", MAC: "02:00:0a:46:00:0b"},
		{ID: "2", NetworkID: "9", ARID: "0", IP: "10.70.0.30", MAC: "02:00:0a:46:00:1e"},
		{ID: "3", NetworkID: "9", ARID: "0", IP: "2001:db8::1"},
	}}
	f.NB.Calls = nil
	if _, err := hook(f, context.Background(), vm); err != nil {
		t.Fatal(err)
	}
	if f.NB.Requests() != 3 {
		t.Errorf("%d NetBox requests %v, want 3", f.NB.Requests(), f.NB.Calls)
	}
	l := f.Addr("10.70.0.10")
	for _, a := range f.NB.Addresses {
		if a.ID != twin[0].ID && a.Address == "10.70.0.10/24" {
			l = a
		}
	}
	if l.CustomString(mapping.CFVMID) != "42" || l.CustomString(mapping.CFMAC) != "02:00:0a:46:00:0a" || l.Description != "OpenNebula VM 42 (web 1), network 7 AR 0" {
		t.Fatalf("lease %+v", l)
	}
	if f.NB.Addresses[twin[0].ID].Description != "twin" {
		t.Errorf("the other network's lease at the same address was changed: %+v", f.NB.Addresses[twin[0].ID])
	}
	if o := f.Addr("10.70.0.30"); o.Description != "someone's" {
		t.Errorf("someone's object changed: %+v", o)
	}
	rep, err := Run(context.Background(), f.D, Options{Files: []string{"-"}}, strings.NewReader(onetest.VNetXML(ar, "10.70.0.10 42", "10.70.0.11 42")))
	if err != nil || kinds(rep) != "" {
		t.Fatalf("audit after the hook: %q %v", kinds(rep), err)
	}
	f.NB.Calls = nil
	if _, err := hook(f, context.Background(), vm); err != nil || f.NB.Requests() != 2 {
		t.Fatalf("second hook: %v, %v", err, f.NB.Calls)
	}
}

// A virtual router's hook records its floating IP with the router's id and name, and
// its VMs (made inside oned, so no VM hook saw them) with theirs; audit agrees.
func TestHookVRouter(t *testing.T) {
	f, ar := registered(t)
	ctx := context.Background()
	for i := 0; i < 2; i++ { // .10 for the router's VM, .11 floating
		if _, err := f.D.GetAddress(ctx, request(ar, "SIZE=1")); err != nil {
			t.Fatal(err)
		}
	}
	// As oned 7.5.80 shows them: the router's NIC holds its lease as VROUTER_IP and
	// VROUTER_MAC, the network's lease names VROUTER.
	vr := `<VROUTER><ID>5</ID><NAME>gw</NAME><VMS><ID>42</ID></VMS><TEMPLATE><NIC><NIC_ID>0</NIC_ID><NETWORK_ID>7</NETWORK_ID><AR_ID>0</AR_ID><FLOATING_IP>YES</FLOATING_IP><VROUTER_IP>10.70.0.11</VROUTER_IP><VROUTER_MAC>02:00:0a:46:00:0b</VROUTER_MAC></NIC></TEMPLATE></VROUTER>`
	vm := `<VM><ID>42</ID><NAME>vr-gw-0</NAME><TEMPLATE><NIC><NIC_ID>0</NIC_ID><NETWORK_ID>7</NETWORK_ID><AR_ID>0</AR_ID><IP>10.70.0.10</IP><MAC>02:00:0a:46:00:0a</MAC><VROUTER_ID>5</VROUTER_ID></NIC></TEMPLATE></VM>`
	f.Oned.SetVRouter(onetest.ParseVRouter(t, vr))
	f.Oned.SetVM(onetest.ParseVM(t, vm))
	f.SetVNet(onetest.VNetXML(ar))
	info, _ := mapping.ParseCallInfo([]byte(`<CALL_INFO><RESULT>1</RESULT><PARAMETERS><PARAMETER><POSITION>2</POSITION><TYPE>IN</TYPE><VALUE>5</VALUE></PARAMETER></PARAMETERS><EXTRA/></CALL_INFO>`))
	f.Oned.Calls = nil
	resp, err := hooks.New(f.D).HookCall(ctx, "one.vrouter.instantiate", info)
	if err != nil || resp.VM != "vrouter/5" || strings.Join(f.Oned.Calls, ";") != "VRouter 5;RaftState;VNet 7;RaftState;VMs 42;VNet 7" {
		t.Fatalf("%v %+v; asked %v", err, resp, f.Oned.Calls)
	}
	if l := f.Addr("10.70.0.11"); l.CustomString(mapping.CFVRouterID) != "5" || l.CustomString(mapping.CFVMID) != "" || l.Description != "OpenNebula virtual router 5 (gw), network 7 AR 0" {
		t.Errorf("floating IP %+v", l)
	}
	if l := f.Addr("10.70.0.10"); l.CustomString(mapping.CFVMID) != "42" || l.Description != "OpenNebula VM 42 (vr-gw-0), network 7 AR 0" {
		t.Errorf("the router's VM's lease %+v", l)
	}
	// An attachnic that failed part-way keeps the leases oned took for the VMs it
	// reached: the hook records the router as oned holds it all the same.
	f.Addr("10.70.0.10").Description, f.Addr("10.70.0.11").Description = "", ""
	failed, _ := mapping.ParseCallInfo([]byte(`<CALL_INFO><RESULT>0</RESULT><PARAMETERS><PARAMETER><POSITION>2</POSITION><TYPE>IN</TYPE><VALUE>5</VALUE></PARAMETER></PARAMETERS><EXTRA/></CALL_INFO>`))
	if _, err := hooks.New(f.D).HookCall(ctx, "one.vrouter.attachnic", failed); err != nil || f.Addr("10.70.0.10").Description == "" || f.Addr("10.70.0.11").Description == "" {
		t.Errorf("failed attachnic: %v; leases %q %q", err, f.Addr("10.70.0.10").Description, f.Addr("10.70.0.11").Description)
	}
	doc := strings.Replace(onetest.VNetXML(ar, "10.70.0.10 42"), "</LEASES>", "<LEASE><IP>10.70.0.11</IP><MAC>02:00:0a:46:00:0b</MAC><VROUTER>5</VROUTER></LEASE></LEASES>", 1)
	if rep, err := Run(ctx, f.D, Options{Files: []string{"-"}}, strings.NewReader(doc)); err != nil || kinds(rep) != "" {
		t.Errorf("audit after the hook: %q %v", kinds(rep), err)
	}
}

// With dns_name and tenants set, audit --all reads each holder and finds the leases
// whose DNS name or tenant lags (a hook that failed, a mapping changed since); sync
// has the hooks record them from the VM as oned holds it then, not as audit saw it.
func TestSyncRecordsNamesAndTenants(t *testing.T) {
	f, ar := registered(t, func(c *config.Config) {
		c.DNS, _ = mapping.ParseDNSTemplate("{vm}.{network}.example.org")
		c.Tenants = config.Tenants{Users: map[string]string{"alice": "team-a"}}
	})
	f.NB.AddRef("tenant", "team-a")
	if _, err := f.D.GetAddress(context.Background(), request(ar, "SIZE=1")); err != nil {
		t.Fatal(err)
	}
	f.SetVNet(onetest.VNetXML(ar, "10.70.0.10 42"))
	vm := mapping.VM{ID: "42", Name: "web", UName: "alice", NICs: []mapping.NIC{{ID: "0", Name: "NIC0", NetworkID: "7", ARID: "0", IP: "10.70.0.10", MAC: "02:00:0a:46:00:0a"}}}
	f.Oned.SetVM(vm)
	rep, err := Run(context.Background(), f.D, Options{All: true}, nil)
	if err != nil || len(rep.UnrecordedVMs) != 1 || !strings.Contains(strings.Join(rep.UnrecordedVMs[0].Differences, ";"), `10.70.0.10: DNS name "", want "web.cloud.example.org", tenant 0, want`) {
		t.Fatalf("audit: %+v, %v", rep.UnrecordedVMs, err)
	}
	var once sync.Once
	f.Oned.After = func(call string) { // renamed after audit's look, before sync records it
		if call == "VM 42" {
			once.Do(func() { vm.Name = "api"; f.Oned.SetVM(vm) })
		}
	}
	if _, err := Run(context.Background(), f.D, Options{Sync: true, All: true}, nil); err != nil {
		t.Fatal(err)
	}
	f.Oned.After = nil
	l := f.Addr("10.70.0.10")
	if l.DNSName != "api.cloud.example.org" || l.Tenant == nil || l.Tenant.Slug != "team-a" {
		t.Fatalf("after sync: dns_name %q, tenant %+v", l.DNSName, l.Tenant)
	}
	if rep, err := Run(context.Background(), f.D, Options{All: true}, nil); err != nil || rep.Drift != 0 {
		t.Fatalf("audit after sync: drift %d %+v, %v", rep.Drift, rep.UnrecordedVMs, err)
	}
}
