package hooks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Hooks of one VM run at the same time: onehem-server starts RUNNING's state hook
// while allocate's API hook still works, and nic-attach brings both an API hook and
// RUNNING again. Each reads NetBox, then creates what it did not find; without a lock
// both would create the VM (or the cluster, for two new VMs of one cluster). All hooks
// run on the front-end that leads (onehem-server runs them locally), so a file lock
// there is enough.

// Locker takes an exclusive lock named key and returns its release.
type Locker func(ctx context.Context, key string) (func(), error)

// fileLock is the front-end's Locker: flock on a file per key in the locks folder of
// the driver's state (driver.Driver.StateFolder), polled until ctx ends.
func (h *Hooks) fileLock(ctx context.Context, key string) (func(), error) {
	dir, err := h.d.StateFolder("locks")
	if err != nil {
		return nil, err
	}
	f, err := h.d.OpenOwn(filepath.Join(dir, key+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
