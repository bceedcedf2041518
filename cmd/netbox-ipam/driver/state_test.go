package driver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula/onetest"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// The hooks' state folder and files must be the driver's own: each row spoils them one
// way, and a hook (labels: the spool; vms.enabled: the VM's lock) refuses with one line
// and writes nothing to NetBox. When the state folder itself is spoiled, a virtual
// router's hook and a sync that keeps NetBox VMs refuse too, before any write.
func TestStateFolderRefused(t *testing.T) {
	cases := []struct {
		name  string
		vms   bool
		spoil func(t *testing.T, f *fixture)
		want  string
	}{
		{"another user's state folder", false, func(t *testing.T, f *fixture) { f.d.uid = os.Getuid() + 1 }, "belongs to uid"},
		{"a state folder others can write", false, func(t *testing.T, f *fixture) { chmod(t, f.d.cfg.StateDir, 0o777) }, "others can write it (mode 0777)"},
		{"a state folder that is a symlink", false, func(t *testing.T, f *fixture) {
			real := t.TempDir()
			link := filepath.Join(t.TempDir(), "state")
			if err := os.Symlink(real, link); err != nil {
				t.Fatal(err)
			}
			f.d.cfg.StateDir, f.d.spool = link, filepath.Join(link, "spool-netbox")
		}, "it is a symlink"},
		{"a spool folder others made first", false, func(t *testing.T, f *fixture) { mkdir(t, f.d.spool, 0o777) }, "spool-netbox: others can write it"},
		{"a spool folder that is a symlink", false, func(t *testing.T, f *fixture) {
			if err := os.Symlink(t.TempDir(), f.d.spool); err != nil {
				t.Fatal(err)
			}
		}, "spool-netbox: it is a symlink"},
		{"a spool file that is a symlink", false, func(t *testing.T, f *fixture) {
			mkdir(t, f.d.spool, 0o700)
			if err := os.Symlink("/etc/passwd", filepath.Join(f.d.spool, "1-41.json")); err != nil {
				t.Fatal(err)
			}
		}, "1-41.json: it is a symlink"},
		{"a locks folder others can write (vms.enabled)", true, func(t *testing.T, f *fixture) {
			mkdir(t, filepath.Join(f.d.cfg.StateDir, "locks"), 0o777)
		}, "locks: others can write it"},
		{"a lock file that is a symlink (vms.enabled)", true, func(t *testing.T, f *fixture) {
			mkdir(t, filepath.Join(f.d.cfg.StateDir, "locks"), 0o700)
			if err := os.Symlink("/etc/passwd", filepath.Join(f.d.cfg.StateDir, "locks", "vm-netbox-42.lock")); err != nil {
				t.Fatal(err)
			}
		}, "vm-netbox-42.lock: it is a symlink"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, ar := registered(t, nil)
			f.d.cfg.VMs.Enabled = tc.vms
			if _, err := f.d.GetAddress(context.Background(), request(ar, "SIZE=1")); err != nil {
				t.Fatal(err)
			}
			f.setVNet(onetest.VNetXML(ar))
			tc.spoil(t, f)
			f.nb.Calls = nil
			_, err := f.hook(context.Background(), mapping.VM{ID: "42", Name: "web", NICs: []mapping.NIC{{ID: "0", NetworkID: "7", ARID: "0", IP: "10.70.0.10"}}})
			if kindOf(err) != "setup" || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "set state_dir") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("hook: %v (%s), want a refusal saying %q", err, kindOf(err), tc.want)
			}
			if f.nb.Requests() != 0 {
				t.Errorf("NetBox written with unsafe state: %v", f.nb.Calls)
			}
			if !strings.Contains(tc.name, "state folder") {
				return
			}
			f.oned.SetVRouter(mapping.VRouter{ID: "5", Name: "gw", NICs: []mapping.NIC{{ID: "0", NetworkID: "7", ARID: "0", IP: "10.70.0.10"}}})
			info, _ := mapping.ParseCallInfo([]byte(`<CALL_INFO><RESULT>1</RESULT><PARAMETERS><PARAMETER><POSITION>2</POSITION><TYPE>IN</TYPE><VALUE>5</VALUE></PARAMETER></PARAMETERS><EXTRA/></CALL_INFO>`))
			if _, err := f.d.HookCall(context.Background(), "one.vrouter.instantiate", info); kindOf(err) != "setup" {
				t.Errorf("router hook: %v, want a refusal", err)
			}
			if err := f.d.StateReady(); kindOf(err) != "setup" { // what sync with vms.enabled asks first
				t.Errorf("state ready: %v, want a refusal", err)
			}
			if f.nb.Requests() != 0 {
				t.Errorf("NetBox written with unsafe state: %v", f.nb.Calls)
			}
		})
	}
}

// A state folder that does not exist yet is made, mode 0700, by the first hook.
func TestStateFolderMade(t *testing.T) {
	f, ar := registered(t, nil)
	f.d.cfg.StateDir = filepath.Join(t.TempDir(), "netbox-ipam")
	f.d.spool = filepath.Join(f.d.cfg.StateDir, "spool-netbox")
	f.setVNet(onetest.VNetXML(ar))
	if _, err := f.hook(context.Background(), mapping.VM{ID: "42"}); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{f.d.cfg.StateDir, f.d.spool, filepath.Join(f.d.cfg.StateDir, "locks")} {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v, want a folder of mode 0700", dir, fi, err)
		}
	}
}

// check reads the files holding the token and the state folder.
func TestCheckFiles(t *testing.T) {
	cases := []struct {
		name            string
		mode            os.FileMode
		spoil           func(t *testing.T, f *fixture)
		wantOK          bool
		wantWord, wantM string
	}{
		{"0640", 0o640, nil, true, "ok   config file", "(mode 0640)"},
		{"0644: readable by all", 0o644, nil, true, "WARN config file", "can be read by every user (mode 0644) and holds the NetBox token"},
		{"0666: writable by all", 0o666, nil, false, "FAIL config file", "can be written by others"},
		{"state folder of another user", 0o640, func(t *testing.T, f *fixture) { f.d.uid = os.Getuid() + 1 }, false, "FAIL state folder", "belongs to uid"},
		{"state folder whose parent is missing", 0o640, func(t *testing.T, f *fixture) { f.d.cfg.StateDir = filepath.Join(t.TempDir(), "x", "y") }, true, "WARN state folder", "the hooks would fail here"},
		{"state folder not made yet", 0o640, func(t *testing.T, f *fixture) { f.d.cfg.StateDir = filepath.Join(t.TempDir(), "x") }, true, "ok   state folder", "made, mode 0700, by the first hook"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.d.cfg.File = filepath.Join(t.TempDir(), "netbox-ipam.yaml")
			if err := os.WriteFile(f.d.cfg.File, []byte("token: x\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			chmod(t, f.d.cfg.File, tc.mode)
			if tc.spoil != nil {
				tc.spoil(t, f)
			}
			r := f.d.Check(context.Background())
			found := false
			for _, l := range r.Lines {
				found = found || (strings.TrimSpace(l.Word+"    "[len(l.Word):]+" "+l.Item) == tc.wantWord && strings.Contains(l.Msg, tc.wantM))
			}
			if r.OK != tc.wantOK || !found {
				t.Fatalf("ok %v, lines %+v; want ok %v and %s %q", r.OK, r.Lines, tc.wantOK, tc.wantWord, tc.wantM)
			}
		})
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
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
		if _, err := f.d.Hook(context.Background(), id); kindOf(err) != "input" {
			t.Errorf("VM %q: %v", id, err)
		}
	}
	if entries, _ := os.ReadDir(f.d.cfg.StateDir); len(entries) != 0 {
		t.Errorf("state folder holds %v", entries)
	}
}
