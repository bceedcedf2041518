package e2e

import (
	"context"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// TestOnedClient holds the typed OpenNebula client to the real oned: its XML-RPC and
// CLI implementations read the same objects alike, a purged VM is gone to both, and
// update_ar does what the unit tests' fake (opennebula/onetest) does with it: the
// given attributes replace the AR's, but TYPE, IP, MAC and AR_ID stay, SIZE stays
// when not given, and a SIZE that would strand a lease is refused.
func TestOnedClient(t *testing.T) {
	o := oned(t)
	for _, k := range []string{"ONE_XMLRPC", "ONE_AUTH", "ONE_LOCATION", "RUBYLIB"} {
		t.Setenv(k, o.vars[k])
	}
	if o.path != "" {
		t.Setenv("PATH", o.path+":"+os.Getenv("PATH"))
	}
	rpc, cli := opennebula.RPC(os.Getenv), opennebula.CLI(os.Getenv)
	ctx := ctxT(t)

	name := uniq("client")
	id := o.createVNet(t, "NAME = \""+name+"\"\nVN_MAD = \"bridge\"\nBRIDGE = \"br-e2e\"\n"+
		`AR = [ TYPE = "IP4", IP = "10.99.0.10", SIZE = "10", CUSTOM = "kept?" ]`)
	vnet := strconv.Itoa(id)
	// On hold: the scheduler would deploy it between the two reads compared below.
	out := o.must(t, "onevm", "create", "--hold", template(t, "CPU = 0.1\nMEMORY = 32\nNAME = \""+name+"\"\nNIC = [ NETWORK_ID = \""+vnet+"\", IP = \"10.99.0.15\" ]\n"))
	vm := createdID(t, out)
	t.Cleanup(func() { o.terminate(t, vm) })
	vmID := strconv.Itoa(vm)

	for _, read := range []struct {
		what string
		get  func(opennebula.Client) (any, error)
	}{
		{"VM", func(c opennebula.Client) (any, error) { return c.VM(ctx, vmID) }},
		// one.vmpool.infoextended's document is one.vm.info's; a VM oned lacks is left out.
		{"VMs", func(c opennebula.Client) (any, error) { return c.VMs(ctx, []string{vmID, "999999"}) }},
		{"VNet", func(c opennebula.Client) (any, error) { return c.VNet(ctx, vnet) }},
		{"cluster 0", func(c opennebula.Client) (any, error) { return c.ClusterName(ctx, "0") }},
		{"self", func(c opennebula.Client) (any, error) { return c.Self(ctx) }},
		{"hooks", func(c opennebula.Client) (any, error) { return c.Hooks(ctx) }},
	} {
		byRPC, err := read.get(rpc)
		if err != nil {
			t.Fatalf("%s over XML-RPC: %v", read.what, err)
		}
		byCLI, err := read.get(cli)
		if err != nil {
			t.Fatalf("%s through the CLI: %v", read.what, err)
		}
		if !reflect.DeepEqual(byRPC, byCLI) {
			t.Errorf("%s: XML-RPC read %+v, the CLI %+v", read.what, byRPC, byCLI)
		}
	}
	if u, _ := rpc.Self(ctx); !u.Admin {
		t.Errorf("the test's user %+v is not in the oneadmin group", u)
	}
	if ids, err := rpc.VNetIDs(ctx); err != nil || !slices.Contains(ids, vnet) {
		t.Errorf("network %s not in the pool %v: %v", vnet, ids, err)
	}
	if got, err := rpc.VM(ctx, vmID); err != nil || len(got.NICs) != 1 || got.NICs[0].IP != "10.99.0.15" {
		t.Errorf("VM %s: %+v %v", vmID, got, err)
	}
	if got, err := rpc.VMs(ctx, []string{vmID, "999999"}); err != nil || len(got) != 1 || got[0].ID != vmID || len(got[0].NICs) != 1 || got[0].NICs[0].IP != "10.99.0.15" {
		t.Errorf("VMs %s and 999999: %+v %v", vmID, got, err)
	}
	if s, err := rpc.RaftState(ctx); err != nil || s != opennebula.RaftSolo {
		t.Errorf("RAFT state %d, %v; want solo", s, err)
	}
	for _, c := range []opennebula.Client{rpc, cli} {
		if _, err := c.VNet(ctx, "999999"); !opennebula.IsGone(err) {
			t.Errorf("a network oned does not have: %v", err)
		}
	}

	// update_ar as the fake applies it.
	ar := func() mapping.Attrs {
		v, err := rpc.VNet(ctx, vnet)
		if err != nil || len(v.ARs) != 1 {
			t.Fatalf("network %s: %+v %v", vnet, v, err)
		}
		return v.ARs[0].Attrs
	}
	if err := rpc.UpdateAR(ctx, vnet, "0", mapping.Attrs{{Name: "IP", Value: "10.98.0.1"}, {Name: "TYPE", Value: "ETHER"},
		{Name: "GATEWAY", Value: "10.99.0.1"}, {Name: "USED_LEASES", Value: "7"}}); err != nil {
		t.Fatal(err)
	}
	got := ar()
	if got.Get("IP") != "10.99.0.10" || got.Get("TYPE") != "IP4" || got.Get("SIZE") != "10" || got.Get("GATEWAY") != "10.99.0.1" ||
		got.Get("CUSTOM") != "" || got.Get("AR_ID") != "0" || got.Get("USED_LEASES") != "1" {
		t.Errorf("after update_ar: %v", got)
	}
	if err := rpc.UpdateAR(ctx, vnet, "0", mapping.Attrs{{Name: "SIZE", Value: "3"}}); err == nil || !strings.Contains(err.Error(), "New SIZE cannot be applied") {
		t.Errorf("a SIZE stranding 10.99.0.15: %v", err)
	}
	if err := cli.UpdateAR(ctx, vnet, "0", mapping.Attrs{{Name: "SIZE", Value: "20"}, {Name: "DNS", Value: "10.99.0.53"}}); err != nil {
		t.Fatal(err)
	}
	if got := ar(); got.Get("SIZE") != "20" || got.Get("DNS") != "10.99.0.53" || got.Get("GATEWAY") != "" {
		t.Errorf("after the CLI's updatear: %v", got)
	}

	// Hooks: made, replaced and deleted over XML-RPC, seen alike by the CLI.
	hook := uniq("netbox-ipam-client")
	tpl := "NAME = \"" + hook + "\"\nTYPE = \"api\"\nCALL = \"one.vm.rename\"\nCOMMAND = \"/bin/true\"\nTIMEOUT = \"30\"\n"
	if err := rpc.CreateHook(ctx, tpl); err != nil {
		t.Fatal(err)
	}
	find := func(c opennebula.Client) *opennebula.Hook {
		hs, err := c.Hooks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hs {
			if h.Name == hook {
				return &h
			}
		}
		return nil
	}
	h := find(cli)
	if h == nil || h.Command != "/bin/true" || h.Timeout != "30" {
		t.Fatalf("hook made over XML-RPC, through the CLI: %+v", h)
	}
	t.Cleanup(func() { rpc.DeleteHook(context.Background(), h.ID) })
	if err := rpc.UpdateHook(ctx, h.ID, strings.Replace(tpl, `TIMEOUT = "30"`, `TIMEOUT = "45"`, 1)); err != nil {
		t.Fatal(err)
	}
	if h := find(cli); h == nil || h.Timeout != "45" {
		t.Errorf("hook after update: %+v", h)
	}
	if err := rpc.DeleteHook(ctx, h.ID); err != nil || find(rpc) != nil {
		t.Errorf("hook after delete: %v", err)
	}
}
