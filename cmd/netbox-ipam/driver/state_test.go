package driver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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

// StateReady, which every hook and every sync that keeps NetBox VMs asks first, refuses
// with one line a state folder that is not the driver's own (package hooks' tests
// spoil its spool and locks).
func TestStateReadyRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, f *fixture)
		want  string
	}{
		{"another user's", func(t *testing.T, f *fixture) { f.d.uid = os.Getuid() + 1 }, "belongs to uid"},
		{"others can write it", func(t *testing.T, f *fixture) { chmod(t, f.d.cfg.StateDir, 0o777) }, "others can write it (mode 0777)"},
		{"a symlink", func(t *testing.T, f *fixture) {
			link := filepath.Join(t.TempDir(), "state")
			if err := os.Symlink(t.TempDir(), link); err != nil {
				t.Fatal(err)
			}
			f.d.cfg.StateDir = link
		}, "it is a symlink"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.spoil(t, f)
			err := f.d.StateReady()
			if kindOf(err) != "setup" || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "set state_dir") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("%v (%s), want one line refusing it: %q", err, kindOf(err), tc.want)
			}
		})
	}
	if err := newFixture(t).d.StateReady(); err != nil {
		t.Errorf("the test's own state folder: %v", err)
	}
}
