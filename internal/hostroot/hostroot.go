// Package hostroot gives access to a host's file system seen from a root
// directory (`--root`). Every path is resolved inside the root: symlinks,
// absolute ones included, are followed as if the root were `/`, so an image
// mounted at a folder or a fixture tree can never make ezedge-host read or
// write outside it. The final access goes through os.Root, which refuses any
// escape that a race could introduce after resolution. Nothing in a root is
// trusted: every open checks what it opens (open.go). The files the
// operator names on the command line are read through the same checked
// open (named.go).
package hostroot

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ezansiedgeai/ezedge-host/internal/crashpoint"
)

// maxLinks matches the kernel's limit on nested symlinks (ELOOP).
const maxLinks = 40

// Root is an opened host root.
type Root struct {
	dir string
	r   *os.Root
	// subs caches an os.Root per resolved directory, opened from its
	// parent's: an access then costs one openat instead of one per path
	// component (paths under /sys are deep and share prefixes). Each is
	// opened inside the root, so it confines like the root itself;
	// removing a directory drops it and what is below it.
	mu   sync.Mutex
	subs map[string]*os.Root
	// dirRes caches the resolution of directory paths; removing anything
	// clears it.
	dirRes map[string]string
	// fd is the root directory for openat2(2), or -1 where the kernel
	// lacks it (before 5.6).
	fd        int
	noOpenat2 atomic.Bool
	// refused holds the files a read or write refused for what they are.
	refused map[string]string
	// cut, in a crash test only, counts and cuts every change (change.go).
	cut *crashpoint.Cutter
}

// Open opens dir as a host root. It fails with a one-line error when dir is
// missing or not a directory.
func Open(dir string) (*Root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", dir, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("root %s: no such directory", dir)
		}
		return nil, fmt.Errorf("root %s: %v", dir, errors.Unwrap(err))
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("root %s: not a directory", dir)
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", dir, err)
	}
	h := &Root{dir: abs, r: r, subs: map[string]*os.Root{".": r}, dirRes: map[string]string{}, fd: -1}
	if fd, err := unix.Open(abs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		h.fd = fd
	}
	return h, nil
}

// Dir is the absolute directory the root was opened at.
func (h *Root) Dir() string { return h.dir }

// IsSystemRoot reports whether this root is the running system's `/`, where
// /proc and /sys are the live kernel's.
func (h *Root) IsSystemRoot() bool { return h.dir == "/" }

// Close releases the root.
func (h *Root) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fd >= 0 {
		unix.Close(h.fd)
	}
	for k, r := range h.subs {
		if k != "." {
			r.Close()
		}
	}
	return h.r.Close()
}

// Resolve turns a host path ("/etc/x") into a path relative to the root with
// every symlink component resolved inside the root. The final component is
// resolved too, so editing a symlinked file (Debian's
// /etc/sysctl.d/99-sysctl.conf -> ../sysctl.conf) edits its target and keeps
// the link.
func (h *Root) Resolve(name string) (string, error) {
	return h.resolve(name, true)
}

// resolve resolves the directory part through a cache (most accesses share
// a few directories), then looks at the final component alone.
func (h *Root) resolve(name string, final bool) (string, error) {
	clean := strings.TrimPrefix(path.Clean("/"+name), "/")
	if clean == "" {
		return ".", nil
	}
	rdir := "."
	dir, base := path.Split(clean)
	if dir != "" {
		dir = strings.TrimSuffix(dir, "/")
		h.mu.Lock()
		r, ok := h.dirRes[dir]
		h.mu.Unlock()
		if !ok {
			var err error
			if r, err = h.walk(dir, true); err != nil {
				return "", err
			}
			h.mu.Lock()
			h.dirRes[dir] = r
			h.mu.Unlock()
		}
		rdir = r
	}
	p := path.Join(rdir, base)
	if !final {
		return p, nil
	}
	if d, err := h.sub(rdir); err == nil {
		if st, err := d.Lstat(base); err == nil && st.Mode()&fs.ModeSymlink != 0 {
			return h.walk(p, true)
		}
	}
	return p, nil
}

// walk resolves a path component by component, following symlinks
// (absolute ones from the root, `..` stopping at the root).
func (h *Root) walk(name string, final bool) (string, error) {
	rest := strings.Split(name, "/")
	done := []string{}
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		if c == "" || c == "." {
			continue
		}
		if c == ".." {
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		parent := path.Join(append([]string{"."}, done...)...)
		cur := path.Join(parent, c)
		if len(rest) == 0 && !final {
			done = append(done, c)
			break
		}
		h.mu.Lock()
		_, isDir := h.subs[cur]
		h.mu.Unlock()
		if isDir {
			done = append(done, c)
			continue
		}
		pr, err := h.sub(parent)
		if err != nil {
			done = append(done, c)
			done = append(done, rest...)
			break
		}
		st, err := pr.Lstat(c)
		if err != nil {
			// A missing component ends resolution: the caller's operation
			// reports the error (or creates the file).
			done = append(done, c)
			done = append(done, rest...)
			break
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		links++
		if links > maxLinks {
			return "", &fs.PathError{Op: "resolve", Path: name, Err: syscall.ELOOP}
		}
		target, err := pr.Readlink(c)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			done = done[:0]
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

// sub returns the os.Root of resolved directory rel, opening it from its
// parent's.
func (h *Root) sub(rel string) (*os.Root, error) {
	h.mu.Lock()
	r, ok := h.subs[rel]
	h.mu.Unlock()
	if ok {
		return r, nil
	}
	parent, err := h.sub(path.Dir(rel))
	if err != nil {
		return nil, err
	}
	r, err = parent.OpenRoot(path.Base(rel))
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if old, ok := h.subs[rel]; ok {
		r.Close()
		return old, nil
	}
	if len(h.subs) >= maxSubs {
		h.dropAllLocked()
	}
	h.subs[rel] = r
	return r, nil
}

// maxSubs bounds the cached directories. Each holds descriptors, and a
// process that crosses 64, 256, 1024 open descriptors makes the kernel grow
// its descriptor table, waiting out an RCU grace period each time (5 ms
// apiece, measured): a 256-CPU plan spent half its wall time there.
const maxSubs = 24

func (h *Root) dropAllLocked() {
	for k, r := range h.subs {
		if k == "." {
			continue
		}
		r.Close()
		delete(h.subs, k)
	}
}

// forget drops the cached roots of rel and below, after rel was removed.
func (h *Root) forget(rel string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, r := range h.subs {
		if k != "." && (k == rel || strings.HasPrefix(k, rel+"/")) {
			r.Close()
			delete(h.subs, k)
		}
	}
	clear(h.dirRes)
}

// at resolves name and returns the os.Root of its directory and its base.
func (h *Root) at(name string, final bool) (*os.Root, string, error) {
	p, err := h.resolve(name, final)
	if err != nil {
		return nil, "", err
	}
	if p == "." {
		return h.r, ".", nil
	}
	d, err := h.sub(path.Dir(p))
	if err != nil {
		return nil, "", h.wrap("open", name, err)
	}
	return d, path.Base(p), nil
}

func (h *Root) wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &fs.PathError{Op: op, Path: name, Err: pe.Err}
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// openInRoot opens name with openat2(RESOLVE_IN_ROOT), or says ENOSYS.
func (h *Root) openInRoot(name string, flags int) (int, error) {
	if h.fd < 0 || h.noOpenat2.Load() {
		return -1, unix.ENOSYS
	}
	rel := strings.TrimPrefix(path.Clean("/"+name), "/")
	if rel == "" {
		rel = "."
	}
	flags |= unix.O_CLOEXEC
	if flags&unix.O_PATH == 0 {
		// openat2 rejects any other flag beside O_PATH.
		flags |= unix.O_NOCTTY
	}
	for {
		fd, err := unix.Openat2(h.fd, rel, &unix.OpenHow{
			Flags:   uint64(flags),
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
		switch err {
		case unix.EINTR, unix.EAGAIN:
			continue
		case unix.ENOSYS, unix.EPERM:
			// EPERM: a seccomp filter that forbids the call.
			h.noOpenat2.Store(true)
			return -1, unix.ENOSYS
		}
		return fd, err
	}
}

// Stat stats a host path, following symlinks inside the root.
func (h *Root) Stat(name string) (fs.FileInfo, error) {
	if fd, err := h.openInRoot(name, unix.O_PATH); err != unix.ENOSYS {
		if err != nil {
			return nil, h.wrap("stat", name, err)
		}
		f := os.NewFile(uintptr(fd), path.Base(name))
		defer f.Close()
		st, err := f.Stat()
		return st, h.wrap("stat", name, err)
	}
	d, base, err := h.at(name, true)
	if err != nil {
		return nil, err
	}
	st, err := d.Lstat(base)
	return st, h.wrap("stat", name, err)
}

// Lstat stats a host path without following a final symlink.
func (h *Root) Lstat(name string) (fs.FileInfo, error) {
	d, base, err := h.at(name, false)
	if err != nil {
		return nil, err
	}
	st, err := d.Lstat(base)
	return st, h.wrap("lstat", name, err)
}

// Readlink reads a symlink inside the root.
func (h *Root) Readlink(name string) (string, error) {
	d, base, err := h.at(name, false)
	if err != nil {
		return "", err
	}
	t, err := d.Readlink(base)
	return t, h.wrap("readlink", name, err)
}

// ReadDir lists a host directory, sorted by name.
func (h *Root) ReadDir(name string) ([]fs.DirEntry, error) {
	p, err := h.Resolve(name)
	if err != nil {
		return nil, err
	}
	d, err := h.sub(p)
	if err != nil {
		return nil, h.wrap("readdir", name, err)
	}
	f, err := d.Open(".")
	if err != nil {
		return nil, h.wrap("readdir", name, err)
	}
	defer f.Close()
	// Bounded like a read: a directory of millions of names (a hostile
	// image) must not take unbounded memory.
	var ents []fs.DirEntry
	for {
		batch, err := f.ReadDir(1024)
		ents = append(ents, batch...)
		if len(ents) > MaxDirEntries {
			return nil, h.refuse("readdir", name, tooManyEntries{})
		}
		if err == io.EOF || len(batch) == 0 {
			break
		}
		if err != nil {
			return nil, h.wrap("readdir", name, err)
		}
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, nil
}

type tooManyEntries struct{}

func (tooManyEntries) Error() string        { return fmt.Sprintf("more than %d entries", MaxDirEntries) }
func (tooManyEntries) Is(target error) bool { return target == ErrTooLarge }

// MaxDirEntries bounds a directory listing; /proc of a busy host has a few
// thousand entries.
const MaxDirEntries = 1 << 16

// Exists reports whether a host path exists (following symlinks).
func (h *Root) Exists(name string) bool {
	_, err := h.Stat(name)
	return err == nil
}

// Remove removes a host file, symlink or empty directory, the way rm does:
// a final symlink is removed itself, never its target.
func (h *Root) Remove(name string) error {
	p, err := h.resolve(name, false)
	if err != nil {
		return err
	}
	d, base, err := h.at(name, false)
	if err != nil {
		return err
	}
	if err := h.change(crashpoint.Remove, name, func() error { return d.Remove(base) }); err != nil {
		return h.wrap("remove", name, err)
	}
	h.forget(p)
	return h.wrap("sync", name, h.syncDir(d, path.Dir(name)))
}

// Mkdir creates one host directory with exactly mode perm.
func (h *Root) Mkdir(name string, perm fs.FileMode) error {
	d, base, err := h.at(name, true)
	if err != nil {
		return err
	}
	if err := h.change(crashpoint.Mkdir, name, func() error { return d.Mkdir(base, perm) }); err != nil {
		return h.wrap("mkdir", name, err)
	}
	if err := h.change(crashpoint.Chmod, name, func() error { return d.Chmod(base, perm) }); err != nil {
		return h.wrap("chmod", name, err)
	}
	return h.wrap("sync", name, h.syncDir(d, path.Dir(name)))
}

// Symlink creates a symlink at name pointing to target (kept as written:
// it is resolved inside the root when followed).
func (h *Root) Symlink(target, name string) error {
	d, base, err := h.at(name, false)
	if err != nil {
		return err
	}
	if err := h.change(crashpoint.Symlink, name, func() error { return d.Symlink(target, base) }); err != nil {
		return h.wrap("symlink", name, err)
	}
	return h.wrap("sync", name, h.syncDir(d, path.Dir(name)))
}

// SyncDir makes the entries of a host directory durable.
func (h *Root) SyncDir(name string) error {
	p, err := h.Resolve(name)
	if err != nil {
		return err
	}
	d, err := h.sub(p)
	if err != nil {
		return h.wrap("sync", name, err)
	}
	return h.wrap("sync", name, h.syncDir(d, name))
}

// RequirePrivilege refuses a command that changes the running system when
// it is not run as root, before anything is touched. Fixture and image roots
// are the caller's own folders and need no privilege.
func (h *Root) RequirePrivilege(cmd string) error {
	if h.IsSystemRoot() && os.Geteuid() != 0 {
		return fmt.Errorf("%s changes this host and must run as root (try sudo ezedge-host %s)", cmd, cmd)
	}
	return nil
}

// Chmod sets the mode of a host file or directory, never through a final
// symlink.
func (h *Root) Chmod(name string, perm fs.FileMode) error {
	d, base, err := h.at(name, false)
	if err != nil {
		return err
	}
	if st, err := d.Lstat(base); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		return h.wrap("chmod", name, ErrLink)
	}
	return h.wrap("chmod", name, h.change(crashpoint.Chmod, name, func() error { return d.Chmod(base, perm) }))
}
