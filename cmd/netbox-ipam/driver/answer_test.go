package driver

import (
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

var update = flag.Bool("update", false, "rewrite golden files")

// register's answer for an R-shape request whose user attributes carry quotes,
// backslashes, a newline and template syntax: every request attribute comes back
// (oned replaces the AR with the answer), the driver's attributes follow, once each.
func TestRegisterAnswerGolden(t *testing.T) {
	req, err := mapping.Parse([]byte(`<IPAM_DRIVER_ACTION_DATA><AR>` +
		`<TYPE>IP4</TYPE><SIZE>20</SIZE><IPAM_MAD>netbox</IPAM_MAD><IP>10.60.0.10</IP>` +
		`<MAC>02:00:0a:3c:00:0a</MAC><GATEWAY>10.60.0.9</GATEWAY><DNS>10.60.0.53</DNS>` +
		`<DESCRIPTION><![CDATA[Tenant "blue" \ DMZ]]></DESCRIPTION>` +
		`<NOTE><![CDATA[two
lines ] = [ X = "y" ]]]></NOTE>` +
		`<NETBOX_VRF>blue</NETBOX_VRF>` +
		`</AR><ADDRESS><MAC/><IP/><IP6_GLOBAL/><IP6_ULA/><IP6/><SIZE/></ADDRESS></IPAM_DRIVER_ACTION_DATA>`))
	if err != nil {
		t.Fatal(err)
	}
	// The prefix as NetBox 4.7.3 answered it (trimmed to the fields the driver reads).
	var prefix netbox.Prefix
	if err := json.Unmarshal([]byte(`{"id":412,"prefix":"10.60.0.0/24","vrf":{"id":7,"name":"blue"},"vlan":{"id":30,"name":"dmz"},
		"tags":[],"custom_fields":{"one_gateway":"10.60.0.1","one_dns":null}}`), &prefix); err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{mapping.AttrGateway: "10.60.0.1", mapping.AttrDNS: "10.60.0.53",
		mapping.AttrNetworkMask: "255.255.255.0", mapping.AttrGuestMTU: "1450"}
	span := mapping.Span{First: netip.MustParseAddr("10.60.0.10"), Last: netip.MustParseAddr("10.60.0.29")}
	var tpl mapping.Template
	tpl.Vector("AR", arAnswer(req.AR, "IP4", span, netip.MustParsePrefix("10.60.0.0/24"), settings, prefix, 977))
	got := tpl.String()

	golden := "testdata/register_answer.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update and review the file)", err)
	}
	if got != string(want) {
		t.Fatalf("answer differs from %s\n got %s\nwant %s", golden, got, want)
	}
}
