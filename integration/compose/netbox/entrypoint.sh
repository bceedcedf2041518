#!/bin/sh
# Configures NetBox from the environment, migrates the database when it is behind, makes
# the admin user, then runs gunicorn in the foreground. Secrets not given in the
# environment are generated once and kept in /opt/netbox/state (a volume).
set -eu
STATE=/opt/netbox/state
: "${DB_HOST:?set DB_HOST}" "${DB_NAME:?set DB_NAME}" "${DB_USER:?set DB_USER}" "${DB_PASSWORD:?set DB_PASSWORD}" "${REDIS_HOST:?set REDIS_HOST}"

if [ ! -s "$STATE/secrets.env" ]; then
  umask 077
  python3 - >"$STATE/secrets.env" <<'PY'
import secrets
print("SECRET_KEY='%s'" % secrets.token_urlsafe(60))
print("PEPPER='%s'" % secrets.token_urlsafe(60))
print("ADMIN_PASSWORD='%s'" % secrets.token_hex(12))
PY
  umask 022
fi
. "$STATE/secrets.env"
SECRET_KEY=${NETBOX_SECRET_KEY:-$SECRET_KEY}
PEPPER=${NETBOX_API_TOKEN_PEPPER:-$PEPPER}
ADMIN_PASSWORD=${NETBOX_ADMIN_PASSWORD:-$ADMIN_PASSWORD}

# PyPI's package has a `netbox` command; a source release (/opt/netbox/src) has manage.py.
if [ -f /opt/netbox/src/netbox/manage.py ]; then
  nb() { python3 /opt/netbox/src/netbox/manage.py "$@"; }
  APP=/opt/netbox/src/netbox
  mkdir -p conf
else
  nb() { netbox "$@"; }
  APP=/opt/netbox/root
  [ -f conf/configuration.py ] || netbox setup --target /opt/netbox/root >/dev/null
fi
REDIS_PORT=${REDIS_PORT:-6379}
hosts=$(printf "'%s', " ${ALLOWED_HOSTS:-127.0.0.1 localhost})
umask 077
cat >conf/configuration.py <<PYCONF
# Written by the one-netbox-ipam compose image at start: a NetBox for tests and demos.
ALLOWED_HOSTS = [$hosts]
DATABASES = {'default': {
    'ENGINE': 'django.db.backends.postgresql', 'NAME': '$DB_NAME', 'USER': '$DB_USER',
    'PASSWORD': '$DB_PASSWORD', 'HOST': '$DB_HOST', 'PORT': '', 'CONN_MAX_AGE': 300,
}}
REDIS = {
    'tasks':   {'HOST': '$REDIS_HOST', 'PORT': $REDIS_PORT, 'USERNAME': '', 'PASSWORD': '', 'DATABASE': 5, 'SSL': False},
    'caching': {'HOST': '$REDIS_HOST', 'PORT': $REDIS_PORT, 'USERNAME': '', 'PASSWORD': '', 'DATABASE': 6, 'SSL': False},
}
SECRET_KEY = '$SECRET_KEY'
API_TOKEN_PEPPERS = {1: '$PEPPER'}
# Tests create and delete thousands of objects; keep the change log short.
CHANGELOG_RETENTION = 1
PYCONF
# NetBox 4.2 knows DATABASE only (later releases take it as well).
[ "$APP" = /opt/netbox/root ] || sed -i "s/^DATABASES = {'default': {\$/DATABASE = {/; s/^}}\$/}/" conf/configuration.py
umask 022

# A database that is up to date has its admin already (made right after migrating), so
# a restart (reset, a second up) costs one Django start here, not three.
if ! nb migrate --check >/dev/null 2>&1; then
  echo "netbox: migrating the database (minutes the first time)"
  if [ "$APP" = /opt/netbox/root ]; then
    netbox upgrade --no-input --skip-reindex
  else
    nb migrate --no-input # what upgrade.sh does that the API needs
  fi
  DJANGO_SUPERUSER_PASSWORD=$ADMIN_PASSWORD nb createsuperuser --no-input \
    --username admin --email admin@example.invalid >/dev/null 2>&1 || true
fi
echo "netbox: NetBox ${NETBOX_VERSION:-} starting on :8080"
exec gunicorn --chdir "$APP" netbox.wsgi --bind 0.0.0.0:8080 --workers "${NETBOX_WORKERS:-4}" --threads 2 \
  --timeout 120 --error-logfile - --access-logfile "${ACCESS_LOG:-/dev/null}"
