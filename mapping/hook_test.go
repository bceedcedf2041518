package mapping

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"
)

// The shapes of HookAPI.cc's message and of onehem-server's $API (its CALL_INFO).
func TestParseCallInfo(t *testing.T) {
	info := `<CALL_INFO><RESULT>1</RESULT><PARAMETERS><PARAMETER><POSITION>1</POSITION><TYPE>IN</TYPE><VALUE>****</VALUE></PARAMETER>` +
		`<PARAMETER><POSITION>2</POSITION><TYPE>IN</TYPE><VALUE>42</VALUE></PARAMETER>` +
		`<PARAMETER><POSITION>1</POSITION><TYPE>OUT</TYPE><VALUE>42</VALUE></PARAMETER></PARAMETERS>` +
		`<EXTRA><VM><ID>42</ID><NAME>web</NAME><TEMPLATE><NIC><IP>10.0.0.5</IP><NIC_ID>0</NIC_ID></NIC></TEMPLATE></VM></EXTRA></CALL_INFO>`
	for name, raw := range map[string]string{
		"$API":         base64.StdEncoding.EncodeToString([]byte(info)),
		"HOOK_MESSAGE": `<HOOK_MESSAGE><HOOK_TYPE>API</HOOK_TYPE><CALL>one.vm.allocate</CALL>` + info + `</HOOK_MESSAGE>`,
	} {
		ci, err := ParseCallInfo([]byte(raw))
		if err != nil || !ci.Success || ci.In[2] != "42" || ci.Out[1] != "42" {
			t.Fatalf("%s: %+v %v", name, ci, err)
		}
		vm, err := ParseVM(ci.Extra)
		if err != nil || vm.ID != "42" || vm.Name != "web" || len(vm.NICs) != 1 || vm.NICs[0].IP != "10.0.0.5" {
			t.Fatalf("%s: VM %+v %v", name, vm, err)
		}
	}
	for _, bad := range []string{"", "%%%", "<VM/>", "<CALL_INFO"} {
		if _, err := ParseCallInfo([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A virtual router's own leases are its NICs' VROUTER_IP/VROUTER_MAC (as oned 7.5.80
// shows them); anything but a <VROUTER> with an ID is refused with one line.
func TestParseVRouter(t *testing.T) {
	doc := `<VROUTER><ID>5</ID><NAME>gw</NAME><VMS><ID>42</ID><ID>43</ID></VMS><TEMPLATE><NIC><NIC_ID>0</NIC_ID><NETWORK_ID>7</NETWORK_ID><AR_ID>0</AR_ID><VROUTER_IP>10.0.0.9</VROUTER_IP><VROUTER_MAC>02:00:0a:00:00:09</VROUTER_MAC></NIC><NIC><NIC_ID>1</NIC_ID><NETWORK_ID>8</NETWORK_ID></NIC></TEMPLATE></VROUTER>`
	vr, err := ParseVRouter([]byte(base64.StdEncoding.EncodeToString([]byte(doc))))
	if err != nil || vr.ID != "5" || vr.Name != "gw" || len(vr.VMs) != 2 || len(vr.NICs) != 2 ||
		vr.NICs[0].IP != "10.0.0.9" || vr.NICs[0].MAC != "02:00:0a:00:00:09" || vr.NICs[1].IP != "" {
		t.Fatalf("%+v %v", vr, err)
	}
	for _, tc := range []struct{ raw, want string }{
		{`<VM><ID>1</ID></VM>`, "<VM> is not an OpenNebula virtual router document"},
		{`<VROUTER><NAME>x</NAME></VROUTER>`, "(<VROUTER> with an ID)"},
		{`<VROUTER><ID>1`, "virtual router document is not valid XML"},
		{`%%%`, "neither XML nor base64"},
	} {
		if _, err := ParseVRouter([]byte(tc.raw)); err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want one line with %q", tc.raw, err, tc.want)
		}
	}
}

// A VM with a NIC, a NIC_ALIAS and a PCI NIC, as the real oned 7.5.80 shows it
// (recorded): all three hold leases; the alias is an address on its parent's
// interface, the PCI NIC an interface of its own.
func TestVMAliasAndPCI(t *testing.T) {
	raw, err := os.ReadFile("testdata/vm-alias-pci-7.5.80.xml")
	if err != nil {
		t.Fatal(err)
	}
	vm, err := ParseVM(raw)
	if err != nil {
		t.Fatal(err)
	}
	var leases, ifaces []string
	for _, n := range vm.Leases() {
		leases = append(leases, n.ID+"="+n.IP)
	}
	names := InterfaceNames(vm.Interfaces())
	for _, n := range vm.Interfaces() {
		ifaces = append(ifaces, names[n.ID])
	}
	if got := strings.Join(leases, " "); got != "0=10.250.0.10 1=10.250.0.11 2=10.250.0.12" {
		t.Errorf("leases %s", got)
	}
	if got := strings.Join(ifaces, " "); got != "eth0 NIC1" {
		t.Errorf("interfaces %s", got)
	}
	if len(vm.Aliases) != 1 || vm.Aliases[0].ParentID != "0" || vm.Aliases[0].MAC != "02:00:0a:fa:00:0c" {
		t.Errorf("alias %+v", vm.Aliases)
	}
}

// The names NetBox gets for a VM and its interfaces: oned's when they fit and are
// unique, else with the VM's or NIC's id, cut to NetBox's 64 characters.
func TestNetBoxNames(t *testing.T) {
	long := strings.Repeat("web-frontend-", 6)[:70] // 70 characters
	cases := []struct {
		vm         VM
		name, twin string
	}{
		{VM{ID: "42", Name: "web"}, "web", "web (VM 42)"},
		{VM{ID: "42", Name: " web\n1 "}, "web 1", "web 1 (VM 42)"},
		{VM{ID: "42", Name: long}, long[:55] + "… (VM 42)", long[:55] + "… (VM 42)"},
		{VM{ID: "42", Name: strings.Repeat("é", 64)}, strings.Repeat("é", 64), strings.Repeat("é", 55) + "… (VM 42)"},
	}
	for _, tc := range cases {
		name, twin := VMNames(tc.vm)
		if name != tc.name || twin != tc.twin {
			t.Errorf("%q: %q, %q; want %q, %q", tc.vm.Name, name, twin, tc.name, tc.twin)
		}
		for _, n := range []string{name, twin} {
			if c := len([]rune(n)); c > MaxNameLength {
				t.Errorf("%q: %d characters", n, c)
			}
		}
	}
	got := InterfaceNames([]NIC{{ID: "0", Name: "eth0"}, {ID: "1", Name: "eth0"}, {ID: "2"}, {ID: "3", Name: long}, {ID: "4", Name: "eth0"}})
	want := map[string]string{"0": "eth0", "1": "eth0 (NIC 1)", "2": "NIC2", "3": long[:55] + "… (NIC 3)", "4": "eth0 (NIC 4)"}
	for id, w := range want {
		if got[id] != w || len([]rune(got[id])) > MaxNameLength {
			t.Errorf("NIC %s: %q, want %q", id, got[id], w)
		}
	}
}
