# Shared settings of the compose NetBox scripts (up, down, reset). Sourced, not run.
# They give the same NetBox as integration/netbox/up, in the containers of
# docker-compose.yml, and write the same .netbox.env.
. "$(dirname "${BASH_SOURCE[0]}")/../netbox/lib.sh"

CSTATE=$STATE-compose # beside the native path's cache folder
NETBOX_COMPOSE_PORT=${NETBOX_COMPOSE_PORT:-18081}
URL=http://127.0.0.1:$NETBOX_COMPOSE_PORT
BASE_IMAGE=${COMPOSE_BASE_IMAGE:-debian:trixie-slim}
PROJECT=one-netbox-ipam
NETBOX_DB_SUFFIX=$suffix # netbox/lib.sh's: empty for 4.7.3, _4_5_10 for 4.5.10
export NETBOX_VERSION NETBOX_COMPOSE_PORT COMPOSE_BASE_IMAGE=$BASE_IMAGE NETBOX_DB_SUFFIX

say() { printf 'netbox (compose): %s\n' "$*" >&2; }
die() { printf 'netbox (compose): error: %s\n' "$*" >&2; exit 1; }

# Docker from Debian (dockerd, the docker CLI, docker-compose v1) when it is missing.
ensure_docker_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || missing+=(docker-compose)
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "Docker is missing (${missing[*]}): install it, or run as root to have it installed"
  say "installing Debian packages: ${missing[*]} (log: $CSTATE/apt.log)"
  apt_install "${missing[@]}"
}

# apt_install: one apt at a time among the project's scripts (make test prepares the
# oldest NetBox release while the compose part installs Docker): they share a lock.
apt_install() {
  flock /var/lock/one-netbox-ipam-apt.lock bash -c 'DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"' apt "$@" >>"$CSTATE/apt.log" 2>&1 ||
    { tail -n 20 "$CSTATE/apt.log" >&2; die "apt-get install $* failed; full log: $CSTATE/apt.log"; }
}

# compose ARGS...: docker compose v2 when the plugin is there, else docker-compose v1.
# Either builds with the classic builder unless buildx is installed (Debian 12's
# docker.io has none).
compose() {
  if docker compose version >/dev/null 2>&1; then
    local classic=()
    docker buildx version >/dev/null 2>&1 || classic=(DOCKER_BUILDKIT=0 COMPOSE_BAKE=false)
    env "${classic[@]}" docker compose -f "$REPO/docker-compose.yml" -p "$PROJECT" "$@"
  else
    COMPOSE_DOCKER_CLI_BUILD=0 DOCKER_BUILDKIT=0 docker-compose -f "$REPO/docker-compose.yml" -p "$PROJECT" "$@"
  fi
}

# A Docker daemon: the running one, or one started here (and recorded, so that down
# stops only a daemon that up started).
ensure_dockerd() {
  docker info >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || die "no Docker daemon answers and only root may start one: start dockerd (or add yourself to the docker group)"
  mkdir -p "$CSTATE"
  say "starting dockerd (log: $CSTATE/dockerd.log)"
  setsid dockerd >"$CSTATE/dockerd.log" 2>&1 </dev/null &
  echo $! >"$CSTATE/dockerd.pid"
  for _ in $(seq 120); do docker info >/dev/null 2>&1 && return 0; sleep 0.5; done
  die "dockerd did not answer within 60 s; see $CSTATE/dockerd.log"
}

stop_dockerd() {
  pidalive "$CSTATE/dockerd.pid" || { rm -f "$CSTATE/dockerd.pid"; return 0; }
  local pid; pid=$(cat "$CSTATE/dockerd.pid")
  kill "$pid"
  for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$CSTATE/dockerd.pid"
  say "stopped dockerd (pid $pid)"
}

# debian_mirror prints the Debian mirror this machine's apt uses.
debian_mirror() {
  local m
  m=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -n1)
  [ -n "$m" ] || m=$(awk '$1 == "deb" && $2 !~ /^\[/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  echo "${m:-http://deb.debian.org/debian}"
}

# The base image of the Dockerfiles: present, pulled, or (no registry reachable) made
# here with debootstrap from the machine's Debian mirror and tagged as they expect.
ensure_base_image() {
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
  say "pulling $BASE_IMAGE"
  timeout 120 docker pull -q "$BASE_IMAGE" >/dev/null 2>&1 && return 0
  local suite=${BASE_IMAGE#*:}; suite=${suite%-slim}
  local mirror; mirror=$(debian_mirror)
  say "no registry answers: building $BASE_IMAGE with debootstrap ($suite from $mirror, about a minute)"
  command -v debootstrap >/dev/null || apt_install debootstrap
  local rootfs; rootfs=$(mktemp -d "$CSTATE/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT # a failed step leaves no half-made root behind
  debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$CSTATE/debootstrap.log" 2>&1 ||
    die "debootstrap $suite failed; see $CSTATE/debootstrap.log"
  echo "deb $mirror $suite main" >"$rootfs/etc/apt/sources.list"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
}

# The CA certificates a build needs behind a TLS-intercepting proxy, copied into the
# NetBox build context: NETBOX_EXTRA_CA_CERTS (a file or a folder; "none" for none),
# by default the ones this machine's administrator added (/usr/local/share/ca-certificates).
copy_extra_ca() {
  local dst=$REPO/integration/compose/netbox/extra-ca src=${NETBOX_EXTRA_CA_CERTS:-/usr/local/share/ca-certificates}
  rm -f "$dst"/*.crt
  [ "$src" = none ] && return 0
  if [ -f "$src" ]; then
    cp "$src" "$dst/$(basename "${src%.*}").crt"
  elif [ -d "$src" ]; then
    find "$src" -name '*.crt' -type f -exec cp {} "$dst/" \;
  else
    die "NETBOX_EXTRA_CA_CERTS=$src is neither a file nor a folder"
  fi
}

# health prints the state of NetBox's container: healthy, starting, unhealthy, exited...
health() {
  local id; id=$(compose ps -q netbox 2>/dev/null)
  [ -n "$id" ] || { echo missing; return; }
  docker inspect -f '{{if eq .State.Status "running"}}{{if .State.Health}}{{.State.Health.Status}}{{else}}running{{end}}{{else}}{{.State.Status}}{{end}}' "$id"
}

# wait_healthy SECONDS: until NetBox's healthcheck passes; a container that stops is
# reported with the end of its log.
wait_healthy() {
  local i s
  for ((i = 0; i < $1; i += 2)); do
    s=$(health)
    case $s in
      healthy) return 0 ;;
      starting | running) sleep 2 ;;
      *) compose logs --tail 30 netbox >&2 || true; die "NetBox's container is $s (its log is above)" ;;
    esac
  done
  compose logs --tail 30 netbox >&2 || true
  die "NetBox was not healthy within $1 s (its log is above)"
}

# cpsql SQL...: psql as the superuser inside the postgres container.
cpsql() { compose exec -T postgres psql -v ON_ERROR_STOP=1 -qtAX -d postgres "$@"; }

# The release's database (docker-compose.yml's DB_NAME) and the template reset clones.
CDB=netbox$NETBOX_DB_SUFFIX
CDB_TEMPLATE=${CDB}_template

# copy_source: a source release's tarball into the NetBox build context (source/, not
# tracked), where the Dockerfile installs it from; PyPI's releases need none.
copy_source() {
  local dst=$REPO/integration/compose/netbox/source
  rm -f "$dst"/*.tar.xz
  [ "$FROM" = source ] || return 0
  local tarball=$NETBOX_TARBALLS/netbox-$NETBOX_VERSION.tar.xz
  [ -f "$tarball" ] || die "no NetBox $NETBOX_VERSION: PyPI serves 4.7.x, and $tarball does not exist"
  cp "$tarball" "$dst/"
}

# ensure_database: the release's database in the stack's PostgreSQL (the image makes
# only netbox, 4.7.3's, on its first start).
ensure_database() {
  compose up -d postgres >>"$CSTATE/up.log" 2>&1 || { cat "$CSTATE/up.log" >&2; die "docker compose up postgres failed"; }
  local i
  for i in $(seq 120); do cpsql -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 1; done
  [ "$(cpsql -c "SELECT 1 FROM pg_database WHERE datname='$CDB'")" = 1 ] && return 0
  say "creating the database $CDB for NetBox $NETBOX_VERSION"
  cpsql -c "CREATE DATABASE $CDB OWNER netbox"
}
