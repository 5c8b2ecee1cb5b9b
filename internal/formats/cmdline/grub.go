package cmdline

import (
	"fmt"
	"regexp"
	"strings"
)

var varRe = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=`)

// EvalGrub evaluates GRUB defaults files the way grub-mkconfig sources them,
// in order (/etc/default/grub, then each grub.d drop-in), for the simple
// shell they use: NAME=value assignments with double, single or no quotes
// and $NAME / ${NAME} expansion. It returns the variables it set. A line
// that assigns a GRUB_CMDLINE variable in a way this cannot follow
// (command substitution) is an error naming the file and line.
func EvalGrub(files []string, contents [][]byte) (map[string]string, error) {
	vars := map[string]string{}
	for fi, data := range contents {
		for n, raw := range strings.Split(string(data), "\n") {
			l := strings.TrimSpace(raw)
			l = strings.TrimPrefix(l, "export ")
			m := varRe.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			val, err := shellWord(l[len(m[0]):], vars)
			if err != nil {
				if strings.HasPrefix(m[1], "GRUB_CMDLINE") {
					return nil, fmt.Errorf("%s:%d: %s: %w", files[fi], n+1, m[1], err)
				}
				continue
			}
			vars[m[1]] = val
		}
	}
	return vars, nil
}

// Kernel is the command line GRUB gives the default entry.
func Kernel(vars map[string]string) string {
	return strings.TrimSpace(vars["GRUB_CMDLINE_LINUX"] + " " + vars["GRUB_CMDLINE_LINUX_DEFAULT"])
}

// shellWord evaluates one shell word (up to unquoted whitespace, ; or #).
func shellWord(s string, vars map[string]string) (string, error) {
	var b strings.Builder
	i := 0
	expand := func(j int) (int, error) {
		// s[j] == '$'
		if j+1 >= len(s) {
			b.WriteByte('$')
			return j + 1, nil
		}
		switch c := s[j+1]; {
		case c == '(' || c == '`':
			return 0, fmt.Errorf("command substitution")
		case c == '{':
			end := strings.IndexByte(s[j:], '}')
			if end < 0 {
				return 0, fmt.Errorf("unterminated ${")
			}
			b.WriteString(vars[s[j+2:j+end]])
			return j + end + 1, nil
		case c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
			k := j + 1
			for k < len(s) && (s[k] == '_' || s[k] >= 'A' && s[k] <= 'Z' || s[k] >= 'a' && s[k] <= 'z' || s[k] >= '0' && s[k] <= '9') {
				k++
			}
			b.WriteString(vars[s[j+1:k]])
			return k, nil
		}
		b.WriteByte('$')
		return j + 1, nil
	}
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == ';' || c == '#':
			return b.String(), nil
		case c == '`':
			return "", fmt.Errorf("command substitution")
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return "", fmt.Errorf("unterminated single quote")
			}
			b.WriteString(s[i+1 : i+1+end])
			i += end + 2
		case c == '"':
			i++
			for {
				if i >= len(s) {
					return "", fmt.Errorf("unterminated double quote")
				}
				c := s[i]
				if c == '"' {
					i++
					break
				}
				switch {
				case c == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0:
					b.WriteByte(s[i+1])
					i += 2
				case c == '`':
					return "", fmt.Errorf("command substitution")
				case c == '$':
					j, err := expand(i)
					if err != nil {
						return "", err
					}
					i = j
				default:
					b.WriteByte(c)
					i++
				}
			}
		case c == '\\' && i+1 < len(s):
			b.WriteByte(s[i+1])
			i += 2
		case c == '$':
			j, err := expand(i)
			if err != nil {
				return "", err
			}
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}
