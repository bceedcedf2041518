package netbox

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestRelease(t *testing.T) {
	for _, tc := range []struct {
		in                   string
		known, macs, single1 bool
	}{
		{"4.2.9", true, false, false},
		{"4.5", true, false, false},
		{"4.6.0", true, false, false},
		{"4.6.1", true, false, true},
		{"4.7.3", true, true, true},
		{"v4.8.0-beta1", true, true, true},
		{"", false, true, true}, // no answer yet: the newest
		{"junk", false, true, true},
	} {
		r := ParseRelease(tc.in)
		if r.Known() != tc.known || MACShortcut(r) != tc.macs || SingleAddressRanges(r) != tc.single1 {
			t.Errorf("%q: %+v known %v, MAC shortcut %v, single-address ranges %v; want %v %v %v", tc.in, r, r.Known(), MACShortcut(r), SingleAddressRanges(r), tc.known, tc.macs, tc.single1)
		}
	}
	if !ParseRelease("4.10.0").AtLeast(4, 7, 0) || ParseRelease("4.2.9").AtLeast(4, 3, 0) || !ParseRelease("5.0.0").AtLeast(4, 9, 9) {
		t.Error("AtLeast compares release numbers, not text")
	}
}

// The release line comes from the API-Version header of answers the client gets anyway:
// on NetBox 4.2–4.6 (mac_address read-only on interfaces) the interfaces are made
// without it and their MACs as MAC address objects, made primary, in two more requests;
// on 4.7 the shortcut, in one.
func TestCreateVMInterfacesMACs(t *testing.T) {
	for _, tc := range []struct {
		apiVersion string
		want       []string
	}{
		{"4.2", []string{"GET /api/status/", "POST /api/virtualization/interfaces/ [{name eth0} {name eth1}]",
			"POST /api/dcim/mac-addresses/ [{mac 02:00:0a:00:00:01 on 11} {mac 02:00:0a:00:00:02 on 12}]",
			"PATCH /api/virtualization/interfaces/ [{id 11 primary 101} {id 12 primary 102}]"}},
		{"4.7", []string{"GET /api/status/", "POST /api/virtualization/interfaces/ [{name eth0 mac 02:00:0a:00:00:01} {name eth1 mac 02:00:0a:00:00:02}]"}},
	} {
		t.Run(tc.apiVersion, func(t *testing.T) {
			var got []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("API-Version", tc.apiVersion)
				w.Header().Set("Content-Type", "application/json")
				var body []map[string]any
				b, _ := io.ReadAll(r.Body)
				_ = json.Unmarshal(b, &body)
				line := r.Method + " " + r.URL.Path
				var parts []string
				var answer []map[string]any
				for i, o := range body {
					switch r.URL.Path {
					case "/api/virtualization/interfaces/":
						if r.Method == "PATCH" {
							parts = append(parts, "{id "+jsonText(o["id"])+" primary "+jsonText(o["primary_mac_address"])+"}")
							continue
						}
						p := "{name " + jsonText(o["name"])
						if m, ok := o["mac_address"]; ok {
							p += " mac " + jsonText(m)
						}
						parts = append(parts, p+"}")
						answer = append(answer, map[string]any{"id": 11 + i, "name": o["name"], "mac_address": nil})
					case "/api/dcim/mac-addresses/":
						parts = append(parts, "{mac "+jsonText(o["mac_address"])+" on "+jsonText(o["assigned_object_id"])+"}")
						answer = append(answer, map[string]any{"id": 101 + i, "mac_address": strings.ToUpper(jsonText(o["mac_address"]))})
					}
				}
				if len(parts) > 0 {
					line += " [" + strings.Join(parts, " ") + "]"
				}
				got = append(got, line)
				if r.URL.Path == "/api/status/" {
					_, _ = w.Write([]byte(`{"netbox-version":"` + tc.apiVersion + `.0"}`))
					return
				}
				_ = json.NewEncoder(w).Encode(answer)
			}))
			defer srv.Close()
			c, err := New(Config{URL: srv.URL, Token: "x"})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if _, err := c.Status(ctx); err != nil || c.APIVersion() != tc.apiVersion {
				t.Fatalf("status: %v, API version %q", err, c.APIVersion())
			}
			made, err := c.CreateVMInterfaces(ctx, []VMInterfaceSpec{{VMID: 7, Name: "eth0", MAC: "02:00:0a:00:00:01"}, {VMID: 7, Name: "eth1", MAC: "02:00:0a:00:00:02"}})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if tc.apiVersion == "4.2" && (len(made) != 2 || made[1].MACAddress != "02:00:0A:00:00:02") {
				t.Errorf("interfaces made %+v: want their MACs as NetBox recorded them", made)
			}
		})
	}
}

// jsonText is a decoded JSON string or number as text.
func jsonText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}
