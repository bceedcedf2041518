#!/bin/sh
# Installs OpenNebula's netbox IPAM driver on a front-end (`make install`, or
# `./install.sh` from the release archive); `--uninstall` removes it again.
#
#   binary   $PREFIX/lib/one/netbox-ipam/netbox-ipam   (outside the remotes tree)
#   shims    $REMOTES/ipam/$IPAM_NAME/<action>, mode 0755  (onehost sync copies these)
#   config   $SYSCONFDIR/one/netbox-ipam.yaml, 0640, group oneadmin, never overwritten
#            ($SYSCONFDIR/one/netbox-ipam.d/$IPAM_NAME.yaml for another IPAM_NAME)
#
# IPAM_NAME (default netbox) is the IPAM_MAD name the shims answer to: install again
# with IPAM_NAME=netbox-dc2 to drive a second NetBox from the same oned, each name with
# its own configuration file.
#
# DESTDIR stages everything under another root (packaging); the shims still name the
# final paths. Installing again upgrades the binary and the shims in place.
set -eu

PREFIX=${PREFIX:-/usr}
SYSCONFDIR=${SYSCONFDIR:-/etc}
REMOTES=${REMOTES:-/var/lib/one/remotes}
DESTDIR=${DESTDIR:-}
IPAM_NAME=${IPAM_NAME:-netbox}
here=$(cd "$(dirname "$0")" && pwd)
BINARY=${BINARY:-$here/bin/netbox-ipam}

bindir=$PREFIX/lib/one/netbox-ipam
case $IPAM_NAME in
  "" | *[!A-Za-z0-9_-]*) printf 'install.sh: IPAM_NAME %s: use letters, digits, - and _\n' "$IPAM_NAME" >&2; exit 2 ;;
esac
ipamdir=$REMOTES/ipam/$IPAM_NAME
conf=$SYSCONFDIR/one/netbox-ipam.yaml
[ "$IPAM_NAME" = netbox ] || conf=$SYSCONFDIR/one/netbox-ipam.d/$IPAM_NAME.yaml
actions="register_address_range unregister_address_range get_address allocate_address free_address"
shipped_bin=/usr/lib/one/netbox-ipam/netbox-ipam # the path the shims in the source name

say() { printf '%s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

# put SRC DEST MODE: replace DEST atomically, so oned never runs a half-written file.
put() {
  put_tmp=$(dirname "$2")/.$(basename "$2").new
  cp "$1" "$put_tmp" && chmod "$3" "$put_tmp" && mv -f "$put_tmp" "$2"
}

# oneadmin runs oned and reads these; give them its group when we can (root, group exists).
to_oneadmin() {
  if [ "$(id -u)" = 0 ] && getent group oneadmin >/dev/null 2>&1; then
    chgrp -R oneadmin "$@" 2>/dev/null || say "  note: could not give $* to group oneadmin"
  fi
}

uninstall() {
  for a in $actions; do rm -f "$DESTDIR$ipamdir/$a"; done
  rmdir "$DESTDIR$ipamdir" 2>/dev/null || true
  say "removed the shims in $ipamdir"
  if [ "$IPAM_NAME" = netbox ]; then # other names share the binary; it goes with the main one
    rm -f "$DESTDIR$bindir/netbox-ipam"
    rmdir "$DESTDIR$bindir" 2>/dev/null || true
    say "removed $bindir/netbox-ipam"
  fi
  [ -e "$DESTDIR$conf" ] && say "kept $conf (remove it yourself if you no longer need the token in it)"
  say "remember: take $IPAM_NAME out of IPAM_MAD's -i list in oned.conf and restart oned"
}

install_all() {
  [ -x "$BINARY" ] || die "no driver binary at $BINARY; run \`make build\` first (or use the release archive)"
  for a in $actions; do
    [ -f "$here/remotes/ipam/netbox/$a" ] || die "missing shim $here/remotes/ipam/netbox/$a"
  done

  mkdir -p "$DESTDIR$bindir"
  put "$BINARY" "$DESTDIR$bindir/netbox-ipam" 0755
  say "installed $bindir/netbox-ipam"

  mkdir -p "$DESTDIR$ipamdir"
  for a in $actions; do
    src=$here/remotes/ipam/netbox/$a
    shim=$DESTDIR$ipamdir/.$a.src
    sed "s|$shipped_bin|$bindir/netbox-ipam|" "$src" >"$shim"
    # The binary reads $SYSCONFDIR/one/netbox-ipam.d/$IPAM_NAME.yaml, else
    # netbox-ipam.yaml there: tell it the folder when it is not /etc/one, and the name.
    if [ "$SYSCONFDIR" != /etc ]; then
      sed -i "s|^exec |: \"\${NETBOX_IPAM_CONFDIR=$SYSCONFDIR/one}\"; export NETBOX_IPAM_CONFDIR\nexec |" "$shim"
    fi
    if [ "$IPAM_NAME" != netbox ]; then
      sed -i "s|^exec |NETBOX_IPAM_NAME=$IPAM_NAME; export NETBOX_IPAM_NAME\nexec |" "$shim"
    fi
    put "$shim" "$DESTDIR$ipamdir/$a" 0755
    rm -f "$shim"
  done
  to_oneadmin "$DESTDIR$ipamdir"
  say "installed the shims in $ipamdir ($(echo $actions | tr ' ' ','))"

  mkdir -p "$(dirname "$DESTDIR$conf")"
  if [ -e "$DESTDIR$conf" ]; then
    say "kept $conf (not overwritten)"
  elif [ "$IPAM_NAME" != netbox ]; then
    # No example here: an empty file of its own would hide the common one.
    say "$IPAM_NAME reads $conf when it exists (copy netbox-ipam.yaml there and edit it), else $SYSCONFDIR/one/netbox-ipam.yaml"
  else
    put "$here/config/netbox-ipam.yaml.example" "$DESTDIR$conf" 0640
    to_oneadmin "$DESTDIR$conf"
    say "installed an example $conf (mode 0640): put NetBox's url and token in it"
  fi

  setup_env= name_flag=
  [ "$SYSCONFDIR" = /etc ] || setup_env="NETBOX_IPAM_CONFDIR=$SYSCONFDIR/one "
  [ "$IPAM_NAME" = netbox ] || name_flag=" --name $IPAM_NAME"
  cat <<EOF

Remaining steps on this front-end:
  1. Edit $conf: url and token (or token_file), and pool.parent_prefixes if
     networks should be carved from a pool.
  2. In /etc/one/oned.conf, add $IPAM_NAME to the -i list of IPAM_MAD:
       IPAM_MAD = [ EXECUTABLE = "one_ipam", ARGUMENTS = "-t 1 -i dummy,$IPAM_NAME" ]
     then restart oned (systemctl restart opennebula).
  3. As oneadmin: $setup_env$bindir/netbox-ipam setup$name_flag   (tag and custom fields in NetBox; safe to repeat)
  4. As oneadmin: $setup_env$bindir/netbox-ipam check$name_flag   (one line per item; must end with no FAIL)
  5. Use it: IPAM_MAD = "$IPAM_NAME" in an AR of a virtual network (see README.md).
     If this front-end has hypervisors, \`onehost sync\` copies the shims (not the binary).
EOF
}

case "${1:-}" in
  --uninstall) uninstall ;;
  "") install_all ;;
  *) die "usage: install.sh [--uninstall]   (variables: DESTDIR PREFIX SYSCONFDIR REMOTES IPAM_NAME BINARY)" ;;
esac
