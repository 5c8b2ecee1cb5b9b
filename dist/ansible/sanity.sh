#!/usr/bin/env bash
# ansible-test sanity for the collection, offline, with Debian's packages.
#
# ansible-test runs most sanity tests in a virtual environment it fills
# from PyPI with pinned versions (pip bootstrapped from the internet). There
# is no network here beyond Debian's mirror, so each such environment is
# made by hand before ansible-test looks for it: a venv at the path
# ansible-test computes, with Debian's system packages visible (pylint,
# yamllint, pycodestyle, voluptuous, PyYAML, Jinja2) and the marker that
# says it is complete. The tools' versions are Debian bookworm's, not the
# pins. Everything goes under a temporary HOME: the machine's ~/.ansible is
# not touched.
#
# Usage: dist/ansible/sanity.sh [TEST...]  (default: every test that applies)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
coll=$here/ansible_collections/ezansiedgeai/edge
# Debian's python first: ansible-test picks python3.11 from PATH, and a
# pyenv shim would be another interpreter without ansible.
export PATH=/usr/bin:/bin:/usr/sbin:/sbin
py=/usr/bin/python3
pyver=$($py -c 'import sys; print("%d.%d" % sys.version_info[:2])')
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export HOME=$home ANSIBLE_LOCAL_TEMP=$home/tmp

# Tests that do not apply to this collection, and why:
#   changelog: no changelogs/ (antsibull-changelog is not in Debian either)
#   pslint: no PowerShell (and no pwsh in Debian)
#   shellcheck: no shell scripts inside the collection (this one is outside)
skip=(changelog pslint shellcheck)
if [ $# -gt 0 ]; then tests=("$@"); else
	mapfile -t tests < <(cd "$coll" && ansible-test sanity --list-tests --python "$pyver" 2>/dev/null)
fi

cd "$coll"
failed=() ran=()
for t in "${tests[@]}"; do
	[[ " ${skip[*]} " == *" $t "* ]] && { echo "== $t: not applicable (see sanity.sh)"; continue; }
	echo "== $t"
	for attempt in 1 2; do
		set +e
		out=$(ansible-test sanity --python "$pyver" --test "$t" --color no 2>&1)
		rc=$?
		set -e
		venv=$(sed -n 's/.*Python [0-9.]* at "\(.*\)\/bin\/python" does not have pip available.*/\1/p' <<<"$out")
		if [ "$rc" -ne 0 ] && [ -n "$venv" ] && [ "$attempt" = 1 ]; then
			rm -rf "$venv"
			$py -m venv --system-site-packages --without-pip "$venv"
			echo '[]' >"$venv/meta.install.json"
			$py -c 'import json, yaml; print(json.dumps(getattr(yaml, "__with_libyaml__", False)))' >"$venv/meta.yaml.json"
			touch "$venv/marker.txt"
			continue
		fi
		break
	done
	grep -v -e 'Using locale "C.UTF-8"' -e 'Reviewing previous' <<<"$out" || true
	if [ "$rc" -ne 0 ]; then failed+=("$t"); else ran+=("$t"); fi
done
echo "sanity passed: ${ran[*]:-none}"
if [ ${#failed[@]} -gt 0 ]; then echo "sanity FAILED: ${failed[*]}"; exit 1; fi
