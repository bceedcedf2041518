package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// Driver carries what every action needs: the configuration, the NetBox client, the
// request id and where INFO lines for oned.log go.
type Driver struct {
	cfg    config.Config
	nb     *netbox.Client
	reqID  string
	stamp  string // when this call started: with reqID it makes the descriptions unique
	stderr io.Writer

	log     *slog.Logger // the driver's own log; nil when there is none
	logFile io.Closer
	objects []string // NetBox objects created (+) and removed (-), for the log
	leased  string   // the address get_address handed out, for the log
}

// NewDriver builds a Driver; it does not contact NetBox.
func NewDriver(cfg config.Config, reqID string, stderr io.Writer) (*Driver, error) {
	d := &Driver{cfg: cfg, reqID: reqID, stamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), stderr: stderr}
	d.log, d.logFile = openLog(cfg.Log, stderr)
	var observe func(string, string, int, time.Duration)
	if d.log != nil && d.log.Enabled(context.Background(), slog.LevelDebug) {
		observe = func(method, path string, status int, took time.Duration) {
			d.log.Debug("netbox request", "request", reqID, "method", method, "path", path, "status", status, "duration_ms", took.Milliseconds())
		}
	}
	nb, err := netbox.New(netbox.Config{
		URL: cfg.URL, Token: cfg.Token, CAFile: cfg.CAFile, Insecure: cfg.Insecure,
		Retries: cfg.Retries, UserAgent: "one-netbox-ipam/" + version, Observe: observe,
	})
	if err != nil {
		d.Close()
		return nil, err
	}
	d.nb = nb
	return d, nil
}

// Close releases the log file.
func (d *Driver) Close() {
	if d.logFile != nil {
		d.logFile.Close()
	}
}

// info writes a line to oned.log. oned reads a number right after "INFO:" as an id
// (`INFO: 10.0.0.5 taken` is logged as id 10), so a line that would start with a digit
// gets a word in front.
func (d *Driver) info(format string, a ...any) {
	fmt.Fprint(d.stderr, infoLine(fmt.Sprintf(format, a...)))
}

func infoLine(text string) string {
	text = oneLine(text)
	if text == "" || (text[0] >= '0' && text[0] <= '9') {
		text = "netbox: " + text
	}
	return "INFO: " + text + "\n"
}

func (d *Driver) tags() []netbox.TagRef { return []netbox.TagRef{{Slug: d.cfg.Tag}} }

// owned reports whether the driver may delete or change an object.
func (d *Driver) owned(t netbox.Tagged) bool { return t.HasTag(d.cfg.Tag) }

// arSpan is what a stored AR (shapes S and V) says about its addresses.
type arSpan struct {
	id        string // AR_ID ("" at register)
	first     netip.Addr
	size      int
	last      netip.Addr
	mac       string
	rangeID   int
	prefixID  int
	globalPfx string
	ulaPfx    string
	arType    string
	ip6       netip.Prefix // IP4_6_STATIC: the first lease's IPv6 address and its length
	parent    string       // PARENT_NETWORK_AR_ID: this AR is a reservation cut from that one
}

// reservation reports whether the AR belongs to a reservation network. oned copies
// the parent's AR for it, NetBox ids included, but without IPAM_MAD, so no action
// arrives for it (seen on 7.5.80); should one ever arrive, it must not change or
// remove the parent's range or prefix.
func (s arSpan) reservation() bool { return s.parent != "" }

// lostIDs reports whether the AR names none of its NetBox objects: `onevnet updatear`
// without --append keeps only OpenNebula's own attributes (see findRange).
func (s arSpan) lostIDs() bool { return s.rangeID == 0 && s.prefixID == 0 }

func (s arSpan) String() string {
	if s.id == "" {
		return fmt.Sprintf("%s…%s", s.first, s.last)
	}
	return fmt.Sprintf("AR %s (%s…%s)", s.id, s.first, s.last)
}

// storedAR reads the attributes of an AR the driver registered.
func storedAR(ar mapping.Attrs) (arSpan, error) {
	s := arSpan{id: ar.Get(mapping.AttrARID), mac: ar.Get(mapping.AttrMAC), arType: ar.Get(mapping.AttrType),
		globalPfx: ar.Get(mapping.AttrGlobalPrefix), ulaPfx: ar.Get(mapping.AttrULAPrefix),
		parent: ar.Get(mapping.AttrParentARID)}
	ip := ar.Get(mapping.AttrIP)
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return s, inputf("AR %s: IP %q is not an IPv4 address", s.id, ip)
	}
	s.first = a
	size, ok, err := ar.Int(mapping.AttrSize)
	if err != nil {
		return s, err
	}
	if !ok || size < 1 {
		return s, inputf("AR %s: SIZE must be a positive number, got %q", s.id, ar.Get(mapping.AttrSize))
	}
	s.size = size
	last, ok := mapping.Add(a, int64(size-1))
	if !ok {
		return s, inputf("AR %s: IP %s + SIZE %d runs past the end of IPv4", s.id, a, size)
	}
	s.last = last
	if strings.EqualFold(s.arType, "IP4_6_STATIC") {
		if s.ip6, err = mapping.StaticIPv6(ar); err != nil {
			return s, err
		}
	}
	if v := ar.Get(mapping.AttrIPRangeID); v != "" {
		if s.rangeID, err = strconv.Atoi(v); err != nil || s.rangeID <= 0 {
			return s, inputf("AR %s: %s %q is not a NetBox id", s.id, mapping.AttrIPRangeID, v)
		}
	}
	if v := ar.Get(mapping.AttrPrefixID); v != "" {
		if s.prefixID, err = strconv.Atoi(v); err != nil || s.prefixID <= 0 {
			return s, inputf("AR %s: %s %q is not a NetBox id", s.id, mapping.AttrPrefixID, v)
		}
	}
	return s, nil
}

// needRange is storedAR for actions that need the AR's NetBox IP range.
func (d *Driver) needRange(ctx context.Context, ar mapping.Attrs) (arSpan, error) {
	s, err := storedAR(ar)
	if err != nil {
		return s, err
	}
	if err := d.findRange(ctx, &s); err != nil {
		return s, err
	}
	if s.rangeID == 0 {
		return s, inputf("%s has no %s and no NetBox IP range tagged %s spans it: it was not registered by this driver (re-create the AR)", s, mapping.AttrIPRangeID, d.cfg.Tag)
	}
	return s, nil
}

// findRange fills in the AR's IP range when the AR no longer names it: `onevnet
// updatear` without --append keeps only OpenNebula's own attributes, so the driver's
// ids can vanish while its range lives on. The range is then the driver's (its tag)
// spanning exactly the AR; two such ranges (in two VRFs) are an error naming both.
func (d *Driver) findRange(ctx context.Context, s *arSpan) error {
	if s.rangeID != 0 {
		return nil
	}
	rs, err := d.nb.IPRangesSpanning(ctx, d.cfg.Tag, s.first.String(), s.last.String())
	if err != nil {
		return err
	}
	var ids []string
	for _, r := range rs {
		if first, last, err := r.Span(); err == nil && first == s.first && last == s.last {
			ids = append(ids, strconv.Itoa(r.ID))
			s.rangeID = r.ID
		}
	}
	if len(ids) > 1 {
		return inputf("%s has no %s and NetBox IP ranges %s all span it; add %s = <id> to the AR (onevnet updatear --append)", s, mapping.AttrIPRangeID, strings.Join(ids, ", "), mapping.AttrIPRangeID)
	}
	if len(ids) == 1 {
		d.info("%s has no %s; using NetBox IP range %s, which spans it", s, mapping.AttrIPRangeID, ids[0])
	}
	return nil
}

// ipRange reads the AR's IP range and checks that it still covers exactly the AR.
func (d *Driver) ipRange(ctx context.Context, s arSpan) (netbox.IPRange, error) {
	r, err := d.nb.GetIPRange(ctx, s.rangeID)
	if netbox.IsNotFound(err) {
		return r, inputf("NetBox IP range %d of %s no longer exists; restore it in NetBox or re-create the AR", s.rangeID, s)
	}
	if err != nil {
		return r, err
	}
	first, last, err := r.Span()
	if err != nil {
		return r, fmt.Errorf("NetBox IP range %d has unreadable addresses: %v", r.ID, err)
	}
	if first != s.first || last != s.last {
		return r, inputf("NetBox IP range %d spans %s…%s but %s; make them match (onevnet updatear or edit the range in NetBox)", r.ID, first, last, s)
	}
	return r, nil
}

// arObjects is what NetBox still holds of a stored AR: its IP range and its prefix
// (nil when not named or gone), and the AR's VRF, taken from the range, else the
// prefix.
type arObjects struct {
	rng    *netbox.IPRange
	prefix *netbox.Prefix
	vrf    int
}

// known reports whether the AR's VRF is known (its range or its prefix exists).
func (o arObjects) known() bool { return o.rng != nil || o.prefix != nil }

// arObjects reads the AR's IP range and, when needed, its prefix: always with
// withPrefix, otherwise only when the range is gone. Gone is not an error.
func (d *Driver) arObjects(ctx context.Context, s arSpan, withPrefix bool) (arObjects, error) {
	var o arObjects
	if s.rangeID != 0 {
		r, err := d.nb.GetIPRange(ctx, s.rangeID)
		switch {
		case err == nil:
			o.rng, o.vrf = &r, netbox.RefID(r.VRF)
		case !netbox.IsNotFound(err):
			return o, err
		}
	}
	if s.prefixID == 0 && o.rng != nil && withPrefix { // the AR lost its ids (see findRange)
		p, ok, err := d.containingPrefix(ctx, o.vrf, s.first, s.last)
		if err != nil {
			return o, err
		}
		if ok {
			o.prefix = &p
		}
	}
	if s.prefixID != 0 && (withPrefix || o.rng == nil) {
		p, err := d.nb.GetPrefix(ctx, s.prefixID)
		switch {
		case err == nil:
			o.prefix = &p
			if o.rng == nil {
				o.vrf = netbox.RefID(p.VRF)
			}
		case !netbox.IsNotFound(err):
			return o, err
		}
	}
	return o, nil
}

// containingPrefix is the most specific prefix of a VRF holding first…last.
func (d *Driver) containingPrefix(ctx context.Context, vrf int, first, last netip.Addr) (netbox.Prefix, bool, error) {
	cands, err := d.nb.PrefixesContaining(ctx, vrf, first.String())
	if err != nil {
		return netbox.Prefix{}, false, err
	}
	best, bestBits := netbox.Prefix{}, -1
	for _, p := range cands {
		n, err := p.Net()
		if err == nil && n.Contains(last) && n.Bits() > bestBits {
			best, bestBits = p, n.Bits()
		}
	}
	return best, bestBits >= 0, nil
}

// leaseSpec is the NetBox object of one lease: tag, custom fields, description.
func (d *Driver) leaseSpec(s arSpan, addr netip.Addr, bits int, vrfID int, mac string) netbox.IPAddressSpec {
	cf := map[string]any{mapping.CFRequestID: d.reqID, mapping.CFARID: s.id}
	if mac != "" {
		cf[mapping.CFMAC] = mac
	}
	spec := netbox.IPAddressSpec{
		VRFID: vrfID, Status: "active", Tags: d.tags(), CustomFields: cf,
		Description: fmt.Sprintf("OpenNebula AR %s lease, request %s at %s", s.id, d.reqID, d.stamp),
	}
	if addr.IsValid() {
		spec.Address = netip.PrefixFrom(addr, bits).String()
	}
	return spec
}

// macFor is the MAC OpenNebula gives the lease at addr: AR MAC + (addr − AR IP).
func macFor(s arSpan, addr netip.Addr) string {
	if s.mac == "" {
		return ""
	}
	m, err := mapping.ParseMAC(s.mac)
	if err != nil {
		return ""
	}
	return mapping.MACAdd(m, mapping.Offset(s.first, addr)).String()
}

// leaseIPv6Addrs is the IPv6 addresses of the leases at addrs (leaseIPv6), which go
// with them when they are freed or removed.
func leaseIPv6Addrs(s arSpan, addrs []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		for _, x := range leaseIPv6(s, a) {
			out = append(out, x.Addr())
		}
	}
	return out
}

// leaseIPv6 is what OpenNebula gives the lease at addr besides its IPv4 address: the
// SLAAC addresses of IP4_6 ARs (GLOBAL_PREFIX, ULA_PREFIX and the lease's MAC) or the
// static IPv6 of IP4_6_STATIC ARs (IP6 + index). It is computed from the AR: the
// IP6_* fields of oned's requests hold a literal 0, not the address.
func leaseIPv6(s arSpan, addr netip.Addr) []netip.Prefix {
	switch strings.ToUpper(s.arType) {
	case "IP4_6":
		m, err := mapping.ParseMAC(macFor(s, addr))
		if err != nil {
			return nil
		}
		var out []netip.Prefix
		for _, p := range []string{s.globalPfx, s.ulaPfx} {
			if a, err := netip.ParseAddr(p); err == nil {
				if x, err := mapping.EUI64(a, m); err == nil {
					out = append(out, netip.PrefixFrom(x, 64))
				}
			}
		}
		return out
	case "IP4_6_STATIC":
		if !s.ip6.IsValid() {
			return nil
		}
		return []netip.Prefix{netip.PrefixFrom(mapping.StaticIP6(s.ip6.Addr(), mapping.Offset(s.first, addr)), s.ip6.Bits())}
	}
	return nil
}

// cleanupCtx gives rollbacks their own short deadline: the action's may be spent.
func cleanupCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 15*time.Second)
}
