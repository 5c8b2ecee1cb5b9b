// Package crashpoint cuts ezedge-host short the way a power cut or a
// SIGKILL would, inside a test's own process.
//
// Every operation that changes a host root's file system (a file created,
// truncated, written, chmod'ed, chown'ed or fsynced, a rename, a removal, a
// directory made or fsynced, a link made) goes through one function of
// package hostroot, which hands it to the Cutter attached to that root, if
// any. The cutter counts them; at the k-th it cuts: the operation is not
// run (Before) or is run (After), and from then on every operation on the
// root fails with ErrCut without being run. The code under test unwinds
// through its error paths and deferred clean-ups, which read what they like
// but cannot change a byte on the disk, as a dead process could not; the
// test then drops everything in memory (Kill closes the descriptors, which
// releases the host lock as the kernel would) and reopens the root from
// disk, a fresh process.
//
// A Cutter can only be made inside a test binary: New panics anywhere
// else. There is no environment variable or flag: the production binary
// never has a cutter and pays one nil check per operation.
package crashpoint

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
)

// Kind is what an operation does to the file system.
type Kind uint8

// The kinds, each one system call (Remove may make two: unlinkat as a
// file, then as a directory).
const (
	// Create: a new file (open with O_CREAT|O_EXCL).
	Create Kind = iota + 1
	// OpenTrunc: an existing file opened with O_TRUNC, emptied (a kernel
	// attribute written in place).
	OpenTrunc
	// Write: bytes written to an open file (write or pwrite).
	Write
	// Truncate: an open file cut to a length (ftruncate).
	Truncate
	// Chmod: a file's or directory's mode set.
	Chmod
	// Chown: a file's owner set.
	Chown
	// Sync: an open file's contents made durable (fsync).
	Sync
	// SyncDir: a directory's entries made durable (fsync).
	SyncDir
	// Rename: a file renamed into place.
	Rename
	// Remove: a file, link or empty directory removed.
	Remove
	// Mkdir: a directory made.
	Mkdir
	// Symlink: a symbolic link made.
	Symlink
)

var kindNames = [...]string{Create: "create", OpenTrunc: "open-trunc", Write: "write", Truncate: "truncate", Chmod: "chmod",
	Chown: "chown", Sync: "fsync", SyncDir: "fsync-dir", Rename: "rename", Remove: "remove", Mkdir: "mkdir", Symlink: "symlink"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Kinds lists every kind, in order.
func Kinds() []Kind {
	out := make([]Kind, 0, len(kindNames)-1)
	for k := Create; int(k) < len(kindNames); k++ {
		out = append(out, k)
	}
	return out
}

// Op is one operation that changes the file system.
type Op struct {
	Kind Kind
	// Path is the host path acted on, as hostroot was given it (a
	// directory for SyncDir, the destination for Rename, the link for
	// Symlink).
	Path string
}

func (o Op) String() string { return o.Kind.String() + " " + o.Path }

// When says whether the cut operation itself reaches the disk.
type When uint8

const (
	// Before: the k-th operation does not run.
	Before When = iota
	// After: the k-th operation runs, and nothing after it.
	After
)

func (w When) String() string {
	if w == After {
		return "after"
	}
	return "before"
}

// ErrCut is returned by the cut operation and every one after it.
var ErrCut = errors.New("crashpoint: cut here (the process is dead from this operation on)")

// Cutter counts the operations on the roots it is attached to and cuts at
// one of them.
type Cutter struct {
	at   int64
	when When
	n    atomic.Int64
	dead atomic.Bool

	record atomic.Bool
	watch  func(Op, When)

	mu    sync.Mutex
	ops   []Op
	cut   *Op
	files []io.Closer
}

// New returns a cutter that cuts at the at-th operation (counted from 1),
// before or after it runs; at 0 it never cuts, and only counts. It panics
// outside a test binary: nothing in production can arm it.
func New(at int, when When) *Cutter {
	if !testing.Testing() {
		panic("crashpoint: a cutter is for tests only")
	}
	return &Cutter{at: int64(at), when: when}
}

// Record makes the cutter keep every operation it sees (Ops).
func (c *Cutter) Record() *Cutter {
	c.record.Store(true)
	return c
}

// Watch makes the cutter call f just before each operation it runs (with
// Before) and just after (After), but the cut one: there the disk is as a
// crash leaves it. Call it before the cutter is attached.
func (c *Cutter) Watch(f func(op Op, when When)) *Cutter {
	c.watch = f
	return c
}

// Do runs op through do, unless the process is dead by now. At the cut it
// runs do or not (When) and returns ErrCut either way.
func (c *Cutter) Do(op Op, do func() error) error {
	if c.dead.Load() {
		return ErrCut
	}
	n := c.n.Add(1)
	if rec := c.record.Load(); rec || n == c.at {
		c.mu.Lock()
		if rec {
			c.ops = append(c.ops, op)
		}
		if n == c.at {
			c.cut = &op
		}
		c.mu.Unlock()
	}
	if n != c.at {
		if c.watch == nil {
			return do()
		}
		c.watch(op, Before)
		err := do()
		c.watch(op, After)
		return err
	}
	if c.when == After {
		do()
	}
	c.dead.Store(true)
	return ErrCut
}

// Opened registers a descriptor the process holds: Kill closes it, as the
// kernel closes a dead process's descriptors (and with them its locks).
func (c *Cutter) Opened(f io.Closer) {
	c.mu.Lock()
	c.files = append(c.files, f)
	c.mu.Unlock()
}

// Kill ends the process: every further operation fails, and every
// descriptor registered with Opened is closed.
func (c *Cutter) Kill() {
	c.dead.Store(true)
	c.mu.Lock()
	files := c.files
	c.files = nil
	c.mu.Unlock()
	for _, f := range files {
		f.Close()
	}
}

// Count is how many operations were started, the cut one included.
func (c *Cutter) Count() int { return int(c.n.Load()) }

// Cut says which operation was cut, if one was.
func (c *Cutter) Cut() (Op, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut == nil {
		return Op{}, false
	}
	return *c.cut, true
}

// Ops is every operation seen (with Record), in order.
func (c *Cutter) Ops() []Op {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Op(nil), c.ops...)
}
