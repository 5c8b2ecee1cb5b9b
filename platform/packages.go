package platform

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/hostroot"
)

// DpkgStatus is dpkg's database of installed packages.
const DpkgStatus = "/var/lib/dpkg/status"

// maxDpkgStatus bounds the read: a desktop install's status file is a few
// MiB; one far larger is not a dpkg database to trust.
const maxDpkgStatus = 32 << 20

// detectPackages reads the installed version of each named package from
// dpkg's status file. Nothing in the root is run: the version is read,
// not asked of the program.
func (f *Facts) detectPackages(h *hostroot.Root, names []string) {
	if len(names) == 0 {
		return
	}
	b, err := h.ReadFileLimit(DpkgStatus, maxDpkgStatus)
	if err != nil {
		return
	}
	for _, n := range names {
		if v, ok := DpkgVersion(b, n); ok {
			if f.Packages == nil {
				f.Packages = map[string]string{}
			}
			f.Packages[n] = v
			f.Evidence = append(f.Evidence, fmt.Sprintf("package %s %s installed (%s)", n, v, DpkgStatus))
		}
	}
}

// DpkgVersion is the version of package name in a dpkg status file, when
// it is installed ("install ok installed"; a package removed but not
// purged keeps a stanza with "deinstall ok config-files").
func DpkgVersion(status []byte, name string) (string, bool) {
	for _, stanza := range bytes.Split(status, []byte("\n\n")) {
		var pkg, st, ver string
		for _, l := range strings.Split(string(stanza), "\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok || strings.HasPrefix(l, " ") {
				continue
			}
			switch k {
			case "Package":
				pkg = strings.TrimSpace(v)
			case "Status":
				st = strings.TrimSpace(v)
			case "Version":
				ver = strings.TrimSpace(v)
			}
		}
		if pkg == name && strings.HasSuffix(st, " installed") && ver != "" && !strings.ContainsFunc(ver, isControl) {
			return ver, true
		}
	}
	return "", false
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// maxGlob bounds how many matches one pattern lists.
const maxGlob = 1024

// detectGlobs lists the files matching each pattern, component by
// component through the root (never following a link out of it).
func (f *Facts) detectGlobs(h *hostroot.Root, globs []string) {
	for _, g := range globs {
		m := glob(h, g)
		if f.Globbed == nil {
			f.Globbed = map[string][]string{}
		}
		f.Globbed[g] = m
	}
}

func glob(h *hostroot.Root, pattern string) []string {
	dirs := []string{"/"}
	parts := strings.Split(strings.Trim(pattern, "/"), "/")
	for i, part := range parts {
		var next []string
		for _, d := range dirs {
			if !strings.ContainsAny(part, "*?[") {
				p := path.Join(d, part)
				if (i == len(parts)-1 && h.Exists(p)) || i < len(parts)-1 {
					next = append(next, p)
				}
				continue
			}
			ents, err := h.ReadDir(d)
			if err != nil {
				continue
			}
			for _, e := range ents {
				if ok, _ := path.Match(part, e.Name()); ok && len(next) < maxGlob {
					next = append(next, path.Join(d, e.Name()))
				}
			}
		}
		dirs = next
	}
	slices.Sort(dirs)
	return dirs
}
