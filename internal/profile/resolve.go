package profile

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// DefaultPath is the profile every command plans with, read inside --root
// (an image's own, never the build machine's): the Debian package's
// conffile, and where firstboot install --profile puts one. --profile FILE
// replaces it; --no-profile sets it aside for the platform defaults.
const DefaultPath = platform.ProfileFile

// Kind says where the profile a plan was made with came from.
type Kind string

const (
	// KindRoot is DefaultPath, read inside the root.
	KindRoot Kind = "root"
	// KindFile is the file --profile named, read on the machine running
	// the command (a file or a pipe), not in the root.
	KindFile Kind = "file"
	// KindAbsent: the root has no DefaultPath, so the platform defaults.
	KindAbsent Kind = "absent"
	// KindNone is --no-profile: the platform defaults, whatever the root
	// holds.
	KindNone Kind = "none"
)

// Origin is which profile a plan was made with: shown with the plan and
// kept in a saved plan.
type Origin struct {
	Kind Kind `json:"kind"`
	// Path is the file read (KindRoot: DefaultPath, in the root; KindFile:
	// as --profile named it) or looked for (KindAbsent: DefaultPath);
	// empty for KindNone.
	Path string `json:"path,omitempty"`
}

// String says it for a person, e.g. "/etc/ezedge-host/profile.yaml in the
// root" or "platform defaults (no /etc/ezedge-host/profile.yaml in the
// root)".
func (o Origin) String() string {
	switch o.Kind {
	case KindRoot:
		return printable(o.Path) + " in the root"
	case KindFile:
		return printable(o.Path) + " (--profile)"
	case KindAbsent:
		return "platform defaults (no " + printable(o.Path) + " in the root)"
	case KindNone:
		return "platform defaults (--no-profile)"
	}
	return "unknown (" + printable(string(o.Kind)) + ")"
}

// check refuses an origin that is not one Resolve makes, or that does not
// go with the profile bytes beside it (hasData): a saved plan is read back
// from a file anyone may have edited.
func (o Origin) check(hasData bool) error {
	switch o.Kind {
	case KindRoot, KindAbsent:
		if o.Path != DefaultPath {
			return fmt.Errorf("path %q: want %s", o.Path, DefaultPath)
		}
	case KindFile:
		if o.Path == "" {
			return fmt.Errorf("kind file without a path")
		}
	case KindNone:
		if o.Path != "" {
			return fmt.Errorf("kind none with a path")
		}
	default:
		return fmt.Errorf("kind %q: want root, file, absent or none", o.Kind)
	}
	if read := o.Kind == KindRoot || o.Kind == KindFile; read != hasData {
		if read {
			return fmt.Errorf("kind %s without the profile read", o.Kind)
		}
		return fmt.Errorf("kind %s with a profile", o.Kind)
	}
	return nil
}

// Source is where a command takes its profile from; Resolve reads it.
// Every command that plans (plan, apply, check, resources --write,
// firstboot, the check timer's check, apply PLANFILE) resolves its profile
// through one Source. The zero Source is Default.
type Source struct {
	via  via
	name string
	// saved: the profile bytes kept in a plan file (nil: the platform
	// defaults) and where they came from.
	data   *string
	origin Origin
}

type via int

const (
	viaRoot via = iota
	viaFile
	viaNone
	viaSaved
)

// Default is the root's DefaultPath: every command's profile unless
// --profile or --no-profile says otherwise.
func Default() Source { return Source{via: viaRoot} }

// File is --profile name: a file (or a pipe) on the machine running the
// command, not in the root.
func File(name string) Source { return Source{via: viaFile, name: name} }

// None is --no-profile: the platform defaults.
func None() Source { return Source{via: viaNone} }

// Saved is the profile kept in plan file planFile (apply PLANFILE): data
// are its bytes (nil: the platform defaults), origin where it was read
// from when the plan was made. Nothing is read again: the plan is the
// approval of what that profile planned.
func Saved(planFile string, data *string, origin Origin) Source {
	return Source{via: viaSaved, name: planFile, data: data, origin: origin}
}

// Resolved is the profile a command plans with.
type Resolved struct {
	Origin  Origin
	Choices tasks.Choices
	// Data are the bytes read, kept in a saved plan; nil for the platform
	// defaults.
	Data []byte
}

// Resolve reads the profile s names, for the root at h. An absent
// DefaultPath is the platform defaults; any other problem (a profile that
// is not valid, a file that is not a regular file, too large, a link that
// leads nowhere in the root) is an error naming the file, and the command
// changes nothing.
func (s Source) Resolve(h *hostroot.Root) (*Resolved, error) {
	switch s.via {
	case viaNone:
		return &Resolved{Origin: Origin{Kind: KindNone}}, nil
	case viaFile:
		b, err := Read(s.name)
		if err != nil {
			return nil, err
		}
		c, err := Parse(s.name, b)
		if err != nil {
			return nil, err
		}
		return &Resolved{Origin: Origin{KindFile, s.name}, Choices: c, Data: b}, nil
	case viaSaved:
		if err := s.origin.check(s.data != nil); err != nil {
			return nil, fmt.Errorf("plan file %s: profile_origin: %s", printable(s.name), printable(err.Error()))
		}
		r := &Resolved{Origin: s.origin}
		if s.data != nil {
			r.Data = []byte(*s.data)
			c, err := Parse(s.name+" (its profile)", r.Data)
			if err != nil {
				return nil, err
			}
			r.Choices = c
		}
		return r, nil
	}
	b, absent, err := readInRoot(h)
	if err != nil {
		return nil, err
	}
	if absent {
		return &Resolved{Origin: Origin{KindAbsent, DefaultPath}}, nil
	}
	c, err := Parse(DefaultPath, b)
	if err != nil {
		return nil, err
	}
	return &Resolved{Origin: Origin{KindRoot, DefaultPath}, Choices: c, Data: b}, nil
}

// readInRoot reads DefaultPath inside the root at h as every file in a
// root is read (it is the image's, untrusted): a regular file, never a
// FIFO, device, socket or directory, of at most MaxSize bytes, a symbolic
// link followed inside the root. absent is true only when there is no such
// file; a link that leads nowhere in the root (one made for another
// machine's files, or pointing out of the root) is an error, not an
// absence, so it never falls back to the platform defaults unnoticed.
func readInRoot(h *hostroot.Root) (b []byte, absent bool, err error) {
	fail := func(err error) ([]byte, bool, error) {
		return nil, false, fmt.Errorf("profile %s: %v", DefaultPath, unwrap(err))
	}
	parts := strings.Split(strings.TrimPrefix(DefaultPath, "/"), "/")
	for i := range parts {
		p := "/" + path.Join(parts[:i+1]...)
		st, err := h.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, true, nil
		}
		if err != nil {
			return fail(err)
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		if _, err := h.Stat(p); err != nil {
			target, _ := h.Readlink(p)
			what := "is"
			if p != DefaultPath {
				what = p + " is"
			}
			if errors.Is(err, fs.ErrNotExist) {
				return fail(fmt.Errorf("%s a symbolic link to %q, which leads to no file in the root", what, target))
			}
			return fail(fmt.Errorf("%s a symbolic link to %q: %v", what, target, unwrap(err)))
		}
	}
	if b, err = h.ReadFileLimit(DefaultPath, MaxSize); err != nil {
		return fail(err)
	}
	return b, false, nil
}

// unwrap drops the *fs.PathError's operation and path: the message names
// the profile itself.
func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// FromFlags is the source --profile FILE (given: the flag was set) and
// --no-profile (none) name: the file, the platform defaults, or the root's
// own DefaultPath; both, or an empty FILE, are refused (one way to say
// each).
func FromFlags(file string, given, none bool) (Source, error) {
	switch {
	case none && given:
		return Source{}, fmt.Errorf("--profile and --no-profile: give one (--profile FILE instead of the root's %s, --no-profile for the platform defaults)", DefaultPath)
	case none:
		return None(), nil
	case given && file == "":
		return Source{}, fmt.Errorf("--profile: no file named (leave --profile out for the root's %s, or give --no-profile for the platform defaults)", DefaultPath)
	case given:
		return File(file), nil
	}
	return Default(), nil
}
