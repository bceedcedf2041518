package driver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// The hooks' state on the front-end: the spool and the locks (package hooks), in
// state_dir ($ONE_LOCATION/var/netbox-ipam, or /var/lib/one/netbox-ipam). Whoever can
// write there can queue labels the driver writes with its token, or hold the drain
// lock and stop all labelling; a predictable folder in the shared /tmp could be made
// first by any local user. So the driver makes its folders 0700 and refuses, with one
// line, a folder or file that is a symlink, belongs to another user, or that others
// can write.

// ownDir makes dir with mode 0700 when it is missing (its parent must exist) and
// checks that it is the driver's own.
func (d *Driver) ownDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return unsafef(dir, "cannot make it (%v)", errors.Unwrap(err))
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return unsafef(dir, "%v", err)
	}
	if !fi.IsDir() && fi.Mode()&fs.ModeSymlink == 0 {
		return unsafef(dir, "it is not a folder")
	}
	return d.checkOwn(dir, fi)
}

// StateReady makes the state folder when it is missing and checks that it is the
// driver's own: every hook and every sync that keeps NetBox VMs asks first, so that
// nothing reaches NetBox from a front-end whose state someone else could have
// written.
func (d *Driver) StateReady() error { return d.ownDir(d.cfg.StateDir) }

// StateFolder makes the driver's state folder and sub, one of its folders, and returns
// sub's path.
func (d *Driver) StateFolder(sub string) (string, error) {
	if err := d.ownDir(d.cfg.StateDir); err != nil {
		return "", err
	}
	dir := filepath.Join(d.cfg.StateDir, sub)
	return dir, d.ownDir(dir)
}

// OpenOwn opens a file of the state folder without following a symlink, and checks
// that it is the driver's own.
func (d *Driver) OpenOwn(path string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW, perm)
	if errors.Is(err, syscall.ELOOP) {
		return nil, unsafef(path, "it is a symlink")
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		err = d.checkOwn(path, fi)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// checkOwn refuses a symlink, another user's file or folder, or one others can write.
func (d *Driver) checkOwn(path string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return unsafef(path, "it is a symlink")
	case !ok:
		return unsafef(path, "cannot tell its owner")
	case int(st.Uid) != d.uid:
		return unsafef(path, "it belongs to uid %d, not to uid %d running the driver", st.Uid, d.uid)
	case fi.Mode().Perm()&0o022 != 0:
		return unsafef(path, "others can write it (mode %04o)", fi.Mode().Perm())
	}
	return nil
}

// unsafef is the one line a refused state path gives.
func unsafef(path, format string, a ...any) error {
	return &Error{Kind: Setup, Msg: fmt.Sprintf("hooks' state %s: %s; refusing it (whoever can write there can forge the labels the driver writes, or stop them): "+
		"make it the driver user's own with mode 0700, or set state_dir", path, fmt.Sprintf(format, a...))}
}
