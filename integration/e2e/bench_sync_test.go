package e2e

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/integration/nbrecord"
)

// BenchmarkSyncAll (make bench-sync): audit --all and a clean sync --all over 50, then
// 200 networks of 25 leases each (5,000 leases at 200) on the real oned, beside the
// floor measured in the same run: the bare reads alone, oned's network pool and each
// network over XML-RPC, then the very NetBox GETs that audit sent (recorded through a
// proxy, replayed by a minimal client). Each is the median of 3 runs. The leases are
// VMs on hold with 25 NICs each; sync --all labels them once before the clean runs.
// Building and tearing down the 5,000 leases takes most of the benchmark's time.
func BenchmarkSyncAll(b *testing.B) {
	const perNet, clients, runs = 25, 8, 3
	o := oned(b)
	rpc := o.rpcClient(b)
	o.driver(b, "netbox", nil, "hooks", "remove") // the labels are sync's to write here
	vrf := o.vrf(b)
	var nets []int
	var vms []string
	b.Cleanup(func() { o.dropSyncFleet(b, rpc, nets, vms) })

	type row struct {
		nets                        int
		audit, sync, floor          time.Duration
		nbAudit, onedAudit, nbFloor int
		label                       time.Duration
	}
	var rows []row
	for _, n := range []int{50, 200} {
		from := len(nets)
		for i := from; i < n; i++ {
			o.prefix(b, vrf.ID, fmt.Sprintf("10.210.%d.0/24", i))
			tmpl := fmt.Sprintf("NAME = %q\nVN_MAD = \"dummy\"\nBRIDGE = \"br-bench\"\n", uniq(fmt.Sprintf("bench-sync-%d", i))) +
				fmt.Sprintf(`AR = [ TYPE = "IP4", IP = "10.210.%d.10", SIZE = "%d", IPAM_MAD = "netbox", NETBOX_VRF = "%d" ]`, i, perNet+5, vrf.ID)
			id, err := rpc.call("one.vn.allocate", tmpl, -1)
			if err != nil {
				b.Fatal(err)
			}
			net, _ := strconv.Atoi(id)
			nets = append(nets, net)
			// A few at a time: one_ipam (-t 1) registers them one after the other, and
			// oned gives up on a registration that waited in its queue for long.
			if len(nets)%5 == 0 {
				waitReady(b, rpc, nets[len(nets)-5:])
			}
		}
		waitReady(b, rpc, nets[from:])
		vms = append(vms, o.syncFleet(b, rpc, nets[from:], perNet, clients)...)
		start := time.Now()
		if out, code := o.driver(b, "netbox", nil, "sync", "--all"); code != 0 {
			b.Fatalf("sync --all (labels): exit %d\n%s", code, out)
		}
		r := row{nets: n, label: time.Since(start)}

		var audits, syncs, floors []time.Duration
		for i := 0; i < runs; i++ {
			took, rep := o.timedAudit(b, nil, "audit", "--all", "--json")
			audits = append(audits, took)
			r.nbAudit, r.onedAudit = rep.Requests, rep.Oned
			took, _ = o.timedAudit(b, nil, "sync", "--all", "--json")
			syncs = append(syncs, took)
		}
		rec := nbrecord.New(b, o.vars["NETBOX_URL"])
		o.timedAudit(b, []string{"NETBOX_IPAM_URL=" + rec.URL()}, "audit", "--all", "--json")
		rec.Only("GET")
		r.nbFloor = len(rec.Calls())
		for i := 0; i < runs; i++ {
			start := time.Now()
			pool, err := rpc.call("one.vnpool.info", -2, -1, -1)
			if err != nil {
				b.Fatal(err)
			}
			for _, id := range vnetIDs(b, pool) {
				if _, err := rpc.call("one.vn.info", id, false); err != nil {
					b.Fatal(err)
				}
			}
			rec.Replay(b, o.vars["NETBOX_URL"], o.vars["NETBOX_TOKEN"], nil)
			floors = append(floors, time.Since(start))
		}
		r.audit, r.sync, r.floor = medianOf(audits), medianOf(syncs), medianOf(floors)
		rows = append(rows, r)
	}

	var table strings.Builder
	table.WriteString("\n| networks (leases) | audit --all | sync --all (clean) | floor: the bare reads | sync/floor | NetBox requests (audit, floor) | oned requests | first sync (labels) |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&table, "| %d (%d) | %s | %s | %s | %.2f | %d, %d | %d | %s |\n", r.nets, r.nets*perNet,
			r.audit.Round(time.Millisecond), r.sync.Round(time.Millisecond), r.floor.Round(time.Millisecond),
			r.sync.Seconds()/r.floor.Seconds(), r.nbAudit, r.nbFloor, r.onedAudit, r.label.Round(time.Millisecond))
	}
	first, last := rows[0], rows[len(rows)-1]
	fmt.Fprintf(&table, "from %d to %d networks: audit ×%.2f, sync ×%.2f, floor ×%.2f (target: sync within 1.5× the floor)",
		first.nets, last.nets, last.audit.Seconds()/first.audit.Seconds(), last.sync.Seconds()/first.sync.Seconds(), last.floor.Seconds()/first.floor.Seconds())
	b.Log(table.String())
	b.ReportMetric(last.sync.Seconds(), "sync-s")
	b.ReportMetric(last.floor.Seconds(), "floor-s")
	b.ReportMetric(last.sync.Seconds()/last.floor.Seconds(), "sync/floor")
}

// auditCounts is what the benchmark reads of audit's --json report.
type auditCounts struct {
	Requests int `json:"netbox_requests"`
	Oned     int `json:"oned_requests"`
	Drift    int `json:"drift"`
}

// timedAudit runs audit or sync with --json and returns its wall time and counts; it
// fails on drift: the benchmark measures a cloud in step.
func (o *One) timedAudit(b *testing.B, env []string, args ...string) (time.Duration, auditCounts) {
	b.Helper()
	start := time.Now()
	out, code := o.driverEnv(b, "netbox", nil, env, args...)
	took := time.Since(start)
	var rep auditCounts
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || rep.Drift != 0 {
		b.Fatalf("%v: exit %d, %v, drift %d\n%.2000s", args, code, err, rep.Drift, out)
	}
	return took, rep
}

// syncFleet makes one VM on hold with perNet NICs on each network, by c concurrent
// XML-RPC clients, and returns their ids.
func (o *One) syncFleet(b *testing.B, rpc *oneRPC, nets []int, perNet, c int) []string {
	jobs := make(chan int, len(nets))
	for _, n := range nets {
		jobs <- n
	}
	close(jobs)
	var mu sync.Mutex
	var ids []string
	var failed error
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for net := range jobs {
				tmpl := fmt.Sprintf("NAME = \"bench-sync-%d\"\nCPU = 0.1\nMEMORY = 32\n", net) +
					strings.Repeat(fmt.Sprintf("NIC = [ NETWORK_ID = %d ]\n", net), perNet)
				id, err := rpc.call("one.vm.allocate", tmpl, true)
				mu.Lock()
				if err != nil {
					failed = err
				} else {
					ids = append(ids, id)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if failed != nil {
		b.Fatalf("a VM of the sync fleet: %v", failed)
	}
	return ids
}

// dropSyncFleet terminates the fleet's VMs, waits until oned freed their leases and
// deletes the networks (their ARs unregister; the VRF goes with o.vrf's cleanup).
func (o *One) dropSyncFleet(b *testing.B, rpc *oneRPC, nets []int, vms []string) {
	for _, id := range vms {
		n, _ := strconv.Atoi(id)
		if _, err := rpc.call("one.vm.action", "terminate-hard", n); err != nil {
			b.Logf("terminate %s: %v", id, err)
		}
	}
	for _, net := range nets {
		for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(time.Second) {
			leases := 0
			for _, ar := range o.vnet(b, net).ARs {
				leases += len(ar.Leases)
			}
			if leases == 0 {
				break
			}
			if time.Now().After(deadline) {
				b.Errorf("network %d still has %d leases 10 minutes after terminating its VM", net, leases)
				return
			}
		}
		if _, err := rpc.call("one.vn.delete", net); err != nil {
			b.Logf("delete network %d: %v", net, err)
		}
	}
}

// waitReady waits until oned has registered the networks' ARs with the driver (state
// READY): one.vn.allocate returns while the network is still LOCK_CREATE, and VMs
// allocated on networks whose registration is still queued behind one_ipam stalled
// oned 7.5.80 here until its IPAM requests timed out.
func waitReady(b *testing.B, rpc *oneRPC, nets []int) {
	for _, net := range nets {
		for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
			doc, err := rpc.call("one.vn.info", net, false)
			if err != nil {
				b.Fatal(err)
			}
			var v struct {
				State int `xml:"STATE"`
			}
			if err := xml.Unmarshal([]byte(doc), &v); err != nil {
				b.Fatal(err)
			}
			if v.State == 1 {
				break
			}
			if v.State == 5 || time.Now().After(deadline) {
				b.Fatalf("network %d: state %d, not READY", net, v.State)
			}
		}
	}
}

// vnetIDs are the network ids of a one.vnpool.info document.
func vnetIDs(b *testing.B, pool string) []int {
	var doc struct {
		IDs []int `xml:"VNET>ID"`
	}
	if err := xml.Unmarshal([]byte(pool), &doc); err != nil {
		b.Fatal(err)
	}
	return doc.IDs
}

func medianOf(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
