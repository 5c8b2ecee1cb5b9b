package hostconf

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/hostpath"
)

// tmpfilesDirs are systemd-tmpfiles' directories, highest precedence first.
var tmpfilesDirs = []string{"/etc/tmpfiles.d", "/run/tmpfiles.d", "/usr/local/lib/tmpfiles.d", "/usr/lib/tmpfiles.d", "/lib/tmpfiles.d"}

// TmpfilesLine is one line of a tmpfiles.d file.
type TmpfilesLine struct {
	Line int
	// Type is the line's type with its modifiers ("w", "w+", "w!").
	Type string
	// Path is the path as systemd-tmpfiles reads it: unquoted,
	// unescaped, %% made '%' and simplified ("/sys//x/" is "/sys/x").
	Path     string
	Argument string
}

// ParseTmpfiles reads tmpfiles.d syntax as systemd-tmpfiles does: the
// first six fields split as systemd's extract_first_word() splits them
// (quotes, C escapes), the argument the rest of the line, C escapes and
// %% in it decoded. A line systemd-tmpfiles ignores is in bad: fewer than
// two fields, bad quoting or escapes, a path it does not take (relative,
// a specifier that depends on the host).
func ParseTmpfiles(b []byte) (out []TmpfilesLine, bad []int) {
	for i, raw := range strings.Split(string(b), "\n") {
		l := strings.TrimSpace(strings.TrimRight(raw, "\r"))
		if l == "" || l[0] == '#' {
			continue
		}
		var f []string
		rest := l
		var err error
		for len(f) < 6 {
			var w string
			var ok bool
			if w, rest, ok, err = nextWord(rest); err != nil || !ok {
				break
			}
			f = append(f, w)
		}
		if err != nil || len(f) < 2 {
			bad = append(bad, i+1)
			continue
		}
		p := hostpath.Read(hostpath.Tmpfiles, f[1])
		if !p.OK() {
			bad = append(bad, i+1)
			continue
		}
		t := TmpfilesLine{Line: i + 1, Type: f[0], Path: p.Path}
		if len(f) == 6 && rest != "" && rest != "-" {
			t.Argument = tmpfilesArgument(rest)
		}
		out = append(out, t)
	}
	return out, bad
}

// tmpfilesArgument is a line's argument as systemd-tmpfiles uses it:
// C escapes decoded, then %% made '%' (other specifiers are left as
// written: they depend on the host).
func tmpfilesArgument(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			if r, n, err := cunescapeOne(s[i+1:]); err == nil {
				b.WriteString(r)
				i += n
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return strings.ReplaceAll(b.String(), "%%", "%")
}

// writes is whether the line writes to its path at boot ("w", "w+", "w!"…).
func (t TmpfilesLine) writes() bool { return strings.HasPrefix(t.Type, "w") }

// TmpfilesOverrides reports lines of other tmpfiles.d files that write a
// file ours writes, with another value, and win at boot: for the same path
// the line of the file first in name order is the only one applied; a glob
// covering the same file applies too, and the one read last wins.
func (c *Conf) TmpfilesOverrides(ours string, mine []TmpfilesLine) []string {
	var out []string
	for _, file := range c.Tmpfiles {
		f, theirs := file.Path, file.Lines
		if path.Base(f) == path.Base(ours) {
			continue
		}
		before := path.Base(f) < path.Base(ours)
		for _, t := range theirs {
			if !t.writes() {
				continue
			}
			for _, m := range mine {
				if !m.writes() || strings.TrimSpace(t.Argument) == strings.TrimSpace(m.Argument) {
					continue
				}
				same := t.Path == m.Path
				overlap := !same && (globMatch(t.Path, m.Path) || globMatch(m.Path, t.Path))
				switch {
				case same && before:
					out = append(out, fmt.Sprintf("%s: %s:%d writes %q and comes before %s, so systemd-tmpfiles ignores our line for it", m.Path, f, t.Line, t.Argument, path.Base(ours)))
				case overlap && !before:
					out = append(out, fmt.Sprintf("%s: %s:%d writes %q to %s after %s, so it wins at boot", m.Path, f, t.Line, t.Argument, t.Path, path.Base(ours)))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func globMatch(pattern, name string) bool {
	m, err := path.Match(pattern, name)
	return m && err == nil
}

// TmpfilesPaths lists the files tmpfiles.d lines write.
func TmpfilesPaths(lines []TmpfilesLine) []string {
	var out []string
	for _, l := range lines {
		if l.writes() {
			out = append(out, l.Path)
		}
	}
	return out
}
