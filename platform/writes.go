package platform

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/hostconf"
	"github.com/ezansiedgeai/ezedge-host/internal/formats/unitfile"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// Writes are the facts of the tasks that spare an SD card writes: the
// static mounts, how /tmp is mounted, the journal's configuration.
type Writes struct {
	// Fstab is /etc/fstab's bytes; FstabExists whether there is one, and
	// FstabProblem why it cannot be read (a link out of /etc, a
	// directory, too large).
	Fstab        []byte `json:"-"`
	FstabExists  bool   `json:"fstab"`
	FstabProblem string `json:"fstab_problem,omitempty"`
	// FstabMounts are its lines as systemd-fstab-generator reads them at
	// boot, links in the mount points followed inside the root.
	FstabMounts []hostconf.FstabMount `json:"-"`
	// RootOptions are the mount options / has now (/proc/mounts); "" on an
	// image root.
	RootOptions string `json:"root_options,omitempty"`
	Tmp         Tmp    `json:"tmp"`
	// Journald is every [Journal] setting, in the order journald reads
	// them; JournaldUnit systemd-journald.service, which reads them.
	Journald     []hostconf.JournaldSetting `json:"-"`
	JournaldUnit unitfile.Unit              `json:"-"`
}

// Tmp is how /tmp is mounted, now and at boot.
type Tmp struct {
	// Live: /tmp is a tmpfs now (/proc/mounts).
	Live bool `json:"tmpfs_now"`
	// Symlink: /tmp is a symbolic link (tmp.mount does not mount over one).
	Symlink bool `json:"symlink,omitempty"`
	// Unit is where the tmp.mount systemd loads at the next boot comes
	// from (/usr/lib/systemd/system on most distributions, trixie
	// included; an administrator's in /etc; ours), "" when there is none
	// or it is masked; Shared the copy Debian up to bookworm ships
	// outside the unit path for an administrator to copy in.
	Unit   string `json:"unit,omitempty"`
	Shared string `json:"shared,omitempty"`
	// Etc is the first line of /etc/systemd/system/tmp.mount ("" none):
	// whether it is ours (the tasks' Header) or someone else's copy.
	Etc string `json:"etc_unit,omitempty"`
	// Static is the link that enables tmp.mount in a vendor directory
	// (Debian trixie: /usr/lib/systemd/system/local-fs.target.wants).
	Static string `json:"static,omitempty"`
	// Loaded is tmp.mount as systemd loads it at the next boot, the unit
	// systemd-fstab-generator makes of an /etc/fstab line included.
	Loaded unitfile.Unit `json:"-"`
}

// SharedTmpMount is where Debian up to bookworm ships tmp.mount outside
// the unit path.
const SharedTmpMount = "/usr/share/systemd/tmp.mount"

func (f *Facts) detectWrites(h *hostroot.Root) {
	w := &f.Writes
	w.FstabExists, w.Fstab, w.FstabProblem = readFstab(h)
	switch {
	case w.FstabProblem != "":
		f.Evidence = append(f.Evidence, "fstab: "+w.FstabProblem)
	case !w.FstabExists:
		f.Evidence = append(f.Evidence, "fstab: no /etc/fstab")
	default:
		w.FstabMounts = hostconf.FstabMounts(h, w.Fstab)
		f.Evidence = append(f.Evidence, fmt.Sprintf("fstab: %d mount lines in /etc/fstab", len(w.FstabMounts)))
	}
	if mounts, err := h.ReadFile("/proc/mounts"); err == nil {
		for _, m := range ProcMounts(mounts) {
			switch {
			case m.Dir == "/":
				w.RootOptions = m.Options
			case m.Dir == "/tmp" && m.Type == "tmpfs":
				w.Tmp.Live = true
			}
		}
		if w.Tmp.Live {
			f.Evidence = append(f.Evidence, "tmp: /tmp is a tmpfs now (/proc/mounts)")
		}
	}
	if st, err := h.Lstat("/tmp"); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		w.Tmp.Symlink = true
	}
	for _, d := range []string{"/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"} {
		if l := d + "/local-fs.target.wants/tmp.mount"; w.Tmp.Static == "" && h.Exists(l) {
			w.Tmp.Static = l
		}
	}
	w.Tmp.Loaded = unitfile.Load(h, "tmp.mount", FstabUnits(w.FstabMounts)...)
	if l := w.Tmp.Loaded; l.Masked == "" && l.Problem == "" && l.Exists() {
		w.Tmp.Unit = l.From()
	}
	if h.Exists(SharedTmpMount) {
		w.Tmp.Shared = SharedTmpMount
	}
	if b, err := h.ReadPrefix("/etc/systemd/system/tmp.mount", 256); err == nil {
		w.Tmp.Etc, _, _ = strings.Cut(string(b), "\n")
		if w.Tmp.Etc == "" {
			w.Tmp.Etc = "(empty first line)"
		}
	}
	if w.Tmp.Static != "" {
		f.Evidence = append(f.Evidence, "tmp: tmp.mount is enabled by the distribution ("+w.Tmp.Static+")")
	}
	w.Journald = hostconf.ReadJournald(h)
	w.JournaldUnit = unitfile.Load(h, "systemd-journald.service")
}

// FstabUnits are the mount units systemd-fstab-generator makes of fstab's
// lines at boot (the first line wins where two make one unit, as the
// generator cannot write the second).
func FstabUnits(mounts []hostconf.FstabMount) []unitfile.Generated {
	var out []unitfile.Generated
	seen := map[string]bool{}
	for _, m := range mounts {
		if m.Unit == "" || seen[m.Unit] {
			continue
		}
		seen[m.Unit] = true
		file := fmt.Sprintf("%s line %d", hostconf.FstabPath, m.Line)
		set := func(k, v string) unitfile.Setting {
			return unitfile.Setting{File: file, Line: m.Line, Section: "Mount", Key: k, Value: v}
		}
		g := unitfile.Generated{Name: m.Unit, By: "systemd-fstab-generator, from " + file,
			Settings: []unitfile.Setting{set("What", m.What), set("Where", m.Where.Path)}}
		if m.Type != "" && m.Type != "auto" {
			g.Settings = append(g.Settings, set("Type", m.Type))
		}
		if m.Options != "" {
			g.Settings = append(g.Settings, set("Options", m.Options))
		}
		out = append(out, g)
	}
	return out
}

// readFstab reads /etc/fstab as the edit of it will: followed through
// links, but only where it resolves inside /etc.
func readFstab(h *hostroot.Root) (exists bool, data []byte, problem string) {
	p := hostconf.FstabPath
	if _, err := h.Lstat(p); err != nil {
		return false, nil, ""
	}
	rp, err := h.Resolve(p)
	if err != nil {
		return true, nil, fmt.Sprintf("%s: %v", p, err)
	}
	etc, err := h.Resolve("/etc")
	if err != nil {
		return true, nil, fmt.Sprintf("%s: %v", p, err)
	}
	if !strings.HasPrefix(rp, etc+"/") {
		return true, nil, fmt.Sprintf("%s: refused: it resolves to /%s, outside /etc", p, rp)
	}
	b, err := h.ReadFile(p)
	if err != nil {
		return true, nil, err.Error()
	}
	return true, b, ""
}
