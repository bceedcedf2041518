package netboxtest

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// scenarioLeftovers are the list queries that find what Scenario makes, children
// before parents (an address before its VRF, a VM before its cluster, every user of
// the custom field and the tag before them). Each object the scenario makes has one
// of these names or its tag.
//
// NetBox refuses a list filtered by a tag it does not have (400), and no object can
// carry a missing tag: those queries are skipped then.
var scenarioLeftovers = []struct{ what, list string }{
	{"IP address", "/api/ipam/ip-addresses/?tag=" + ScenarioTag},
	{"virtual machine", "/api/virtualization/virtual-machines/?tag=" + ScenarioTag},
	{"cluster", "/api/virtualization/clusters/?tag=" + ScenarioTag},
	{"cluster type", "/api/virtualization/cluster-types/?slug=nbtest-scenario"},
	{"IP range", "/api/ipam/ip-ranges/?tag=" + ScenarioTag},
	{"prefix", "/api/ipam/prefixes/?tag=" + ScenarioTag},
	{"role", "/api/ipam/roles/?slug=nbtest-scenario"},
	{"VRF", "/api/ipam/vrfs/?name=" + ScenarioVRF},
	{"custom field", "/api/extras/custom-fields/?name=" + scenarioField},
	{"tag", "/api/extras/tags/?slug=" + ScenarioTag},
}

// RemoveScenarioLeftovers deletes what an interrupted Scenario left in NetBox: a run
// that is killed (a test timeout, Ctrl-C, a machine stopped mid-run) never reaches its
// deferred deletes, and the next run's creates of the same names would fail. It
// returns what it removed, one entry per object. The integration test calls it before
// recording, outside the recorder, so the recorded conversation stays the same.
func RemoveScenarioLeftovers(ctx context.Context, c *netbox.Client) ([]string, error) {
	var removed []string
	_, err := c.TagBySlug(ctx, ScenarioTag)
	if err != nil && !netbox.IsNotFound(err) {
		return nil, fmt.Errorf("look for the scenario's tag: %w", err)
	}
	tagged := err == nil
	for _, l := range scenarioLeftovers {
		if !tagged && strings.Contains(l.list, "?tag=") {
			continue
		}
		var page struct {
			Results []struct {
				ID      int    `json:"id"`
				Display string `json:"display"`
			} `json:"results"`
		}
		if err := c.Raw(ctx, "GET", l.list+"&limit=1000", &page); err != nil {
			return removed, fmt.Errorf("list leftover %ss: %w", l.what, err)
		}
		path, _, _ := strings.Cut(l.list, "?")
		for _, o := range page.Results {
			if err := c.Raw(ctx, "DELETE", path+strconv.Itoa(o.ID)+"/", nil); err != nil && !netbox.IsNotFound(err) {
				return removed, fmt.Errorf("delete leftover %s %s: %w", l.what, o.Display, err)
			}
			removed = append(removed, l.what+" "+o.Display)
		}
	}
	return removed, nil
}
