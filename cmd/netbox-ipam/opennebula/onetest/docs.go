package onetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// The documents unit tests build oned's state from, as `onevnet show -x` and
// `onevm show -x` print them, and the fixture scenario they share: network 7
// ("cloud") with one AR, VM 42 ("web") with NICs on it.

// Attrs builds AR or ADDRESS attributes from "NAME=value" pairs.
func Attrs(kv ...string) mapping.Attrs {
	var out mapping.Attrs
	for _, x := range kv {
		k, v, _ := strings.Cut(x, "=")
		out = append(out, mapping.Attr{Name: k, Value: v})
	}
	return out
}

// With is a copy of ar, to change without touching ar (Attrs.Set changes in place).
func With(ar mapping.Attrs) mapping.Attrs { return append(mapping.Attrs(nil), ar...) }

// VNetXML is `onevnet show -x` of network 7 with one AR and its leases ("ip vm").
func VNetXML(ar mapping.Attrs, leases ...string) string {
	var b strings.Builder
	b.WriteString("<VNET><ID>7</ID><NAME>cloud</NAME><AR_POOL><AR>")
	for _, a := range ar {
		fmt.Fprintf(&b, "<%s><![CDATA[%s]]></%s>", a.Name, a.Value, a.Name)
	}
	b.WriteString("<LEASES>")
	for _, l := range leases {
		ip, vm, _ := strings.Cut(l, " ")
		fmt.Fprintf(&b, "<LEASE><IP>%s</IP><VM>%s</VM></LEASE>", ip, vm)
	}
	b.WriteString("</LEASES></AR></AR_POOL></VNET>")
	return b.String()
}

// VNetDoc is the `onevnet show -x` document of v.
func VNetDoc(v mapping.VNet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<VNET><ID>%s</ID><NAME>%s</NAME><AR_POOL>", v.ID, v.Name)
	for _, ar := range v.ARs {
		b.WriteString("<AR>")
		for _, a := range ar.Attrs {
			fmt.Fprintf(&b, "<%s><![CDATA[%s]]></%s>", a.Name, a.Value, a.Name)
		}
		b.WriteString("<LEASES>")
		for _, l := range ar.Leases {
			b.WriteString("<LEASE>")
			for _, f := range [][2]string{{"IP", l.IP}, {"IP6_GLOBAL", l.IP6Global}, {"IP6_ULA", l.IP6ULA}, {"MAC", l.MAC}, {"VM", l.VM}, {"VNET", l.VNet}, {"VROUTER", l.VRouter}} {
				if f[1] != "" {
					fmt.Fprintf(&b, "<%s>%s</%s>", f[0], f[1], f[0])
				}
			}
			b.WriteString("</LEASE>")
		}
		b.WriteString("</LEASES></AR>")
	}
	b.WriteString("</AR_POOL></VNET>")
	return b.String()
}

// WebVM is VM 42 ("web") in state and lcm, placed in cluster (none: ""), with the
// NICs named (NIC "0" holds 10.70.0.10, "1" 10.70.0.11, on network 7 AR 0).
func WebVM(state, lcm, cluster string, nics ...string) mapping.VM {
	vm := mapping.VM{ID: "42", Name: "web", State: state, LCMState: lcm}
	for _, id := range nics {
		last := map[string]string{"0": "0a", "1": "0b"}[id]
		vm.NICs = append(vm.NICs, mapping.NIC{ID: id, Name: "NIC" + id, NetworkID: "7", ARID: "0", IP: "10.70.0." + map[string]string{"0": "10", "1": "11"}[id], MAC: "02:00:0a:46:00:" + last})
	}
	if cluster != "" {
		vm.History = append(vm.History, struct {
			ClusterID string `xml:"CID"`
		}{cluster})
	}
	return vm
}

// ParseVM reads a VM document as oned shows it (`onevm show -x`).
func ParseVM(t testing.TB, doc string) mapping.VM {
	t.Helper()
	vm, err := mapping.ParseVM([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

// ParseVRouter reads a virtual router's document as oned shows it.
func ParseVRouter(t testing.TB, doc string) mapping.VRouter {
	t.Helper()
	vr, err := mapping.ParseVRouter([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return vr
}

// SetVNetXML puts the networks of docs (`onevnet show -x`) into o.
func (o *Oned) SetVNetXML(t testing.TB, docs ...string) {
	t.Helper()
	for _, doc := range docs {
		vs, err := mapping.ParseVNets([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		o.SetVNet(vs...)
	}
}

// Doc is the `onevnet show -x` document of network id as o holds it now.
func (o *Oned) Doc(t testing.TB, id string) string {
	t.Helper()
	v, err := o.VNet(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return VNetDoc(v)
}

// AfterPicture runs meanwhile once, right after the first read of a network (sync's
// picture), before anything else reads o: oned changing while sync runs.
func (o *Oned) AfterPicture(meanwhile func()) {
	var once sync.Once
	o.After = func(call string) {
		if strings.HasPrefix(call, "VNet ") {
			once.Do(meanwhile)
		}
	}
}
