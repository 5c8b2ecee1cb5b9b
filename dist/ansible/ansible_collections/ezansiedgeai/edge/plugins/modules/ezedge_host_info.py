#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ezedge-host contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
---
module: ezedge_host_info
short_description: Read an edge host as ezedge-host sees it, changing nothing
description:
  - Runs the read-only commands of C(ezedge-host) on the target and returns their JSON documents
    (C(--output json), C(format_version) 1) as the tool prints them, one per item of I(gather)
    (C(facts), C(plan), C(check), C(status), C(history)).
  - Never changes the host and always reports C(changed=false); it runs the same in check mode.
  - Use M(ezansiedgeai.edge.ezedge_host) to apply, roll back or confirm.
version_added: "2.0.0"
author: ezedge-host contributors (@ezansiedgeai)
options:
  gather:
    description:
      - What to read. C(facts) is the platform and its evidence (C(ezedge-host facts)); C(plan) what an apply
        would change (C(plan)); C(check) the guide's health checklists (C(check)); C(status) applies waiting for
        confirmation, interrupted or in progress (C(status)); C(history) every apply (C(history)).
    type: list
    elements: str
    choices: [facts, plan, check, status, history]
    default: [facts, plan, check, status, history]
  profile:
    description:
      - For C(plan) and C(check), a path on the target or the profile itself as a dictionary, layered over
        the host's own profile inside I(root) (C(/etc/ezedge-host/profile.yaml), then C(profile.d/*.yaml)), as for M(ezansiedgeai.edge.ezedge_host).
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
  binary:
    description:
      - Path of the ezedge-host program on the target. Default C(ezedge-host) on C(PATH), then C(/usr/sbin/ezedge-host).
    type: path
notes:
  - Runs on the target; needs only Python and the ezedge-host binary there.
  - The documents are described in the tool's manual (docs/json.md, in /usr/share/doc/ezedge-host with the Debian package).
attributes:
  check_mode:
    support: full
    description: It changes nothing, so it runs as it does outside check mode.
  diff_mode:
    support: none
    description: It changes nothing.
'''

EXAMPLES = r'''
- name: Read the host
  ezansiedgeai.edge.ezedge_host_info:
  register: edge

- name: Hosts whose checks fail
  ansible.builtin.debug:
    msg: "{{ edge.check.results | selectattr('status', 'equalto', 'fail') | map(attribute='name') | list }}"
  when: edge.check.status == 'fail'

- name: Only the facts and the plan of an image for a Raspberry Pi 5
  ezansiedgeai.edge.ezedge_host_info:
    gather: [facts, plan]
    root: /mnt/image
    platform: rpi5
  register: image

- name: What an apply would change there
  ansible.builtin.debug:
    msg: "{{ image.plan.changes | length }} changes for a {{ image.facts.facts.board }}"
'''

RETURN = r'''
facts:
  description: C(ezedge-host facts --output json)
  returned: when C(facts) is gathered
  type: dict
  sample: {"format_version": 1, "facts": {"platform": "rpi5", "arch": "arm64", "cores": 4}}
plan:
  description: C(ezedge-host plan --output json), with the profile given or the host's own.
  returned: when C(plan) is gathered
  type: dict
  sample: {"format_version": 1, "changes": [], "in_place": [], "skipped": [], "profile": {"kind": "layers", "layers": [], "settings": []}}
check:
  description:
    - C(ezedge-host check --output json); its exit status 4 (warnings) and 5 (failures) are results, not errors.
  returned: when C(check) is gathered
  type: dict
  sample: {"format_version": 1, "status": "warn", "summary": {"ok": 20, "warn": 2}, "results": []}
status:
  description: C(ezedge-host status --output json)
  returned: when C(status) is gathered
  type: dict
  sample: {"format_version": 1, "pending_confirmation": [], "interrupted": [], "latest": null}
history:
  description: C(ezedge-host history --output json)
  returned: when C(history) is gathered
  type: dict
  sample: {"format_version": 1, "applies": []}
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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ezansiedgeai.edge.plugins.module_utils.ezedge_host import (
    COMMON_ARGS, Runner, ToolError, fail_tool, profile_arg)

GATHER = ['facts', 'plan', 'check', 'status', 'history']


def main():
    argument_spec = dict(
        gather=dict(type='list', elements='str', choices=GATHER, default=GATHER),
        profile=dict(type='raw'),
    )
    argument_spec.update(COMMON_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    r = Runner(module)
    prof = profile_arg(module)
    res = dict(changed=False)
    try:
        for what in GATHER:
            if what not in module.params['gather']:
                continue
            args = [what]
            ok = (0,)
            if what in ('plan', 'check'):
                args += prof
            if what == 'check':
                ok = (0, 4, 5)
            res[what] = r.run(args, ok=ok)[1]
    except ToolError as e:
        fail_tool(module, e)
    module.exit_json(**res)


if __name__ == '__main__':
    main()
