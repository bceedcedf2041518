package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// No container engine runs on the project's machines, so docker-compose.yml is checked
// statically: it must stay in step with the native NetBox of integration/netbox/up.
func TestComposeFileMatchesNativeNetBox(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Ports       []string          `yaml:"ports"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("docker-compose.yml is not valid YAML: %v", err)
	}
	up, err := os.ReadFile(filepath.Join(repoRoot(t), "integration/netbox/lib.sh"))
	if err != nil {
		t.Fatal(err)
	}
	nb, ok := doc.Services["netbox"]
	if !ok {
		t.Fatal("no netbox service")
	}
	// The same NetBox version as the native path.
	var version string
	for _, line := range strings.Split(string(up), "\n") {
		if v, ok := strings.CutPrefix(line, "NETBOX_VERSION=${NETBOX_VERSION:-"); ok {
			version = strings.TrimSuffix(v, "}")
		}
	}
	if version == "" || nb.Image != "docker.io/netboxcommunity/netbox:v"+version {
		t.Errorf("netbox image %q, want the native version v%s", nb.Image, version)
	}
	// Bound to loopback on the native default port.
	if len(nb.Ports) != 1 || !strings.HasPrefix(nb.Ports[0], "127.0.0.1:${NETBOX_PORT:-18080}:") ||
		!strings.Contains(string(up), "NETBOX_PORT=${NETBOX_PORT:-18080}") {
		t.Errorf("netbox ports %v, want 127.0.0.1 and the native default port 18080", nb.Ports)
	}
	for _, k := range []string{"SECRET_KEY", "API_TOKEN_PEPPER_1", "SUPERUSER_PASSWORD", "SUPERUSER_API_KEY", "SUPERUSER_API_TOKEN", "DB_HOST", "REDIS_HOST", "REDIS_CACHE_HOST"} {
		if nb.Environment[k] == "" {
			t.Errorf("netbox service lacks %s", k)
		}
	}
	for _, s := range []string{"postgres", "valkey", "valkey-cache", "netbox-worker"} {
		if _, ok := doc.Services[s]; !ok {
			t.Errorf("no %s service", s)
		}
	}
}
