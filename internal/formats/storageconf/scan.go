package storageconf

import (
	"fmt"
	"strings"
)

// key is where one key of the document is written.
type key struct {
	line int
	// lineStart is the offset of its line; valStart, valEnd its value's.
	lineStart, valStart, valEnd int
	// plain: a bare or quoted key directly in its table's [header], its
	// value a one-line string (value, unescaped when it has no escapes).
	plain bool
	value string
	// header is how many parts of its path its [table] header gave.
	header int
}

// doc is what the scanner found: every key by its full path (joined with
// NUL), and for each [table] header the offset just after its line.
type doc struct {
	keys   map[string]key
	tables map[string]int
	// inline lists the keys whose value is an inline table or array, by
	// path, with their line: a table below one cannot be given a header.
	inline map[string]int
	// lines has, for every path a header or key writes (its prefixes
	// too), the first line that writes it.
	lines map[string]int
}

// wrote records the line of path and of each of its prefixes.
func (d *doc) wrote(path []string, line int) {
	for i := 1; i <= len(path); i++ {
		id := strings.Join(path[:i], "\x00")
		if _, ok := d.lines[id]; !ok {
			d.lines[id] = line
		}
	}
}

// inlineAbove refuses a key whose table, or a table above it, is written
// as an inline table or a dotted key's value: a new key cannot go there.
func (d *doc) inlineAbove(path []string) error {
	for i := 1; i < len(path); i++ {
		if line, ok := d.inline[strings.Join(path[:i], "\x00")]; ok {
			return fmt.Errorf("line %d: %s is written as an inline value; ezedge-host adds keys only under a [%s] header", line, strings.Join(path[:i], "."), strings.Join(path[:len(path)-1], "."))
		}
		if k, ok := d.keys[strings.Join(path[:i], "\x00")]; ok {
			return fmt.Errorf("line %d: %s is not a table", k.line, strings.Join(path[:i], "."))
		}
	}
	// A dotted key below the table defines it implicitly; a header for it
	// would define it twice.
	prefix := strings.Join(path[:len(path)-1], "\x00") + "\x00"
	if _, ok := d.tables[strings.Join(path[:len(path)-1], "\x00")]; !ok {
		for id, k := range d.keys {
			if strings.HasPrefix(id, prefix) && k.header < len(path)-1 {
				return fmt.Errorf("line %d: %s is defined by dotted keys; ezedge-host adds keys only under a [%s] header", k.line, strings.Join(path[:len(path)-1], "."), strings.Join(path[:len(path)-1], "."))
			}
		}
	}
	return nil
}

// scanner walks a TOML document that BurntSushi/toml has already
// accepted: it need only find where things are, not judge them.
type scanner struct {
	b    []byte
	i    int
	line int
}

func (s *scanner) errorf(format string, a ...any) error {
	return fmt.Errorf("line %d: %s", s.line, fmt.Sprintf(format, a...))
}

func (s *scanner) peek(str string) bool { return strings.HasPrefix(string(s.b[s.i:]), str) }

// space skips blanks on the line.
func (s *scanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t') {
		s.i++
	}
}

// rest skips blanks and a comment to the end of the line, and the newline.
func (s *scanner) rest() error {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '#' {
		for s.i < len(s.b) && s.b[s.i] != '\n' {
			s.i++
		}
	}
	if s.peek("\r\n") {
		s.i++
	}
	if s.i < len(s.b) {
		if s.b[s.i] != '\n' {
			return s.errorf("unexpected %q after a value", s.b[s.i])
		}
		s.i++
		s.line++
	}
	return nil
}

func scan(b []byte) (*doc, error) {
	d := &doc{keys: map[string]key{}, tables: map[string]int{}, inline: map[string]int{}, lines: map[string]int{}}
	s := &scanner{b: b, line: 1}
	var table []string
	inArray := false
	for s.i < len(b) {
		start := s.i
		s.space()
		switch {
		case s.i >= len(b):
			continue
		case b[s.i] == '#' || b[s.i] == '\n' || s.peek("\r\n"):
			if err := s.rest(); err != nil {
				return nil, err
			}
			continue
		case b[s.i] == '[':
			hline := s.line
			arr := s.peek("[[")
			s.i++
			if arr {
				s.i++
			}
			s.space()
			parts, _, err := s.key()
			if err != nil {
				return nil, err
			}
			s.space()
			closing := "]"
			if arr {
				closing = "]]"
			}
			if !s.peek(closing) {
				return nil, s.errorf("table header not closed")
			}
			s.i += len(closing)
			if err := s.rest(); err != nil {
				return nil, err
			}
			table, inArray = parts, arr
			d.wrote(parts, hline)
			if !arr {
				d.tables[strings.Join(parts, "\x00")] = s.i
			}
			continue
		}
		line := s.line
		parts, quoted, err := s.key()
		if err != nil {
			return nil, err
		}
		s.space()
		if !s.peek("=") {
			return nil, s.errorf("key without =")
		}
		s.i++
		s.space()
		vs := s.i
		val, str, err := s.value()
		if err != nil {
			return nil, err
		}
		ve := s.i
		multi := strings.Contains(string(b[vs:ve]), "\n")
		if err := s.rest(); err != nil {
			return nil, err
		}
		if inArray {
			// Keys of [[array]] tables are none this package edits.
			continue
		}
		full := append(append([]string{}, table...), parts...)
		d.wrote(full, line)
		id := strings.Join(full, "\x00")
		d.keys[id] = key{line: line, lineStart: start, valStart: vs, valEnd: ve, plain: len(parts) == 1 && str && !multi && !quoted, value: val, header: len(table)}
		if c := b[vs]; c == '{' || c == '[' {
			d.inline[id] = line
		}
	}
	return d, nil
}

// key reads a dotted key; quoted says a part had escapes (its text is then
// not compared with anything).
func (s *scanner) key() (parts []string, quoted bool, err error) {
	for {
		s.space()
		if s.i >= len(s.b) {
			return nil, false, s.errorf("key expected")
		}
		switch c := s.b[s.i]; {
		case c == '"':
			v, esc, err := s.basic()
			if err != nil {
				return nil, false, err
			}
			quoted = quoted || esc
			parts = append(parts, v)
		case c == '\'':
			j := strings.IndexByte(string(s.b[s.i+1:]), '\'')
			if j < 0 {
				return nil, false, s.errorf("quoted key not closed")
			}
			parts = append(parts, string(s.b[s.i+1:s.i+1+j]))
			s.i += j + 2
		default:
			j := s.i
			for j < len(s.b) && (isBare(s.b[j])) {
				j++
			}
			if j == s.i {
				return nil, false, s.errorf("key expected, not %q", c)
			}
			parts = append(parts, string(s.b[s.i:j]))
			s.i = j
		}
		s.space()
		if !s.peek(".") {
			return parts, quoted, nil
		}
		s.i++
	}
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// basic reads a one-line basic string; esc says it had escapes (its
// text is then returned raw).
func (s *scanner) basic() (string, bool, error) {
	esc := false
	for j := s.i + 1; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			esc = true
			j++
		case '\n':
			return "", false, s.errorf("string not closed on its line")
		case '"':
			v := string(s.b[s.i+1 : j])
			s.i = j + 1
			return v, esc, nil
		}
	}
	return "", false, s.errorf("string not closed")
}

// value skips one value; str says it is a one-line string without escapes,
// its text in v.
func (s *scanner) value() (v string, str bool, err error) {
	if s.i >= len(s.b) {
		return "", false, s.errorf("value expected")
	}
	switch {
	case s.peek(`"""`), s.peek(`'''`):
		q := string(s.b[s.i : s.i+3])
		j := s.i + 3
		for ; j < len(s.b); j++ {
			if s.b[j] == '\\' && q == `"""` {
				j++
				continue
			}
			if s.b[j] == '\n' {
				s.line++
			}
			if strings.HasPrefix(string(s.b[j:]), q) {
				end := j + 3
				// Up to two quotes may close the string's content.
				for k := 0; k < 2 && end < len(s.b) && s.b[end] == q[0]; k++ {
					end++
				}
				s.i = end
				return "", false, nil
			}
		}
		return "", false, s.errorf("multi-line string not closed")
	case s.b[s.i] == '"':
		v, esc, err := s.basic()
		return v, !esc, err
	case s.b[s.i] == '\'':
		j := strings.IndexAny(string(s.b[s.i+1:]), "'\n")
		if j < 0 || s.b[s.i+1+j] != '\'' {
			return "", false, s.errorf("string not closed on its line")
		}
		v = string(s.b[s.i+1 : s.i+1+j])
		s.i += j + 2
		return v, true, nil
	case s.b[s.i] == '[' || s.b[s.i] == '{':
		depth := 0
		for s.i < len(s.b) {
			switch c := s.b[s.i]; {
			case c == '[' || c == '{':
				depth++
				s.i++
			case c == ']' || c == '}':
				depth--
				s.i++
				if depth == 0 {
					return "", false, nil
				}
			case c == '"' || c == '\'':
				if _, _, err := s.value(); err != nil {
					return "", false, err
				}
			case c == '#':
				for s.i < len(s.b) && s.b[s.i] != '\n' {
					s.i++
				}
			case c == '\n':
				s.line++
				s.i++
			default:
				s.i++
			}
		}
		return "", false, s.errorf("array or inline table not closed")
	}
	j := s.i
	for j < len(s.b) && !strings.ContainsRune(" \t\r\n#", rune(s.b[j])) {
		j++
	}
	s.i = j
	return "", false, nil
}
