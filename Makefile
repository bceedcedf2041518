# one-netbox-ipam: build, test and run against a local NetBox.
GO       ?= go
NB       := integration/netbox
UNIT_PKGS = $(shell $(GO) list ./... | grep -v /integration)

.PHONY: demo all build test test-unit test-integration netbox-up netbox-down netbox-reset vet clean

all: build

build:
	@mkdir -p bin
	$(GO) build -trimpath -o bin/netbox-ipam ./cmd/netbox-ipam

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

## The test command of README.md and CI: unit tests, then a real NetBox, then the integration tests.
test: vet build test-unit netbox-up test-integration demo

test-unit:
	$(GO) test -count=1 $(UNIT_PKGS)

# Integration tests read .netbox.env (written by netbox-up). CI=true makes an unreachable NetBox a failure.
test-integration:
	$(GO) test -count=1 -timeout 30m ./integration/...

netbox-up:
	$(NB)/up

netbox-down:
	$(NB)/down

netbox-reset:
	$(NB)/reset

clean:
	rm -rf bin dist

## The main job: an OpenNebula life cycle against the local NetBox (KEEP=1 keeps the objects).
demo:
	integration/demo
