package driver

import "testing"

// oned takes a number right after "INFO:" for an id; INFO lines never start with one,
// and never span lines.
func TestInfoLine(t *testing.T) {
	for in, want := range map[string]string{
		"lease 10.0.0.5 (+0)":       "INFO: lease 10.0.0.5 (+0)\n",
		"10.0.0.5 taken":            "INFO: netbox: 10.0.0.5 taken\n",
		"two\nlines":                "INFO: two lines\n",
		"":                          "INFO: netbox: \n",
		"left 10.0.0.9/24 alone: x": "INFO: left 10.0.0.9/24 alone: x\n",
	} {
		if got := infoLine(in); got != want {
			t.Errorf("infoLine(%q) = %q, want %q", in, got, want)
		}
	}
}
