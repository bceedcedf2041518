#!/bin/sh
# one-netbox-ipam before removal: deb prerm (remove | upgrade …) and rpm %preun ($1 = 0
# on erase, 1 on upgrade). On removal the sync timer is stopped; oned is not touched.
set -e
case "$1" in
  remove | 0) ;;
  *) exit 0 ;; # an upgrade keeps the timer as the operator left it
esac
if [ -d /run/systemd/system ]; then
  systemctl disable --now netbox-ipam-sync.timer >/dev/null 2>&1 || true
fi
# The IPAM_MAD block of oned.conf, comments dropped: does its -i list still name netbox?
if [ -r /etc/one/oned.conf ] && sed 's/#.*//' /etc/one/oned.conf |
  awk '/IPAM_MAD[ \t]*=[ \t]*\[/ { b = 1 } b && /[-,"[:space:]]netbox[,"[:space:]]/ { f = 1 } b && /\]/ { b = 0 } END { exit !f }'; then
  echo "one-netbox-ipam: /etc/one/oned.conf still names netbox in IPAM_MAD; take it out and restart oned, or actions on its networks will fail"
fi
exit 0
