# -*- coding: utf-8 -*-
# Copyright: ezedge-host contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Unit tests of the ezedge_host and ezedge_host_info modules.

The tool is replaced by canned outputs: the plan, apply, history and status
JSON are the repository's golden files (testdata/golden/json, compared byte
for byte by the Go tests), so the module is tested against the contract the
CLI is held to, not against a copy of it.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.ezansiedgeai.edge.plugins.module_utils import ezedge_host as utils
from ansible_collections.ezansiedgeai.edge.plugins.modules import ezedge_host as mod
from ansible_collections.ezansiedgeai.edge.plugins.modules import ezedge_host_info as info

HERE = os.path.dirname(os.path.abspath(__file__))
# dist/ansible/ansible_collections/ezansiedgeai/edge/tests/unit/plugins/modules -> repository root
GOLDEN = os.path.normpath(os.path.join(HERE, *(['..'] * 9), 'testdata', 'golden', 'json'))
FIXTURE = 'pi5-16gb-nvme-bookworm'


def golden(kind):
    path = os.path.join(GOLDEN, '%s.%s.json' % (FIXTURE, kind))
    if kind == 'check':
        path = os.path.join(GOLDEN, '..', 'check', '%s.json' % FIXTURE)
    with open(path) as f:
        return f.read()


class Exit(Exception):
    pass


class Fail(Exception):
    pass


def exit_json(self, **kw):
    kw.setdefault('changed', False)
    raise Exit(kw)


def fail_json(self, **kw):
    kw['failed'] = True
    raise Fail(kw)


@pytest.fixture
def run(monkeypatch, tmp_path):
    """run(args, replies) runs the module; replies maps a subcommand to
    (rc, stdout, stderr) and every call is recorded in calls."""
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)
    fake = tmp_path / 'ezedge-host'
    fake.write_text('#!/bin/sh\nexit 99\n')
    fake.chmod(0o755)
    calls = []

    def go(args, replies, check=False, diff=False, module=mod):
        a = dict(binary=str(fake), _ansible_check_mode=check, _ansible_diff=diff,
                 _ansible_tmpdir=str(tmp_path), _ansible_remote_tmp=str(tmp_path), _ansible_keep_remote_files=False)
        a.update(args)
        monkeypatch.setattr(basic, '_ANSIBLE_ARGS', to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': a})))

        def run_command(self, argv, **kw):
            calls.append(argv)
            sub = argv[1]
            reply = replies[sub]
            if isinstance(reply, list):
                reply = reply.pop(0)
            if sub == 'plan' and '--profile' in argv and os.path.exists(argv[argv.index('--profile') + 1]):
                calls.append(('profile', open(argv[argv.index('--profile') + 1]).read()))
            return reply
        monkeypatch.setattr(basic.AnsibleModule, 'run_command', run_command)
        with pytest.raises((Exit, Fail)) as e:
            module.main()
        return e.value.args[0]
    go.calls = calls
    go.tmp = tmp_path
    return go


def test_yaml_of_an_inline_profile():
    # Plain keys and block style: what the tool's strict reader takes;
    # booleans before integers (True is an int in Python).
    y = utils.to_yaml({'version': 1, 'tasks': {
        'swappiness': {'enabled': True, 'value': 10},
        'net-buffers': {'tcp_rmem': [4096, 87380, 67108864]},
        'thp': {'mode': 'madvise'},
        'wifi': None,
        'odd key': {'x': 'a"b'},
    }})
    assert y == '\n'.join([
        'version: 1',
        'tasks:',
        '  swappiness:',
        '    enabled: true',
        '    value: 10',
        '  net-buffers:',
        '    tcp_rmem: [4096, 87380, 67108864]',
        '  thp:',
        '    mode: "madvise"',
        '  wifi: null',
        '  "odd key":',
        '    x: "a\\"b"',
    ])


def test_diff_entries_name_resource_task_layer():
    d = mod.diff_entries([
        {'task': 'swappiness', 'resource': 'vm.swappiness', 'kind': 'sysctl', 'layer': 'runtime', 'before': '60', 'after': '10'},
        {'task': 'zswap', 'resource': '/etc/tmpfiles.d/x.conf', 'kind': 'file', 'layer': 'persistent', 'before': None, 'after': 'a\n'},
    ])
    assert d[0] == {'before': '60\n', 'after': '10\n',
                    'before_header': 'sysctl vm.swappiness [swappiness, runtime]',
                    'after_header': 'sysctl vm.swappiness [swappiness, runtime]'}
    assert d[1]['before'] == '' and d[1]['before_header'].endswith('(absent)')
    assert d[1]['after'] == 'a\n' and d[1]['after_header'] == 'file /etc/tmpfiles.d/x.conf [zswap, persistent]'


def test_check_mode_plans_only_and_diffs_every_change(run):
    plan = golden('plan')
    res = run({'state': 'applied', 'root': '/r'}, {'plan': (0, plan, '')}, check=True, diff=True)
    n = len(json.loads(plan)['changes'])
    assert n > 0
    assert res['changed'] is True and res['pending'] == n
    assert len(res['diff']) == n
    assert [c[1] for c in run.calls] == ['plan']
    assert '--out' not in run.calls[0]
    assert run.calls[0][-4:] == ['--root', '/r', '--output', 'json']
    assert res['facts']['platform'] == 'rpi5'
    assert res['reboot_required'] is True  # the cmdline.txt change
    assert all('task' in s and 'reason' in s for s in res['skipped_tasks'])


def test_apply_applies_the_saved_plan(run):
    res = run({'state': 'applied', 'profile': {'version': 1}},
              {'plan': (0, golden('plan'), ''), 'apply': (0, golden('apply'), '')}, diff=True)
    plan_argv, prof, apply_argv = run.calls
    assert prof == ('profile', 'version: 1\n')
    out = plan_argv[plan_argv.index('--out') + 1]
    # apply takes exactly the saved plan: the diff shown is what is applied.
    assert apply_argv[:3] == [plan_argv[0], 'apply', '--yes'] and out in apply_argv
    # The plan file holds its profile: apply PLANFILE refuses --profile.
    assert '--profile' in plan_argv and '--profile' not in apply_argv
    assert res['changed'] is True and res['snapshot_id'] == '<id>'
    assert res['pending_confirmation'] is None
    assert len(res['diff']) == len(json.loads(golden('apply'))['changes'])


def test_without_a_profile_the_tool_reads_the_roots_own(run):
    # No --profile anywhere: the tool plans with /etc/ezedge-host/profile.yaml
    # (and profile.d) inside --root, and the result says which profile that was.
    p = json.loads(golden('plan'))
    assert p['profile'] == {'kind': 'absent', 'layers': [], 'settings': []}
    own = {'kind': 'layers', 'layers': [{'path': '/etc/ezedge-host/profile.yaml', 'where': 'root'}],
           'settings': [{'task': 'swappiness', 'key': 'value', 'value': 5, 'default': 10, 'layer': 0,
                         'file': '/etc/ezedge-host/profile.yaml', 'line': 3, 'overrides': []}]}
    p['profile'] = own
    res = run({'state': 'applied', 'root': '/mnt/image', 'platform': 'rpi5'},
              {'plan': (0, json.dumps(p), ''), 'apply': (0, golden('apply'), '')})
    assert [c[1] for c in run.calls] == ['plan', 'apply']
    for argv in run.calls:
        assert '--profile' not in argv and '--no-profile' not in argv
        assert argv[argv.index('--root') + 1] == '/mnt/image'
        assert argv[argv.index('--platform') + 1] == 'rpi5'
    assert res['profile'] == own


def test_a_profile_path_is_given_to_plan_only(run):
    res = run({'state': 'applied', 'profile': '/etc/ezedge-host/edge.yaml'},
              {'plan': (0, golden('plan'), ''), 'apply': (0, golden('apply'), '')})
    plan_argv, apply_argv = run.calls
    assert plan_argv[plan_argv.index('--profile') + 1] == '/etc/ezedge-host/edge.yaml'
    assert '--profile' not in apply_argv
    assert res['changed'] is True


def test_nothing_pending_is_not_changed_and_does_not_apply(run):
    p = json.loads(golden('plan'))
    p['in_place'], p['changes'] = p['changes'], []
    p['summary']['change'] = 0
    res = run({'state': 'applied'}, {'plan': (0, json.dumps(p), '')})
    assert res['changed'] is False and res['snapshot_id'] == ''
    assert [c[1] for c in run.calls] == ['plan']


def test_try_apply_passes_confirm_within(run):
    a = json.loads(golden('apply'))
    a['pending_confirmation'] = {'id': '<id>', 'deadline': '<time>', 'revert_by': 'a detached process', 'overdue': False}
    res = run({'confirm_within': 120, 'lock_timeout': 30}, {'plan': (0, golden('plan'), ''), 'apply': (0, json.dumps(a), '')})
    argv = run.calls[-1]
    assert argv[argv.index('--confirm-within') + 1] == '120s'
    assert argv[argv.index('--lock-timeout') + 1] == '30s'
    assert res['pending_confirmation']['id'] == '<id>'


def test_durations_are_whole_seconds(run):
    # Typed options: a string that is not a number of seconds is refused
    # by Ansible before the tool runs; 0 or less by the module.
    for bad in ('120s', '5m', 1.5):
        res = run({'confirm_within': bad}, {})
        assert res['failed'] and 'confirm_within' in res['msg']
    res = run({'confirm_within': 0}, {})
    assert res['failed'] and 'above 0' in res['msg']
    res = run({'state': 'rolled_back', 'lock_timeout': -1}, {})
    assert res['failed'] and 'lock_timeout' in res['msg']
    assert run.calls == []
    # A number given as a string (a templated variable) is converted.
    res = run({'confirm_within': '90'}, {'plan': (0, golden('plan'), ''), 'apply': (0, golden('apply'), '')})
    assert run.calls[-1][run.calls[-1].index('--confirm-within') + 1] == '90s'


def test_planned_is_a_query(run):
    # Changes pending are in the result, never in changed: planned is not
    # a change, in check mode or not.
    plan = golden('plan')
    n = len(json.loads(plan)['changes'])
    for check in (False, True):
        res = run({'state': 'planned'}, {'plan': (0, plan, '')}, check=check, diff=True)
        assert res['changed'] is False
        assert res['pending'] == n > 0 and len(res['changes']) == n and len(res['diff']) == n
        assert res['reboot_required'] is True
    assert all(c[1] == 'plan' and '--out' not in c for c in run.calls)


def test_tool_errors_fail_with_its_lines(run):
    err = 'ezedge-host: profile p.yaml:3: tasks.swappiness.value: 500 is out of range\nezedge-host: second problem\n'
    res = run({'state': 'planned', 'profile': '/p.yaml'}, {'plan': (1, '', err)})
    assert res['failed'] and res['rc'] == 1
    assert res['errors'] == ['profile p.yaml:3: tasks.swappiness.value: 500 is out of range', 'second problem']
    assert res['msg'] == 'profile p.yaml:3: tasks.swappiness.value: 500 is out of range; second problem'


def test_interrupted_apply_refuses_the_plan(run):
    p = json.loads(golden('plan'))
    p['interrupted'] = ['20261129T080000Z']
    res = run({'state': 'planned'}, {'plan': (0, json.dumps(p), '')})
    assert res['failed'] and 'interrupted' in res['msg'] and '20261129T080000Z' in res['msg']


def test_wrong_format_version_fails(run):
    p = json.loads(golden('plan'))
    p['format_version'] = 2
    res = run({'state': 'planned'}, {'plan': (0, json.dumps(p), '')})
    assert res['failed'] and 'format_version' in res['msg']


def test_failed_apply_carries_the_error(run):
    a = json.loads(golden('apply'))
    a['error'] = 'write /etc/x: no space left on device (restored)'
    res = run({}, {'plan': (0, golden('plan'), ''), 'apply': (1, json.dumps(a), 'ezedge-host: apply failed: no space\n')})
    assert res['failed'] and res['msg'] == 'apply failed: no space'


def hist(*statuses):
    return json.dumps({'format_version': 1, 'unreadable': [], 'warnings': [], 'applies': [
        {'id': '2026112%dT000000Z' % i, 'status': s, 'changes': 1} for i, s in enumerate(statuses)]})


def test_rollback_is_idempotent(run):
    res = run({'state': 'rolled_back'}, {'history': (0, hist('rolled back', 'failed, restored'), '')})
    assert res['changed'] is False
    assert [c[1] for c in run.calls] == ['history']


def test_rollback_rolls_back(run):
    rb = golden('rollback')
    res = run({'state': 'rolled_back', 'to': '20261121T000000Z', 'force': True},
              {'history': (0, hist('applied', 'applied'), ''), 'rollback': (0, rb, '')})
    argv = run.calls[-1]
    assert argv[1:3] == ['rollback', '--yes'] and '--force' in argv
    assert argv[argv.index('--to') + 1] == '20261121T000000Z'
    assert res['changed'] is True and res['rollbacks'] == json.loads(rb)['rollbacks']


def test_rollback_check_mode_says_what_it_would_do(run):
    res = run({'state': 'rolled_back', 'to': '20261120T000000Z'},
              {'history': (0, hist('applied', 'rolled back', 'applied'), '')}, check=True)
    assert res['changed'] is True
    assert [r['id'] for r in res['rollbacks']] == ['20261122T000000Z', '20261120T000000Z']
    assert [c[1] for c in run.calls] == ['history']


def test_rollback_drift_fails_exit_3(run):
    rb = json.loads(golden('rollback'))
    rb['rollbacks'][0]['complete'] = False
    rb['rollbacks'][0]['left_alone'] = ['sysctl:vm.swappiness']
    err = 'ezedge-host: rollback of X incomplete: 1 resources changed since the apply were left alone (--force restores them)\n'
    res = run({'state': 'rolled_back'}, {'history': (0, hist('applied'), ''), 'rollback': (3, json.dumps(rb), err)})
    assert res['failed'] and res['rc'] == 3 and 'left alone' in res['msg']
    assert res['changed'] is True and res['rollbacks'][0]['left_alone'] == ['sysctl:vm.swappiness']


def status(*pending):
    return json.dumps({'format_version': 1, 'pending_confirmation': [
        {'id': i, 'deadline': 't', 'revert_by': 'x', 'overdue': False} for i in pending],
        'interrupted': [], 'in_progress': [], 'lock_holder': '', 'unreadable': [], 'warnings': [], 'latest': None})


def test_confirm_confirms_and_reads_back_json(run):
    res = run({'state': 'confirmed', 'to': 'A'},
              {'status': [(0, status('A'), ''), (0, status(), '')], 'confirm': (0, 'Confirmed apply A: it stays.\n', '')})
    assert res['changed'] is True and res['confirmed'] == ['A']
    confirm = [c for c in run.calls if c[1] == 'confirm'][0]
    assert confirm[2] == 'A' and '--output' not in confirm


def test_confirm_of_a_reverted_apply_fails(run):
    # The canary must not read a revert as a success.
    res = run({'state': 'confirmed', 'to': '20261120T000000Z'},
              {'status': (0, status(), ''), 'history': (0, hist('rolled back'), '')})
    assert res['failed'] and 'rolled back' in res['msg']


def test_confirm_of_a_kept_apply_is_unchanged(run):
    res = run({'state': 'confirmed'}, {'status': (0, status(), ''), 'history': (0, hist('applied'), '')})
    assert res['changed'] is False and not res.get('failed')


def test_options_for_another_state_fail(run):
    res = run({'state': 'planned', 'confirm_within': 60}, {})
    assert res['failed'] and 'confirm_within' in res['msg']
    res = run({'state': 'applied', 'to': 'x'}, {})
    assert res['failed'] and 'to is for' in res['msg']


def test_info_gathers_every_document_as_the_tool_prints_it(run):
    replies = {k: (0, golden(k), '') for k in ('facts', 'plan', 'status', 'history')}
    replies['check'] = (5, golden('check'), '')  # failures are a result
    res = run({'root': '/r', 'profile': {'version': 1}}, replies, module=info)
    assert res['changed'] is False and not res.get('failed')
    for k in ('facts', 'plan', 'check', 'status', 'history'):
        assert res[k] == json.loads(golden(k)), k
    assert [c[1] for c in run.calls if isinstance(c, list)] == ['facts', 'plan', 'check', 'status', 'history']
    for argv in (c for c in run.calls if isinstance(c, list)):
        assert argv[-4:] == ['--root', '/r', '--output', 'json']
        # Only plan and check take a profile; no command that changes.
        assert ('--profile' in argv) == (argv[1] in ('plan', 'check'))
        assert argv[1] not in ('apply', 'rollback', 'confirm')


def test_info_gathers_what_is_asked_also_in_check_mode(run):
    res = run({'gather': ['status']}, {'status': (0, golden('status'), '')}, check=True, module=info)
    assert res['changed'] is False and list(k for k in res if k in info.GATHER) == ['status']
    assert [c[1] for c in run.calls] == ['status']


def test_info_fails_with_the_tools_lines(run):
    res = run({'gather': ['plan'], 'profile': '/p.yaml'}, {'plan': (1, '', 'ezedge-host: profile /p.yaml:2: unknown key x\n')}, module=info)
    assert res['failed'] and res['errors'] == ['profile /p.yaml:2: unknown key x'] and res['rc'] == 1
    res = run({'gather': ['check']}, {'check': (1, '', 'ezedge-host: boom\n')}, module=info)
    assert res['failed'] and res['msg'] == 'boom'
    res = run({'gather': ['nothing']}, {}, module=info)
    assert res['failed'] and 'gather' in res['msg']
