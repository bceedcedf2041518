package driver

import (
	"context"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// The NetBox operations the driver uses, declared here where they are consumed (the
// CNI host-local plugin's backend.Store plays the same part). *netbox.Client is the
// real one; netbox/netboxtest holds an in-memory one for unit tables. Errors are
// *netbox.Error values whatever the implementation, so the driver reads their Kind.

// Prefixes are the NetBox prefixes an AR lives in.
type Prefixes interface {
	GetPrefix(ctx context.Context, id int) (netbox.Prefix, error)
	PrefixExact(ctx context.Context, vrfID int, cidr string) (netbox.Prefix, error)
	PrefixesContaining(ctx context.Context, vrfID int, addr string) ([]netbox.Prefix, error)
	PrefixesLabelled(ctx context.Context, tag, description string) ([]netbox.Prefix, error)
	PrefixesTagged(ctx context.Context, tag string) ([]netbox.Prefix, error)
	CreatePrefix(ctx context.Context, s netbox.PrefixSpec) (netbox.Prefix, error)
	CarvePrefix(ctx context.Context, parentID, length int, s netbox.PrefixSpec) (netbox.Prefix, error)
	SetPrefixCustomFields(ctx context.Context, id int, cf map[string]any) (netbox.Prefix, error)
	DeletePrefix(ctx context.Context, id int) error
}

// IPRanges are the NetBox IP ranges that stand for ARs.
type IPRanges interface {
	GetIPRange(ctx context.Context, id int) (netbox.IPRange, error)
	IPRangesStartingAt(ctx context.Context, tag, first string) ([]netbox.IPRange, error)
	IPRangesLabelled(ctx context.Context, tag, description string) ([]netbox.IPRange, error)
	IPRangesTagged(ctx context.Context, tag string) ([]netbox.IPRange, error)
	FirstIPRangeIn(ctx context.Context, vrfID int, parent string) (netbox.IPRange, bool, error)
	CreateIPRange(ctx context.Context, s netbox.IPRangeSpec) (netbox.IPRange, error)
	PatchIPRange(ctx context.Context, id int, fields map[string]any) (netbox.IPRange, error)
	DeleteIPRange(ctx context.Context, id int) error
}

// IPAddresses are the NetBox IP addresses that stand for leases.
type IPAddresses interface {
	IPAddressesAt(ctx context.Context, vrfID int, addrs []string) ([]netbox.IPAddress, error)
	IPAddressesTaggedAt(ctx context.Context, tag string, addrs []string) ([]netbox.IPAddress, error)
	IPAddressesIn(ctx context.Context, vrfID int, parent string) ([]netbox.IPAddress, error)
	IPAddressesLabelled(ctx context.Context, tag, description string) ([]netbox.IPAddress, error)
	IPAddressesTaggedWithStatus(ctx context.Context, tag, status string) ([]netbox.IPAddress, error)
	FirstIPAddressIn(ctx context.Context, vrfID int, parent string) (netbox.IPAddress, bool, error)
	AvailableInRange(ctx context.Context, rangeID, limit int) ([]netbox.AvailableIP, error)
	TakeFromRange(ctx context.Context, rangeID int, specs []netbox.IPAddressSpec) ([]netbox.IPAddress, error)
	CreateIPAddresses(ctx context.Context, specs []netbox.IPAddressSpec) ([]netbox.IPAddress, error)
	PatchIPAddress(ctx context.Context, id int, fields map[string]any) (netbox.IPAddress, error)
	PatchIPAddresses(ctx context.Context, changes []map[string]any) error
	DeleteIPAddress(ctx context.Context, id int) error
	DeleteIPAddresses(ctx context.Context, ids []int) error
}

// VMs are the NetBox virtualization objects the hooks keep for OpenNebula's VMs
// (vms.enabled), and the custom field setup extends to them.
type VMs interface {
	ClusterTypeBySlug(ctx context.Context, slug string) (netbox.Ref, error)
	CreateClusterType(ctx context.Context, name, slug, tag, description string) (netbox.Ref, error)
	ClusterWith(ctx context.Context, typeSlug, tag, field, value string) (netbox.Cluster, bool, error)
	CreateCluster(ctx context.Context, s netbox.ClusterSpec) (netbox.Cluster, error)
	VirtualMachinesWith(ctx context.Context, tag, field string, values ...string) ([]netbox.VirtualMachine, error)
	CreateVirtualMachine(ctx context.Context, s netbox.VirtualMachineSpec) (netbox.VirtualMachine, error)
	PatchVirtualMachine(ctx context.Context, id int, fields map[string]any) (netbox.VirtualMachine, error)
	DeleteVirtualMachine(ctx context.Context, id int) error
	VMInterfaces(ctx context.Context, vmID int) ([]netbox.VMInterface, error)
	CreateVMInterfaces(ctx context.Context, specs []netbox.VMInterfaceSpec) ([]netbox.VMInterface, error)
	DeleteVMInterfaces(ctx context.Context, ids []int) error
	IPAddressesOfVM(ctx context.Context, vmID int) ([]netbox.IPAddress, error)
}

// Store is what the actions, audit and sync use.
type Store interface {
	Prefixes
	IPRanges
	IPAddresses
	VMs
	// Resolve finds a VRF, tenant, role or site by id, slug or name.
	Resolve(ctx context.Context, kind, s string) (netbox.Ref, error)
	// Requests is how many HTTP requests the store has sent (for the log and audit).
	Requests() int
	// APIVersion is the release line NetBox's last answer named ("4.2"; "" before any).
	APIVersion() string
}

// Schema is what setup and check use besides Store: NetBox itself, the token's
// permissions, the tag and the custom fields.
type Schema interface {
	BaseURL() string
	Status(ctx context.Context) (netbox.Status, error)
	Allowed(ctx context.Context, method, path string) (bool, error)
	TagBySlug(ctx context.Context, slug string) (netbox.Tag, error)
	CreateTag(ctx context.Context, name, slug, description string) (netbox.Tag, error)
	CustomFieldByName(ctx context.Context, name string) (netbox.CustomField, error)
	CreateCustomField(ctx context.Context, s netbox.CustomFieldSpec) (netbox.CustomField, error)
	PatchCustomField(ctx context.Context, id int, fields map[string]any) (netbox.CustomField, error)
}

// Backend is a whole NetBox: Store and Schema.
type Backend interface {
	Store
	Schema
}

var _ Backend = (*netbox.Client)(nil)
