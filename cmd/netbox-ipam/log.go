package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/driver"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// The driver's own log (log.file): one line per action with what an operator needs to
// follow a lease from oned.log to NetBox: request id, action, AR, address, result,
// the NetBox objects created (+) and removed (-), the number of NetBox requests and
// the duration. At level debug, each NetBox request too. Never the token: nothing
// that reaches it holds the token.

// openLog opens the log file for appending; logging must never cost a lease, so a
// file that cannot be opened is reported to oned.log and the action goes on.
func openLog(cfg config.Log, stderr io.Writer) (*slog.Logger, io.Closer) {
	if cfg.File == "" {
		return nil, nil
	}
	f, err := os.OpenFile(cfg.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		fmt.Fprintf(stderr, "INFO: netbox-ipam cannot write its log: %v\n", err)
		return nil, nil
	}
	opts := &slog.HandlerOptions{Level: logLevel(cfg.Level)}
	var h slog.Handler = slog.NewTextHandler(f, opts) // logfmt
	if cfg.Format == "json" {
		h = slog.NewJSONHandler(f, opts)
	}
	return slog.New(h), f
}

func logLevel(s string) slog.Level {
	switch s {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// observer puts each NetBox request in the log at level debug (nil: no observer).
func observer(log *slog.Logger) func(method, path string, status int, took time.Duration) {
	if log == nil || !log.Enabled(context.Background(), slog.LevelDebug) {
		return nil
	}
	return func(method, path string, status int, took time.Duration) {
		log.Debug("netbox request", "method", method, "path", path, "status", status, "duration_ms", took.Milliseconds())
	}
}

// logAction writes the action's line. Failures are logged at error level, a free that
// left objects behind at warn, the rest at info.
func logAction(log *slog.Logger, name string, req driver.Request, res result, err error, requests int, took time.Duration) {
	if log == nil {
		return
	}
	attrs := []any{"action", name, "request", req.ID}
	if ar := req.AR.Get(mapping.AttrARID); ar != "" {
		attrs = append(attrs, "ar", ar)
	}
	if v := req.AR.Get(mapping.AttrIPRangeID); v != "" {
		attrs = append(attrs, "ip_range", v)
	}
	ip := res.leased
	if ip == "" {
		ip = req.Address.Get(mapping.AttrIP)
	}
	if ip != "" {
		attrs = append(attrs, "ip", ip)
	}
	if n := req.Address.Get(mapping.AttrSize); n != "" {
		attrs = append(attrs, "size", n)
	}
	attrs = append(attrs, "objects", strings.Join(res.changes, " "), "netbox_requests", requests,
		"duration_ms", took.Milliseconds())
	switch {
	case err != nil:
		msg, code := describe(err)
		log.Error("failed", append(attrs, "exit", code, "error", mapping.OneLine(msg))...)
	case res.warning != "":
		log.Warn("done with a warning", append(attrs, "warning", res.warning)...)
	default:
		log.Info("ok", attrs...)
	}
}

// logHook writes a hook's line: which hook, the VM (or virtual router) it kept, the
// NetBox objects created and removed, requests and duration; failures at error level
// (onehem-server keeps only the last runs' output in `onehook show`).
func logHook(log *slog.Logger, hook, vm string, changes []string, err error, requests int, took time.Duration) {
	if log == nil {
		return
	}
	attrs := []any{"action", "hook", "hook", hook, "vm", vm, "objects", strings.Join(changes, " "),
		"netbox_requests", requests, "duration_ms", took.Milliseconds()}
	if err != nil {
		msg, code := describe(err)
		log.Error("failed", append(attrs, "exit", code, "error", mapping.OneLine(msg))...)
		return
	}
	log.Info("ok", attrs...)
}
