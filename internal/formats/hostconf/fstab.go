package hostconf

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// FstabPath is the file mount(8) and systemd-fstab-generator read the
// static mounts from.
const FstabPath = "/etc/fstab"

// FstabEntry is one mount line of an fstab: its fields as written (with
// their octal escapes) and, decoded, its mount point.
type FstabEntry struct {
	// Line is 1-based.
	Line   int
	Fields []string
	// Dir is the mount point (the second field) with its \NNN escapes
	// decoded; "" when it has an escape mount would not decode.
	Dir string
	// start, end are the byte offsets of each field in the file.
	start, end []int
}

// ParseFstab reads the mount lines of an fstab as libmount splits them:
// fields separated by blanks (space, tab), '#' starting a comment line. It
// is total: a line it cannot read still counts by its fields.
func ParseFstab(b []byte) []FstabEntry {
	var out []FstabEntry
	off := 0
	for i, line := range strings.SplitAfter(string(b), "\n") {
		body := strings.TrimSuffix(line, "\n")
		e := FstabEntry{Line: i + 1}
		for j := 0; j < len(body); {
			if body[j] == ' ' || body[j] == '\t' {
				j++
				continue
			}
			k := j
			for k < len(body) && body[k] != ' ' && body[k] != '\t' {
				k++
			}
			e.Fields = append(e.Fields, body[j:k])
			e.start, e.end = append(e.start, off+j), append(e.end, off+k)
			j = k
		}
		off += len(line)
		if len(e.Fields) == 0 || e.Fields[0][0] == '#' {
			continue
		}
		if len(e.Fields) >= 2 {
			e.Dir, _ = unescapeFstab(e.Fields[1])
		}
		out = append(out, e)
	}
	return out
}

// unescapeFstab decodes the \NNN octal escapes libmount decodes (a blank
// in a path is \040); any other backslash is an error.
func unescapeFstab(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if !isOctal(s[i+1:]) {
			return "", fmt.Errorf("%q: a backslash that is not a \\NNN octal escape", s)
		}
		b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
		i += 3
	}
	return b.String(), nil
}

// isOctal: s starts with three octal digits of a byte value.
func isOctal(s string) bool {
	return len(s) >= 3 && s[0] >= '0' && s[0] <= '3' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7'
}

// FstabMounts lists the lines of b that mount dir.
func FstabMounts(b []byte, dir string) []int {
	var out []int
	for _, e := range ParseFstab(b) {
		if e.Dir == dir {
			out = append(out, e.Line)
		}
	}
	return out
}

// ErrNoRootEntry: the fstab has no line mounting / (the root is mounted
// from the kernel command line alone, or by systemd-gpt-auto-generator).
var ErrNoRootEntry = errors.New("no entry mounts /")

// NoatimeEdit is the edit that gives the root's entry the noatime option:
// bytes [Start, End) of the file, Old, become New. Start == End and Old ==
// New == "" when noatime is in force already.
type NoatimeEdit struct {
	Line       int
	Start, End int
	Old, New   string
	// Options is the root entry's options field as it is now.
	Options string
}

// Noop reports whether the entry has noatime in force already.
func (e NoatimeEdit) Noop() bool { return e.Old == e.New }

// Apply makes the edited file from b.
func (e NoatimeEdit) Apply(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(e.New)-len(e.Old))
	out = append(out, b[:e.Start]...)
	out = append(out, e.New...)
	return append(out, b[e.End:]...)
}

// Says is the change in words, for the plan's notes.
func (e NoatimeEdit) Says() string {
	switch {
	case e.Noop():
		return "noatime is in place"
	case e.Old == "":
		return fmt.Sprintf("adds noatime to the options %q of / (line %d)", e.Options, e.Line)
	}
	return fmt.Sprintf("replaces %s with noatime in the options %q of / (line %d)", e.Old, e.Options, e.Line)
}

// atimeOptions set how atime is updated; the last one in the options wins
// (mount(8)). nostrictatime and norelatime fall back to the kernel's
// default (relatime), so they count as not noatime.
var atimeOptions = map[string]bool{"noatime": true, "atime": true, "relatime": true, "norelatime": true, "strictatime": true, "nostrictatime": true}

// RootNoatime plans the edit of an fstab that mounts / with noatime: the
// option appended to the root entry's options, or put in place of the one
// atime option there (relatime, strictatime, atime). It refuses, naming the
// line, whatever it cannot edit with certainty of leaving every other byte
// as it was and the line meaning what it meant: several entries for /,
// quotes or backslashes other than \NNN escapes, a carriage return or
// other control character, a backslash at a line's end (fstab has no
// continuation lines; someone may think it has), no options field, an
// empty option, or several atime options. ErrNoRootEntry when no line
// mounts /.
func RootNoatime(b []byte) (NoatimeEdit, error) {
	var roots []FstabEntry
	for _, e := range ParseFstab(b) {
		if e.Dir == "/" {
			roots = append(roots, e)
			continue
		}
		// A quoted field with a blank in it shifts the others: a line
		// that has a "/" anywhere may be the root's, read wrong.
		if strings.ContainsAny(strings.Join(e.Fields, " "), `"'`) && slices.Contains(e.Fields[1:], "/") {
			return NoatimeEdit{}, fmt.Errorf("line %d holds a quote and a \"/\" field: which field is the mount point is unclear", e.Line)
		}
	}
	switch len(roots) {
	case 0:
		return NoatimeEdit{}, ErrNoRootEntry
	case 1:
	default:
		var lines []string
		for _, r := range roots {
			lines = append(lines, fmt.Sprint(r.Line))
		}
		return NoatimeEdit{}, fmt.Errorf("lines %s all mount /: refusing to choose one", strings.Join(lines, ", "))
	}
	r := roots[0]
	lines := strings.Split(string(b), "\n")
	text := lines[r.Line-1]
	bad := func(format string, a ...any) (NoatimeEdit, error) {
		return NoatimeEdit{}, fmt.Errorf("line %d (the entry for /): %s", r.Line, fmt.Sprintf(format, a...))
	}
	for _, c := range []byte(text) {
		switch {
		case c == '\r':
			return bad("ends in a carriage return (CRLF line ends)")
		case c < 0x20 && c != '\t' || c == 0x7f:
			return bad("holds control character %#02x", c)
		case c == '"' || c == '\'':
			return bad("holds a quote: fields with quotes are not edited")
		}
	}
	if strings.HasSuffix(text, `\`) || r.Line > 1 && strings.HasSuffix(lines[r.Line-2], `\`) {
		return bad("a line ending in a backslash: fstab has no continuation lines, so what this entry means is unclear")
	}
	for _, f := range r.Fields {
		if _, err := unescapeFstab(f); err != nil {
			return bad("%v", err)
		}
	}
	if r.Fields[1] != "/" {
		return bad("mount point %q written with escapes", r.Fields[1])
	}
	if len(r.Fields) < 4 {
		return bad("no options field")
	}
	if len(r.Fields) > 6 {
		return bad("%d fields, fstab has 6", len(r.Fields))
	}
	opts := r.Fields[3]
	e := NoatimeEdit{Line: r.Line, Options: opts}
	var found []int // indexes of atime options
	parts := strings.Split(opts, ",")
	for i, o := range parts {
		if o == "" {
			return bad("an empty option in %q", opts)
		}
		if atimeOptions[o] {
			found = append(found, i)
		}
	}
	start, end := r.start[3], r.end[3]
	switch {
	case len(found) == 0:
		e.Start, e.End, e.New = end, end, ",noatime"
	case len(found) == 1 && parts[found[0]] == "noatime":
		e.Start, e.End = end, end
	case len(found) == 1 && parts[found[0]] != "norelatime" && parts[found[0]] != "nostrictatime":
		at := start
		for _, o := range parts[:found[0]] {
			at += len(o) + 1
		}
		e.Old, e.New = parts[found[0]], "noatime"
		e.Start, e.End = at, at+len(e.Old)
	default:
		var names []string
		for _, i := range found {
			names = append(names, parts[i])
		}
		return bad("atime options %s in %q: edit it by hand", strings.Join(names, ", "), opts)
	}
	return e, nil
}
