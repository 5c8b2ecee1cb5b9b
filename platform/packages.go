package platform

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// DpkgStatus is dpkg's database of installed packages.
const DpkgStatus = "/var/lib/dpkg/status"

// maxDpkgStatus bounds the read: a desktop install's status file is a few
// MiB; one far larger is not a dpkg database to trust.
const maxDpkgStatus = 32 << 20

// readDpkgStatus is the root's dpkg database, read once per detection
// (the userland and the packages the tasks ask about both come from it);
// nil where there is none.
func readDpkgStatus(h *hostroot.Root) []byte {
	b, err := h.ReadFileLimit(DpkgStatus, maxDpkgStatus)
	if err != nil {
		return nil
	}
	return b
}

// detectPackages reads the installed version of each named package from
// dpkg's status file. Nothing in the root is run: the version is read,
// not asked of the program.
func (f *Facts) detectPackages(status []byte, names []string) {
	for _, n := range names {
		if v, ok := DpkgVersion(status, n); ok {
			if f.Packages == nil {
				f.Packages = map[string]string{}
			}
			f.Packages[n] = v
			f.Evidence = append(f.Evidence, fmt.Sprintf("package %s %s installed (%s)", n, v, DpkgStatus))
		}
	}
}

// dpkgStanzas are the fields of package name's stanzas in a dpkg status
// file (continuation lines left out): one, or one per architecture of a
// multi-arch package.
func dpkgStanzas(status []byte, name string) []map[string]string {
	var out []map[string]string
	for _, stanza := range bytes.Split(status, []byte("\n\n")) {
		fields := map[string]string{}
		for _, l := range strings.Split(string(stanza), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && !strings.HasPrefix(l, " ") {
				fields[k] = strings.TrimSpace(v)
			}
		}
		if fields["Package"] == name {
			out = append(out, fields)
		}
	}
	return out
}

// dpkgValue is a field's value, "" when it holds a control character
// (nothing read from a root goes into output unchecked).
func dpkgValue(fields map[string]string, key string) string {
	if v := fields[key]; !strings.ContainsFunc(v, isControl) {
		return v
	}
	return ""
}

// DpkgVersion is the version of package name in a dpkg status file, when
// it is installed ("install ok installed"; a package removed but not
// purged keeps a stanza with "deinstall ok config-files").
func DpkgVersion(status []byte, name string) (string, bool) {
	for _, fields := range dpkgStanzas(status, name) {
		if v := dpkgValue(fields, "Version"); v != "" && strings.HasSuffix(fields["Status"], " installed") {
			return v, true
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
