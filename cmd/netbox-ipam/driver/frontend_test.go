package driver

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
)

// Sync acts only as a oneadmin-group user (oned shows others part of the leases) on
// the RAFT leader or a solo oned; followers and candidates do nothing.
func TestSyncGate(t *testing.T) {
	admin := opennebula.User{Name: "alice", Admin: true}
	for _, tc := range []struct {
		name     string
		user     opennebula.User
		state    int
		wantSkip string
		wantErr  string
	}{
		{"oneadmin, solo", admin, opennebula.RaftSolo, "", ""},
		{"oneadmin, leader", admin, opennebula.RaftLeader, "", ""},
		{"follower does nothing", admin, opennebula.RaftFollower, "RAFT follower", ""},
		{"candidate does nothing", admin, 1, "election", ""},
		{"users group refused", opennebula.User{Name: "alice"}, opennebula.RaftSolo, "", "user alice is not in the oneadmin group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			one := onetest.New()
			one.User, one.Raft = tc.user, tc.state
			skip, err := New(config.Config{}, nil, one, io.Discard).syncGate(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || (tc.wantSkip == "") != (skip == "") || !strings.Contains(skip, tc.wantSkip) {
				t.Fatalf("skip %q err %v, want skip %q", skip, err, tc.wantSkip)
			}
		})
	}
}
