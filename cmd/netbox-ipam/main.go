// Command netbox-ipam is the OpenNebula IPAM driver for NetBox. OpenNebula's one_ipam
// runs the shims in remotes/ipam/netbox/, which exec this binary with the action name:
//
//	netbox-ipam <action> <request-id>   (base64 XML request on stdin)
//
// This package is the edge, shaped like the CNI library's skel: the program struct is
// the only place that knows argv, stdin, stdout, stderr, the environment and exit
// codes; one command table (commands.go) drives dispatch, usage and validation; the
// driver package does the work and returns typed answers, rendered here.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// program is one run of netbox-ipam: its inputs and outputs, and how it reaches NetBox
// (tests give an in-memory NetBox).
type program struct {
	args           []string
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	open           func(cfg config.Config, log *slog.Logger) (driver.Backend, error)
	// oned replaces OpenNebula when set (tests give an in-memory oned).
	oned opennebula.Client
}

// run is the whole program: args without argv[0]; returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	p := &program{args: args, stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, open: openNetBox,
		oned: openOned(getenv)}
	return p.run()
}

func (p *program) run() (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(p.stderr, "netbox-ipam: internal error: %v (please report it)\n", mapping.OneLine(fmt.Sprint(r)))
			code = exitInternal
		}
	}()
	if len(p.args) == 0 {
		fmt.Fprintln(p.stderr, usage())
		return exitUsage
	}
	cmd, ok := lookup(p.args[0])
	if !ok {
		fmt.Fprintf(p.stderr, "unknown command %q; %s\n", p.args[0], usage())
		return exitUsage
	}
	if cmd.action != nil {
		return p.runAction(cmd)
	}
	return p.runOperator(cmd)
}

// session is what a command runs with once its input is understood: the
// configuration, the driver, the driver's own log and the NetBox it talks to.
type session struct {
	cfg config.Config
	d   *driver.Driver
	nb  driver.Backend
	log *slog.Logger
}

// start loads the configuration and opens the log and NetBox; close releases them.
func (p *program) start(getenv func(string) string) (*session, func(), error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, nil, &configError{err.Error()}
	}
	log, logFile := openLog(cfg.Log, p.stderr)
	closeLog := func() {
		if logFile != nil {
			logFile.Close()
		}
	}
	nb, err := p.open(cfg, log)
	if err != nil {
		closeLog()
		return nil, nil, err
	}
	d := driver.New(cfg, nb, p.oned, p.stderr)
	return &session{cfg: cfg, d: d, nb: nb, log: log}, closeLog, nil
}

// openOned is how the driver reaches OpenNebula: oned's XML-RPC API, or with
// NETBOX_IPAM_ONE=cli OpenNebula's commands on the PATH (an operator whose access goes
// through a wrapper). Both read ONE_XMLRPC and ONE_AUTH as the CLI does.
func openOned(getenv func(string) string) opennebula.Client {
	if getenv("NETBOX_IPAM_ONE") == "cli" {
		return opennebula.CLI(getenv)
	}
	return opennebula.RPC(getenv)
}

// deadline is the context of one command.
func deadline(cfg config.Config, long bool) (context.Context, context.CancelFunc) {
	if long {
		return context.WithTimeout(context.Background(), auditDeadline)
	}
	return context.WithTimeout(context.Background(), cfg.Timeout)
}
