package mapping

import (
	"encoding/base64"
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
