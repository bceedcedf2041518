package driver

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// What sync asks the OpenNebula front-end before it changes NetBox from oned's view of
// the networks: who is asking (onevnet shows a user only what it may manage, so
// everything else would look like orphans), and, in an HA front-end, whether this oned
// leads (every front-end runs the same cron line; only the leader's view is current).

// OneCLI runs an OpenNebula command of the front-end (onevnet, oneuser) and returns
// its stdout.
type OneCLI func(ctx context.Context, name string, args ...string) ([]byte, error)

// execCLI is the real OneCLI: the command on the PATH, under the call's context.
func execCLI(ctx context.Context, name string, args ...string) ([]byte, error) {
	if _, err := exec.LookPath(name); err != nil {
		return nil, &mapping.InputError{Msg: name + " is not on the PATH (run this on the front-end as oneadmin), or give `onevnet show -x` output as files"}
	}
	var errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return nil, openNebulaf("%s %s: %v: %s", name, strings.Join(args, " "), err, mapping.OneLine(errb.String()))
	}
	return out, nil
}

// oneWithTemplate runs an OpenNebula command that takes a template as a file (the
// CLI's way): name, args and then a temporary file holding text.
func (d *Driver) oneWithTemplate(ctx context.Context, text, name string, args ...string) error {
	f, err := os.CreateTemp("", "netbox-ipam-template-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	_, err = d.one(ctx, name, append(args, f.Name())...)
	return err
}

// oneadminGroup is OpenNebula's group 0.
const oneadminGroup = "0"

// caller is the OpenNebula user running the command: name and whether it is in the
// oneadmin group.
func (d *Driver) caller(ctx context.Context) (name string, admin bool, err error) {
	out, err := d.one(ctx, "oneuser", "show", "-x")
	if err != nil {
		return "", false, err
	}
	var u struct {
		Name   string   `xml:"NAME"`
		GID    string   `xml:"GID"`
		Groups []string `xml:"GROUPS>ID"`
	}
	if err := xml.Unmarshal(out, &u); err != nil {
		return "", false, openNebulaf("oneuser show -x: %v", err)
	}
	admin = u.GID == oneadminGroup
	for _, g := range u.Groups {
		admin = admin || g == oneadminGroup
	}
	return u.Name, admin, nil
}

// RAFT states of one.zone.raftstatus (RaftManager.h).
const (
	raftSolo     = 0
	raftLeader   = 3
	raftFollower = 2
)

// raftState asks the local oned for its RAFT state; no CLI command shows the local
// server's own.
func raftState(ctx context.Context, getenv func(string) string) (int, error) {
	doc, err := oneRPC(ctx, getenv, "one.zone.raftstatus")
	if err != nil {
		return 0, err
	}
	return raftStateOf(doc)
}

// raftStateOf reads the STATE of a <RAFT> document.
func raftStateOf(doc []byte) (int, error) {
	var raft struct {
		State *int `xml:"STATE"`
	}
	if err := xml.Unmarshal(doc, &raft); err != nil || raft.State == nil {
		return 0, openNebulaf("oned's RAFT status has no STATE")
	}
	return *raft.State, nil
}

// frontEndGate asks the front-end what audit and sync need to know when they read the
// networks through onevnet (--all, no files): sync goes through syncGate (skip says
// why it does nothing); audit only warns that a user outside the oneadmin group sees
// part of the networks.
func (d *Driver) frontEndGate(ctx context.Context, o AuditOptions, getenv func(string) string) (skip string, err error) {
	if !o.All || len(o.Files) > 0 {
		return "", nil
	}
	if o.Sync && !o.DryRun {
		return d.syncGate(ctx, getenv)
	}
	if who, admin, err := d.caller(ctx); err == nil && !admin {
		fmt.Fprintf(d.info, "netbox-ipam: OpenNebula user %s is not in the oneadmin group: onevnet shows it only what it may manage, so this view is partial\n", who)
	}
	return "", nil
}

// syncGate decides whether sync may act on the view onevnet gives: "" when it may, a
// reason to do nothing (exit 0) on an HA follower, an error for a user outside the
// oneadmin group.
func (d *Driver) syncGate(ctx context.Context, getenv func(string) string) (string, error) {
	name, admin, err := d.caller(ctx)
	if err != nil {
		return "", err
	}
	if !admin {
		return "", refusedf("sync refused: OpenNebula user %s is not in the oneadmin group, and onevnet shows it only the leases it may manage, so sync would take the others for orphans; run it as oneadmin", name)
	}
	return leaderOnly(ctx, getenv, "sync acts")
}

// HookGate says whether this front-end runs the hooks: "" on the leader or a solo
// oned, else why not. A follower's onehem-server runs the API hooks of the calls it
// forwarded to the leader (RESULT 1, OUT and EXTRA empty: RequestGRPC::execute) while
// the leader's runs them with the VM's id; the hooks' locks and spool are per server,
// so only the leader's may act.
func (d *Driver) HookGate(ctx context.Context, getenv func(string) string) (string, error) {
	return leaderOnly(ctx, getenv, "the hooks act")
}

// leaderOnly is "" when the local oned leads (or is solo), else a reason for who to
// do nothing (exit 0).
func leaderOnly(ctx context.Context, getenv func(string) string, who string) (string, error) {
	state, err := raftState(ctx, getenv)
	if err != nil {
		return "", err
	}
	switch state {
	case raftSolo, raftLeader:
		return "", nil
	case raftFollower:
		return "this front-end is a RAFT follower: " + who + " on the leader only (nothing done)", nil
	default:
		return fmt.Sprintf("this front-end's RAFT state is %d (an election is under way): %s on the leader only (nothing done)", state, who), nil
	}
}
