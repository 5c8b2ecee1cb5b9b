package escape

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// decode is how a reader takes a shown string back: a Go string literal
// stands for its value, anything else for itself.
func decode(t *testing.T, shown string) string {
	t.Helper()
	if len(shown) >= 2 && shown[0] == '"' && shown[len(shown)-1] == '"' {
		if s, err := strconv.Unquote(shown); err == nil {
			return s
		}
	}
	return shown
}

// hostile are strings of every class a root can hold.
func hostile() []string {
	s := []string{
		"", " ", "plain", "Raspberry Pi 5 Model B Rev 1.0", "Core 0", "café ☕ 温度", `back\slash`, `C:\x1b`,
		"\xff", "a\xffb", "\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", // invalid: lone byte, cut sequence, surrogate, above U+10FFFF
		"\x1b[31mred\x1b[0m", "\x1b]0;title\x07", "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "\x9b31m", "\u009b2J",
		"\x00", "nul\x00inside", "cr\rover", "line\nbreak", "tab\there", "\x7f", "\u2028", "\u2029",
		"\u202eevil", "\u2066isolate\u2069", "\u200f", "\u061c", "\ufeff", "\ufffe", "\uffff", "\u00ad", "\u00a0",
		`"quoted"`, `"\x1b"`, `"`, `""`, `"a" and "b"`, `"unterminated`,
		strings.Repeat("\x1b[2J", 10000), strings.Repeat("é", 100000) + "\x00",
	}
	for b := 0; b < 256; b++ {
		s = append(s, string([]byte{byte(b)}), "x"+string([]byte{byte(b)})+"y")
	}
	for _, tab := range []*unicode.RangeTable{unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Co} {
		for _, r16 := range tab.R16 {
			for r := rune(r16.Lo); r <= rune(r16.Hi); r += rune(r16.Stride) {
				s = append(s, string(r))
			}
		}
		for _, r32 := range tab.R32 {
			for r := rune(r32.Lo); r <= rune(r32.Hi) && r < rune(r32.Lo)+64; r += rune(r32.Stride) {
				s = append(s, string(r))
			}
		}
	}
	return s
}

// TestTextIsSafeAndUnambiguous: whatever a host holds, its text form is
// printable UTF-8 on one line, and a reader gets the string back.
func TestTextIsSafeAndUnambiguous(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	for _, s := range hostile() {
		got := Text(s)
		if err := CheckText([]byte(got)); err != nil || strings.Contains(got, "\n") {
			t.Errorf("Text(%q) = %q: %v", s, got, err)
		}
		if back := decode(t, got); back != s {
			t.Errorf("Text(%q) = %q reads back as %q", s, got, back)
		}
		if other, ok := seen[got]; ok && other != s {
			t.Errorf("%q and %q are both shown as %q", s, other, got)
		}
		seen[got] = s
	}
}

func TestTextKeepsPlainStrings(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "Raspberry Pi 5 Model B Rev 1.0", "café ☕ 温度 \ufffd", `a\b`, `"a", mode 0644`, `say "hi"`, "/etc/sysctl.d/99-x.conf"} {
		if got := Text(s); got != s {
			t.Errorf("Text(%q) = %q, want it unchanged", s, got)
		}
	}
	for s, want := range map[string]string{
		"\x1b[2J":  `"\x1b[2J"`,
		"\xff":     `"\xff"`,
		"a\nb":     `"a\nb"`,
		"\u202eab": `"\u202eab"`,
		`"x"`:      `"\"x\""`,
		"tab\t":    `"tab\t"`,
	} {
		if got := Text(s); got != want {
			t.Errorf("Text(%q) = %s, want %s", s, got, want)
		}
	}
}

func FuzzText(f *testing.F) {
	for _, s := range hostile()[:60] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Text(s)
		if err := CheckText([]byte(got)); err != nil || strings.Contains(got, "\n") {
			t.Fatalf("Text(%q) = %q: %v", s, got, err)
		}
		if back := decode(t, got); back != s {
			t.Fatalf("Text(%q) = %q reads back as %q", s, got, back)
		}
		var b bytes.Buffer
		Lines(&b, "  ", s)
		if err := CheckText(b.Bytes()); err != nil {
			t.Fatalf("Lines(%q) = %q: %v", s, b.String(), err)
		}
		l := PromLabel(s)
		if !utf8.ValidString(l) || strings.ContainsAny(l, "\n") {
			t.Fatalf("PromLabel(%q) = %q", s, l)
		}
	})
}

type stringer string

func (s stringer) String() string { return string(s) }

func TestFprintf(t *testing.T) {
	t.Parallel()
	cases := []struct {
		format string
		args   []any
		want   string
	}{
		{"%s|%v|%d", []any{"\x1b[2J", "ok", 42}, `"\x1b[2J"|ok|42`},
		{"[%-6s][%6s]", []any{"ab", "cd"}, "[ab    ][    cd]"},
		{"[%-8s]", []any{"\x00"}, `["\x00"  ]`},
		{"%q %q", []any{"\x1b", "tab\t"}, `"\x1b" "tab\t"`},
		{"%.1f %+.0f%% %05d %7d %x", []any{3.14159, 12.6, 42, 7, 255}, "3.1 +13% 00042       7 ff"},
		{"%s", []any{errors.New("read /etc/\x1b]0;pwn\x07: is a FIFO")}, `"read /etc/\x1b]0;pwn\a: is a FIFO"`},
		{"%s", []any{stringer("a\nb")}, `"a\nb"`},
		{"%v", []any{[]string{"a", "\xff"}}, `"[a \xff]"`},
		{"%s %s", []any{Host("\u202e"), Host("ok")}, `"\u202e" ok`},
		{"%s", []any{time.Duration(1500) * time.Millisecond}, "1.5s"},
		{"[%-*s|%*s]", []any{4, "\x1b", 3, "a"}, `["\x1b"|  a]`},
		{"%v", []any{nil}, "<nil>"},
	}
	for _, c := range cases {
		var b bytes.Buffer
		Fprintf(&b, c.format, c.args...)
		if b.String() != c.want {
			t.Errorf("Fprintf(%q, %q) = %s, want %s", c.format, c.args, b.String(), c.want)
		}
	}
}

func TestLines(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	Lines(&b, "> ", "one\n\x1b[2Jtwo\r\nthree")
	if want := "> one\n> \"\\x1b[2Jtwo\\r\"\n> three\n"; b.String() != want {
		t.Errorf("Lines = %q, want %q", b.String(), want)
	}
}

func TestPromLabel(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]string{
		"Core 0":  "Core 0",
		`a\b"c`:   `a\\b\"c`,
		"\xff":    `\"\\xff\"`,
		"a\nb":    `\"a\\nb\"`,
		"\x1b[2J": `\"\\x1b[2J\"`,
	} {
		if got := PromLabel(s); got != want {
			t.Errorf("PromLabel(%q) = %s, want %s", s, got, want)
		}
	}
	if got := PromHelp("a\\b\nc"); got != `"a\\\\b\\nc"` {
		t.Errorf("PromHelp = %s", got)
	}
}

// TestHostOutputs: a Host in XML is its text form (valid XML 1.0 whatever
// it holds) and in JSON the string itself.
func TestHostOutputs(t *testing.T) {
	t.Parallel()
	type doc struct {
		XMLName xml.Name `xml:"d"`
		A       Host     `xml:"a,attr"`
		Text    Host     `xml:",chardata"`
	}
	for _, s := range hostile() {
		out, err := xml.Marshal(doc{A: Host(s), Text: Host(s)})
		if err != nil {
			t.Fatal(err)
		}
		var back struct {
			A    string `xml:"a,attr"`
			Text string `xml:",chardata"`
		}
		if err := xml.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q: not XML: %v\n%s", s, err, out)
		}
		if back.A != Text(s) || back.Text != Text(s) {
			t.Errorf("%q: XML reads back as %q / %q, want %q", s, back.A, back.Text, Text(s))
		}
		j, err := json.Marshal(Host(s))
		if err != nil || !json.Valid(j) || !utf8.Valid(j) {
			t.Fatalf("%q: JSON %s: %v", s, j, err)
		}
		var js string
		json.Unmarshal(j, &js)
		if utf8.ValidString(s) && js != s {
			t.Errorf("%q: JSON reads back as %q", s, js)
		}
		if fmt.Sprint(Host(s)) != Text(s) {
			t.Errorf("%q: String is not Text", s)
		}
	}
}

func TestCheckText(t *testing.T) {
	t.Parallel()
	if err := CheckText([]byte("ok line\nnext é ☕\n")); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"\x1b", "\r", "\t", "\xff", "\u202e", "\u2028", "\x00", "\u0085"} {
		if CheckText([]byte("a\n"+bad)) == nil {
			t.Errorf("CheckText(%q) = nil", bad)
		}
	}
}
