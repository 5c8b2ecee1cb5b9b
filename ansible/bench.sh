#!/usr/bin/env bash
# What Ansible adds per host over the bare CLI, for plan and apply, with
# hyperfine (on a copy of the Pi 5 fixture, connection local):
#   cli          ezedge-host plan / apply --yes, JSON out
#   noop         ansible-playbook with one debug task (Ansible's own start)
#   module       ansible-playbook with one ezedge_host task
# Per host, the module costs (module - noop); Ansible adds (module - noop -
# cli) over the tool. An apply is measured on a fresh copy each run
# (hyperfine --prepare), so it always has its 13 changes to make.
# Usage: ansible/bench.sh [RUNS]   (needs hyperfine, ansible-playbook, go)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
runs=${1:-10}
export PATH=/usr/bin:/bin:/usr/sbin:/sbin:/usr/local/go/bin:$PATH
export GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE)
tmp=$(mktemp -d /tmp/ezedge-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export HOME=$tmp/home ANSIBLE_LOCAL_TEMP=$tmp/al ANSIBLE_REMOTE_TEMP=$tmp/ar ANSIBLE_COLLECTIONS_PATH=$here \
	ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_NOCOLOR=1
mkdir -p "$HOME"
bin=$tmp/ezedge-host
(cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$bin" ./cmd/ezedge-host)
fx=$repo/testdata/pi5-16gb-nvme-bookworm
root=$tmp/root
cp -a "$fx" "$root"

cat >"$tmp/noop.yml" <<'EOF'
- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.debug: {msg: hi}
EOF
for state in planned applied; do
	cat >"$tmp/$state.yml" <<EOF
- hosts: all
  gather_facts: false
  tasks:
    - ezansiedgeai.edge.ezedge_host: {state: $state, root: "$root", binary: "$bin"}
EOF
done
pb="ansible-playbook -i localhost, -c local"
fresh="rm -rf $root && cp -a $fx $root"
hyperfine -N --warmup 2 --runs "$runs" --export-json "$tmp/plan.json" \
	-n 'cli plan' "$bin plan --root $root --output json" \
	-n 'noop playbook' "$pb $tmp/noop.yml" \
	-n 'module planned' "$pb $tmp/planned.yml"
hyperfine --warmup 1 --runs "$runs" --export-json "$tmp/apply.json" --prepare "$fresh" \
	-n 'cli apply' "$bin apply --yes --root $root --output json" \
	-n 'module applied' "$pb $tmp/applied.yml"
# Nothing to change: the module plans and stops.
$pb "$tmp/applied.yml" >/dev/null
hyperfine -N --warmup 1 --runs "$runs" --export-json "$tmp/noop-apply.json" \
	-n 'cli apply, nothing to change' "$bin apply --yes --root $root --output json" \
	-n 'module applied, nothing to change' "$pb $tmp/applied.yml"
/usr/bin/python3 - "$tmp" <<'EOF'
import json, sys
t = sys.argv[1]
m = {}
for f in ('plan', 'apply', 'noop-apply'):
    for r in json.load(open('%s/%s.json' % (t, f)))['results']:
        m[r['command']] = r['mean'] * 1000
noop = m['noop playbook']
print('\nmean ms: ' + ', '.join('%s %.0f' % kv for kv in m.items()))
for cli, mod in (('cli plan', 'module planned'), ('cli apply', 'module applied'),
                 ('cli apply, nothing to change', 'module applied, nothing to change')):
    task = m[mod] - noop
    print('%-30s cli %4.0f ms | module task %4.0f ms | Ansible adds %4.0f ms per host' % (mod, m[cli], task, task - m[cli]))
print('ansible-playbook start (one debug task): %.0f ms, once per run, not per host' % noop)
EOF
