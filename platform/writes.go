package platform

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/hostconf"
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
	// RootOptions are the mount options / has now (/proc/mounts); "" on an
	// image root.
	RootOptions string `json:"root_options,omitempty"`
	Tmp         Tmp    `json:"tmp"`
	// Journald is every [Journal] setting, in the order journald reads
	// them.
	Journald []hostconf.JournaldSetting `json:"-"`
}

// Tmp is how /tmp is mounted, now and at boot.
type Tmp struct {
	// Live: /tmp is a tmpfs now (/proc/mounts).
	Live bool `json:"tmpfs_now"`
	// Symlink: /tmp is a symbolic link (tmp.mount does not mount over one).
	Symlink bool `json:"symlink,omitempty"`
	// Unit is the tmp.mount systemd finds in its unit path outside /etc
	// (/usr/lib/systemd/system on most distributions, trixie included);
	// Shared the copy Debian up to bookworm ships outside the unit path
	// for an administrator to copy in.
	Unit   string `json:"unit,omitempty"`
	Shared string `json:"shared,omitempty"`
	// Etc is the first line of /etc/systemd/system/tmp.mount ("" none):
	// whether it is ours (the tasks' Header) or someone else's copy.
	Etc string `json:"etc_unit,omitempty"`
	// Static is the link that enables tmp.mount in a vendor directory
	// (Debian trixie: /usr/lib/systemd/system/local-fs.target.wants).
	Static string `json:"static,omitempty"`
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
		f.Evidence = append(f.Evidence, fmt.Sprintf("fstab: %d mount lines in /etc/fstab", len(hostconf.ParseFstab(w.Fstab))))
	}
	if mounts, err := h.ReadFile("/proc/mounts"); err == nil {
		for _, l := range strings.Split(string(mounts), "\n") {
			fs := strings.Fields(l)
			switch {
			case len(fs) >= 4 && fs[1] == "/":
				w.RootOptions = fs[3]
			case len(fs) >= 3 && fs[1] == "/tmp" && fs[2] == "tmpfs":
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
		if w.Tmp.Unit == "" && h.Exists(d+"/tmp.mount") {
			w.Tmp.Unit = d + "/tmp.mount"
		}
		if l := d + "/local-fs.target.wants/tmp.mount"; w.Tmp.Static == "" && h.Exists(l) {
			w.Tmp.Static = l
		}
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
