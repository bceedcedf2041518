package reconcile

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
)

// Text renders the plan as audit's and sync's report: per AR its findings and what
// sync did or left, then the stale objects, the NetBox virtual machines, and a total.
func Text(w io.Writer, rep Plan, o Options) {
	sort.SliceStable(rep.ARs, func(i, j int) bool {
		a, _ := strconv.Atoi(rep.ARs[i].VNet)
		b, _ := strconv.Atoi(rep.ARs[j].VNet)
		return a < b
	})
	for _, r := range rep.ARs {
		fmt.Fprintf(w, "network %s AR %s  %s  NetBox IP range %d  %d lease(s)\n", r.VNet, r.AR, r.Span, r.IPRange, r.Leases)
		for _, f := range r.Findings {
			obj := "-"
			if f.Object != 0 {
				obj = "#" + strconv.Itoa(f.Object)
			}
			fmt.Fprintf(w, "  %-8s %-15s %-7s %s\n", f.Kind, f.IP, obj, f.Detail)
		}
		if len(r.Findings) == 0 {
			fmt.Fprintf(w, "  in step\n")
		}
		for _, done := range r.Done {
			fmt.Fprintf(w, "  sync: %s\n", done)
		}
		for _, left := range r.Left {
			fmt.Fprintf(w, "  sync: %s\n", left)
		}
	}
	for _, st := range rep.Stale {
		verb := "no AR references it"
		if st.Kind == driver.ObjectVM {
			verb = "the VM holds no lease of the driver"
		}
		switch {
		case o.acting() && o.Prune:
			verb += "; removed (the driver's objects only)"
		case o.acting():
			verb += "; kept (sync --all --prune removes it)"
		}
		fmt.Fprintf(w, "stale    %-8s #%-6d %s: %s\n", st.Kind, st.ID, st.What, verb)
	}
	for _, id := range rep.MissingVMs {
		verb := ""
		if o.acting() {
			verb = "; made"
		}
		fmt.Fprintf(w, "missing  virtual-machine  OpenNebula VM %s holds leases of the driver and has no NetBox virtual machine%s\n", id, verb)
	}
	for _, v := range rep.OutOfStepVMs {
		verb := ""
		if o.acting() {
			verb = "; brought in step"
		}
		fmt.Fprintf(w, "drift    virtual-machine  #%-6d OpenNebula VM %s (%s): %s%s\n", v.NetBoxVM, v.VM, v.Name, strings.Join(v.Differences, "; "), verb)
	}
	for _, v := range rep.UnrecordedVMs {
		verb := ""
		if o.acting() {
			verb = "; recorded"
		}
		fmt.Fprintf(w, "drift    lease-records    OpenNebula VM %s (%s): %s%s\n", v.VM, v.Name, strings.Join(v.Differences, "; "), verb)
	}
	for _, f := range rep.Revived {
		verb := "sync makes it active"
		if o.acting() {
			verb = "made active"
		}
		fmt.Fprintf(w, "drift    ip-address       #%-6d %s (%s): freed, but %s; %s\n", f.ID, f.IP, f.What, f.Note, verb)
	}
	for _, f := range rep.Cooled {
		verb := "sync deletes it"
		if o.acting() {
			verb = "deleted"
		}
		fmt.Fprintf(w, "cooled   ip-address       #%-6d %s (%s): freed, its cool-down ended at %s; %s\n", f.ID, f.IP, f.What, f.FreesAt, verb)
	}
	n, last := 0, ""
	for _, f := range rep.Cooling {
		if f.Note != "" {
			fmt.Fprintf(w, "cooling  ip-address       #%-6d %s (%s): %s\n", f.ID, f.IP, f.What, f.Note)
			continue
		}
		n, last = n+1, max(last, f.FreesAt) // RFC 3339 in UTC sorts as it reads
	}
	if n > 0 {
		fmt.Fprintf(w, "cooling  %d freed lease(s) rest in NetBox as deprecated (release: cooldown), the last until %s\n", n, last)
	}
	for _, left := range rep.LeftStale {
		fmt.Fprintf(w, "left     %s\n", left)
	}
	for _, left := range rep.LeftVMs {
		fmt.Fprintf(w, "left     virtual-machine  %s\n", left)
	}
	for _, failed := range rep.FailedVMs {
		fmt.Fprintf(w, "failed   virtual-machine  %s\n", failed)
	}
	switch {
	case o.Sync && o.DryRun:
		fmt.Fprintf(w, "dry run: %d drift finding(s); sync would repair what the lines above say\n", rep.Drift)
	case o.Sync:
		fmt.Fprintf(w, "synced: %d drift finding(s) repaired where safe\n", rep.Drift)
	default:
		fmt.Fprintf(w, "%d drift finding(s) in %d AR(s)\n", rep.Drift, len(rep.ARs))
	}
}
