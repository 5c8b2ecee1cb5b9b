#!/usr/bin/env bash
# What Ansible adds per host over the bare CLI, for plan and apply. Ten
# hosts (connection local, forks 1: one after another), each with its own
# copy of the Pi 5 fixture; ansible.posix.profile_tasks times each task over
# the ten hosts, so ansible-playbook's own start is not counted:
#   command plan      ansible.builtin.command running `plan --output json`
#                     (the no-module recipe: Ansible's minimum to run a program)
#   module planned    ezedge_host state planned
#   module applied    ezedge_host applying the 13 changes
#   module again      ezedge_host with nothing to change (plans, stops)
# and hyperfine times the CLI alone (plan; apply on a fresh copy each run;
# apply with nothing to change). Ansible adds (task / 10) - CLI per host.
# Usage: dist/ansible/bench.sh [PLAYBOOK-RUNS]   (needs hyperfine, ansible-playbook, go)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
runs=${1:-3}
export PATH=/usr/bin:/bin:/usr/sbin:/sbin:/usr/local/go/bin:$PATH
GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE)
export GOMODCACHE GOCACHE
tmp=$(mktemp -d /tmp/ezedge-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export HOME=$tmp/home ANSIBLE_LOCAL_TEMP=$tmp/al ANSIBLE_REMOTE_TEMP=$tmp/ar ANSIBLE_COLLECTIONS_PATH=$here \
	ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_NOCOLOR=1
mkdir -p "$HOME"
bin=$tmp/ezedge-host
(cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$bin" ./cmd/ezedge-host)
fx=$repo/testdata/pi5-16gb-nvme-bookworm
n=10
fresh="rm -rf $tmp/roots && mkdir $tmp/roots && for i in \$(seq $n); do cp -a $fx $tmp/roots/h\$i; done"
sh -c "$fresh"
inv=$tmp/hosts
for i in $(seq $n); do echo "h$i ansible_connection=local ezroot=$tmp/roots/h$i"; done >"$inv"
cat >"$tmp/bench.yml" <<YML
- hosts: all
  gather_facts: false
  tasks:
    - name: command plan
      ansible.builtin.command: {argv: [$bin, plan, --root, '{{ ezroot }}', --output, json]}
    - name: module planned
      ezansiedgeai.edge.ezedge_host: {state: planned, root: '{{ ezroot }}', binary: $bin}
    - name: module applied
      ezansiedgeai.edge.ezedge_host: {state: applied, root: '{{ ezroot }}', binary: $bin}
    - name: module again
      ezansiedgeai.edge.ezedge_host: {state: applied, root: '{{ ezroot }}', binary: $bin}
YML
one=$tmp/roots/h1
hyperfine -N --warmup 2 --runs 20 --export-json "$tmp/cli-plan.json" -n 'cli plan' "$bin plan --root $one --output json" >/dev/null
hyperfine --runs 20 --prepare "rm -rf $one && cp -a $fx $one" --export-json "$tmp/cli-apply.json" -n 'cli apply' "$bin apply --yes --root $one --output json" >/dev/null
hyperfine -N --warmup 2 --runs 20 --export-json "$tmp/cli-again.json" -n 'cli again' "$bin apply --yes --root $one --output json" >/dev/null
for r in $(seq "$runs"); do
	sh -c "$fresh"
	ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks PROFILE_TASKS_SORT_ORDER=none PROFILE_TASKS_TASK_OUTPUT_LIMIT=all \
		ansible-playbook -f 1 -i "$inv" "$tmp/bench.yml" >"$tmp/run$r.txt"
done
/usr/bin/python3 - "$tmp" "$n" "$runs" <<'PY'
import json, re, sys
t, n, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cli = {}
for k in ('plan', 'apply', 'again'):
    r = json.load(open('%s/cli-%s.json' % (t, k)))['results'][0]
    cli[k] = (r['mean'] * 1000, r['stddev'] * 1000)
tasks = {}
for i in range(1, runs + 1):
    text = open('%s/run%d.txt' % (t, i)).read()
    recap = text[text.rindex('=====') :] if '=====' in text else text
    for name, secs in re.findall(r'^(command plan|module planned|module applied|module again) -+ ([0-9.]+)s', recap, re.M):
        tasks.setdefault(name, []).append(float(secs) * 1000 / n)
print('CLI alone (hyperfine, 20 runs): plan %.0f ± %.0f ms, apply (13 changes) %.0f ± %.0f ms, apply with nothing to change %.0f ± %.0f ms'
      % (cli['plan'] + cli['apply'] + cli['again']))
print('per host, %d hosts, forks 1, %d playbook runs (profile_tasks):' % (n, runs))
for name, base in (('command plan', 'plan'), ('module planned', 'plan'), ('module applied', 'apply'), ('module again', 'again')):
    v = tasks[name]
    mean = sum(v) / len(v)
    print('  %-15s %5.0f ms per host (runs: %s); the CLI alone %3.0f ms: Ansible adds %4.0f ms'
          % (name, mean, ', '.join('%.0f' % x for x in v), cli[base][0], mean - cli[base][0]))
PY
