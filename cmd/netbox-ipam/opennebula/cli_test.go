package opennebula

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// The CLI's failures: a command not on the PATH is the operator's to fix (input), a
// command that fails is OpenNebula's, with its own last words, and "Error getting" is
// an object that does not exist.
func TestRun(t *testing.T) {
	var in *mapping.InputError
	if _, err := run(context.Background(), "onevnet-not-installed-here"); !errors.As(err, &in) || !strings.Contains(err.Error(), "is not on the PATH") {
		t.Fatalf("missing CLI: %v", err)
	}
	var oe *Error
	if _, err := run(context.Background(), "sh", "-c", "echo 'no such network' >&2; exit 1"); !errors.As(err, &oe) || IsGone(err) || !strings.Contains(err.Error(), "no such network") {
		t.Fatalf("failing CLI: %v", err)
	}
	if _, err := run(context.Background(), "sh", "-c", "echo '[one.vn.info] Error getting virtual network [8].' >&2; exit 255"); !IsGone(err) {
		t.Fatalf("a network that does not exist: %v", err)
	}
	if out, err := run(context.Background(), "sh", "-c", "echo '<VNET/>'"); err != nil || string(out) != "<VNET/>\n" {
		t.Fatalf("CLI: %q, %v", out, err)
	}
}
