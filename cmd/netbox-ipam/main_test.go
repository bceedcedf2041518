package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// The dispatcher driven in-process with buffers: everything that fails before NetBox.
func TestDispatcher(t *testing.T) {
	good := base64.StdEncoding.EncodeToString([]byte(`<IPAM_DRIVER_ACTION_DATA><AR><TYPE>IP4</TYPE><SIZE>4</SIZE></AR><ADDRESS><SIZE>1</SIZE></ADDRESS></IPAM_DRIVER_ACTION_DATA>`))
	noConfig := map[string]string{"NETBOX_IPAM_CONFIG": "/nonexistent/netbox-ipam.yaml"}
	unreachable := map[string]string{"NETBOX_IPAM_CONFIG": "", "NETBOX_URL": "http://127.0.0.1:9", "NETBOX_TOKEN": "t"}
	withEnv := map[string]string{"NETBOX_IPAM_CONFIG": "", "NETBOX_URL": "not a url", "NETBOX_TOKEN": "secret-token-value"}
	free := base64.StdEncoding.EncodeToString([]byte(`<IPAM_DRIVER_ACTION_DATA><AR><AR_ID>0</AR_ID><TYPE>IP4</TYPE><IP>10.0.0.2</IP><SIZE>4</SIZE><NETBOX_IP_RANGE_ID>5</NETBOX_IP_RANGE_ID></AR><ADDRESS><IP>10.0.0.3</IP><SIZE>1</SIZE></ADDRESS></IPAM_DRIVER_ACTION_DATA>`))
	cases := []struct {
		name     string
		args     []string
		stdin    string
		env      map[string]string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"no args", nil, "", nil, exitUsage, "", "usage: netbox-ipam"},
		{"unknown", []string{"frobnicate"}, "", nil, exitUsage, "", `unknown command "frobnicate"`},
		{"version", []string{"version"}, "", nil, 0, "netbox-ipam dev\n", ""},
		{"bad base64", []string{"get_address", "7"}, "%%%", noConfig, exitInput, "", "request is not valid base64"},
		{"empty stdin", []string{"get_address", "7"}, "", noConfig, exitInput, "", "empty request"},
		{"huge stdin", []string{"get_address", "7"}, strings.Repeat("A", 1<<20+10), noConfig, exitInput, "", "request larger than"},
		{"no request id", []string{"get_address"}, good, noConfig, exitInput, "", `request id "" is not a number`},
		{"request id not a number", []string{"get_address", "7; rm -rf /"}, good, noConfig, exitInput, "", `request id "7; rm -rf /" is not a number`},
		{"request id too long", []string{"get_address", strings.Repeat("9", 21)}, good, noConfig, exitInput, "", "is not a number"},
		{"--name without a name", []string{"audit", "--name"}, "", noConfig, exitUsage, "", "--name takes the IPAM_MAD name"},
		{"--name with a path", []string{"check", "--name", "../x"}, "", noConfig, exitUsage, "", "--name takes the IPAM_MAD name"},
		{"prune without --all", []string{"sync", "--prune"}, "", noConfig, exitUsage, "", "--prune needs --all"},
		{"audit takes no --prune", []string{"audit", "--all", "--prune"}, "", noConfig, exitUsage, "", "unknown option --prune"},
		{"audit: unknown option", []string{"audit", "--bogus"}, "", noConfig, exitUsage, "", "unknown option --bogus"},
		{"hooks without a verb", []string{"hooks", "--name", "nb2"}, "", noConfig, exitUsage, "", "usage: netbox-ipam hooks [--name IPAM_MAD] install|remove"},
		{"hook without a call", []string{"hook", "api"}, "", noConfig, exitUsage, "", "usage: netbox-ipam hook [--name IPAM_MAD] api <call>"},
		{"hook: not an API hook argument", []string{"hook", "api", "one.vm.allocate"}, "<VM/>", unreachable, exitInput, "", "not an OpenNebula API hook argument"},
		{"hook state: not a VM", []string{"hook", "state"}, "<VNET><ID>1</ID></VNET>", unreachable, exitInput, "", "<VNET> is not an OpenNebula VM document"},
		{"hook: argument larger than a VM's history makes", []string{"hook", "state"}, strings.Repeat("A", mapping.MaxHookArgument+1), unreachable, exitInput, "", "the hook's argument is larger than 64 MiB"},
		{"hook state takes no call", []string{"hook", "state", "one.vm.allocate"}, "", noConfig, exitUsage, "", "usage: netbox-ipam hook"},
		{"audit: not a network document", []string{"audit"}, "<VM><ID>1</ID></VM>", unreachable, exitInput, "", "<VM> is not an OpenNebula network document"},
		{"audit: nothing given", []string{"audit"}, "", unreachable, exitInput, "", "no network given"},
		{"sync --all without OpenNebula credentials", []string{"sync", "--all"}, "", unreachable, exitInput, "", "cannot read OpenNebula credentials (open .one/one_auth: no such file or directory): run this as oneadmin on the front-end, or set ONE_AUTH"},
		{"audit --all without OpenNebula credentials", []string{"audit", "--all"}, "", unreachable, exitInput, "", "cannot read OpenNebula credentials"},
		{"argv form accepted", []string{"get_address", "7", "%%%"}, "", noConfig, exitInput, "", "request is not valid base64"},
		{"missing config file", []string{"get_address", "7"}, good, noConfig, exitConfig, "", "netbox-ipam configuration: cannot read configuration file"},
		// A failed free would strand the lease in oned: NetBox gone is logged, not failed.
		{"free with NetBox gone", []string{"free_address", "7"}, free, unreachable, 0, "", "INFO: could not free 10.0.0.3 (+0) in AR 0 (10.0.0.2…10.0.0.5) in NetBox, left for `netbox-ipam sync`: GET /api/ipam/ip-ranges/5/: cannot reach NetBox"},
		{"free of an address outside the AR", []string{"free_address", "7"}, base64.StdEncoding.EncodeToString([]byte(strings.Replace(mustDecode(free), "<IP>10.0.0.3</IP>", "<IP>10.0.0.9</IP>", 1))), unreachable, exitInput, "", "10.0.0.9 (+0) is outside AR 0"},
		{"bad URL, token hidden", []string{"get_address", "7"}, good, withEnv, exitConfig, "", `NetBox URL "not a url" is not an http(s) URL`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, strings.NewReader(tc.stdin), &out, &errb, func(k string) string { return tc.env[k] })
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.wantCode, errb.String())
			}
			if out.String() != tc.wantOut {
				t.Errorf("stdout %q, want %q", out.String(), tc.wantOut)
			}
			if !strings.Contains(errb.String(), tc.wantErr) {
				t.Errorf("stderr %q, want %q", errb.String(), tc.wantErr)
			}
			if strings.Count(errb.String(), "\n") > 1 {
				t.Errorf("stderr has more than one line: %q", errb.String())
			}
			if strings.Contains(errb.String(), "secret-token-value") {
				t.Errorf("token on stderr: %q", errb.String())
			}
		})
	}
}

// A panic inside an action still gives one line and a non-zero exit.
func TestPanicBecomesOneLine(t *testing.T) {
	commands = append(commands, command{name: "boom", action: func(context.Context, *driver.Driver, driver.Request) (result, error) {
		panic("kaboom\nwith lines")
	}})
	defer func() { commands = commands[:len(commands)-1] }()
	good := base64.StdEncoding.EncodeToString([]byte(`<IPAM_DRIVER_ACTION_DATA><AR><TYPE>IP4</TYPE></AR></IPAM_DRIVER_ACTION_DATA>`))
	var out, errb bytes.Buffer
	env := map[string]string{"NETBOX_IPAM_CONFIG": "", "NETBOX_URL": "http://127.0.0.1:9", "NETBOX_TOKEN": "t"}
	code := run([]string{"boom", "1"}, strings.NewReader(good), &out, &errb, func(k string) string { return env[k] })
	if code != exitInternal || errb.String() != "netbox-ipam: internal error: kaboom with lines (please report it)\n" {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

// The whole program over any stdin, for every action (NetBox unreachable, so requests
// that parse fail fast): never a panic or a stack trace, never an answer on stdout
// without exit 0, always exactly one message line on failure.
func FuzzDispatcher(f *testing.F) {
	for _, s := range []string{
		`<IPAM_DRIVER_ACTION_DATA><AR><TYPE>IP4</TYPE><IP>10.0.0.2</IP><SIZE>4</SIZE><AR_ID>0</AR_ID><NETBOX_IP_RANGE_ID>7</NETBOX_IP_RANGE_ID></AR><ADDRESS><SIZE>1</SIZE></ADDRESS></IPAM_DRIVER_ACTION_DATA>`,
		`<IPAM_DRIVER_ACTION_DATA><AR><TYPE>IP4</TYPE><SIZE>-1</SIZE></AR></IPAM_DRIVER_ACTION_DATA>`,
		`<IPAM_DRIVER_ACTION_DATA><AR><TYPE>IP4</TYPE><IP>10.0.0.2</IP><SIZE>99999999999999999999</SIZE></AR><ADDRESS><IP>::1</IP><SIZE>1</SIZE></ADDRESS></IPAM_DRIVER_ACTION_DATA>`,
		`<IPAM_DRIVER_ACTION_DATA><AR><TYPE>IP4</TYPE><IP>255.255.255.255</IP><SIZE>2</SIZE><NETBOX_IP_RANGE_ID>x</NETBOX_IP_RANGE_ID></AR></IPAM_DRIVER_ACTION_DATA>`,
	} {
		for _, c := range commands {
			if c.action != nil {
				f.Add(c.name, []byte(base64.StdEncoding.EncodeToString([]byte(s))))
			}
		}
	}
	env := map[string]string{"NETBOX_IPAM_CONFIG": "", "NETBOX_URL": "http://127.0.0.1:9", "NETBOX_TOKEN": "nbt_k.secret",
		"NETBOX_IPAM_RETRIES": "0", "NETBOX_IPAM_TIMEOUT": "2s"}
	f.Fuzz(func(t *testing.T, action string, stdin []byte) {
		if c, ok := lookup(action); !ok || c.action == nil {
			return
		}
		var out, errb bytes.Buffer
		code := run([]string{action, "7"}, bytes.NewReader(stdin), &out, &errb, func(k string) string { return env[k] })
		if code == exitInternal || strings.Contains(errb.String(), "goroutine") {
			t.Fatalf("internal error or stack trace: %q", errb.String())
		}
		if code != 0 {
			if out.Len() != 0 {
				t.Fatalf("stdout %q on failure", out.String())
			}
			lines := 0
			for _, l := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
				if !strings.HasPrefix(l, "INFO:") {
					lines++
				}
			}
			if lines != 1 {
				t.Fatalf("%d message lines: %q", lines, errb.String())
			}
		}
		if strings.Contains(errb.String(), "secret") {
			t.Fatal("token on stderr")
		}
	})
}

func mustDecode(b64 string) string {
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// help (the packages' only manual besides the README) names every command with its
// arguments and a summary, and exits 0 under each spelling.
func TestHelpCoversEveryCommand(t *testing.T) {
	for _, spelling := range []string{"help", "--help", "-h"} {
		var out, errb bytes.Buffer
		if code := run([]string{spelling}, strings.NewReader(""), &out, &errb, func(string) string { return "" }); code != 0 || errb.Len() != 0 {
			t.Fatalf("netbox-ipam %s: exit %d, stderr %q", spelling, code, errb.String())
		}
		text := out.String()
		for _, c := range commands {
			if c.summary == "" {
				t.Errorf("command %s has no summary for help", c.name)
			}
			if !strings.Contains(text, "\n  "+strings.TrimSpace(c.name+" "+c.args)+"\n") {
				t.Errorf("netbox-ipam %s does not show %q with its arguments", spelling, c.name)
			}
			if !strings.Contains(strings.Join(strings.Fields(text), " "), c.summary) {
				t.Errorf("netbox-ipam %s does not show the summary of %s", spelling, c.name)
			}
		}
		for _, code := range []string{"2 usage", "8 drift", "10 sync partly done"} {
			if !strings.Contains(text, code) {
				t.Errorf("netbox-ipam %s does not explain exit code %q", spelling, code)
			}
		}
	}
}
