package hostroot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"sync"

	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"

	"golang.org/x/sys/unix"

	"github.com/ezansiedgeai/ezedge-host/internal/crashpoint"
)

// Nothing in a root is trusted: an image or a fixture tree may hold a FIFO,
// a device node, a socket, a hard link to a file outside the root or an
// 8 GB sparse file at any path ezedge-host reads or writes. Every open
// therefore goes through openChecked: the path is first opened with O_PATH,
// which resolves it but runs no driver code (opening a watchdog device node
// would arm the machine's watchdog) and cannot block (a FIFO), the file's
// type and link count are checked on that descriptor, and only then is the
// very same inode reopened for reading or writing through /proc/self/fd.

// MaxRead bounds what one read returns. Configuration files are a few KiB;
// the kernel tables a plan reads (cpuinfo of 256 CPUs, /proc/net/tcp of a
// busy host) a few hundred. A file over its bound is refused, naming it,
// so that no input can make a plan take unbounded memory.
const MaxRead = 1 << 20

// Errors of the checked opens; each is wrapped in an *fs.PathError naming
// the host path.
var (
	// ErrNotRegular: a FIFO, device, socket or directory where a file is
	// read or written.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: a file over the read bound.
	ErrTooLarge = errors.New("larger than the read limit")
	// ErrLink: a symbolic link where ezedge-host never follows one (a file
	// it owns or writes in place).
	ErrLink = errors.New("is a symbolic link; ezedge-host does not write through links here")
	// ErrHardLink: a file with more than one name, written in place; the
	// other name may be outside the root.
	ErrHardLink = errors.New("has more than one hard link; ezedge-host does not write in place to a file with other names")
	// ErrNotOwned: a file of ezedge-host's own store owned by another user.
	ErrNotOwned = errors.New("is not owned by the user running ezedge-host")
)

// typeName says what a file is, for refusals.
func typeName(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFLNK:
		return "a symbolic link"
	}
	return "not a regular file"
}

// kindError is ErrNotRegular with the file's type in its text.
type kindError struct{ what string }

func (e kindError) Error() string        { return "is " + e.what + ", not a regular file" }
func (e kindError) Is(target error) bool { return target == ErrNotRegular }

type sizeError struct{ size, limit int64 }

func (e sizeError) Error() string {
	if e.size > 0 {
		return fmt.Sprintf("%d bytes is larger than the %d-byte read limit", e.size, e.limit)
	}
	return fmt.Sprintf("larger than the %d-byte read limit", e.limit)
}
func (e sizeError) Is(target error) bool { return target == ErrTooLarge }

// access says how a checked open may use the file.
type access int

const (
	forRead access = iota
	// forWriteInPlace: a kernel attribute, or a fixture's stand-in for
	// one: a regular file with a single name, never through a final link.
	forWriteInPlace
	// forPrivate: a file of the store: as forWriteInPlace, and owned by
	// this user.
	forPrivate
)

// openPath opens name with O_PATH inside the root; follow says whether a
// final symlink is followed (always inside the root).
func (h *Root) openPath(name string, follow bool) (*os.File, error) {
	flags := unix.O_PATH
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	if fd, err := h.openInRoot(name, flags); err != unix.ENOSYS {
		if err != nil {
			return nil, err
		}
		return os.NewFile(uintptr(fd), name), nil
	}
	d, base, err := h.at(name, follow)
	if err != nil {
		return nil, err
	}
	// os.Root adds O_NOFOLLOW; with O_PATH that opens a final symlink
	// itself, which the type check below then refuses.
	return d.OpenFile(base, unix.O_PATH, 0)
}

// openChecked opens name for flags (O_RDONLY, O_WRONLY…) after checking
// what it is on an O_PATH descriptor. It returns the file and its stat.
func (h *Root) openChecked(name string, flags int, a access) (*os.File, *unix.Stat_t, error) {
	pf, err := h.openPath(name, a == forRead)
	if err != nil {
		return nil, nil, err
	}
	defer pf.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(pf.Fd()), &st); err != nil {
		return nil, nil, err
	}
	if err := checkStat(&st, a); err != nil {
		return nil, nil, err
	}
	f, err := reopen(pf, flags, &st)
	if err != nil {
		return nil, nil, err
	}
	return f, &st, nil
}

func checkStat(st *unix.Stat_t, a access) error {
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return ErrLink
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return kindError{typeName(st.Mode)}
	case a != forRead && st.Nlink > 1:
		return ErrHardLink
	case a == forPrivate && int(st.Uid) != os.Geteuid():
		return ErrNotOwned
	}
	return nil
}

// reopen opens the inode pf refers to with flags, through /proc/self/fd:
// exactly that inode, whatever has been renamed since. The /proc/self/fd
// directory comes from filepath-securejoin's procfs, which makes sure it is
// the kernel's own procfs (a /proc mounted over by a hostile container
// runtime cannot redirect the open), and is opened once: each reopen is
// then one openat(2). (securejoin's own Reopen checks procfs again on every
// call; at some 40 µs a file that was most of a 256-CPU plan's time.)
func reopen(pf *os.File, flags int, _ *unix.Stat_t) (*os.File, error) {
	dir, err := procSelfFd()
	if err != nil {
		return nil, fmt.Errorf("cannot reopen safely: %w", err)
	}
	for {
		fd, err := unix.Openat(int(dir.Fd()), strconv.Itoa(int(pf.Fd())), flags|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		return os.NewFile(uintptr(fd), pf.Name()), nil
	}
}

// procSelfFd is this process's /proc/self/fd, opened once.
var procSelfFd = sync.OnceValues(func() (*os.File, error) {
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return nil, err
	}
	defer proc.Close()
	return proc.OpenSelf("fd")
})

// ReadFile reads a host file: a regular file of at most MaxRead bytes.
//
// Reads are the bulk of a plan (two per CPU on a 256-CPU host). Where the
// kernel has openat2(2), RESOLVE_IN_ROOT resolves the whole path, symlinks
// included, inside the root in one call, with the same meaning as Resolve
// (absolute links and `..` scoped to the root). Elsewhere the open goes
// through Resolve and os.Root.
func (h *Root) ReadFile(name string) ([]byte, error) {
	return h.read(name, MaxRead, false)
}

// ReadFileLimit reads a host file of at most limit bytes: for the few
// files larger than MaxRead on a real host (modules.dep).
func (h *Root) ReadFileLimit(name string, limit int64) ([]byte, error) {
	return h.read(name, limit, false)
}

// ReadPrefix reads at most the first n bytes of a host file (an ELF
// header); a longer file is not an error.
func (h *Root) ReadPrefix(name string, n int64) ([]byte, error) {
	return h.read(name, n, true)
}

func (h *Root) read(name string, limit int64, prefix bool) ([]byte, error) {
	f, st, err := h.openChecked(name, unix.O_RDONLY, forRead)
	if err != nil {
		return nil, h.refuse("read", name, err)
	}
	defer f.Close()
	// A file system that knows the size says it up front; /proc and /sys
	// report 0 and are bounded by reading.
	if st.Size > limit && !prefix {
		return nil, h.refuse("read", name, sizeError{st.Size, limit})
	}
	b, err := readAtMost(int(f.Fd()), limit, st.Size)
	if err == nil && int64(len(b)) > limit {
		if prefix {
			return b[:limit], nil
		}
		return nil, h.refuse("read", name, sizeError{0, limit})
	}
	return b, h.wrap("read", name, err)
}

// readAtMost reads until EOF or limit+1 bytes, whichever comes first.
func readAtMost(fd int, limit, hint int64) ([]byte, error) {
	size := min(max(hint+1, 512), limit+1)
	b := make([]byte, 0, size)
	for int64(len(b)) <= limit {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		want := min(int64(cap(b)), limit+1)
		n, err := unix.Read(fd, b[len(b):want])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
		b = b[:len(b)+n]
	}
	return b, nil
}

// refuse wraps err for name and, when the file was refused for what it is
// (not for being absent), keeps it for Refusals so the plan can say which
// files it left unread.
func (h *Root) refuse(op, name string, err error) error {
	err = h.wrap(op, name, err)
	if errors.Is(err, ErrNotRegular) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrLink) || errors.Is(err, ErrHardLink) {
		h.mu.Lock()
		if h.refused == nil {
			h.refused = map[string]string{}
		}
		h.refused[path.Clean("/"+name)] = err.Error()
		h.mu.Unlock()
	}
	return err
}

// Refusals lists, sorted, every host file a read or write refused for what
// it is (a FIFO, a device, too large, a link), one line each naming it.
func (h *Root) Refusals() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.refused))
	for _, e := range h.refused {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}

// WriteInPlace writes data to an existing file in one write(2), the way the
// kernel expects /proc/sys and /sys attributes to be written. The file must
// be a regular file with a single name, reached without a final symlink:
// on an image or fixture root these are ordinary files, and a hard link
// there could name a file outside the root.
func (h *Root) WriteInPlace(name string, data []byte) error {
	var f *os.File
	err := h.change(crashpoint.OpenTrunc, name, func() (err error) {
		f, _, err = h.openChecked(name, unix.O_WRONLY|unix.O_TRUNC, forWriteInPlace)
		return err
	})
	if err != nil {
		return h.refuse("write", name, err)
	}
	werr := h.change(crashpoint.Write, name, func() error {
		_, err := f.Write(data)
		return err
	})
	cerr := f.Close()
	if werr != nil {
		return h.wrap("write", name, werr)
	}
	return h.wrap("write", name, cerr)
}

// OpenPrivate opens a file of ezedge-host's own store (the lock, a
// journal) with flag, never through a symlink: an existing file must be a
// regular file with one name, owned by this user; opened for writing, it is
// made 0600. With
// O_CREATE a missing file is created 0600. O_TRUNC is refused: nothing is
// truncated on open.
func (h *Root) OpenPrivate(name string, flag int) (*File, error) {
	if flag&os.O_TRUNC != 0 {
		return nil, h.wrap("open", name, errors.New("O_TRUNC not allowed"))
	}
	if flag&os.O_CREATE != 0 {
		d, base, err := h.at(name, false)
		if err != nil {
			return nil, err
		}
		var f *os.File
		err = h.change(crashpoint.Create, name, func() (err error) {
			f, err = d.OpenFile(base, flag|os.O_EXCL, 0o600)
			return err
		})
		if err == nil {
			return h.newFile(f, name), nil
		}
		if !errors.Is(err, fs.ErrExist) || flag&os.O_EXCL != 0 {
			return nil, h.wrap("open", name, err)
		}
	}
	f, st, err := h.openChecked(name, flag&^(os.O_CREATE|os.O_EXCL), forPrivate)
	if err != nil {
		return nil, h.refuse("open", name, err)
	}
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 && st.Mode&0o7777 != 0o600 {
		if err := h.change(crashpoint.Chmod, name, func() error { return f.Chmod(0o600) }); err != nil {
			f.Close()
			return nil, h.wrap("chmod", name, err)
		}
	}
	return h.newFile(f, name), nil
}

// tempName is the one name WriteAtomic gives its temporary file for base:
// fixed, so that whatever a crash leaves is found and removed by the next
// write or restore of the same file (the journal records the file before
// it is written, and so, by this rule, its temporary file too).
func tempName(base string) string { return "." + base + ".ezedge-tmp" }

// WriteAtomic replaces (or creates) a host file so that a reader, or a crash,
// only ever sees the old or the new contents: it writes a temporary file in
// the same directory, fsyncs it, renames it into place and fsyncs the
// directory. renameio does the same on plain paths; this does it through
// os.Root so the temporary file and the rename stay inside the root.
//
// The final component is never followed: a symlink (or a FIFO, a device, a
// directory) at name is refused. A caller that edits the target of a link
// resolves it first and checks where it lands.
func (h *Root) WriteAtomic(name string, data []byte, mode fs.FileMode, uid, gid int) error {
	d, base, err := h.at(name, false)
	if err != nil {
		return err
	}
	if st, err := d.Lstat(base); err == nil {
		if st.Mode()&fs.ModeSymlink != 0 {
			return h.refuse("write", name, ErrLink)
		}
		if !st.Mode().IsRegular() {
			return h.refuse("write", name, kindError{typeName(uint32(fileTypeBits(st.Mode())))})
		}
	}
	dir := path.Dir(path.Clean("/" + name))
	tmp, tmpName := tempName(base), path.Join(dir, tempName(base))
	if err := h.removeStale(d, dir, tmp); err != nil {
		return h.wrap("write", name, err)
	}
	var f *os.File
	err = h.change(crashpoint.Create, tmpName, func() (err error) {
		f, err = d.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		return err
	})
	if err != nil {
		return h.wrap("write", name, err)
	}
	removeTmp := func() { h.change(crashpoint.Remove, tmpName, func() error { return d.Remove(tmp) }) }
	fail := func(err error) error {
		f.Close()
		removeTmp()
		return h.wrap("write", name, err)
	}
	if err := h.change(crashpoint.Write, tmpName, func() error { _, err := f.Write(data); return err }); err != nil {
		return fail(err)
	}
	if os.Geteuid() == 0 {
		if err := h.change(crashpoint.Chown, tmpName, func() error { return f.Chown(uid, gid) }); err != nil {
			return fail(err)
		}
	}
	if err := h.change(crashpoint.Chmod, tmpName, func() error { return f.Chmod(mode.Perm()) }); err != nil {
		return fail(err)
	}
	if err := h.change(crashpoint.Sync, tmpName, func() error { return f.Sync() }); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		removeTmp()
		return h.wrap("write", name, err)
	}
	if err := h.change(crashpoint.Rename, name, func() error { return d.Rename(tmp, base) }); err != nil {
		removeTmp()
		return h.wrap("write", name, err)
	}
	return h.wrap("sync", name, h.syncDir(d, dir))
}

// RemoveTemp removes what an interrupted WriteAtomic of name left behind.
func (h *Root) RemoveTemp(name string) error {
	d, base, err := h.at(name, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return h.wrap("remove", name, h.removeStale(d, path.Dir(path.Clean("/"+name)), tempName(base)))
}

// removeStale removes a leftover temporary file base in d, host directory
// dir (or whatever took its name: a link is removed, not followed); a
// missing one is fine.
func (h *Root) removeStale(d *os.Root, dir, base string) error {
	if _, err := d.Lstat(base); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	err := h.change(crashpoint.Remove, path.Join(dir, base), func() error { return d.Remove(base) })
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return h.syncDir(d, dir)
}

func fileTypeBits(m fs.FileMode) uint32 {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return unix.S_IFIFO
	case m&fs.ModeCharDevice != 0:
		return unix.S_IFCHR
	case m&fs.ModeDevice != 0:
		return unix.S_IFBLK
	case m&fs.ModeSocket != 0:
		return unix.S_IFSOCK
	case m.IsDir():
		return unix.S_IFDIR
	}
	return 0
}

// ReadPrivate reads a file of ezedge-host's own store (a journal, a blob)
// of at most limit bytes: never through a final symlink, and only a
// regular file with one name owned by this user, so that nothing planted
// in the store by someone else is acted on.
func (h *Root) ReadPrivate(name string, limit int64) ([]byte, error) {
	f, st, err := h.openChecked(name, unix.O_RDONLY, forPrivate)
	if err != nil {
		return nil, h.refuse("read", name, err)
	}
	defer f.Close()
	if st.Size > limit {
		return nil, h.refuse("read", name, sizeError{st.Size, limit})
	}
	b, err := readAtMost(int(f.Fd()), limit, st.Size)
	if err == nil && int64(len(b)) > limit {
		return nil, h.refuse("read", name, sizeError{0, limit})
	}
	return b, h.wrap("read", name, err)
}
