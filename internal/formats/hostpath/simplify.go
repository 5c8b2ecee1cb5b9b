package hostpath

import "strings"

// nameMax is NAME_MAX: systemd refuses a longer component.
const nameMax = 255

// pathMax is PATH_MAX, the longest path systemd calls valid.
const pathMax = 4096

// skipSlashOrDot skips what systemd's skip_slash_or_dot() skips: slashes
// and "./" sequences.
func skipSlashOrDot(s string) string {
	for s != "" {
		switch {
		case s[0] == '/':
			s = s[1:]
		case strings.HasPrefix(s, "./"):
			s = s[1:]
		default:
			return s
		}
	}
	return s
}

// firstComponent is systemd's path_find_first_component() accepting "..":
// the first component of *p and its length, *p moved past it and the
// slashes and dots after it; 0 at the end; -1 for a component longer than
// NAME_MAX (*p is left where it was).
func firstComponent(p *string) (string, int) {
	first := skipSlashOrDot(*p)
	if first == "" {
		*p = first
		return "", 0
	}
	if first == "." {
		*p = ""
		return "", 0
	}
	end := strings.IndexByte(first, '/')
	if end < 0 {
		end = len(first)
	}
	if end > nameMax {
		return "", -1
	}
	next := skipSlashOrDot(first[end:])
	if next == "." {
		next = ""
	}
	*p = next
	return first[:end], end
}

// Simplify is systemd's path_simplify(): repeated slashes, "." components
// and trailing slashes go; ".." stays (it cannot be resolved without the
// file system). A path with a component longer than NAME_MAX is simplified
// up to it and kept as written from there, as systemd does. "" stays "";
// a relative path that simplifies to nothing is ".".
func Simplify(s string) string {
	if s == "" {
		return s
	}
	var b strings.Builder
	rest := s
	if s[0] == '/' {
		b.WriteByte('/')
		rest = s[1:]
	}
	add := false
	for {
		c, n := firstComponent(&rest)
		if n == 0 {
			break
		}
		if add {
			b.WriteByte('/')
		}
		if n < 0 {
			b.WriteString(rest)
			return b.String()
		}
		b.WriteString(c)
		add = true
	}
	if b.Len() == 0 {
		return "."
	}
	return b.String()
}

// isSafe is systemd's path_is_safe(): valid (not empty, not over PATH_MAX,
// no component over NAME_MAX) and no ".." component.
func isSafe(s string) bool {
	if s == "" || len(s) >= pathMax {
		return false
	}
	rest := s
	for {
		c, n := firstComponent(&rest)
		switch {
		case n == 0:
			return true
		case n < 0 || c == "..":
			return false
		}
	}
}

// IsNormalized is systemd's path_is_normalized(): safe, and without "."
// components or repeated slashes ("/a/" is normalized, "/a/." is not).
func IsNormalized(s string) bool {
	if !isSafe(s) {
		return false
	}
	switch {
	case s == "." || strings.HasPrefix(s, "./") || strings.HasSuffix(s, "/.") ||
		strings.Contains(s, "/./") || strings.Contains(s, "//"):
		return false
	}
	return true
}
