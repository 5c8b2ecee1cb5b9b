package tasks

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/hostpath"
	"github.com/ezansiedgeai/ezedge-host/internal/formats/unitfile"
)

// A drop-in is planned only onto the unit it was written for. The unit is
// read the way systemd loads it at the next boot (internal/formats/
// unitfile): the first file of the unit path by that name, a link to a
// file outside it, a mask, a unit a generator makes, and every drop-in
// already there. These say, naming the file and line, why a unit is not
// the one a drop-in was written for; "" when it is.

// passedOver names the first file at u's name that systemd passes over
// (a directory, a FIFO, a link it refuses): someone put it there meaning
// something systemd does not do, so no drop-in is built on a guess.
func passedOver(u unitfile.Unit) string {
	for _, p := range u.Passed {
		if !p.Same {
			return p.String()
		}
	}
	return ""
}

// unitValue is u's setting of section/key as systemd uses it, ours left
// out: the last assignment, "%%" read as '%' (a specifier that depends on
// the host is kept, so it matches nothing). The setting is returned to
// name its file and line; ok is false when the key is unset.
func unitValue(u unitfile.Unit, section, key, ours string) (string, unitfile.Setting, bool) {
	s, ok := u.Last(section, key, ours)
	return strings.ReplaceAll(s.Value, "%%", "%"), s, ok
}

// wrongTmpMount says why u, tmp.mount as systemd loads it, is not the
// tmpfs tmp-tmpfs's drop-in (mode=, size= in Options=) was written for:
// another file system would refuse those options and /tmp would fail to
// mount at boot. Where= other than /tmp makes systemd refuse the unit.
func wrongTmpMount(u unitfile.Unit, ours string) string {
	from := u.From()
	if u.Generated != nil {
		return "tmp.mount is made by " + u.Generated.By + ", not systemd's tmpfs unit"
	}
	if w, s, ok := unitValue(u, "Mount", "Where", ours); ok {
		if p := hostpath.Read(hostpath.UnitSetting, w); p.OK() && p.Path != "/tmp" {
			return fmt.Sprintf("%s line %d sets Where=%s: systemd refuses tmp.mount (its name says /tmp)", s.File, s.Line, s.Value)
		}
	}
	for _, k := range []string{"Type", "What"} {
		v, s, ok := unitValue(u, "Mount", k, ours)
		switch {
		case !ok && s.File != "":
			return fmt.Sprintf("%s line %d empties %s=: tmp.mount is then no tmpfs, and the drop-in's tmpfs options (mode=, size=) would make /tmp fail to mount", s.File, s.Line, k)
		case !ok:
			return fmt.Sprintf("tmp.mount (%s) sets no %s=: it is not systemd's tmpfs unit the drop-in's options (mode=, size=) are for", from, k)
		case v != "tmpfs":
			return fmt.Sprintf("%s line %d sets %s=%s: tmp.mount is not a tmpfs; the drop-in's tmpfs options (mode=, size=) would make /tmp fail to mount at boot", s.File, s.Line, k, s.Value)
		}
	}
	return ""
}

// laterDropIns warns of each drop-in read after ours that sets one of
// keys (in section): it wins over ours.
func laterDropIns(u unitfile.Unit, ours, section string, keys ...string) []string {
	var out []string
	for _, s := range u.Settings {
		if s.File == ours || s.Section != section || path.Base(s.File) <= path.Base(ours) || !slices.Contains(u.DropIns, s.File) {
			continue
		}
		for _, k := range keys {
			if s.Key == k {
				out = append(out, fmt.Sprintf("%s line %d sets %s=%s and is read after %s: it wins over ours", s.File, s.Line, s.Key, s.Value, ours))
			}
		}
	}
	return out
}
