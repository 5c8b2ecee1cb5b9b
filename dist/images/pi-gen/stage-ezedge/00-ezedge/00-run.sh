#!/bin/bash -e
# pi-gen runs this on the build host, in this sub-stage's directory, with
# ROOTFS_DIR set: copy the package, the profile and the shared step into the
# root for 00-run-chroot.sh and 01-run.sh. Not /tmp: on_chroot mounts a tmpfs
# over the root's /tmp.
stage=/var/cache/ezedge-host
install -d -m 0755 "${ROOTFS_DIR}${stage}"
# One package, for the image's architecture (dpkg refuses another).
debs=(files/ezedge-host_*.deb)
if [ "${#debs[@]}" != 1 ] || [ ! -f "${debs[0]}" ]; then
	echo "stage-ezedge: put one ezedge-host_<version>_<arch>.deb in files/" >&2
	exit 1
fi
deb=${debs[0]}
install -m 0644 "$deb" "${ROOTFS_DIR}${stage}/ezedge-host.deb"
if [ -f files/profile.yaml ]; then
	install -m 0644 files/profile.yaml "${ROOTFS_DIR}${stage}/profile.yaml"
fi
