// Package mapping owns OpenNebula's side of the conversation and the address math
// between the two: decoding the base64 XML request of an IPAM action, the AR
// attribute names, writing OpenNebula template answers, and the allocation policy
// (which addresses to take: contiguous free runs, prefix lengths, EUI-64, MAC offsets).
// It never talks to NetBox, so all of it is unit-tested without a server.
package mapping
