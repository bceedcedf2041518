package mapping

import (
	"fmt"
	"reflect"
	"time"
)

// The second look: sync plans its repairs from a picture of oned (read first, maybe
// minutes before, or from a file) and from NetBox (read after). Before it acts on an
// AR it reads the network from oned again and keeps only the repairs both looks agree
// on. This file is that policy; cmd/netbox-ipam/driver does the reading and acting.

// Recheck keeps of planned (Compare on the picture) the lease repairs that now (Compare
// on the network as oned holds it now, against the same NetBox reads) also asks for,
// and of those deletes only objects NetBox made before settled: an object younger than
// that may belong to an action whose lease oned has not recorded yet. left counts
// what was dropped. planned.RangeSpan is kept: the caller only rechecks an AR whose
// span has not moved.
func Recheck(planned, now Repairs, held []Held, settled time.Time) (kept Repairs, left []string) {
	kept.RangeSpan = planned.RangeSpan
	nowCreate := map[string]LeaseObject{}
	for _, c := range now.Create {
		nowCreate[c.Addr.String()] = c
	}
	for _, c := range planned.Create {
		if n, ok := nowCreate[c.Addr.String()]; ok && n.Description == c.Description && reflect.DeepEqual(n.CustomFields, c.CustomFields) {
			kept.Create = append(kept.Create, c)
		} else {
			left = append(left, fmt.Sprintf("missing %s: oned no longer holds it as it did", c.Addr))
		}
	}
	nowUpdate := map[int]Update{}
	for _, u := range now.Update {
		nowUpdate[u.ID] = u
	}
	for _, u := range planned.Update {
		if n, ok := nowUpdate[u.ID]; ok && n.Description == u.Description && reflect.DeepEqual(n.CustomFields, u.CustomFields) {
			kept.Update = append(kept.Update, u)
		} else {
			left = append(left, fmt.Sprintf("record #%d: its holder changed in oned", u.ID))
		}
	}
	nowDelete := map[int]bool{}
	for _, id := range now.Delete {
		nowDelete[id] = true
	}
	byID := map[int]Held{}
	for _, h := range held {
		byID[h.ID] = h
	}
	for _, id := range planned.Delete {
		h := byID[id]
		switch {
		case !nowDelete[id]:
			left = append(left, fmt.Sprintf("orphan %s (#%d): oned holds it now", h.Addr, id))
		case h.Created.IsZero() || !h.Created.Before(settled):
			left = append(left, fmt.Sprintf("orphan %s (#%d): NetBox made it %s, too recently to tell it from a lease oned is recording", h.Addr, id, created(h.Created)))
		default:
			kept.Delete = append(kept.Delete, id)
		}
	}
	return kept, left
}

func created(t time.Time) string {
	if t.IsZero() {
		return "at an unknown time"
	}
	return "at " + t.UTC().Format(time.RFC3339)
}

// RecheckRestore keeps of planned (what sync would write back into oned's AR, from the
// picture's AR) what the AR as oned holds it now still lacks and nobody changed since
// the picture: an attribute edited meanwhile is someone's edit, left for the next run.
func RecheckRestore(planned, picture, now Attrs) (kept Attrs, left []string) {
	for _, a := range planned {
		switch got := now.Get(a.Name); {
		case got == a.Value: // done meanwhile
		case got != picture.Get(a.Name):
			left = append(left, fmt.Sprintf("%s: changed in oned to %q", a.Name, got))
		default:
			kept = append(kept, a)
		}
	}
	return kept, left
}
