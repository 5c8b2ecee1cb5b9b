package hostconf

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/hostpath"
)

// udevDirs are udev's rules directories, highest precedence first.
var udevDirs = []string{"/etc/udev/rules.d", "/run/udev/rules.d", "/usr/local/lib/udev/rules.d", "/usr/lib/udev/rules.d", "/lib/udev/rules.d"}

// UdevKey is one KEY{attr}OP"value" of a rule.
type UdevKey struct {
	Key, Attr, Op, Value string
}

func (k UdevKey) String() string {
	a := k.Key
	if k.Attr != "" {
		a += "{" + k.Attr + "}"
	}
	return a + k.Op + `"` + k.Value + `"`
}

// UdevRule is one rule: its match keys and its assignments.
type UdevRule struct {
	File   string
	Line   int
	Match  []UdevKey
	Assign []UdevKey
}

// ParseUdevRules reads udev rule syntax: backslash continuations, comments,
// comma-separated keys. It never fails: a line it cannot read whole is in
// bad, with the keys before the fault kept, as udev does.
func ParseUdevRules(b []byte) (rules []UdevRule, bad []int) {
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		start := i
		// A builder, not concatenation: a file of continuations would
		// otherwise take quadratic time, and plan reads every rules file.
		var joined strings.Builder
		l := strings.TrimRight(lines[i], "\r")
		for strings.HasSuffix(l, "\\") && i+1 < len(lines) {
			joined.WriteString(l[:len(l)-1])
			i++
			l = strings.TrimRight(lines[i], "\r")
		}
		joined.WriteString(l)
		l = strings.TrimSpace(joined.String())
		if l == "" || l[0] == '#' {
			continue
		}
		r, ok := parseUdevLine(l)
		r.Line = start + 1
		if !ok {
			bad = append(bad, start+1)
		}
		if len(r.Match)+len(r.Assign) > 0 {
			rules = append(rules, r)
		}
	}
	return rules, bad
}

func parseUdevLine(l string) (UdevRule, bool) {
	var r UdevRule
	for {
		l = strings.TrimLeft(l, " \t,")
		if l == "" {
			return r, true
		}
		i := 0
		for i < len(l) && (l[i] == '_' || l[i] >= 'A' && l[i] <= 'Z' || l[i] >= 'a' && l[i] <= 'z') {
			i++
		}
		k := UdevKey{Key: l[:i]}
		l = l[i:]
		if strings.HasPrefix(l, "{") {
			end := strings.IndexByte(l, '}')
			if end < 0 {
				return r, false
			}
			k.Attr, l = l[1:end], l[end+1:]
		}
		l = strings.TrimLeft(l, " \t")
		for _, op := range []string{"==", "!=", "+=", "-=", ":=", "="} {
			if strings.HasPrefix(l, op) {
				k.Op, l = op, l[len(op):]
				break
			}
		}
		l = strings.TrimLeft(l, " \t")
		// udev allows an e, r prefix on a value (escapes, raw).
		if len(l) > 1 && (l[0] == 'e' || l[0] == 'r') && l[1] == '"' {
			l = l[1:]
		}
		if k.Key == "" || k.Op == "" || !strings.HasPrefix(l, `"`) {
			return r, false
		}
		end := 1
		for end < len(l) && l[end] != '"' {
			if l[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(l) {
			return r, false
		}
		k.Value, l = l[1:end], l[end+1:]
		if k.Op == "==" || k.Op == "!=" {
			r.Match = append(r.Match, k)
		} else {
			r.Assign = append(r.Assign, k)
		}
	}
}

// udevMatch reports whether a udev glob (with | alternatives) matches s;
// a pattern Go cannot read counts as a match, to warn rather than miss.
func udevMatch(pattern, s string) bool {
	for _, p := range strings.Split(pattern, "|") {
		if m, err := path.Match(p, s); m || err != nil {
			return true
		}
	}
	return false
}

// sameAttr reports whether two ATTR{} attributes name one sysfs file of
// a device: the kernel resolves "cpufreq//scaling_governor/" as
// "cpufreq/scaling_governor".
func sameAttr(a, b string) bool {
	return hostpath.Read(hostpath.UdevAttr, a).Path == hostpath.Read(hostpath.UdevAttr, b).Path
}

// UdevSetsAttr returns the first rule file other than except that assigns
// sysfs attribute attr.
func (c *Conf) UdevSetsAttr(attr, except string) (string, bool) {
	for _, r := range c.Udev {
		for _, a := range r.Assign {
			if a.Key == "ATTR" && sameAttr(a.Attr, attr) && r.File != except {
				return r.File, true
			}
		}
	}
	return "", false
}

func (r UdevRule) conditions() string {
	var c []string
	for _, m := range r.Match {
		c = append(c, m.String())
	}
	if len(c) == 0 {
		return "every device"
	}
	return strings.Join(c, ", ")
}

// UdevOverrides reports rules read after ours (an owned rules file) that
// set one of the attributes mine set, to another value, for a device named
// like one of devices.
func (c *Conf) UdevOverrides(ours string, mine []UdevRule, devices []string) []string {
	var out []string
	for _, r := range c.Udev {
		if path.Base(r.File) <= path.Base(ours) {
			continue
		}
		for _, m := range mine {
			if !sameDevices(m, r, devices) {
				continue
			}
			for _, want := range m.Assign {
				for _, a := range r.Assign {
					if want.Key == "ATTR" && a.Key == "ATTR" && sameAttr(a.Attr, want.Attr) && a.Value != want.Value {
						out = append(out, fmt.Sprintf("%s: %s:%d sets %q where %s, and udev reads it after %s, so it wins there",
							a.Attr, r.File, r.Line, a.Value, r.conditions(), path.Base(ours)))
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// sameDevices is whether rule r can match a device ours matches: one of
// devices passes its KERNEL, and its SUBSYSTEM agrees with ours.
func sameDevices(ours, r UdevRule, devices []string) bool {
	sub := ""
	for _, m := range ours.Match {
		if m.Key == "SUBSYSTEM" && m.Op == "==" {
			sub = m.Value
		}
	}
	kernelOK := true
	for _, m := range r.Match {
		switch {
		case m.Key == "SUBSYSTEM" && m.Op == "==" && sub != "" && !udevMatch(m.Value, sub):
			return false
		case m.Key == "KERNEL" && m.Op == "==":
			kernelOK = false
			for _, d := range devices {
				if udevMatch(m.Value, d) {
					kernelOK = true
				}
			}
		}
	}
	return kernelOK
}

// UdevSysctlOverrides reports rules that set one of our sysctl keys with
// SYSCTL{}: they run on a device event, after systemd-sysctl at boot.
func (c *Conf) UdevSysctlOverrides(want map[string]string) []string {
	var out []string
	for _, r := range c.Udev {
		for _, a := range r.Assign {
			if a.Key != "SYSCTL" {
				continue
			}
			k := hostpath.SysctlKey(a.Attr)
			if v, ok := want[k]; ok && strings.Join(strings.Fields(a.Value), " ") != v {
				out = append(out, fmt.Sprintf("%s: %s:%d sets %q from udev where %s, after sysctl.d at boot, so it wins when that device appears",
					k, r.File, r.Line, a.Value, r.conditions()))
			}
		}
	}
	sort.Strings(out)
	return out
}

// UdevRunWrites reports rules whose RUN command names one of the sysfs
// files we write: a path in the command that the kernel resolves to it
// ("/sys//module/zswap/parameters/enabled"), or a shell glob covering it.
func (c *Conf) UdevRunWrites(paths []string) []string {
	var out []string
	for _, r := range c.Udev {
		for _, a := range r.Assign {
			if a.Key != "RUN" {
				continue
			}
			for _, p := range paths {
				if runNames(a.Value, p) {
					out = append(out, fmt.Sprintf("%s: %s:%d writes it from a udev RUN command where %s; that can undo ours when the device appears",
						p, r.File, r.Line, r.conditions()))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// runNames reports whether a RUN command names file p: each absolute path
// in it (a run of path characters starting with '/', wherever shell
// quoting or redirection puts it) read as the kernel resolves it, or as a
// glob the shell would expand.
func runNames(cmd, p string) bool {
	want := hostpath.Read(hostpath.UdevAttr, p).Path
	for i := 0; i < len(cmd); i++ {
		if cmd[i] != '/' || i > 0 && pathByte(cmd[i-1]) {
			continue
		}
		j := i
		for j < len(cmd) && pathByte(cmd[j]) {
			j++
		}
		tok := hostpath.Read(hostpath.UdevAttr, cmd[i:j]).Path
		if tok == want || globMatch(tok, want) {
			return true
		}
		i = j
	}
	return false
}

// pathByte is a byte a path in a shell command can hold unquoted (glob
// characters included).
func pathByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("/._-+:@%,*?[]!", c) >= 0
}
