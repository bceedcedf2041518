package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
)

// audit and sync: their command line, and their report as text or JSON.

const auditUsage = "usage: netbox-ipam audit [--json] [--all] [FILE…]   |   netbox-ipam sync [--dry-run] [--json] [--all [--prune]] [FILE…]\n" +
	"FILE: `onevnet show -x` output (- or nothing: stdin); --all: every network of onevnet (or: the FILEs are all of them); --prune: sync also removes stale ranges and prefixes"

// parseAuditArgs reads audit's or sync's arguments after the command name.
func parseAuditArgs(name string, args []string) (driver.AuditOptions, error) {
	o := driver.AuditOptions{Sync: name == "sync"}
	for _, a := range args {
		switch {
		case a == "--json":
			o.JSON = true
		case a == "--all":
			o.All = true
		case a == "--dry-run" && o.Sync:
			o.DryRun = true
		case a == "--prune" && o.Sync:
			o.Prune = true
		case strings.HasPrefix(a, "-") && a != "-":
			return o, &usageError{fmt.Sprintf("unknown option %s; %s", a, auditUsage)}
		default:
			o.Files = append(o.Files, a)
		}
	}
	if o.Prune && !o.All {
		return o, &usageError{"--prune needs --all: only a view of every network tells what is stale; " + auditUsage}
	}
	return o, nil
}

// audit runs audit or sync (args[0]) and prints the report.
func (p *program) audit(s *session, ctx context.Context, args []string) int {
	o, err := parseAuditArgs(args[0], args[1:])
	if err != nil {
		return fail(p.stderr, err)
	}
	rep, err := s.d.Audit(ctx, o, p.stdin)
	if err != nil {
		return fail(p.stderr, err)
	}
	if rep.Skipped != "" {
		fmt.Fprintln(p.stdout, rep.Skipped)
		return 0
	}
	if o.JSON {
		enc := json.NewEncoder(p.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fail(p.stderr, err)
		}
	} else {
		printReport(p.stdout, rep, o)
	}
	return auditExit(p.stderr, rep, o)
}

// auditExit is audit's or sync's exit code for a report it printed: 10 with one line
// on stderr when sync failed on some virtual machines, 8 when audit (or a dry run)
// found drift, else 0.
func auditExit(stderr io.Writer, rep driver.AuditReport, o driver.AuditOptions) int {
	if len(rep.FailedVMs) > 0 {
		fmt.Fprintf(stderr, "netbox-ipam: sync was partial: %d NetBox virtual machine(s) could not be kept in step (see failed above); the rest is done\n", len(rep.FailedVMs))
		return exitPartial
	}
	if rep.Drift > 0 && (!o.Sync || o.DryRun) {
		return exitDrift
	}
	return 0
}

func printReport(w io.Writer, rep driver.AuditReport, o driver.AuditOptions) {
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
		if st.Kind == "virtual-machine" {
			verb = "the VM holds no lease of the driver"
		}
		switch {
		case o.Sync && !o.DryRun && o.Prune:
			verb += "; removed (the driver's objects only)"
		case o.Sync && !o.DryRun:
			verb += "; kept (sync --all --prune removes it)"
		}
		fmt.Fprintf(w, "stale    %-8s #%-6d %s: %s\n", st.Kind, st.ID, st.What, verb)
	}
	for _, id := range rep.MissingVMs {
		verb := ""
		if o.Sync && !o.DryRun {
			verb = "; made"
		}
		fmt.Fprintf(w, "missing  virtual-machine  OpenNebula VM %s holds leases of the driver and has no NetBox virtual machine%s\n", id, verb)
	}
	for _, v := range rep.OutOfStepVMs {
		verb := ""
		if o.Sync && !o.DryRun {
			verb = "; brought in step"
		}
		fmt.Fprintf(w, "drift    virtual-machine  #%-6d OpenNebula VM %s (%s): %s%s\n", v.NetBoxVM, v.VM, v.Name, strings.Join(v.Differences, "; "), verb)
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
