package driver

import (
	"context"
	"net/netip"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
)

// The five OpenNebula actions, each from a Request to its response. A response carries
// the call's Changes also when the call failed (they are what it created and rolled
// back), so the edge can log them.

// RegisterResponse is register_address_range's answer: the AR oned stores in place of
// the one it sent.
type RegisterResponse struct {
	AR      mapping.Attrs
	Changes Changes
}

// LeaseResponse is get_address's answer: SIZE addresses from IP on.
type LeaseResponse struct {
	IP      netip.Addr
	Size    int
	Changes Changes
}

// Response is the answer of the actions that answer nothing but success.
type Response struct {
	Changes Changes
	// Warning is what the call left undone without failing (free_address never fails
	// for NetBox's sake: see Free).
	Warning string
}

// Register handles register_address_range (AR shape R).
func (d *Driver) Register(ctx context.Context, req Request) (RegisterResponse, error) {
	c := d.Begin(req.ID)
	ar, err := c.register(ctx, req.AR)
	return RegisterResponse{AR: ar, Changes: c.changes}, err
}

// GetAddress handles get_address: ADDRESS SIZE free addresses of the AR, contiguous.
func (d *Driver) GetAddress(ctx context.Context, req Request) (LeaseResponse, error) {
	c := d.Begin(req.ID)
	ip, n, err := c.getAddress(ctx, req.Request)
	return LeaseResponse{IP: ip, Size: n, Changes: c.changes}, err
}

// Allocate handles allocate_address: exactly ADDRESS IP…IP+SIZE-1, atomically.
func (d *Driver) Allocate(ctx context.Context, req Request) (Response, error) {
	c := d.Begin(req.ID)
	err := c.allocate(ctx, req.Request)
	return Response{Changes: c.changes}, err
}

// Free handles free_address. Once the request is understood it succeeds: see free.
func (d *Driver) Free(ctx context.Context, req Request) (Response, error) {
	c := d.Begin(req.ID)
	warning, err := c.free(ctx, req.Request)
	return Response{Changes: c.changes, Warning: warning}, err
}

// Unregister handles unregister_address_range (AR shapes S and V).
func (d *Driver) Unregister(ctx context.Context, req Request) (Response, error) {
	c := d.Begin(req.ID)
	err := c.unregister(ctx, req.AR)
	return Response{Changes: c.changes}, err
}
