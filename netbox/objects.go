package netbox

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	gonb "github.com/netbox-community/go-netbox/v4"
)

// TagRef names a tag to put on an object, by slug.
type TagRef struct{ Slug string }

// nestedTags sends tags as {"slug": …}: NetBox looks nested objects up by whatever
// attributes are given, and go-netbox's NestedTagRequest would also demand the name.
func nestedTags(tags []TagRef) []map[string]string {
	out := make([]map[string]string, 0, len(tags))
	for _, t := range tags {
		out = append(out, map[string]string{"slug": t.Slug})
	}
	return out
}

// refs puts foreign keys as plain ids: go-netbox 4.0 models them as nested objects
// with required names, which NetBox would then look up by name.
func refs(kv map[string]int) map[string]any {
	out := map[string]any{}
	for k, v := range kv {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func id32(id int) int32 { return int32(id) } //nolint:gosec // NetBox ids fit in int32 (go-netbox's own type)

// Status is the part of /api/status/ the driver reads.
type Status struct {
	NetBoxVersion string `json:"netbox-version"`
}

// Status reads /api/status/ (needs a valid token on NetBox 4.7's default LOGIN_REQUIRED).
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	_, resp, err := c.api.StatusAPI.StatusRetrieve(ctx).Execute()
	return s, decode(ctx, "GET /api/status/", resp, err, &s)
}

// --- tags -------------------------------------------------------------------

// TagBySlug returns the tag, or a KindNotFound error.
func (c *Client) TagBySlug(ctx context.Context, slug string) (Tag, error) {
	var l list[Tag]
	_, resp, err := c.api.ExtrasAPI.ExtrasTagsList(ctx).Slug([]string{slug}).Execute()
	if err := decode(ctx, "GET /api/extras/tags/", resp, err, &l); err != nil {
		return Tag{}, err
	}
	if len(l.Results) == 0 {
		return Tag{}, &Error{Kind: KindNotFound, Op: "GET /api/extras/tags/", Msg: fmt.Sprintf("no tag with slug %q", slug)}
	}
	return l.Results[0], nil
}

// CreateTag creates a tag.
func (c *Client) CreateTag(ctx context.Context, name, slug, description string) (Tag, error) {
	req := gonb.NewTagRequest(name, slug)
	req.SetDescription(description)
	var t Tag
	_, resp, err := c.api.ExtrasAPI.ExtrasTagsCreate(ctx).TagRequest(*req).Execute()
	return t, decode(ctx, "POST /api/extras/tags/", resp, err, &t)
}

// DeleteTag deletes a tag by id.
func (c *Client) DeleteTag(ctx context.Context, id int) error {
	resp, err := c.api.ExtrasAPI.ExtrasTagsDestroy(ctx, id32(id)).Execute()
	return decode(ctx, "DELETE /api/extras/tags/"+strconv.Itoa(id)+"/", resp, err, nil)
}

// --- custom fields ------------------------------------------------------------

// CustomFieldSpec is a custom field to create.
type CustomFieldSpec struct {
	Name, Label, Group, Description string
	Type                            string   // "text", "integer", …
	ObjectTypes                     []string // e.g. "ipam.prefix"
	FilterLogic                     string   // "exact", "loose", "disabled"
}

// CustomFieldByName returns the custom field, or a KindNotFound error.
func (c *Client) CustomFieldByName(ctx context.Context, name string) (CustomField, error) {
	var l list[CustomField]
	_, resp, err := c.api.ExtrasAPI.ExtrasCustomFieldsList(ctx).Name([]string{name}).Execute()
	if err := decode(ctx, "GET /api/extras/custom-fields/", resp, err, &l); err != nil {
		return CustomField{}, err
	}
	for _, f := range l.Results {
		if f.Name == name {
			return f, nil
		}
	}
	return CustomField{}, &Error{Kind: KindNotFound, Op: "GET /api/extras/custom-fields/", Msg: fmt.Sprintf("no custom field %q", name)}
}

// CreateCustomField creates a custom field.
func (c *Client) CreateCustomField(ctx context.Context, s CustomFieldSpec) (CustomField, error) {
	req := gonb.NewWritableCustomFieldRequest(s.ObjectTypes, s.Name)
	typ := gonb.PatchedWritableCustomFieldRequestType(s.Type)
	req.Type = &typ
	if s.FilterLogic != "" {
		fl := gonb.PatchedWritableCustomFieldRequestFilterLogic(s.FilterLogic)
		req.FilterLogic = &fl
	}
	if s.Label != "" {
		req.SetLabel(s.Label)
	}
	if s.Group != "" {
		req.SetGroupName(s.Group)
	}
	if s.Description != "" {
		req.SetDescription(s.Description)
	}
	var f CustomField
	_, resp, err := c.api.ExtrasAPI.ExtrasCustomFieldsCreate(ctx).WritableCustomFieldRequest(*req).Execute()
	return f, decode(ctx, "POST /api/extras/custom-fields/", resp, err, &f)
}

// DeleteCustomField deletes a custom field by id.
func (c *Client) DeleteCustomField(ctx context.Context, id int) error {
	resp, err := c.api.ExtrasAPI.ExtrasCustomFieldsDestroy(ctx, id32(id)).Execute()
	return decode(ctx, "DELETE /api/extras/custom-fields/"+strconv.Itoa(id)+"/", resp, err, nil)
}

// --- VRFs and roles -----------------------------------------------------------

// CreateVRF creates a VRF.
func (c *Client) CreateVRF(ctx context.Context, name string) (VRF, error) {
	req := gonb.NewVRFRequest(name)
	var v VRF
	_, resp, err := c.api.IpamAPI.IpamVrfsCreate(ctx).VRFRequest(*req).Execute()
	return v, decode(ctx, "POST /api/ipam/vrfs/", resp, err, &v)
}

// DeleteVRF deletes a VRF by id.
func (c *Client) DeleteVRF(ctx context.Context, id int) error {
	resp, err := c.api.IpamAPI.IpamVrfsDestroy(ctx, id32(id)).Execute()
	return decode(ctx, "DELETE /api/ipam/vrfs/"+strconv.Itoa(id)+"/", resp, err, nil)
}

// CreateRole creates an IPAM role (prefix / IP range role).
func (c *Client) CreateRole(ctx context.Context, name, slug string) (Ref, error) {
	req := gonb.NewRoleRequest(name, slug)
	var r Ref
	_, resp, err := c.api.IpamAPI.IpamRolesCreate(ctx).RoleRequest(*req).Execute()
	return r, decode(ctx, "POST /api/ipam/roles/", resp, err, &r)
}

// DeleteRole deletes a role by id.
func (c *Client) DeleteRole(ctx context.Context, id int) error {
	resp, err := c.api.IpamAPI.IpamRolesDestroy(ctx, id32(id)).Execute()
	return decode(ctx, "DELETE /api/ipam/roles/"+strconv.Itoa(id)+"/", resp, err, nil)
}

// --- prefixes -------------------------------------------------------------------

// PrefixSpec is a prefix to create. Zero ids mean "none".
type PrefixSpec struct {
	Prefix                  string
	VRFID, RoleID, TenantID int
	Status                  string // "" = NetBox's default (active)
	Description             string
	Tags                    []TagRef
	CustomFields            map[string]any
	ScopeType               string // e.g. "dcim.site" (NetBox ≥ 4.2)
	ScopeID                 int
}

func (s PrefixSpec) request() *gonb.WritablePrefixRequest {
	req := gonb.NewWritablePrefixRequest(s.Prefix)
	req.CustomFields = s.CustomFields
	if s.Description != "" {
		req.SetDescription(s.Description)
	}
	if s.Status != "" {
		st := gonb.PatchedWritablePrefixRequestStatus(s.Status)
		req.Status = &st
	}
	req.AdditionalProperties = refs(map[string]int{"vrf": s.VRFID, "role": s.RoleID, "tenant": s.TenantID})
	if len(s.Tags) > 0 {
		req.AdditionalProperties["tags"] = nestedTags(s.Tags)
	}
	if s.ScopeType != "" {
		req.AdditionalProperties["scope_type"] = s.ScopeType
		req.AdditionalProperties["scope_id"] = s.ScopeID
	}
	return req
}

// CreatePrefix creates a prefix.
func (c *Client) CreatePrefix(ctx context.Context, s PrefixSpec) (Prefix, error) {
	var p Prefix
	_, resp, err := c.api.IpamAPI.IpamPrefixesCreate(ctx).WritablePrefixRequest(*s.request()).Execute()
	return p, decode(ctx, "POST /api/ipam/prefixes/", resp, err, &p)
}

// GetPrefix reads a prefix by id.
func (c *Client) GetPrefix(ctx context.Context, id int) (Prefix, error) {
	var p Prefix
	_, resp, err := c.api.IpamAPI.IpamPrefixesRetrieve(ctx, id32(id)).Execute()
	return p, decode(ctx, "GET /api/ipam/prefixes/"+strconv.Itoa(id)+"/", resp, err, &p)
}

// DeletePrefix deletes a prefix by id.
func (c *Client) DeletePrefix(ctx context.Context, id int) error {
	resp, err := c.api.IpamAPI.IpamPrefixesDestroy(ctx, id32(id)).Execute()
	return decode(ctx, "DELETE /api/ipam/prefixes/"+strconv.Itoa(id)+"/", resp, err, nil)
}

// --- IP ranges ------------------------------------------------------------------

// IPRangeSpec is an IP range to create. Start and End carry the mask ("10.0.0.10/24").
type IPRangeSpec struct {
	Start, End              string
	VRFID, RoleID, TenantID int
	Status                  string
	Description             string
	Tags                    []TagRef
	CustomFields            map[string]any
}

// CreateIPRange creates an IP range.
func (c *Client) CreateIPRange(ctx context.Context, s IPRangeSpec) (IPRange, error) {
	req := gonb.NewWritableIPRangeRequest(s.Start, s.End)
	req.CustomFields = s.CustomFields
	if s.Description != "" {
		req.SetDescription(s.Description)
	}
	if s.Status != "" {
		st := gonb.PatchedWritableIPRangeRequestStatus(s.Status)
		req.Status = &st
	}
	req.AdditionalProperties = refs(map[string]int{"vrf": s.VRFID, "role": s.RoleID, "tenant": s.TenantID})
	if len(s.Tags) > 0 {
		req.AdditionalProperties["tags"] = nestedTags(s.Tags)
	}
	var r IPRange
	_, resp, err := c.api.IpamAPI.IpamIpRangesCreate(ctx).WritableIPRangeRequest(*req).Execute()
	return r, decode(ctx, "POST /api/ipam/ip-ranges/", resp, err, &r)
}

// GetIPRange reads an IP range by id.
func (c *Client) GetIPRange(ctx context.Context, id int) (IPRange, error) {
	var r IPRange
	_, resp, err := c.api.IpamAPI.IpamIpRangesRetrieve(ctx, id32(id)).Execute()
	return r, decode(ctx, "GET /api/ipam/ip-ranges/"+strconv.Itoa(id)+"/", resp, err, &r)
}

// DeleteIPRange deletes an IP range by id.
func (c *Client) DeleteIPRange(ctx context.Context, id int) error {
	resp, err := c.api.IpamAPI.IpamIpRangesDestroy(ctx, id32(id)).Execute()
	return decode(ctx, "DELETE /api/ipam/ip-ranges/"+strconv.Itoa(id)+"/", resp, err, nil)
}

// --- IP addresses ---------------------------------------------------------------

// IPAddressSpec is an IP address to create. Address is empty for available-ips.
type IPAddressSpec struct {
	Address      string
	VRFID        int
	TenantID     int
	Status       string
	Description  string
	Tags         []TagRef
	CustomFields map[string]any
}

// availableRequest builds the body of one available-ips entry. go-netbox 4.0 models it
// as the brief IPAddressRequest (address and description only), so everything else
// travels as additional properties.
func (s IPAddressSpec) availableRequest() gonb.IPAddressRequest {
	req := gonb.NewIPAddressRequest(s.Address)
	if s.Description != "" {
		req.SetDescription(s.Description)
	}
	req.AdditionalProperties = refs(map[string]int{"vrf": s.VRFID, "tenant": s.TenantID})
	if len(s.Tags) > 0 {
		req.AdditionalProperties["tags"] = nestedTags(s.Tags)
	}
	if len(s.CustomFields) > 0 {
		req.AdditionalProperties["custom_fields"] = s.CustomFields
	}
	if s.Status != "" {
		req.AdditionalProperties["status"] = s.Status
	}
	return *req
}

// TakeFromRange asks NetBox for len(specs) free addresses of the IP range and creates
// them with the given attributes, atomically under NetBox's lock. The answer is in
// address order. A full range is a KindConflict error (NetBox's 409).
func (c *Client) TakeFromRange(ctx context.Context, rangeID int, specs []IPAddressSpec) ([]IPAddress, error) {
	reqs := make([]gonb.IPAddressRequest, 0, len(specs))
	for _, s := range specs {
		reqs = append(reqs, s.availableRequest())
	}
	var out []IPAddress
	_, resp, err := c.api.IpamAPI.IpamIpRangesAvailableIpsCreate(ctx, id32(rangeID)).IPAddressRequest(reqs).Execute()
	return out, decode(ctx, fmt.Sprintf("POST /api/ipam/ip-ranges/%d/available-ips/", rangeID), resp, err, &out)
}

// GetIPAddress reads an IP address by id.
func (c *Client) GetIPAddress(ctx context.Context, id int) (IPAddress, error) {
	var a IPAddress
	_, resp, err := c.api.IpamAPI.IpamIpAddressesRetrieve(ctx, id32(id)).Execute()
	return a, decode(ctx, "GET /api/ipam/ip-addresses/"+strconv.Itoa(id)+"/", resp, err, &a)
}

// DeleteIPAddress deletes an IP address by id.
func (c *Client) DeleteIPAddress(ctx context.Context, id int) error {
	resp, err := c.api.IpamAPI.IpamIpAddressesDestroy(ctx, id32(id)).Execute()
	return decode(ctx, "DELETE /api/ipam/ip-addresses/"+strconv.Itoa(id)+"/", resp, err, nil)
}

// AvailableInRange lists up to limit free addresses of an IP range (go-netbox has no
// `limit` on this call, so it goes through do).
func (c *Client) AvailableInRange(ctx context.Context, rangeID, limit int) ([]AvailableIP, error) {
	var out []AvailableIP
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	err := c.do(ctx, "GET", fmt.Sprintf("/api/ipam/ip-ranges/%d/available-ips/", rangeID), q, nil, &out)
	return out, err
}
