package mapping

import (
	"testing"
	"time"
)

// Where a freed lease stands, by its status and one_frees_at, at 10:30.
func TestFreedState(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 30, 0, 0, time.UTC)
	cases := []struct {
		status, freesAt string
		want            Freed
		takesOver       bool
	}{
		{"active", "", Leased, false},
		{"active", "2026-12-06T10:00:00Z", Leased, false}, // a lease taken back keeps no meaning in an old time
		{"reserved", "", Leased, false},
		{"deprecated", "", Kept, false},
		{"deprecated", "2026-12-06T10:45:00Z", Cooling, true},
		{"deprecated", "2026-12-06T10:30:00Z", Cooled, true}, // due at its time
		{"deprecated", "2026-12-06T10:00:00Z", Cooled, true},
		{"deprecated", "2026-12-06T11:30:00+01:00", Cooled, true}, // another zone, the same instant as 10:30Z
		{"deprecated", "tomorrow", BadTime, false},
	}
	for _, tc := range cases {
		got := FreedState(tc.status, tc.freesAt, now)
		if got != tc.want || got.TakesOver() != tc.takesOver {
			t.Errorf("FreedState(%q, %q) = %v (takes over %v), want %v (%v)", tc.status, tc.freesAt, got, got.TakesOver(), tc.want, tc.takesOver)
		}
	}
	if s := FreesAt(time.Date(2026, 12, 6, 11, 45, 30, 999, time.FixedZone("CET", 3600))); s != "2026-12-06T10:45:30Z" {
		t.Errorf("FreesAt writes %q, want UTC to the second", s)
	}
}
