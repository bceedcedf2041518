package mapping

import (
	"fmt"
	"strings"
)

// Template writes OpenNebula template syntax: NAME = [ K = "v", … ].
//
// What oned's parser (src/parsers/template_parser.l and template_syntax.y) accepts
// decides the escaping: names are [[:alnum:]_]+; a value is "…" holding any text in
// which a quote is written \" ; and unescape turns \" back into " and nothing else, so
// a backslash is written as it is (doubling it would double it in oned). Two values
// cannot come back intact: one ending in a backslash (its last \ would escape the
// closing quote) and one holding "]]>" (the lexer aborts the whole template on it).
// Echoable refuses those before anything is written.
type Template struct{ b strings.Builder }

var escaper = strings.NewReplacer(`"`, `\"`)

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

// Echoable checks that oned can read attrs back from a Template: names of letters,
// digits and _, values not ending in a backslash and without "]]>".
func Echoable(attrs Attrs) error {
	for _, a := range attrs {
		if !validName(a.Name) {
			return &InputError{Msg: fmt.Sprintf("attribute name %q is not an OpenNebula attribute name (letters, digits, _)", a.Name)}
		}
		if strings.HasSuffix(a.Value, `\`) {
			return &InputError{Msg: fmt.Sprintf("%s ends with a backslash, which OpenNebula's template syntax cannot carry back; remove it", a.Name)}
		}
		if strings.Contains(a.Value, "]]>") {
			return &InputError{Msg: fmt.Sprintf(`%s holds "]]>", which OpenNebula's template parser refuses; remove it`, a.Name)}
		}
	}
	return nil
}

func validName(n string) bool {
	if n == "" {
		return false
	}
	for _, r := range n {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

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

// OneLine folds a message onto one line: oned logs and shows one line per message.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
