// Package driver is what the netbox IPAM driver does, apart from how it is called: the
// five OpenNebula actions, each a function from a typed Request to a typed response
// (actions.go), the operator commands setup and check, and the hooks. Audit and sync
// (package reconcile) build on its exported core: a Call's create-once and ownership
// path (objects.go), FindRange and ObjectsOf, SyncVM and VMDifferences. It reaches
// NetBox only through the interfaces of store.go, so every policy here (register's
// three ways to a prefix and its rollback, leases and their races, what free and
// unregister may remove) runs in unit tables against
// netbox/netboxtest's in-memory NetBox. cmd/netbox-ipam turns argv and stdin into
// these calls and their results and errors into stdout, stderr and exit codes.
package driver
