package driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// The labels hooks' queue. Each hook is a process of its own; 100 VMs created at once
// are 100 hooks, and each alone would ask oned for the network and NetBox for the
// addresses, then write: three NetBox requests per lease besides the lease's own POST,
// on the NetBox that get_address is waiting for. So a hook puts its VM in a spool
// directory and one of them, the drainer (a file lock), records all that are there in
// one go (RecordMany), again until the spool is empty: while it works the next hooks
// queue up, and a burst of VMs costs a few bulk requests instead of hundreds.
//
// No VM is left behind: a hook writes its file before it tries the lock, and the
// drainer looks at the spool again after letting the lock go; a file written after
// that look belongs to a hook that finds the lock free. A batch that fails is dropped
// all the same (the hook exits non-zero, the log says why): `netbox-ipam sync` catches
// up on its leases, as it does for a hook that never ran.

// spoolAndDrain queues vm and records the spool if no other hook is doing it.
func (d *Driver) spoolAndDrain(ctx context.Context, vm mapping.VM) (HookResponse, error) {
	if err := d.enqueue(vm); err != nil {
		return HookResponse{VM: vm.ID}, err
	}
	return d.Drain(ctx)
}

// enqueue writes vm into the spool (a temporary name, then a rename: a drainer never
// reads half a file).
func (d *Driver) enqueue(vm mapping.VM) error {
	if err := os.MkdirAll(d.spool, 0o700); err != nil {
		return fmt.Errorf("hooks' spool: %w", err)
	}
	b, err := json.Marshal(vm)
	if err != nil {
		return err
	}
	name := strconv.FormatInt(time.Now().UnixNano(), 10) + "-" + vm.ID
	tmp := filepath.Join(d.spool, "."+name)
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("hooks' spool: %w", err)
	}
	return os.Rename(tmp, filepath.Join(d.spool, name+".json"))
}

// Drain records the spooled VMs, batch after batch, unless another process already
// does: then it returns at once (that one will see this process's VM).
func (d *Driver) Drain(ctx context.Context) (HookResponse, error) {
	var out HookResponse
	for {
		busy, cancel := context.WithCancel(ctx)
		cancel() // one try, no waiting
		unlock, err := d.lock(busy, d.drainLock())
		if errors.Is(err, context.Canceled) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("hooks' spool lock: %w", err)
		}
		err = d.drainBatches(ctx, &out)
		unlock()
		if err != nil {
			return out, err
		}
		if files, _ := d.spooled(); len(files) == 0 {
			return out, nil
		}
	}
}

// drainLock names the drainer's lock after its spool (one per driver name).
func (d *Driver) drainLock() string {
	return "drain" + strings.NewReplacer("/", "_", ".", "_").Replace(d.spool)
}

// drainBatches records the spool's VMs until it is empty (the newest file of a VM
// wins) and removes their files.
func (d *Driver) drainBatches(ctx context.Context, out *HookResponse) error {
	c := d.begin("") // one call: each network's AR is asked for once per drain
	for {
		files, err := d.spooled()
		if err != nil || len(files) == 0 {
			return err
		}
		latest := map[string]mapping.VM{}
		for _, f := range files {
			var vm mapping.VM
			if b, err := os.ReadFile(f); err == nil && json.Unmarshal(b, &vm) == nil && vm.ID != "" {
				latest[vm.ID] = vm
			}
		}
		vms := make([]mapping.VM, 0, len(latest))
		for _, vm := range latest {
			vms = append(vms, vm)
		}
		sort.Slice(vms, func(i, j int) bool { return vms[i].ID < vms[j].ID })
		resp, err := c.recordMany(ctx, vms)
		for _, f := range files {
			os.Remove(f)
		}
		out.Changes = append(out.Changes, resp.Changes...)
		out.VM = joinNonEmpty(out.VM, resp.VM)
		if err != nil {
			return err
		}
	}
}

// spooled lists the spool's files, oldest first.
func (d *Driver) spooled() ([]string, error) {
	files, err := filepath.Glob(filepath.Join(d.spool, "*.json"))
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
