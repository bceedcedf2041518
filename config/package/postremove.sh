#!/bin/sh
# one-netbox-ipam after removal: deb postrm (remove | purge | upgrade …) and rpm %postun
# ($1 = 0 on erase, 1 on upgrade). Remove keeps /etc/one/netbox-ipam.yaml (it holds the
# token and the operator's settings); a deb purge removes it (dpkg deletes the conffile
# itself) and the per-name folder when nothing else is in it.
set -e
case "$1" in
  purge) rmdir /etc/one/netbox-ipam.d 2>/dev/null || true ;;
  remove | 0) echo "one-netbox-ipam removed; /etc/one/netbox-ipam.yaml is kept (dpkg --purge or rm removes it)" ;;
esac
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
