package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// release: cooldown against the real NetBox, on a dual-stack AR of two addresses: a
// freed lease (and its IPv6 address) stays deprecated with the time it frees, NetBox's
// available-ips skips it, an explicit allocate takes it back, and sync --all deletes
// those whose time is up (the time is moved back by hand here, as a clock would; the
// expiry itself is unit-tested with an injected clock).
func TestCooldown(t *testing.T) {
	c := Client(t)
	vrf := testVRF(t, c)
	tag, tagEnv := ownTag(t, c, "it-cool")
	env := []string{tagEnv, "NETBOX_IPAM_RELEASE=cooldown", "NETBOX_IPAM_COOLDOWN=10m"}
	if r := runBin(t, env, "setup"); r.Code != 0 {
		t.Fatalf("setup: %s%s", r.Stdout, r.Stderr)
	}
	reg := mustOK(t, Run(t, "register_address_range", "1", Req([]string{"TYPE=IP4_6", "IP=10.92.0.10", "SIZE=2", "NETWORK_ADDRESS=10.92.0.0",
		"NETWORK_MASK=24", "IPAM_MAD=netbox", "MAC=02:00:0a:5c:00:0a", "GLOBAL_PREFIX=2001:db8:92::", "NETBOX_VRF=" + vrf.Name}, nil), env...), "register")
	S := registered(t, reg.Stdout, "0")
	t.Cleanup(func() { Run(t, "unregister_address_range", "99", Req(S, nil), env...) })
	lease := func(id string) string {
		r := mustOK(t, Run(t, "get_address", id, Req(S, []string{"SIZE=1"}), env...), "get_address")
		a, err := parseAddress(r.Stdout)
		if err != nil {
			t.Fatal(err)
		}
		return a.String()
	}
	free := func(id, ip string) {
		mustOK(t, Run(t, "free_address", id, Req(S, []string{"IP=" + ip, "SIZE=1"}), env...), "free "+ip)
	}
	const v6of10 = "2001:db8:92::aff:fe5c:a" // SLAAC of MAC 02:00:0a:5c:00:0a

	if ip := lease("2"); ip != "10.92.0.10" {
		t.Fatalf("first lease %s", ip)
	}
	before := time.Now()
	free("3", "10.92.0.10")
	for _, ip := range []string{"10.92.0.10", v6of10} {
		l := findIP(t, c, vrf.ID, ip)
		at, err := mapping.ParseFreesAt(l.CustomString(mapping.CFFreesAt))
		if l.Status.Value != "deprecated" || err != nil || at.Before(before.Add(10*time.Minute-time.Minute)) || at.After(time.Now().Add(10*time.Minute+time.Second)) {
			t.Fatalf("freed %s: status %q, one_frees_at %q (%v); want deprecated for 10 minutes", ip, l.Status.Value, l.CustomString(mapping.CFFreesAt), err)
		}
	}
	// NetBox hands out the other address, then none: the cooling one is out of reach.
	if ip := lease("4"); ip != "10.92.0.11" {
		t.Fatalf("lease after the free: %s, want 10.92.0.11 (10.92.0.10 cools down)", ip)
	}
	mustFail(t, Run(t, "get_address", "5", Req(S, []string{"SIZE=1"}), env...), "no free address")
	free("6", "10.92.0.11")
	// A VM re-created with its fixed IP takes the cooling address back.
	mustOK(t, Run(t, "allocate_address", "7", Req(S, []string{"IP=10.92.0.11", "SIZE=1"}), env...), "allocate the cooling address")
	back := findIP(t, c, vrf.ID, "10.92.0.11")
	if back.Status.Value != "active" || back.CustomString(mapping.CFFreesAt) != "" || back.CustomString(mapping.CFMAC) != "02:00:0a:5c:00:0b" {
		t.Fatalf("the address taken back: %+v", back)
	}

	// The cool-down of .10 is over (moved back by hand: no test waits 10 minutes).
	for _, ip := range []string{"10.92.0.10", v6of10} {
		l := findIP(t, c, vrf.ID, ip)
		if _, err := c.PatchIPAddress(ctx(t), l.ID, map[string]any{"custom_fields": map[string]any{mapping.CFFreesAt: mapping.FreesAt(time.Now().Add(-time.Minute))}}); err != nil {
			t.Fatal(err)
		}
	}
	doc := filepath.Join(t.TempDir(), "7.xml")
	if err := os.WriteFile(doc, []byte(vnetXML("7", map[string][]string{"0": S}, map[string][]string{"0": {"10.92.0.11 02:00:0a:5c:00:0b vm:70"}})), 0o600); err != nil {
		t.Fatal(err)
	}
	oned := standInOned(t, map[string]string{"7": doc})
	run := func(args ...string) (Result, cooldownJSON) {
		r := runBin(t, append(append([]string{}, env...), oned...), append(args, "--json", "--all", doc)...)
		var out cooldownJSON
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
			t.Fatalf("%v: %v\nstdout %q\nstderr %q", args, err, r.Stdout, r.Stderr)
		}
		return r, out
	}
	r, a := run("audit")
	if r.Code != 0 || a.Drift != 0 || len(a.Cooled) != 2 || len(a.Cooling) != 0 {
		t.Fatalf("audit: exit %d, drift %d, cooled %+v, cooling %+v\n%s", r.Code, a.Drift, a.Cooled, a.Cooling, r.Stderr)
	}
	if r, _ = run("sync"); r.Code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if l, err := c.IPAddressesAt(ctx(t), vrf.ID, []string{"10.92.0.10", v6of10}); err != nil || len(l) != 0 {
		t.Fatalf("the cooled leases after sync: %+v, %v; want gone", l, err)
	}
	if l := findIP(t, c, vrf.ID, "10.92.0.11"); l.Status.Value != "active" {
		t.Fatalf("sync touched the lease oned holds: %+v", l)
	}
	if left, err := c.IPAddressesTaggedWithStatus(ctx(t), tag, "deprecated"); err != nil || len(left) != 0 {
		t.Fatalf("the driver's deprecated addresses after sync: %+v, %v", left, err)
	}
}

// cooldownJSON is what TestCooldown reads of audit's and sync's --json.
type cooldownJSON struct {
	Drift   int `json:"drift"`
	Cooling []struct {
		IP string `json:"ip"`
	} `json:"cooling"`
	Cooled []struct {
		IP string `json:"ip"`
	} `json:"cooled"`
}
