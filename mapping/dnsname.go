package mapping

import (
	"fmt"
	"slices"
	"strings"
)

// DNSTemplate is the dns_name setting: the DNS name each lease gets in NetBox, from
// its holder, e.g. "{vm}.{network}.cloud.example.org". The hooks write it with the
// lease's label; sync catches up. The zero template writes none.
//
// The name is made a valid DNS name (RFC 1123) by these rules, in this order:
//   - what a placeholder stands for is lower-cased, and each run of characters other
//     than a–z and 0–9 becomes one '-' (a dot too: a VM named "web.1" stays one label);
//   - '-' is trimmed from both ends of each label;
//   - a label longer than 63 characters is cut to 63 (and trimmed again);
//   - a name with an empty label, or longer than 253 characters, is none: the lease
//     gets no DNS name, and the hook says why in oned.log.
//
// The template's own text is checked once, when the configuration is read: lower
// case letters, digits, '-' and '.' only, no empty label.
type DNSTemplate struct {
	parts []dnsPart
}

// dnsPart is literal text, or a placeholder (field set).
type dnsPart struct {
	text, field string
}

// DNSFields are the placeholders a template may use.
var DNSFields = []string{"vm", "id", "network", "network_id", "nic"}

// NameOf is what the placeholders stand for, for one lease.
type NameOf struct {
	VM, ID, Network, NetworkID, NIC string
}

func (n NameOf) field(f string) string {
	switch f {
	case "vm":
		return n.VM
	case "id":
		return n.ID
	case "network":
		return n.Network
	case "network_id":
		return n.NetworkID
	}
	return n.NIC
}

// ParseDNSTemplate reads a dns_name setting ("" is the zero template).
func ParseDNSTemplate(s string) (DNSTemplate, error) {
	var t DNSTemplate
	rest := s
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			t.parts = append(t.parts, dnsPart{text: rest})
			break
		}
		if open > 0 {
			t.parts = append(t.parts, dnsPart{text: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return DNSTemplate{}, fmt.Errorf("dns_name %q: a { without its }", s)
		}
		f := rest[open+1 : open+end]
		if !slices.Contains(DNSFields, f) {
			return DNSTemplate{}, fmt.Errorf("dns_name %q: unknown placeholder {%s} (known: {%s})", s, f, strings.Join(DNSFields, "}, {"))
		}
		t.parts = append(t.parts, dnsPart{field: f})
		rest = rest[open+end+1:]
	}
	// The literal text, with each placeholder standing for one letter, must already be a
	// DNS name: the rules above only ever fix what a placeholder brings.
	var shape strings.Builder
	for _, p := range t.parts {
		if p.field != "" {
			shape.WriteByte('x')
			continue
		}
		for _, r := range p.text {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
				return DNSTemplate{}, fmt.Errorf("dns_name %q: %q is not allowed in a DNS name (lower case letters, digits, '-' and '.')", s, r)
			}
		}
		shape.WriteString(p.text)
	}
	if s != "" {
		for _, label := range strings.Split(strings.TrimSuffix(shape.String(), "."), ".") {
			if label == "" {
				return DNSTemplate{}, fmt.Errorf("dns_name %q has an empty label (two dots in a row, or a leading dot)", s)
			}
		}
	}
	return t, nil
}

// IsZero says whether the template writes no names.
func (t DNSTemplate) IsZero() bool { return len(t.parts) == 0 }

// Name is the lease's DNS name by the rules above; an error says why it has none.
func (t DNSTemplate) Name(n NameOf) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.field == "" {
			b.WriteString(p.text)
			continue
		}
		dash := false // a run of characters made '-' is one '-'
		for _, r := range strings.ToLower(n.field(p.field)) {
			switch {
			case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
				b.WriteRune(r)
				dash = false
			case !dash:
				b.WriteByte('-')
				dash = true
			}
		}
	}
	name := strings.TrimSuffix(b.String(), ".")
	labels := strings.Split(name, ".")
	for i, l := range labels {
		l = strings.Trim(l, "-")
		if len(l) > 63 {
			l = strings.TrimRight(l[:63], "-")
		}
		if l == "" {
			return "", fmt.Errorf("DNS name %q has an empty label once made valid (a placeholder with no letter or digit)", b.String())
		}
		labels[i] = l
	}
	out := strings.Join(labels, ".")
	if len(out) > 253 {
		return "", fmt.Errorf("DNS name %q is longer than 253 characters", out)
	}
	return out, nil
}
