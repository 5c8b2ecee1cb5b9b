// Package unitfile reads systemd unit files the way systemd (252, Debian
// bookworm) loads them: which file a unit name resolves to over the unit
// path (a regular file, a link to a file outside it, an alias, a mask, a
// unit a generator makes at boot), the drop-ins that extend it, in the
// order they are read, and its settings, parsed as systemd's config
// parser does. The tasks use it to plan a drop-in only onto the unit it
// was written for.
package unitfile

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Setting is one Key=Value assignment of a unit file.
type Setting struct {
	File string
	// Line is where the assignment starts (the first line of a
	// continued one).
	Line         int
	Section, Key string
	Value        string
}

func (s Setting) String() string {
	return fmt.Sprintf("%s line %d sets %s=%s", s.File, s.Line, s.Key, s.Value)
}

// Parsed is what systemd's config parser makes of one file.
type Parsed struct {
	Settings []Setting
	// Sections are the sections the file opens, in order.
	Sections []string
	// Problem is why systemd refuses the whole file (an invalid section
	// header); the unit then fails to load.
	Problem string
	// Ignored are the lines systemd skips with a warning, by number.
	Ignored []int
}

// splitLines splits b where systemd's read_line() ends a line: "\n",
// "\r\n", a lone "\r", or a NUL.
func splitLines(b []byte) []string {
	var lines []string
	start := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\n', 0:
			lines = append(lines, string(b[start:i]))
			start = i + 1
		case '\r':
			lines = append(lines, string(b[start:i]))
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	if start < len(b) {
		lines = append(lines, string(b[start:]))
	}
	return lines
}

// whitespace is systemd's WHITESPACE.
const whitespace = " \t\n\r"

// Parse reads one unit file (or drop-in) as config_parse() does: a line
// whose first non-blank byte is '#' or ';' is a comment, even inside a
// continuation; a line ending in an odd number of backslashes goes on on
// the next, the backslash becoming a blank; a UTF-8 byte order mark at the
// start is skipped; keys and sections are case-sensitive; a line that is
// not valid UTF-8, lacks '=' or comes before any section is ignored.
func Parse(file string, b []byte) Parsed {
	var out Parsed
	section := ""
	var cont strings.Builder
	inCont, contLine := false, 0
	for i, raw := range splitLines(b) {
		n := i + 1
		if t := strings.TrimLeft(raw, whitespace); t != "" && (t[0] == '#' || t[0] == ';') {
			continue
		}
		if i == 0 {
			raw = strings.TrimPrefix(raw, "\uFEFF")
		}
		if !inCont {
			cont.Reset()
			contLine = n
		}
		cont.WriteString(raw)
		p := cont.String()
		if oddBackslashes(p) {
			cont.Reset()
			cont.WriteString(p[:len(p)-1] + " ")
			inCont = true
			continue
		}
		inCont = false
		if !out.line(file, contLine, p, &section) {
			return out
		}
	}
	if inCont {
		// The file ends inside a continuation: systemd parses what it has.
		out.line(file, contLine, cont.String(), &section)
	}
	return out
}

// line is parse_line(): it adds what one (joined) line holds, and is
// false when the line makes systemd refuse the file.
func (out *Parsed) line(file string, n int, p string, section *string) bool {
	l := strings.Trim(p, whitespace)
	switch {
	case l == "":
	case !utf8.ValidString(l):
		out.Ignored = append(out.Ignored, n)
	case l[0] == '[':
		if l[len(l)-1] != ']' {
			out.Problem = fmt.Sprintf("%s line %d: invalid section header %q: systemd refuses the file", file, n, l)
			return false
		}
		*section = l[1 : len(l)-1]
		out.Sections = append(out.Sections, *section)
	case *section == "":
		out.Ignored = append(out.Ignored, n)
	default:
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			out.Ignored = append(out.Ignored, n)
			return true
		}
		out.Settings = append(out.Settings, Setting{File: file, Line: n, Section: *section,
			Key: strings.Trim(k, whitespace), Value: strings.Trim(v, whitespace)})
	}
	return true
}

// oddBackslashes reports whether s ends in an escaping backslash, as
// config_parse() scans it (each backslash escapes the next byte).
func oddBackslashes(s string) bool {
	escaped := false
	for i := 0; i < len(s); i++ {
		switch {
		case escaped:
			escaped = false
		case s[i] == '\\':
			escaped = true
		}
	}
	return escaped
}
