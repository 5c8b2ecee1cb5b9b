// Package resource holds the few kinds of thing ezedge-host changes (a
// sysctl, a sysfs attribute, a whole file, a systemd unit's links and
// state) and the State each is read into. A resource reads its current
// state, writes a desired one and restores a captured one; plan, apply,
// restore, drift and saved plans all go through these.
package resource

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"syscall"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// Layer says whether a change acts on the live kernel or on a file that
// makes it survive a reboot.
type Layer string

const (
	Runtime    Layer = "runtime"
	Persistent Layer = "persistent"
)

// State is a resource's value at one moment, exact to the byte, so that a
// restore puts back precisely what was there.
type State struct {
	Exists bool   `json:"exists"`
	Data   []byte `json:"data,omitempty"`
	// Digest is the SHA-256 (hex) of Data when the bytes are kept out of
	// line (a large file's prior contents in the snapshot store) and Data
	// is not loaded; Size is then their length.
	Digest string `json:"sha256,omitempty"`
	Size   int64  `json:"size,omitempty"`
	// ModTime is a file's modification time as read (nanoseconds), so a
	// large file known by digest can be seen unchanged without reading it
	// (Unchanged). It is not part of the value: Equal ignores it.
	ModTime int64  `json:"mtime_ns,omitempty"`
	Mode    uint32 `json:"mode,omitempty"`
	UID     int    `json:"uid,omitempty"`
	GID     int    `json:"gid,omitempty"`
	// MissingDirs are the parent directories that did not exist either,
	// deepest last, so restoring absence removes what apply created.
	MissingDirs []string `json:"missing_dirs,omitempty"`
}

// Len is the length of the state's bytes, loaded or not.
func (s State) Len() int64 {
	if s.Digest != "" && s.Data == nil {
		return s.Size
	}
	return int64(len(s.Data))
}

// sameData compares two states' bytes, by digest where one is not loaded.
func sameData(a, b State) bool {
	switch {
	case a.Digest == "" && b.Digest == "":
		return bytes.Equal(a.Data, b.Data)
	case a.Digest != "" && b.Digest != "":
		return a.Digest == b.Digest
	case a.Digest != "":
		return a.Digest == Digest(b.Data)
	}
	return b.Digest == Digest(a.Data)
}

// Digest is the SHA-256 of b, hex.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Kind is a resource kind; it prefixes the resource's ID.
type Kind string

const (
	KindSysctl Kind = "sysctl"
	KindSysfs  Kind = "sysfs"
	KindFile   Kind = "file"
	KindUnit   Kind = "unit"
)

// Resource is one thing ezedge-host can change.
type Resource interface {
	Kind() Kind
	Name() string
	Layer() Layer
	Read(h *hostroot.Root) (State, error)
	// Write makes the resource hold s (the desired state on apply, the
	// captured one on restore). It is idempotent and finishes what an
	// interrupted Write of the same state left (a temporary file, a
	// directory), so a restore can run again from any point.
	Write(h *hostroot.Root, s State) error
	// Equal compares two states the way the kernel or the file system
	// would tell them apart.
	Equal(a, b State) bool
	// Show renders a state for the plan.
	Show(s State) string
}

// ID identifies a resource in plans and snapshots.
func ID(r Resource) string { return string(r.Kind()) + ":" + r.Name() }

var (
	sysctlKey = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_-]+)+$`)
	sysfsPath = regexp.MustCompile(`^/sys(/[A-Za-z0-9_.:@+-]+)+$`)
	unitName  = regexp.MustCompile(`^[A-Za-z0-9:_.@\\-]+\.(service|socket|timer|target|path|mount)$`)
)

// FromID rebuilds a resource from its ID as read from a snapshot journal.
// Nothing read from a root is trusted: only the shapes of resource that
// ezedge-host itself makes are accepted (a sysctl key, an attribute under
// /sys, a unit name, a file it manages), so an edited journal cannot name
// /etc/shadow or a path with "..".
func FromID(id string) (Resource, error) {
	kind, name, ok := strings.Cut(id, ":")
	if !ok {
		return nil, fmt.Errorf("resource %q: no kind", id)
	}
	bad := func(what string) (Resource, error) {
		return nil, fmt.Errorf("resource %q: not %s ezedge-host manages", id, what)
	}
	switch Kind(kind) {
	case KindSysctl:
		if !sysctlKey.MatchString(name) {
			return bad("a sysctl key")
		}
		return Sysctl(name), nil
	case KindSysfs:
		if !sysfsPath.MatchString(name) || path.Clean(name) != name || strings.Contains(name, "/../") || strings.HasSuffix(name, "/..") {
			return bad("a kernel attribute")
		}
		return SysfsAttr(name), nil
	case KindFile:
		if _, ok := ruleFor(name); !ok || path.Clean(name) != name {
			return bad("a file")
		}
		return File(name), nil
	case KindKernelArg:
		i := strings.LastIndexByte(name, ':')
		if i < 0 {
			return bad("a kernel argument")
		}
		file, key := name[:i], name[i+1:]
		_, managed := ruleFor(file)
		if _, ok := FormatOf(file); !ok || !managed || path.Clean(file) != file || !kargKey.MatchString(key) {
			return bad("a kernel argument")
		}
		return KernelArgIn(file, key), nil
	case KindUnit:
		if !unitName.MatchString(name) {
			return bad("a systemd unit")
		}
		return Unit(name), nil
	}
	return nil, fmt.Errorf("resource %q: unknown kind %q", id, kind)
}

// Attr is a kernel attribute under /proc/sys or /sys: written in place with
// one write, read back through the kernel's own formatting.
type Attr struct {
	kind       Kind
	name, path string
}

// Sysctl is the kernel parameter key ("vm.swappiness") at /proc/sys.
func Sysctl(key string) *Attr {
	return &Attr{kind: KindSysctl, name: key, path: "/proc/sys/" + strings.ReplaceAll(key, ".", "/")}
}

// SysfsAttr is an attribute file under /sys.
func SysfsAttr(p string) *Attr { return &Attr{kind: KindSysfs, name: p, path: p} }

func (a *Attr) Kind() Kind   { return a.kind }
func (a *Attr) Name() string { return a.name }
func (a *Attr) Layer() Layer { return Runtime }
func (a *Attr) Show(s State) string {
	if !s.Exists {
		return "(absent)"
	}
	return Normalize(s.Data)
}

func (a *Attr) Read(h *hostroot.Root) (State, error) {
	b, err := h.ReadFile(a.path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, err
	}
	return State{Exists: true, Data: b}, nil
}

func (a *Attr) Write(h *hostroot.Root, s State) error {
	if !s.Exists {
		// A kernel attribute that was absent cannot be made absent.
		return nil
	}
	err := h.WriteInPlace(a.path, s.Data)
	if err != nil && errors.Is(err, syscall.EINVAL) {
		// A captured selection attribute ("always [madvise] never") is not
		// what the kernel takes back: it takes the selected word.
		if n := Normalize(s.Data); n != string(bytes.TrimSpace(s.Data)) {
			err = h.WriteInPlace(a.path, []byte(n+"\n"))
		}
	}
	return err
}

func (a *Attr) Equal(x, y State) bool {
	if x.Exists != y.Exists {
		return false
	}
	return Normalize(x.Data) == Normalize(y.Data)
}

// Value is the desired state of an attribute holding v.
func Value(v string) State { return State{Exists: true, Data: []byte(v + "\n")} }

// Normalize reads a kernel attribute the way it compares: the bracketed
// choice of a selection list, otherwise the words joined by one space (the
// kernel prints tcp_rmem with tabs).
func Normalize(b []byte) string {
	// Device-tree strings end in NUL; a NUL anywhere is a separator.
	f := strings.Fields(strings.ReplaceAll(string(b), "\x00", " "))
	for _, w := range f {
		// Only a kernel selector ("[madvise]") counts; a word with more
		// brackets inside is a value, or Normalize would not be stable.
		if len(w) > 2 && w[0] == '[' && w[len(w)-1] == ']' && !strings.ContainsAny(w[1:len(w)-1], "[]") {
			return w[1 : len(w)-1]
		}
	}
	return strings.Join(f, " ")
}

// FileRes is a whole file that ezedge-host owns or edits, keeping the
// prior bytes in the snapshot. Which files it may touch, and how, is
// decided by path (files.go).
type FileRes struct {
	path string
	rule fileRule
}

// File is the file at host path p.
func File(p string) *FileRes {
	r, _ := ruleFor(p)
	return &FileRes{path: p, rule: r}
}

func (f *FileRes) Kind() Kind   { return KindFile }
func (f *FileRes) Name() string { return f.path }
func (f *FileRes) Layer() Layer { return Persistent }
func (f *FileRes) Show(s State) string {
	if !s.Exists {
		return "(absent)"
	}
	if s.Data == nil && s.Digest != "" {
		return fmt.Sprintf("%d bytes, mode %04o", s.Size, s.Mode&0o7777)
	}
	if t := bytes.TrimSuffix(s.Data, []byte("\n")); len(t) <= 24 && !bytes.ContainsAny(t, "\n") {
		return fmt.Sprintf("%q, mode %04o", t, s.Mode&0o7777)
	}
	n := bytes.Count(s.Data, []byte("\n"))
	if len(s.Data) > 0 && s.Data[len(s.Data)-1] != '\n' {
		n++
	}
	return fmt.Sprintf("%d lines, %d bytes, mode %04o", n, len(s.Data), s.Mode&0o7777)
}

func (f *FileRes) Read(h *hostroot.Root) (State, error) {
	p, err := f.rule.locate(h, f.path)
	if err != nil {
		return State{}, err
	}
	st, err := h.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		s := State{}
		for d := path.Dir(f.path); d != "/" && !h.Exists(d); d = path.Dir(d) {
			s.MissingDirs = append([]string{d}, s.MissingDirs...)
		}
		return s, nil
	}
	if err != nil {
		return State{}, err
	}
	b, err := h.ReadFileLimit(p, f.rule.limit)
	if err != nil {
		return State{}, err
	}
	s := State{Exists: true, Data: b, Mode: uint32(st.Mode().Perm()), ModTime: st.ModTime().UnixNano()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		s.UID, s.GID = int(sys.Uid), int(sys.Gid)
	}
	return s, nil
}

// Unchanged reports, without reading the file, whether it is still the
// one st was read from: a state known by digest (a large file), whose size
// and modification time the file still has, with the same mode. False means
// only that it must be read to tell.
func (f *FileRes) Unchanged(h *hostroot.Root, st State) bool {
	if !st.Exists || st.Digest == "" || st.ModTime == 0 {
		return false
	}
	p, err := f.rule.locate(h, f.path)
	if err != nil {
		return false
	}
	fi, err := h.Lstat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Size() == st.Size && fi.ModTime().UnixNano() == st.ModTime && uint32(fi.Mode().Perm()) == st.Mode
}

// Write makes the file hold s. Whatever an interrupted write left (the
// temporary file, the directories made for a new file) is cleaned up
// first, and a file already holding s is not rewritten.
func (f *FileRes) Write(h *hostroot.Root, s State) error {
	p, err := f.rule.locate(h, f.path)
	if err != nil {
		return err
	}
	if err := h.RemoveTemp(p); err != nil {
		return err
	}
	if !s.Exists {
		if err := h.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		for i := len(s.MissingDirs) - 1; i >= 0; i-- {
			// One that now holds files of someone else's stays.
			if err := h.Remove(s.MissingDirs[i]); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
				return err
			}
		}
		return nil
	}
	if s.Data == nil && s.Digest != "" {
		return fmt.Errorf("%s: contents not loaded from the snapshot store", f.path)
	}
	if cur, err := f.Read(h); err == nil && cur.Exists && bytes.Equal(cur.Data, s.Data) && cur.Mode == s.Mode && (os.Geteuid() != 0 || cur.UID == s.UID && cur.GID == s.GID) {
		return nil
	}
	for d, missing := path.Dir(p), []string{}; ; d = path.Dir(d) {
		if d == "/" || h.Exists(d) {
			for i := len(missing) - 1; i >= 0; i-- {
				if err := h.Mkdir(missing[i], 0o755); err != nil {
					return err
				}
			}
			break
		}
		missing = append(missing, d)
	}
	return h.WriteAtomic(p, s.Data, fs.FileMode(s.Mode), s.UID, s.GID)
}

func (f *FileRes) Equal(x, y State) bool {
	if x.Exists != y.Exists {
		return false
	}
	return !x.Exists || (sameData(x, y) && x.Mode == y.Mode)
}

// Content is the desired state of a root-owned 0644 file holding b.
func Content(b []byte) State { return State{Exists: true, Data: b, Mode: 0o644} }
