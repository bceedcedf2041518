# Shared settings of the OpenNebula scripts (up, down, reset). Sourced, not run.
# A real OpenNebula front-end (oned, one_ipam, the CLI, onehem-server) unpacked from a
# tarball of ../shared/opennebula/ into one cache folder per release, or an existing
# install named by ONE_LOCATION. Its database and logs live in that tree, so releases
# never share state.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${ONE_NETBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/one-netbox-ipam}
ONE_TARBALLS=${ONE_TARBALLS:-$REPO/../shared/opennebula}
ONE_PORT=${ONE_PORT:-2633}
ENV_FILE=$REPO/.opennebula.env
ONE_HOST=dummy-host # the dummy hypervisor up creates
# The driver is installed under these IPAM_MAD names; the second proves that nothing
# depends on the name "netbox" (two datacenters, two NetBoxes, one oned).
ONE_IPAM_NAMES=${ONE_IPAM_NAMES:-netbox netbox2}
# The core life cycle (matrix others, and the packages' test): network create, VM
# lease/terminate, fixed IP, hold/release, reserve, dual stack, audit/sync through the
# real oned; the hooks (labels, virtual routers, NetBox virtual machines) through each
# release's onehem-server.
ONE_CORE_TESTS='^(TestOnedClient|TestNetworkInAdminPrefix|TestVMLeaseAndTerminate|TestVMFixedIP|TestHoldRelease|TestReserve|TestDualStack|TestDualStackCarved|TestAuditSyncAll|TestSyncActsOnOnedNow|TestHooksRecordHolders|TestHooksRecordVRouter|TestHooksKeepNetBoxVMs)$'
# What oned and the CLI need at run time (checked on a fresh Debian 12; procps: onehem-server's
# pid check; ruby-sqlite3: the dummy host's monitoring probes, without which no VM reaches RUNNING).
ONE_PKGS=(libxmlrpc-c++8v5 libcurl4 libxml2 libsqlite3-0 libssl3 procps ruby ruby-ffi-rzmq
  ruby-nokogiri ruby-xmlrpc ruby-treetop ruby-parse-cron ruby-sqlite3)

say() { printf 'opennebula: %s\n' "$*" >&2; }
die() { printf 'opennebula: error: %s\n' "$*" >&2; exit 1; }
pidalive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# newest_tarball prints the tarball of the newest release (or of ONE_VERSION).
newest_tarball() {
  local pat="opennebula-${ONE_VERSION:-*}-*-debian12-amd64.tar.xz"
  # shellcheck disable=SC2012
  ls "$ONE_TARBALLS"/$pat 2>/dev/null | sort -V | tail -n1
}

# current_location sets ONE_LOCATION to the oned .opennebula.env names, unless the
# caller chose one (down and reset act on the running oned, whichever release).
current_location() {
  [ -z "${ONE_LOCATION:-}${ONE_VERSION:-}${ONE_TARBALL:-}" ] && [ -s "$ENV_FILE" ] || return 0
  local loc; loc=$(sed -n 's/^ONE_LOCATION=//p' "$ENV_FILE")
  case $loc in "$CACHE"/opennebula-*/one) ONE_TARBALL=$(cat "$loc/.tarball" 2>/dev/null) && ONE_TARBALL=$ONE_TARBALLS/$ONE_TARBALL ;; *) ONE_LOCATION=$loc ;; esac
}

# resolve_location sets ONE_LOCATION, ONE_MANAGED (1 when the tree is ours to unpack)
# and STATE (pids and markers).
resolve_location() {
  if [ -n "${ONE_LOCATION:-}" ]; then
    [ -x "$ONE_LOCATION/bin/oned" ] || die "ONE_LOCATION=$ONE_LOCATION has no bin/oned"
    ONE_MANAGED=0
  else
    ONE_TARBALL=${ONE_TARBALL:-$(newest_tarball)}
    [ -n "$ONE_TARBALL" ] && [ -f "$ONE_TARBALL" ] ||
      die "no OpenNebula tarball ${ONE_VERSION:+for release $ONE_VERSION }in $ONE_TARBALLS; set ONE_TARBALL, ONE_TARBALLS or ONE_LOCATION"
    local v; v=$(basename "$ONE_TARBALL" | sed -n 's/^opennebula-\([0-9.]*\)-.*/\1/p')
    ONE_LOCATION=$CACHE/opennebula-$v/one
    ONE_MANAGED=1
  fi
  STATE=$ONE_LOCATION/var/netbox-ipam-test
  export ONE_LOCATION
  export RUBYLIB=$ONE_LOCATION/lib/ruby
  export ONE_AUTH=$ONE_LOCATION/var/netbox-ipam-test/one_auth
  export ONE_XMLRPC=http://127.0.0.1:$ONE_PORT/RPC2
  export PATH=$ONE_LOCATION/bin:$PATH
}

xmlrpc_ok() { "$ONE_LOCATION/bin/onevnet" list >/dev/null 2>&1; }

start_oned() {
  pidalive "$STATE/oned.pid" && xmlrpc_ok && return 0
  xmlrpc_ok && die "another oned answers on $ONE_XMLRPC (another release?); stop it first (make opennebula-down)"
  mkdir -p "$ONE_LOCATION/var/lock"
  rm -f "$ONE_LOCATION/var/lock/.lock" # left by an oned that crashed; none of ours runs
  say "starting oned (log: $ONE_LOCATION/var/oned.log)"
  # Its own session, no tie to this script's stdout (make's pipe would wait for it).
  (cd "$ONE_LOCATION/var" && exec setsid "$ONE_LOCATION/bin/oned" -f >"$STATE/oned.out" 2>&1 </dev/null) &
  echo $! >"$STATE/oned.pid"
  for _ in $(seq 120); do
    xmlrpc_ok && return 0
    pidalive "$STATE/oned.pid" || { tail -n 20 "$STATE/oned.out" "$ONE_LOCATION/var/oned.log" >&2 2>/dev/null; die "oned exited; see $ONE_LOCATION/var/oned.log"; }
    sleep 0.5
  done
  die "oned does not answer XML-RPC on $ONE_XMLRPC after 60 s; see $ONE_LOCATION/var/oned.log"
}

stop_oned() {
  if pidalive "$ONE_LOCATION/var/onehem.pid"; then
    "$ONE_LOCATION/bin/onehem-server" stop >/dev/null 2>&1 || kill "$(cat "$ONE_LOCATION/var/onehem.pid")" 2>/dev/null || true
  fi
  if pidalive "$STATE/oned.pid"; then
    local pid; pid=$(cat "$STATE/oned.pid")
    kill "$pid"
    # oned finalizes its drivers (about 8 s); past 30 s it is killed with its group.
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 -- "-$pid" 2>/dev/null
    say "stopped oned (pid $pid)"
  fi
  rm -f "$STATE/oned.pid"
}

start_hem() {
  pidalive "$ONE_LOCATION/var/onehem.pid" && return 0
  "$ONE_LOCATION/bin/onehem-server" start >"$STATE/onehem.out" 2>&1 </dev/null ||
    { cat "$STATE/onehem.out" >&2; die "onehem-server did not start; see $ONE_LOCATION/var/onehem.log"; }
}
