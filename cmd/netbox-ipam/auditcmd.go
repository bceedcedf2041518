package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/reconcile"
)

// audit and sync: their command line, and their report as text or JSON.

const auditUsage = "usage: netbox-ipam audit [--json] [--all] [FILE…]   |   netbox-ipam sync [--dry-run] [--json] [--all [--prune]] [FILE…]\n" +
	"FILE: `onevnet show -x` output (- or nothing: stdin); --all: every network of onevnet (or: the FILEs are all of them); --prune: sync also removes stale ranges and prefixes"

// parseAuditArgs reads audit's or sync's arguments after the command name.
func parseAuditArgs(name string, args []string) (reconcile.Options, error) {
	o := reconcile.Options{Sync: name == "sync"}
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
	rep, err := reconcile.Run(ctx, s.d, o, p.stdin)
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
		reconcile.Text(p.stdout, rep, o)
	}
	return auditExit(p.stderr, rep, o)
}

// auditExit is audit's or sync's exit code for a report it printed: 10 with one line
// on stderr when sync failed on some virtual machines, 8 when audit (or a dry run)
// found drift, else 0.
func auditExit(stderr io.Writer, rep reconcile.Plan, o reconcile.Options) int {
	if len(rep.FailedVMs) > 0 {
		fmt.Fprintf(stderr, "netbox-ipam: sync was partial: %d NetBox virtual machine(s) could not be kept in step (see failed above); the rest is done\n", len(rep.FailedVMs))
		return exitPartial
	}
	if rep.Drift > 0 && (!o.Sync || o.DryRun) {
		return exitDrift
	}
	return 0
}
