// Package integration holds the tests that run against a real NetBox 4.7 (never a fake).
//
// Start one with `make netbox-up` (integration/netbox/up): it writes NETBOX_URL and
// NETBOX_TOKEN to .netbox.env at the repo root, which these tests read when the
// environment does not set them. Every test makes its own uniquely named objects (its
// own VRF, tag, custom field…) and removes them, so tests run in any order against one
// shared NetBox. With CI=true an unreachable NetBox fails the run; otherwise the tests
// skip with a message that says how to start NetBox.
package integration
