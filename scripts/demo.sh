#!/usr/bin/env bash
# The main job, end to end, on a temporary copy of the bundled Raspberry Pi 5
# host: plan, apply, plan again (nothing to do), roll back, and prove the
# copy is byte-identical to the original.
set -euo pipefail
bin=${1:-bin/ezedge-host}
src=testdata/pi5-16gb-nvme-bookworm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/pi5
cp -a "$src" "$root"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$bin" facts --root "$root"
step "$bin" plan --root "$root" --diff
step "$bin" apply --root "$root" --yes
step "$bin" plan --root "$root" --detailed-exitcode
step "$bin" history --root "$root"
step "$bin" rollback --root "$root" --yes
printf '\n\033[1m$ diff -r --no-dereference %s <copy>   # the snapshot store aside\033[0m\n' "$src"
diff -r --no-dereference -x ezedge-host "$src" "$root"
echo "byte-identical: yes"
