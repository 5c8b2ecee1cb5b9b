#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ezedge-host contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
---
module: ezedge_host
short_description: Plan, apply, confirm and roll back ezedge-host tuning of an edge host
description:
  - Drives the C(ezedge-host) command on the target through its JSON output (C(--output json), C(format_version) 1).
  - C(changed) comes from the change counts of that JSON, never from text.
  - Check mode runs C(plan) only. Diff mode returns one diff per planned change, naming its resource,
    task and layer, with the whole file contents or value before and after (what C(plan --diff) shows).
  - C(state=applied) saves the plan (C(plan --out)) and applies exactly that plan, so the diff reported
    is what was applied; a host that moved in between is refused by the tool and the task fails.
  - A refused plan (a guard, an interrupted apply, a plan that went stale) fails the task with the tool's
    one-line errors (each prefixed C(ezedge-host:)).
version_added: "1.0.0"
author: ezedge-host contributors (@ezansiedgeai)
options:
  state:
    description:
      - C(planned) reports what an apply would change and changes nothing. It is a query, always
        C(changed=false), with the plan in the result (I(pending), I(changes), I(reboot_required), ...).
        Check mode with C(applied) is the way to have C(changed) say that changes are pending.
      - C(applied) applies the plan; idempotent, nothing to change reports C(changed=false).
      - C(rolled_back) restores the latest apply not yet rolled back, or every apply back to and including I(to).
      - C(confirmed) keeps a try apply (I(confirm_within)) before its automatic revert; I(to) names it.
    type: str
    choices: [planned, applied, rolled_back, confirmed]
    default: applied
  profile:
    description:
      - The profile, either a path on the target or the profile itself as a dictionary
        (C(version), C(tasks)), written to a private temporary file as YAML for the tool
        (its C(--profile)), layered over the host's own (a key it sets overrides the host's).
      - Omitted, the tool plans with the host's own profile inside I(root), C(/etc/ezedge-host/profile.yaml)
        then C(/etc/ezedge-host/profile.d/*.yaml) (the platform defaults where there is none), as every ezedge-host command does.
      - Used with I(state=planned) and I(state=applied).
    type: raw
  root:
    description:
      - The directory to treat as the host's C(/) (an image, a fixture copy). Nothing is executed for a root other than C(/).
    type: path
    default: /
  platform:
    description:
      - The platform when the root cannot tell (an image).
    type: str
    choices: [rpi4, rpi5, amd64, arm64]
  confirm_within:
    description:
      - With I(state=applied), a try apply, in seconds (for example C(300)).
        It is rolled back automatically unless confirmed (I(state=confirmed)) within that time.
    type: int
  force:
    description:
      - With I(state=rolled_back), also restore resources someone else changed since the apply (drift).
        Without it such resources are left alone and the task fails (the tool's exit status 3).
    type: bool
    default: false
  to:
    description:
      - With I(state=rolled_back), the snapshot id to roll back to (included).
      - With I(state=confirmed), the id of the try apply to confirm (default every one waiting).
    type: str
  lock_timeout:
    description:
      - How long to wait for another ezedge-host changing the host, in seconds (default C(0), fail at once).
    type: int
    default: 0
  binary:
    description:
      - Path of the ezedge-host program on the target. Default C(ezedge-host) on C(PATH), then C(/usr/sbin/ezedge-host).
    type: path
notes:
  - Runs on the target; needs only Python and the ezedge-host binary there.
  - M(ezansiedgeai.edge.ezedge_host_info) reads the host (facts, plan, check, status, history) without a state.
  - I(reboot_required) is true when an applied change takes effect only at the next boot, or when the
    plan reports kernel arguments configured but not active yet (so a run that was not allowed to reboot
    asks again next time).
attributes:
  check_mode:
    support: full
    description: Runs C(plan) only (C(history) or C(status) for I(state=rolled_back) and I(state=confirmed)).
  diff_mode:
    support: full
    description: One diff per change, whole contents or value before and after, headed by the resource, its task and layer.
'''

EXAMPLES = r'''
- name: Tune the host with a profile given inline
  ezansiedgeai.edge.ezedge_host:
    profile:
      version: 1
      tasks:
        swappiness: {enabled: true, value: 10}
        wifi: {enabled: false}
  register: tuned

- name: Reboot only when a change needs it
  ansible.builtin.reboot:
  when: tuned.reboot_required

- name: Try apply of the host's own /etc/ezedge-host/profile.yaml, to be confirmed from a new connection
  ezansiedgeai.edge.ezedge_host:
    confirm_within: 300
  register: trial

- name: Keep it
  ezansiedgeai.edge.ezedge_host:
    state: confirmed
    to: "{{ trial.snapshot_id }}"
  when: trial.changed

- name: Plan an image for a Raspberry Pi 5
  ezansiedgeai.edge.ezedge_host:
    state: planned
    root: /mnt/image
    platform: rpi5
  register: image_plan

- name: Say what an apply would change
  ansible.builtin.debug:
    msg: "{{ image_plan.pending }} changes pending, reboot needed: {{ image_plan.reboot_required }}"

- name: Roll back to a snapshot, drift included
  ezansiedgeai.edge.ezedge_host:
    state: rolled_back
    to: "20261129T080000Z"
    force: true
'''

RETURN = r'''
changes:
  description: The changes planned (check mode, I(state=planned)) or applied, as in the tool's JSON.
  returned: when state is planned or applied
  type: list
  elements: dict
pending:
  description: How many changes the plan had pending.
  returned: when state is planned or applied
  type: int
in_place:
  description: How many planned resources already held their value.
  returned: when state is planned or applied
  type: int
reboot_required:
  description: Whether the host must boot again for the configuration to take effect.
  returned: when state is planned or applied
  type: bool
reboot_pending:
  description: Kernel arguments configured but not active yet (the plan's C(reboot_pending)).
  returned: when state is planned or applied
  type: list
  elements: str
snapshot_id:
  description: The id of the apply (its snapshot); empty when nothing was applied.
  returned: when state is applied
  type: str
  sample: "20261129T080000Z"
pending_confirmation:
  description: For a try apply, C(id), C(deadline), C(revert_by) and C(overdue); else null.
  returned: when state is applied
  type: dict
tool_warnings:
  description: The plan's warnings (also emitted as Ansible warnings).
  returned: when state is planned or applied
  type: list
  elements: str
drift:
  description: Resources an apply still in force set that something else changed since.
  returned: when state is planned or applied
  type: list
  elements: str
skipped_tasks:
  description:
    - The ezedge-host tasks the plan skipped, each with C(task) and C(reason) (the plan's C(skipped)).
    - Not named C(skipped), which Ansible reads as the whole task having been skipped.
  returned: when state is planned or applied
  type: list
  elements: dict
notes:
  description: The plan's and apply's notes.
  returned: when state is planned or applied
  type: list
  elements: str
facts:
  description: The platform facts the plan was made for (C(platform), C(board), C(arch), C(cores), ...).
  returned: when state is planned or applied
  type: dict
profile:
  description:
    - The profile the plan was made with, as the tool says it (C(kind), C(layers), C(settings)).
    - C(kind) is C(layers) (C(layers) the files read, in order, each with C(path) and C(where), C(root) or C(file) for I(profile)),
      or C(absent) (none inside I(root), so the platform defaults).
    - C(settings) are the keys the layers set, each with its C(value) and the C(file) and C(line) that set it.
  returned: when state is planned or applied
  type: dict
  sample: {"kind": "layers", "layers": [{"path": "/etc/ezedge-host/profile.yaml", "where": "root"}],
           "settings": [{"task": "swappiness", "key": "value", "value": 5, "default": 10, "layer": 0,
                         "file": "/etc/ezedge-host/profile.yaml", "line": 3, "overrides": []}]}
rollbacks:
  description: Each apply rolled back, with C(id), C(restored), C(left_alone), C(complete) and C(notes).
  returned: when state is rolled_back
  type: list
  elements: dict
confirmed:
  description: The ids of the try applies confirmed (or that would be, in check mode).
  returned: when state is confirmed
  type: list
  elements: str
errors:
  description: The tool's error lines (without the C(ezedge-host:) prefix).
  returned: on failure
  type: list
  elements: str
rc:
  description: The tool's exit status, on failure.
  returned: on failure
  type: int
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.ezansiedgeai.edge.plugins.module_utils.ezedge_host import (
    COMMON_ARGS, Runner, ToolError, fail_tool, profile_arg, seconds)

# history statuses of an apply that a rollback would no longer touch
# (rollback.Record.Open is false for them).
CLOSED = ('rolled back', 'failed, restored')


def diff_entries(changes):
    """One Ansible diff per change: the whole contents or value before and
    after, headed by the resource, its task and its layer (absent: empty)."""
    out = []
    for c in changes:
        head = '%s %s [%s, %s]' % (c.get('kind'), c.get('resource'), c.get('task'), c.get('layer'))
        entry = {}
        for side in ('before', 'after'):
            val = c.get(side)
            if val is None:
                entry[side] = ''
                entry[side + '_header'] = '%s (absent)' % head
            else:
                # Values (a sysctl, a unit's state) carry no newline; diff
                # output reads better with one.
                entry[side] = val if val.endswith('\n') or val == '' else val + '\n'
                entry[side + '_header'] = head
        out.append(entry)
    return out


def plan_result(plan):
    pending = plan.get('changes') or []
    return dict(
        pending=len(pending),
        in_place=len(plan.get('in_place') or []),
        changes=pending,
        skipped_tasks=plan.get('skipped') or [],
        notes=plan.get('notes') or [],
        tool_warnings=plan.get('warnings') or [],
        drift=plan.get('drift') or [],
        reboot_pending=plan.get('reboot_pending') or [],
        reboot_required=any(c.get('reboot_required') for c in pending) or bool(plan.get('reboot_pending')),
        facts=plan.get('facts') or {},
        profile=plan.get('profile'),
    )


def refusal(plan):
    """The reasons a plan cannot be applied that the tool reports in the plan
    itself (its apply would refuse): an interrupted apply."""
    if plan.get('interrupted'):
        return ['apply %s was interrupted before it finished; run rollback (state: rolled_back) to restore the host' % i
                for i in plan['interrupted']]
    return []


def do_plan_apply(module, r):
    p = module.params
    state = p['state']
    prof = profile_arg(module)
    planfile = os.path.join(module.tmpdir, 'ezedge.plan')
    args = ['plan'] + prof
    applying = state == 'applied' and not module.check_mode
    if applying:
        # The plan applied is exactly the one shown in the diff: apply PLANFILE
        # plans again and refuses when the host moved meanwhile.
        args += ['--out', planfile]
    rc, plan, err = r.run(args)
    res = plan_result(plan)
    refused = refusal(plan)
    if refused:
        raise ToolError(1, '', '\n'.join(refused), args, plan)
    # planned is a query: what would change is in the result, never in
    # changed. Check mode of applied predicts the apply, so it is changed.
    res['changed'] = state == 'applied' and res['pending'] > 0
    if module._diff:
        res['diff'] = diff_entries(res['changes'])
    if state == 'applied':
        res['snapshot_id'] = ''
        res['pending_confirmation'] = None
    if not applying or res['pending'] == 0:
        if state == 'applied' and p['confirm_within'] and res['pending'] == 0 and not module.check_mode:
            res['notes'] = res['notes'] + ['nothing to apply: no try apply was started, nothing to confirm']
        return res
    args = ['apply', '--yes']
    if p['confirm_within']:
        args += ['--confirm-within', seconds(p['confirm_within'])]
    if p['lock_timeout']:
        args += ['--lock-timeout', seconds(p['lock_timeout'])]
    args.append(planfile)
    rc, ap, err = r.run(args)
    res['changes'] = ap.get('changes') or []
    res['changed'] = len(res['changes']) > 0
    res['snapshot_id'] = ap.get('snapshot_id') or ''
    res['pending_confirmation'] = ap.get('pending_confirmation')
    res['notes'] = res['notes'] + (ap.get('notes') or [])
    res['reboot_required'] = any(c.get('reboot_required') for c in res['changes']) or bool(res['reboot_pending'])
    if module._diff:
        res['diff'] = diff_entries(res['changes'])
    if err.strip():
        # e.g. an overdue try apply rolled back first: said on stderr.
        res['tool_stderr'] = to_native(err)
    return res


def history(r):
    rc, h, err = r.run(['history'])
    return h.get('applies') or []


def do_rollback(module, r):
    p = module.params
    applies = history(r)
    open_ = [a for a in applies if a.get('status') not in CLOSED]
    if p['to']:
        target = [a for a in applies if a.get('id') == p['to']]
        if target and target[0].get('status') in CLOSED and not [a for a in open_ if a['id'] > p['to']]:
            return dict(changed=False, rollbacks=[], msg='apply %s is %s already' % (p['to'], target[0]['status']))
        if not target:
            raise ToolError(1, '', 'no apply with id %s (see ezedge-host history)' % p['to'], ['history'])
        would = [a['id'] for a in open_ if a['id'] >= p['to']]
    else:
        would = [open_[-1]['id']] if open_ else []
    if not would:
        return dict(changed=False, rollbacks=[], msg='nothing to roll back')
    if module.check_mode:
        return dict(changed=True, rollbacks=[{'id': i} for i in reversed(would)])
    args = ['rollback', '--yes']
    if p['to']:
        args += ['--to', p['to']]
    if p['force']:
        args.append('--force')
    if p['lock_timeout']:
        args += ['--lock-timeout', seconds(p['lock_timeout'])]
    try:
        rc, rb, err = r.run(args)
    except ToolError as e:
        # Exit 3: drift left alone; what was restored is a change anyway.
        if e.data:
            e.data['changed'] = any(x.get('restored') for x in e.data.get('rollbacks') or [])
        raise
    return dict(changed=any(x.get('restored') for x in rb['rollbacks']) or bool(rb['rollbacks']), rollbacks=rb['rollbacks'])


def do_confirm(module, r):
    p = module.params
    rc, st, err = r.run(['status'])
    waiting = [x['id'] for x in st.get('pending_confirmation') or [] if not p['to'] or x['id'] == p['to']]
    if not waiting:
        # Nothing waits: fine if the apply stayed, a failure if it was
        # reverted (a canary must not read a revert as a success).
        applies = history(r)
        if p['to']:
            mine = [a for a in applies if a.get('id') == p['to']]
        else:
            mine = applies[-1:]
        if not mine:
            raise ToolError(1, '', 'no apply is waiting for confirmation' + (' (no apply %s)' % p['to'] if p['to'] else ''), ['status'])
        if mine[0].get('status') != 'applied':
            raise ToolError(1, '', 'apply %s is %s: it was not confirmed in time; apply it again' % (mine[0]['id'], mine[0]['status']), ['status'])
        return dict(changed=False, confirmed=[], msg='apply %s is not waiting for confirmation: it stays' % mine[0]['id'])
    if module.check_mode:
        return dict(changed=True, confirmed=waiting)
    args = ['confirm']
    if p['to']:
        args.append(p['to'])
    if p['lock_timeout']:
        args += ['--lock-timeout', seconds(p['lock_timeout'])]
    r.run(args, json_out=False)
    # What stays is read back from the tool's JSON, not from its text.
    rc, st, err = r.run(['status'])
    still = [x['id'] for x in st.get('pending_confirmation') or []]
    done = [i for i in waiting if i not in still]
    return dict(changed=bool(done), confirmed=done)


def main():
    argument_spec = dict(
        state=dict(type='str', default='applied', choices=['planned', 'applied', 'rolled_back', 'confirmed']),
        profile=dict(type='raw'),
        confirm_within=dict(type='int'),
        force=dict(type='bool', default=False),
        to=dict(type='str'),
        lock_timeout=dict(type='int', default=0),
    )
    argument_spec.update(COMMON_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    if p['confirm_within'] is not None and p['state'] != 'applied':
        module.fail_json(msg='confirm_within is for state=applied')
    if p['confirm_within'] is not None and p['confirm_within'] <= 0:
        module.fail_json(msg='confirm_within: %d: want a number of seconds above 0' % p['confirm_within'])
    if p['lock_timeout'] < 0:
        module.fail_json(msg='lock_timeout: %d: want a number of seconds, 0 or more' % p['lock_timeout'])
    if p['to'] and p['state'] not in ('rolled_back', 'confirmed'):
        module.fail_json(msg='to is for state=rolled_back or state=confirmed')
    r = Runner(module)
    try:
        if p['state'] in ('planned', 'applied'):
            res = do_plan_apply(module, r)
        elif p['state'] == 'rolled_back':
            res = do_rollback(module, r)
        else:
            res = do_confirm(module, r)
    except ToolError as e:
        fail_tool(module, e)
    for w in res.get('tool_warnings') or []:
        module.warn(w)
    module.exit_json(**res)


if __name__ == '__main__':
    main()
