package netbox

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// The calls below filter by things go-netbox's typed list requests cannot say (the
// global table as vrf_id=null, several addresses at once with their VRF), or send
// bodies its 4.0 models lack fields for, so they go through do().

// vrfQuery selects a VRF in list queries: 0 is the global table.
func vrfQuery(q url.Values, vrfID int) {
	if vrfID == 0 {
		q.Set("vrf_id", "null")
	} else {
		q.Set("vrf_id", strconv.Itoa(vrfID))
	}
}

// listAll follows NetBox's pagination. max bounds the objects read: a query that
// matches more is an error (KindLimit), never a silently shortened answer.
func listAll[T any](ctx context.Context, c *Client, path string, q url.Values, max int) ([]T, error) {
	q.Set("limit", strconv.Itoa(min(pageSize, max+1)))
	var out []T
	for offset := 0; ; {
		q.Set("offset", strconv.Itoa(offset))
		var page list[T]
		if err := c.do(ctx, "GET", path, q, nil, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Results...)
		offset += len(page.Results)
		if len(out) > max {
			return nil, &Error{Kind: KindLimit, Op: "GET " + path, Msg: fmt.Sprintf("NetBox holds %d matching objects, more than the %d the driver reads", page.Count, max)}
		}
		if page.Next == "" || len(page.Results) == 0 {
			return out, nil
		}
	}
}

// pageSize is the page length of list requests (NetBox's MAX_PAGE_SIZE default).
const pageSize = 1000

// first reads whether any object matches q, and the first one: one request of one
// object, whatever the count.
func first[T any](ctx context.Context, c *Client, path string, q url.Values) (T, bool, error) {
	q.Set("limit", "1")
	var page list[T]
	var zero T
	if err := c.do(ctx, "GET", path, q, nil, &page); err != nil {
		return zero, false, err
	}
	if len(page.Results) == 0 {
		return zero, false, nil
	}
	return page.Results[0], true, nil
}

// PrefixesContaining lists the prefixes of a VRF that contain addr.
func (c *Client) PrefixesContaining(ctx context.Context, vrfID int, addr string) ([]Prefix, error) {
	q := url.Values{"contains": {addr}}
	vrfQuery(q, vrfID)
	return listAll[Prefix](ctx, c, "/api/ipam/prefixes/", q, 1000)
}

// PrefixExact finds the prefix with exactly this CIDR in a VRF (KindNotFound if none).
func (c *Client) PrefixExact(ctx context.Context, vrfID int, cidr string) (Prefix, error) {
	q := url.Values{"prefix": {cidr}}
	vrfQuery(q, vrfID)
	ps, err := listAll[Prefix](ctx, c, "/api/ipam/prefixes/", q, 10)
	if err != nil {
		return Prefix{}, err
	}
	if len(ps) == 0 {
		return Prefix{}, &Error{Kind: KindNotFound, Op: "GET /api/ipam/prefixes/", Msg: "no prefix " + cidr}
	}
	return ps[0], nil
}

// CarvePrefix asks NetBox for a free child prefix of the given length inside parent
// (NetBox allocates under its lock). A parent with no room is KindConflict.
func (c *Client) CarvePrefix(ctx context.Context, parentID, length int, s PrefixSpec) (Prefix, error) {
	body := map[string]any{"prefix_length": length}
	for k, v := range s.request().AdditionalProperties {
		body[k] = v
	}
	if len(s.Tags) > 0 {
		body["tags"] = nestedTags(s.Tags)
	}
	if len(s.CustomFields) > 0 {
		body["custom_fields"] = s.CustomFields
	}
	if s.Description != "" {
		body["description"] = s.Description
	}
	if s.Status != "" {
		body["status"] = s.Status
	}
	var out []Prefix
	err := c.do(ctx, "POST", fmt.Sprintf("/api/ipam/prefixes/%d/available-prefixes/", parentID), nil, []any{body}, &out)
	if err != nil {
		return Prefix{}, err
	}
	if len(out) != 1 {
		return Prefix{}, &Error{Kind: KindServer, Op: "POST available-prefixes", Msg: fmt.Sprintf("NetBox returned %d prefixes for one request", len(out))}
	}
	return out[0], nil
}

// SetPrefixCustomFields writes custom fields of a prefix (others stay as they are).
func (c *Client) SetPrefixCustomFields(ctx context.Context, id int, cf map[string]any) (Prefix, error) {
	var p Prefix
	err := c.do(ctx, "PATCH", fmt.Sprintf("/api/ipam/prefixes/%d/", id), nil, map[string]any{"custom_fields": cf}, &p)
	return p, err
}

// IPAddressesAt lists the IP address objects of a VRF at these host addresses (any mask).
func (c *Client) IPAddressesAt(ctx context.Context, vrfID int, addrs []string) ([]IPAddress, error) {
	if len(addrs) == 0 {
		return nil, nil
	}
	q := url.Values{"address": addrs}
	vrfQuery(q, vrfID)
	return listAll[IPAddress](ctx, c, "/api/ipam/ip-addresses/", q, 10*len(addrs))
}

// IPAddressesTaggedAt lists the IP address objects carrying the tag at these host
// addresses, in all VRFs: one request per 100 addresses, so that the query string stays
// within the 4 KiB request line of NetBox's gunicorn.
func (c *Client) IPAddressesTaggedAt(ctx context.Context, tag string, addrs []string) ([]IPAddress, error) {
	var out []IPAddress
	for len(addrs) > 0 {
		n := min(100, len(addrs))
		got, err := listAll[IPAddress](ctx, c, "/api/ipam/ip-addresses/", url.Values{"address": addrs[:n], "tag": {tag}}, 10*n)
		if err != nil {
			return nil, err
		}
		out, addrs = append(out, got...), addrs[n:]
	}
	return out, nil
}

// IPAddressesIn lists the IP address objects of a VRF inside a prefix (CIDR).
func (c *Client) IPAddressesIn(ctx context.Context, vrfID int, parent string) ([]IPAddress, error) {
	q := url.Values{"parent": {parent}}
	vrfQuery(q, vrfID)
	return listAll[IPAddress](ctx, c, "/api/ipam/ip-addresses/", q, 1<<20)
}

// IPRangesIn lists the IP ranges of a VRF inside a prefix (CIDR).
func (c *Client) IPRangesIn(ctx context.Context, vrfID int, parent string) ([]IPRange, error) {
	q := url.Values{"parent": {parent}}
	vrfQuery(q, vrfID)
	return listAll[IPRange](ctx, c, "/api/ipam/ip-ranges/", q, 100000)
}

// FirstIPAddressIn is one IP address object of a VRF inside a prefix, if any.
func (c *Client) FirstIPAddressIn(ctx context.Context, vrfID int, parent string) (IPAddress, bool, error) {
	q := url.Values{"parent": {parent}}
	vrfQuery(q, vrfID)
	return first[IPAddress](ctx, c, "/api/ipam/ip-addresses/", q)
}

// FirstIPRangeIn is one IP range of a VRF inside a prefix, if any.
func (c *Client) FirstIPRangeIn(ctx context.Context, vrfID int, parent string) (IPRange, bool, error) {
	q := url.Values{"parent": {parent}}
	vrfQuery(q, vrfID)
	return first[IPRange](ctx, c, "/api/ipam/ip-ranges/", q)
}

// InBatches hands items to send BulkSize at a time, stopping at the first error.
func InBatches[T any](items []T, send func([]T) error) error {
	for len(items) > 0 {
		n := min(BulkSize, len(items))
		if err := send(items[:n]); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}

// CreateIPAddresses creates all of specs in one atomic request (all or none).
func (c *Client) CreateIPAddresses(ctx context.Context, specs []IPAddressSpec) ([]IPAddress, error) {
	body := make([]map[string]any, 0, len(specs))
	for _, s := range specs {
		m := map[string]any{"address": s.Address}
		for k, v := range s.availableRequest().AdditionalProperties {
			m[k] = v
		}
		if s.Description != "" {
			m["description"] = s.Description
		}
		body = append(body, m)
	}
	var out []IPAddress
	err := c.do(ctx, "POST", "/api/ipam/ip-addresses/", nil, body, &out)
	return out, err
}

// PatchIPAddress changes fields of one IP address.
func (c *Client) PatchIPAddress(ctx context.Context, id int, fields map[string]any) (IPAddress, error) {
	var a IPAddress
	err := c.do(ctx, "PATCH", fmt.Sprintf("/api/ipam/ip-addresses/%d/", id), nil, fields, &a)
	return a, err
}

// Resolve finds an object of kind ("vrf", "tenant", "role", "site") by id, slug or name,
// matched exactly. Unknown is KindNotFound with a message naming what was asked.
func (c *Client) Resolve(ctx context.Context, kind, s string) (Ref, error) {
	path, byName := map[string]string{
		"vrf": "/api/ipam/vrfs/", "tenant": "/api/tenancy/tenants/", "role": "/api/ipam/roles/", "site": "/api/dcim/sites/",
	}[kind], "name"
	if path == "" {
		return Ref{}, &Error{Kind: KindInternal, Msg: "unknown kind " + kind}
	}
	var tries []url.Values
	if _, err := strconv.Atoi(s); err == nil {
		tries = append(tries, url.Values{"id": {s}})
	}
	if kind != "vrf" {
		tries = append(tries, url.Values{"slug": {s}})
	}
	tries = append(tries, url.Values{byName: {s}})
	for _, q := range tries {
		refs, err := listAll[Ref](ctx, c, path, q, 10)
		if err != nil {
			return Ref{}, err
		}
		for _, r := range refs {
			if strconv.Itoa(r.ID) == s || r.Slug == s || r.Name == s {
				return r, nil
			}
		}
	}
	return Ref{}, &Error{Kind: KindNotFound, Op: "GET " + path, Msg: fmt.Sprintf("no NetBox %s %q (by id, slug or name)", kind, strings.TrimSpace(s))}
}

// Raw sends a GET (or other method without body) to path and decodes the answer into
// out: for tests and diagnostics.
func (c *Client) Raw(ctx context.Context, method, path string, out any) error {
	p, q, _ := strings.Cut(path, "?")
	vals, _ := url.ParseQuery(q)
	return c.do(ctx, method, p, vals, nil, out)
}

// Allowed probes whether the token may do method on an endpoint without changing
// anything: GET lists one object, POST sends an empty object (NetBox checks the
// permission, then refuses the missing fields), PATCH and DELETE name id 0, which no
// object has (permission first, then 404). Only 403 means "not allowed".
func (c *Client) Allowed(ctx context.Context, method, path string) (bool, error) {
	var q url.Values
	var body any
	switch method {
	case "GET":
		q = url.Values{"limit": {"1"}, "brief": {"1"}}
	case "POST":
		body = map[string]any{}
	case "PATCH", "DELETE":
		path += "0/"
		if method == "PATCH" {
			body = map[string]any{}
		}
	}
	err := c.do(ctx, method, path, q, body, nil)
	switch KindOf(err) {
	case KindAuth:
		return false, nil
	case KindInvalid, KindNotFound:
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// BulkSize bounds one bulk request. NetBox holds its global IP-address lock for the
// whole request (~15 ms an object in 4.7), and every driver action waits for that lock,
// so big batches would stall VM starts; 250 objects hold it for about 4 seconds.
const BulkSize = 250

// DeleteIPAddresses deletes IP addresses by id, in bulk requests of up to BulkSize.
// NetBox 4.7 refuses a whole bulk delete when one id is already gone (HTTP 400 "1 of 3
// objects could not be found"); that batch is then deleted one by one, where gone
// already counts as deleted.
func (c *Client) DeleteIPAddresses(ctx context.Context, ids []int) error {
	return InBatches(ids, func(batch []int) error {
		body := make([]map[string]int, 0, len(batch))
		for _, id := range batch {
			body = append(body, map[string]int{"id": id})
		}
		err := c.do(ctx, "DELETE", "/api/ipam/ip-addresses/", nil, body, nil)
		if IsNotFound(err) || KindOf(err) == KindInvalid {
			for _, id := range batch {
				if err := c.DeleteIPAddress(ctx, id); err != nil && !IsNotFound(err) {
					return err
				}
			}
			return nil
		}
		return err
	})
}

// IPRangesStartingAt lists the IP ranges carrying the tag that start at first (a host
// address, any mask), in all VRFs.
func (c *Client) IPRangesStartingAt(ctx context.Context, tag, first string) ([]IPRange, error) {
	q := url.Values{"tag": {tag}, "start_address": {first}}
	return listAll[IPRange](ctx, c, "/api/ipam/ip-ranges/", q, 100)
}

// IPRangesTagged lists every IP range carrying the tag, in all VRFs.
func (c *Client) IPRangesTagged(ctx context.Context, tag string) ([]IPRange, error) {
	return listAll[IPRange](ctx, c, "/api/ipam/ip-ranges/", url.Values{"tag": {tag}}, 1<<20)
}

// IPAddressesTaggedWithStatus lists every IP address carrying the tag with this status,
// in all VRFs (the driver's freed leases: status deprecated).
func (c *Client) IPAddressesTaggedWithStatus(ctx context.Context, tag, status string) ([]IPAddress, error) {
	return listAll[IPAddress](ctx, c, "/api/ipam/ip-addresses/", url.Values{"tag": {tag}, "status": {status}}, 1<<20)
}

// PrefixesTagged lists every prefix carrying the tag, in all VRFs.
func (c *Client) PrefixesTagged(ctx context.Context, tag string) ([]Prefix, error) {
	return listAll[Prefix](ctx, c, "/api/ipam/prefixes/", url.Values{"tag": {tag}}, 1<<20)
}

// PatchIPAddresses changes several IP addresses in bulk requests of up to BulkSize; each
// change is a map holding the object's "id" and the fields to set.
func (c *Client) PatchIPAddresses(ctx context.Context, changes []map[string]any) error {
	return InBatches(changes, func(batch []map[string]any) error {
		return c.do(ctx, "PATCH", "/api/ipam/ip-addresses/", nil, batch, nil)
	})
}

// PatchIPRange changes fields of one IP range.
func (c *Client) PatchIPRange(ctx context.Context, id int, fields map[string]any) (IPRange, error) {
	var r IPRange
	err := c.do(ctx, "PATCH", fmt.Sprintf("/api/ipam/ip-ranges/%d/", id), nil, fields, &r)
	return r, err
}
