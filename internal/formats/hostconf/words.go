package hostconf

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// errWord is a word systemd's extract_first_word() refuses (an
// unterminated quote, a backslash at the end), or an escape cunescape()
// does not know or that makes a NUL.
var errWord = errors.New("invalid quoting or escape")

// nextWord is systemd's extract_first_word() with EXTRACT_UNQUOTE, as
// systemd-tmpfiles (252) splits a line's fields: blanks separate words;
// single or double quotes group (anywhere in a word) and are removed; a
// backslash makes the next byte itself, in quotes too ("\x66" is "x66":
// no C escapes in fields). It returns the word, the rest after the blanks
// that follow it, and false at the end of s.
func nextWord(s string) (word, rest string, ok bool, err error) {
	s = strings.TrimLeft(s, whitespace)
	if s == "" {
		return "", "", false, nil
	}
	var b strings.Builder
	var quote byte
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return "", "", false, errWord
			}
			b.WriteByte(s[i+1])
			i += 2
			continue
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '\'' || c == '"'):
			quote = c
		case quote == 0 && strings.IndexByte(whitespace, c) >= 0:
			return b.String(), strings.TrimLeft(s[i:], whitespace), true, nil
		default:
			b.WriteByte(c)
		}
		i++
	}
	if quote != 0 {
		return "", "", false, errWord
	}
	return b.String(), "", true, nil
}

// whitespace is systemd's WHITESPACE.
const whitespace = " \t\n\r"

// cunescapeOne decodes the escape after a backslash at the start of s, as
// systemd's cunescape_one(): the bytes it stands for and how many of s it
// took.
func cunescapeOne(s string) (string, int, error) {
	if s == "" {
		return "", 0, errWord
	}
	simple := map[byte]string{'a': "\a", 'b': "\b", 'f': "\f", 'n': "\n", 'r': "\r", 't': "\t", 'v': "\v", '\\': "\\", '"': "\"", '\'': "'", 's': " "}
	if r, ok := simple[s[0]]; ok {
		return r, 1, nil
	}
	hex := func(n int) (uint64, error) {
		if len(s) < 1+n {
			return 0, errWord
		}
		v, err := strconv.ParseUint(s[1:1+n], 16, 32)
		if err != nil {
			return 0, errWord
		}
		return v, nil
	}
	switch s[0] {
	case 'x':
		v, err := hex(2)
		if err != nil || v == 0 {
			return "", 0, errWord
		}
		return string([]byte{byte(v)}), 3, nil
	case 'u', 'U':
		n := 4
		if s[0] == 'U' {
			n = 8
		}
		v, err := hex(n)
		if err != nil || v == 0 || v > utf8.MaxRune {
			return "", 0, errWord
		}
		return string(rune(v)), 1 + n, nil
	case '0', '1', '2', '3', '4', '5', '6', '7':
		if len(s) < 3 || !isOctal(s) {
			return "", 0, errWord
		}
		v := (s[0]-'0')<<6 | (s[1]-'0')<<3 | (s[2] - '0')
		if v == 0 {
			return "", 0, errWord
		}
		return string([]byte{v}), 3, nil
	}
	return "", 0, errWord
}
