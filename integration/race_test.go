package integration

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// lease is one successful get_address seen by a race test.
type lease struct {
	reqID string
	first netip.Addr
	size  int
}

// raceAR registers an AR for a race test and returns its S attributes and IP range id.
func raceAR(t *testing.T, vrf netbox.VRF, attrs ...string) ([]string, int) {
	t.Helper()
	reg := mustOK(t, Run(t, "register_address_range", "1", Req(append(attrs, "IPAM_MAD=netbox", "NETBOX_VRF="+vrf.Name), nil)), "register")
	S := registered(t, reg.Stdout, "0")
	ar, _ := ParseVector(t, reg.Stdout, "AR")
	id, _ := strconv.Atoi(ar["NETBOX_IP_RANGE_ID"])
	return S, id
}

// attr returns NAME's value in S-shape attributes.
func attr(S []string, name string) string {
	for _, kv := range S {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	return ""
}

// 8 driver processes take 1,000 leases from one AR over a /22 while another client
// takes addresses from the same NetBox IP range through NetBox's API: no address is
// handed out twice, every lease is recorded exactly once with its request id, and every
// failure is a clean "no free address".
func TestRaceParallelGetAddress(t *testing.T) {
	const workers, perWorker, others = 8, 125, 40
	c := Client(t)
	vrf := testVRF(t, c)
	S, rangeID := raceAR(t, vrf, "TYPE=IP4", "NETWORK_ADDRESS=10.80.0.0", "NETWORK_MASK=255.255.252.0", "SIZE=1000", "MAC=02:00:0a:50:00:02")
	t.Cleanup(func() { Run(t, "unregister_address_range", "2", Req(S, nil)) })
	run := shimRunner(t)

	var mu sync.Mutex
	var leases []lease
	var failures []string
	var otherIPs []string
	var otherErrs []error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the other NetBox client
		defer wg.Done()
		for i := 0; i < others; i++ {
			got, err := c.TakeFromRange(ctx(t), rangeID, []netbox.IPAddressSpec{{VRFID: vrf.ID, Status: "active", Description: "another client"}})
			mu.Lock()
			if err != nil {
				otherErrs = append(otherErrs, err)
			} else {
				for _, g := range got {
					otherIPs = append(otherIPs, g.Address)
				}
			}
			mu.Unlock()
		}
	}()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				id := strconv.Itoa(10000 + w*perWorker + i)
				r, err := run("get_address", id, Req(S, []string{"SIZE=1"}))
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case r.Code == 0:
					a, _ := parseAddress(r.Stdout)
					leases = append(leases, lease{reqID: id, first: a, size: 1})
				default:
					failures = append(failures, r.Message())
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()

	if len(otherErrs) > 0 {
		t.Fatalf("the other client failed %d times, first: %v", len(otherErrs), otherErrs[0])
	}
	for _, f := range failures {
		if !strings.Contains(f, "no free address in AR 0") {
			t.Fatalf("a failure that is not a clean \"no free address\": %q", f)
		}
	}
	if want := 1000 - others; len(leases) != want || len(failures) != workers*perWorker-want {
		t.Fatalf("%d leases and %d failures, want %d and %d", len(leases), len(failures), want, workers*perWorker-want)
	}
	checkLeases(t, c, vrf.ID, "10.80.0.0/22", leases, otherIPs)
	// oned never unregisters an AR that still holds leases (it refuses to delete a
	// network with leases), and bulk-deleting 960 leftovers in one action outlasted
	// even an 85 s deadline on a busy 2-core machine. So the test frees most of the
	// driver's leases itself, on its own long deadline, and leaves unregister 20 of
	// them to remove beside the other client's, which it must leave alone (and so the
	// prefix); the test then removes those and unregisters again to take the prefix.
	trimLeases(t, c, vrf.ID, "10.80.0.0/22", 20)
	mustOK(t, Run(t, "unregister_address_range", "3", Req(S, nil)), "unregister")
	var ids []int
	objs, _ := c.IPAddressesIn(ctx(t), vrf.ID, "10.80.0.0/22")
	for _, o := range objs {
		if o.HasTag("opennebula") {
			t.Errorf("unregister left the driver's %s", o.Address)
		}
		ids = append(ids, o.ID)
	}
	if len(ids) != others {
		t.Errorf("after unregister %d addresses are left, want the other client's %d", len(ids), others)
	}
	if err := c.DeleteIPAddresses(ctx(t), ids); err != nil {
		t.Fatal(err)
	}
	mustOK(t, Run(t, "unregister_address_range", "4", Req(S, nil)), "unregister again")
	t.Logf("%d leases by %d processes, %d by another client, %d clean refusals", len(leases), workers, len(otherIPs), len(failures))
}

// Contiguous reservations of 4 and 16 race each other and single leases on one AR:
// every block is contiguous, nothing overlaps, and NetBox holds exactly what was handed
// out.
func TestRaceReservations(t *testing.T) {
	c := Client(t)
	vrf := testVRF(t, c)
	S, _ := raceAR(t, vrf, "TYPE=IP4", "NETWORK_ADDRESS=10.81.0.0", "NETWORK_MASK=255.255.255.0", "SIZE=250", "MAC=02:00:0a:51:00:02")
	t.Cleanup(func() { Run(t, "unregister_address_range", "2", Req(S, nil)) })
	run := shimRunner(t)
	jobs := []struct{ size, workers, each int }{{4, 3, 8}, {16, 2, 3}, {1, 2, 20}}
	var mu sync.Mutex
	var leases []lease
	var wg sync.WaitGroup
	n := 0
	for _, j := range jobs {
		for w := 0; w < j.workers; w++ {
			wg.Add(1)
			go func(size, base int) {
				defer wg.Done()
				for i := 0; i < j.each; i++ {
					id := strconv.Itoa(base + i)
					r, err := run("get_address", id, Req(S, []string{"SIZE=" + strconv.Itoa(size)}))
					mu.Lock()
					if err != nil || r.Code != 0 {
						t.Errorf("get_address SIZE=%d: %v exit %d: %q", size, err, r.Code, r.Stderr)
					} else {
						a, _ := parseAddress(r.Stdout)
						leases = append(leases, lease{reqID: id, first: a, size: size})
					}
					mu.Unlock()
				}
			}(j.size, 20000+n*100)
			n++
		}
	}
	wg.Wait()
	// 3·8·4 + 2·3·16 + 2·20 = 96 + 96 + 40 = 232 of the AR's 250.
	checkLeases(t, c, vrf.ID, "10.81.0.0/24", leases, nil)
}

// Two ARs over neighbouring spans of one prefix, leased in parallel until both are
// full: no lease crosses into the other AR.
func TestRaceNeighbouringARs(t *testing.T) {
	c := Client(t)
	vrf := testVRF(t, c)
	p, err := c.CreatePrefix(ctx(t), netbox.PrefixSpec{Prefix: "10.82.0.0/24", VRFID: vrf.ID, Description: "two ARs"})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, "prefix", func(cx ctxT) error { return c.DeletePrefix(cx, p.ID) })
	A, _ := raceAR(t, vrf, "TYPE=IP4", "IP=10.82.0.10", "SIZE=30", "MAC=02:00:0a:52:00:0a")
	B, _ := raceAR(t, vrf, "TYPE=IP4", "IP=10.82.0.40", "SIZE=30", "MAC=02:00:0a:52:00:28")
	t.Cleanup(func() {
		Run(t, "unregister_address_range", "3", Req(A, nil))
		Run(t, "unregister_address_range", "4", Req(B, nil))
	})
	run := shimRunner(t)
	var mu sync.Mutex
	got := map[string][]netip.Addr{}
	var wg sync.WaitGroup
	for name, S := range map[string][]string{"A": A, "B": B} {
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 12; i++ {
					r, err := run("get_address", strconv.Itoa(30000+i), Req(S, []string{"SIZE=1"}))
					if err != nil || r.Code != 0 {
						continue // the AR is full: 36 tries for 30 addresses
					}
					a, _ := parseAddress(r.Stdout)
					mu.Lock()
					got[name] = append(got[name], a)
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	for name, lo := range map[string]string{"A": "10.82.0.10", "B": "10.82.0.40"} {
		first := netip.MustParseAddr(lo)
		last := first
		for i := 0; i < 29; i++ {
			last = last.Next()
		}
		if len(got[name]) != 30 {
			t.Errorf("AR %s got %d leases, want its 30", name, len(got[name]))
		}
		for _, a := range got[name] {
			if a.Less(first) || last.Less(a) {
				t.Errorf("AR %s handed out %s, outside %s…%s", name, a, first, last)
			}
		}
	}
}

func parseAddress(out string) (netip.Addr, error) {
	const key = `IP = "`
	i := strings.Index(out, key)
	if i < 0 {
		return netip.Addr{}, fmt.Errorf("no IP in %q", out)
	}
	rest := out[i+len(key):]
	return netip.ParseAddr(rest[:strings.IndexByte(rest, '"')])
}

// checkLeases proves a race's outcome against NetBox: the handed-out blocks do not
// overlap (with each other or the other client's addresses), and NetBox holds exactly
// one object per handed-out address, carrying that lease's request id.
func checkLeases(t *testing.T, c *netbox.Client, vrf int, parent string, leases []lease, others []string) {
	t.Helper()
	owner := map[netip.Addr]string{}
	for _, o := range others {
		owner[netip.MustParsePrefix(o).Addr()] = "other client"
	}
	for _, l := range leases {
		a := l.first
		for i := 0; i < l.size; i++ {
			if prev, dup := owner[a]; dup {
				t.Fatalf("%s handed out twice: to request %s and to %s", a, l.reqID, prev)
			}
			owner[a] = l.reqID
			a = a.Next()
		}
	}
	objs, err := c.IPAddressesIn(ctx(t), vrf, parent)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[netip.Addr]int{}
	for _, o := range objs {
		a, _ := o.Addr()
		seen[a]++
		want, ok := owner[a]
		switch {
		case !ok:
			t.Errorf("NetBox holds %s (ip-address %d, request %q) that nobody was handed", a, o.ID, o.CustomString("one_request_id"))
		case want != "other client" && o.CustomString("one_request_id") != want:
			t.Errorf("%s was handed to request %s but NetBox records request %q", a, want, o.CustomString("one_request_id"))
		}
	}
	var missing []string
	for a := range owner {
		if seen[a] != 1 {
			missing = append(missing, fmt.Sprintf("%s×%d", a, seen[a]))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("handed-out addresses not held exactly once in NetBox: %v", missing)
	}
}

// trimLeases deletes the driver's leases inside parent but keep of them.
func trimLeases(t *testing.T, c *netbox.Client, vrf int, parent string, keep int) {
	t.Helper()
	long, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	objs, err := c.IPAddressesIn(long, vrf, parent)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	for _, o := range objs {
		if o.HasTag("opennebula") {
			ids = append(ids, o.ID)
		}
	}
	if len(ids) <= keep {
		t.Fatalf("%d leases of the driver, want more than %d", len(ids), keep)
	}
	if err := c.DeleteIPAddresses(long, ids[keep:]); err != nil {
		t.Fatal(err)
	}
}
