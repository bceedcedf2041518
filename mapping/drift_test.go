package mapping

import (
	"net/netip"
	"strings"
	"testing"
)

// A network as `onevnet show -x` prints it (trimmed), with an AR of the driver holding
// a VM lease, a virtual router lease, a reservation and a hold, and an AR of another
// IPAM.
const vnetDoc = `<VNET><ID>7</ID><UID>0</UID><GID>0</GID><UNAME>oneadmin</UNAME><GNAME>oneadmin</GNAME><NAME>cloud</NAME>
<AR_POOL>
 <AR><AR_ID><![CDATA[0]]></AR_ID><IP><![CDATA[10.0.0.2]]></IP><IPAM_MAD><![CDATA[netbox]]></IPAM_MAD><MAC><![CDATA[02:00:0a:00:00:02]]></MAC>
  <NETBOX_IP_RANGE_ID><![CDATA[31]]></NETBOX_IP_RANGE_ID><SIZE><![CDATA[10]]></SIZE><TYPE><![CDATA[IP4]]></TYPE><USED_LEASES>4</USED_LEASES>
  <LEASES>
   <LEASE><IP><![CDATA[10.0.0.2]]></IP><MAC><![CDATA[02:00:0a:00:00:02]]></MAC><VM><![CDATA[42]]></VM></LEASE>
   <LEASE><IP><![CDATA[10.0.0.3]]></IP><MAC><![CDATA[02:00:0a:00:00:03]]></MAC><VROUTER><![CDATA[5]]></VROUTER></LEASE>
   <LEASE><IP><![CDATA[10.0.0.4]]></IP><MAC><![CDATA[02:00:0a:00:00:04]]></MAC><VNET><![CDATA[9]]></VNET></LEASE>
   <LEASE><IP><![CDATA[10.0.0.5]]></IP><MAC><![CDATA[02:00:0a:00:00:05]]></MAC><VM><![CDATA[-1]]></VM></LEASE>
  </LEASES></AR>
 <AR><AR_ID>1</AR_ID><IP>192.168.0.1</IP><MAC>02:00:c0:a8:00:01</MAC><SIZE>5</SIZE><TYPE>IP4</TYPE></AR>
</AR_POOL></VNET>`

func TestParseVNets(t *testing.T) {
	vs, err := ParseVNets([]byte("<VNET_POOL>" + vnetDoc + strings.Replace(vnetDoc, "<ID>7</ID>", "<ID>8</ID>", 1) + "</VNET_POOL>"))
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].ID != "7" || vs[1].ID != "8" || vs[0].Name != "cloud" || len(vs[0].ARs) != 2 {
		t.Fatalf("parsed %+v", vs)
	}
	ar := vs[0].ARs[0]
	if !ar.UsesIPAM("netbox") || vs[0].ARs[1].UsesIPAM("netbox") || ar.Attrs.Get(AttrIPRangeID) != "31" || len(ar.Leases) != 4 {
		t.Fatalf("AR %+v", ar)
	}
	if l := ar.Leases[1]; l.IP != "10.0.0.3" || l.VRouter != "5" || l.VM != "" {
		t.Errorf("router lease %+v", l)
	}
	for _, bad := range []string{"", "<VM><ID>1</ID></VM>", "<VNET><ID>1</ID>", "not xml"} {
		if _, err := ParseVNets([]byte(bad)); err == nil {
			t.Errorf("ParseVNets(%q) accepted it", bad)
		}
	}
}

func TestCompare(t *testing.T) {
	vs, err := ParseVNets([]byte(vnetDoc))
	if err != nil {
		t.Fatal(err)
	}
	ar := vs[0].ARs[0]
	a := netip.MustParseAddr
	span := []Span{{First: a("10.0.0.2"), Last: a("10.0.0.11")}}
	// What the driver would have written for each lease, labels current.
	good := func(id int, ip, mac string, cf map[string]string, desc string) Held {
		m := map[string]string{CFARID: "0", CFMAC: mac, CFVMID: "", CFVNetID: "", CFVRouterID: ""}
		for k, v := range cf {
			m[k] = v
		}
		return Held{ID: id, Addr: a(ip), Owned: true, CF: m, Description: desc}
	}
	clean := []Held{
		good(1, "10.0.0.2", "02:00:0a:00:00:02", map[string]string{CFVMID: "42"}, "OpenNebula VM 42, network 7 AR 0"),
		good(2, "10.0.0.3", "02:00:0a:00:00:03", map[string]string{CFVRouterID: "5"}, "OpenNebula virtual router 5, network 7 AR 0"),
		good(3, "10.0.0.4", "02:00:0a:00:00:04", map[string]string{CFVNetID: "9"}, "OpenNebula reservation of network 9, network 7 AR 0"),
		good(4, "10.0.0.5", "02:00:0a:00:00:05", nil, "OpenNebula hold, network 7 AR 0"),
	}
	with := func(hs []Held, f func([]Held) []Held) []Held { return f(append([]Held(nil), hs...)) }
	cases := []struct {
		name    string
		held    []Held
		want    string // "kind ip" of each finding
		creates int
		deletes []int
		updates int
	}{
		{"in step", clean, "", 0, nil, 0},
		{"lease object deleted by hand", clean[1:], "missing 10.0.0.2", 1, nil, 0},
		{"orphan of the driver", append(clean, Held{ID: 9, Addr: a("10.0.0.8"), Owned: true, CF: map[string]string{CFRequestID: "77"}}), "orphan 10.0.0.8", 0, []int{9}, 0},
		{"someone else's object in the span is not an orphan", append(clean, Held{ID: 10, Addr: a("10.0.0.9")}), "", 0, nil, 0},
		{"the driver's object outside the spans is left to its own AR", append(clean, Held{ID: 11, Addr: a("10.0.0.50"), Owned: true}), "", 0, nil, 0},
		{"MAC changed", with(clean, func(h []Held) []Held {
			h[0] = good(1, "10.0.0.2", "02:00:0a:00:00:99", map[string]string{CFVMID: "42"}, h[0].Description)
			return h
		}), "mismatch 10.0.0.2", 0, nil, 1},
		{"someone else's object where oned holds a lease", with(clean, func(h []Held) []Held {
			h[2] = Held{ID: 3, Addr: a("10.0.0.4"), Description: "printer"}
			return h
		}), "foreign 10.0.0.4", 0, nil, 0},
		{"MAC not recorded yet (lease_mac: sync) is a label, not a mismatch", with(clean, func(h []Held) []Held {
			h[0] = good(1, "10.0.0.2", "", map[string]string{CFVMID: "42"}, h[0].Description)
			return h
		}), "label 10.0.0.2", 0, nil, 1},
		{"labels not recorded yet (as get_address left them)", with(clean, func(h []Held) []Held {
			h[0] = Held{ID: 1, Addr: a("10.0.0.2"), Owned: true, CF: map[string]string{CFARID: "0", CFMAC: "02:00:0a:00:00:02", CFRequestID: "41"}, Description: "OpenNebula AR 0 lease, request 41"}
			return h
		}), "label 10.0.0.2", 0, nil, 1},
		{"a freed lease (deprecated, cooling) oned holds is made a lease again", with(clean, func(h []Held) []Held {
			h[0].Status, h[0].CF = StatusDeprecated, map[string]string{CFARID: "0", CFMAC: "02:00:0a:00:00:02", CFVMID: "42", CFFreesAt: "2026-12-06T10:15:00Z"}
			return h
		}), "mismatch 10.0.0.2", 0, nil, 1},
		{"a deprecated object oned does not hold is no orphan", append(clean, Held{ID: 12, Addr: a("10.0.0.8"), Owned: true, Status: StatusDeprecated}), "", 0, nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, rep := Compare("7", ar, span, tc.held)
			var kinds []string
			for _, f := range got {
				kinds = append(kinds, f.Kind+" "+f.IP)
			}
			if strings.Join(kinds, ", ") != tc.want {
				t.Errorf("findings %v, want %q", got, tc.want)
			}
			if len(rep.Create) != tc.creates || len(rep.Update) != tc.updates || len(rep.Delete) != len(tc.deletes) {
				t.Errorf("repairs %+v", rep)
			}
			for i, id := range tc.deletes {
				if rep.Delete[i] != id {
					t.Errorf("deletes %v, want %v", rep.Delete, tc.deletes)
				}
			}
			// Applying the repairs converges: compare again, nothing to do.
			after := applyRepairs(tc.held, rep)
			if _, again := Compare("7", ar, span, after); !again.Empty() {
				t.Errorf("after the repairs, still %+v", again)
			}
		})
	}
	if _, rep := Compare("7", ar, span, clean[1:]); rep.Create[0].CustomFields[CFVMID] != "42" || rep.Create[0].Description != "OpenNebula VM 42, network 7 AR 0" {
		t.Errorf("created lease record %+v", rep.Create[0])
	}
}

// applyRepairs is what sync would leave in NetBox, for the convergence check.
func applyRepairs(held []Held, rep Repairs) []Held {
	gone := map[int]bool{}
	for _, id := range rep.Delete {
		gone[id] = true
	}
	var out []Held
	for _, h := range held {
		if gone[h.ID] {
			continue
		}
		for _, u := range rep.Update {
			if u.ID == h.ID {
				cf := map[string]string{}
				for k, v := range h.CF {
					cf[k] = v
				}
				for k, v := range u.CustomFields {
					if v == nil {
						delete(cf, k)
						continue
					}
					cf[k] = v.(string)
				}
				h.CF, h.Description = cf, u.Description
				if u.Status != "" {
					h.Status = u.Status
				}
			}
		}
		out = append(out, h)
	}
	for i, c := range rep.Create {
		cf := map[string]string{}
		for k, v := range c.CustomFields {
			cf[k] = v.(string)
		}
		out = append(out, Held{ID: 1000 + i, Addr: c.Addr, Owned: true, CF: cf, Description: c.Description})
	}
	return out
}

// A cloud without networks lists an empty pool: nothing to audit, not an error.
func TestEmptyPool(t *testing.T) {
	vs, err := ParseVNetPool([]byte("<VNET_POOL></VNET_POOL>"))
	if err != nil || len(vs) != 0 {
		t.Fatalf("empty pool: %v, %v", vs, err)
	}
	if _, err := ParseVNets([]byte("<VNET_POOL></VNET_POOL>")); err == nil {
		t.Fatal("ParseVNets accepted a document without networks")
	}
}
