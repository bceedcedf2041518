#!/bin/sh
# one-netbox-ipam after install or upgrade: deb postinst (configure [old-version]) and
# rpm %post ($1 = 1 on install, 2 on upgrade). It does nothing to a running oned: the
# shims are files one_ipam runs per action, and enabling the driver (oned.conf and a
# restart) is the operator's step. The sync timer stays disabled until enabled.
set -e
conf=/etc/one/netbox-ipam.yaml

case "$1" in
  configure) upgrade=${2:+yes} ;; # deb; the previous version, when there was one
  1) upgrade= ;;                  # rpm install
  2) upgrade=yes ;;               # rpm upgrade
  *) exit 0 ;;                    # deb abort-upgrade, abort-remove…: nothing was changed
esac

# The configuration holds the NetBox token: 0640, readable by oned's group. The package
# ships it root:root (the group may not exist when it is unpacked); an operator's own
# group or mode is left alone.
if [ -f "$conf" ] && getent group oneadmin >/dev/null 2>&1 && [ "$(stat -c %G "$conf")" = root ]; then
  chgrp oneadmin "$conf"
fi
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi

if [ -n "$upgrade" ]; then
  cat <<'MSG'
one-netbox-ipam upgraded: the binary and the shims are replaced, /etc/one/netbox-ipam.yaml is kept.
  Run as oneadmin: /usr/lib/one/netbox-ipam/netbox-ipam setup   (new custom fields, if any; safe to repeat)
MSG
else
  cat <<'MSG'
one-netbox-ipam installed. Put NetBox's url and token in /etc/one/netbox-ipam.yaml, then:
  1. In /etc/one/oned.conf add netbox to IPAM_MAD's -i list, e.g.
       IPAM_MAD = [ EXECUTABLE = "one_ipam", ARGUMENTS = "-t 1 -i dummy,netbox" ]
     and restart oned (systemctl restart opennebula).
  2. As oneadmin: /usr/lib/one/netbox-ipam/netbox-ipam setup
  3. As oneadmin: /usr/lib/one/netbox-ipam/netbox-ipam hooks install
Optional: systemctl enable --now netbox-ipam-sync.timer (repairs drift every 15 minutes).
If this front-end has hypervisors, `onehost sync` copies the shims to them.
MSG
fi
exit 0
