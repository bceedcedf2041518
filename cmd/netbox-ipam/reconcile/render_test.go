package reconcile

import (
	"strings"
	"testing"
)

// The report's lines for NetBox virtual machines say what audit found and what sync
// did with it.
func TestTextVMs(t *testing.T) {
	rep := Plan{MissingVMs: []string{"43"}, Drift: 2,
		OutOfStepVMs: []VMDrift{{VM: "42", NetBoxVM: 7, Name: "web", Differences: []string{`name "web", the VM's is "web-2"`, "status active, the VM's state makes it offline"}}}}
	for _, tc := range []struct {
		o    Options
		want []string
	}{
		{Options{All: true}, []string{
			"missing  virtual-machine  OpenNebula VM 43 holds leases of the driver and has no NetBox virtual machine\n",
			`drift    virtual-machine  #7      OpenNebula VM 42 (web): name "web", the VM's is "web-2"; status active, the VM's state makes it offline` + "\n"}},
		{Options{All: true, Sync: true}, []string{
			"has no NetBox virtual machine; made\n",
			"makes it offline; brought in step\n"}},
	} {
		var out strings.Builder
		Text(&out, rep, tc.o)
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%+v: report lacks %q:\n%s", tc.o, w, out.String())
			}
		}
	}
}
