package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	gonb "github.com/netbox-community/go-netbox/v4"

	"github.com/one-netbox-ipam/one-netbox-ipam/integration/testenv"
	"github.com/one-netbox-ipam/one-netbox-ipam/netbox"
)

// Env is how the tests reach NetBox.
type Env struct {
	URL, Token, TokenV1 string
}

var (
	envOnce sync.Once
	envVal  Env
	envErr  string
)

// repoRoot is the checkout's root (testenv.RepoRoot), or the test fails.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// NetBox returns how to reach the test NetBox after checking that it answers with the
// token. Unreachable: a failure under CI=true, a skip naming the start command otherwise.
func NetBox(t testing.TB) Env {
	t.Helper()
	envOnce.Do(func() {
		file := testenv.ReadFile(filepath.Join(repoRoot(t), ".netbox.env"))
		get := func(k string) string {
			if v := os.Getenv(k); v != "" {
				return v
			}
			return file[k]
		}
		envVal = Env{URL: get("NETBOX_URL"), Token: get("NETBOX_TOKEN"), TokenV1: get("NETBOX_TOKEN_V1")}
		if envVal.URL == "" || envVal.Token == "" {
			envErr = "NETBOX_URL/NETBOX_TOKEN not set and no .netbox.env at the repo root"
			return
		}
		c, err := netbox.New(netbox.Config{URL: envVal.URL, Token: envVal.Token})
		if err != nil {
			envErr = err.Error()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if _, err := c.Status(ctx); err != nil {
			envErr = err.Error()
		}
	})
	if envErr != "" {
		msg := "NetBox is not reachable (" + envErr + "); start it with `make netbox-up` (integration/netbox/up)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return envVal
}

// Client returns a driver-side NetBox client for the test NetBox.
func Client(t testing.TB) *netbox.Client {
	t.Helper()
	env := NetBox(t)
	c, err := netbox.New(netbox.Config{URL: env.URL, Token: env.Token, Retries: 2})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ctx is a test context bounded so that a hung NetBox fails the test instead of CI.
func ctx(t testing.TB) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// unique returns prefix plus a random suffix, for object names no other test uses.
func unique(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// cleanup registers a deletion that must not fail silently (already gone is fine).
func cleanup(t testing.TB, what string, del func(context.Context) error) {
	t.Helper()
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := del(c); err != nil && !netbox.IsNotFound(err) {
			t.Errorf("cleanup of %s: %v", what, err)
		}
	})
}

type ctxT = context.Context

func asGeneric(err error, target **gonb.GenericOpenAPIError) bool { return errors.As(err, target) }

// randomNet24 returns "10.X.Y" for a /24 in 10.128.0.0/9 that tests in the global
// table (no VRF) pick at random, so parallel runs do not collide.
func randomNet24(t testing.TB) string {
	t.Helper()
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return fmt.Sprintf("10.%d.%d", 128+int(b[0])%128, b[1])
}
