// Package opennebula is the driver's one way to OpenNebula's front-end, the way
// netbox/ is its way to NetBox: a typed Client over oned's objects (VMs, networks and
// their pool, clusters, virtual routers, the calling user, the RAFT state, hooks, an
// AR's update), with oned's XML-RPC API (RPC) and OpenNebula's CLI (CLI) behind it,
// and a fake that behaves as oned does (onetest). Every document oned answers is
// parsed here or in mapping, nowhere else.
package opennebula

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// Client is what the driver asks of OpenNebula. Ids are oned's object ids as they
// appear in its documents ("42"); any other id is a *mapping.InputError (CheckID).
type Client interface {
	// VM is the VM as oned holds it now (one.vm.info, `onevm show -x`).
	VM(ctx context.Context, id string) (mapping.VM, error)
	// VMs are those of VMs ids that oned holds now and has not terminated, in no
	// given order: a purged or DONE VM is not among them. Over XML-RPC it is one
	// one.vmpool.infoextended per run of nearby ids, whose documents hold the VM's
	// template as one.vm.info's do (NICs, aliases, PCI devices), with only the last
	// history record; through the CLI, which lists no range, one `onevm show -x` each.
	VMs(ctx context.Context, ids []string) ([]mapping.VM, error)
	// VNet is the network with its ARs and their leases (one.vn.info).
	VNet(ctx context.Context, id string) (mapping.VNet, error)
	// VNetIDs lists every network the caller may see (one.vnpool.info, all).
	VNetIDs(ctx context.Context) ([]string, error)
	// ClusterName is an OpenNebula cluster's name (one.cluster.info).
	ClusterName(ctx context.Context, id string) (string, error)
	// VRouter is the virtual router with its NICs and VMs (one.vrouter.info).
	VRouter(ctx context.Context, id string) (mapping.VRouter, error)
	// Self is the user the client authenticates as (one.user.info -1).
	Self(ctx context.Context) (User, error)
	// RaftState is the local oned's RAFT state (one.zone.raftstatus): RaftSolo,
	// RaftLeader, RaftFollower, or another state during an election.
	RaftState(ctx context.Context) (int, error)
	// Hooks lists every hook oned holds (one.hookpool.info).
	Hooks(ctx context.Context) ([]Hook, error)
	// CreateHook, UpdateHook and DeleteHook change oned's hooks; a template is the
	// text `onehook create` reads. UpdateHook replaces the hook's template.
	CreateHook(ctx context.Context, template string) error
	UpdateHook(ctx context.Context, id, template string) error
	DeleteHook(ctx context.Context, id string) error
	// UpdateAR replaces the attributes of AR arID of network vnet with attrs (oned's
	// AddressRange::update_attributes: it keeps TYPE, IP, MAC and AR_ID whatever attrs
	// say, and refuses a SIZE that would leave a lease outside the AR).
	UpdateAR(ctx context.Context, vnet, arID string, attrs mapping.Attrs) error
	// Requests is how many requests (XML-RPC calls, commands) the client has sent, for
	// the driver's log and audit's report.
	Requests() int
}

// User is who a client acts as: its name and whether it is in the oneadmin group
// (primary or secondary), which sees every network.
type User struct {
	Name  string
	Admin bool
}

// Hook is one of oned's hooks, with what the driver compares of its template.
type Hook struct {
	ID      string `xml:"ID"`
	Name    string `xml:"NAME"`
	Command string `xml:"TEMPLATE>COMMAND"`
	Timeout string `xml:"TEMPLATE>TIMEOUT"`
}

// RAFT states of one.zone.raftstatus (RaftManager.h).
const (
	RaftSolo     = 0
	RaftFollower = 2
	RaftLeader   = 3
)

// OneadminGroup is OpenNebula's group 0.
const OneadminGroup = "0"

// Error is a failure of OpenNebula or of reaching it: oned refused the call, its
// answer could not be read, the CLI failed.
type Error struct {
	Msg string
	// Gone: oned answered that the object does not exist (NO_EXISTS over XML-RPC,
	// "Error getting …" from the CLI): a VM purged, a network deleted.
	Gone bool
}

func (e *Error) Error() string { return e.Msg }

func errorf(format string, a ...any) error { return &Error{Msg: fmt.Sprintf(format, a...)} }

// IsGone reports whether err says the object asked for does not exist.
func IsGone(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Gone
}

// CheckID refuses an id that is not one oned writes: a number, no sign, no leading
// zero ("05" would name VM 5 to oned but another lock and spool file to the driver).
// Hooks check the id of their argument with it before anything reaches the disk.
func CheckID(kind, id string) error {
	_, err := objectID(kind, id)
	return err
}

// objectID is id as oned's API takes it (CheckID).
func objectID(kind, id string) (int, error) {
	n, err := strconv.Atoi(id)
	if err != nil || n < 0 || strconv.Itoa(n) != id {
		return 0, &mapping.InputError{Msg: fmt.Sprintf("%q is not an OpenNebula %s id (a number)", id, kind)}
	}
	return n, nil
}
