package onetest

import (
	"context"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// The fake applies updatear as oned does (the end-to-end TestOnedClient
// runs it through the real one): the attributes replace the AR's but TYPE, IP, MAC
// and AR_ID, a SIZE that strands a lease is refused, and no SIZE keeps the AR's.
func TestUpdateARIsOneds(t *testing.T) {
	ctx := context.Background()
	o := New()
	ar := Attrs("AR_ID=0", "TYPE=IP4", "IP=10.70.0.10", "SIZE=10", "MAC=02:00:0a:46:00:0a", "DNS=1.1.1.1", "IP_END=10.70.0.19")
	o.SetVNet(mapping.VNet{ID: "7", ARs: []mapping.AR{{Attrs: ar, Leases: []mapping.Lease{{IP: "10.70.0.15", VM: "42"}}}}})
	if err := o.UpdateAR(ctx, "7", "0", Attrs("IP=10.9.9.9", "SIZE=12", "GATEWAY=10.70.0.1", "USED_LEASES=1")); err != nil {
		t.Fatal(err)
	}
	v, _ := o.VNet(ctx, "7")
	got := v.ARs[0].Attrs
	if got.Get("IP") != "10.70.0.10" || got.Get("SIZE") != "12" || got.Get("GATEWAY") != "10.70.0.1" || got.Get("DNS") != "" ||
		got.Get("TYPE") != "IP4" || got.Get("USED_LEASES") != "" || got.Get("AR_ID") != "0" || len(v.ARs[0].Leases) != 1 {
		t.Fatalf("after updatear: %v, leases %v", got, v.ARs[0].Leases)
	}
	if err := o.UpdateAR(ctx, "7", "0", Attrs("SIZE=3")); err == nil || !strings.Contains(err.Error(), "New SIZE cannot be applied") {
		t.Fatalf("a SIZE stranding .15: %v", err)
	}
	if err := o.UpdateAR(ctx, "7", "0", Attrs("GATEWAY=10.70.0.254")); err != nil {
		t.Fatal(err)
	}
	if v, _ := o.VNet(ctx, "7"); v.ARs[0].Attrs.Get("SIZE") != "12" {
		t.Fatalf("no SIZE given: %v", v.ARs[0].Attrs)
	}
	if err := o.UpdateAR(ctx, "7", "0", Attrs("IPAM_MAD=dummy", "SIZE=12")); err != nil {
		t.Fatal(err)
	}
	if v, _ := o.VNet(ctx, "7"); v.ARs[0].Attrs.Get("IPAM_MAD") != "dummy" {
		t.Fatalf("an AR without IPAM_MAD takes the one given: %v", v.ARs[0].Attrs)
	}
	// A reservation keeps its parent and its SIZE.
	o.SetVNet(mapping.VNet{ID: "9", ARs: []mapping.AR{{Attrs: Attrs("AR_ID=0", "TYPE=IP4", "IP=10.70.0.10", "SIZE=2", "IPAM_MAD=netbox", "PARENT_NETWORK_AR_ID=0")}}})
	if err := o.UpdateAR(ctx, "9", "0", Attrs("SIZE=4")); err == nil || !strings.Contains(err.Error(), "reservation cannot be changed") {
		t.Fatalf("a reservation's SIZE: %v", err)
	}
	if err := o.UpdateAR(ctx, "9", "0", Attrs("DNS=10.70.0.53")); err != nil {
		t.Fatal(err)
	}
	if v, _ := o.VNet(ctx, "9"); v.ARs[0].Attrs.Get("PARENT_NETWORK_AR_ID") != "0" || v.ARs[0].Attrs.Get("IPAM_MAD") != "netbox" {
		t.Fatalf("reservation after updatear: %v", v.ARs[0].Attrs)
	}
	if err := o.UpdateAR(ctx, "8", "0", nil); !opennebula.IsGone(err) {
		t.Fatalf("updatear of a network oned lacks: %v", err)
	}
}

// What the driver relies on in every read: gone is IsGone, an id is a number, and an
// answer is a copy the caller may change.
func TestReadsAreOneds(t *testing.T) {
	ctx := context.Background()
	o := New()
	o.SetVM(mapping.VM{ID: "42", NICs: []mapping.NIC{{ID: "0", IP: "10.70.0.10"}}})
	if _, err := o.VM(ctx, "43"); !opennebula.IsGone(err) {
		t.Fatalf("VM oned lacks: %v", err)
	}
	if _, err := o.VM(ctx, "4x"); err == nil || opennebula.IsGone(err) {
		t.Fatalf("VM id 4x: %v", err)
	}
	vm, _ := o.VM(ctx, "42")
	vm.NICs[0].IP = "10.70.0.99"
	if again, _ := o.VM(ctx, "42"); again.NICs[0].IP != "10.70.0.10" {
		t.Fatalf("a caller's change reached the fake: %v", again.NICs)
	}
	if err := o.CreateHook(ctx, "NAME = \"h\"\nCOMMAND = \"/bin/true\"\nTIMEOUT = \"30\"\n"); err != nil {
		t.Fatal(err)
	}
	hs, _ := o.Hooks(ctx)
	if len(hs) != 1 || hs[0].Name != "h" || hs[0].Timeout != "30" || hs[0].ID != "0" {
		t.Fatalf("hooks %+v", hs)
	}
}
