package hostpath

import (
	"errors"
	"fmt"
	"strings"
)

// unitNameMax is UNIT_NAME_MAX: a unit name has fewer bytes.
const unitNameMax = 256

// validUnitChars are the bytes a unit name keeps unescaped
// (VALID_CHARS, src/basic/unit-name.c); '-' and '\' are escaped anyway.
const validUnitChars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ:_."

// ErrNotNormalized: systemd makes no unit name of a path with a ".."
// component.
var ErrNotNormalized = errors.New("not a normalized path (a \"..\" component): systemd makes no unit of it")

// UnitName is the unit systemd names after path p with suffix (".mount",
// ".swap", ".automount"): systemd's unit_name_from_path(), as
// `systemd-escape --path --suffix` prints it. "/" is "-.mount"; "/tmp/",
// "//tmp" and "/tmp/." are all "tmp.mount"; a path with ".." has none.
func UnitName(p, suffix string) (string, error) {
	s := Simplify(p)
	var prefix string
	if s == "" || s == "/" {
		prefix = "-"
	} else {
		if !IsNormalized(s) {
			return "", ErrNotNormalized
		}
		prefix = escapeUnit(strings.TrimLeft(strings.TrimRight(s, "/"), "/"))
	}
	name := prefix + suffix
	if len(name) >= unitNameMax {
		return "", fmt.Errorf("unit name %s… is %d bytes, longer than systemd allows", name[:32], len(name))
	}
	return name, nil
}

// escapeUnit is systemd's unit_name_escape(): '/' becomes '-', a leading
// '.' and every byte outside validUnitChars becomes \xNN.
func escapeUnit(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '/':
			b.WriteByte('-')
		case i == 0 && c == '.' || !strings.ContainsRune(validUnitChars, rune(c)):
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
