// Package escape renders strings read from a host (a root's files, a
// journal, a plan file, Podman's output, an error naming any of them) for
// each output ezedge-host writes. Every such string is data: it may hold
// invalid UTF-8, terminal escape sequences, NUL, CR, line separators or
// bidirectional overrides, and none of it may reach an output as anything
// but visible text.
//
// One rule per output, each in one place:
//
//   - text (a terminal): Text. A string that is valid UTF-8, made only of
//     printable characters and the ASCII space, and that does not itself
//     read as a Go string literal is shown as it is; any other string is
//     shown as a Go string literal (strconv.Quote: "\x1b[2J", "\xff",
//     "a\nb", "\u202e"). The form is visible and unambiguous: a shown
//     string that is a Go string literal stands for its unquoted value,
//     anything else for itself. Text views write only through Fprintf
//     and Lines, which show every argument this way: the format is the
//     program's, the arguments are data (there is no Println: its
//     arguments are all data, and a constant line would be escaped).
//   - JSON: encoding/json through view.WriteJSON: control characters,
//     U+2028 and U+2029 are \u escapes, and each byte that is not UTF-8
//     becomes U+FFFD, which RFC 8259 (section 8.1) requires of JSON text.
//     Valid UTF-8 strings round-trip exactly.
//   - Prometheus (the text exposition format): PromLabel, label values as
//     Text, then \\, \" and \n escaped as the format requires.
//   - JUnit (XML 1.0): Host, whose MarshalText is Text: encoding/xml then
//     escapes the markup characters. Text never holds a character XML 1.0
//     forbids (C0 controls, U+FFFE, U+FFFF), escaped or not.
package escape

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Text is s as it may be shown on a terminal: as it is when it is plain
// (valid UTF-8, printable characters and spaces only, and not a Go string
// literal itself), otherwise as a Go string literal.
func Text(s string) string {
	if plain(s) {
		return s
	}
	return strconv.Quote(s)
}

// plain says whether s can be shown as it is.
func plain(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < ' ' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || !strconv.IsPrint(r) {
			return false
		}
		i += n
	}
	// A string that reads as a Go string literal is quoted too, so that
	// the quoted form of another string is never mistaken for it.
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		if _, err := strconv.Unquote(s); err == nil {
			return false
		}
	}
	return true
}

// Host is a string read from a host, where a type carries it to an
// output: its text and XML forms are Text, its JSON form the string
// itself (encoding/json makes it valid JSON).
type Host string

// String is the text form.
func (s Host) String() string { return Text(string(s)) }

// MarshalText is the text form, which encoding/xml writes for attributes
// and character data.
func (s Host) MarshalText() ([]byte, error) { return []byte(Text(string(s))), nil }

// MarshalJSON is the string itself, as JSON.
func (s Host) MarshalJSON() ([]byte, error) { return json.Marshal(string(s)) }

// PromLabel is s as a Prometheus label value, between its double quotes:
// Text, then backslash, double quote and newline escaped (the text
// exposition format). Text is one to one, so distinct values stay
// distinct series.
func PromLabel(s string) string {
	return promEscaper.Replace(Text(s))
}

var promEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// PromHelp is s as the text of a # HELP line: backslash and newline
// escaped (the text exposition format), and shown as Text.
func PromHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(Text(s))
}

// Fprintf is fmt.Fprintf for text output: format is the program's and
// printed as it is; every argument is data and is shown as Text (numbers
// with their verb, width and precision as fmt formats them). The
// arguments are wrapped in place, so that go vet still checks the format
// against them: pass values, not a slice kept for later.
func Fprintf(w io.Writer, format string, args ...any) (int, error) {
	for i, a := range args {
		switch a.(type) {
		case bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr, float32, float64:
			// A number is never data to escape, and a width given as
			// an argument (%*s) must stay an int. (%c would make one
			// a character: the views never use it, a test sees to it.)
			continue
		}
		args[i] = shown{a}
	}
	return fmt.Fprintf(w, format, args...)
}

// Lines writes text of several lines (a file's contents, a generated
// drop-in), each line as prefix and the line shown as Text: a control
// character in a line cannot start another line or move the cursor.
func Lines(w io.Writer, prefix, text string) error {
	if text == "" {
		return nil
	}
	var b strings.Builder
	for l := range strings.Lines(text) {
		b.WriteString(prefix)
		b.WriteString(Text(strings.TrimSuffix(l, "\n")))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// shown formats an argument of Fprintf as Text.
type shown struct{ v any }

func (s shown) Format(f fmt.State, verb rune) {
	v := s.v
	if h, ok := v.(Host); ok {
		v = string(h)
	}
	var out string
	switch verb {
	case 'q':
		// strconv.Quote: already escaped (without '#', which would allow
		// a raw tab between backquotes).
		out = fmt.Sprintf("%q", v)
	default:
		// The value as fmt formats it (precision, flags), then shown;
		// the width applies to what is shown.
		d := []byte{'%'}
		for _, c := range "+# 0" {
			if f.Flag(int(c)) {
				d = append(d, byte(c))
			}
		}
		if p, ok := f.Precision(); ok {
			d = fmt.Appendf(d, ".%d", p)
		}
		d = utf8.AppendRune(d, verb)
		out = Text(fmt.Sprintf(string(d), v))
	}
	if w, ok := f.Width(); ok {
		if f.Flag('-') {
			fmt.Fprintf(f, "%-*s", w, out)
		} else {
			fmt.Fprintf(f, "%*s", w, out)
		}
		return
	}
	io.WriteString(f, out)
}

// CheckText says where text output (which may end lines with \n) holds
// what Text never lets through: a byte that is not UTF-8, a control
// character other than the newline, or another character that is not
// printable (a bidirectional override, U+2028). nil when there is none.
// Tests hold every text output to it.
func CheckText(out []byte) error {
	line := 1
	for i := 0; i < len(out); {
		r, n := utf8.DecodeRune(out[i:])
		switch {
		case r == '\n':
			line++
		case r == utf8.RuneError && n == 1:
			return fmt.Errorf("line %d: byte %#x is not UTF-8", line, out[i])
		case r != ' ' && !strconv.IsPrint(r):
			return fmt.Errorf("line %d: %U is not printable", line, r)
		}
		i += n
	}
	return nil
}
