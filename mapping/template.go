package mapping

import (
	"strings"
)

// Template writes OpenNebula template syntax: NAME = [ K = "v", … ].
type Template struct{ b strings.Builder }

var escaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// Vector appends one NAME = [ … ] line. Names are upper-cased and, if repeated, only
// the first is kept (OpenNebula wants no repeated names).
func (t *Template) Vector(name string, attrs Attrs) {
	t.b.WriteString(strings.ToUpper(name))
	t.b.WriteString(" = [ ")
	seen := map[string]bool{}
	first := true
	for _, a := range attrs {
		n := strings.ToUpper(a.Name)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		if !first {
			t.b.WriteString(", ")
		}
		first = false
		t.b.WriteString(n)
		t.b.WriteString(` = "`)
		t.b.WriteString(escaper.Replace(a.Value))
		t.b.WriteString(`"`)
	}
	t.b.WriteString(" ]\n")
}

// String is the template text.
func (t *Template) String() string { return t.b.String() }

// Set replaces name's value in attrs, or appends it.
func (a Attrs) Set(name, value string) Attrs {
	for i := range a {
		if a[i].Name == name {
			a[i].Value = value
			return a
		}
	}
	return append(a, Attr{Name: name, Value: value})
}
