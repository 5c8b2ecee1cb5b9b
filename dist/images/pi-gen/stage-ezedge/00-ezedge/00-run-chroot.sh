#!/bin/bash -e
# pi-gen feeds this to bash inside the image (on_chroot): apt installs the
# package as any other, from the copy 00-run.sh made.
apt-get install -y /var/cache/ezedge-host/ezedge-host.deb
rm -f /var/cache/ezedge-host/ezedge-host.deb
