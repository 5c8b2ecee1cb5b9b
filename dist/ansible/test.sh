#!/usr/bin/env bash
# The Ansible collection's tests, with Debian's ansible (ansible-core 2.14):
#   unit         pytest on the module, against the golden JSON files
#   sanity       ansible-test sanity (sanity.sh: offline, Debian's linters)
#   lint         ansible-lint --profile production (Debian's), the role's
#                argument specs as ansible-doc reads them, the licence
#   local        ansible-playbook, connection local, on copies of fixture roots
#   chroot       ansible-playbook, connection community.general.chroot, on a
#                Debian bookworm root made by mmdebstrap (root needed): the
#                module runs inside it with root /, the way it runs on a device
#
# Usage: dist/ansible/test.sh [unit|sanity|lint|local|chroot]...  (default: all)
# `make ansible-deps` installs what it needs. A part whose tools are missing
# is skipped with a message, or fails when CI is set.
#
# Nothing on the machine running it changes: fixtures are copied into a
# temporary directory, Ansible's and ansible-test's state go there too; the
# chroot is an overlay there of test/debroot's shared bookworm-amd64 root
# (built with mmdebstrap the first time on this machine, cached in
# .cache/roots, git-ignored), mounted in a mount namespace of this script's
# own, so the root stays as built and the mount goes with the script.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# As root, run again in a mount namespace of its own, unless in one
# already (EZEDGE_MOUNT_NS names it), as test/debroot's Private does.
if [ "$(id -u)" = 0 ] && [ "${EZEDGE_MOUNT_NS:-}" != "$(readlink /proc/self/ns/mnt)" ]; then
	# shellcheck disable=SC2016 # expanded by the inner sh
	exec unshare --mount --propagation private sh -c 'export EZEDGE_MOUNT_NS="$(readlink /proc/self/ns/mnt)" && exec "$0" "$@"' "$here/test.sh" "$@"
fi
# Debian's python and ansible first (a pyenv shim would be another Python
# without ansible); Go where make finds it.
export PATH=/usr/bin:/bin:/usr/sbin:/sbin:/usr/local/go/bin:$PATH
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(unit sanity lint local chroot)

tmp=$(mktemp -d /tmp/ezedge-ansible.XXXXXX)
cleanup() {
	# The chroot's overlay first (rm would go through it into its upper
	# folder, file by file); its mount namespace ends with the script.
	if mountpoint -q "$tmp/layer/root" 2>/dev/null; then umount -R "$tmp/layer/root"; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# Go keeps its caches where they are (HOME moves below).
export GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE)
export HOME=$tmp/home ANSIBLE_LOCAL_TEMP=$tmp/ansible-local ANSIBLE_REMOTE_TEMP=$tmp/ansible-remote
mkdir -p "$HOME"
export ANSIBLE_COLLECTIONS_PATH=$here ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 \
	ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_DEPRECATION_WARNINGS=0 ANSIBLE_HOST_KEY_CHECKING=0

fail() { echo "FAIL: $*" >&2; exit 1; }
# have TOOL...: every tool is there; else skip the part, or fail under CI.
have() {
	local t missing=()
	for t in "$@"; do command -v "$t" >/dev/null || missing+=("$t"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ -n "${CI:-}" ] && fail "missing ${missing[*]} (make ansible-deps)"
	echo "SKIP: missing ${missing[*]} (make ansible-deps)"
	return 1
}

bin=${EZEDGE_BIN:-}
build() {
	[ -n "$bin" ] && return
	bin=$tmp/ezedge-host
	(cd "$repo" && CGO_ENABLED=0 go build -trimpath -o "$bin" ./cmd/ezedge-host)
}

# treesum DIR: every entry's type, mode, path and link target, and every
# regular file's sha256, the snapshot store (var/lib/ezedge-host) aside.
treesum() {
	(cd "$1" && find . -path ./var/lib/ezedge-host -prune -o -printf '%y %m %P %l\n' | LC_ALL=C sort &&
		find . -path ./var/lib/ezedge-host -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

# recap OUT: the changed= and failed= counts of ansible-playbook's recap.
recap() { sed -n 's/.*ok=[0-9]* *changed=\([0-9]*\) .*failed=\([0-9]*\) .*/changed=\1 failed=\2/p' <<<"$1" | tail -1; }

run_unit() {
	have pytest-3 || return 0
	(cd "$here" && PYTHONPATH=$here /usr/bin/python3 -m pytest -q -p no:cacheprovider ansible_collections/ezansiedgeai/edge/tests/unit)
}

run_sanity() {
	have ansible-test pylint yamllint || return 0
	"$here/sanity.sh"
}

# ansible-lint's production profile, offline (no Galaxy), on the whole
# collection; then what Galaxy and ansible-doc read: the role's argument
# specs, the modules' documentation, and the licence the collection states
# and ships, which is the repository's.
run_lint() {
	have ansible-lint ansible-doc || return 0
	local coll=$here/ansible_collections/ezansiedgeai/edge out
	ansible-lint --nocolor --version | head -1
	out=$(cd "$coll" && ansible-lint --offline --profile production --nocolor -p 2>&1) || { echo "$out"; fail "ansible-lint --profile production"; }
	grep -q 'Passed with production profile: 0 failure(s), 0 warning(s)' <<<"$out" || { echo "$out"; fail "ansible-lint: not clean"; }
	echo "ok ansible-lint --profile production: $(grep -o 'on [0-9]* files' <<<"$out")"
	out=$(ansible-doc -t role ezansiedgeai.edge.ezedge_host 2>&1) || { echo "$out"; fail "ansible-doc -t role"; }
	for v in ezedge_host_confirm_within ezedge_host_profile ezedge_host_allow_reboot ezedge_host_reboot_timeout; do
		grep -q -- "$v" <<<"$out" || { echo "$out"; fail "ansible-doc -t role: no $v"; }
	done
	grep -q 'type: int' <<<"$out" || { echo "$out"; fail "ansible-doc -t role: no typed option"; }
	for m in ezedge_host ezedge_host_info; do
		ansible-doc "ezansiedgeai.edge.$m" >/dev/null || fail "ansible-doc $m"
	done
	echo "ok ansible-doc: the role's argument specs, both modules' documentation"
	cmp -s "$repo/LICENSE" "$coll/LICENSE" || fail "the collection's LICENSE is not the repository's"
	/usr/bin/python3 -c 'import sys, yaml; g = yaml.safe_load(open(sys.argv[1])); sys.exit(0 if g.get("license") == ["Apache-2.0"] and not g.get("license_file") else 1)' "$coll/galaxy.yml" ||
		fail "galaxy.yml: license is not [Apache-2.0]"
	if grep -rIl -e 'GPL' -e 'General Public License' "$coll" --exclude-dir=output; then fail "a file of the collection states another licence"; fi
	echo "ok licence: galaxy.yml Apache-2.0, LICENSE the repository's"
}

# play INVENTORY-ARGS... -- PLAYBOOK ARGS...
play() { ansible-playbook -e @"$here/tests/profile.json" "$@" 2>&1; }

# local_fixture NAME: the whole cycle on a copy of testdata/NAME.
local_fixture() {
	local name=$1 root=$tmp/local-$1 out sum0
	cp -a "$repo/testdata/$name" "$root"
	local inv=(-i localhost, -c local -e "ezedge_root=$root" -e "ezedge_bin=$bin")
	sum0=$(treesum "$root")

	out=$(play "${inv[@]}" --check --diff "$here/tests/apply.yml") || { echo "$out"; fail "$name: check mode"; }
	[ "$(recap "$out")" = "changed=1 failed=0" ] || { echo "$out"; fail "$name: check mode did not report changed"; }
	# The diff Ansible prints: one per change, headed by resource, task and layer.
	grep -q -- '--- before: sysctl vm.swappiness \[swappiness, runtime\]' <<<"$out" || { echo "$out"; fail "$name: no diff for vm.swappiness"; }
	grep -q -- '^+10$' <<<"$out" || { echo "$out"; fail "$name: diff lacks the new swappiness"; }
	grep -q -- '+++ after: file /etc/sysctl.d/90-ezedge-host.conf \[[a-z,-]*, persistent\]$' <<<"$out" || { echo "$out"; fail "$name: no diff for the sysctl.d file"; }
	[ "$(treesum "$root")" = "$sum0" ] || fail "$name: check mode changed the tree"
	[ ! -e "$root/var/lib/ezedge-host" ] || fail "$name: check mode made the state directory"
	echo "ok $name: check+diff shows $(grep -c -- '^--- before:' <<<"$out") diffs, tree byte-identical"

	out=$(play "${inv[@]}" "$here/tests/apply.yml") || { echo "$out"; fail "$name: apply"; }
	[ "$(recap "$out")" = "changed=1 failed=0" ] || { echo "$out"; fail "$name: first apply not changed"; }
	[ "$(treesum "$root")" != "$sum0" ] || fail "$name: apply changed nothing"
	out=$(play "${inv[@]}" "$here/tests/apply.yml") || { echo "$out"; fail "$name: second apply"; }
	[ "$(recap "$out")" = "changed=0 failed=0" ] || { echo "$out"; fail "$name: second apply changed"; }
	echo "ok $name: first apply changed=1, second changed=0"

	out=$(play "${inv[@]}" "$here/tests/rollback.yml") || { echo "$out"; fail "$name: rollback"; }
	[ "$(recap "$out")" = "changed=1 failed=0" ] || { echo "$out"; fail "$name: rollback not changed"; }
	[ "$(treesum "$root")" = "$sum0" ] || { diff <(echo "$sum0") <(treesum "$root") || true; fail "$name: rollback not byte-identical"; }
	echo "ok $name: rolled_back restores byte-identical"

	if out=$(play "${inv[@]}" "$here/tests/bad_profile.yml"); then echo "$out"; fail "$name: a bad profile passed"; fi
	grep -q 'tasks.swappiness.value: 500 out of range 0..200' <<<"$out" || { echo "$out"; fail "$name: bad profile without the tool's message"; }
	[ "$(treesum "$root")" = "$sum0" ] || fail "$name: a bad profile changed the tree"
	echo "ok $name: a bad profile fails with: $(grep -o '"msg": "[^"]*"' <<<"$out" | head -1)"
}

run_local() {
	have ansible-playbook go || return 0
	build
	local f out sum0
	for f in pi5-16gb-nvme-bookworm amd64-intel-32gb-2nvme; do local_fixture "$f"; done
	cp -a "$repo/testdata/pi4-8gb-bullseye" "$tmp/paths"
	out=$(play -i localhost, -c local -e "ezedge_root=$tmp/paths" -e "ezedge_bin=$bin" "$here/tests/local.yml") || { echo "$out"; fail "local.yml"; }
	echo "ok pi4-8gb-bullseye: planned (changed=false), try apply + confirm, unconfirmed try apply reverts, rollback --to (local.yml)"
	# The info module on the same root, its applies in the history: it
	# reports changed=0 and leaves every file as it was.
	sum0=$(treesum "$tmp/paths")
	out=$(play -i localhost, -c local -e "ezedge_root=$tmp/paths" -e "ezedge_bin=$bin" "$here/tests/info.yml") || { echo "$out"; fail "info.yml"; }
	[ "$(recap "$out")" = "changed=0 failed=0" ] || { echo "$out"; fail "info.yml: changed"; }
	[ "$(treesum "$tmp/paths")" = "$sum0" ] || { diff <(echo "$sum0") <(treesum "$tmp/paths") || true; fail "info.yml changed the root"; }
	echo "ok pi4-8gb-bullseye: ezedge_host_info (facts, plan, check, status, history; check mode) changed=0, tree byte-identical"
	cp -a "$repo/testdata/pi5-8gb-trixie-zram" "$tmp/role"
	out=$(play -i localhost, -c local -e "ezedge_root=$tmp/role" -e "ezedge_bin=$bin" "$here/tests/role.yml") || { echo "$out"; fail "role.yml"; }
	grep -q 'A reboot is needed' <<<"$out" || { echo "$out"; fail "role.yml: no reboot notice"; }
	out=$(play -i localhost, -c local -e "ezedge_root=$tmp/role" -e "ezedge_bin=$bin" "$here/tests/role.yml") || { echo "$out"; fail "role.yml (again)"; }
	[ "$(recap "$out")" = "changed=0 failed=0" ] || { echo "$out"; fail "role.yml: second run changed"; }
	# The no-module recipe: first run changed (plan rc 2, apply), second not;
	# the profile is the root's own, which the tool reads without --profile.
	cp -a "$repo/testdata/amd64-amd-16gb-nocpufreq" "$tmp/recipe"
	mkdir -p "$tmp/recipe/etc/ezedge-host"
	printf 'version: 1\ntasks:\n  swappiness: {enabled: true, value: 10}\n' >"$tmp/recipe/etc/ezedge-host/profile.yaml"
	local rinv=(-i localhost, -c local -e "ezedge_root=$tmp/recipe" -e "ezedge_bin=$bin")
	out=$(play "${rinv[@]}" "$here/tests/recipe.yml") || { echo "$out"; fail "recipe.yml"; }
	[ "$(recap "$out")" = "changed=2 failed=0" ] || { echo "$out"; fail "recipe.yml: first run not changed (plan, apply)"; }
	out=$(play "${rinv[@]}" "$here/tests/recipe.yml") || { echo "$out"; fail "recipe.yml (again)"; }
	[ "$(recap "$out")" = "changed=0 failed=0" ] || { echo "$out"; fail "recipe.yml: second run changed"; }
	echo "ok amd64-amd-16gb-nocpufreq: the no-module recipe (command, changed_when rc == 2): changed, then changed=0"
	# The role's try apply: applied with confirm_within, confirmed from a
	# new connection after a clean plan; nothing is left waiting.
	# The role's argument specs are enforced: a duration string is not a
	# number of seconds, and nothing runs.
	cp -a "$repo/testdata/pi5-8gb-trixie-zram" "$tmp/role-try"
	sum0=$(treesum "$tmp/role-try")
	if out=$(play -i localhost, -c local -e "ezedge_root=$tmp/role-try" -e "ezedge_bin=$bin" -e ezedge_host_confirm_within=2m "$here/tests/role.yml"); then
		echo "$out"; fail "role.yml took ezedge_host_confirm_within=2m"
	fi
	grep -q 'Validation of arguments failed' <<<"$out" && grep -q "argument 'ezedge_host_confirm_within'" <<<"$out" || { echo "$out"; fail "role.yml: no argument spec error"; }
	[ "$(treesum "$tmp/role-try")" = "$sum0" ] || fail "role.yml with a bad argument changed the root"
	echo "ok pi5-8gb-trixie-zram: the role's argument specs refuse ezedge_host_confirm_within=2m before anything runs"
	out=$(play -i localhost, -c local -e "ezedge_root=$tmp/role-try" -e "ezedge_bin=$bin" -e ezedge_host_confirm_within=120 "$here/tests/role.yml") || { echo "$out"; fail "role.yml with confirm_within"; }
	grep -q 'TASK \[ezansiedgeai.edge.ezedge_host : Confirm the try apply\]' <<<"$out" || { echo "$out"; fail "role.yml: no confirmation"; }
	"$bin" status --root "$tmp/role-try" --output json | /usr/bin/python3 -c 'import json, sys; s = json.load(sys.stdin); sys.exit(0 if not s["pending_confirmation"] and s["latest"]["status"] == "applied" else 1)' ||
		fail "role.yml with confirm_within: the try apply is not kept"
	echo "ok pi5-8gb-trixie-zram: role with ezedge_host_confirm_within: try apply confirmed after reset_connection and a clean plan"
	echo "ok pi5-8gb-trixie-zram: role (binary copied, profile put, applied, no reboot for a root other than /, plan clean; second run changed=0)"
}

# The shared bookworm-amd64 root (test/debroot), which has Python for
# Ansible's modules (they run on the target), through an overlay that
# takes every change.
run_chroot() {
	have ansible-playbook mmdebstrap go || return 0
	[ "$(id -u)" = 0 ] || { [ -n "${CI:-}" ] && fail "chroot: root needed"; echo "SKIP chroot: root needed"; return 0; }
	build
	local root out sum0 deb=${EZEDGE_DEB:-}
	root=$(cd "$repo" && go run ./test/debroot/cmd/debroot layer "$tmp/layer" bookworm-amd64) || fail "debroot layer bookworm-amd64"
	if [ -z "$deb" ]; then deb=$(ls "$repo"/out/ezedge-host_*_amd64.deb 2>/dev/null | tail -1 || true); fi
	# Inside the chroot the module finds the program where the role put it
	# (PATH, /usr/sbin); the profile is the same as for the fixtures.
	local inv=(-i "$here/tests/chroot.ini" -e "ansible_host=$root" -e "ezedge_deb=$deb" -e "ezedge_bin=$bin"
		-e ezedge_root=/ -e ezedge_target_bin=/usr/sbin/ezedge-host)
	out=$(play "${inv[@]}" "$here/tests/install.yml") || { echo "$out"; fail "chroot: install"; }
	grep -o '"msg": "installed .*"' <<<"$out" || true
	# Ansible's own files in the chroot (its remote temporary directory, a
	# path under this run's $tmp) are not the host's: /tmp is left out.
	chsum() { treesum "$root" | grep -v -e '^d 1777 tmp ' -e ' tmp/' -e '\./tmp/'; }
	sum0=$(chsum)

	out=$(play "${inv[@]}" --check --diff "$here/tests/apply.yml") || { echo "$out"; fail "chroot: check mode"; }
	[ "$(recap "$out")" = "changed=1 failed=0" ] || { echo "$out"; fail "chroot: check mode did not report changed"; }
	grep -q -- '^--- before: ' <<<"$out" || { echo "$out"; fail "chroot: no diff"; }
	[ "$(chsum)" = "$sum0" ] || { diff <(echo "$sum0") <(chsum) || true; fail "chroot: check mode changed the root"; }
	echo "ok chroot: check+diff shows $(grep -c -- '^--- before:' <<<"$out") diffs, root byte-identical"
	out=$(play "${inv[@]}" "$here/tests/apply.yml") || { echo "$out"; fail "chroot: apply"; }
	[ "$(recap "$out")" = "changed=1 failed=0" ] || { echo "$out"; fail "chroot: first apply not changed"; }
	grep -o '"msg": "changed=.*"' <<<"$out" || true
	out=$(play "${inv[@]}" "$here/tests/apply.yml") || { echo "$out"; fail "chroot: second apply"; }
	[ "$(recap "$out")" = "changed=0 failed=0" ] || { echo "$out"; fail "chroot: second apply changed"; }
	echo "ok chroot: first apply changed=1, second changed=0"
	out=$(play "${inv[@]}" "$here/tests/rollback.yml") || { echo "$out"; fail "chroot: rollback"; }
	[ "$(recap "$out")" = "changed=1 failed=0" ] || { echo "$out"; fail "chroot: rollback not changed"; }
	[ "$(chsum)" = "$sum0" ] || { diff <(echo "$sum0") <(chsum) || true; fail "chroot: rollback not byte-identical"; }
	echo "ok chroot: rolled_back restores the root byte-identical"
	out=$(play "${inv[@]}" "$here/tests/role_chroot.yml") || { echo "$out"; fail "chroot: role"; }
	out=$(play "${inv[@]}" "$here/tests/role_chroot.yml") || { echo "$out"; fail "chroot: role again"; }
	[ "$(recap "$out")" = "changed=0 failed=0" ] || { echo "$out"; fail "chroot: role second run changed"; }
	echo "ok chroot: role ($([ -n "$deb" ] && echo ".deb $(basename "$deb")" || echo "binary copied"), profile, apply, plan clean); second run changed=0"
}

start=$(date +%s)
for p in "${parts[@]}"; do
	echo "== ansible $p"
	"run_$p"
done
echo "ansible tests passed in $(($(date +%s) - start))s: ${parts[*]}"
