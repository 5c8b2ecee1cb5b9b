package hostconf

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/hostpath"
	"github.com/ezansiedgeai/ezedge-host/internal/formats/unitfile"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// sysctlDirs are systemd-sysctl's directories, highest precedence first: a
// file name in an earlier directory masks the same name in later ones.
var sysctlDirs = []string{"/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"}

// SysctlSetting is one assignment in a sysctl.d file.
type SysctlSetting struct {
	Line  int
	Key   string
	Value string
	// IgnoreErrors is systemd's "-key" prefix.
	IgnoreErrors bool
	// Assigns is false for a bare "-key", which only excludes the key from
	// an earlier glob.
	Assigns bool
}

// ParseSysctlConf reads sysctl.d syntax the way systemd-sysctl does. It never
// fails: a line without "=" that is not "-key" is returned in bad.
func ParseSysctlConf(b []byte) (out []SysctlSetting, bad []int) {
	for i, raw := range strings.Split(string(b), "\n") {
		l := strings.TrimSpace(strings.TrimRight(raw, "\r"))
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		s := SysctlSetting{Line: i + 1, Key: strings.TrimSpace(k), Value: strings.TrimSpace(v), Assigns: ok}
		if strings.HasPrefix(s.Key, "-") {
			s.IgnoreErrors = true
			s.Key = strings.TrimSpace(s.Key[1:])
		}
		if !ok && !s.IgnoreErrors || s.Key == "" {
			bad = append(bad, i+1)
			continue
		}
		s.Key = hostpath.SysctlKey(s.Key)
		out = append(out, s)
	}
	return out, bad
}

// SysctlFiles lists the sysctl.d files systemd-sysctl reads, in the order it
// applies them, followed by /etc/sysctl.conf when something else reads it
// at boot (SysctlConfRead) and no sysctl.d file already links to it.
func SysctlFiles(h *hostroot.Root) []string {
	files := confFiles(h, sysctlDirs, ".conf")
	conf, _ := h.Resolve("/etc/sysctl.conf")
	for _, f := range files {
		if r, err := h.Resolve(f); err == nil && r == conf {
			return files
		}
	}
	if h.Exists("/etc/sysctl.conf") && SysctlConfRead(h) != "" {
		files = append(files, "/etc/sysctl.conf")
	}
	return files
}

// SysctlConfRead says what reads /etc/sysctl.conf at boot besides the
// sysctl.d directories, or "" when nothing does. systemd-sysctl reads only
// sysctl.d; Debian up to bookworm links /etc/sysctl.d/99-sysctl.conf to it,
// trixie does not and makes procps.service an alias of
// systemd-sysctl.service. What is read is worked out from the root: a
// procps.service of its own that runs sysctl, or, without systemd, the
// procps init script.
func SysctlConfRead(h *hostroot.Root) string {
	// procps.service as systemd loads it: an alias (of
	// systemd-sysctl.service) or a mask reads no sysctl.conf of its own.
	u := unitfile.Load(h, "procps.service")
	switch {
	case u.Masked != "" || u.Problem != "":
		return ""
	case u.Exists():
		if path.Base(u.Fragment) != "procps.service" || u.Target != "" && path.Base(u.Target) != "procps.service" {
			return ""
		}
		for _, s := range u.Settings {
			if s.Section == "Service" && strings.HasPrefix(s.Key, "Exec") && strings.Contains(s.Value, "sysctl") && !strings.Contains(s.Value, "systemd-sysctl") {
				return u.Fragment
			}
		}
		return ""
	}
	if !h.Exists("/lib/systemd/systemd") && !h.Exists("/usr/lib/systemd/systemd") && h.Exists("/etc/init.d/procps") {
		return "/etc/init.d/procps"
	}
	return ""
}

// SysctlOverrides reports, for each key we persist in ours, a file read after
// ours that sets it to something else and so wins at boot.
func (c *Conf) SysctlOverrides(ours string, want map[string]string) []string {
	var out []string
	for _, file := range c.Sysctl {
		f := file.Path
		if f == ours || (f != "/etc/sysctl.conf" && path.Base(f) <= path.Base(ours)) {
			continue
		}
		for _, s := range file.Settings {
			if !s.Assigns {
				continue
			}
			for k, v := range want {
				if m, _ := path.Match(s.Key, k); (m || s.Key == k) && strings.Join(strings.Fields(s.Value), " ") != v {
					out = append(out, fmt.Sprintf("%s: %s:%d sets %q and is read after %s, so it wins at boot", k, f, s.Line, s.Value, path.Base(ours)))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
