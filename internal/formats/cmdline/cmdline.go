// Package cmdline reads and edits kernel command lines byte-exactly: a
// Raspberry Pi cmdline.txt, or the value of GRUB_CMDLINE_LINUX in a GRUB
// defaults file. Edits follow Ignition's kernel-argument semantics: an
// argument "should exist" (key=value, replacing any other value of the key)
// or "should not exist". Every byte that is not one of the edited tokens
// stays as it was: order, spacing, quoting and the trailing newline.
package cmdline

import (
	"fmt"
	"strings"
)

// MaxLen is the longest command line ezedge-host writes. The kernel takes
// 2048 bytes on arm64 and x86 (COMMAND_LINE_SIZE); the Pi firmware and GRUB
// add their own arguments (BOOT_IMAGE=, video and serial settings, about
// 200 bytes), so 256 are left for them.
const MaxLen = 2048 - 256

// Token is one argument of a command line.
type Token struct {
	Start, End int // byte offsets in the line
	Key        string
	Value      string
	HasValue   bool
}

// Tokenize splits a command line the way the kernel does: on spaces and
// tabs, except inside double quotes (dyndbg="module x +p" is one token).
func Tokenize(line string) []Token {
	var out []Token
	i := 0
	for i < len(line) {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i >= len(line) {
			break
		}
		start := i
		inQuote := false
		for i < len(line) && (inQuote || !isSpace(line[i])) {
			if line[i] == '"' {
				inQuote = !inQuote
			}
			i++
		}
		t := Token{Start: start, End: i}
		text := line[start:i]
		if k, v, ok := strings.Cut(text, "="); ok {
			t.Key, t.Value, t.HasValue = strings.Trim(k, `"`), v, true
		} else {
			t.Key = strings.Trim(text, `"`)
		}
		out = append(out, t)
	}
	return out
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// Arg is a kernel argument as ezedge-host wants it: with Absent, the key
// should not exist at all; otherwise key[=value] should exist.
type Arg struct {
	Key, Value string
	Absent     bool
}

func (a Arg) String() string {
	switch {
	case a.Absent:
		return "no " + a.Key
	case a.Value == "":
		return a.Key
	}
	return a.Key + "=" + a.Value
}

// Holds reports whether the command line already satisfies a.
func Holds(line string, a Arg) bool {
	found := false
	for _, t := range Tokenize(line) {
		if t.Key != a.Key {
			continue
		}
		if a.Absent {
			return false
		}
		found = true
		// The kernel takes the last occurrence; every one must agree so a
		// reader of the file is not misled either.
		if t.Value != a.Value {
			return false
		}
	}
	return found || a.Absent
}

// Edit returns line with every arg made to hold. Existing tokens of a key
// have their value replaced in place; a missing one is appended after the
// last token (trailing spaces stay after it); an absent one is removed with
// the whitespace before it.
func Edit(line string, args []Arg) string {
	for _, a := range args {
		if Holds(line, a) {
			continue
		}
		toks := Tokenize(line)
		var b strings.Builder
		last := 0
		found := false
		for i, t := range toks {
			if t.Key != a.Key {
				continue
			}
			found = true
			if a.Absent {
				// Drop the token and the whitespace before it (or after it
				// when it is the first of several): the inverse of an
				// append, so removing what was added gives the bytes back.
				from, to := t.Start, t.End
				switch {
				case i > 0:
					from = toks[i-1].End
				case len(toks) > 1:
					to = toks[1].Start
				default:
					from = 0
				}
				b.WriteString(line[last:from])
				last = to
				continue
			}
			b.WriteString(line[last:t.Start])
			b.WriteString(a.text())
			last = t.End
		}
		if !found && !a.Absent {
			end := 0
			if len(toks) > 0 {
				end = toks[len(toks)-1].End
			}
			b.WriteString(line[:end])
			if end > 0 {
				b.WriteString(" ")
			}
			b.WriteString(a.text())
			last = end
		}
		b.WriteString(line[last:])
		line = b.String()
	}
	return line
}

func (a Arg) text() string {
	if a.Value == "" {
		return a.Key
	}
	return a.Key + "=" + a.Value
}

// Balanced reports whether every double quote of a command line is closed.
// Where one is not, the kernel reads the rest of the line as one token, so
// an argument appended after it would not be an argument.
func Balanced(line string) bool { return strings.Count(line, `"`)%2 == 0 }

// Check refuses a command line that would not boot: empty, without the
// root= it had, or longer than MaxLen.
func Check(before, after string) error {
	if strings.TrimSpace(after) == "" {
		return fmt.Errorf("the command line would be empty")
	}
	hadRoot, hasRoot := false, false
	for _, t := range Tokenize(before) {
		hadRoot = hadRoot || t.Key == "root"
	}
	for _, t := range Tokenize(after) {
		hasRoot = hasRoot || t.Key == "root"
	}
	if hadRoot && !hasRoot {
		return fmt.Errorf("the command line would lose root=")
	}
	if n := len(strings.TrimSpace(after)); n > MaxLen {
		return fmt.Errorf("the command line would be %d bytes, over the %d-byte limit", n, MaxLen)
	}
	return nil
}
