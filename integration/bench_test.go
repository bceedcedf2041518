package integration

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/integration/nbrecord"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// `make bench`: what the driver costs OpenNebula beyond NetBox's own time, against the
// local NetBox. For each action: the whole process's wall time as one_ipam sees it
// (shim, binary, configuration, client, requests; median of many runs), the NetBox
// requests it makes, and the floor: the very same requests (recorded from the driver,
// replayed with the ids of the moment) sent by a minimal in-process client. Then the
// process overhead alone against an instant local endpoint, and the same actions on a
// /16 AR that is 90% full (kept between runs in VRF benchVRF: the first run fills it,
// which takes ~10 minutes).
//
//	go test -run '^$' -bench BenchmarkDriver -benchtime 1x -timeout 60m ./integration/
func BenchmarkDriver(b *testing.B) {
	runs := envInt("BENCH_RUNS", 21)
	c := Client(b)
	bin := driverBin(b)
	env := NetBox(b)
	shim := func(action string) string { return filepath.Join(repoRoot(b), "remotes", "ipam", "netbox", action) }

	// exec runs one action as one_ipam does, against url, and times it.
	exec1 := func(url, action, reqID, xml string, extra ...string) (Result, time.Duration) {
		cmd := exec.Command(shim(action), reqID)
		cmd.Dir = os.TempDir()
		cmd.Stdin = strings.NewReader(base64.StdEncoding.EncodeToString([]byte(xml)))
		cmd.Env = append(os.Environ(), "NETBOX_IPAM_BIN="+bin, "NETBOX_URL="+url, "NETBOX_TOKEN="+env.Token, "NETBOX_IPAM_CONFIG=")
		cmd.Env = append(cmd.Env, extra...)
		r, err := execute(cmd)
		if err != nil {
			b.Fatal(err)
		}
		took := r.Took
		if r.Code != 0 {
			b.Fatalf("%s: exit %d: %s", action, r.Code, r.Stderr)
		}
		return r, took
	}

	type action struct {
		name, action string
		request      func(i int) string
		setup, after func(i int) // untimed: make the state the action needs, then restore it
		// seed maps ids the recorded run's request named to this run's (unregister).
		seed func() map[string]string
		env  []string // extra driver environment (configuration)
	}
	type row struct {
		label         string
		driver, floor time.Duration
		requests      int
	}
	var table []row
	measure := func(label string, a action) {
		rec := nbrecord.New(b, env.URL)
		if a.setup != nil {
			a.setup(0)
		}
		exec1(rec.URL(), a.action, "900", a.request(0), a.env...) // recorded, not timed
		if a.after != nil {
			a.after(0)
		}
		var drv, flo []time.Duration
		for i := 1; i <= runs; i++ {
			if a.setup != nil {
				a.setup(i)
			}
			_, d := exec1(env.URL, a.action, strconv.Itoa(900+i), a.request(i), a.env...)
			drv = append(drv, d)
			if a.after != nil {
				a.after(i)
			}
			if a.setup != nil {
				a.setup(i)
			}
			var seed map[string]string
			if a.seed != nil {
				seed = a.seed()
			}
			flo = append(flo, rec.Replay(b, env.URL, env.Token, seed))
			if a.after != nil {
				a.after(i)
			}
		}
		table = append(table, row{label, median(drv), median(flo), len(rec.Calls())})
		b.Logf("%s: %s", label, rec.Summary())
	}

	// --- a /24 AR ---------------------------------------------------------------
	vrf := testVRF(b, c)
	S := benchAR(b, vrf, "10.90.0.0", "255.255.255.0", 250)
	b.Cleanup(func() { Run(b, "unregister_address_range", "2", Req(S, nil)) })
	freeAll := func(int) { dropLeases(b, c, vrf.ID, "10.90.0.0/24") }
	hold := func(ip string) func(int) {
		return func(int) { mustOK(b, Run(b, "allocate_address", "3", Req(S, []string{"IP=" + ip, "SIZE=1"})), "hold") }
	}
	actions := []action{
		{"get_address SIZE=1", "get_address", func(int) string { return Req(S, []string{"SIZE=1"}) }, nil, freeAll, nil, nil},
		{"get_address SIZE=1, lease_mac: now", "get_address", func(int) string { return Req(S, []string{"SIZE=1"}) }, nil, freeAll, nil, []string{"NETBOX_IPAM_LEASE_MAC=now"}},
		{"get_address SIZE=4", "get_address", func(int) string { return Req(S, []string{"SIZE=4"}) }, nil, freeAll, nil, nil},
		{"allocate_address", "allocate_address", func(int) string { return Req(S, []string{"IP=10.90.0.77", "SIZE=1"}) }, nil, freeAll, nil, nil},
		{"free_address", "free_address", func(int) string { return Req(S, []string{"IP=10.90.0.77", "SIZE=1"}) }, hold("10.90.0.77"), freeAll, nil, nil},
	}
	for _, a := range actions {
		measure(a.name+" (/24)", a)
	}
	regReq := Req([]string{"TYPE=IP4", "NETWORK_ADDRESS=10.91.0.0", "NETWORK_MASK=255.255.255.0", "SIZE=100", "IPAM_MAD=netbox", "MAC=02:00:0a:5b:00:02", "NETBOX_VRF=" + vrf.Name}, nil)
	measure("register_address_range", action{"register", "register_address_range", func(int) string { return regReq }, nil,
		func(int) { // remove what the register (driver's or replayed) made
			for _, p := range mustPrefixes(b, c, vrf.ID, "10.91.0.0/24") {
				rs, _ := c.IPRangesIn(ctx(b), vrf.ID, p.Prefix)
				for _, r := range rs {
					_ = c.DeleteIPRange(ctx(b), r.ID)
				}
				_ = c.DeletePrefix(ctx(b), p.ID)
			}
		}, nil, nil})
	var regS, firstS []string // the AR to unregister now, and the one the recording unregistered
	measure("unregister_address_range", action{"unregister", "unregister_address_range",
		func(int) string { return Req(regS, nil) },
		func(i int) {
			r := mustOK(b, Run(b, "register_address_range", "4", regReq), "register for unregister")
			regS = registered(b, r.Stdout, "1")
			if firstS == nil {
				firstS = regS
			}
		}, nil,
		func() map[string]string {
			return map[string]string{attr(firstS, "NETBOX_PREFIX_ID"): attr(regS, "NETBOX_PREFIX_ID"), attr(firstS, "NETBOX_IP_RANGE_ID"): attr(regS, "NETBOX_IP_RANGE_ID")}
		}, nil})

	// --- process overhead: the same binary against an instant endpoint ------------
	instant := newInstant(b, env.URL, env.Token, vrf.ID, S)
	var over []time.Duration
	for i := 0; i < runs; i++ {
		_, d := exec1(instant.URL, "get_address", "5", Req(S, []string{"SIZE=1"}))
		over = append(over, d)
	}
	var ver []time.Duration
	for i := 0; i < runs; i++ {
		start := time.Now()
		if err := exec.Command(bin, "version").Run(); err != nil {
			b.Fatal(err)
		}
		ver = append(ver, time.Since(start))
	}

	// --- scaling: a /16 AR that is 90% full (BENCH_SKIP_BIG=1 leaves it out) --------
	big := bigAR{}
	if os.Getenv("BENCH_SKIP_BIG") == "" {
		big = benchBigAR(b, c)
	}
	bigFree := func(int) { dropDriverLeases(b, c, big.vrf) }
	scaled := []action{
		{"get_address SIZE=1", "get_address", func(int) string { return Req(big.S, []string{"SIZE=1"}) }, nil, bigFree, nil, nil},
		{"allocate_address", "allocate_address", func(int) string { return Req(big.S, []string{"IP=10.95.250.77", "SIZE=1"}) }, nil, bigFree, nil, nil},
		{"free_address", "free_address", func(int) string { return Req(big.S, []string{"IP=10.95.250.77", "SIZE=1"}) },
			func(int) {
				mustOK(b, Run(b, "allocate_address", "6", Req(big.S, []string{"IP=10.95.250.77", "SIZE=1"})), "hold")
			}, bigFree, nil, nil},
	}
	saved := runs
	runs = envInt("BENCH_RUNS_BIG", 7)
	for _, a := range scaled {
		if big.S != nil {
			measure(a.name+" (/16, 90% full)", a)
		}
	}
	runs = saved

	fmt.Printf("\none-netbox-ipam against NetBox at %s (median of %d runs; /16 rows: %d)\n\n", env.URL, saved, envInt("BENCH_RUNS_BIG", 7))
	fmt.Printf("%-40s %10s %10s %7s %9s %10s\n", "action", "driver", "floor", "ratio", "requests", "overhead")
	for _, r := range table {
		fmt.Printf("%-40s %10s %10s %7.2f %9d %10s\n", r.label, ms(r.driver), ms(r.floor), float64(r.driver)/float64(r.floor), r.requests, ms(r.driver-r.floor))
	}
	fmt.Printf("\nprocess overhead: get_address against an instant endpoint %s; `netbox-ipam version` %s\n", ms(median(over)), ms(median(ver)))
	fmt.Printf("/16 AR: %d leases of %d addresses held by others\n\n", big.fill, big.size)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

func benchAR(b testing.TB, vrf netbox.VRF, network, mask string, size int) []string {
	reg := mustOK(b, Run(b, "register_address_range", "1", Req([]string{"TYPE=IP4", "NETWORK_ADDRESS=" + network, "NETWORK_MASK=" + mask,
		"SIZE=" + strconv.Itoa(size), "IPAM_MAD=netbox", "MAC=02:00:0a:5a:00:02", "NETBOX_VRF=" + vrf.Name}, nil)), "register")
	return registered(b, reg.Stdout, "0")
}

func mustPrefixes(b testing.TB, c *netbox.Client, vrf int, cidr string) []netbox.Prefix {
	p, err := c.PrefixExact(ctx(b), vrf, cidr)
	if netbox.IsNotFound(err) {
		return nil
	}
	if err != nil {
		b.Fatal(err)
	}
	return []netbox.Prefix{p}
}

// dropLeases deletes every IP address in parent (untimed state reset).
func dropLeases(b testing.TB, c *netbox.Client, vrf int, parent string) {
	ips, err := c.IPAddressesIn(ctx(b), vrf, parent)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]int, 0, len(ips))
	for _, ip := range ips {
		ids = append(ids, ip.ID)
	}
	if err := c.DeleteIPAddresses(ctx(b), ids); err != nil {
		b.Fatal(err)
	}
}

// dropDriverLeases deletes the driver's leases in a VRF, keeping everyone else's.
func dropDriverLeases(b testing.TB, c *netbox.Client, vrf int) {
	var page struct {
		Results []netbox.IPAddress `json:"results"`
	}
	if err := c.Raw(ctx(b), "GET", fmt.Sprintf("/api/ipam/ip-addresses/?vrf_id=%d&tag=opennebula&limit=1000", vrf), &page); err != nil {
		b.Fatal(err)
	}
	ids := make([]int, 0, len(page.Results))
	for _, ip := range page.Results {
		ids = append(ids, ip.ID)
	}
	if err := c.DeleteIPAddresses(ctx(b), ids); err != nil {
		b.Fatal(err)
	}
}

// bigAR is the /16 AR of the scaling rows.
type bigAR struct {
	S               []string
	vrf, fill, size int
}

const benchVRF = "one-netbox-ipam-bench"

// benchBigAR finds or makes a /16 AR (10.95.0.0/16) in VRF benchVRF with 90% of its
// addresses held by someone else (untagged objects), kept between runs.
func benchBigAR(b testing.TB, c *netbox.Client) bigAR {
	const size = 65000
	fill := size * 9 / 10
	v, err := c.Resolve(ctx(b), "vrf", benchVRF)
	if netbox.IsNotFound(err) {
		nv, cerr := c.CreateVRF(ctx(b), benchVRF)
		if cerr != nil {
			b.Fatal(cerr)
		}
		v = netbox.Ref{ID: nv.ID, Name: nv.Name}
	} else if err != nil {
		b.Fatal(err)
	}
	vrf := netbox.VRF{}
	vrf.ID, vrf.Name = v.ID, benchVRF
	var S []string
	if rs, _ := c.IPRangesIn(ctx(b), vrf.ID, "10.95.0.0/16"); len(rs) == 1 {
		p, err := c.PrefixExact(ctx(b), vrf.ID, "10.95.0.0/16")
		if err != nil {
			b.Fatal(err)
		}
		S = []string{"AR_ID=0", "TYPE=IP4", "IP=10.95.0.2", "SIZE=" + strconv.Itoa(size), "IPAM_MAD=netbox", "MAC=02:00:0a:5f:00:02",
			"NETBOX_PREFIX_ID=" + strconv.Itoa(p.ID), "NETBOX_IP_RANGE_ID=" + strconv.Itoa(rs[0].ID)}
	} else {
		S = benchAR(b, vrf, "10.95.0.0", "255.255.0.0", size)
		for i, kv := range S {
			if strings.HasPrefix(kv, "MAC=") {
				S[i] = "MAC=02:00:0a:5f:00:02"
			}
		}
	}
	var count struct {
		Count int `json:"count"`
	}
	if err := c.Raw(ctx(b), "GET", fmt.Sprintf("/api/ipam/ip-addresses/?vrf_id=%d&tag__n=opennebula&limit=1", vrf.ID), &count); err != nil {
		b.Fatal(err)
	}
	// Fill from the bottom, leaving the top 10% (10.95.229.x and up) free.
	start := time.Now()
	for n := count.Count; n < fill; n += 1000 {
		specs := make([]netbox.IPAddressSpec, 0, 1000)
		for i := n; i < n+1000 && i < fill; i++ {
			a := i + 2 // 10.95.0.2 is the AR's first address
			specs = append(specs, netbox.IPAddressSpec{Address: fmt.Sprintf("10.95.%d.%d/16", a/256, a%256), VRFID: vrf.ID, Description: "bench fill"})
		}
		if _, err := c.CreateIPAddresses(ctx(b), specs); err != nil {
			b.Fatalf("filling the /16 AR at %d: %v", n, err)
		}
		if n%10000 == 0 {
			b.Logf("filling the /16 AR: %d of %d (%s)", n, fill, time.Since(start).Round(time.Second))
		}
	}
	return bigAR{S: S, vrf: vrf.ID, fill: fill, size: size}
}

// instant answers a get_address's two requests at once with what NetBox would say,
// so a driver process against it measures everything but NetBox.
type instantServer struct{ *httptest.Server }

func newInstant(b testing.TB, base, token string, vrf int, S []string) instantServer {
	lease := []byte(fmt.Sprintf(`[{"id":1,"address":"10.90.0.2/24","vrf":{"id":%d},"tags":[{"slug":"opennebula"}],"custom_fields":{}}]`, vrf))
	one := []byte(fmt.Sprintf(`{"id":1,"address":"10.90.0.2/24","vrf":{"id":%d},"tags":[{"slug":"opennebula"}],"custom_fields":{"one_mac":"02:00:0a:5a:00:02"}}`, vrf))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		io.Copy(io.Discard, q.Body)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case q.Method == "POST" && strings.HasSuffix(q.URL.Path, "/available-ips/"):
			w.WriteHeader(201)
			w.Write(lease)
		case q.Method == "PATCH":
			w.Write(one)
		default:
			http.Error(w, "unexpected "+q.Method+" "+q.URL.Path, 500)
		}
	}))
	b.Cleanup(srv.Close)
	return instantServer{srv}
}
