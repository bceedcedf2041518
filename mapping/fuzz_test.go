package mapping

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
)

// onedVector reads one NAME = [ K = "v", … ] line the way oned's template lexer does:
// names [[:alnum:]_]+, values "([^"]|\")*" with flex's longest match, and unescape
// turning \" into " only. It is the test's model of oned, written from its source.
var (
	onedToken  = regexp.MustCompile(`^\s*(?:([[:alnum:]_]+)|(=)|(\[)|(,)|(\])|("(?:[^"]|\\")*"))`)
	onedString = regexp.MustCompile(`^"(?:[^"]|\\")*"`)
)

func init() { onedString.Longest(); onedToken.Longest() }

func onedVector(line string) (string, map[string]string, bool) {
	var toks []string
	rest := strings.TrimRight(line, "\n")
	for strings.TrimSpace(rest) != "" {
		m := onedToken.FindStringSubmatchIndex(rest)
		if m == nil {
			return "", nil, false
		}
		tok := strings.TrimSpace(rest[:m[1]])
		if strings.HasPrefix(tok, `"`) { // flex: the longest quoted string from here
			start := strings.Index(rest, `"`)
			s := onedString.FindString(rest[start:])
			tok, m[1] = s, start+len(s)
		}
		toks = append(toks, tok)
		rest = rest[m[1]:]
	}
	if len(toks) < 4 || toks[1] != "=" || toks[2] != "[" || toks[len(toks)-1] != "]" {
		return "", nil, false
	}
	out := map[string]string{}
	body := toks[3 : len(toks)-1]
	for i := 0; i < len(body); i += 4 {
		if i+2 >= len(body) || body[i+1] != "=" || !strings.HasPrefix(body[i+2], `"`) || (i+3 < len(body) && body[i+3] != ",") {
			return "", nil, false
		}
		v := body[i+2]
		out[body[i]] = strings.ReplaceAll(v[1:len(v)-1], `\"`, `"`)
	}
	return toks[0], out, true
}

// Whatever the values, an answer Echoable accepts is read back by oned exactly.
func FuzzTemplateRoundTrip(f *testing.F) {
	for _, s := range [][2]string{
		{"DESCRIPTION", `say "hi" to C:\net`}, {"NOTE", "two\nlines"}, {"X", `a\"b`}, {"Y", `"`}, {"Z", `]]`},
		{"Q", `\\`}, {"EMPTY", ""}, {"TEMPLATE", `] = [ A = "b" ]`}, {"U", "ünïcödé"},
	} {
		f.Add(s[0], s[1], "IP", "10.0.0.2")
	}
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2 string) {
		attrs := Attrs{{n1, v1}, {n2, v2}}
		if strings.EqualFold(n1, n2) || Echoable(attrs) != nil {
			return
		}
		var tpl Template
		tpl.Vector("AR", attrs)
		name, got, ok := onedVector(tpl.String())
		if !ok || name != "AR" || len(got) != 2 || got[strings.ToUpper(n1)] != v1 || got[strings.ToUpper(n2)] != v2 {
			t.Fatalf("oned would read %q as %v (ok %v), want %s=%q %s=%q", tpl.String(), got, ok, n1, v1, n2, v2)
		}
	})
}

// Decode never panics, and what it accepts is a well-formed request.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`<IPAM_DRIVER_ACTION_DATA><AR><TYPE>IP4</TYPE><SIZE>4</SIZE></AR><ADDRESS><SIZE>1</SIZE></ADDRESS></IPAM_DRIVER_ACTION_DATA>`,
		`<IPAM_DRIVER_ACTION_DATA><AR><DESC><![CDATA[a "b" \c]]></DESC></AR></IPAM_DRIVER_ACTION_DATA>`,
		`<IPAM_DRIVER_ACTION_DATA><AR><IP>&amp;</IP></AR></IPAM_DRIVER_ACTION_DATA>`,
		`<!DOCTYPE x [<!ENTITY a "aaaa">]><IPAM_DRIVER_ACTION_DATA><AR><IP>&a;</IP></AR></IPAM_DRIVER_ACTION_DATA>`,
		`<IPAM_DRIVER_ACTION_DATA><AR><X><Y>deep</Y></X></AR></IPAM_DRIVER_ACTION_DATA>`,
		`<IPAM_DRIVER_ACTION_DATA>`, ``, `<a>`,
	} {
		f.Add([]byte(base64.StdEncoding.EncodeToString([]byte(s))))
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := Decode(in)
		if err != nil {
			if _, ok := err.(*InputError); !ok {
				t.Fatalf("error %T %v, want *InputError", err, err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if len(r.AR) == 0 {
			t.Fatal("accepted a request without AR attributes")
		}
		for _, a := range append(append(Attrs{}, r.AR...), r.Address...) {
			if a.Name == "" || a.Name != strings.ToUpper(a.Name) {
				t.Fatalf("attribute name %q", a.Name)
			}
		}
	})
}

// The model of oned is not the writer's mirror: it reads the old doubled backslash as
// two, and loses a value that ends in a backslash.
func TestOnedModel(t *testing.T) {
	_, got, ok := onedVector(`AR = [ D = "C:\\net", E = "x" ]`)
	if !ok || got["D"] != `C:\\net` {
		t.Errorf("doubled backslash read as %q (ok %v)", got["D"], ok)
	}
	_, got, ok = onedVector(`AR = [ D = "a\", E = "x" ]`)
	if ok && got["D"] == `a\` && got["E"] == "x" {
		t.Errorf("a trailing backslash came back intact: %v", got)
	}
	_, got, ok = onedVector(`AR = [ D = "say \"hi\"", E = "x" ]`)
	if !ok || got["D"] != `say "hi"` || got["E"] != "x" {
		t.Errorf("escaped quotes read as %v (ok %v)", got, ok)
	}
}
