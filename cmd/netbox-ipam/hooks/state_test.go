package hooks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// The hooks' state folder and files must be the driver's own: each row spoils them one
// way, and a hook (labels: the spool; vms.enabled: the VM's lock) refuses with one line
// and writes nothing to NetBox. When the state folder itself is spoiled, a virtual
// router's hook refuses too, before any write. (Another user's state folder: the
// driver's TestStateReadyRefused, which every hook asks first.)
func TestStateFolderRefused(t *testing.T) {
	cases := []struct {
		name  string
		vms   bool
		spoil func(t *testing.T, f *fixture)
		want  string
	}{
		{"a state folder others can write", false, func(t *testing.T, f *fixture) { chmod(t, f.Cfg.StateDir, 0o777) }, "others can write it (mode 0777)"},
		{"a state folder that is a symlink", false, func(t *testing.T, f *fixture) {
			real := t.TempDir()
			if err := os.Remove(f.Cfg.StateDir); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(real, f.Cfg.StateDir); err != nil {
				t.Fatal(err)
			}
		}, "it is a symlink"},
		{"a spool folder others made first", false, func(t *testing.T, f *fixture) { mkdir(t, f.h.spool, 0o777) }, "spool-netbox: others can write it"},
		{"a spool folder that is a symlink", false, func(t *testing.T, f *fixture) {
			if err := os.Symlink(t.TempDir(), f.h.spool); err != nil {
				t.Fatal(err)
			}
		}, "spool-netbox: it is a symlink"},
		{"a spool file that is a symlink", false, func(t *testing.T, f *fixture) {
			mkdir(t, f.h.spool, 0o700)
			if err := os.Symlink("/etc/passwd", filepath.Join(f.h.spool, "1-41.json")); err != nil {
				t.Fatal(err)
			}
		}, "1-41.json: it is a symlink"},
		{"a locks folder others can write (vms.enabled)", true, func(t *testing.T, f *fixture) {
			mkdir(t, filepath.Join(f.Cfg.StateDir, "locks"), 0o777)
		}, "locks: others can write it"},
		{"a lock file that is a symlink (vms.enabled)", true, func(t *testing.T, f *fixture) {
			mkdir(t, filepath.Join(f.Cfg.StateDir, "locks"), 0o700)
			if err := os.Symlink("/etc/passwd", filepath.Join(f.Cfg.StateDir, "locks", "vm-netbox-42.lock")); err != nil {
				t.Fatal(err)
			}
		}, "vm-netbox-42.lock: it is a symlink"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var configure []func(*config.Config)
			if tc.vms {
				configure = append(configure, vmsOn)
			}
			f, ar := registered(t, configure...)
			if _, err := f.D.GetAddress(context.Background(), request(ar, "SIZE=1")); err != nil {
				t.Fatal(err)
			}
			f.SetVNet(onetest.VNetXML(ar))
			tc.spoil(t, f)
			f.NB.Calls = nil
			_, err := f.hook(context.Background(), mapping.VM{ID: "42", Name: "web", NICs: []mapping.NIC{{ID: "0", NetworkID: "7", ARID: "0", IP: "10.70.0.10"}}})
			if kindOf(err) != "setup" || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "set state_dir") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("hook: %v (%s), want a refusal saying %q", err, kindOf(err), tc.want)
			}
			if f.NB.Requests() != 0 {
				t.Errorf("NetBox written with unsafe state: %v", f.NB.Calls)
			}
			if !strings.Contains(tc.name, "state folder") {
				return
			}
			f.Oned.SetVRouter(mapping.VRouter{ID: "5", Name: "gw", NICs: []mapping.NIC{{ID: "0", NetworkID: "7", ARID: "0", IP: "10.70.0.10"}}})
			info, _ := mapping.ParseCallInfo([]byte(`<CALL_INFO><RESULT>1</RESULT><PARAMETERS><PARAMETER><POSITION>2</POSITION><TYPE>IN</TYPE><VALUE>5</VALUE></PARAMETER></PARAMETERS><EXTRA/></CALL_INFO>`))
			if _, err := f.h.HookCall(context.Background(), "one.vrouter.instantiate", info); kindOf(err) != "setup" {
				t.Errorf("router hook: %v, want a refusal", err)
			}
			if f.NB.Requests() != 0 {
				t.Errorf("NetBox written with unsafe state: %v", f.NB.Calls)
			}
		})
	}
}

// A state folder that does not exist yet is made, mode 0700, by the first hook.
func TestStateFolderMade(t *testing.T) {
	state := filepath.Join(t.TempDir(), "netbox-ipam")
	f, ar := registered(t, func(c *config.Config) { c.StateDir = state })
	f.SetVNet(onetest.VNetXML(ar))
	if _, err := f.hook(context.Background(), mapping.VM{ID: "42"}); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{f.h.cfg.StateDir, f.h.spool, filepath.Join(f.Cfg.StateDir, "locks")} {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v, want a folder of mode 0700", dir, fi, err)
		}
	}
}

func mkdir(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(path, mode); err != nil {
		t.Fatal(err)
	}
	chmod(t, path, mode) // past the umask
}

// A hook's VM id names its spool file and its lock: one oned would never write is
// refused before anything reaches the state folder.
func TestHookRefusesOddIDs(t *testing.T) {
	f := newFixture(t)
	for _, id := range []string{"../x", "05", "4 2", ""} {
		if _, err := f.h.Hook(context.Background(), id); kindOf(err) != "input" {
			t.Errorf("VM %q: %v", id, err)
		}
	}
	if entries, _ := os.ReadDir(f.Cfg.StateDir); len(entries) != 0 {
		t.Errorf("state folder holds %v", entries)
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
