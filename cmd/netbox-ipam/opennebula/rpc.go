package opennebula

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// RPC is the Client over oned's XML-RPC API, found and authenticated as the CLI does
// it: ONE_XMLRPC (default http://localhost:2633/RPC2) and the credentials in ONE_AUTH
// (default ~/.one/one_auth), read through getenv. It answers in milliseconds where
// each CLI command starts Ruby first (about a quarter of a second on a front-end).
func RPC(getenv func(string) string) Client { return newDocuments(rpc{getenv}) }

type rpc struct{ getenv func(string) string }

// callTimeout bounds one call: oned answers an info in milliseconds, and a hook or a
// sync has its own deadline above this.
const callTimeout = 10 * time.Second

func (r rpc) info(ctx context.Context, object string, id int) ([]byte, error) {
	return r.call(ctx, "one."+object+".info", id, false)
}

// pool lists every object (filter -2: all, as `one<object> list` shows oneadmin;
// start and end -1: no paging).
func (r rpc) pool(ctx context.Context, object string) ([]byte, error) {
	return r.call(ctx, "one."+object+"pool.info", -2, -1, -1)
}

func (r rpc) raft(ctx context.Context) ([]byte, error) { return r.call(ctx, "one.zone.raftstatus") }

// vmRange lists the VMs from id start to end, full documents (infoextended: the short
// one.vmpool.info leaves out NIC_ALIAS and PCI), but for DONE ones (state -1).
func (r rpc) vmRange(ctx context.Context, start, end int) ([]byte, error) {
	return r.call(ctx, "one.vmpool.infoextended", -2, start, end, -1)
}

func (r rpc) createHook(ctx context.Context, template string) error {
	_, err := r.call(ctx, "one.hook.allocate", template)
	return err
}

func (r rpc) updateHook(ctx context.Context, id int, template string) error {
	_, err := r.call(ctx, "one.hook.update", id, template, 0) // 0: replace the template
	return err
}

func (r rpc) deleteHook(ctx context.Context, id int) error {
	_, err := r.call(ctx, "one.hook.delete", id)
	return err
}

// updateAR: oned finds the AR by the AR_ID inside template.
func (r rpc) updateAR(ctx context.Context, vnet, _ int, template string) error {
	_, err := r.call(ctx, "one.vn.update_ar", vnet, template)
	return err
}

// call sends method with the session and params (int, bool or string) and returns
// the document (or id) oned answered.
func (r rpc) call(ctx context.Context, method string, params ...any) ([]byte, error) {
	endpoint := r.getenv("ONE_XMLRPC")
	if endpoint == "" {
		endpoint = "http://localhost:2633/RPC2"
	}
	authFile := r.getenv("ONE_AUTH")
	if authFile == "" {
		authFile = filepath.Join(r.getenv("HOME"), ".one", "one_auth")
	}
	auth, err := os.ReadFile(authFile)
	if err != nil {
		// The operator's to fix, as a CLI missing from the PATH was.
		return nil, &mapping.InputError{Msg: fmt.Sprintf("cannot read OpenNebula credentials (%v): run this as oneadmin on the front-end, or set ONE_AUTH", err)}
	}
	var body bytes.Buffer
	body.WriteString(`<?xml version="1.0"?><methodCall><methodName>` + method + `</methodName><params>`)
	writeParam(&body, string(bytes.TrimSpace(auth)))
	for _, p := range params {
		writeParam(&body, p)
	}
	body.WriteString(`</params></methodCall>`)
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", endpoint, &body)
	if err != nil { // not the URL itself: it may carry a password
		return nil, errorf("ONE_XMLRPC is not a usable URL")
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, errorf("asking oned (%s at %s): %v", method, req.URL.Redacted(), errors.Unwrap(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, errorf("asking oned (%s): %v", method, err)
	}
	return parseAnswer(method, raw)
}

func writeParam(b *bytes.Buffer, p any) {
	b.WriteString(`<param><value>`)
	switch v := p.(type) {
	case int:
		b.WriteString(`<int>` + strconv.Itoa(v) + `</int>`)
	case bool:
		if v {
			b.WriteString(`<boolean>1</boolean>`)
		} else {
			b.WriteString(`<boolean>0</boolean>`)
		}
	case string:
		b.WriteString(`<string>`)
		xml.EscapeText(b, []byte(v))
		b.WriteString(`</string>`)
	default:
		panic(fmt.Sprintf("opennebula: XML-RPC parameter of type %T", p))
	}
	b.WriteString(`</value></param>`)
}

// noExists is oned's error code for an object that does not exist (Request.h).
const noExists = 0x0400

// parseAnswer reads oned's answer: [ok, document (or id) or error message, error
// code, …].
func parseAnswer(method string, raw []byte) ([]byte, error) {
	var r struct {
		Values []struct {
			Boolean string `xml:"boolean"`
			String  string `xml:"string"`
			Int     string `xml:"int"`
			I4      string `xml:"i4"`
		} `xml:"params>param>value>array>data>value"`
	}
	if err := xml.Unmarshal(raw, &r); err != nil || len(r.Values) < 2 {
		return nil, errorf("oned's answer to %s is not readable", method)
	}
	if r.Values[0].Boolean != "1" {
		e := &Error{Msg: fmt.Sprintf("oned refused %s: %s", method, mapping.OneLine(r.Values[1].String))}
		if len(r.Values) > 2 {
			code, _ := strconv.Atoi(r.Values[2].I4 + r.Values[2].Int)
			e.Gone = code == noExists
		}
		return nil, e
	}
	v := r.Values[1]
	return []byte(v.String + v.Int + v.I4), nil
}
