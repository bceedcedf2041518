package driver

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// placement is where an AR goes in NetBox: resolved from AR attributes and the pool
// configuration. Unknown names are errors, never silent defaults.
type placement struct {
	vrfID, tenantID, roleID, siteID int
	vrfName, status                 string
}

func (d *Call) placement(ctx context.Context, ar mapping.Attrs) (placement, error) {
	var p placement
	pick := func(attr, conf string) string {
		if v := ar.Get(attr); v != "" {
			return v
		}
		return conf
	}
	for _, x := range []struct {
		kind, attr, conf string
		id               *int
	}{
		{"vrf", mapping.AttrVRF, d.cfg.Pool.VRF, &p.vrfID},
		{"tenant", mapping.AttrTenant, d.cfg.Pool.Tenant, &p.tenantID},
		{"role", mapping.AttrRole, d.cfg.Pool.Role, &p.roleID},
		{"site", mapping.AttrSite, "", &p.siteID},
	} {
		v := pick(x.attr, x.conf)
		if v == "" {
			continue
		}
		r, err := d.nb.Resolve(ctx, x.kind, v)
		if netbox.IsNotFound(err) {
			return p, statef("%s %q: no such NetBox %s (give its id, slug or exact name)", x.attr, v, x.kind)
		}
		if err != nil {
			return p, err
		}
		*x.id = r.ID
		if x.kind == "vrf" {
			p.vrfName = r.Name
		}
	}
	p.status = pick(mapping.AttrStatus, d.cfg.Pool.Status)
	return p, nil
}

func (p placement) vrfLabel() string {
	if p.vrfID == 0 {
		return "the global table"
	}
	return "VRF " + p.vrfName
}

func (p placement) prefixSpec(cidr, desc string, tags []netbox.TagRef) netbox.PrefixSpec {
	s := netbox.PrefixSpec{Prefix: cidr, VRFID: p.vrfID, RoleID: p.roleID, TenantID: p.tenantID,
		Status: p.status, Description: desc, Tags: tags}
	if p.siteID != 0 {
		s.ScopeType, s.ScopeID = "dcim.site", p.siteID
	}
	return s
}

// undo collects what a register created, to remove it if a later step fails.
type undo []func(context.Context) error

func (u undo) run(d *Call) {
	ctx, cancel := cleanupCtx()
	defer cancel()
	for i := len(u) - 1; i >= 0; i-- {
		if err := u[i](ctx); err != nil && !netbox.IsNotFound(err) {
			d.Infof("rollback step failed: %v", err)
		}
	}
}

// register handles register_address_range: AR shape R in, the AR oned stores out.
func (d *Call) register(ctx context.Context, ar mapping.Attrs) (answer mapping.Attrs, err error) {
	typ, size, hasSize, err := registerable(ar)
	if err != nil {
		return nil, err
	}
	pl, err := d.placement(ctx, ar)
	if err != nil {
		return nil, err
	}
	var u undo
	defer func() {
		if err != nil {
			u.run(d)
		}
	}()
	desc := fmt.Sprintf("OpenNebula address range, registered by request %s at %s", d.reqID, d.stamp)
	prefix, span, err := d.registerPrefix(ctx, ar, size, hasSize, pl, desc, &u)
	if err != nil {
		return nil, err
	}
	net, err := prefix.Net()
	if err != nil {
		return nil, statef("NetBox prefix %d has an unreadable prefix %q", prefix.ID, prefix.Prefix)
	}
	settings, err := d.networkSettings(ctx, ar, prefix, net, &u)
	if err != nil {
		return nil, err
	}
	if !span.First.IsValid() { // cases 2 and 3: lay the AR over the usable hosts, skipping the gateway
		if span, err = mapping.HostSpan(net, settings[mapping.AttrGateway], size, hasSize); err != nil {
			return nil, err
		}
	}
	// The range goes where its prefix is: a carved prefix lives in its parent's VRF,
	// which a parent given by id may place outside the AR's.
	rng, err := d.createIPRange(ctx, netbox.IPRangeSpec{
		Start: netip.PrefixFrom(span.First, net.Bits()).String(), End: netip.PrefixFrom(span.Last, net.Bits()).String(),
		VRFID: netbox.RefID(prefix.VRF), RoleID: pl.roleID, TenantID: pl.tenantID, Status: "active",
		Description: desc, Tags: d.Tags(),
	})
	if err != nil {
		return nil, d.spanError(err, span)
	}
	u = append(u, func(c context.Context) error { return d.Remove(c, ObjectIPRange, rng.ID) })
	// The /64s go where the leases do, whose SLAAC addresses are made in the range's VRF.
	pl6 := pl
	if rng.VRF != nil {
		pl6.vrfID, pl6.vrfName = rng.VRF.ID, rng.VRF.Name
	} else {
		pl6.vrfID, pl6.vrfName = 0, ""
	}
	v6, err := d.registerIPv6(ctx, ar, typ, pl6, desc, &u)
	if err != nil {
		return nil, err
	}
	d.Infof("registered %s…%s as NetBox IP range %d in prefix %s (id %d)", span.First, span.Last, rng.ID, net.Masked(), prefix.ID)
	answer = arAnswer(ar, typ, span, net, settings, prefix, rng.ID)
	for _, a := range v6 {
		answer = answer.Set(a.Name, a.Value)
	}
	return answer, nil
}

// registerable checks what register_address_range needs of the AR before NetBox is
// asked anything: its TYPE (upper case) and SIZE.
func registerable(ar mapping.Attrs) (typ string, size int, hasSize bool, err error) {
	if err := mapping.Echoable(ar); err != nil { // the answer must carry them back to oned
		return "", 0, false, err
	}
	if err := mapping.Refused(ar); err != nil {
		return "", 0, false, err
	}
	typ = strings.ToUpper(ar.Get(mapping.AttrType))
	switch typ {
	case "IP4", "IP4_6", "IP4_6_STATIC":
	case "":
		return "", 0, false, inputf("AR has no TYPE; the netbox IPAM handles IP4, IP4_6 and IP4_6_STATIC ARs")
	default:
		return "", 0, false, inputf("AR TYPE %s has no IPv4 addresses; the netbox IPAM handles IP4, IP4_6 and IP4_6_STATIC ARs", typ)
	}
	if size, hasSize, err = ar.Int(mapping.AttrSize); err != nil {
		return "", 0, false, err
	}
	if hasSize && size < 1 {
		return "", 0, false, inputf("AR SIZE must be positive, got %d", size)
	}
	return typ, size, hasSize, nil
}

// registerPrefix finds or makes the AR's prefix, in one of three ways: (1) the AR names
// IP and SIZE; (2) it names a network; (3) it gives only SIZE, to carve from a pool.
// The span is known in case 1 only.
func (d *Call) registerPrefix(ctx context.Context, ar mapping.Attrs, size int, hasSize bool, pl placement, desc string, u *undo) (netbox.Prefix, mapping.Span, error) {
	switch {
	case ar.Has(mapping.AttrIP):
		if !hasSize {
			return netbox.Prefix{}, mapping.Span{}, inputf("AR with IP %s has no SIZE", ar.Get(mapping.AttrIP))
		}
		return d.registerSpan(ctx, ar, size, pl, desc, u)
	case ar.Has(mapping.AttrNetworkAddress) || ar.Has(mapping.AttrNetworkMask):
		p, err := d.reserveNetwork(ctx, ar, pl, desc, u)
		return p, mapping.Span{}, err
	case !hasSize:
		return netbox.Prefix{}, mapping.Span{}, inputf("AR has neither IP, NETWORK_ADDRESS nor SIZE: give SIZE to carve a network from the pool")
	}
	p, err := d.carve(ctx, ar, size, pl, desc, u)
	return p, mapping.Span{}, err
}

// arAnswer is register's answer. oned replaces the whole AR with it, so it starts with
// every attribute the request carried and then sets the driver's.
func arAnswer(ar mapping.Attrs, typ string, span mapping.Span, net netip.Prefix, settings map[string]string, prefix netbox.Prefix, rangeID int) mapping.Attrs {
	out := append(mapping.Attrs{}, ar...)
	// The driver may be installed under any IPAM_MAD name; an answer naming another
	// would route the AR's later actions to that driver.
	name := ar.Get(mapping.AttrIPAMMAD)
	if name == "" {
		name = "netbox"
	}
	out = out.Set(mapping.AttrIPAMMAD, name).Set(mapping.AttrType, typ).
		Set(mapping.AttrIP, span.First.String()).Set(mapping.AttrSize, strconv.Itoa(span.Size())).
		Set(mapping.AttrNetworkAddress, net.Masked().Addr().String())
	for _, ns := range mapping.NetworkSettings {
		if v := settings[ns.Attr]; v != "" {
			out = out.Set(ns.Attr, v)
		}
	}
	out = out.Set(mapping.AttrPrefixID, strconv.Itoa(prefix.ID)).Set(mapping.AttrIPRangeID, strconv.Itoa(rangeID)).
		Set(mapping.AttrPrefix, net.Masked().String())
	if prefix.VLAN != nil {
		out = out.Set(mapping.AttrVLANID, strconv.Itoa(prefix.VLAN.ID))
	}
	return out
}

// spanError explains NetBox's refusal of an IP range (overlap with another range…).
func (d *Call) spanError(err error, span mapping.Span) error {
	if netbox.KindOf(err) == netbox.KindInvalid && span.First == span.Last && strings.Contains(err.Error(), "must be greater than the starting address") {
		// NetBox before 4.6.1 has no range of one address. The answer says so; no
		// request is spent asking the release beforehand.
		return refusedf("NetBox %s cannot hold an IP range of one address (NetBox 4.6.1 and later can), and the AR is %s alone: give the AR SIZE 2 or more, or upgrade NetBox",
			releaseLine(d.nb), span.First)
	}
	if netbox.KindOf(err) == netbox.KindInvalid {
		return conflictf("NetBox refused an IP range %s…%s: %v", span.First, span.Last, err)
	}
	return err
}

// registerSpan is case 1: the AR names IP and SIZE. The prefix is the most specific
// one holding the span, or the AR's NETWORK_ADDRESS/NETWORK_MASK, created.
func (d *Call) registerSpan(ctx context.Context, ar mapping.Attrs, size int, pl placement, desc string, u *undo) (netbox.Prefix, mapping.Span, error) {
	span, err := mapping.ParseSpan("AR IP", ar.Get(mapping.AttrIP), size)
	if err != nil {
		return netbox.Prefix{}, span, err
	}
	best, ok, err := d.containingPrefix(ctx, pl.vrfID, span)
	if err != nil || ok {
		return best, span, err
	}
	if !ar.Has(mapping.AttrNetworkAddress) || !ar.Has(mapping.AttrNetworkMask) {
		return netbox.Prefix{}, span, statef("no NetBox prefix in %s contains %s…%s; create it in NetBox, or give NETWORK_ADDRESS and NETWORK_MASK to let the driver create it", pl.vrfLabel(), span.First, span.Last)
	}
	net, err := mapping.Network(ar)
	if err != nil {
		return netbox.Prefix{}, span, err
	}
	if !net.Contains(span.First) || !net.Contains(span.Last) {
		return netbox.Prefix{}, span, inputf("AR span %s…%s is not inside NETWORK_ADDRESS/NETWORK_MASK %s", span.First, span.Last, net)
	}
	p, err := d.createPrefix(ctx, pl, net, desc, u)
	return p, span, err
}

func (d *Call) createPrefix(ctx context.Context, pl placement, net netip.Prefix, desc string, u *undo) (netbox.Prefix, error) {
	p, err := d.createPrefixOnce(ctx, pl.prefixSpec(net.String(), desc, d.Tags()))
	if err != nil {
		return p, err
	}
	*u = append(*u, func(c context.Context) error { return d.Remove(c, ObjectPrefix, p.ID) })
	return p, nil
}

// reserveNetwork is case 2: the AR names a network; use NetBox's prefix or create it.
func (d *Call) reserveNetwork(ctx context.Context, ar mapping.Attrs, pl placement, desc string, u *undo) (netbox.Prefix, error) {
	net, err := mapping.Network(ar)
	if err != nil {
		return netbox.Prefix{}, err
	}
	p, err := d.nb.PrefixExact(ctx, pl.vrfID, net.String())
	if err == nil {
		return p, nil
	}
	if !netbox.IsNotFound(err) {
		return p, err
	}
	return d.createPrefix(ctx, pl, net, desc, u)
}

// carve is case 3: a new prefix from a pool parent.
func (d *Call) carve(ctx context.Context, ar mapping.Attrs, size int, pl placement, desc string, u *undo) (netbox.Prefix, error) {
	length, err := mapping.CarveLength(ar, size)
	if err != nil {
		return netbox.Prefix{}, err
	}
	parents := d.cfg.Pool.ParentPrefixes
	if v := ar.Get(mapping.AttrParentPrefix); v != "" {
		parents = []string{v}
	}
	if len(parents) == 0 {
		return netbox.Prefix{}, inputf("AR gives neither IP nor NETWORK_ADDRESS, and no pool is set: add NETBOX_PARENT_PREFIX to the AR or pool.parent_prefixes to the configuration")
	}
	return d.carveFrom(ctx, parents, length, pl, desc, u, pool4)
}

// pool says which pool a carve takes from: the AR attribute that names another
// parent, the configuration's list, and the family its parents must be of.
type pool struct {
	attr string // the AR attribute that names another parent
	conf string // the configuration's list of parents
	// kind is the /64 an IPv6 pool is of (its parents must lie in its space); zero
	// for the IPv4 pool.
	kind mapping.IPv6Prefix
}

// pool4 is the pool of IPv4 prefixes (pool6 has the IPv6 ones).
var pool4 = pool{attr: mapping.AttrParentPrefix, conf: "pool.parent_prefixes"}

func (p pool) v6() bool { return p.kind.Attr != "" }

// ofFamily says whether n is of the family p carves (register and check refuse others).
func (p pool) ofFamily(n netip.Prefix) bool { return n.Addr().Is6() == p.v6() }

func (p pool) family() string {
	if p.v6() {
		return "IPv6"
	}
	return "IPv4"
}

// carveFrom takes a /length from the first of parents with room, in the parent's VRF
// and with the AR's placement otherwise; the undo removes it.
func (d *Call) carveFrom(ctx context.Context, parents []string, length int, pl placement, desc string, u *undo, from pool) (netbox.Prefix, error) {
	var full, small []string
	for _, ref := range parents {
		parent, err := d.parentPrefix(ctx, pl, ref)
		if err != nil {
			return netbox.Prefix{}, err
		}
		n, err := parent.Net()
		if err != nil {
			return netbox.Prefix{}, statef("pool parent prefix %d has an unreadable prefix %q", parent.ID, parent.Prefix)
		}
		if !from.ofFamily(n) {
			return netbox.Prefix{}, statef("pool parent prefix %s (NetBox prefix %d) is not %s; give an %s prefix in %s or %s", parent.Prefix, parent.ID, from.family(), from.family(), from.attr, from.conf)
		}
		if from.v6() && netbox.RefID(parent.VRF) != pl.vrfID {
			return netbox.Prefix{}, statef("pool parent prefix %s (NetBox prefix %d) is not in %s, where the AR's leases are; give one there in %s or %s", parent.Prefix, parent.ID, pl.vrfLabel(), from.attr, from.conf)
		}
		if from.v6() && !from.kind.Holds(n) {
			return netbox.Prefix{}, statef("pool parent prefix %s (NetBox prefix %d) is not in %s, where %s /64s are; give one in %s or %s", parent.Prefix, parent.ID, from.kind.Space, from.kind.Name, from.attr, from.conf)
		}
		if n.Bits() > length { // too small for this AR, as good as full: the next parent may hold it
			small = append(small, parent.Prefix)
			continue
		}
		spec := pl.prefixSpec("", desc, d.Tags())
		spec.VRFID = netbox.RefID(parent.VRF) // a child lives in its parent's VRF
		p, err := d.carvePrefix(ctx, parent, length, spec)
		if netbox.KindOf(err) == netbox.KindConflict {
			full = append(full, parent.Prefix)
			continue
		}
		if err != nil {
			return p, err
		}
		*u = append(*u, func(c context.Context) error { return d.Remove(c, ObjectPrefix, p.ID) })
		return p, nil
	}
	why := "no free /%d left in pool " + strings.Join(full, ", ")
	switch {
	case len(full) == 0:
		why = "every parent of the pool is too small for a /%d: " + strings.Join(small, ", ")
	case len(small) > 0:
		why += " (too small for it: " + strings.Join(small, ", ") + ")"
	}
	return netbox.Prefix{}, conflictf(why+"; add room to the pool in NetBox or set another %s or %s", length, from.attr, from.conf)
}

func (d *Call) parentPrefix(ctx context.Context, pl placement, ref string) (netbox.Prefix, error) {
	if id, err := strconv.Atoi(ref); err == nil {
		p, err := d.nb.GetPrefix(ctx, id)
		if netbox.IsNotFound(err) {
			return p, statef("pool parent prefix id %d does not exist in NetBox", id)
		}
		return p, err
	}
	n, err := netip.ParsePrefix(ref)
	if err != nil {
		return netbox.Prefix{}, inputf("pool parent prefix %q is neither a CIDR nor a NetBox id", ref)
	}
	p, err := d.nb.PrefixExact(ctx, pl.vrfID, n.Masked().String())
	if netbox.IsNotFound(err) {
		return p, statef("pool parent prefix %s does not exist in %s; create it in NetBox", n.Masked(), pl.vrfLabel())
	}
	return p, err
}

// networkSettings merges the prefix's network settings with the AR's and the
// configured defaults (mapping.MergeSettings) and writes what the prefix lacked into
// its custom fields.
func (d *Call) networkSettings(ctx context.Context, ar mapping.Attrs, p netbox.Prefix, net netip.Prefix, u *undo) (map[string]string, error) {
	m, err := mapping.MergeSettings(p.CustomString, ar, net, mapping.Defaults{Gateway: d.cfg.Gateway,
		DNS: d.cfg.Defaults.DNS, GuestMTU: d.cfg.Defaults.GuestMTU, SearchDomain: d.cfg.Defaults.SearchDomain})
	if err != nil || len(m.Write) == 0 {
		return m.Attrs, err
	}
	if _, err := d.nb.SetPrefixCustomFields(ctx, p.ID, m.Write); err != nil {
		if netbox.KindOf(err) == netbox.KindInvalid {
			return nil, statef("NetBox refused the network settings for prefix %s: %v (run `netbox-ipam setup` to create the custom fields)", p.Prefix, err)
		}
		return nil, err
	}
	*u = append(*u, func(c context.Context) error { _, err := d.nb.SetPrefixCustomFields(c, p.ID, m.Undo); return err })
	return m.Attrs, nil
}
