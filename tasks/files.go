package tasks

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"

	"github.com/ezansiedgeai/ezedge-host/hostroot"
)

// A file resource is either one ezedge-host owns (it writes the whole file:
// the owned files below, first-boot's files) or another program's file it
// edits (cmdline.txt, /etc/default/grub, systemd-rfkill's and
// NetworkManager's state). Which is which, and where each may be, follows
// from the path alone, so that a resource read back from a journal is
// treated exactly as the task that made it did.
type fileRule struct {
	// owned: never reached through a symlink, at any component: a link
	// planted at our file's name must not make us write another file.
	owned bool
	// home: an edited file is followed through links, but where it lands
	// (resolved) must lie inside home (resolved): cmdline.txt inside the
	// boot partition, never /etc/passwd.
	home string
	// limit bounds a read of the file.
	limit int64
}

var (
	ownedMu sync.RWMutex
	owned   = map[string]int64{}
)

// Own declares a file that ezedge-host writes whole (a package's own
// files, e.g. first boot's), with the largest size it may have.
func Own(p string, limit int64) {
	ownedMu.Lock()
	defer ownedMu.Unlock()
	owned[p] = limit
}

func init() {
	for _, p := range append([]string{GrubDropInFile}, OwnedFiles...) {
		Own(p, hostroot.MaxRead)
	}
}

// ruleFor is how the file at p may be touched; false for a file
// ezedge-host never manages.
func ruleFor(p string) (fileRule, bool) {
	if !path.IsAbs(p) || path.Clean(p) != p {
		return fileRule{}, false
	}
	ownedMu.RLock()
	limit, ok := owned[p]
	ownedMu.RUnlock()
	if ok {
		return fileRule{owned: true, limit: limit}, true
	}
	edited := func(home string) (fileRule, bool) {
		return fileRule{home: home, limit: hostroot.MaxRead}, true
	}
	switch {
	case strings.HasPrefix(p, "/boot/firmware/"):
		return edited("/boot/firmware")
	case strings.HasPrefix(p, "/boot/"):
		return edited("/boot")
	case p == "/etc/default/grub":
		return edited("/etc/default")
	case path.Dir(p) == rfkillSaved:
		return edited(rfkillSaved)
	case p == NMState:
		return edited(path.Dir(NMState))
	}
	return fileRule{}, false
}

// locate is the path inside the root that reading or writing p touches:
// p itself for an owned file, after checking no component is a link; for
// an edited file, its resolved target, after checking it lies in home.
func (r fileRule) locate(h *hostroot.Root, p string) (string, error) {
	switch {
	case r.limit == 0:
		return "", fmt.Errorf("%s: not a file ezedge-host manages", p)
	case r.owned:
		dir := path.Dir(p)
		if rd, err := h.Resolve(dir); err != nil {
			return "", err
		} else if "/"+rd != dir && !(rd == "." && dir == "/") {
			return "", fmt.Errorf("%s: refused: %s resolves to /%s through a symbolic link; ezedge-host writes its own files only at their real paths", p, dir, rd)
		}
		if st, err := h.Lstat(p); err == nil && !st.Mode().IsRegular() {
			return "", fmt.Errorf("%s: refused: it is %s, not a regular file; ezedge-host owns this path and does not write through it: remove it", p, describeMode(st.Mode()))
		}
		return p, nil
	}
	rp, err := h.Resolve(p)
	if err != nil {
		return "", err
	}
	home, err := h.Resolve(r.home)
	if err != nil {
		return "", err
	}
	if home != "." && rp != home && !strings.HasPrefix(rp, home+"/") {
		return "", fmt.Errorf("%s: refused: it resolves to /%s, outside %s", p, rp, r.home)
	}
	return "/" + rp, nil
}

func describeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a directory"
	}
	return "not a regular file"
}
