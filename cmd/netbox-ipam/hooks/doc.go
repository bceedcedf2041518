// Package hooks is what the driver's OpenNebula hooks do (hook.go, the hooks' templates
// and their installation in hooks.go) and the state they keep on the front-end: the
// labels' spool (spool.go) and the per-VM locks (lock.go), in the driver's state folder
// (driver.Driver.StateFolder). With vms.enabled they keep a NetBox virtual machine per
// VM (vms.go), by the one rule (wantVM) that sync (package reconcile) also compares
// with. Every hook reads from oned what it acts on, under the VM's lock: the event
// that ran it only names the VM. NetBox is reached through the driver's store and its
// create-once and ownership path (driver.Call).
package hooks
