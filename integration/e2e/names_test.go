package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/one-netbox-ipam/one-netbox-ipam/mapping"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// TestHooksNameAndTenant: with dns_name and tenants set, the hooks give a VM's lease
// its DNS name (from the VM's and network's names, made a valid DNS name) and its
// owner's tenant; a rename renames it; a name an admin cleared is reported by audit
// and written again by sync; terminate takes the lease, and its name, away.
func TestHooksNameAndTenant(t *testing.T) {
	o := oned(t)
	slug := uniq("one-tenant")
	tenant := o.createTenant(t, slug)
	const tmpl = "{vm}.{network}.cloud.example.org"
	conf := o.configWith(t, fmt.Sprintf("\ndns_name: %q\ntenants:\n  users:\n    oneadmin: %s\n", tmpl, slug))
	env := []string{"NETBOX_IPAM_CONFIG=" + conf}
	o.driver(t, "netbox", nil, "hooks", "remove") // another test's
	out, code := o.driverEnv(t, "netbox", nil, env, "hooks", "install")
	if code != 0 || !strings.Contains(out, "created hook netbox-ipam-netbox-vm-rename") || !strings.Contains(out, "created hook netbox-ipam-netbox-vm-chown") {
		t.Fatalf("hooks install with dns_name and tenants: exit %d\n%s", code, out)
	}
	t.Cleanup(func() { o.driver(t, "netbox", nil, "hooks", "remove") })
	t.Cleanup(func() { o.hookFailures(t) })
	if out, code := o.driverEnv(t, "netbox", nil, env, "check"); code != 0 || !strings.Contains(out, "ok   tenants") || !strings.Contains(out, "ok   dns_name") {
		t.Errorf("check: exit %d\n%s", code, out)
	}

	vrf, net := o.spanNet(t, "10.117.0.0/24", "10.117.0.10", 20, "")
	network := o.vnet(t, net).Name
	dns, _ := mapping.ParseDNSTemplate(tmpl)
	want := func(vm string) string {
		n, err := dns.Name(mapping.NameOf{VM: vm, Network: network})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	name := uniq("Web_") // made valid: lower case, '_' as '-'
	vm := o.runningVM(t, fmt.Sprintf("NAME = %q\nNIC = [ NETWORK_ID = %d ]", name, net))
	ip := vm.NICs[0].IP
	named := func(dnsName string) {
		t.Helper()
		eventually(t, "the DNS name and tenant of "+ip, func() error {
			l, err := o.nb.IPAddressesAt(context.Background(), vrf, []string{ip})
			if err != nil || len(l) != 1 {
				return fmt.Errorf("%d objects, %v", len(l), err)
			}
			if l[0].DNSName != dnsName || netbox.RefID(l[0].Tenant) != tenant {
				return fmt.Errorf("dns_name %q, tenant %d; want %q, %d", l[0].DNSName, netbox.RefID(l[0].Tenant), dnsName, tenant)
			}
			return nil
		})
	}
	named(want(name))
	if !strings.HasPrefix(want(name), "web-") {
		t.Errorf("the DNS name %q is not the VM's name made valid", want(name))
	}

	renamed := uniq("api")
	o.must(t, "onevm", "rename", strconv.Itoa(vm.ID), renamed)
	named(want(renamed))

	// An admin clears the name: audit --all reports the lease, sync writes it again.
	l, _ := o.nb.IPAddressesAt(context.Background(), vrf, []string{ip})
	if _, err := o.nb.PatchIPAddress(context.Background(), l[0].ID, map[string]any{"dns_name": ""}); err != nil {
		t.Fatal(err)
	}
	if out, code := o.driverEnv(t, "netbox", nil, env, "audit", "--all"); code != 8 || !strings.Contains(out, "lease-records    OpenNebula VM "+strconv.Itoa(vm.ID)) {
		t.Fatalf("audit --all after the name was cleared: exit %d\n%s", code, out)
	}
	if out, code := o.driverEnv(t, "netbox", nil, env, "sync", "--all"); code != 0 {
		t.Fatalf("sync --all: exit %d\n%s", code, out)
	}
	named(want(renamed))

	o.terminate(t, vm.ID)
	eventually(t, "the lease gone", func() error {
		if l, err := o.nb.IPAddressesAt(context.Background(), vrf, []string{ip}); err != nil || len(l) != 0 {
			return fmt.Errorf("NetBox still holds %+v (%v)", l, err)
		}
		return nil
	})
}

// configWith is the driver's configuration with extra YAML appended, in a file of the
// test's own (NETBOX_IPAM_CONFIG).
func (o *One) configWith(t *testing.T, extra string) string {
	t.Helper()
	dir := o.vars["NETBOX_IPAM_CONFDIR"]
	if dir == "" {
		t.Skip("the driver's configuration is only known on the test oned's machine (.opennebula.env)")
	}
	base, err := os.ReadFile(filepath.Join(dir, "netbox-ipam.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "netbox-ipam.yaml")
	if err := os.WriteFile(conf, append(base, extra...), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

// createTenant makes a NetBox tenant for the test (the client has no call for it: the
// driver only looks tenants up) and removes it afterwards.
func (o *One) createTenant(t *testing.T, slug string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": slug, "slug": slug})
	req, err := http.NewRequest("POST", strings.TrimSuffix(o.vars["NETBOX_URL"], "/")+"/api/tenancy/tenants/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", netbox.AuthHeader(o.vars["NETBOX_TOKEN"]))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var made struct{ ID int }
	if err := json.NewDecoder(resp.Body).Decode(&made); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("creating tenant %s: HTTP %d, %v", slug, resp.StatusCode, err)
	}
	t.Cleanup(func() {
		o.nb.Raw(context.Background(), "DELETE", "/api/tenancy/tenants/"+strconv.Itoa(made.ID)+"/", nil)
	})
	return made.ID
}
