package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

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

// noteObject records a NetBox object this call created (+) or removed (-).
func (d *Driver) noteObject(sign, kind string, id int) {
	d.objects = append(d.objects, fmt.Sprintf("%s%s/%d", sign, kind, id))
}

// logAction writes the action's line. Failures are logged at error level, the rest at
// info.
func (d *Driver) logAction(name string, req mapping.Request, err error, took time.Duration) {
	if d.log == nil {
		return
	}
	attrs := []any{"action", name, "request", d.reqID}
	if ar := req.AR.Get(mapping.AttrARID); ar != "" {
		attrs = append(attrs, "ar", ar)
	}
	if v := req.AR.Get(mapping.AttrIPRangeID); v != "" {
		attrs = append(attrs, "ip_range", v)
	}
	ip := d.leased
	if ip == "" {
		ip = req.Address.Get(mapping.AttrIP)
	}
	if ip != "" {
		attrs = append(attrs, "ip", ip)
	}
	if n := req.Address.Get(mapping.AttrSize); n != "" {
		attrs = append(attrs, "size", n)
	}
	attrs = append(attrs, "objects", strings.Join(d.objects, " "), "netbox_requests", d.nb.Requests(),
		"duration_ms", took.Milliseconds())
	if err != nil {
		msg, code := describe(err)
		d.log.Error("failed", append(attrs, "exit", code, "error", oneLine(msg))...)
		return
	}
	d.log.Info("ok", attrs...)
}
