package main

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

func (d *Driver) placement(ctx context.Context, ar mapping.Attrs) (placement, error) {
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
			return p, inputf("%s %q: no such NetBox %s (give its id, slug or exact name)", x.attr, v, x.kind)
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

func (u undo) run(d *Driver) {
	ctx, cancel := cleanupCtx()
	defer cancel()
	for i := len(u) - 1; i >= 0; i-- {
		if err := u[i](ctx); err != nil && !netbox.IsNotFound(err) {
			d.info("rollback step failed: %v", err)
		}
	}
}

// Register handles register_address_range: AR shape R in, AR = [ … ] out.
func (d *Driver) Register(ctx context.Context, req mapping.Request) (answer string, err error) {
	ar := req.AR
	if err := mapping.Echoable(ar); err != nil { // the answer must carry them back to oned
		return "", err
	}
	if err := mapping.Refused(ar); err != nil {
		return "", err
	}
	typ := strings.ToUpper(ar.Get(mapping.AttrType))
	switch typ {
	case "IP4", "IP4_6", "IP4_6_STATIC":
	case "":
		return "", inputf("AR has no TYPE; the netbox IPAM handles IP4, IP4_6 and IP4_6_STATIC ARs")
	default:
		return "", inputf("AR TYPE %s has no IPv4 addresses; the netbox IPAM handles IP4, IP4_6 and IP4_6_STATIC ARs", typ)
	}
	size, hasSize, err := ar.Int(mapping.AttrSize)
	if err != nil {
		return "", err
	}
	if hasSize && size < 1 {
		return "", inputf("AR SIZE must be positive, got %d", size)
	}
	pl, err := d.placement(ctx, ar)
	if err != nil {
		return "", err
	}

	var u undo
	defer func() {
		if err != nil {
			u.run(d)
		}
	}()
	desc := fmt.Sprintf("OpenNebula address range, registered by request %s at %s", d.reqID, d.stamp)

	var prefix netbox.Prefix
	var first netip.Addr
	switch {
	case ar.Has(mapping.AttrIP):
		if !hasSize {
			return "", inputf("AR with IP %s has no SIZE", ar.Get(mapping.AttrIP))
		}
		prefix, first, err = d.registerSpan(ctx, ar, size, pl, desc, &u)
	case ar.Has(mapping.AttrNetworkAddress) || ar.Has(mapping.AttrNetworkMask):
		prefix, err = d.reserveNetwork(ctx, ar, pl, desc, &u)
	default:
		if !hasSize {
			return "", inputf("AR has neither IP, NETWORK_ADDRESS nor SIZE: give SIZE to carve a network from the pool")
		}
		prefix, err = d.carve(ctx, ar, size, pl, desc, &u)
	}
	if err != nil {
		return "", err
	}
	net, err := prefix.Net()
	if err != nil {
		return "", fmt.Errorf("NetBox prefix %d has an unreadable prefix %q", prefix.ID, prefix.Prefix)
	}

	settings, err := d.networkSettings(ctx, ar, prefix, net, &u)
	if err != nil {
		return "", err
	}
	if !first.IsValid() { // cases 2 and 3: lay the AR over the usable hosts, skipping the gateway
		first, size, err = hostSpan(net, settings[mapping.AttrGateway], size, hasSize)
		if err != nil {
			return "", err
		}
	}
	last, _ := mapping.Add(first, int64(size-1))

	rng, err := d.createIPRange(ctx, netbox.IPRangeSpec{
		Start: netip.PrefixFrom(first, net.Bits()).String(), End: netip.PrefixFrom(last, net.Bits()).String(),
		VRFID: pl.vrfID, RoleID: pl.roleID, TenantID: pl.tenantID, Status: "active",
		Description: desc, Tags: d.tags(),
	})
	if err != nil {
		return "", spanError(err, first, last)
	}
	u = append(u, func(c context.Context) error { return d.remove(c, kindIPRange, rng.ID) })

	d.info("registered %s…%s as NetBox IP range %d in prefix %s (id %d)", first, last, rng.ID, net.Masked(), prefix.ID)
	return arAnswer(ar, typ, first, size, net, settings, prefix, rng.ID), nil
}

// arAnswer is register's answer. oned replaces the whole AR with it, so it starts with
// every attribute the request carried and then sets the driver's.
func arAnswer(ar mapping.Attrs, typ string, first netip.Addr, size int, net netip.Prefix, settings map[string]string, prefix netbox.Prefix, rangeID int) string {
	out := append(mapping.Attrs{}, ar...)
	// The driver may be installed under any IPAM_MAD name; an answer naming another
	// would route the AR's later actions to that driver.
	name := ar.Get(mapping.AttrIPAMMAD)
	if name == "" {
		name = "netbox"
	}
	out = out.Set(mapping.AttrIPAMMAD, name).Set(mapping.AttrType, typ).
		Set(mapping.AttrIP, first.String()).Set(mapping.AttrSize, strconv.Itoa(size)).
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
	var tpl mapping.Template
	tpl.Vector("AR", out)
	return tpl.String()
}

// spanError explains NetBox's refusal of an IP range (overlap with another range…).
func spanError(err error, first, last netip.Addr) error {
	if netbox.KindOf(err) == netbox.KindInvalid {
		return conflictf("NetBox refused an IP range %s…%s: %v", first, last, err)
	}
	return err
}

// registerSpan is case 1: the AR names IP and SIZE.
func (d *Driver) registerSpan(ctx context.Context, ar mapping.Attrs, size int, pl placement, desc string, u *undo) (netbox.Prefix, netip.Addr, error) {
	ip := ar.Get(mapping.AttrIP)
	first, err := netip.ParseAddr(ip)
	if err != nil || !first.Is4() {
		return netbox.Prefix{}, first, inputf("AR IP %q is not an IPv4 address", ip)
	}
	last, ok := mapping.Add(first, int64(size-1))
	if !ok {
		return netbox.Prefix{}, first, inputf("AR IP %s + SIZE %d runs past the end of IPv4", first, size)
	}
	best, ok, err := d.containingPrefix(ctx, pl.vrfID, first, last)
	if err != nil || ok {
		return best, first, err
	}
	if !ar.Has(mapping.AttrNetworkAddress) || !ar.Has(mapping.AttrNetworkMask) {
		return netbox.Prefix{}, first, inputf("no NetBox prefix in %s contains %s…%s; create it in NetBox, or give NETWORK_ADDRESS and NETWORK_MASK to let the driver create it", pl.vrfLabel(), first, last)
	}
	net, err := arNetwork(ar)
	if err != nil {
		return netbox.Prefix{}, first, err
	}
	if !net.Contains(first) || !net.Contains(last) {
		return netbox.Prefix{}, first, inputf("AR span %s…%s is not inside NETWORK_ADDRESS/NETWORK_MASK %s", first, last, net)
	}
	p, err := d.createPrefix(ctx, pl, net, desc, u)
	return p, first, err
}

func arNetwork(ar mapping.Attrs) (netip.Prefix, error) {
	na, nm := ar.Get(mapping.AttrNetworkAddress), ar.Get(mapping.AttrNetworkMask)
	if na == "" || nm == "" {
		return netip.Prefix{}, inputf("give both NETWORK_ADDRESS and NETWORK_MASK (got %q and %q)", na, nm)
	}
	a, err := netip.ParseAddr(na)
	if err != nil || !a.Is4() {
		return netip.Prefix{}, inputf("NETWORK_ADDRESS %q is not an IPv4 address", na)
	}
	bits, err := mapping.MaskBits(nm)
	if err != nil {
		return netip.Prefix{}, err
	}
	if bits > 30 {
		return netip.Prefix{}, inputf("NETWORK_MASK %s leaves no room for hosts; use /30 or shorter", nm)
	}
	return netip.PrefixFrom(a, bits).Masked(), nil
}

func (d *Driver) createPrefix(ctx context.Context, pl placement, net netip.Prefix, desc string, u *undo) (netbox.Prefix, error) {
	p, err := d.createPrefixOnce(ctx, pl.prefixSpec(net.String(), desc, d.tags()))
	if err != nil {
		return p, err
	}
	*u = append(*u, func(c context.Context) error { return d.remove(c, kindPrefix, p.ID) })
	return p, nil
}

// reserveNetwork is case 2: the AR names a network; use NetBox's prefix or create it.
func (d *Driver) reserveNetwork(ctx context.Context, ar mapping.Attrs, pl placement, desc string, u *undo) (netbox.Prefix, error) {
	net, err := arNetwork(ar)
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
func (d *Driver) carve(ctx context.Context, ar mapping.Attrs, size int, pl placement, desc string, u *undo) (netbox.Prefix, error) {
	length := mapping.PrefixLenFor(size)
	if v, ok, err := ar.Int(mapping.AttrPrefixLength); err != nil {
		return netbox.Prefix{}, err
	} else if ok {
		if v < 1 || v > 30 {
			return netbox.Prefix{}, inputf("%s %d: must be 1-30", mapping.AttrPrefixLength, v)
		}
		if int64(size)+3 > int64(1)<<(32-v) {
			return netbox.Prefix{}, inputf("%s /%d cannot hold SIZE %d plus network, broadcast and gateway", mapping.AttrPrefixLength, v, size)
		}
		length = v
	}
	parents := d.cfg.Pool.ParentPrefixes
	if v := ar.Get(mapping.AttrParentPrefix); v != "" {
		parents = []string{v}
	}
	if len(parents) == 0 {
		return netbox.Prefix{}, inputf("AR gives neither IP nor NETWORK_ADDRESS, and no pool is set: add NETBOX_PARENT_PREFIX to the AR or pool.parent_prefixes to the configuration")
	}
	var full []string
	for _, ref := range parents {
		parent, err := d.parentPrefix(ctx, pl, ref)
		if err != nil {
			return netbox.Prefix{}, err
		}
		spec := pl.prefixSpec("", desc, d.tags())
		spec.VRFID = netbox.RefID(parent.VRF) // a child lives in its parent's VRF
		p, err := d.carvePrefix(ctx, parent, length, spec)
		if netbox.KindOf(err) == netbox.KindConflict {
			full = append(full, parent.Prefix)
			continue
		}
		if err != nil {
			return p, err
		}
		*u = append(*u, func(c context.Context) error { return d.remove(c, kindPrefix, p.ID) })
		return p, nil
	}
	return netbox.Prefix{}, conflictf("no free /%d left in pool %s; add room to the pool in NetBox or set another NETBOX_PARENT_PREFIX", length, strings.Join(full, ", "))
}

func (d *Driver) parentPrefix(ctx context.Context, pl placement, ref string) (netbox.Prefix, error) {
	if id, err := strconv.Atoi(ref); err == nil {
		p, err := d.nb.GetPrefix(ctx, id)
		if netbox.IsNotFound(err) {
			return p, inputf("pool parent prefix id %d does not exist in NetBox", id)
		}
		return p, err
	}
	n, err := netip.ParsePrefix(ref)
	if err != nil {
		return netbox.Prefix{}, inputf("pool parent prefix %q is neither a CIDR nor a NetBox id", ref)
	}
	p, err := d.nb.PrefixExact(ctx, pl.vrfID, n.Masked().String())
	if netbox.IsNotFound(err) {
		return p, inputf("pool parent prefix %s does not exist in %s; create it in NetBox", n.Masked(), pl.vrfLabel())
	}
	return p, err
}

// networkSettings merges the prefix's custom fields (they win), the AR's values (they
// fill empty fields and are written to NetBox) and the configured defaults.
func (d *Driver) networkSettings(ctx context.Context, ar mapping.Attrs, p netbox.Prefix, net netip.Prefix, u *undo) (map[string]string, error) {
	out := map[string]string{}
	write := map[string]any{}
	old := map[string]any{}
	for _, ns := range mapping.NetworkSettings {
		if v := p.CustomString(ns.CustomField); v != "" {
			out[ns.Attr] = v
			continue
		}
		v := ar.Get(ns.Attr)
		if v == "" {
			continue
		}
		if err := validSetting(ns, v, net); err != nil {
			return nil, err
		}
		out[ns.Attr] = v
		old[ns.CustomField] = nil
		if ns.Integer {
			n, _ := strconv.Atoi(v)
			write[ns.CustomField] = n
		} else {
			write[ns.CustomField] = v
		}
	}
	out[mapping.AttrNetworkMask] = mapping.MaskString(net.Bits()) // always the prefix's
	if out[mapping.AttrGateway] == "" {
		switch d.cfg.Gateway {
		case "first":
			out[mapping.AttrGateway] = net.Masked().Addr().Next().String()
		case "last":
			b := mapping.Last(net)
			out[mapping.AttrGateway] = b.Prev().String()
		}
		if g := out[mapping.AttrGateway]; g != "" {
			write[mapping.CFGateway], old[mapping.CFGateway] = g, nil
		}
	}
	if out[mapping.AttrDNS] == "" && d.cfg.Defaults.DNS != "" {
		out[mapping.AttrDNS] = d.cfg.Defaults.DNS
	}
	if out[mapping.AttrGuestMTU] == "" && d.cfg.Defaults.GuestMTU > 0 {
		out[mapping.AttrGuestMTU] = strconv.Itoa(d.cfg.Defaults.GuestMTU)
	}
	if out[mapping.AttrSearchDomain] == "" && d.cfg.Defaults.SearchDomain != "" {
		out[mapping.AttrSearchDomain] = d.cfg.Defaults.SearchDomain
	}
	if p.CustomString(mapping.CFNetworkMask) == "" {
		write[mapping.CFNetworkMask], old[mapping.CFNetworkMask] = out[mapping.AttrNetworkMask], nil
	}
	if len(write) > 0 {
		if _, err := d.nb.SetPrefixCustomFields(ctx, p.ID, write); err != nil {
			if netbox.KindOf(err) == netbox.KindInvalid {
				return nil, inputf("NetBox refused the network settings for prefix %s: %v (run `netbox-ipam setup` to create the custom fields)", p.Prefix, err)
			}
			return nil, err
		}
		*u = append(*u, func(c context.Context) error { _, err := d.nb.SetPrefixCustomFields(c, p.ID, old); return err })
	}
	return out, nil
}

func validSetting(ns mapping.NetworkSetting, v string, net netip.Prefix) error {
	switch ns.Attr {
	case mapping.AttrGateway:
		g, err := netip.ParseAddr(v)
		if err != nil || !net.Contains(g) {
			return inputf("GATEWAY %q is not an address inside %s", v, net)
		}
	case mapping.AttrGuestMTU:
		if n, err := strconv.Atoi(v); err != nil || n < 68 || n > 65535 {
			return inputf("GUEST_MTU %q is not an MTU (68-65535)", v)
		}
	}
	return nil
}

// hostSpan lays an AR over the usable hosts of net, skipping the gateway when it sits
// at either end; SIZE (when given) takes the first SIZE of them. A gateway in the
// middle stays inside the span: NetBox's available-ips skips it when NetBox has an
// object for it, which is how network admins record gateways.
func hostSpan(net netip.Prefix, gateway string, size int, hasSize bool) (netip.Addr, int, error) {
	first := net.Masked().Addr().Next()
	last := mapping.Last(net).Prev()
	if g, err := netip.ParseAddr(gateway); err == nil {
		if g == first {
			first = first.Next()
		} else if g == last {
			last = last.Prev()
		}
	}
	avail := int(mapping.Offset(first, last)) + 1
	if !hasSize {
		size = avail
	}
	if size > avail {
		return first, 0, inputf("SIZE %d does not fit in %s (%d usable addresses besides the gateway)", size, net, avail)
	}
	return first, size, nil
}
