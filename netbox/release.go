package netbox

import "fmt"

// What the driver does differently by NetBox release. The client learns the release
// line from the API-Version header of the answers it gets anyway (never an extra
// request); before the first answer it assumes the newest. `check` reads the full
// release from /api/status/ and says what is off (cmd/netbox-ipam/driver/setup.go).

// Release is a NetBox release as major, minor and patch.
type Release struct{ Major, Minor, Patch int }

// ParseRelease reads "4.2.9", "4.2" or "v4.6.1-docker" ("" and junk: the zero Release).
func ParseRelease(s string) Release {
	var r Release
	if len(s) > 0 && s[0] == 'v' {
		s = s[1:]
	}
	if n, _ := fmt.Sscanf(s, "%d.%d.%d", &r.Major, &r.Minor, &r.Patch); n < 2 {
		return Release{}
	}
	return r
}

// Known says whether the release was read.
func (r Release) Known() bool { return r.Major > 0 }

// AtLeast says whether r is major.minor.patch or later.
func (r Release) AtLeast(major, minor, patch int) bool {
	if r.Major != major {
		return r.Major > major
	}
	if r.Minor != minor {
		return r.Minor > minor
	}
	return r.Patch >= patch
}

func (r Release) String() string { return fmt.Sprintf("%d.%d.%d", r.Major, r.Minor, r.Patch) }

// APIVersion is the release line NetBox's last answer named (API-Version, "4.2"), or
// "" before any answer.
func (c *Client) APIVersion() string {
	v, _ := c.apiVersion.Load().(string)
	return v
}

// MACShortcut says whether a VM interface's mac_address is writable: NetBox 4.2 made
// MACs objects of their own (dcim.macaddress) and the interface field read-only, 4.7
// writable again. Unknown (no answer yet): assumed, as on the newest.
func MACShortcut(r Release) bool { return !r.Known() || r.AtLeast(4, 7, 0) }

// SingleAddressRanges says whether an IP range may hold one address (start = end):
// from NetBox 4.6.1; before, NetBox refuses it ("must be greater than").
func SingleAddressRanges(r Release) bool { return !r.Known() || r.AtLeast(4, 6, 1) }

// V2Tokens says whether the release has v2 tokens (nbt_…): from 4.5.
func V2Tokens(r Release) bool { return !r.Known() || r.AtLeast(4, 5, 0) }

// PopulatedRanges says whether an IP range marked populated keeps addresses out: from
// NetBox 4.3 its available-ips is empty and an address inside is refused ("Cannot create
// IP address … inside range"). 4.2 has no mark_populated at all.
func PopulatedRanges(r Release) bool { return !r.Known() || r.AtLeast(4, 3, 0) }
