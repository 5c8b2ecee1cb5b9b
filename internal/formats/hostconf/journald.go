package hostconf

import (
	"fmt"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/unitfile"
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

// ParseJournald reads the [Journal] settings of one journald.conf file
// with systemd's own config parser rules (unitfile.Parse): '#' and ';'
// start comments, even inside a continued line; a line ending in a
// backslash goes on on the next, the backslash read as a blank; a lone
// carriage return ends a line.
func ParseJournald(file string, b []byte, dropIn bool) []JournaldSetting {
	var out []JournaldSetting
	for _, s := range unitfile.Parse(file, b).Settings {
		if s.Section == "Journal" {
			out = append(out, JournaldSetting{File: file, Line: s.Line, Key: s.Key, Value: s.Value, DropIn: dropIn})
		}
	}
	return out
}
