package hostroot

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Files the operator names (--profile, --binary, the plan file apply is
// given, the running binary firstboot install copies) are not in a root:
// they are paths on the running system, resolved as written, symbolic
// links followed. They are no more trusted than a root's files: the path
// may be a FIFO nobody writes to (an open would wait forever), /dev/zero
// or an 8 GB sparse file (a read would end in an out-of-memory crash), a
// directory, a watchdog device node. ReadNamed reads them through the same
// checked open as a root's files: an O_PATH descriptor first, which runs
// no driver code and cannot block, the type and size checked on it, and
// only then the same inode reopened to read, at most the kind's limit.

// Named is a kind of file the operator names.
type Named struct {
	// What the file is: the first words of every error ("profile",
	// "plan file", "binary to copy").
	What string
	// Limit is the most bytes read; a file over it is refused, by its
	// size before it is read, or when a read goes past it.
	Limit int64
	// Pipe: an anonymous pipe (a shell's `<(generate)`, /dev/stdin on a
	// pipe) is read too, to its end and at most Limit bytes: the
	// operator made it, and its writer is running. A named FIFO is
	// refused like a device: nothing says anyone will ever write to it.
	Pipe bool
}

// testHookNamedRead, when set (by tests), runs between the checks on the
// file and the read: a file that grows meanwhile.
var testHookNamedRead func(name string)

// ReadNamed reads the file the operator named name, of kind k. Every error
// is one line naming the kind, the file and, for a file too large, the
// limit.
func ReadNamed(name string, k Named) ([]byte, error) {
	b, err := readNamed(name, k)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", k.What, name, err)
	}
	return b, nil
}

func readNamed(name string, k Named) ([]byte, error) {
	if name == "" {
		return nil, errors.New("no file named")
	}
	var fd int
	var err error
	for {
		// O_PATH follows a final symbolic link (the operator's own), and
		// neither opens a device nor waits for a FIFO's writer.
		fd, err = unix.Open(name, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	pf := os.NewFile(uintptr(fd), name)
	defer pf.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	pipe := false
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		if st.Size > k.Limit {
			return nil, sizeError{st.Size, k.Limit}
		}
	case unix.S_IFIFO:
		if !k.Pipe {
			return nil, kindError{"a FIFO"}
		}
		var fs unix.Statfs_t
		if err := unix.Fstatfs(fd, &fs); err != nil || fs.Type != unix.PIPEFS_MAGIC {
			return nil, namedFIFOError{}
		}
		pipe = true
	default:
		return nil, kindError{typeName(st.Mode)}
	}
	flags := unix.O_RDONLY
	if !pipe {
		// A regular file does not block; O_NONBLOCK is for whatever might
		// have taken the inode's place, which reopen rules out anyway.
		flags |= unix.O_NONBLOCK
	}
	f, err := reopen(pf, flags, &st)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if testHookNamedRead != nil {
		testHookNamedRead(name)
	}
	b, err := readAtMost(int(f.Fd()), k.Limit, st.Size)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > k.Limit {
		// It grew while read, or a pipe gave more.
		return nil, sizeError{0, k.Limit}
	}
	return b, nil
}

// namedFIFOError is a FIFO on a file system where a pipe is read.
type namedFIFOError struct{}

func (namedFIFOError) Error() string {
	return "is a named FIFO, not a regular file or a pipe (a FIFO nobody writes to would wait forever)"
}
func (namedFIFOError) Is(target error) bool { return target == ErrNotRegular }
