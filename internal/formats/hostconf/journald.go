package hostconf

import (
	"fmt"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// journaldMain are where systemd-journald looks for journald.conf, the
// first one present being read (systemd 255 moved the shipped defaults
// to /usr/lib; older releases have /etc's alone).
var journaldMain = []string{"/etc/systemd/journald.conf", "/run/systemd/journald.conf", "/usr/local/lib/systemd/journald.conf", "/usr/lib/systemd/journald.conf"}

// journaldDirs hold journald.conf's drop-ins, highest precedence first: a
// name in an earlier directory masks the same name in later ones, and all
// are read after the main file, in name order, the last setting winning.
var journaldDirs = []string{"/etc/systemd/journald.conf.d", "/run/systemd/journald.conf.d", "/usr/local/lib/systemd/journald.conf.d", "/usr/lib/systemd/journald.conf.d", "/lib/systemd/journald.conf.d"}

// JournaldSetting is one Key=Value of journald's [Journal] section.
type JournaldSetting struct {
	File       string
	Line       int
	Key, Value string
	// DropIn: it comes from a journald.conf.d drop-in, not the main file.
	DropIn bool
}

func (s JournaldSetting) String() string {
	return fmt.Sprintf("%s line %d: %s=%s", s.File, s.Line, s.Key, s.Value)
}

// ReadJournald is every [Journal] setting of the host at h, in the order
// systemd-journald reads them (the last one of a key wins).
func ReadJournald(h *hostroot.Root) []JournaldSetting {
	var out []JournaldSetting
	for _, p := range journaldMain {
		if b, err := h.ReadFile(p); err == nil {
			out = append(out, ParseJournald(p, b, false)...)
			break
		}
	}
	for _, p := range confFiles(h, journaldDirs, ".conf") {
		if b, err := h.ReadFile(p); err == nil {
			out = append(out, ParseJournald(p, b, true)...)
		}
	}
	return out
}

// ParseJournald reads the [Journal] settings of one journald.conf file:
// '#' and ';' start comments; a line outside a section, or without '=',
// is not a setting. Continuation lines (a trailing backslash) are read as
// systemd does, joined.
func ParseJournald(file string, b []byte, dropIn bool) []JournaldSetting {
	var out []JournaldSetting
	section := ""
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		n := i + 1
		l := strings.TrimSpace(strings.TrimSuffix(lines[i], "\r"))
		for strings.HasSuffix(l, `\`) && i+1 < len(lines) {
			i++
			l = strings.TrimSuffix(l, `\`) + " " + strings.TrimSpace(strings.TrimSuffix(lines[i], "\r"))
		}
		switch {
		case l == "" || l[0] == '#' || l[0] == ';':
		case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
			section = l[1 : len(l)-1]
		case section == "Journal":
			if k, v, ok := strings.Cut(l, "="); ok {
				out = append(out, JournaldSetting{File: file, Line: n, Key: strings.TrimSpace(k), Value: strings.TrimSpace(v), DropIn: dropIn})
			}
		}
	}
	return out
}
