package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/hooks"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// command is one thing netbox-ipam does. An OpenNebula action has action set; an
// operator command has operator set (and maybe parses its own arguments).
type command struct {
	name, args string // name and argument usage
	action     actionFunc
	operator   func(p *program, s *session, ctx context.Context, args []string) int
	// validate checks an operator command's arguments (after --name) before anything
	// is opened, so a wrong command line gets its usage, not a configuration error.
	validate func(args []string) error
	// long commands (audit, sync) read many networks for no waiting oned: they get
	// auditDeadline instead of the configured timeout.
	long bool
	// bare commands need no configuration (version, help).
	bare func(p *program) int
	// summary is the command's paragraph in `netbox-ipam help`: what it does and for whom.
	summary string
}

// actionFunc runs one OpenNebula action and renders its answer for oned.
type actionFunc func(ctx context.Context, d *driver.Driver, req driver.Request) (result, error)

// result is an action's answer rendered, and what its log line needs.
type result struct {
	answer  string
	changes driver.Changes
	leased  string // the address get_address handed out
	warning string
}

// auditDeadline bounds audit and sync, which no oned is waiting for and which may read
// many networks.
const auditDeadline = 15 * time.Minute

var commands = []command{
	{name: "register_address_range", args: "<request-id> < request.b64", action: register,
		summary: "oned, at onevnet create/addar: make or reserve the AR's NetBox prefix and IP range; answer the AR with gateway, DNS, mask, MTU and search domain from the prefix."},
	{name: "unregister_address_range", args: "<request-id> < request.b64", action: done((*driver.Driver).Unregister),
		summary: "oned, at onevnet delete/rmar: remove the IP range, and the prefix when the driver made it; only objects with the driver's tag."},
	{name: "get_address", args: "<request-id> < request.b64", action: getAddress,
		summary: "oned, for a lease without a fixed IP: take the next free addresses of the AR's range in NetBox."},
	{name: "allocate_address", args: "<request-id> < request.b64", action: done((*driver.Driver).Allocate),
		summary: "oned, for a fixed IP (NIC IP, onevnet hold/reserve): record those addresses in NetBox, refusing ones someone else holds."},
	{name: "free_address", args: "<request-id> < request.b64", action: done((*driver.Driver).Free),
		summary: "oned, when a lease ends: delete the driver's IP address objects; anything without the tag is left."},
	{name: "setup", args: "[--name IPAM_MAD]", operator: (*program).setup,
		summary: "Create the tag and custom fields the driver needs in NetBox. Safe to repeat; run after install and after each upgrade."},
	{name: "check", args: "[--name IPAM_MAD]", operator: (*program).check,
		summary: "One line per item (NetBox reachable, token, version, tag, custom fields, hooks); exit 7 when any says FAIL."},
	{name: "audit", args: "[--name IPAM_MAD] [--json] [--all] [FILE…]", operator: (*program).audit, long: true,
		validate: func(args []string) error { _, err := parseAuditArgs("audit", args); return err },
		summary:  "Compare what oned holds (onevnet show -x, or FILEs, or stdin) with NetBox and explain each difference; changes nothing; exit 8 on drift."},
	{name: "sync", args: "[--name IPAM_MAD] [--dry-run] [--json] [--all [--prune]] [FILE…]", operator: (*program).audit, long: true,
		validate: func(args []string) error { _, err := parseAuditArgs("sync", args); return err },
		summary:  "Repair what audit finds, after reading each network again from oned; --all acts only on the RAFT leader (a follower exits 0). The packages run `sync --all` from netbox-ipam-sync.timer once enabled."},
	{name: "hook", args: "[--name IPAM_MAD] api <call> < $API | state < $TEMPLATE", operator: (*program).hook, validate: hookArgs,
		summary: "Run by onehem-server (installed by `hooks install`): label leases with the VM, router or network that holds them."},
	{name: "hooks", args: "[--name IPAM_MAD] install|remove", operator: (*program).hooks, validate: hooksArgs,
		summary: "Register (or remove) the driver's hooks in oned (its hook pool)."},
	{name: "version", bare: func(p *program) int { fmt.Fprintln(p.stdout, "netbox-ipam", version); return 0 },
		summary: "Print the driver's version."},
}

// help is added here, not in the literal: its text lists the table it is in.
func init() {
	commands = append(commands, command{name: "help", bare: func(p *program) int { fmt.Fprint(p.stdout, help()); return 0 },
		summary: "This text (also --help and -h)."})
}

func lookup(name string) (command, bool) {
	if name == "--help" || name == "-h" {
		name = "help"
	}
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// usage is one line naming every command.
func usage() string {
	var actions, operators, bare []string
	for _, c := range commands {
		switch {
		case c.action != nil:
			actions = append(actions, c.name)
		case c.bare != nil:
			bare = append(bare, c.name)
		default:
			operators = append(operators, c.name)
		}
	}
	return fmt.Sprintf("usage: netbox-ipam <%s> <request-id> < request.b64 | %s [--name IPAM_MAD] | %s",
		strings.Join(actions, "|"), strings.Join(operators, " | "), strings.Join(bare, " | "))
}

// help is every command with its arguments and summary, the files and variables the
// driver reads and its exit codes: what an operator needs without the README.
func help() string {
	var b strings.Builder
	b.WriteString("netbox-ipam: OpenNebula's IPAM driver for NetBox.\n\n" + usage() + "\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %s\n", strings.TrimSpace(c.name+" "+c.args))
		for _, line := range wrap(c.summary, 76) {
			fmt.Fprintf(&b, "      %s\n", line)
		}
	}
	b.WriteString(`
Files and environment:
  /etc/one/netbox-ipam.yaml    configuration (NETBOX_IPAM_CONFIG names another file,
                               NETBOX_IPAM_CONFDIR another folder; --name NAME reads
                               netbox-ipam.d/NAME.yaml there first)
  NETBOX_IPAM_<KEY>            overrides a key (dots become _); NETBOX_URL, NETBOX_TOKEN
  ONE_XMLRPC, ONE_AUTH         the oned audit, sync and hooks talk to, as the CLI reads them
  NETBOX_IPAM_ONE=cli          reach oned through OpenNebula's commands on the PATH
                               instead of XML-RPC

Exit codes:
  0 done   1 refused (conflict, no room)   2 usage   3 bad request or AR attributes
  4 configuration   5 NetBox or oned unreachable   6 token refused   7 check failed
  8 drift found   9 NetBox objects do not fit the AR   10 sync partly done   70 internal
`)
	return b.String()
}

// wrap breaks text into lines of at most width characters at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

func register(ctx context.Context, d *driver.Driver, req driver.Request) (result, error) {
	resp, err := d.Register(ctx, req)
	r := result{changes: resp.Changes}
	if err == nil {
		var tpl mapping.Template
		tpl.Vector("AR", resp.AR)
		r.answer = tpl.String()
	}
	return r, err
}

func getAddress(ctx context.Context, d *driver.Driver, req driver.Request) (result, error) {
	resp, err := d.GetAddress(ctx, req)
	r := result{changes: resp.Changes}
	if err == nil {
		var tpl mapping.Template
		tpl.Vector("ADDRESS", mapping.Attrs{{Name: mapping.AttrIP, Value: resp.IP.String()}, {Name: mapping.AttrSize, Value: fmt.Sprint(resp.Size)}})
		r.answer, r.leased = tpl.String(), resp.IP.String()
	}
	return r, err
}

// done adapts the actions whose answer is success alone.
func done(act func(*driver.Driver, context.Context, driver.Request) (driver.Response, error)) actionFunc {
	return func(ctx context.Context, d *driver.Driver, req driver.Request) (result, error) {
		resp, err := act(d, ctx, req)
		return result{changes: resp.Changes, warning: resp.Warning}, err
	}
}

// runAction reads an OpenNebula action's request, runs it and answers oned.
func (p *program) runAction(cmd command) int {
	req, err := p.request()
	if err != nil {
		return fail(p.stderr, err)
	}
	s, closeAll, err := p.start(p.getenv)
	if err != nil {
		return fail(p.stderr, err)
	}
	defer closeAll()
	ctx, cancel := deadline(s.cfg, false)
	defer cancel()
	start, sent := time.Now(), s.nb.Requests()
	res, err := cmd.action(ctx, s.d, req)
	if err == nil {
		if _, werr := io.WriteString(p.stdout, res.answer); werr != nil {
			err = answerLost(werr, res.changes)
		}
	}
	logAction(s.log, cmd.name, req, res, err, s.nb.Requests()-sent, time.Since(start))
	if err != nil {
		return fail(p.stderr, err)
	}
	return 0
}

// answerLost is the error of an action whose answer did not reach oned: oned fails the
// action and never learns what it made, which audit reports and sync removes.
func answerLost(err error, changes driver.Changes) error {
	msg := "could not write the answer to oned: " + err.Error()
	if len(changes) > 0 {
		msg += fmt.Sprintf("; NetBox keeps %s, which `netbox-ipam audit` reports and `sync --all --prune` removes", strings.Join(changes, " "))
	}
	return &answerError{msg}
}

// request reads the request id (argv) and the base64 XML request (stdin).
func (p *program) request() (driver.Request, error) {
	args := p.args
	req := driver.Request{}
	if len(args) > 1 {
		req.ID = args[1]
	}
	if !validRequestID(req.ID) {
		return req, &mapping.InputError{Msg: fmt.Sprintf("request id %q is not a number; oned passes its request number as the first argument (%s)", req.ID, usage())}
	}
	raw, err := io.ReadAll(io.LimitReader(p.stdin, mapping.MaxRequest+1))
	if err != nil {
		return req, &mapping.InputError{Msg: "cannot read the request from stdin: " + err.Error()}
	}
	if len(raw) > mapping.MaxRequest {
		return req, &mapping.InputError{Msg: fmt.Sprintf("request larger than %d bytes", mapping.MaxRequest)}
	}
	// Older OpenNebula passed the base64 as the second argument.
	if len(bytes.TrimSpace(raw)) == 0 && len(args) > 2 {
		raw = []byte(args[2])
	}
	req.Request, err = mapping.Decode(raw)
	return req, err
}

// validRequestID accepts what oned sends (its request counter). The id goes into NetBox
// descriptions and custom fields, so anything else is refused before it gets there.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// runOperator runs setup, check, audit, sync or version.
func (p *program) runOperator(cmd command) int {
	if cmd.bare != nil {
		return cmd.bare(p)
	}
	args, getenv, err := nameFlag(p.args[1:], p.getenv)
	if err != nil {
		return fail(p.stderr, err)
	}
	if cmd.validate != nil {
		if err := cmd.validate(args); err != nil {
			return fail(p.stderr, err)
		}
	}
	s, closeAll, err := p.start(getenv)
	if err != nil {
		return fail(p.stderr, err)
	}
	defer closeAll()
	ctx, cancel := deadline(s.cfg, cmd.long)
	defer cancel()
	p.getenv = getenv
	return cmd.operator(p, s, ctx, append([]string{cmd.name}, args...))
}

// nameFlag takes `--name NAME` out of the operator commands' arguments: the IPAM_MAD
// name of the driver they act for (its configuration file and, for audit and sync, its
// ARs), as the shims of that name say with NETBOX_IPAM_NAME.
func nameFlag(args []string, getenv func(string) string) ([]string, func(string) string, error) {
	var out []string
	name := ""
	for i := 0; i < len(args); i++ {
		if args[i] != "--name" {
			out = append(out, args[i])
			continue
		}
		if i+1 >= len(args) || !validName(args[i+1]) {
			return nil, nil, &usageError{"--name takes the IPAM_MAD name the driver is installed under (letters, digits, - and _); " + usage()}
		}
		name = args[i+1]
		i++
	}
	if name == "" {
		return out, getenv, nil
	}
	return out, func(k string) string {
		if k == "NETBOX_IPAM_NAME" {
			return name
		}
		return getenv(k)
	}, nil
}

func validName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}

func (p *program) setup(s *session, ctx context.Context, _ []string) int {
	lines, err := s.d.Setup(ctx, hooks.New(s.d).Check)
	for _, l := range lines {
		fmt.Fprintln(p.stdout, l)
	}
	if err != nil {
		return fail(p.stderr, err)
	}
	return 0
}

func (p *program) check(s *session, ctx context.Context, _ []string) int {
	r := s.d.Check(ctx, hooks.New(s.d).Check)
	for _, l := range r.Lines {
		fmt.Fprintf(p.stdout, "%-4s %-34s %s\n", l.Word, l.Item, l.Msg)
	}
	if !r.OK {
		return exitCheck
	}
	return 0
}

// openNetBox is the real NetBox client, with each request in the driver's debug log.
func openNetBox(cfg config.Config, log *slog.Logger) (driver.Backend, error) {
	return netbox.New(netbox.Config{
		URL: cfg.URL, Token: cfg.Token, CAFile: cfg.CAFile, Insecure: cfg.Insecure,
		Retries: cfg.Retries, UserAgent: "one-netbox-ipam/" + version, Observe: observer(log),
	})
}
