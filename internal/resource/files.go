package resource

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
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
	rulesMu      sync.RWMutex
	owned        = map[string]int64{}
	ownedMatches []ownedMatch
	edited       []editRule
)

type ownedMatch struct {
	re    *regexp.Regexp
	limit int64
}

type editRule struct{ match, home string }

// Own declares a file that ezedge-host writes whole (a task's owned file,
// first boot's files), with the largest size it may have. The package
// that writes a file declares it, so that a journal naming it can be read
// back by any command.
func Own(p string, limit int64) {
	rulesMu.Lock()
	defer rulesMu.Unlock()
	owned[p] = limit
}

// OwnMatching declares a family of owned files whose names come from a
// profile (a drop-in per container): every path re matches whole. re must
// not match a path with "..", "." or an empty component.
func OwnMatching(re *regexp.Regexp, limit int64) {
	rulesMu.Lock()
	defer rulesMu.Unlock()
	ownedMatches = append(ownedMatches, ownedMatch{re, limit})
}

// Edit declares files of other programs that ezedge-host edits: match is
// one file, or a directory (ending in "/") for any file below it; once
// resolved, the file must lie inside home.
func Edit(match, home string) {
	rulesMu.Lock()
	defer rulesMu.Unlock()
	edited = append(edited, editRule{match, home})
}

// ruleFor is how the file at p may be touched; false for a file
// ezedge-host never manages.
func ruleFor(p string) (fileRule, bool) {
	if !path.IsAbs(p) || path.Clean(p) != p {
		return fileRule{}, false
	}
	rulesMu.RLock()
	defer rulesMu.RUnlock()
	if limit, ok := owned[p]; ok {
		return fileRule{owned: true, limit: limit}, true
	}
	for _, m := range ownedMatches {
		if m.re.MatchString(p) {
			return fileRule{owned: true, limit: m.limit}, true
		}
	}
	// The most specific declaration wins (/boot/firmware/ before /boot/).
	best := -1
	for i, e := range edited {
		if (p == e.match || strings.HasSuffix(e.match, "/") && strings.HasPrefix(p, e.match)) && (best < 0 || len(e.match) > len(edited[best].match)) {
			best = i
		}
	}
	if best >= 0 {
		return fileRule{home: edited[best].home, limit: hostroot.MaxRead}, true
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
