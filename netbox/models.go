package netbox

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"time"
)

// These are the shapes of NetBox 4.7's answers that the driver reads, decoded straight
// from the raw JSON (see decode). Fields the driver does not read are left out.

// Ref is a nested reference to another object (VRF, role, tenant, tag, VLAN …).
type Ref struct {
	ID      int    `json:"id"`
	Name    string `json:"name,omitempty"`
	Slug    string `json:"slug,omitempty"`
	Display string `json:"display,omitempty"`
}

// RefID is the id of r, 0 for none.
func RefID(r *Ref) int {
	if r == nil {
		return 0
	}
	return r.ID
}

// Choice is NetBox's {value, label} for status and similar fields.
type Choice struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// Tagged is the part shared by every object the driver may own.
type Tagged struct {
	ID           int            `json:"id"`
	Tags         []Ref          `json:"tags"`
	CustomFields map[string]any `json:"custom_fields"`
	Description  string         `json:"description"`
	Display      string         `json:"display"`
}

// HasTag reports whether the object carries the tag with this slug.
func (t Tagged) HasTag(slug string) bool {
	for _, x := range t.Tags {
		if x.Slug == slug {
			return true
		}
	}
	return false
}

// CustomString returns a custom field's value as text ("" when empty). Numbers come
// back as their decimal text.
func (t Tagged) CustomString(name string) string {
	switch v := t.CustomFields[name].(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// Prefix is ipam.prefix.
type Prefix struct {
	Tagged
	Prefix    string  `json:"prefix"`
	VRF       *Ref    `json:"vrf"`
	Role      *Ref    `json:"role"`
	Tenant    *Ref    `json:"tenant"`
	VLAN      *Ref    `json:"vlan"`
	Status    Choice  `json:"status"`
	IsPool    bool    `json:"is_pool"`
	ScopeType *string `json:"scope_type"`
	ScopeID   *int    `json:"scope_id"`
	// Created is when NetBox made it: sync --prune leaves a young one alone (its AR
	// may be one oned is registering right now).
	Created time.Time `json:"created"`
}

// Net parses the prefix ("10.0.0.0/24").
func (p Prefix) Net() (netip.Prefix, error) { return netip.ParsePrefix(p.Prefix) }

// IPRange is ipam.iprange. Size is a json.Number: IPv6 ranges exceed any int.
type IPRange struct {
	Tagged
	StartAddress string      `json:"start_address"`
	EndAddress   string      `json:"end_address"`
	Size         json.Number `json:"size"`
	VRF          *Ref        `json:"vrf"`
	Role         *Ref        `json:"role"`
	Tenant       *Ref        `json:"tenant"`
	Status       Choice      `json:"status"`
	MarkUtilized bool        `json:"mark_utilized"`
	// MarkPopulated is an admin's "every address here is in use elsewhere" (NetBox 4.3+;
	// absent, so false, before): NetBox then refuses leases inside the range.
	MarkPopulated bool      `json:"mark_populated"`
	Created       time.Time `json:"created"` // as Prefix.Created
}

// Span returns the first and last address of the range.
func (r IPRange) Span() (first, last netip.Addr, err error) {
	s, err := netip.ParsePrefix(r.StartAddress)
	if err != nil {
		return first, last, err
	}
	e, err := netip.ParsePrefix(r.EndAddress)
	if err != nil {
		return first, last, err
	}
	return s.Addr(), e.Addr(), nil
}

// IPAddress is ipam.ipaddress.
type IPAddress struct {
	Tagged
	Address string `json:"address"`
	VRF     *Ref   `json:"vrf"`
	Tenant  *Ref   `json:"tenant"`
	Status  Choice `json:"status"`
	DNSName string `json:"dns_name"`
	// AssignedObjectType and AssignedObjectID name the interface the address is on
	// ("virtualization.vminterface" and its id), empty when on none.
	AssignedObjectType string `json:"assigned_object_type"`
	AssignedObjectID   int    `json:"assigned_object_id"`
	// Created is when NetBox made it: sync leaves a young orphan alone (it may be a
	// lease oned is still recording).
	Created time.Time `json:"created"`
}

// Addr is the address without its mask.
func (a IPAddress) Addr() (netip.Addr, error) {
	p, err := netip.ParsePrefix(a.Address)
	if err != nil {
		return netip.Addr{}, err
	}
	return p.Addr(), nil
}

// VRF is ipam.vrf.
type VRF struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	RD   string `json:"rd"`
}

// CustomField is extras.customfield.
type CustomField struct {
	ID          int      `json:"id"`
	Name        string   `json:"name"`
	ObjectTypes []string `json:"object_types"`
	Type        Choice   `json:"type"`
	FilterLogic Choice   `json:"filter_logic"`
	GroupName   string   `json:"group_name"`
}

// Tag is extras.tag.
type Tag struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	Slug string `json:"slug"`
}

// AvailableIP is one entry of available-ips GET.
type AvailableIP struct {
	Family  int    `json:"family"`
	Address string `json:"address"`
	VRF     *Ref   `json:"vrf"`
}

// list is NetBox's paginated answer.
type list[T any] struct {
	Count   int    `json:"count"`
	Next    string `json:"next"`
	Results []T    `json:"results"`
}
