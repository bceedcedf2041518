package mapping

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// What OpenNebula's hooks hand the driver: an API hook's $API (HOOK_MESSAGE, base64)
// and a VM document (a state hook's $TEMPLATE, or one.vm.info), read into who holds
// which lease.

// VM is an OpenNebula VM as a hook sees it: its id, name, state, NICs and the
// clusters of its hosts so far.
type VM struct {
	XMLName xml.Name
	ID      string `xml:"ID"`
	Name    string `xml:"NAME"`
	// UName and GName are the VM's owner, user and group (tenants maps them).
	UName string `xml:"UNAME"`
	GName string `xml:"GNAME"`
	// State and LCMState are OpenNebula's (include/VirtualMachine.h): STATE 6 is DONE,
	// LCM_STATE 3 RUNNING.
	State    string `xml:"STATE"`
	LCMState string `xml:"LCM_STATE"`
	NICs     []NIC  `xml:"TEMPLATE>NIC"`
	// Aliases (NIC_ALIAS) hold leases of their own, addresses of their parent NIC
	// (PARENT_ID is its NIC_ID); PCI devices of TYPE NIC hold a lease as a NIC does.
	// oned numbers all of them in one NIC_ID sequence.
	Aliases []NIC `xml:"TEMPLATE>NIC_ALIAS"`
	PCI     []NIC `xml:"TEMPLATE>PCI"`
	History []struct {
		ClusterID string `xml:"CID"`
	} `xml:"HISTORY_RECORDS>HISTORY"`
}

// VRouter is an OpenNebula virtual router as a hook sees it: its id, name, its own
// NICs (a floating IP is a lease the router holds) and its VMs.
type VRouter struct {
	ID, Name     string
	UName, GName string // its owner
	NICs         []NIC  // IP and MAC: the router's own lease (oned's VROUTER_IP, VROUTER_MAC)
	VMs          []string
}

// ParseVRouter reads a virtual router document (plain or base64).
func ParseVRouter(raw []byte) (VRouter, error) {
	doc, err := maybeBase64(raw)
	if err != nil {
		return VRouter{}, err
	}
	var v struct {
		XMLName xml.Name
		ID      string `xml:"ID"`
		Name    string `xml:"NAME"`
		UName   string `xml:"UNAME"`
		GName   string `xml:"GNAME"`
		NICs    []struct {
			NIC
			FloatingIP  string `xml:"VROUTER_IP"`
			FloatingMAC string `xml:"VROUTER_MAC"`
		} `xml:"TEMPLATE>NIC"`
		VMs []string `xml:"VMS>ID"`
	}
	if err := xml.Unmarshal(doc, &v); err != nil {
		return VRouter{}, &InputError{Msg: "virtual router document is not valid XML: " + err.Error()}
	}
	if v.XMLName.Local != "VROUTER" || v.ID == "" {
		return VRouter{}, &InputError{Msg: fmt.Sprintf("<%s> is not an OpenNebula virtual router document (<VROUTER> with an ID)", v.XMLName.Local)}
	}
	out := VRouter{ID: v.ID, Name: v.Name, UName: v.UName, GName: v.GName, VMs: v.VMs}
	for _, n := range v.NICs {
		// The router's own lease is VROUTER_IP (FLOATING_IP = YES); a NIC without
		// one gives its VMs their own leases only.
		n.NIC.IP, n.NIC.MAC = n.FloatingIP, n.FloatingMAC
		out.NICs = append(out.NICs, n.NIC)
	}
	return out, nil
}

// Done reports whether the VM is terminated (STATE DONE).
func (v VM) Done() bool { return v.State == "6" }

// ClusterID is the OpenNebula cluster of the VM's current host, "" before it has one.
func (v VM) ClusterID() string {
	if len(v.History) == 0 {
		return ""
	}
	return v.History[len(v.History)-1].ClusterID
}

// VMStatus is the NetBox virtual machine status for an OpenNebula VM's state:
// planned until it is placed, staged while oned works on it, active when running,
// offline when stopped, powered off or undeployed (or its host is unknown), paused when
// suspended, failed in any failure state.
func VMStatus(state, lcm string) string {
	switch state {
	case "0", "1", "2", "10": // INIT, PENDING, HOLD, CLONING
		return "planned"
	case "4", "8", "9": // STOPPED, POWEROFF, UNDEPLOYED
		return "offline"
	case "5": // SUSPENDED
		return "paused"
	case "3": // ACTIVE: by LCM_STATE
	default: // FAILED, CLONING_FAILURE and anything newer
		return "failed"
	}
	n, err := strconv.Atoi(lcm)
	switch {
	case err != nil:
		return "staged"
	case n == 3: // RUNNING
		return "active"
	case n == 16: // UNKNOWN: the host stopped answering
		return "offline"
	case n >= 36 && n <= 50 && n != 43 && n != 45, n == 61: // the *_FAILURE states
		return "failed"
	default:
		return "staged"
	}
}

// NIC is one NIC of a VM, as oned filled it from its lease.
type NIC struct {
	ID string `xml:"NIC_ID"`
	// Name is oned's name for the NIC ("NIC0"); the NetBox interface takes it.
	Name      string `xml:"NAME"`
	NetworkID string `xml:"NETWORK_ID"`
	ARID      string `xml:"AR_ID"`
	IP        string `xml:"IP"`
	MAC       string `xml:"MAC"`
	VRouterID string `xml:"VROUTER_ID"`
	ParentID  string `xml:"PARENT_ID"` // an alias's NIC
	Type      string `xml:"TYPE"`      // a PCI device's: NIC holds a lease
}

// Leases are the VM's NICs, aliases and PCI NICs: everything that may hold a lease.
func (v VM) Leases() []NIC {
	return append(v.Interfaces(), v.Aliases...)
}

// Interfaces are the VM's network interfaces: its NICs and PCI NICs (an alias is an
// address on its parent's).
func (v VM) Interfaces() []NIC {
	out := append([]NIC(nil), v.NICs...)
	for _, p := range v.PCI {
		if p.Type == "NIC" {
			out = append(out, p)
		}
	}
	return out
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
	if v.XMLName.Local != "VM" {
		return VM{}, &InputError{Msg: fmt.Sprintf("<%s> is not an OpenNebula VM document (<VM>)", v.XMLName.Local)}
	}
	if v.ID == "" {
		return VM{}, &InputError{Msg: "VM document has no ID"}
	}
	return v, nil
}

// ParseVMPool reads a VM_POOL document (one.vmpool.infoextended): its VMs.
func ParseVMPool(doc []byte) ([]VM, error) {
	var pool struct {
		XMLName xml.Name
		VMs     []VM `xml:"VM"`
	}
	if err := xml.Unmarshal(doc, &pool); err != nil {
		return nil, &InputError{Msg: "VM pool document is not valid XML: " + err.Error()}
	}
	if pool.XMLName.Local != "VM_POOL" {
		return nil, &InputError{Msg: fmt.Sprintf("<%s> is not an OpenNebula VM pool document (<VM_POOL>)", pool.XMLName.Local)}
	}
	for _, v := range pool.VMs {
		if v.ID == "" {
			return nil, &InputError{Msg: "a VM in the pool document has no ID"}
		}
	}
	return pool.VMs, nil
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

// MaxNameLength is NetBox's limit on the name of a virtual machine and of an
// interface, in characters; OpenNebula allows longer.
const MaxNameLength = 64

// VMNames are the names of a VM's NetBox virtual machine: oned's name, and twin, the
// name with " (VM <id>)", for when the cluster has a virtual machine of that name
// already (NetBox wants names unique in a cluster, OpenNebula does not). A name longer
// than NetBox allows is cut to fit " (VM <id>)" after it and ends in "…" before that:
// "a-very-long-name… (VM 42)", both names alike, so an admin reads what it was and
// which VM it is.
func VMNames(vm VM) (name, twin string) {
	name = OneLine(vm.Name)
	twin = fitName(name, " (VM "+vm.ID+")")
	if utf8.RuneCountInString(name) > MaxNameLength {
		return twin, twin
	}
	return name, twin
}

// InterfaceNames are the NetBox interface names of NICs (a VM's Interfaces) by NIC
// id: oned's NIC name ("NIC0"), or NIC and its id when oned gave none. A name an
// earlier NIC of the VM took, or one longer than NetBox allows, gets " (NIC <id>)"
// after it (cut to fit as VMNames does), since NetBox wants names unique per VM.
func InterfaceNames(nics []NIC) map[string]string {
	out := map[string]string{}
	taken := map[string]bool{}
	for _, n := range nics {
		name := OneLine(n.Name)
		if name == "" {
			name = "NIC" + n.ID
		}
		if taken[name] || utf8.RuneCountInString(name) > MaxNameLength {
			name = fitName(name, " (NIC "+n.ID+")")
		}
		taken[name] = true
		out[n.ID] = name
	}
	return out
}

// fitName is name and suffix in at most MaxNameLength characters: name cut, ending
// in "…", when both do not fit.
func fitName(name, suffix string) string {
	r := []rune(name)
	room := MaxNameLength - utf8.RuneCountInString(suffix)
	if room < 1 {
		return suffix
	}
	if len(r) > room {
		r = append(r[:room-1], '…')
	}
	return string(r) + suffix
}

// Slug is NetBox's slug for a name: lower case, runs of other characters as one "-".
func Slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
