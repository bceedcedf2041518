package mapping

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// OpenNebula's own view of its networks, as `onevnet show -x` prints it (a VNET
// document; `onevnet list -x` gives a VNET_POOL of them): the ARs with their
// attributes, including the driver's NETBOX_* ones, and the leases oned holds. The
// audit compares this with NetBox.

// VNet is one virtual network.
type VNet struct {
	ID, Name string
	ARs      []AR
	Clusters []string // the OpenNebula clusters it belongs to
}

// AR is one address range of a VNet: its attributes and its leases.
type AR struct {
	Attrs  Attrs
	Leases []Lease
}

// Lease is one address oned holds, and who holds it: a VM, a virtual router, or a
// network (a reservation). VM -1 marks a hold (`onevnet hold`).
type Lease struct {
	IP, IP6Global, IP6ULA, MAC string
	VM, VNet, VRouter          string
}

// UsesIPAM reports whether the driver installed as IPAM_MAD name manages the AR.
func (a AR) UsesIPAM(name string) bool { return strings.EqualFold(a.Attrs.Get(AttrIPAMMAD), name) }

// ParseVNets reads one or more VNET documents, or VNET_POOL documents holding them.
func ParseVNets(raw []byte) ([]VNet, error) {
	out, err := ParseVNetPool(raw)
	if err == nil && len(out) == 0 {
		return nil, &InputError{Msg: "no <VNET> document in the input; give `onevnet show -x` output"}
	}
	return out, err
}

// ParseVNetPool is ParseVNets for `onevnet list -x`, where a cloud without networks
// gives an empty VNET_POOL.
func ParseVNetPool(raw []byte) ([]VNet, error) {
	d := xml.NewDecoder(bytes.NewReader(raw))
	d.Strict = true
	var out []VNet
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &InputError{Msg: "network document is not valid XML: " + err.Error()}
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "VNET_POOL":
			continue // its VNETs come next
		case "VNET":
			v, err := readVNet(d, se)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		default:
			return nil, &InputError{Msg: fmt.Sprintf("<%s> is not an OpenNebula network document; give `onevnet show -x` output (<VNET>)", se.Name.Local)}
		}
	}
	return out, nil
}

// xmlNode is a generic element: its text and its children.
type xmlNode struct {
	XMLName  xml.Name
	Text     string    `xml:",chardata"`
	Children []xmlNode `xml:",any"`
}

func (n xmlNode) child(name string) *xmlNode {
	for i := range n.Children {
		if n.Children[i].XMLName.Local == name {
			return &n.Children[i]
		}
	}
	return nil
}

func (n xmlNode) text(name string) string {
	if c := n.child(name); c != nil {
		return strings.TrimSpace(c.Text)
	}
	return ""
}

func readVNet(d *xml.Decoder, start xml.StartElement) (VNet, error) {
	var n xmlNode
	if err := d.DecodeElement(&n, &start); err != nil {
		return VNet{}, &InputError{Msg: "network document is not valid XML: " + err.Error()}
	}
	v := VNet{ID: n.text("ID"), Name: n.text("NAME")}
	if cl := n.child("CLUSTERS"); cl != nil {
		for _, c := range cl.Children {
			if c.XMLName.Local == "ID" {
				v.Clusters = append(v.Clusters, strings.TrimSpace(c.Text))
			}
		}
	}
	pool := n.child("AR_POOL")
	if pool == nil {
		return v, nil
	}
	for _, a := range pool.Children {
		if a.XMLName.Local != "AR" {
			continue
		}
		var ar AR
		for _, c := range a.Children {
			if c.XMLName.Local == "LEASES" {
				for _, l := range c.Children {
					if l.XMLName.Local == "LEASE" {
						ar.Leases = append(ar.Leases, Lease{IP: l.text("IP"), IP6Global: l.text("IP6_GLOBAL"), IP6ULA: l.text("IP6_ULA"),
							MAC: l.text("MAC"), VM: l.text("VM"), VNet: l.text("VNET"), VRouter: l.text("VROUTER")})
					}
				}
				continue
			}
			ar.Attrs = append(ar.Attrs, Attr{Name: strings.ToUpper(c.XMLName.Local), Value: c.Text})
		}
		v.ARs = append(v.ARs, ar)
	}
	return v, nil
}
