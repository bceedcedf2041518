package driver

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/one-netbox-ipam/one-netbox-ipam/cmd/netbox-ipam/opennebula"
	"github.com/one-netbox-ipam/one-netbox-ipam/config"
	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// Driver carries what every call needs: the configuration, the NetBox store, where
// INFO lines for oned.log go, and OpenNebula (audit, sync, the hooks). One Driver serves
// any number of calls; what belongs to one call lives in a Call.
type Driver struct {
	cfg  config.Config
	nb   Backend
	info io.Writer
	oned opennebula.Client
	uid  int              // the user the driver runs as: the state folder must be its own
	now  func() time.Time // sync's clock (how old an orphan is), cool-downs', the hooks' spool's (order, quiet)
}

// New builds a Driver over a NetBox and an OpenNebula; INFO lines go to info (stderr,
// which oned logs).
func New(cfg config.Config, store Backend, oned opennebula.Client, info io.Writer) *Driver {
	return &Driver{cfg: cfg, nb: store, info: info, oned: oned, now: time.Now, uid: os.Getuid()}
}

// Config, NetBox, OpenNebula and Now are what the hooks and audit and sync (packages
// hooks and reconcile) read through the driver: they act with its configuration,
// store and clock.
func (d *Driver) Config() config.Config         { return d.cfg }
func (d *Driver) NetBox() Backend               { return d.nb }
func (d *Driver) OpenNebula() opennebula.Client { return d.oned }
func (d *Driver) Now() time.Time                { return d.now() }

// WithClock sets the clock sync judges the age of NetBox objects by, cool-downs end
// by, and the hooks' spool names and ages its files by (a test moves it on instead of
// waiting).
func (d *Driver) WithClock(now func() time.Time) *Driver { d.now = now; return d }

// Request is one OpenNebula action: oned's request id and the decoded request.
type Request struct {
	ID string
	mapping.Request
}

// Changes lists the NetBox objects a call created ("+kind/id") and removed
// ("-kind/id"), rollbacks included. Responses carry it even when the call failed.
type Changes []string

// Call is one action's own state: its request id, the time it started (with the id it
// makes the descriptions that find a lost answer's objects unique) and its changes.
type Call struct {
	*Driver
	reqID   string
	stamp   string
	changes Changes
}

// Changes are the NetBox objects the call created and removed so far.
func (c *Call) Changes() Changes { return c.changes }

// Begin starts a call; reqID is oned's request id ("" for the operator's commands
// and the hooks).
func (d *Driver) Begin(reqID string) *Call {
	return &Call{Driver: d, reqID: reqID, stamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z")}
}

// Infof writes a line to oned.log (infoLine).
func (d *Driver) Infof(format string, a ...any) {
	fmt.Fprint(d.info, infoLine(fmt.Sprintf(format, a...)))
}

// infoLine is one INFO line of oned.log. oned reads a number right after "INFO:" as an
// id (`INFO: 10.0.0.5 taken` is logged as id 10), so a line that would start with a
// digit gets a word in front.
func infoLine(text string) string {
	text = mapping.OneLine(text)
	if text == "" || (text[0] >= '0' && text[0] <= '9') {
		text = "netbox: " + text
	}
	return "INFO: " + text + "\n"
}

func (d *Driver) Tags() []netbox.TagRef { return []netbox.TagRef{{Slug: d.cfg.Tag}} }

// Owned reports whether the driver may delete or change an object.
func (d *Driver) Owned(t netbox.Tagged) bool { return t.HasTag(d.cfg.Tag) }

// needRange is mapping.ReadStoredAR for actions that need the AR's NetBox IP range.
func (d *Call) needRange(ctx context.Context, ar mapping.Attrs) (mapping.StoredAR, error) {
	s, err := mapping.ReadStoredAR(ar)
	if err != nil {
		return s, err
	}
	if err := d.FindRange(ctx, &s); err != nil {
		return s, err
	}
	if s.RangeID == 0 {
		return s, statef("%s has no %s and no NetBox IP range tagged %s spans it: it was not registered by this driver (re-create the AR)", s, mapping.AttrIPRangeID, d.cfg.Tag)
	}
	return s, nil
}

// FindRange fills in the AR's IP range when the AR no longer names it: `onevnet
// updatear` without --append keeps only OpenNebula's own attributes, so the driver's
// ids can vanish while its range lives on. The range is then the driver's (its tag)
// that starts at the AR's first address: oned keeps an AR's IP through every updatear,
// while the same updatear may change its SIZE, so the range found may end elsewhere
// (ipRange and audit then say so, and sync makes it match). Two such ranges (in two
// VRFs) are an error naming both.
func (d *Call) FindRange(ctx context.Context, s *mapping.StoredAR) error {
	if s.RangeID != 0 {
		return nil
	}
	rs, err := d.nb.IPRangesStartingAt(ctx, d.cfg.Tag, s.First.String())
	if err != nil {
		return err
	}
	var ids []string
	exact := true
	for _, r := range rs {
		if first, last, err := r.Span(); err == nil && first == s.First {
			ids = append(ids, strconv.Itoa(r.ID))
			s.RangeID, exact = r.ID, last == s.Last
		}
	}
	switch {
	case len(ids) > 1:
		s.RangeID = 0
		return statef("%s has no %s and NetBox IP ranges %s all start at its first address; add %s = <id> to the AR (onevnet updatear --append)", s, mapping.AttrIPRangeID, strings.Join(ids, ", "), mapping.AttrIPRangeID)
	case len(ids) == 1 && exact:
		d.Infof("%s has no %s; using NetBox IP range %s, which spans it", s, mapping.AttrIPRangeID, ids[0])
	case len(ids) == 1:
		d.Infof("%s has no %s; using NetBox IP range %s, which starts at its first address (and ends elsewhere)", s, mapping.AttrIPRangeID, ids[0])
	}
	return nil
}

// ipRange reads the AR's IP range and checks that leases can go there: it still covers
// exactly the AR, and no admin marked it populated (NetBox 4.3+ then refuses every
// address inside, and its answers would say "full" or "invalid" instead).
func (d *Call) ipRange(ctx context.Context, s mapping.StoredAR) (netbox.IPRange, error) {
	r, err := d.nb.GetIPRange(ctx, s.RangeID)
	if netbox.IsNotFound(err) {
		return r, statef("NetBox IP range %d of %s no longer exists; restore it in NetBox or re-create the AR", s.RangeID, s)
	}
	if err != nil {
		return r, err
	}
	first, last, err := r.Span()
	if err != nil {
		return r, statef("NetBox IP range %d has unreadable addresses: %v", r.ID, err)
	}
	if first != s.First || last != s.Last {
		return r, statef("NetBox IP range %d spans %s…%s but %s; make them match (onevnet updatear or edit the range in NetBox)", r.ID, first, last, s)
	}
	if r.MarkPopulated {
		return r, statef("NetBox IP range %d of %s is marked populated, so NetBox keeps new addresses out of it; clear \"Mark populated\" on the range in NetBox to lease from it again", r.ID, s)
	}
	return r, nil
}

// ARObjects is what NetBox still holds of a stored AR: its IP range and its prefix
// (nil when not named or gone), and the AR's VRF, taken from the range, else the
// prefix.
type ARObjects struct {
	Range  *netbox.IPRange
	Prefix *netbox.Prefix
	VRF    int
}

// Known reports whether the AR's VRF is Known (its range or its prefix exists).
func (o ARObjects) Known() bool { return o.Range != nil || o.Prefix != nil }

// ObjectsOf reads the AR's IP range and, when needed, its prefix: always with
// withPrefix, otherwise only when the range is gone. Gone is not an error.
func (d *Call) ObjectsOf(ctx context.Context, s mapping.StoredAR, withPrefix bool) (ARObjects, error) {
	var o ARObjects
	if s.RangeID != 0 {
		r, err := d.nb.GetIPRange(ctx, s.RangeID)
		switch {
		case err == nil:
			o.Range, o.VRF = &r, netbox.RefID(r.VRF)
		case !netbox.IsNotFound(err):
			return o, err
		}
	}
	if s.PrefixID == 0 && o.Range != nil && withPrefix { // the AR lost its ids (see findRange)
		p, ok, err := d.containingPrefix(ctx, o.VRF, s.Span)
		if err != nil {
			return o, err
		}
		if ok {
			o.Prefix = &p
		}
	}
	if s.PrefixID != 0 && (withPrefix || o.Range == nil) {
		p, err := d.nb.GetPrefix(ctx, s.PrefixID)
		switch {
		case err == nil:
			o.Prefix = &p
			if o.Range == nil {
				o.VRF = netbox.RefID(p.VRF)
			}
		case !netbox.IsNotFound(err):
			return o, err
		}
	}
	return o, nil
}

// containingPrefix is the most specific prefix of a VRF holding first…last.
func (d *Call) containingPrefix(ctx context.Context, vrf int, span mapping.Span) (netbox.Prefix, bool, error) {
	cands, err := d.nb.PrefixesContaining(ctx, vrf, span.First.String())
	if err != nil {
		return netbox.Prefix{}, false, err
	}
	best, bestBits := netbox.Prefix{}, -1
	for _, p := range cands {
		n, err := p.Net()
		if err == nil && n.Contains(span.Last) && n.Bits() > bestBits {
			best, bestBits = p, n.Bits()
		}
	}
	return best, bestBits >= 0, nil
}

// leaseSpec is the NetBox object of one lease: tag, custom fields, description.
func (d *Call) leaseSpec(s mapping.StoredAR, addr netip.Addr, bits int, vrfID int, mac string) netbox.IPAddressSpec {
	cf := map[string]any{mapping.CFRequestID: d.reqID, mapping.CFARID: s.ID}
	if mac != "" {
		cf[mapping.CFMAC] = mac
	}
	spec := netbox.IPAddressSpec{
		VRFID: vrfID, Status: mapping.StatusActive, Tags: d.Tags(), CustomFields: cf,
		Description: fmt.Sprintf("OpenNebula AR %s lease, request %s at %s", s.ID, d.reqID, d.stamp),
	}
	if addr.IsValid() {
		spec.Address = netip.PrefixFrom(addr, bits).String()
	}
	return spec
}

// cleanupCtx gives rollbacks their own short deadline: the action's may be spent.
func cleanupCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 15*time.Second)
}
