package driver

import (
	"context"
	"fmt"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
)

// What sync asks the OpenNebula front-end before it changes NetBox from oned's view of
// the networks: who is asking (oned shows a user only what it may manage, so
// everything else would look like orphans), and, in an HA front-end, whether this oned
// leads (every front-end runs the same cron line; only the leader's view is current).

// ViewGate asks the front-end what audit and sync need to know when they read the
// networks from oned (--all, no files): a run that acts goes through syncGate (skip
// says why it does nothing); one that only reports is warned that a user outside the
// oneadmin group sees part of the networks.
func (d *Driver) ViewGate(ctx context.Context, acting bool) (skip string, err error) {
	if acting {
		return d.syncGate(ctx)
	}
	if u, err := d.oned.Self(ctx); err == nil && !u.Admin {
		fmt.Fprintf(d.info, "netbox-ipam: OpenNebula user %s is not in the oneadmin group: oned shows it only the networks it may manage, so this view is partial\n", u.Name)
	}
	return "", nil
}

// syncGate decides whether sync may act on the view oned gives: "" when it may, a
// reason to do nothing (exit 0) on an HA follower, an error for a user outside the
// oneadmin group.
func (d *Driver) syncGate(ctx context.Context) (string, error) {
	u, err := d.oned.Self(ctx)
	if err != nil {
		return "", err
	}
	if !u.Admin {
		return "", refusedf("sync refused: OpenNebula user %s is not in the oneadmin group, and oned shows it only the leases it may manage, so sync would take the others for orphans; run it as oneadmin", u.Name)
	}
	return d.leaderOnly(ctx, "sync acts")
}

// Gate is HookGate's answer: why this front-end's hooks must do nothing ("" when
// they act), and whether because it follows, which lasts; otherwise an election is
// under way, after which this server may lead.
type Gate struct {
	Skip     string
	Follower bool
}

// HookGate says whether this front-end runs the hooks: they act on the leader or a
// solo oned only. A follower's onehem-server runs the API hooks of the calls it
// forwarded to the leader (RESULT 1, OUT and EXTRA empty: RequestGRPC::execute) while
// the leader's runs them with the VM's id; the hooks' locks and spool are per server,
// so only the leader's may act.
func (d *Driver) HookGate(ctx context.Context) (Gate, error) {
	state, err := d.oned.RaftState(ctx)
	if err != nil {
		return Gate{}, err
	}
	return Gate{Skip: leaderOnlyReason(state, "the hooks act"), Follower: state == opennebula.RaftFollower}, nil
}

// leaderOnly is "" when the local oned leads (or is solo), else a reason for who to
// do nothing (exit 0).
func (d *Driver) leaderOnly(ctx context.Context, who string) (string, error) {
	state, err := d.oned.RaftState(ctx)
	if err != nil {
		return "", err
	}
	return leaderOnlyReason(state, who), nil
}

// leaderOnlyReason is leaderOnly's answer for RAFT state state.
func leaderOnlyReason(state int, who string) string {
	switch state {
	case opennebula.RaftSolo, opennebula.RaftLeader:
		return ""
	case opennebula.RaftFollower:
		return "this front-end is a RAFT follower: " + who + " on the leader only (nothing done)"
	default:
		return fmt.Sprintf("this front-end's RAFT state is %d (an election is under way): %s on the leader only (nothing done)", state, who)
	}
}
