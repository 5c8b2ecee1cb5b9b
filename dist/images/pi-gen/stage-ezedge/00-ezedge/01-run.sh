#!/bin/bash -e
# pi-gen runs this on the build host after 00-run-chroot.sh: print the plan
# for the image to the build log and install the first-boot unit with the
# profile (files/ezedge.conf sets EZEDGE_PLATFORM, EZEDGE_MODE: pi-gen does
# not pass its config's own variables to stage scripts). ezedge-provision
# looks past the /proc and /sys on_chroot left mounted in the root. An
# invalid profile or a refused plan exits non-zero and pi-gen stops.
EZEDGE_PLATFORM=rpi5
if [ -f files/ezedge.conf ]; then
	# shellcheck source=/dev/null
	. files/ezedge.conf
fi
export EZEDGE_PLATFORM EZEDGE_MODE
profile="${ROOTFS_DIR}/var/cache/ezedge-host/profile.yaml"
if [ -f "$profile" ]; then
	export EZEDGE_PROFILE="$profile"
fi
files/ezedge-provision "${ROOTFS_DIR}"
rm -rf "${ROOTFS_DIR}/var/cache/ezedge-host"
