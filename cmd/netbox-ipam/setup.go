package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// customFields are the NetBox custom fields the driver reads and writes.
var customFields = []netbox.CustomFieldSpec{
	{Name: mapping.CFGateway, Label: "OpenNebula gateway", Type: "text", ObjectTypes: []string{"ipam.prefix"}},
	{Name: mapping.CFDNS, Label: "OpenNebula DNS", Type: "text", ObjectTypes: []string{"ipam.prefix"}, Description: "space-separated, as OpenNebula writes DNS"},
	{Name: mapping.CFNetworkMask, Label: "OpenNebula network mask", Type: "text", ObjectTypes: []string{"ipam.prefix"}},
	{Name: mapping.CFGuestMTU, Label: "OpenNebula guest MTU", Type: "integer", ObjectTypes: []string{"ipam.prefix"}},
	{Name: mapping.CFSearchDomain, Label: "OpenNebula search domain", Type: "text", ObjectTypes: []string{"ipam.prefix"}},
	{Name: mapping.CFRequestID, Label: "OpenNebula request id", Type: "text", ObjectTypes: []string{"ipam.ipaddress"}, Description: "restarts with oned: for people, not a key"},
	{Name: mapping.CFARID, Label: "OpenNebula AR id", Type: "text", ObjectTypes: []string{"ipam.ipaddress"}},
	{Name: mapping.CFMAC, Label: "OpenNebula MAC", Type: "text", ObjectTypes: []string{"ipam.ipaddress"}},
	{Name: mapping.CFVMID, Label: "OpenNebula VM id", Type: "text", ObjectTypes: []string{"ipam.ipaddress"}},
	{Name: mapping.CFVNetID, Label: "OpenNebula network id", Type: "text", ObjectTypes: []string{"ipam.ipaddress"}},
	{Name: mapping.CFVRouterID, Label: "OpenNebula virtual router id", Type: "text", ObjectTypes: []string{"ipam.ipaddress"}},
}

func init() {
	for i := range customFields {
		customFields[i].Group = "OpenNebula"
		customFields[i].FilterLogic = "exact" // NetBox's default text filter matches substrings
	}
}

// Setup creates the tag and the custom fields the driver needs; what exists stays.
func (d *Driver) Setup(ctx context.Context, out io.Writer) error {
	if _, err := d.nb.TagBySlug(ctx, d.cfg.Tag); netbox.IsNotFound(err) {
		if _, err := d.nb.CreateTag(ctx, d.cfg.Tag, d.cfg.Tag, "Created and owned by OpenNebula's netbox IPAM driver"); err != nil {
			return err
		}
		fmt.Fprintf(out, "created tag %s\n", d.cfg.Tag)
	} else if err != nil {
		return err
	} else {
		fmt.Fprintf(out, "exists  tag %s\n", d.cfg.Tag)
	}
	for _, spec := range customFields {
		if _, err := d.nb.CustomFieldByName(ctx, spec.Name); netbox.IsNotFound(err) {
			if _, err := d.nb.CreateCustomField(ctx, spec); err != nil {
				return err
			}
			fmt.Fprintf(out, "created custom field %s on %s\n", spec.Name, strings.Join(spec.ObjectTypes, ","))
		} else if err != nil {
			return err
		} else {
			fmt.Fprintf(out, "exists  custom field %s\n", spec.Name)
		}
	}
	return nil
}

// Check reports, one line per item, whether NetBox is usable by the driver.
func (d *Driver) Check(ctx context.Context, out io.Writer) bool {
	ok := true
	line := func(good bool, item, msg string) {
		word := "ok  "
		if !good {
			word, ok = "FAIL", false
		}
		fmt.Fprintf(out, "%s %-22s %s\n", word, item, oneLine(msg))
	}
	st, err := d.nb.Status(ctx)
	if err != nil {
		msg, _ := describe(err)
		switch netbox.KindOf(err) {
		case netbox.KindAuth:
			line(true, "url", d.nb.BaseURL())
			line(false, "token", msg)
		default:
			line(false, "url", msg)
		}
		return false
	}
	line(true, "url", d.nb.BaseURL())
	line(true, "token", "accepted")
	line(versionAtLeast(st.NetBoxVersion, 4, 2), "netbox version", st.NetBoxVersion+" (needs 4.2 or later; tested: 4.7)")
	if _, err := d.nb.TagBySlug(ctx, d.cfg.Tag); err != nil {
		line(false, "tag "+d.cfg.Tag, "missing: run `netbox-ipam setup`")
	} else {
		line(true, "tag "+d.cfg.Tag, "present")
	}
	for _, spec := range customFields {
		f, err := d.nb.CustomFieldByName(ctx, spec.Name)
		switch {
		case netbox.IsNotFound(err):
			line(false, "custom field", spec.Name+" missing: run `netbox-ipam setup`")
		case err != nil:
			msg, _ := describe(err)
			line(false, "custom field", spec.Name+": "+msg)
		case !sameSet(f.ObjectTypes, spec.ObjectTypes):
			line(false, "custom field", fmt.Sprintf("%s is on %v, want %v", spec.Name, f.ObjectTypes, spec.ObjectTypes))
		case f.FilterLogic.Value != "exact":
			line(false, "custom field", spec.Name+" filter logic is "+f.FilterLogic.Value+", want exact")
		default:
			line(true, "custom field", spec.Name)
		}
	}
	return ok
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, x := range a {
		m[x] = true
	}
	for _, x := range b {
		if !m[x] {
			return false
		}
	}
	return true
}

// versionAtLeast compares a NetBox version ("4.7.3", "4.10.0-beta") with major.minor.
func versionAtLeast(v string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(v, "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}
