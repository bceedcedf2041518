package mapping

import (
	"strings"
	"testing"
)

func TestParseDNSTemplate(t *testing.T) {
	cases := []struct{ tmpl, wantErr string }{
		{"", ""},
		{"{vm}.{network}.cloud.example.org", ""},
		{"vm-{id}-{nic}.{network_id}.example.org.", ""},
		{"{vm}.{tenant}.example.org", "unknown placeholder {tenant}"},
		{"{vm.example.org", "a { without its }"},
		{"{vm}.Cloud.example.org", "'C' is not allowed"},
		{"{vm}_{id}.example.org", "'_' is not allowed"},
		{"{vm}..example.org", "empty label"},
		{".{vm}.example.org", "empty label"},
	}
	for _, tc := range cases {
		_, err := ParseDNSTemplate(tc.tmpl)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%q: %v, want %q", tc.tmpl, err, tc.wantErr)
		}
	}
}

func TestDNSName(t *testing.T) {
	web := NameOf{VM: "web", ID: "42", Network: "public", NetworkID: "7", NIC: "NIC0"}
	cases := []struct {
		name, tmpl string
		of         NameOf
		want, err  string
	}{
		{"every placeholder", "{vm}-{id}.{nic}.{network}-{network_id}.example.org", web, "web-42.nic0.public-7.example.org", ""},
		{"lower case", "{vm}.example.org", NameOf{VM: "Web01"}, "web01.example.org", ""},
		{"a run of others is one dash", "{vm}.example.org", NameOf{VM: "db  prod__1"}, "db-prod-1.example.org", ""},
		{"a dot stays in its label", "{vm}.example.org", NameOf{VM: "web.1"}, "web-1.example.org", ""},
		{"dashes trimmed at label ends", "{vm}.example.org", NameOf{VM: "_web_"}, "web.example.org", ""},
		{"next to literal dashes", "vm-{vm}-x.example.org", NameOf{VM: "-a-"}, "vm--a--x.example.org", ""},
		{"not ASCII", "{vm}.example.org", NameOf{VM: "café"}, "caf.example.org", ""},
		{"a trailing dot dropped", "{vm}.example.org.", web, "web.example.org", ""},
		{"cut to 63", "{vm}.example.org", NameOf{VM: strings.Repeat("a", 62) + "_b"}, strings.Repeat("a", 62) + ".example.org", ""},
		{"empty label", "{vm}.example.org", NameOf{VM: "日本"}, "", "empty label"},
		{"no name at all", "{vm}.example.org", NameOf{}, "", "empty label"},
		{"too long", "{vm}.{vm}.{vm}.{vm}.example.org", NameOf{VM: strings.Repeat("a", 63)}, "", "longer than 253"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := ParseDNSTemplate(tc.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.Name(tc.of)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("%q, %v; want an error %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("%q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if z, _ := ParseDNSTemplate(""); !z.IsZero() {
		t.Error("an empty dns_name is not the zero template")
	}
}
