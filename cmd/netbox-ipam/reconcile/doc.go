// Package reconcile is audit and sync: it compares OpenNebula's networks (and, with
// vms.enabled, its VMs) with what the driver keeps in NetBox, and repairs the drift.
// Its shape is external-dns's plan:
//
//   - collection (collect.go) reads both sides and produces one Plan (plan.go), pure
//     data: every drift found (leases, range span, lost ids, network settings, stale
//     ranges and prefixes, NetBox virtual machines missing, stale or out of step) and
//     the Changes that would repair it;
//   - policies (policy.go) filter the changes: audit and --dry-run keep none, sync
//     without --prune keeps the stale objects; and, one change at a time as the
//     applier reaches it, what oned changed since the picture (arNow, sincePicture,
//     vmLeft, tooYoung: pure functions of the second look);
//   - one applier (apply.go) carries out what is left, each change after a second look
//     at oned (the network, the VM under its hook lock) or NetBox, through the driver's
//     create-once and ownership path (driver.Call);
//   - the text report (render.go) and the JSON are rendered from the plan.
//
// oned moves while sync runs: the plan is a picture, never acted on without a second
// look, and what the look disagrees with is left for the next run and said so.
package reconcile
