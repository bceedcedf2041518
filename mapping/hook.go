package mapping

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"strings"
)

// What OpenNebula's hooks hand the driver: an API hook's $API (HOOK_MESSAGE, base64)
// and a VM document (a state hook's $TEMPLATE, or one.vm.info), read into who holds
// which lease.

// VM is an OpenNebula VM as a hook sees it: its id, name and NICs.
type VM struct {
	ID   string `xml:"ID"`
	Name string `xml:"NAME"`
	// State is OpenNebula's VM state (6: DONE).
	State string `xml:"STATE"`
	NICs  []NIC  `xml:"TEMPLATE>NIC"`
}

// NIC is one NIC of a VM, as oned filled it from its lease.
type NIC struct {
	ID        string `xml:"NIC_ID"`
	NetworkID string `xml:"NETWORK_ID"`
	ARID      string `xml:"AR_ID"`
	IP        string `xml:"IP"`
	MAC       string `xml:"MAC"`
	VRouterID string `xml:"VROUTER_ID"`
}

// ParseVM reads a VM document (plain or base64).
func ParseVM(raw []byte) (VM, error) {
	doc, err := maybeBase64(raw)
	if err != nil {
		return VM{}, err
	}
	var v VM
	if err := xml.Unmarshal(doc, &v); err != nil {
		return VM{}, &InputError{Msg: "VM document is not valid XML: " + err.Error()}
	}
	if v.ID == "" {
		return VM{}, &InputError{Msg: "VM document has no ID"}
	}
	return v, nil
}

// CallInfo is an API hook's $API: onehem-server hands the hook the CALL_INFO element
// of oned's message (base64): whether the call succeeded, its parameters (IN and OUT,
// by position; oned hides the session) and, for allocate and delete calls, the
// resource's document. The call's name is not in it: the hook's command line says it.
type CallInfo struct {
	Success bool
	In, Out map[int]string
	Extra   []byte
}

// ParseCallInfo reads $API (base64 or plain XML; CALL_INFO, or the whole HOOK_MESSAGE).
func ParseCallInfo(raw []byte) (CallInfo, error) {
	doc, err := maybeBase64(raw)
	if err != nil {
		return CallInfo{}, err
	}
	type param struct {
		Position int    `xml:"POSITION"`
		Type     string `xml:"TYPE"`
		Value    string `xml:"VALUE"`
	}
	type callInfo struct {
		Result string  `xml:"RESULT"`
		Params []param `xml:"PARAMETERS>PARAMETER"`
		Extra  struct {
			Inner []byte `xml:",innerxml"`
		} `xml:"EXTRA"`
	}
	var m struct {
		XMLName xml.Name
		callInfo
		Nested *callInfo `xml:"CALL_INFO"`
	}
	if err := xml.Unmarshal(doc, &m); err != nil || (m.XMLName.Local != "CALL_INFO" && m.Nested == nil) {
		return CallInfo{}, &InputError{Msg: fmt.Sprintf("not an OpenNebula API hook argument (CALL_INFO): %v", err)}
	}
	ci := m.callInfo
	if m.Nested != nil {
		ci = *m.Nested
	}
	h := CallInfo{Success: ci.Result == "1", In: map[int]string{}, Out: map[int]string{}, Extra: []byte(strings.TrimSpace(string(ci.Extra.Inner)))}
	for _, p := range ci.Params {
		if p.Type == "OUT" {
			h.Out[p.Position] = strings.TrimSpace(p.Value)
		} else {
			h.In[p.Position] = strings.TrimSpace(p.Value)
		}
	}
	return h, nil
}

func maybeBase64(raw []byte) ([]byte, error) {
	s := strings.TrimSpace(string(raw))
	if strings.HasPrefix(s, "<") {
		return []byte(s), nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, &InputError{Msg: "hook argument is neither XML nor base64 of it"}
	}
	return b, nil
}
