// Package statedir is ezedge-host's own directory inside a host root,
// /var/lib/ezedge-host, where the lock, the snapshot store, pending
// confirmations and the first-boot record live.
//
// Rollback acts on what it finds there, so the directory must be the
// running user's alone: a real directory (not a link), owned by that user
// and mode 0700. Ensure makes it so, or refuses one it cannot trust; Check
// tells a read-only command whether it can trust what it reads.
package statedir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// Dir is ezedge-host's directory inside the root.
const Dir = "/var/lib/ezedge-host"

// Path is the host path of name inside Dir.
func Path(name string) string { return path.Join(Dir, name) }

// Ensure creates Dir and each of subs (directories inside it) where missing,
// mode 0700, and makes an existing one 0700. A link, a non-directory or a
// directory owned by another user is refused: whatever it holds could have
// been planted by someone else.
func Ensure(h *hostroot.Root, subs ...string) error {
	for _, d := range []string{"/var", "/var/lib"} {
		if _, err := h.Stat(d); errors.Is(err, fs.ErrNotExist) {
			if err := h.Mkdir(d, 0o755); err != nil {
				return fmt.Errorf("state directory: %w", err)
			}
		}
	}
	for _, d := range dirs(subs) {
		st, err := h.Lstat(d)
		if errors.Is(err, fs.ErrNotExist) {
			if err := h.Mkdir(d, 0o700); err != nil {
				return fmt.Errorf("state directory: %w", err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
		if err := trusted(d, st); err != nil {
			return err
		}
		if st.Mode().Perm() != 0o700 {
			if err := h.Chmod(d, 0o700); err != nil {
				return fmt.Errorf("state directory: %w", err)
			}
		}
	}
	return nil
}

// Check reports, without changing anything, whether Dir and subs can be
// trusted by a command that only reads: an error for a link or a
// non-directory, a warning for one that is too open (fixed by the next
// command that changes the host) or another user's (which such a command
// refuses to act on). A missing directory is fine.
func Check(h *hostroot.Root, subs ...string) (warnings []string, err error) {
	for _, d := range dirs(subs) {
		st, err := h.Lstat(d)
		if errors.Is(err, fs.ErrNotExist) {
			return warnings, nil
		}
		if err != nil {
			return warnings, fmt.Errorf("state directory: %w", err)
		}
		if err := trusted(d, st); errors.As(err, new(ownerError)) {
			warnings = append(warnings, err.Error()+"; apply and rollback refuse to act on it")
		} else if err != nil {
			return warnings, err
		}
		if p := st.Mode().Perm(); p != 0o700 {
			warnings = append(warnings, fmt.Sprintf("%s is mode %04o, not 0700: the next apply or rollback makes it 0700", d, p))
		}
	}
	return warnings, nil
}

func dirs(subs []string) []string {
	out := []string{Dir}
	for _, s := range subs {
		out = append(out, Path(s))
	}
	return out
}

func trusted(d string, st fs.FileInfo) error {
	switch {
	case st.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("state directory %s is a symbolic link; ezedge-host keeps its snapshots only in a real directory: remove the link", d)
	case !st.IsDir():
		return fmt.Errorf("state directory %s is not a directory", d)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
		return ownerError{d, int(sys.Uid)}
	}
	return nil
}

// ownerError: the directory is another user's.
type ownerError struct {
	dir string
	uid int
}

func (e ownerError) Error() string {
	return fmt.Sprintf("state directory %s is owned by uid %d, not by the user running ezedge-host (uid %d): its contents cannot be trusted", e.dir, e.uid, os.Geteuid())
}

// Tidy removes the temporary files a crash left in Dir and the directories
// directly inside it (a write's temporary file is named .<name>.ezedge-tmp).
// Call it under the host lock.
func Tidy(h *hostroot.Root) {
	ds := []string{Dir}
	ents, _ := h.ReadDir(Dir)
	for _, e := range ents {
		if e.IsDir() {
			ds = append(ds, Path(e.Name()))
		}
	}
	for _, d := range ds {
		ents, _ := h.ReadDir(d)
		for _, e := range ents {
			if n := e.Name(); strings.HasPrefix(n, ".") && strings.HasSuffix(n, ".ezedge-tmp") {
				h.Remove(path.Join(d, n))
			}
		}
	}
}
