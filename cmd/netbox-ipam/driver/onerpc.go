package driver

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// oned's XML-RPC API, for what the driver asks most often: a hook reads a VM, each of
// its networks and maybe a cluster, and each CLI command would start Ruby first (about
// a second on a front-end, longer than the NetBox requests of the hook together). The
// answer to one.<object>.info is the very document `one<object> show -x` prints.

// infoMethods are the `show -x` commands answered over XML-RPC.
var infoMethods = map[string]string{"onevm": "one.vm.info", "onevnet": "one.vn.info", "onecluster": "one.cluster.info", "onevrouter": "one.vrouter.info"}

// frontEnd is the hooks' OneCLI: `show -x <id>` of VMs, networks, clusters and
// virtual routers over XML-RPC, everything else through the CLI. (Audit and sync keep
// the CLI: they run once, by an operator or cron, and read what the CLI shows them.)
func frontEnd(getenv func(string) string) OneCLI {
	return func(ctx context.Context, name string, args ...string) ([]byte, error) {
		method, ok := infoMethods[name]
		if !ok || len(args) != 3 || args[0] != "show" || args[1] != "-x" {
			return execCLI(ctx, name, args...)
		}
		id, err := strconv.Atoi(args[2])
		if err != nil {
			return execCLI(ctx, name, args...)
		}
		return oneRPC(ctx, getenv, method, id, false)
	}
}

// oneRPC calls an XML-RPC method of the local oned as the CLI would (ONE_XMLRPC, the
// credentials of ONE_AUTH or ~/.one/one_auth) with int and bool parameters after the
// session, and returns the document oned answered.
func oneRPC(ctx context.Context, getenv func(string) string, method string, params ...any) ([]byte, error) {
	endpoint := getenv("ONE_XMLRPC")
	if endpoint == "" {
		endpoint = "http://localhost:2633/RPC2"
	}
	authFile := getenv("ONE_AUTH")
	if authFile == "" {
		authFile = filepath.Join(getenv("HOME"), ".one", "one_auth")
	}
	auth, err := os.ReadFile(authFile)
	if err != nil {
		return nil, openNebulaf("cannot read OpenNebula credentials: %v", err)
	}
	var body bytes.Buffer
	body.WriteString(`<?xml version="1.0"?><methodCall><methodName>` + method + `</methodName><params><param><value><string>`)
	xml.EscapeText(&body, bytes.TrimSpace(auth))
	body.WriteString(`</string></value></param>`)
	for _, p := range params {
		switch v := p.(type) {
		case int:
			body.WriteString(`<param><value><int>` + strconv.Itoa(v) + `</int></value></param>`)
		case bool:
			b := "0"
			if v {
				b = "1"
			}
			body.WriteString(`<param><value><boolean>` + b + `</boolean></value></param>`)
		}
	}
	body.WriteString(`</params></methodCall>`)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", endpoint, &body)
	if err != nil {
		return nil, openNebulaf("ONE_XMLRPC %q: %v", endpoint, err)
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, openNebulaf("asking oned (%s): %v", method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, openNebulaf("asking oned (%s): %v", method, err)
	}
	return parseRPCAnswer(method, raw)
}

// noExists is oned's error code for an object that does not exist (Request.h).
const noExists = 0x0400

// parseRPCAnswer reads oned's answer: [ok, document or error message, error code, …].
func parseRPCAnswer(method string, raw []byte) ([]byte, error) {
	var r struct {
		Values []struct {
			Boolean string `xml:"boolean"`
			String  string `xml:"string"`
			Int     string `xml:"int"`
			I4      string `xml:"i4"`
		} `xml:"params>param>value>array>data>value"`
	}
	if err := xml.Unmarshal(raw, &r); err != nil || len(r.Values) < 2 {
		return nil, openNebulaf("oned's answer to %s is not readable", method)
	}
	if r.Values[0].Boolean != "1" {
		e := &Error{Kind: OpenNebula, Msg: fmt.Sprintf("oned refused %s: %s", method, mapping.OneLine(r.Values[1].String))}
		if len(r.Values) > 2 {
			code, _ := strconv.Atoi(r.Values[2].I4 + r.Values[2].Int)
			e.gone = code == noExists
		}
		return nil, e
	}
	return []byte(r.Values[1].String), nil
}
