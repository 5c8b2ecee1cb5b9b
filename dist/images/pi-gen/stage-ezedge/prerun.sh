#!/bin/bash -e
# pi-gen runs prerun.sh first in a stage: start from the previous stage's root.
if [ ! -d "${ROOTFS_DIR}" ]; then
	copy_previous
fi
