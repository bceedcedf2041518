package integration

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The compose stack is run for real by `make test` (its compose part: integration/compose/up,
// then tests and the demo against it). What a run cannot show is drift from the native
// NetBox of integration/netbox/up; this test pins that statically: the same NetBox
// version, the same configuration.py, every image built here from a Dockerfile on the
// same Debian base, healthchecks gating the start, and loopback beside the native port.
func TestComposeFileMatchesNativeNetBox(t *testing.T) {
	root := repoRoot(t)
	read := func(rel string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var doc struct {
		Services map[string]struct {
			Build struct {
				Context string            `yaml:"context"`
				Args    map[string]string `yaml:"args"`
			} `yaml:"build"`
			Image       string                       `yaml:"image"`
			Ports       []string                     `yaml:"ports"`
			Environment map[string]string            `yaml:"environment"`
			DependsOn   map[string]map[string]string `yaml:"depends_on"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(read("docker-compose.yml")), &doc); err != nil {
		t.Fatalf("docker-compose.yml is not valid YAML: %v", err)
	}
	nativeLib := read("integration/netbox/lib.sh")
	version := shellDefault(nativeLib, "NETBOX_VERSION")
	if version == "" {
		t.Fatal("integration/netbox/lib.sh sets no NETBOX_VERSION default")
	}

	if got := slices.Sorted(maps.Keys(doc.Services)); !slices.Equal(got, []string{"netbox", "postgres", "valkey"}) {
		t.Errorf("services %v, want netbox, postgres, valkey", got)
	}
	for name, s := range doc.Services {
		ctx := filepath.ToSlash(s.Build.Context)
		if ctx != "integration/compose/"+name {
			t.Errorf("%s: build context %q, want integration/compose/%s (every image is built here)", name, ctx, name)
			continue
		}
		df := read(ctx + "/Dockerfile")
		if !strings.Contains(df, "ARG BASE=debian:trixie-slim\n") || !strings.Contains(df, "FROM ${BASE}") {
			t.Errorf("%s: Dockerfile is not built FROM ${BASE} (default debian:trixie-slim)", name)
		}
		if s.Build.Args["BASE"] != "${COMPOSE_BASE_IMAGE:-debian:trixie-slim}" {
			t.Errorf("%s: build arg BASE %q, want ${COMPOSE_BASE_IMAGE:-debian:trixie-slim} (what up makes when it cannot pull)", name, s.Build.Args["BASE"])
		}
		if !strings.Contains(df, "\nHEALTHCHECK ") {
			t.Errorf("%s: Dockerfile has no HEALTHCHECK", name)
		}
	}

	nb := doc.Services["netbox"]
	if nb.Build.Args["NETBOX_VERSION"] != "${NETBOX_VERSION:-"+version+"}" ||
		!strings.Contains(read("integration/compose/netbox/Dockerfile"), "ARG NETBOX_VERSION="+version+"\n") {
		t.Errorf("netbox build arg %q (and the Dockerfile's default), want the native version %s", nb.Build.Args["NETBOX_VERSION"], version)
	}
	for _, dep := range []string{"postgres", "valkey"} {
		if nb.DependsOn[dep]["condition"] != "service_healthy" {
			t.Errorf("netbox starts before %s is healthy: depends_on %v", dep, nb.DependsOn)
		}
	}
	port := shellDefault(read("integration/compose/lib.sh"), "NETBOX_COMPOSE_PORT")
	if len(nb.Ports) != 1 || nb.Ports[0] != "127.0.0.1:${NETBOX_COMPOSE_PORT:-"+port+"}:8080" || port == shellDefault(nativeLib, "NETBOX_PORT") {
		t.Errorf("netbox ports %v, want loopback on NETBOX_COMPOSE_PORT (default %s, not the native port)", nb.Ports, port)
	}
	if nb.Environment["ALLOWED_HOSTS"] != "127.0.0.1 localhost" {
		t.Errorf("ALLOWED_HOSTS %q, want the native 127.0.0.1 localhost", nb.Environment["ALLOWED_HOSTS"])
	}

	// The same configuration.py, up to where the services are and how secrets arrive.
	native := pyconf(t, read("integration/netbox/up"))
	compose := pyconf(t, read("integration/compose/netbox/entrypoint.sh"))
	if !slices.Equal(native, compose) {
		t.Errorf("configuration.py differs from the native one:\nnative:  %q\ncompose: %q", native, compose)
	}
}

// shellDefault reads NAME=${NAME:-VALUE} from a shell script.
func shellDefault(script, name string) string {
	m := regexp.MustCompile(`(?m)^` + name + `=\$\{` + name + `:-([^}]*)\}`).FindStringSubmatch(script)
	if m == nil {
		return ""
	}
	return m[1]
}

// pyconf is the configuration.py a script writes (its PYCONF here-document), with
// comments and ALLOWED_HOSTS left out and every shell variable and host address made
// the same placeholder.
func pyconf(t *testing.T, script string) []string {
	t.Helper()
	_, body, ok := strings.Cut(script, "<<PYCONF\n")
	body, _, ok2 := strings.Cut(body, "\nPYCONF\n")
	if !ok || !ok2 {
		t.Fatal("no PYCONF here-document")
	}
	vars := regexp.MustCompile(`'?\$[A-Z_]+'?|'127\.0\.0\.1'`)
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, "ALLOWED_HOSTS") {
			continue
		}
		out = append(out, vars.ReplaceAllString(line, "V"))
	}
	return out
}
