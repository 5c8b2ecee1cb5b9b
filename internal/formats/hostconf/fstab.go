package hostconf

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/hostpath"
)

// FstabPath is the file mount(8) and systemd-fstab-generator read the
// static mounts from.
const FstabPath = "/etc/fstab"

// FstabEntry is one mount line of an fstab: its fields as written (with
// their octal escapes) and its mount point and type as each program that
// reads the file reads them.
type FstabEntry struct {
	// Line is 1-based.
	Line   int
	Fields []string
	// Dir is the mount point (the second field) as systemd-fstab-generator
	// reads it (systemd 252 to 258: glibc's getmntent), and DirLibmount as
	// mount(8) and systemd 259's generator read it. Neither follows links:
	// see FstabMounts.
	Dir, DirLibmount hostpath.Path
	// What, Type and Options are the first, third and fourth fields as
	// the generator reads them ("" when absent).
	What, Type, Options string
	// start, end are the byte offsets of each field in the file.
	start, end []int
}

// getmntentLine is the longest line glibc's getmntent() reads whole (its
// buffer is 4096 bytes with the NUL): the rest of a longer line is read
// and dropped, so a field across that byte is cut short.
const getmntentLine = 4095

// ParseFstab reads the mount lines of an fstab as getmntent and libmount
// split them: fields separated by blanks (space, tab), '#' starting a
// comment line, a NUL ending the line (they are C strings). It is total: a
// line it cannot read still counts by its fields.
func ParseFstab(b []byte) []FstabEntry {
	var out []FstabEntry
	off := 0
	for i, line := range strings.SplitAfter(string(b), "\n") {
		body := strings.TrimSuffix(line, "\n")
		if n := strings.IndexByte(body, 0); n >= 0 {
			body = body[:n]
		}
		e := FstabEntry{Line: i + 1}
		e.start, e.end, e.Fields = splitBlanks(body, off)
		off += len(line)
		if len(e.Fields) == 0 || e.Fields[0][0] == '#' {
			continue
		}
		// glibc reads a long line's first 4095 bytes alone.
		short := body
		if len(short) > getmntentLine {
			short = short[:getmntentLine]
		}
		_, _, glibc := splitBlanks(short, 0)
		var dir string
		if len(glibc) >= 2 {
			dir = glibc[1]
		}
		if len(glibc) >= 1 {
			e.What = hostpath.Getmntent(glibc[0])
		}
		if len(glibc) >= 3 {
			e.Type = hostpath.Getmntent(glibc[2])
		}
		if len(glibc) >= 4 {
			e.Options = hostpath.Getmntent(glibc[3])
		}
		e.Dir = hostpath.Read(hostpath.FstabGenerator, dir)
		if len(e.Fields) >= 2 {
			e.DirLibmount = hostpath.Read(hostpath.Libmount, e.Fields[1])
		} else {
			e.DirLibmount = hostpath.Read(hostpath.Libmount, "")
		}
		out = append(out, e)
	}
	return out
}

// splitBlanks splits s on spaces and tabs, with each field's offsets from
// base.
func splitBlanks(s string, base int) (start, end []int, fields []string) {
	for j := 0; j < len(s); {
		if s[j] == ' ' || s[j] == '\t' {
			j++
			continue
		}
		k := j
		for k < len(s) && s[k] != ' ' && s[k] != '\t' {
			k++
		}
		fields = append(fields, s[j:k])
		start, end = append(start, base+j), append(end, base+k)
		j = k
	}
	return start, end, fields
}

// unescapeFstab decodes the \NNN octal escapes libmount decodes (a blank
// in a path is \040); any other backslash is an error.
func unescapeFstab(s string) (string, error) {
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		if !isOctal(s[i+1:]) {
			return "", fmt.Errorf("%q: a backslash that is not a \\NNN octal escape", s)
		}
		i += 3
	}
	return hostpath.Read(hostpath.Kernel, s).Path, nil
}

// isOctal: s starts with three octal digits of a byte value.
func isOctal(s string) bool {
	return len(s) >= 3 && s[0] >= '0' && s[0] <= '3' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7'
}

// FstabMount is what one fstab line makes of a mount point at boot.
type FstabMount struct {
	Line int
	// Where is the mount point systemd-fstab-generator makes a unit for,
	// links in it followed inside the root; Unit is that unit ("" when
	// the generator makes none, and Why says why).
	Where hostpath.Path
	Unit  string
	Why   string
	// Libmount is the mount point as mount(8) reads it, links followed.
	Libmount hostpath.Path
	// What, Type and Options are the line's other fields as the
	// generator reads them.
	What, Type, Options string
}

// At reports whether the line mounts something on dir (a clean absolute
// path) for the generator or for mount(8); a swap line mounts nothing.
func (m FstabMount) At(dir string) bool {
	return m.Type != "swap" && (m.Where.Is(dir) || m.Libmount.Is(dir))
}

func (m FstabMount) String() string {
	if m.Unit != "" {
		return fmt.Sprintf("line %d (%s, systemd-fstab-generator makes %s)", m.Line, m.Where, m.Unit)
	}
	return fmt.Sprintf("line %d (%s)", m.Line, m.Libmount)
}

// FstabMounts reads b, an fstab of the root r, as systemd-fstab-generator
// does at boot: a swap line makes a .swap unit, an autofs one nothing, a
// mount point that is not a path nothing; the others' mount points are
// simplified and their links followed in the root, and make the .mount
// unit named after them. The mount point as mount(8) reads it is kept
// beside, for the lines the two read differently.
func FstabMounts(r hostpath.Resolver, b []byte) []FstabMount {
	var out []FstabMount
	for _, e := range ParseFstab(b) {
		m := FstabMount{Line: e.Line, Where: e.Dir.In(r), Libmount: e.DirLibmount.In(r), What: e.What, Type: e.Type, Options: e.Options}
		switch {
		case e.Type == "swap":
			m.Why = "a swap line"
		case e.Type == "autofs":
			m.Why = "an autofs line (systemd-fstab-generator skips it)"
		case !m.Where.OK():
			m.Why = m.Where.Refused
		default:
			u, err := hostpath.UnitName(m.Where.Path, ".mount")
			if err != nil {
				m.Why = err.Error()
			} else {
				m.Unit = u
			}
		}
		out = append(out, m)
	}
	return out
}

// rootness is how surely a mount point is /.
type rootness int

const (
	notRoot rootness = iota
	isRoot
	// mayBeRoot: "/.." and the like, / once ".." is resolved, which the
	// generator does through the file system and other readers do not.
	mayBeRoot
)

// rootReading is whether p, as its reader reads it, mounts /. "//", "/."
// and "/./" are / to every reader (systemd's path_equal, libmount's
// canonical paths).
func rootReading(p hostpath.Path) rootness {
	switch {
	case p.Is("/"):
		return isRoot
	case p.OK() && path.Clean(p.Path) == "/":
		return mayBeRoot
	}
	return notRoot
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
		switch glibc, lib := rootReading(e.Dir), rootReading(e.DirLibmount); {
		case glibc == isRoot && lib == isRoot:
			roots = append(roots, e)
			continue
		case glibc != notRoot || lib != notRoot:
			return NoatimeEdit{}, fmt.Errorf("line %d: mount point %q written with escapes or \"..\" so that it may or may not be / (systemd-fstab-generator reads %s, mount(8) %s): edit it by hand", e.Line, e.Fields[1], e.Dir, e.DirLibmount)
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
