package netboxtest

import (
	"context"
	"strconv"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// Resolve finds a VRF, tenant, role or site by id, slug or name.
func (n *NetBox) Resolve(_ context.Context, kind, s string) (netbox.Ref, error) {
	return call(n, "Resolve", func() (netbox.Ref, error) {
		for _, r := range n.Refs[kind] {
			if strconv.Itoa(r.ID) == s || r.Slug == s || r.Name == s {
				return r, nil
			}
		}
		return netbox.Ref{}, Refused("Resolve", 404, "no NetBox "+kind+" "+strconv.Quote(s))
	})
}

// AddRef adds a VRF, tenant, role or site and returns its id.
func (n *NetBox) AddRef(kind, name string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	id := n.id()
	n.Refs[kind] = append(n.Refs[kind], netbox.Ref{ID: id, Name: name, Slug: name})
	return id
}

// BaseURL is the fake's address.
func (n *NetBox) BaseURL() string { return "http://netbox.test" }

// Status answers /api/status/.
func (n *NetBox) Status(context.Context) (netbox.Status, error) {
	return call(n, "Status", func() (netbox.Status, error) { return netbox.Status{NetBoxVersion: n.Version}, nil })
}

// Allowed says whether the token may do method on path (Denied lists what it may not).
func (n *NetBox) Allowed(_ context.Context, method, path string) (bool, error) {
	return call(n, "Allowed", func() (bool, error) { return !n.Denied[method+" "+path], nil })
}

// TagBySlug returns the tag.
func (n *NetBox) TagBySlug(_ context.Context, slug string) (netbox.Tag, error) {
	return call(n, "TagBySlug", func() (netbox.Tag, error) {
		if t, ok := n.Tags[slug]; ok {
			return t, nil
		}
		return netbox.Tag{}, Refused("TagBySlug", 404, "no tag "+slug)
	})
}

// CreateTag creates a tag.
func (n *NetBox) CreateTag(_ context.Context, name, slug, _ string) (netbox.Tag, error) {
	return call(n, "CreateTag", func() (netbox.Tag, error) {
		t := netbox.Tag{ID: n.id(), Name: name, Slug: slug}
		n.Tags[slug] = t
		return t, nil
	})
}

// CustomFieldByName returns the custom field.
func (n *NetBox) CustomFieldByName(_ context.Context, name string) (netbox.CustomField, error) {
	return call(n, "CustomFieldByName", func() (netbox.CustomField, error) {
		if f, ok := n.Fields[name]; ok {
			return f, nil
		}
		return netbox.CustomField{}, Refused("CustomFieldByName", 404, "no custom field "+name)
	})
}

// CreateCustomField creates a custom field.
func (n *NetBox) CreateCustomField(_ context.Context, s netbox.CustomFieldSpec) (netbox.CustomField, error) {
	return call(n, "CreateCustomField", func() (netbox.CustomField, error) {
		f := netbox.CustomField{ID: n.id(), Name: s.Name, ObjectTypes: s.ObjectTypes, Type: netbox.Choice{Value: s.Type},
			FilterLogic: netbox.Choice{Value: s.FilterLogic}, GroupName: s.Group}
		n.Fields[s.Name] = f
		return f, nil
	})
}
