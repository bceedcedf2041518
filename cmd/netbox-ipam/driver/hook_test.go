package driver

import (
	"context"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// A hook records the VM on its leases in one read and one write; audit then finds the
// lease in step (the name is not drift); a second hook writes nothing.
func TestHookRecordsTheHolder(t *testing.T) {
	f, ar := registered(t, nil)
	for i := 0; i < 2; i++ {
		if _, err := f.d.GetAddress(context.Background(), request(ar, "SIZE=1")); err != nil {
			t.Fatal(err)
		}
	}
	f.take("10.70.0.30", false) // someone else's, named by a NIC of no netbox AR
	vm := mapping.VM{ID: "42", Name: "web 1", NICs: []mapping.NIC{
		{ID: "0", NetworkID: "7", ARID: "0", IP: "10.70.0.10", MAC: "02:00:0A:46:00:0A"},
		{ID: "1", NetworkID: "7", ARID: "0", IP: "10.70.0.11", MAC: "02:00:0a:46:00:0b"},
		{ID: "2", NetworkID: "9", ARID: "0", IP: "10.70.0.30", MAC: "02:00:0a:46:00:1e"},
		{ID: "3", NetworkID: "9", ARID: "0", IP: "2001:db8::1"},
	}}
	f.nb.Calls = nil
	if _, err := f.d.Hook(context.Background(), vm); err != nil {
		t.Fatal(err)
	}
	if f.nb.Requests() != 2 {
		t.Errorf("%d NetBox requests %v, want 2", f.nb.Requests(), f.nb.Calls)
	}
	l := f.addr("10.70.0.10")
	if l.CustomString(mapping.CFVMID) != "42" || l.CustomString(mapping.CFMAC) != "02:00:0a:46:00:0a" || l.Description != "OpenNebula VM 42 (web 1), network 7 AR 0" {
		t.Fatalf("lease %+v", l)
	}
	if other := f.addr("10.70.0.30"); other.Description != "someone's" {
		t.Errorf("someone's object changed: %+v", other)
	}
	rep, err := f.d.Audit(context.Background(), AuditOptions{Files: []string{"-"}}, stringsReader(vnetXML(ar, "10.70.0.10 42", "10.70.0.11 42")), nil)
	if err != nil || kinds(rep) != "" {
		t.Fatalf("audit after the hook: %q %v", kinds(rep), err)
	}
	f.nb.Calls = nil
	if _, err := f.d.Hook(context.Background(), vm); err != nil || f.nb.Requests() != 1 {
		t.Fatalf("second hook: %v, %v", err, f.nb.Calls)
	}
}
