package unitfile

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/hostpath"
)

// QuadletDirs are where Podman's Quadlet generator looks for a rootful
// unit (.container, .volume...), highest precedence first; each
// directory's subdirectories are read after it (not *.d drop-in
// directories, nor /etc/containers/systemd/users, which is for rootless
// units).
var QuadletDirs = []string{"/run/containers/systemd", "/etc/containers/systemd", "/usr/share/containers/systemd"}

// quadletUsers is the rootless users' tree, which the rootful generator
// does not read.
const quadletUsers = "/etc/containers/systemd/users"

// maxQuadletDirs bounds the directories walked (Podman walks them all).
const maxQuadletDirs = 4096

// LoadQuadlet finds Quadlet unit name (NAME.container) as Podman's
// generator does at boot: the first directory of QuadletDirs (subtrees
// included) with a file of that name it can read, links followed; a file
// it cannot read is reported and the next one tried. Its drop-ins are
// not read: Quadlet merges them into whatever the unit is. On a root
// where /run is the running system's, /run/containers/systemd is read as
// it is.
func LoadQuadlet(r Root, name string) Unit {
	u := Unit{Name: name, Names: []string{name}}
	for _, d := range quadletSearch(r) {
		p := path.Join(d, name)
		if t, err := r.Readlink(p); err == nil {
			if !path.IsAbs(t) {
				t = d + "/" + t
			}
			if path.Clean(t) == "/dev/null" {
				// /dev/null at boot, whatever the root holds there.
				u.Fragment, u.Target = p, "/dev/null"
				u.Masked = u.From()
				return u
			}
		}
		st, err := r.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if lst, lerr := r.Lstat(p); lerr == nil && lst.Mode()&fs.ModeSymlink != 0 {
				u.Passed = append(u.Passed, Passed{File: p, Why: "a link that leads nowhere: Quadlet cannot read it and goes on"})
			}
			continue
		case err != nil:
			u.Passed = append(u.Passed, Passed{File: p, Why: fmt.Sprintf("%v: Quadlet cannot read it and goes on", err)})
			continue
		case !st.Mode().IsRegular() && st.Mode()&fs.ModeCharDevice == 0:
			u.Passed = append(u.Passed, Passed{File: p, Why: "is " + kind(st.Mode()) + ": Quadlet cannot read it and goes on"})
			continue
		}
		u.Fragment = p
		if t, err := r.Readlink(p); err == nil {
			u.Target = t
		}
		if st.Mode()&fs.ModeCharDevice != 0 || st.Size() == 0 {
			// Quadlet has no masks: an empty unit is one without
			// [Container], which it fails to generate a service of.
			u.Masked = u.From()
			return u
		}
		b, err := r.ReadFile(p)
		if err != nil {
			u.Passed = append(u.Passed, Passed{File: p, Why: fmt.Sprintf("cannot be read (%v): Quadlet goes on", err)})
			u.Fragment, u.Target = "", ""
			continue
		}
		parsed := Parse(p, b)
		if parsed.Problem != "" {
			u.Problem = parsed.Problem
			return u
		}
		u.Settings = parsed.Settings
		u.Sections = parsed.Sections
		return u
	}
	return u
}

// quadletSearch is the list of directories Quadlet reads, in order: each
// of QuadletDirs (resolved through links inside the root) followed by its
// subdirectories, depth first in name order, each read once.
func quadletSearch(r Root) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(p string, depth int)
	walk = func(p string, depth int) {
		if len(out) >= maxQuadletDirs || depth > 32 {
			return
		}
		rp, err := hostpath.Chase(r, p)
		if err != nil || seen[rp] || strings.HasSuffix(rp, ".d") || rp == quadletUsers || strings.HasPrefix(rp, quadletUsers+"/") {
			return
		}
		st, err := r.Stat(rp)
		if err != nil || !st.IsDir() {
			return
		}
		seen[rp] = true
		out = append(out, rp)
		ents, _ := r.ReadDir(rp)
		for _, e := range ents {
			walk(path.Join(rp, e.Name()), depth+1)
		}
	}
	for _, d := range QuadletDirs {
		walk(d, 0)
	}
	return slices.Clip(out)
}

// QuadletUnits are the Quadlet units with suffix (".container") the
// generator finds, by file name: each loaded as LoadQuadlet loads it,
// names with only files it passes over included.
func QuadletUnits(r Root, suffix string) map[string]Unit {
	var out map[string]Unit // nil when there is none
	for _, d := range quadletSearch(r) {
		ents, _ := r.ReadDir(d)
		for _, e := range ents {
			n := e.Name()
			if _, seen := out[n]; seen || !strings.HasSuffix(n, suffix) || n == suffix {
				continue
			}
			if out == nil {
				out = map[string]Unit{}
			}
			out[n] = LoadQuadlet(r, n)
		}
	}
	return out
}
