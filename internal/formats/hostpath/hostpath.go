// Package hostpath reads a path written in a host file the way the program
// that consumes the file reads it. Every reader has its own rules: glibc's
// getmntent, which systemd-fstab-generator reads /etc/fstab with, decodes
// four escapes and libmount decodes every octal one; systemd simplifies
// "//", "/./" and trailing slashes away but refuses ".." in a unit's
// Where=; the fstab generator then follows symbolic links in the mount
// point; containers/storage cleans graphroot lexically. Comparing the text
// as written ("/tmp/" with "/tmp") lets a line mean to its program what it
// does not mean to ezedge-host, so every path read from a host file goes
// through Read (and In, for readers that follow links) before it is
// compared or used.
//
// The rules follow systemd 252 (Debian bookworm; src/basic/path-util.c,
// unit-name.c, chase-symlinks.c, src/fstab-generator), glibc's
// misc/mntent_r.c, util-linux's lib/mangle.c and containers/storage's
// store.go; the tests check them against the systemd binaries.
package hostpath

import (
	"fmt"
	"path"
	"strings"
)

// Reader is a program that reads paths out of its configuration files.
type Reader int

const (
	// FstabGenerator is systemd-fstab-generator (systemd 252 to 258)
	// reading an fstab mount point: glibc's getmntent decodes \040, \011,
	// \012, \134 and \\ and nothing else; a field without a '/' is no
	// path (ignored); the rest is path_simplify'd, and In follows its
	// symbolic links inside the root (CHASE_NONEXISTENT).
	FstabGenerator Reader = iota + 1
	// Libmount is mount(8), findmnt and systemd 259's generator reading
	// an fstab field: every \NNN of three octal digits is decoded (to the
	// byte it makes modulo 256; a NUL ends the string).
	Libmount
	// Kernel is a path the kernel wrote into /proc/mounts or /proc/swaps,
	// with blank, tab, newline and backslash written as \NNN.
	Kernel
	// UnitSetting is a path-valued setting of a systemd unit file
	// (Where=, a mount's What= when it is a path): path_simplify'd, and
	// ignored unless absolute and normalized (no ".." component).
	UnitSetting
	// Tmpfiles is the path of a tmpfiles.d line, unquoted: %% is a '%',
	// another specifier depends on the host; it must be absolute, is
	// path_simplify'd, and with a ".." component is refused when acted on.
	Tmpfiles
	// UdevAttr is the attribute of udev's ATTR{...}: a path under the
	// device's sysfs directory, which the kernel resolves ("//" and "."
	// components are nothing to it).
	UdevAttr
	// Exec is a program path the kernel resolves when it is run
	// (storage.conf's mount_program): "//" and "." components are
	// nothing, a trailing slash is an error, ".." goes through links.
	Exec
	// ContainersStorage is storage.conf's graphroot: containers/storage
	// makes it filepath.Abs, which cleans it lexically; a relative one
	// would depend on Podman's working directory.
	ContainersStorage
)

var readerNames = map[Reader]string{
	FstabGenerator:    "systemd-fstab-generator",
	Libmount:          "libmount",
	Kernel:            "the kernel",
	UnitSetting:       "systemd",
	Tmpfiles:          "systemd-tmpfiles",
	UdevAttr:          "udev",
	Exec:              "the kernel",
	ContainersStorage: "containers/storage",
}

func (r Reader) String() string {
	if n, ok := readerNames[r]; ok {
		return n
	}
	return fmt.Sprintf("Reader(%d)", int(r))
}

// Path is a path read from a host file as one reader reads it.
type Path struct {
	Reader Reader
	// Raw is the path as written in the file.
	Raw string
	// Path is what the reader makes of it: the file it uses. It is ""
	// when the reader refuses or ignores the path.
	Path string
	// Refused says why the reader refuses or ignores it.
	Refused string
}

// OK reports whether the reader uses the path.
func (p Path) OK() bool { return p.Refused == "" }

// Is reports whether the reader reads p as want, a clean absolute path.
func (p Path) Is(want string) bool { return p.OK() && p.Path == want }

func (p Path) String() string {
	if !p.OK() {
		return fmt.Sprintf("%q (%s: %s)", p.Raw, p.Reader, p.Refused)
	}
	if p.Raw == p.Path {
		return p.Path
	}
	return fmt.Sprintf("%q (%s reads %s)", p.Raw, p.Reader, p.Path)
}

func refuse(r Reader, raw, why string) Path { return Path{Reader: r, Raw: raw, Refused: why} }

// Read is raw, written in a file r reads, as r reads it. Links are not
// followed: see In for the readers that do.
func Read(r Reader, raw string) Path {
	p := Path{Reader: r, Raw: raw}
	switch r {
	case FstabGenerator:
		p.Path = getmntentDecode(raw)
		if !strings.Contains(p.Path, "/") {
			return refuse(r, raw, "not a path (no '/'), ignored")
		}
		p.Path = Simplify(p.Path)
	case Libmount:
		p.Path = Simplify(octalDecode(raw))
		if p.Path == "" || p.Path == "." {
			return refuse(r, raw, "empty")
		}
	case Kernel:
		p.Path = octalDecode(raw)
	case UnitSetting:
		if !path.IsAbs(raw) {
			return refuse(r, raw, "not absolute, ignored")
		}
		p.Path = Simplify(raw)
		if !IsNormalized(p.Path) {
			return refuse(r, raw, "not normalized (a \"..\" component), ignored")
		}
	case Tmpfiles:
		s, err := tmpfilesSpecifiers(raw)
		if err != nil {
			return refuse(r, raw, err.Error())
		}
		if !path.IsAbs(s) {
			return refuse(r, raw, "not absolute, the line is ignored")
		}
		p.Path = Simplify(s)
		if !IsNormalized(p.Path) {
			return refuse(r, raw, "not normalized (a \"..\" component): systemd-tmpfiles refuses to act on it")
		}
	case UdevAttr:
		p.Path = kernelLexical(raw, true)
	case Exec:
		if !path.IsAbs(raw) {
			return refuse(r, raw, "not absolute: looked up relative to the working directory")
		}
		p.Path = kernelLexical(raw, false)
	case ContainersStorage:
		if !path.IsAbs(raw) {
			return refuse(r, raw, "not absolute: it would depend on Podman's working directory")
		}
		p.Path = path.Clean(raw)
	default:
		return refuse(r, raw, "unknown reader")
	}
	return p
}

// kernelLexical collapses what the kernel's path walk treats as nothing
// ("//", "/./"); ".." stays (it goes through links), and a trailing slash
// stays unless trim (it makes a file not found). The result is what two
// spellings of one file share.
func kernelLexical(s string, trim bool) string {
	abs := strings.HasPrefix(s, "/")
	var parts []string
	for _, c := range strings.Split(s, "/") {
		if c != "" && c != "." {
			parts = append(parts, c)
		}
	}
	out := strings.Join(parts, "/")
	if abs {
		out = "/" + out
	}
	if !trim && out != "/" && (strings.HasSuffix(s, "/") || strings.HasSuffix(s, "/.")) {
		out += "/"
	}
	return out
}

// tmpfilesSpecifiers expands the specifiers of a tmpfiles.d path that do
// not depend on the host (%%); a path with another one is refused: what
// it names differs from host to host (%m, %b, %H...).
func tmpfilesSpecifiers(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '%' {
			b.WriteByte('%')
			i++
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("a lone %% at the end")
		}
		return "", fmt.Errorf("specifier %%%c: the path depends on the host it runs on", s[i+1])
	}
	return b.String(), nil
}
