package mapping

import (
	"fmt"
	"time"
)

// Freed leases: what `release: deprecate` and `release: cooldown` leave in NetBox when
// oned frees an address, and when sync may delete it. NetBox hands out the lowest
// free address, so a lease deleted at once goes to the next VM at once, while ARP
// caches, DNS and firewall rules still point at the old one: a cool-down keeps the
// object, deprecated, until the time written on it. get_address never hands out an
// address NetBox holds an object at, so nothing else is needed for that.

// NetBox statuses of the driver's lease objects: a lease oned holds is active; one
// oned freed and the driver keeps is deprecated.
const (
	StatusActive     = "active"
	StatusDeprecated = "deprecated"
)

// Freed is where one of the driver's IP address objects stands.
type Freed int

const (
	Leased  Freed = iota // not freed (any status but deprecated)
	Kept                 // deprecated, no time on it (release: deprecate): an admin's to delete
	Cooling              // deprecated until a time still to come
	Cooled               // deprecated until a time that has passed: sync deletes it
	BadTime              // deprecated with a time that is not one (edited): left, and reported
)

// FreedState says where an object of the driver with this status and one_frees_at
// stands at now.
func FreedState(status, freesAt string, now time.Time) Freed {
	if status != StatusDeprecated {
		return Leased
	}
	if freesAt == "" {
		return Kept
	}
	t, err := ParseFreesAt(freesAt)
	switch {
	case err != nil:
		return BadTime
	case now.Before(t):
		return Cooling
	}
	return Cooled
}

// FreesAt is how one_frees_at holds a time: RFC 3339 in UTC, to the second, which
// NetBox's UI shows as written and which sorts as it reads.
func FreesAt(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// ParseFreesAt reads one_frees_at.
func ParseFreesAt(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not a time such as 2026-12-06T10:45:00Z", CFFreesAt, s)
	}
	return t, nil
}

// TakesOver says whether an explicit allocate_address may take the address of an
// object of the driver in this state: a cooling or cooled lease (a VM re-created with
// its fixed IP gets it back at once), never a lease oned holds or one an admin keeps.
func (f Freed) TakesOver() bool { return f == Cooling || f == Cooled }
