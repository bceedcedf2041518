package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// TestCooldownThroughOned: with release: cooldown (set on the driver named netbox2, whose
// configuration file oned's actions read on each call), a terminated VM's address
// cools down: the next VM on the AR of two addresses gets the other one, a third VM
// none; once the cool-down is over (its time moved back, as a clock would), sync --all
// deletes the freed lease and the next VM gets the address. A freed lease that oned
// holds (a free whose end it never saw) is made a lease again, never deleted.
func TestCooldownThroughOned(t *testing.T) {
	o := oned(t)
	if !strings.Contains(" "+o.vars["ONE_IPAM_NAMES"]+" ", " netbox2 ") || o.vars["NETBOX_IPAM_CONFDIR"] == "" {
		t.Skip("the test oned has no driver named netbox2 with a configuration here (integration/opennebula/up installs it)")
	}
	conf := filepath.Join(o.vars["NETBOX_IPAM_CONFDIR"], "netbox-ipam.d", "netbox2.yaml")
	orig, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(conf, orig, 0o600) })
	if err := os.WriteFile(conf, append(append([]byte{}, orig...), "\nrelease: cooldown\ncooldown: 5m\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"NETBOX_IPAM_CONFIG=", "NETBOX_IPAM_CONFDIR=" + o.vars["NETBOX_IPAM_CONFDIR"]}
	if out, code := o.driverEnv(t, "netbox", nil, env, "setup", "--name", "netbox2"); code != 0 || !strings.Contains(out, "custom field "+mapping.CFFreesAt) {
		t.Fatalf("setup --name netbox2 with release: cooldown: exit %d\n%s", code, out)
	}

	v := o.vrf(t)
	o.prefix(t, v.ID, "10.152.0.0/24")
	net := o.createVNet(t, vnetTemplate(uniq("cool"),
		`TYPE = "IP4", IP = "10.152.0.10", SIZE = "2", IPAM_MAD = "netbox2", NETBOX_VRF = "`+strconv.Itoa(v.ID)+`"`))
	t.Cleanup(func() { o.deleteVNet(t, net) })
	nic := fmt.Sprintf("NIC = [ NETWORK_ID = %d ]", net)
	first := o.createVM(t, nic)
	if ip := first.NICs[0].IP; ip != "10.152.0.10" {
		t.Fatalf("first VM got %s", ip)
	}
	o.terminate(t, first.ID)
	l := o.nbAt(t, v.ID, "10.152.0.10")
	if l == nil || l.Status != mapping.StatusDeprecated || l.FreesAt == "" {
		t.Fatalf("the terminated VM's lease in NetBox: %+v; want deprecated with %s", l, mapping.CFFreesAt)
	}
	second := o.createVM(t, nic)
	if ip := second.NICs[0].IP; ip != "10.152.0.11" {
		t.Fatalf("the VM after the terminate got %s, want 10.152.0.11 (10.152.0.10 cools down)", ip)
	}
	if _, err := o.tryVM(t, nic); err == nil {
		t.Fatal("a third VM got an address: the cooling one was handed out")
	}

	// The cool-down is over (moved back by hand: no test waits minutes).
	if _, err := o.nb.PatchIPAddress(context.Background(), l.ID, map[string]any{"custom_fields": map[string]any{mapping.CFFreesAt: mapping.FreesAt(time.Now().Add(-time.Minute))}}); err != nil {
		t.Fatal(err)
	}
	out, code := o.driverEnv(t, "netbox", nil, env, "sync", "--all", "--name", "netbox2")
	if code != 0 || !strings.Contains(out, "cooled   ip-address") || !strings.Contains(out, "10.152.0.10") {
		t.Fatalf("sync --all after the cool-down: exit %d\n%s", code, out)
	}
	if l := o.nbAt(t, v.ID, "10.152.0.10"); l != nil {
		t.Fatalf("sync left the cooled lease: %+v", l)
	}
	third := o.createVM(t, nic)
	if ip := third.NICs[0].IP; ip != "10.152.0.10" {
		t.Fatalf("the VM after sync got %s, want 10.152.0.10", ip)
	}

	// A free whose end oned never saw: NetBox has the third VM's lease freed and due,
	// while oned holds it. Sync must make it a lease again, not delete it.
	now := o.nbAt(t, v.ID, "10.152.0.10")
	if _, err := o.nb.PatchIPAddress(context.Background(), now.ID, map[string]any{"status": mapping.StatusDeprecated,
		"custom_fields": map[string]any{mapping.CFFreesAt: mapping.FreesAt(time.Now().Add(-time.Minute))}}); err != nil {
		t.Fatal(err)
	}
	out, code = o.driverEnv(t, "netbox", nil, env, "sync", "--all", "--name", "netbox2")
	if l := o.nbAt(t, v.ID, "10.152.0.10"); code != 0 || l == nil || l.ID != now.ID || l.Status != mapping.StatusActive || l.FreesAt != "" {
		t.Fatalf("sync --all with a freed lease oned holds: exit %d, NetBox %+v; want object %d active with no %s\n%s", code, l, now.ID, mapping.CFFreesAt, out)
	}
	o.terminate(t, second.ID)
	o.terminate(t, third.ID)
}

// nbLease is what TestCooldownThroughOned reads of a NetBox address.
type nbLease struct {
	ID      int
	Status  string
	FreesAt string
}

// nbAt is the one NetBox address at ip in the VRF, or nil.
func (o *One) nbAt(t *testing.T, vrf int, ip string) *nbLease {
	t.Helper()
	l, err := o.nb.IPAddressesAt(context.Background(), vrf, []string{ip})
	if err != nil || len(l) > 1 {
		t.Fatalf("NetBox at %s: %+v, %v", ip, l, err)
	}
	if len(l) == 0 {
		return nil
	}
	return &nbLease{ID: l[0].ID, Status: l[0].Status.Value, FreesAt: l[0].CustomString(mapping.CFFreesAt)}
}
