# one-netbox-ipam: build, test and run against a local NetBox.
GO       ?= go
NB       := integration/netbox
ONE      := integration/opennebula
UNIT_PKGS = $(shell $(GO) list ./... | grep -v /integration)
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   = -X main.version=$(VERSION)
# Where `make install` puts things (see install.sh); DESTDIR stages them for packaging.
PREFIX     ?= /usr
SYSCONFDIR ?= /etc
REMOTES    ?= /var/lib/one/remotes
IPAM_NAME  ?= netbox
ARCHES     ?= amd64 arm64
# The packages' version, from VERSION (git describe): v1.2.3 → 1.2.3, v1.2.3-4-gabc →
# 1.2.3+4.gabc; without a tag 0.0.0+<commits>.g<hash>, so each later build is newer
# for dpkg and rpm; -dirty → .dirty.
PKG_VERSION ?= $(shell v='$(VERSION)'; case $$v in (v[0-9]*) v=$$(echo "$$v" | cut -c2-) ;; (*) v=0.0.0-$$(git rev-list --count HEAD 2>/dev/null || echo 0)-g$$v ;; esac; \
  echo "$$v" | sed -e 's/-\([0-9]*\)-g/+\1.g/' -e 's/-dirty$$/.dirty/')

.PHONY: bench-sync demo all build packages sums test-packages test test-unit test-integration test-e2e test-e2e-releases test-e2e-matrix test-netbox-matrix test-netbox-oldest netbox-prepare-oldest test-compose netbox-up netbox-down netbox-reset opennebula-up opennebula-down opennebula-reset vet clean install uninstall dist bench bench-e2e fuzz

all: build

build:
	@mkdir -p bin
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/netbox-ipam ./cmd/netbox-ipam

## On an OpenNebula front-end: the binary, the five shims and an example configuration.
install: build
	DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' SYSCONFDIR='$(SYSCONFDIR)' REMOTES='$(REMOTES)' IPAM_NAME='$(IPAM_NAME)' ./install.sh

uninstall:
	DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' SYSCONFDIR='$(SYSCONFDIR)' REMOTES='$(REMOTES)' IPAM_NAME='$(IPAM_NAME)' ./install.sh --uninstall

## Release archives: dist/one-netbox-ipam-<version>-linux-<arch>.tar.gz, unpack and run ./install.sh.
dist:
	@mkdir -p dist && rm -f dist/one-netbox-ipam-*.tar.gz
	@set -e; for arch in $(ARCHES); do \
	  name=one-netbox-ipam-$(VERSION)-linux-$$arch; d=dist/$$name; \
	  mkdir -p $$d/bin $$d/remotes/ipam/netbox $$d/config; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS) -s -w' -o $$d/bin/netbox-ipam ./cmd/netbox-ipam; \
	  cp remotes/ipam/netbox/* $$d/remotes/ipam/netbox/; \
	  cp config/netbox-ipam.yaml.example $$d/config/; \
	  cp install.sh README.md $$d/; \
	  tar -C dist --owner=0 --group=0 -czf dist/$$name.tar.gz $$name; rm -rf $$d; \
	  echo "dist/$$name.tar.gz"; \
	done
	@$(MAKE) -s sums

## Packages: dist/one-netbox-ipam_<version>_<arch>.deb and dist/one-netbox-ipam-<version>.<arch>.rpm
## for amd64 and arm64 (PKG_DIR names another folder), made by nfpm (a tool pinned in go.mod) from config/package/nfpm.yaml.
PKG_DIR ?= dist
packages:
	@mkdir -p $(PKG_DIR) bin/package && rm -f $(PKG_DIR)/one-netbox-ipam*.deb $(PKG_DIR)/one-netbox-ipam*.rpm
	@set -e; for arch in $(ARCHES); do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS) -s -w' -o bin/package/netbox-ipam ./cmd/netbox-ipam; \
	  case $$arch in amd64) rpmarch=x86_64 ;; arm64) rpmarch=aarch64 ;; *) rpmarch=$$arch ;; esac; \
	  VERSION='$(PKG_VERSION)' ARCH=$$arch $(GO) tool nfpm package -f config/package/nfpm.yaml -p deb -t $(PKG_DIR)/one-netbox-ipam_$(PKG_VERSION)_$$arch.deb >/dev/null; \
	  VERSION='$(PKG_VERSION)' ARCH=$$arch $(GO) tool nfpm package -f config/package/nfpm.yaml -p rpm -t $(PKG_DIR)/one-netbox-ipam-$(PKG_VERSION).$$rpmarch.rpm >/dev/null; \
	  echo "$(PKG_DIR)/one-netbox-ipam_$(PKG_VERSION)_$$arch.deb"; echo "$(PKG_DIR)/one-netbox-ipam-$(PKG_VERSION).$$rpmarch.rpm"; \
	done; rm -rf bin/package
	@$(MAKE) -s sums DIST=$(PKG_DIR)

# SHA256SUMS: one line per archive and package in $(DIST) (make dist and make packages).
DIST ?= dist
sums:
	@cd $(DIST) && ls | grep -E '\.(tar\.gz|deb|rpm)$$' | xargs -r sha256sum >SHA256SUMS && echo $(DIST)/SHA256SUMS

## Installs the .deb on this machine (the test front-end): the end-to-end core through the
## real oned from the packaged files, then upgrade, remove and purge; the .rpm by rpm -qp
## and rpm --root (integration/package/test, part of make test).
test-packages: netbox-up
	integration/package/test

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	@integration/package/tracked

## The test command of README.md and CI: unit tests; the compose NetBox with the driver's
## life-cycle tests and the demo on it; a native NetBox and the whole integration suite;
## a real OpenNebula and the end-to-end tests through it; the .deb and .rpm installed and
## the end-to-end core through oned from the .deb's files; the demo.
test: vet build netbox-prepare-oldest test-unit test-compose netbox-up test-integration opennebula-reset test-e2e test-e2e-releases test-netbox-oldest test-packages demo

test-unit:
	$(GO) test -count=1 $(UNIT_PKGS)

# Integration tests read .netbox.env (written by netbox-up). CI=true makes an unreachable NetBox a failure.
test-integration:
	$(GO) test -count=1 -timeout 50m ./integration/

# The compose part of make test: NetBox in the containers of docker-compose.yml
# (integration/compose/up, which leaves .netbox.env pointing at it), the driver's life
# cycle against it, and the demo through oned on it; then the stack is taken down (the
# native suites that follow measure races and deadlines on a quiet machine).
# `COMPOSE=1 make test` runs everything against the compose NetBox.
COMPOSE_TESTS = ^(TestComposeFileMatchesNativeNetBox|TestLifecycleSpanInExistingPrefix|TestRegisterNetworkThenVNetDelete|TestNetBoxValuesWin|TestDualStack|TestRegisterRollsBack|TestInstalledShimsAndLog|TestAuditAndSync)$$
test-compose:
	COMPOSE=1 $(NB)/up
	$(GO) test -count=1 -timeout 20m -run '$(COMPOSE_TESTS)' ./integration/
	COMPOSE=1 integration/demo
	COMPOSE=1 $(NB)/down

# End-to-end tests drive a real oned (.opennebula.env, written by opennebula-up) and read NetBox.
test-e2e:
	$(GO) test -count=1 -timeout 30m ./integration/e2e/

## The core life cycle on every other OpenNebula release of ../shared/opennebula (make test).
test-e2e-releases: netbox-up
	$(ONE)/matrix others

## The whole end-to-end suite on every OpenNebula release, one after the other.
test-e2e-matrix: netbox-up
	$(ONE)/matrix all

## The integration core and the end-to-end core on every NetBox release: the sources of
## ../shared/netbox (4.2.9 … 4.6.8) and 4.7.3; a table at the end. Needs opennebula-up's
## oned (it is given each release's token). About 15 minutes a release the first time.
test-netbox-matrix: netbox-up
	$(NB)/matrix all

## The integration core and the end-to-end core on the oldest NetBox release (make test;
## the whole suite runs on 4.7.3).
test-netbox-oldest: netbox-up
	$(NB)/matrix oldest

# The oldest NetBox release installed and migrated in the background (minutes of
# migrations) while the unit and compose parts run; test-netbox-oldest waits for it.
netbox-prepare-oldest:
	$(NB)/prepare oldest >/dev/null 2>&1 &

## A real OpenNebula front-end with this checkout's driver installed (ONE_VERSION picks the release).
opennebula-up: netbox-up
	$(ONE)/up

opennebula-down:
	$(ONE)/down

# An empty oned (about 20 s): make test starts the end-to-end tests from it.
opennebula-reset: netbox-up
	$(ONE)/reset

## A local NetBox and .netbox.env: native (integration/netbox/up), or with COMPOSE=1 in the
## containers of docker-compose.yml (integration/compose/up). netbox-down and
## netbox-reset take the same COMPOSE=1. NETBOX_VERSION picks the release on both paths:
## 4.7.3 (default) from PyPI, or a source release of ../shared/netbox, each its own venv
## (natively) or image, and its own database.
netbox-up:
	$(NB)/up

## What the driver costs beyond NetBox's own time, per action (integration/bench_test.go).
## BENCH_RUNS (21), BENCH_RUNS_BIG (7), BENCH_SKIP_BIG=1; the first run fills a /16 (~10 min).
bench: netbox-up
	$(GO) test -run '^$$' -bench BenchmarkDriver -benchtime 1x -timeout 60m ./integration/

## 100 VMs by 8 API clients through the test oned with the hooks, beside no hooks, the
## labels' bare NetBox writes, oned alone, the dummy IPAM and the NetBox floor
## (integration/e2e/bench_test.go), on the checkout's driver; about 7 minutes. -v:
## without it go test cuts a benchmark's log (its table) at 10 lines.
bench-e2e: opennebula-up
	$(GO) test -v -run '^$$' -bench BenchmarkFleet -benchtime 1x -timeout 30m ./integration/e2e/

## audit --all and sync --all over 50 and 200 networks (5,000 leases) through the test
## oned, beside the floor of their bare reads (integration/e2e/bench_sync_test.go);
## about 20 minutes, most of it making and freeing the leases.
bench-sync: opennebula-up
	$(GO) test -run '^$$' -bench BenchmarkSyncAll -benchtime 1x -timeout 60m ./integration/e2e/

## A longer fuzzing run of each target (`make test` runs their seed corpora). FUZZTIME=60s.
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./mapping/
	$(GO) test -run '^$$' -fuzz FuzzTemplateRoundTrip -fuzztime $(FUZZTIME) ./mapping/
	$(GO) test -run '^$$' -fuzz FuzzDispatcher -fuzztime $(FUZZTIME) ./cmd/netbox-ipam/

netbox-down:
	$(NB)/down

netbox-reset:
	$(NB)/reset

clean:
	rm -rf bin dist

## The main job: an OpenNebula life cycle against the local NetBox (KEEP=1 keeps the objects).
demo:
	integration/demo
