// Package driver is what the netbox IPAM driver does, apart from how it is called: the
// five OpenNebula actions, each a function from a typed Request to a typed response
// (actions.go), and the operator commands setup, check, audit and sync. It reaches
// NetBox only through the interfaces of store.go, so every policy here (register's
// three ways to a prefix and its rollback, leases and their races, what free and
// unregister may remove, drift repairs) runs in unit tables against
// netbox/netboxtest's in-memory NetBox. cmd/netbox-ipam turns argv and stdin into
// these calls and their results and errors into stdout, stderr and exit codes.
package driver
