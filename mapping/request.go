package mapping

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxRequest bounds what is read from stdin: real requests are a few KiB.
const MaxRequest = 1 << 20

// MaxHookArgument bounds a hook's argument: a VM document carries its whole history
// (every migration, resize, snapshot), which grows past MaxRequest on old VMs.
const MaxHookArgument = 64 << 20

// Attr is one attribute of an AR or ADDRESS element.
type Attr struct{ Name, Value string }

// Attrs keeps the order of the request, since register echoes it back.
type Attrs []Attr

// Get returns the trimmed value of name ("" when absent).
func (a Attrs) Get(name string) string {
	for _, x := range a {
		if x.Name == name {
			return strings.TrimSpace(x.Value)
		}
	}
	return ""
}

// String is the attributes as a reader sees them: K = "v", …
func (a Attrs) String() string {
	parts := make([]string, 0, len(a))
	for _, x := range a {
		parts = append(parts, fmt.Sprintf("%s = %q", x.Name, x.Value))
	}
	return strings.Join(parts, ", ")
}

// Has reports whether name is present with a non-empty value.
func (a Attrs) Has(name string) bool { return a.Get(name) != "" }

// Int returns name as an integer; ok is false when absent, err when not a number.
func (a Attrs) Int(name string) (v int, ok bool, err error) {
	s := a.Get(name)
	if s == "" {
		return 0, false, nil
	}
	v, err = strconv.Atoi(s)
	if err != nil {
		return 0, true, &InputError{Msg: fmt.Sprintf("%s %q is not a whole number", name, s)}
	}
	return v, true, nil
}

// Request is one IPAM action's input.
type Request struct {
	AR      Attrs
	Address Attrs
}

// InputError is a request OpenNebula (or a person) got wrong.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// Decode reads the base64 text of an IPAM request and parses its XML.
func Decode(b64 []byte) (Request, error) {
	text := bytes.TrimSpace(b64)
	if len(text) == 0 {
		return Request{}, &InputError{Msg: "empty request: expected base64 XML on stdin"}
	}
	raw, err := base64.StdEncoding.DecodeString(string(text))
	if err != nil {
		return Request{}, &InputError{Msg: "request is not valid base64: " + err.Error()}
	}
	return Parse(raw)
}

// Parse reads <IPAM_DRIVER_ACTION_DATA><AR>…</AR><ADDRESS>…</ADDRESS></…>.
// Only plain elements are read; Go's decoder expands no user-defined entities.
func Parse(raw []byte) (Request, error) {
	d := xml.NewDecoder(bytes.NewReader(raw))
	d.Strict = true
	var req Request
	depth, section := 0, ""
	var cur *Attrs
	var name string
	var text strings.Builder
	sawRoot := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Request{}, &InputError{Msg: "request is not valid XML: " + err.Error()}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch depth {
			case 1:
				if t.Name.Local != "IPAM_DRIVER_ACTION_DATA" {
					return Request{}, &InputError{Msg: fmt.Sprintf("request root is <%s>, want <IPAM_DRIVER_ACTION_DATA>", t.Name.Local)}
				}
				sawRoot = true
			case 2:
				section = t.Name.Local
				switch section {
				case "AR":
					cur = &req.AR
				case "ADDRESS":
					cur = &req.Address
				default:
					cur = nil
				}
			case 3:
				name = strings.ToUpper(t.Name.Local)
				text.Reset()
			}
		case xml.CharData:
			if depth == 3 {
				text.Write(t)
			}
		case xml.EndElement:
			if depth == 3 && cur != nil {
				*cur = append(*cur, Attr{Name: name, Value: text.String()})
			}
			depth--
		}
	}
	if !sawRoot {
		return Request{}, &InputError{Msg: "request holds no <IPAM_DRIVER_ACTION_DATA> document"}
	}
	if len(req.AR) == 0 {
		return Request{}, &InputError{Msg: "request has no <AR> attributes"}
	}
	return req, nil
}
