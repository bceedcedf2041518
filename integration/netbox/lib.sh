# Shared settings of the native NetBox scripts (up, down, reset). Sourced, not run.
# Everything lives outside the checkout, in one cache folder per NetBox version,
# so a second checkout or a re-clone reuses the same venv and database.

NETBOX_VERSION=${NETBOX_VERSION:-4.7.3}
NETBOX_PORT=${NETBOX_PORT:-18080}
# 4.7.3's database and its user keep their old names; each other release has its own
# (and its own password, in its own secrets).
if [ "$NETBOX_VERSION" = 4.7.3 ]; then suffix=''; else suffix=_${NETBOX_VERSION//./_}; fi
NETBOX_DB=${NETBOX_DB:-netbox_onetest$suffix}
NETBOX_DB_TEMPLATE=${NETBOX_DB}_template
NETBOX_DB_USER=${NETBOX_DB_USER:-netbox_onetest$suffix}
NETBOX_REDIS_PORT=${NETBOX_REDIS_PORT:-6379}

CACHE=${ONE_NETBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/one-netbox-ipam}
STATE=$CACHE/netbox-$NETBOX_VERSION
VENV=$STATE/venv
ROOT=$STATE/root     # NETBOX_ROOT: conf/, media/, static/
RUN=$STATE/run       # pids, logs, markers of what up started
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Where the release comes from: PyPI serves 4.7.x only; the older releases are the
# sources of ../shared/netbox (netbox-<version>.tar.xz), installed as NetBox's install
# guide does: a venv with their requirements.txt, manage.py from the source tree.
NETBOX_TARBALLS=${NETBOX_TARBALLS:-$REPO/../shared/netbox}
case "$NETBOX_VERSION" in
4.7.*) FROM=pypi ;;
*) FROM=source ;;
esac
SRC=$STATE/src/netbox-$NETBOX_VERSION  # a source release: its tree (netbox/manage.py)
if [ "$FROM" = source ]; then
  CONF=$SRC/netbox/netbox/configuration.py
  APP=$SRC/netbox                      # gunicorn's folder (netbox.wsgi)
else
  CONF=$ROOT/conf/configuration.py
  APP=$ROOT
fi
ENV_FILE=${NETBOX_ENV_FILE:-$REPO/.netbox.env} # prepare writes its own, beside the running release's
URL=http://127.0.0.1:$NETBOX_PORT

export NETBOX_ROOT=$ROOT

# What integration/netbox/matrix runs on each NetBox release: the driver's life cycle,
# register's cases and rollback, dual stack, audit and sync, the recorded conversation
# and the virtualization calls (integration/); leases, fixed IPs, holds, reservations,
# dual stack, audit/sync and the hooks with NetBox VMs through the real oned
# (integration/e2e/).
NETBOX_CORE_TESTS='^(TestLifecycleSpanInExistingPrefix|TestPopulatedRange|TestRegisterSingleAddress|TestRegisterSiteScope|TestRegisterNetworkThenVNetDelete|TestNetBoxValuesWin|TestDualStack|TestRegisterIPv6Carve|TestRegisterRollsBack|TestAuditAndSync|TestCooldown|TestClientObjectLifecycle|TestNetBoxScenario|TestVirtualizationAsTheDriverUsesIt|TestCheckExplains|TestMinimalTokenPermissions)$'
NETBOX_E2E_CORE_TESTS='^(TestNetworkInAdminPrefix|TestVMLeaseAndTerminate|TestVMFixedIP|TestHoldRelease|TestReserve|TestDualStack|TestAuditSyncAll|TestHooksRecordHolders|TestHooksKeepNetBoxVMs)$'

say() { printf 'netbox: %s\n' "$*" >&2; }
die() { printf 'netbox: error: %s\n' "$*" >&2; exit 1; }

# pidalive FILE: true when FILE names a running process.
pidalive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

as_postgres() { (cd / && runuser -u postgres -- "$@"); }

# pg_cluster prints "VERSION NAME" of the first PostgreSQL cluster.
pg_cluster() { pg_lsclusters --no-header 2>/dev/null | awk 'NR==1 {print $1, $2}'; }

psql_admin() { as_postgres psql -v ON_ERROR_STOP=1 -qtAX "$@"; }

# nb_manage runs NetBox's manage.py: the packaged `netbox` command, or a source tree's.
nb_manage() {
  if [ "$FROM" = source ]; then "$VENV/bin/python" "$SRC/netbox/manage.py" "$@"; else "$VENV/bin/netbox" "$@"; fi
}

# stop_other_releases stops the NetBox of any other release this cache started on this
# port (releases take turns on one port, and the tests read one .netbox.env).
stop_other_releases() {
  local pidf other
  for pidf in "$CACHE"/netbox-*/run/gunicorn.pid; do
    [ "$pidf" = "$RUN/gunicorn.pid" ] && continue
    [ "$(cat "$(dirname "$pidf")/port" 2>/dev/null || echo 18080)" = "$NETBOX_PORT" ] || continue
    if pidalive "$pidf"; then
      other=${pidf#"$CACHE"/netbox-}
      stop_pid "$pidf" "NetBox ${other%%/*} (this port is $NETBOX_VERSION's now)"
      # Its cache and task queues (Redis databases 5 and 6) are not this release's.
      redis-cli -p "$NETBOX_REDIS_PORT" -n 5 flushdb >/dev/null
      redis-cli -p "$NETBOX_REDIS_PORT" -n 6 flushdb >/dev/null
    fi
  done
}

# wait_http URL SECONDS: wait until NetBox answers URL (200, or 403 for "log in first").
wait_http() {
  local i
  for ((i = 0; i < $2 * 4; i++)); do
    case "$(curl -s -o /dev/null -w '%{http_code}' "$1")" in 200 | 403) return 0 ;; esac
    sleep 0.25
  done
  return 1
}

start_gunicorn() {
  pidalive "$RUN/gunicorn.pid" && return 0
  say "starting NetBox on $URL (log: $RUN/gunicorn.log)"
  stop_other_releases
  echo "$NETBOX_PORT" >"$RUN/port"
  # Workers: the race tests run several driver processes at once; threads keep memory low.
  (cd "$APP" && "$VENV/bin/gunicorn" netbox.wsgi \
      --bind "127.0.0.1:$NETBOX_PORT" --workers "${NETBOX_WORKERS:-4}" --threads 2 \
      --timeout 120 --daemon --pid "$RUN/gunicorn.pid" \
      --error-logfile "$RUN/gunicorn.log" --access-logfile "$RUN/access.log")
  wait_http "$URL/api/status/" 120 || die "NetBox did not answer $URL/api/status/ within 120 s; see $RUN/gunicorn.log"
}

# stop_pid FILE WHAT stops the process FILE names and waits (10 s at most) until it is
# gone, so that its port is free, then removes FILE.
stop_pid() {
  if pidalive "$1"; then
    local pid; pid=$(cat "$1")
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    say "stopped $2 (pid $pid)"
  fi
  rm -f "$1"
}

stop_gunicorn() { stop_pid "$RUN/gunicorn.pid" NetBox; }

# --- Shared with the compose path (integration/compose/up) ---------------------
# Both need URL and ADMIN_PASSWORD set; they leave TOKEN_V2 and TOKEN_V1 set.

# token_ok "Authorization header value": NetBox at $URL accepts it.
token_ok() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $1" "$URL/api/users/config/")" = 200 ]
}

# has_v2_tokens: the release has v2 tokens (4.5 and later).
has_v2_tokens() {
  local ma mi
  IFS=. read -r ma mi _ <<<"$NETBOX_VERSION"
  [ "$ma" -gt 4 ] || { [ "$ma" = 4 ] && [ "$mi" -ge 5 ]; }
}

# provision VERSION prints the Authorization value of a new token of the admin user.
provision() {
  local body
  body=$(curl -sf -X POST -H 'Content-Type: application/json' -H 'Accept: application/json' \
    --data "{\"username\":\"admin\",\"password\":\"$ADMIN_PASSWORD\",\"version\":$1,\"description\":\"one-netbox-ipam tests\"}" \
    "$URL/api/users/tokens/provision/") || die "token provisioning failed at $URL/api/users/tokens/provision/"
  python3 -c '
import json, sys
t = json.load(sys.stdin)
# Before 4.5 a token has no version and its secret is its key.
print(("nbt_%s.%s" % (t["key"], t["token"])) if t.get("version") == 2 else (t.get("token") or t["key"]))' <<<"$body"
}

# provision_tokens FILE: the v2 and v1 tokens kept in FILE when NetBox still accepts
# them (a second up changes nothing), new ones otherwise; FILE is rewritten. v2 tokens
# exist from NetBox 4.5: before, TOKEN_V2 stays empty.
provision_tokens() {
  TOKEN_V2='' TOKEN_V1=''
  [ -s "$1" ] && . "$1"
  if has_v2_tokens; then
    if [ -z "${TOKEN_V2:-}" ] || ! token_ok "Bearer $TOKEN_V2"; then TOKEN_V2=$(provision 2); fi
    token_ok "Bearer $TOKEN_V2" || die "the provisioned v2 token is refused by NetBox"
  fi
  if [ -z "${TOKEN_V1:-}" ] || ! token_ok "Token $TOKEN_V1"; then TOKEN_V1=$(provision 1); fi
  token_ok "Token $TOKEN_V1" || die "the provisioned v1 token is refused by NetBox"
  (umask 077; printf "TOKEN_V2='%s'\nTOKEN_V1='%s'\n" "$TOKEN_V2" "$TOKEN_V1" >"$1")
}

# write_env_file HEADER: .netbox.env at the repo root, what every test and the demo read.
write_env_file() {
  (umask 077; cat >"$ENV_FILE" <<ENVF
$1 Source it: set -a; . ./.netbox.env; set +a
NETBOX_URL=$URL
NETBOX_VERSION=$NETBOX_VERSION
NETBOX_TOKEN=${TOKEN_V2:-$TOKEN_V1}
NETBOX_TOKEN_V1=$TOKEN_V1
NETBOX_UI_USER=admin
NETBOX_UI_PASSWORD=$ADMIN_PASSWORD
ENVF
  )
}
