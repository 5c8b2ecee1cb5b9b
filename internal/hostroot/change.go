package hostroot

import (
	"io/fs"
	"os"
	"path"

	"github.com/ezansiedgeai/ezedge-host/internal/crashpoint"
)

// Every operation of this package that changes the file system under the
// root goes through change, one operation (one system call) each, so that
// a crash test can cut a run at any of them (package crashpoint).
// TestEveryChangeIsCounted fails on a call that changes the file system
// anywhere else in the package, and the adversarial suite compares what
// change sees with the system calls a real run makes.

// SetCutter attaches a crash test's cutter to the root: from then on every
// change to the file system is counted by it and can be cut. Call it
// before the root is used. Only a test can make a cutter.
func (h *Root) SetCutter(c *crashpoint.Cutter) { h.cut = c }

// change runs do, which makes the one change k to name (a host path).
func (h *Root) change(k crashpoint.Kind, name string, do func() error) error {
	if h.cut == nil {
		return do()
	}
	return h.cut.Do(crashpoint.Op{Kind: k, Path: path.Clean("/" + name)}, do)
}

// syncDir fsyncs the directory d, whose host path is name.
func (h *Root) syncDir(d *os.Root, name string) error {
	return h.change(crashpoint.SyncDir, name, func() error {
		f, err := d.Open(".")
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
}

// File is a file of ezedge-host's own store opened with OpenPrivate (the
// lock, a journal). Its changes go through the root like every other.
type File struct {
	f    *os.File
	h    *Root
	name string
}

func (h *Root) newFile(f *os.File, name string) *File {
	if h.cut != nil {
		h.cut.Opened(f)
	}
	return &File{f: f, h: h, name: name}
}

// Fd is the file's descriptor (for fcntl locks).
func (f *File) Fd() uintptr { return f.f.Fd() }

// Stat stats the open file.
func (f *File) Stat() (fs.FileInfo, error) { return f.f.Stat() }

// ReadAt reads at an offset.
func (f *File) ReadAt(b []byte, off int64) (int, error) { return f.f.ReadAt(b, off) }

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// Write appends or writes at the file offset.
func (f *File) Write(b []byte) (n int, err error) {
	err = f.h.change(crashpoint.Write, f.name, func() error {
		n, err = f.f.Write(b)
		return err
	})
	return n, err
}

// WriteAt writes at an offset.
func (f *File) WriteAt(b []byte, off int64) (n int, err error) {
	err = f.h.change(crashpoint.Write, f.name, func() error {
		n, err = f.f.WriteAt(b, off)
		return err
	})
	return n, err
}

// Truncate cuts the file to size bytes.
func (f *File) Truncate(size int64) error {
	return f.h.change(crashpoint.Truncate, f.name, func() error { return f.f.Truncate(size) })
}

// Sync makes the file's contents durable.
func (f *File) Sync() error {
	return f.h.change(crashpoint.Sync, f.name, func() error { return f.f.Sync() })
}
