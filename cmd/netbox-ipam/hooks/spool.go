package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// The labels hooks' queue. Each hook is a process of its own; 100 VMs created at once
// are 100 hooks, and each alone would ask oned for the network and NetBox for the
// addresses, then write: three NetBox requests per lease besides the lease's own POST,
// on the NetBox that get_address is waiting for. So a hook puts its VM in a spool
// directory and one of them, the drainer (a file lock), records all that are there in
// one go (recordMany), again until the spool is empty: while it works the next hooks
// queue up, and a burst of VMs costs a few bulk requests instead of hundreds.
//
// A spool file holds a VM's id, never its document: the drainer reads the batch's VMs
// from oned when it records them (the second look), so what it writes is what oned holds
// then, however old the event (a hook retried days later, a spool left by a drainer
// that was killed).
//
// A burst of VMs is recorded in a few batches, not one per drainer's turn: the drainer
// waits, before each batch, until the spool has been quiet for batchQuiet or its
// oldest VM has waited batchMost (gather). NetBox's cost is mostly per request (about
// 30 ms of its CPU for the smallest GET or PATCH on the project's machine, and 13 ms
// per object in a bulk PATCH), and every one made during a burst delays the next
// lease, which oned asks for one at a time: in batches of one or two VMs, 100 VMs made
// 77-121 requests; in batches of a second's VMs, 15-21. batchMost bounds what a label
// waits for this.
//
// Only a front-end whose oned leads (or is solo) writes: the drainer asks before each
// batch (driver.Driver.HookGate). On a follower it drops the spool: what a follower
// queues comes from calls it forwarded, whose leader's hooks label the VMs, and a VM
// queued before this server stopped leading is left to `netbox-ipam sync`. During an
// election it leaves the spool to the next drain, which may lead. A hook that only
// queues its VM asks oned nothing, so a burst of VMs costs oned one RAFT state read
// per batch, not one per hook.
//
// No VM is left behind by a drain that ends well: a hook writes its file before it
// tries the lock, and the drainer looks at the spool again after letting the lock go;
// a file written after that look belongs to a hook that finds the lock free. A VM that
// fails (its network deleted since, oned failing) is left out of its batch and said; a
// batch NetBox fails is dropped all the same, and a drainer out of time leaves the
// spool to the next hook (the hook exits non-zero, the log says why): `netbox-ipam
// sync` catches up on their leases, as it does for a hook that never ran.

// How the drainer gathers a batch (gather).
const (
	batchQuiet = 250 * time.Millisecond // no VM queued for this long: the burst is over
	batchMost  = time.Second            // the oldest queued VM waits no longer (nor the drainer)
	batchPoll  = 50 * time.Millisecond  // how often the spool is looked at meanwhile
)

// spooled is a spool file's content.
type spooled struct {
	ID string `json:"ID"`
}

// spoolAndDrain queues VM id and records the spool if no other hook is doing it.
func (h *Hooks) spoolAndDrain(ctx context.Context, id string) (HookResponse, error) {
	if err := h.enqueue(id); err != nil {
		return HookResponse{VM: id}, err
	}
	return h.Drain(ctx)
}

// enqueue writes VM id into the spool (a temporary name, then a rename: a drainer never
// reads half a file).
func (h *Hooks) enqueue(id string) error {
	if err := h.ownSpool(); err != nil {
		return err
	}
	b, err := json.Marshal(spooled{ID: id})
	if err != nil {
		return err
	}
	name := strconv.FormatInt(h.d.Now().UnixNano(), 10) + "-" + id
	tmp := filepath.Join(h.spool, "."+name)
	f, err := h.d.OpenOwn(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("hooks' spool: %w", err)
	}
	return os.Rename(tmp, filepath.Join(h.spool, name+".json"))
}

// Drain records the spooled VMs, batch after batch, unless another process already
// does: then it returns at once (that one will see this process's VM).
func (h *Hooks) Drain(ctx context.Context) (HookResponse, error) {
	var out HookResponse
	for {
		busy, cancel := context.WithCancel(ctx)
		cancel() // one try, no waiting
		unlock, err := h.lock(busy, h.drainLock())
		if errors.Is(err, context.Canceled) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("hooks' spool lock: %w", err)
		}
		err = h.drainBatches(ctx, &out)
		unlock()
		if out.Skipped != "" { // this front-end does not act: no second look
			return out, err
		}
		if err != nil {
			// Hooks that queued meanwhile found the lock held and left: their files wait
			// for the next hook's drain (or sync).
			return out, err
		}
		if files, _ := h.spoolFiles(); len(files) == 0 {
			return out, nil
		}
	}
}

// drainLock names the drainer's lock after its spool (one per driver name).
func (h *Hooks) drainLock() string {
	return "drain" + strings.NewReplacer("/", "_", ".", "_").Replace(h.spool)
}

// drainBatches records the spool's VMs until it is empty, each as oned holds it now,
// and removes their files. VMs that fail are said at the end, after the batches that
// follow (hooks queue them meanwhile, finding the lock held); a batch NetBox fails
// ends the drain.
func (h *Hooks) drainBatches(ctx context.Context, out *HookResponse) error {
	c := h.Begin() // one call: each network's AR is asked for once per drain
	var failedErr error
	for {
		files, err := h.gather(ctx)
		if err != nil || len(files) == 0 {
			if err == nil {
				err = failedErr
			}
			return err
		}
		g, err := h.gate(ctx)
		if err != nil {
			return err
		}
		if g.Skip != "" {
			out.Skipped = g.Skip
			if g.Follower { // for good: nothing queued here will be written
				return h.unspool(files)
			}
			return nil // an election: the next drain, which may lead, finds them
		}
		queued := map[string]bool{}
		for _, f := range files {
			q, err := h.readSpooled(f)
			if err != nil {
				return err
			}
			if q.ID != "" {
				queued[q.ID] = true
			}
		}
		ids := make([]string, 0, len(queued))
		for id := range queued {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		var failed batchError
		resp, err := c.recordMany(ctx, c.readVMs(ctx, ids, &failed), &failed)
		if rerr := h.unspool(files); err == nil {
			err = rerr
		}
		out.Changes = append(out.Changes, resp.Changes...)
		out.VM = joinNonEmpty(out.VM, strings.Join(ids, " "))
		if err != nil {
			return err
		}
		if ferr := failed.err(len(ids)); ferr != nil && failedErr == nil {
			failedErr = ferr
		}
	}
}

// readVMs reads the batch's VMs from oned as it holds them now, in one read of a range
// of ids rather than a call per VM: a VM purged or terminated since is not among them,
// and has no lease left to record. When that read fails, one VM at a time, so that
// one failing (added to failed) leaves the others be.
func (c *Call) readVMs(ctx context.Context, ids []string, failed *batchError) []mapping.VM {
	vms, err := c.oned.VMs(ctx, ids)
	if err == nil {
		return vms
	}
	vms = nil
	for _, id := range ids {
		vm, err := c.oned.VM(ctx, id)
		switch {
		case opennebula.IsGone(err):
		case err != nil:
			failed.add(id, err)
		case !vm.Done():
			vms = append(vms, vm)
		}
	}
	return vms
}

// unspool removes spool files that were handled (or dropped).
func (h *Hooks) unspool(files []string) error {
	var err error
	for _, f := range files {
		if rerr := os.Remove(f); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = fmt.Errorf("hooks' spool: %w", rerr) // else the same file forever
		}
	}
	return err
}

// gather waits until the spool holds a batch worth writing, and lists its files then:
// its newest VM was queued batchQuiet ago or more (no VM queued since), or its oldest
// batchMost ago or more, or it is empty. It judges the ages by the names' clock
// (enqueue), reading no file, and stops once it waited batchMost in all: a clock
// stepped back, or a name from the future, cannot hold a batch longer. Near the
// drainer's deadline it waits no more, so that what it gathered is written.
func (h *Hooks) gather(ctx context.Context) ([]string, error) {
	var waited time.Duration
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		files, err := h.spoolFiles()
		if err != nil || len(files) == 0 {
			return files, err
		}
		now := h.d.Now()
		oldest, quiet := now.Sub(queuedAt(files[0])), now.Sub(queuedAt(files[len(files)-1]))
		if oldest >= batchMost || quiet >= batchQuiet || waited >= batchMost || nearDeadline(ctx) {
			return files, nil
		}
		d := min(batchMost-max(oldest, 0), batchQuiet-max(quiet, 0), batchPoll)
		if err := h.wait(ctx, d); err != nil {
			return nil, err
		}
		waited += d
	}
}

// nearDeadline says whether ctx ends within twice batchMost: time to write a batch
// rather than gather more.
func nearDeadline(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < 2*batchMost
}

// queuedAt is when a spool file was queued, from its name (enqueue); the zero time,
// which never waits, for a name that does not say.
func queuedAt(path string) time.Time {
	stamp, _, _ := strings.Cut(filepath.Base(path), "-")
	ns, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// sleep is Hooks.wait outside the tests: d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ownSpool makes the spool folder in the state folder and checks both are the
// driver's (driver.Driver.StateFolder).
func (h *Hooks) ownSpool() error {
	_, err := h.d.StateFolder(filepath.Base(h.spool))
	return err
}

// readSpooled reads a spool file, which must be the driver's own; one it cannot read
// or understand (half a file of a crashed hook, say) is an empty entry.
func (h *Hooks) readSpooled(path string) (spooled, error) {
	var q spooled
	f, err := h.d.OpenOwn(path, os.O_RDONLY, 0)
	var ue *driver.Error
	if errors.As(err, &ue) {
		return q, err
	}
	if errors.Is(err, fs.ErrNotExist) {
		return q, nil // gone meanwhile
	}
	if err != nil {
		return q, fmt.Errorf("hooks' spool: %w", err)
	}
	defer f.Close()
	_ = json.NewDecoder(f).Decode(&q)
	return q, nil
}

// spoolFiles lists the spool's files, oldest first.
func (h *Hooks) spoolFiles() ([]string, error) {
	files, err := filepath.Glob(filepath.Join(h.spool, "*.json"))
	sort.Strings(files)
	return files, err
}

func joinNonEmpty(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}
