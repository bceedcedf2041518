package e2e

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// BenchmarkFleet (make bench-e2e): 100 VMs created by 8 concurrent API clients on one
// network through the real oned, with the driver's hooks installed. It reports how
// long until every VM holds its lease and leases per second, and how long after its
// one.vm.allocate returned NetBox shows each VM's id and name (median, p95), beside
// baselines measured in the same run: the same fleet without hooks; with the NetBox
// writes of the labels made beside it and no hook (labelWrites: what any hook that
// labels within a second must add); with an allocate hook running /bin/true; on a
// network whose leases oned keeps itself (no IPAM driver); on OpenNebula's own dummy
// IPAM driver; and the NetBox floor: 100 single POSTs to a range's available-ips, one
// after the other as one_ipam (-t 1) sends the driver's.
//
// A fleet's time varies by a tenth from one fleet to the next on a 2-core machine, so
// the three runs the ratios compare (no hooks, label writes, hooks) take turns, each
// benchRounds times in a rotating order, on fresh networks, and each is terminated
// before the next. A run's leases per second and the ratios are of its median fleet:
// now and then a fleet stalls for tens of seconds (NetBox answering get_address in
// 0.3-0.8 s instead of 0.05 for a while), which a sum would carry into the ratio.
func BenchmarkFleet(b *testing.B) {
	const vms, clients = 100, 8
	o := oned(b)
	rpc := o.rpcClient(b)
	o.driver(b, "netbox", nil, "hooks", "remove")
	b.Cleanup(func() { o.driver(b, "netbox", nil, "hooks", "remove") })

	var nohooks, writes, hooked fleetRun
	var labels []time.Duration
	labelled := 0
	for r := 0; r < benchRounds; r++ {
		fresh := func(k int) (vrf, net int) { // a network of the driver's: 10.11k.r.0/24
			return o.spanNet(b, fmt.Sprintf("10.%d.%d.0/24", 110+k, r), fmt.Sprintf("10.%d.%d.10", 110+k, r), 200, "")
		}
		runs := []func(){
			func() {
				_, bare := fresh(0)
				nohooks.add(o.fleetDone(b, rpc, bare, vms, clients, nil))
			},
			func() { // the least the labels cost NetBox, without hooks: their writes made beside
				_, plain := fresh(1)
				made, written := o.labelWrites(b, vms)
				writes.add(o.fleetDone(b, rpc, plain, vms, clients, made))
				labelled += written()
			},
			func() {
				if out, code := o.driver(b, "netbox", nil, "hooks", "install"); code != 0 {
					b.Fatalf("hooks install: exit %d\n%s", code, out)
				}
				vrf, net := fresh(2)
				since := time.Now()
				run := o.fleetBeside(b, rpc, net, vms, clients, nil)
				labels = append(labels, labelLatency(b, run, o.labelTimes(b, vrf, since, vms))...)
				o.terminateAll(b, rpc, net, run.created)
				o.driver(b, "netbox", nil, "hooks", "remove")
				hooked.add(run)
			},
		}
		for k := range runs { // each round starts with another: none always follows the same
			runs[(k+r)%len(runs)]()
		}
	}
	sort.Slice(labels, func(i, j int) bool { return labels[i] < labels[j] })

	// OpenNebula's hook machinery alone: the same allocate hook, running a command
	// that does nothing (oned's message, onehem-server's fork and exec).
	_, idle := o.spanNet(b, "10.124.0.0/24", "10.124.0.10", 200, "")
	hookOut := o.must(b, "onehook", "create", template(b, "NAME = \""+uniq("bench-true")+"\"\nTYPE = \"api\"\nCALL = \"one.vm.allocate\"\n"+
		"COMMAND = \"/bin/true\"\nARGUMENTS = \"$API\"\nARGUMENTS_STDIN = \"YES\"\n"))
	trueHook := createdID(b, hookOut)
	truehooks := o.fleetDone(b, rpc, idle, vms, clients, nil)
	o.must(b, "onehook", "delete", strconv.Itoa(trueHook))

	own := o.createVNet(b, vnetTemplate(uniq("own"), `TYPE = "IP4", IP = "10.120.0.10", SIZE = "200"`))
	base := o.fleet(b, rpc, own, vms, clients)
	dummy := o.createVNet(b, vnetTemplate(uniq("dummy"), `TYPE = "IP4", IP = "10.121.0.1", SIZE = "250", IPAM_MAD = "dummy"`))
	dum := o.fleet(b, rpc, dummy, vms, clients)
	floor := o.netboxFloor(b, vms)

	rate := func(f fleetRun) float64 { // of the median fleet
		if len(f.each) == 0 {
			return float64(f.leases) / f.took.Seconds()
		}
		ds := slices.Sorted(slices.Values(f.each))
		return float64(f.leases/len(ds)) / ds[len(ds)/2].Seconds()
	}
	each := func(f fleetRun) string {
		var out []string
		for _, t := range f.each {
			out = append(out, t.Round(10*time.Millisecond).String())
		}
		return strings.Join(out, ", ")
	}
	b.Logf("\n| run (%d VMs each) | every VM holds its lease | leases/s (median fleet) | failed allocates (retried) |\n|---|---|---|---|\n"+
		"| netbox driver, hooks installed | %s | %.1f | %d |\n| netbox driver, no hooks | %s | %.1f | %d |\n"+
		"| netbox driver, no hooks, the labels' NetBox writes beside it | %s | %.1f | %d |\n"+
		"| netbox driver, an allocate hook running /bin/true | %s | %.1f | %d |\n| oned alone (no IPAM driver) | %s | %.1f | %d |\n"+
		"| OpenNebula's dummy IPAM | %s | %.1f | %d |\n| NetBox floor: %d available-ips POSTs | %s | %.1f | - |\n"+
		"hooked/unhooked leases per second: %.2f (target >= 0.90); label writes beside/unhooked: %.2f (%d labels written); /bin/true hook/unhooked: %.2f\n"+
		"NetBox shows VM id and name after allocate returned: median %s, p95 %s, max %s (target p95 <= 2 s)",
		vms, each(hooked), rate(hooked), hooked.failed, each(nohooks), rate(nohooks), nohooks.failed,
		each(writes), rate(writes), writes.failed,
		truehooks.took.Round(10*time.Millisecond), rate(truehooks), truehooks.failed, base.took.Round(10*time.Millisecond), rate(base), base.failed,
		dum.took.Round(10*time.Millisecond), rate(dum), dum.failed, vms, floor.Round(10*time.Millisecond), float64(vms)/floor.Seconds(),
		rate(hooked)/rate(nohooks), rate(writes)/rate(nohooks), labelled, rate(truehooks)/rate(nohooks),
		pct(labels, 50), pct(labels, 95), pct(labels, 100))
	b.ReportMetric(rate(hooked), "leases/s")
	b.ReportMetric(float64(vms)/floor.Seconds(), "floor-leases/s")
	b.ReportMetric(rate(hooked)/rate(nohooks), "hooked/unhooked")
	b.ReportMetric(rate(writes)/rate(nohooks), "labelwrites/unhooked")
	b.ReportMetric(pct(labels, 95).Seconds(), "label-p95-s")
}

// benchRounds is how many times BenchmarkFleet runs each fleet its ratios compare.
const benchRounds = 3

// fleetRun is one fleet: when each VM's allocate returned, how long until all did,
// and how many allocates oned refused (then retried); or the sum of several (add),
// each one's time in each.
type fleetRun struct {
	created map[string]time.Time // VM id → allocate returned
	took    time.Duration
	each    []time.Duration
	leases  int
	failed  int
}

func (f *fleetRun) add(g fleetRun) {
	f.took, f.leases, f.failed = f.took+g.took, f.leases+g.leases, f.failed+g.failed
	f.each = append(f.each, g.took)
}

// fleet creates n VMs on network net by c concurrent XML-RPC clients (fleetBeside) and
// terminates them when the benchmark ends.
func (o *One) fleet(b *testing.B, rpc *oneRPC, net, n, c int) fleetRun {
	run := o.fleetBeside(b, rpc, net, n, c, nil)
	b.Cleanup(func() { o.terminateAll(b, rpc, net, run.created) })
	return run
}

// fleetDone is fleetBeside, its VMs terminated and their leases freed on return.
func (o *One) fleetDone(b *testing.B, rpc *oneRPC, net, n, c int, made chan<- struct{}) fleetRun {
	run := o.fleetBeside(b, rpc, net, n, c, made)
	o.terminateAll(b, rpc, net, run.created)
	return run
}

// fleetBeside creates n VMs on network net by c concurrent XML-RPC clients (on hold,
// so the scheduler leaves them be: their leases are taken at allocate), telling made
// (when not nil, with room for n) of each VM made. The caller terminates them.
func (o *One) fleetBeside(b *testing.B, rpc *oneRPC, net, n, c int, made chan<- struct{}) fleetRun {
	run := fleetRun{created: map[string]time.Time{}}
	var mu sync.Mutex
	jobs := make(chan int, n)
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				tmpl := fmt.Sprintf("NAME = \"fleet-%d-%d\"\nCPU = 0.1\nMEMORY = 32\nNIC = [ NETWORK_ID = %d ]\n", net, i, net)
				for try := 0; try < 20; try++ { // the dummy IPAM picks at random: taken addresses are refused
					id, err := rpc.call("one.vm.allocate", tmpl, true)
					mu.Lock()
					if err == nil {
						run.created[id] = time.Now()
						mu.Unlock()
						if made != nil {
							made <- struct{}{}
						}
						break
					}
					run.failed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	run.took, run.leases = time.Since(start), len(run.created)
	if run.leases != n {
		o.terminateAll(b, rpc, net, run.created)
		b.Fatalf("network %d: %d of %d VMs created (%d allocates refused)", net, run.leases, n, run.failed)
	}
	return run
}

// terminateAll terminates the fleet and waits until oned released its leases.
func (o *One) terminateAll(b *testing.B, rpc *oneRPC, net int, vms map[string]time.Time) {
	for id := range vms {
		n, _ := strconv.Atoi(id)
		if _, err := rpc.call("one.vm.action", "terminate-hard", n); err != nil {
			b.Logf("terminate %s: %v", id, err)
		}
	}
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		leases := 0
		for _, ar := range o.vnet(b, net).ARs {
			leases += len(ar.Leases)
		}
		if leases == 0 {
			return
		}
	}
	b.Errorf("network %d still has leases 5 minutes after terminating its fleet", net)
}

// labelTimes says when NetBox first showed each fleet VM's id and name on a lease of
// VRF vrf, from NetBox's change log, waiting until n VMs are named or 2 minutes passed.
// A change is taken as shown when the last change of its request was logged: a bulk
// PATCH commits them together. The times are NetBox's, which is the benchmark's clock
// as long as NetBox runs on this machine (make bench-e2e's does). It reads once the
// fleet is made: an observer polling NetBox during the fleet loads the NetBox the
// leases wait for, and in the hooked run only (polling every 100 ms cost the hooked
// fleet about 0.07 of the unhooked rate in runs side by side).
func (o *One) labelTimes(b *testing.B, vrf int, since time.Time, n int) map[string]time.Time {
	type change struct {
		Time    time.Time `json:"time"`
		Request string    `json:"request_id"`
		Post    struct {
			VRF          *int           `json:"vrf"`
			Description  string         `json:"description"`
			CustomFields map[string]any `json:"custom_fields"`
		} `json:"postchange_data"`
	}
	seen := map[string]time.Time{}
	for deadline := time.Now().Add(2 * time.Minute); len(seen) < n && time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		var all []change
		path := "/api/core/object-changes/?changed_object_type=ipam.ipaddress&ordering=time&limit=1000&time_after=" +
			url.QueryEscape(since.UTC().Add(-time.Second).Format(time.RFC3339))
		for path != "" {
			var page struct {
				Next    *string  `json:"next"`
				Results []change `json:"results"`
			}
			if err := o.nb.Raw(context.Background(), "GET", path, &page); err != nil {
				b.Fatalf("NetBox change log: %v", err)
			}
			all, path = append(all, page.Results...), ""
			if page.Next != nil {
				u, err := url.Parse(*page.Next)
				if err != nil {
					b.Fatal(err)
				}
				path = u.RequestURI()
			}
		}
		committed := map[string]time.Time{} // request → its last change
		for _, c := range all {
			if c.Time.After(committed[c.Request]) {
				committed[c.Request] = c.Time
			}
		}
		seen = map[string]time.Time{}
		for _, c := range all {
			id := fmt.Sprint(c.Post.CustomFields["one_vm_id"])
			if _, ok := seen[id]; !ok && c.Post.VRF != nil && *c.Post.VRF == vrf && strings.Contains(c.Post.Description, "(fleet-") {
				seen[id] = committed[c.Request]
			}
		}
	}
	return seen
}

// labelLatency is, per VM of the fleet, how long after its allocate returned NetBox
// first showed its id and name, in order.
func labelLatency(b *testing.B, run fleetRun, seen map[string]time.Time) []time.Duration {
	out := make([]time.Duration, 0, len(run.created))
	for id, at := range run.created {
		s, ok := seen[id]
		if !ok {
			b.Fatalf("NetBox never named VM %s (%d of %d named)", id, len(seen), len(run.created))
		}
		out = append(out, max(s.Sub(at), 0))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// labelWrites makes beside a fleet of n VMs the NetBox writes its labels cannot do
// without, and nothing else: once a second (the drainer's longest gather), one bulk
// PATCH giving as many objects as VMs were made since (told on made) a lease's label,
// custom fields and description. The objects are made beforehand, in a VRF of their
// own, as get_address makes a lease's; no read of oned or NetBox is made, where the
// hooks re-read both. written writes what is due, stops the writer and says how many
// it labelled (a benchmark that fails first stops it at its end).
func (o *One) labelWrites(b *testing.B, n int) (made chan<- struct{}, written func() int) {
	ctx := context.Background()
	v := o.vrf(b)
	specs := make([]netbox.IPAddressSpec, n)
	for i := range specs {
		specs[i] = netbox.IPAddressSpec{Address: fmt.Sprintf("10.126.%d.%d/16", i/250, i%250+1), VRFID: v.ID, Tags: []netbox.TagRef{{Slug: o.tag}},
			CustomFields: map[string]any{"one_ar_id": "0", "one_request_id": strconv.Itoa(i)}}
	}
	objs, err := o.nb.CreateIPAddresses(ctx, specs)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]int, len(objs))
	for i, a := range objs {
		ids[i] = a.ID
	}
	b.Cleanup(func() { _ = o.nb.DeleteIPAddresses(ctx, ids) })
	ch, stop, done := make(chan struct{}, n), make(chan struct{}), make(chan int)
	go func() {
		w, due := 0, 0
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			stopping := false
			select {
			case <-ch:
				due++
				continue
			case <-stop:
				stopping = true
			case <-tick.C:
			}
			var changes []map[string]any
			for ; due > 0 && w < len(ids); due, w = due-1, w+1 {
				changes = append(changes, map[string]any{"id": ids[w], "description": fmt.Sprintf("OpenNebula VM %d (fleet-%d), network 0 AR 0", w, w),
					"custom_fields": map[string]any{"one_ar_id": "0", "one_vm_id": strconv.Itoa(w), "one_vnet_id": "", "one_vrouter_id": "",
						"one_mac": fmt.Sprintf("02:00:0a:7e:%02x:%02x", w/250, w%250+1)}})
			}
			if len(changes) > 0 {
				if err := o.nb.PatchIPAddresses(ctx, changes); err != nil {
					b.Errorf("label writes: %v", err)
				}
			}
			if stopping {
				done <- w
				return
			}
		}
	}()
	var once sync.Once
	written = func() int {
		w := -1
		once.Do(func() { close(stop); w = <-done })
		return w
	}
	b.Cleanup(func() { written() }) // before the objects' deletion, registered earlier
	return ch, written
}

// netboxFloor times n single POSTs to available-ips of a fresh range, each with the
// body the driver sends, one after the other.
func (o *One) netboxFloor(b *testing.B, n int) time.Duration {
	ctx := context.Background()
	v := o.vrf(b)
	o.prefix(b, v.ID, "10.122.0.0/24")
	r, err := o.nb.CreateIPRange(ctx, netbox.IPRangeSpec{Start: "10.122.0.10/24", End: "10.122.0.209/24", VRFID: v.ID, Tags: []netbox.TagRef{{Slug: o.tag}}})
	if err != nil {
		b.Fatal(err)
	}
	var ids []int
	b.Cleanup(func() { _ = o.nb.DeleteIPAddresses(ctx, ids); _ = o.nb.DeleteIPRange(ctx, r.ID) })
	start := time.Now()
	for i := 0; i < n; i++ {
		got, err := o.nb.TakeFromRange(ctx, r.ID, []netbox.IPAddressSpec{{VRFID: v.ID, Tags: []netbox.TagRef{{Slug: o.tag}},
			CustomFields: map[string]any{"one_ar_id": "0", "one_request_id": strconv.Itoa(i)}, Description: "floor " + strconv.Itoa(i)}})
		if err != nil || len(got) != 1 {
			b.Fatalf("POST %d: %v", i, err)
		}
		ids = append(ids, got[0].ID)
	}
	return time.Since(start)
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)].Round(time.Millisecond)
}

// oneRPC is a minimal XML-RPC client of the test oned, for what the CLI would make
// slow (a Ruby start per call would be the benchmark's bottleneck, not oned).
type oneRPC struct{ endpoint, session string }

func (o *One) rpcClient(b *testing.B) *oneRPC {
	auth, err := os.ReadFile(o.vars["ONE_AUTH"])
	if err != nil {
		b.Skipf("the test oned's credentials are only readable on its machine: %v", err)
	}
	return &oneRPC{endpoint: o.vars["ONE_XMLRPC"], session: strings.TrimSpace(string(auth))}
}

// call calls method with the session and params (strings, ints, bools) and returns
// the answer's second value (an id or a document) as text.
func (r *oneRPC) call(method string, params ...any) (string, error) {
	var body bytes.Buffer
	body.WriteString(`<?xml version="1.0"?><methodCall><methodName>` + method + `</methodName><params>`)
	for _, p := range append([]any{r.session}, params...) {
		body.WriteString("<param><value>")
		switch v := p.(type) {
		case string:
			body.WriteString("<string>")
			_ = xml.EscapeText(&body, []byte(v))
			body.WriteString("</string>")
		case int:
			body.WriteString("<int>" + strconv.Itoa(v) + "</int>")
		case bool:
			body.WriteString(map[bool]string{true: "<boolean>1</boolean>", false: "<boolean>0</boolean>"}[v])
		}
		body.WriteString("</value></param>")
	}
	body.WriteString("</params></methodCall>")
	resp, err := http.Post(r.endpoint, "text/xml", &body)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var ans struct {
		Values []struct {
			Boolean string `xml:"boolean"`
			String  string `xml:"string"`
			Int     string `xml:"int"`
			I4      string `xml:"i4"`
		} `xml:"params>param>value>array>data>value"`
	}
	if err := xml.Unmarshal(raw, &ans); err != nil || len(ans.Values) < 2 {
		return "", fmt.Errorf("%s: unreadable answer %q", method, raw)
	}
	v := ans.Values[1]
	if ans.Values[0].Boolean != "1" {
		return "", fmt.Errorf("%s: %s", method, v.String)
	}
	return v.String + v.Int + v.I4, nil
}
