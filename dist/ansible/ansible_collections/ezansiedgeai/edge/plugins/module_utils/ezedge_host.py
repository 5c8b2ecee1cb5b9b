# -*- coding: utf-8 -*-
# Copyright: ezedge-host contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Running the ezedge-host program on the target, for the collection's modules.

Every module reads the tool's JSON (--output json, format_version 1), never its
text; this is the one place that runs it, checks that version and turns its
failures (one line per problem on stderr, each prefixed "ezedge-host:") into
ToolError.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os
import re

from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.six import integer_types, string_types

FORMAT_VERSION = 1
PLATFORMS = ['rpi4', 'rpi5', 'amd64', 'arm64']
PLAIN_KEY = re.compile(r'^[A-Za-z_][A-Za-z0-9_.-]*$')

# The options every module takes to reach the tool and the host.
COMMON_ARGS = dict(
    root=dict(type='path', default='/'),
    platform=dict(type='str', choices=PLATFORMS),
    binary=dict(type='path'),
)


class ToolError(Exception):
    def __init__(self, rc, stdout, stderr, argv, data=None):
        Exception.__init__(self, stderr)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.argv = argv
        self.data = data

    def errors(self):
        # One line per problem on stderr, each prefixed: the prefix is dropped,
        # everything else kept (a revert notice on stderr matters too).
        out = []
        for line in to_text(self.stderr).splitlines():
            line = line.strip()
            if line.startswith('ezedge-host:'):
                line = line[len('ezedge-host:'):].strip()
            if line:
                out.append(line)
        if not out and self.data and self.data.get('error'):
            out.append(self.data['error'])
        return out


def yaml_scalar(v):
    # Booleans first: bool is an int in Python.
    if v is None:
        return 'null'
    if isinstance(v, bool):
        return 'true' if v else 'false'
    if isinstance(v, integer_types):
        return str(v)
    if isinstance(v, float):
        # The profile takes plain decimal integers only: a float is written
        # as it is, for the tool to refuse naming the key.
        return repr(v)
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(to_text(v))


def yaml_key(k):
    k = to_text(k)
    return k if PLAIN_KEY.match(k) else json.dumps(k)


def to_yaml(v, indent=0):
    """Block YAML for a profile given as a dictionary.

    Keys are written plain: the tool's strict reader is given exactly the
    YAML a person would write (no flow style, no anchors, no tags).
    """
    pad = '  ' * indent
    lines = []
    if isinstance(v, dict):
        for k, val in v.items():
            if isinstance(val, dict) and val:
                lines.append('%s%s:' % (pad, yaml_key(k)))
                lines.append(to_yaml(val, indent + 1))
            elif isinstance(val, (list, tuple)):
                lines.append('%s%s: [%s]' % (pad, yaml_key(k), ', '.join(yaml_scalar(e) for e in val)))
            elif isinstance(val, dict):
                lines.append('%s%s: {}' % (pad, yaml_key(k)))
            else:
                lines.append('%s%s: %s' % (pad, yaml_key(k), yaml_scalar(val)))
        return '\n'.join(lines)
    return pad + yaml_scalar(v)


def seconds(n):
    """A whole number of seconds as the tool's duration flags take it."""
    return '%ds' % n


class Runner(object):
    """Runs the tool for one module run: the binary found once, --root and
    --platform given to every command."""

    def __init__(self, module):
        self.module = module
        p = module.params
        self.bin = p['binary'] or module.get_bin_path('ezedge-host', opt_dirs=['/usr/sbin', '/usr/local/sbin'])
        if not self.bin or not os.path.exists(self.bin):
            module.fail_json(msg='ezedge-host not found on the target (PATH, /usr/sbin): install it or set binary')
        self.globals = ['--root', p['root']]
        if p['platform']:
            self.globals += ['--platform', p['platform']]

    def run(self, args, json_out=True, ok=(0,)):
        """The command's exit status, its JSON document (None without
        json_out) and its stderr; a status not in ok raises ToolError."""
        argv = [self.bin] + args + self.globals
        if json_out:
            argv += ['--output', 'json']
        # LC_ALL=C: the tool's messages are not translated, but the
        # commands it runs on a live host could be.
        rc, out, err = self.module.run_command(argv, environ_update={'LC_ALL': 'C'})
        data = None
        if json_out and out.strip():
            try:
                data = json.loads(out)
            except ValueError:
                raise ToolError(rc, out, err or 'ezedge-host printed output that is not JSON', argv)
            if not isinstance(data, dict) or data.get('format_version') != FORMAT_VERSION:
                version = data.get('format_version') if isinstance(data, dict) else None
                raise ToolError(rc, out, 'ezedge-host JSON format_version %s, this module reads %d' % (version, FORMAT_VERSION), argv)
        if rc not in ok:
            raise ToolError(rc, out, err, argv, data)
        if json_out and data is None:
            raise ToolError(rc, out, err or 'ezedge-host printed no JSON', argv)
        return rc, data, err


def profile_arg(module):
    """The --profile argument for the module's profile option: a path on the
    target as it is, a dictionary written as YAML to the module's private
    temporary directory; none without one (the host's own profile)."""
    prof = module.params['profile']
    if prof is None:
        return []
    if isinstance(prof, dict):
        path = os.path.join(module.tmpdir, 'inline-profile.yaml')
        # module.tmpdir is private to this run (mode 0700) and removed after it.
        with open(path, 'w') as f:
            f.write(to_yaml(prof) + '\n')
        return ['--profile', path]
    if isinstance(prof, string_types):
        return ['--profile', prof]
    module.fail_json(msg='profile must be a path or a dictionary, not %s' % type(prof).__name__)


def fail_tool(module, e):
    """Fails the module with the tool's one-line errors, its exit status and
    command, and what its JSON said was done before the failure."""
    errs = e.errors() or ['ezedge-host exited %d' % e.rc]
    extra = {}
    if e.data:
        for k in ('rollbacks', 'changes', 'snapshot_id', 'changed'):
            if k in e.data:
                extra[k] = e.data[k]
    module.fail_json(msg='; '.join(errs), errors=errs, rc=e.rc, cmd=' '.join(e.argv),
                     stdout=to_native(e.stdout), stderr=to_native(e.stderr), **extra)
