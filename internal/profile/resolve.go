package profile

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// DefaultPath is the first layer of every command's profile, read inside
// --root (an image's own, never the build machine's): the Debian package's
// conffile, and where firstboot install --profile puts one.
const DefaultPath = platform.ProfileFile

// DropInDir holds the layers read after DefaultPath, inside --root: its
// *.yaml files in lexical order (DropIn says which names are read).
const DropInDir = "/etc/ezedge-host/profile.d"

// configDir holds DefaultPath and DropInDir.
const configDir = "/etc/ezedge-host"

// MaxLayers bounds the files a profile is made of: DefaultPath, the
// DropInDir files and the --profile files together.
const MaxLayers = 64

// Kind says what a profile was made of.
type Kind string

const (
	// KindLayers: one file or more was read (Origin.Layers).
	KindLayers Kind = "layers"
	// KindAbsent: the root has neither DefaultPath nor a DropInDir file,
	// and no --profile was given: the platform defaults.
	KindAbsent Kind = "absent"
	// KindNone is --no-profile: the platform defaults, whatever the root
	// holds.
	KindNone Kind = "none"
)

// Where says where a layer was read.
type Where string

const (
	// InRoot is DefaultPath or a DropInDir file, read inside the root.
	InRoot Where = "root"
	// FromFlag is a file --profile named, read on the machine running the
	// command (a file or a pipe), layered after the root's.
	FromFlag Where = "file"
	// ToInstall is the file firstboot install --profile named: it becomes
	// the image's DefaultPath, the first layer of the image's profile.
	ToInstall Where = "install"
)

// Layer is one file of a profile.
type Layer struct {
	// Path is the file: in the root for InRoot, as named otherwise.
	Path  string `json:"path"`
	Where Where  `json:"where"`
}

// Origin is what a plan's profile was made of: shown with the plan and
// kept in a saved plan.
type Origin struct {
	Kind Kind `json:"kind"`
	// Layers are the files read, in the order they were merged (the
	// later overriding the earlier key by key).
	Layers []Layer `json:"layers"`
	// Settings are the keys the layers set, in the task registry's order,
	// each with where it was set (its provenance).
	Settings []Setting `json:"settings"`
}

// String says it for a person, e.g. "/etc/ezedge-host/profile.yaml,
// /etc/ezedge-host/profile.d/10-pi5.yaml in the root, then edge.yaml
// (--profile)" or "platform defaults (--no-profile)".
func (o Origin) String() string {
	switch o.Kind {
	case KindNone:
		return "platform defaults (--no-profile)"
	case KindAbsent:
		return "platform defaults (no " + DefaultPath + " or " + DropInDir + "/*.yaml in the root)"
	case KindLayers:
		var parts []string
		for i := 0; i < len(o.Layers); {
			var names []string
			j := i
			for ; j < len(o.Layers) && o.Layers[j].Where == o.Layers[i].Where; j++ {
				names = append(names, printable(o.Layers[j].Path))
			}
			parts = append(parts, strings.Join(names, ", ")+o.Layers[i].Where.suffix())
			i = j
		}
		return strings.Join(parts, ", then ")
	}
	return "unknown (" + printable(string(o.Kind)) + ")"
}

func (w Where) suffix() string {
	switch w {
	case InRoot:
		return " in the root"
	case FromFlag:
		return " (--profile)"
	case ToInstall:
		return " (--profile, to be the image's " + DefaultPath + ")"
	}
	return " (" + printable(string(w)) + ")"
}

// Source is where a command takes its profile from; Resolve reads it.
// Every command that plans (plan, apply, check, resources --write,
// firstboot, the check timer's check, apply PLANFILE) resolves its profile
// through one Source. The zero Source is Default.
type Source struct {
	via     via
	files   []string
	install string
	// saved: a plan file's name and the profile kept in it.
	planFile string
	record   Record
}

type via int

const (
	viaRoot via = iota
	viaNone
	viaInstall
	viaSaved
)

// Default is the root's layers, DefaultPath then the DropInDir files:
// every command's profile unless --profile or --no-profile says more.
func Default() Source { return Source{via: viaRoot} }

// Files is --profile names...: the root's layers, then each file (or pipe)
// on the machine running the command, in the order given.
func Files(names ...string) Source { return Source{via: viaRoot, files: names} }

// None is --no-profile: the platform defaults.
func None() Source { return Source{via: viaNone} }

// Install is firstboot install --profile name: the profile the image's
// first boot will read once name is its DefaultPath, name then the image's
// DropInDir files.
func Install(name string) Source { return Source{via: viaInstall, install: name} }

// Saved is the profile kept in plan file planFile (apply PLANFILE): its
// layers' bytes and what they set when the plan was made. Nothing is read
// again: the plan is the approval of what that profile planned.
func Saved(planFile string, r Record) Source {
	return Source{via: viaSaved, planFile: planFile, record: r}
}

// Resolved is the profile a command plans with.
type Resolved struct {
	Origin  Origin
	Choices tasks.Choices
	// Data are the bytes of each layer, in Origin.Layers' order: what a
	// saved plan keeps.
	Data [][]byte
	// Ignored are the names in DropInDir that are not layers.
	Ignored []Ignored
}

// Ignored is a name in DropInDir that is not read, and why.
type Ignored struct {
	Path, Why string
}

// Installed is the bytes firstboot install puts in the image as its
// DefaultPath (Install); nil for every other source.
func (r *Resolved) Installed() []byte {
	for i, l := range r.Origin.Layers {
		if l.Where == ToInstall {
			return r.Data[i]
		}
	}
	return nil
}

// Resolve reads the profile s names, for the root at h: each layer read
// and checked on its own, then merged. An absent DefaultPath or DropInDir
// is no layer; any other problem (a layer that is not valid, a file that
// is not a regular file or too large, a link that leads nowhere in the
// root, more than MaxLayers files) is an error naming the file, every
// layer's problems together, and the command changes nothing.
func (s Source) Resolve(h *hostroot.Root) (*Resolved, error) {
	switch s.via {
	case viaNone:
		return &Resolved{Origin: Origin{Kind: KindNone, Layers: []Layer{}, Settings: []Setting{}}}, nil
	case viaSaved:
		return s.resolveSaved()
	}
	// Every layer is read and decoded, so that every problem of every
	// layer is said at once, in layer order.
	var r Resolved
	var errs []string
	var layers []*layer
	add := func(l Layer, b []byte, err error) {
		if err == nil {
			var dl *layer
			if dl, err = decodeLayer(l.Path, b); err == nil {
				r.Origin.Layers = append(r.Origin.Layers, l)
				r.Data = append(r.Data, b)
				layers = append(layers, dl)
				return
			}
		}
		errs = append(errs, err.Error())
	}
	if s.via == viaInstall {
		b, err := Read(s.install)
		add(Layer{s.install, ToInstall}, b, err)
	}
	// Both the root's places are in one directory: a problem with it is
	// said once.
	var names []string
	st, absent, err := lookInRoot(h, configDir)
	switch {
	case absent:
	case err != nil:
		errs = append(errs, err.Error())
	case !st.IsDir():
		errs = append(errs, fmt.Sprintf("profile %s: is %s, not a directory", configDir, typeOf(st.Mode())))
	default:
		if s.via != viaInstall {
			b, absent, err := readInRoot(h, DefaultPath)
			if !absent {
				add(Layer{DefaultPath, InRoot}, b, err)
			}
		}
		if names, r.Ignored, err = dropIns(h); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if n := len(r.Origin.Layers) + len(names) + len(s.files); n > MaxLayers {
		return nil, fmt.Errorf("profile %s: %d files, %d layers with %s and --profile: a profile has at most %d", DropInDir, len(names), n, DefaultPath, MaxLayers)
	}
	for _, p := range names {
		b, absent, err := readInRoot(h, p)
		if !absent {
			add(Layer{p, InRoot}, b, err)
		}
	}
	for _, f := range s.files {
		b, err := Read(f)
		add(Layer{f, FromFlag}, b, err)
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	if len(r.Origin.Layers) == 0 {
		r.Origin = Origin{Kind: KindAbsent, Layers: []Layer{}, Settings: []Setting{}}
		return &r, nil
	}
	r.Origin.Kind = KindLayers
	if r.Choices, r.Origin.Settings, err = merge(r.Origin.Layers, layers); err != nil {
		return nil, err
	}
	return &r, nil
}

// merge decodes each of r's layers on its own, then merges them into
// r.Choices and r.Origin.Settings.
func (r *Resolved) merge() error {
	var errs []string
	layers := make([]*layer, len(r.Data))
	for i, b := range r.Data {
		l, err := decodeLayer(r.Origin.Layers[i].Path, b)
		if err != nil {
			errs = append(errs, err.Error())
		}
		layers[i] = l
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	c, settings, err := merge(r.Origin.Layers, layers)
	if err != nil {
		return err
	}
	r.Choices, r.Origin.Settings = c, settings
	return nil
}

// DropIn says whether name, in DropInDir, is a layer: as systemd reads its
// *.conf.d directories (conf_files_list), a name ending in .yaml that is
// not hidden; "" when it is, else why it is not. Editors' and package
// managers' backups (~, .dpkg-old, .dpkg-new, .dpkg-dist, .ucf-old, .bak,
// .swp…: systemd's hidden_or_backup_file) never end in .yaml, and are
// named as backups.
func DropIn(name string) (why string) {
	switch {
	case !utf8.ValidString(name):
		// Its name could not be kept in a saved plan (JSON) as it is.
		return "its name is not UTF-8"
	case strings.HasPrefix(name, "."):
		return "hidden (its name starts with a dot)"
	case strings.HasSuffix(name, "~") || slices.Contains(backups, path.Ext(name)):
		return "a backup (an editor's or a package manager's)"
	case !strings.HasSuffix(name, ".yaml"):
		return "not *.yaml"
	}
	return ""
}

// backups are the suffixes of systemd's hidden_or_backup_file.
var backups = []string{".ignore", ".rpmnew", ".rpmsave", ".rpmorig", ".dpkg-old", ".dpkg-new", ".dpkg-tmp", ".dpkg-dist", ".dpkg-bak", ".dpkg-backup", ".dpkg-remove", ".ucf-new", ".ucf-old", ".ucf-dist", ".swp", ".bak", ".old", ".new"}

// dropIns lists DropInDir inside the root at h: the paths of its layers in
// lexical (byte) order, and the names it ignores. No DropInDir is no
// layer; DropInDir that is not a directory is an error naming it.
func dropIns(h *hostroot.Root) ([]string, []Ignored, error) {
	st, absent, err := lookInRoot(h, DropInDir)
	if absent || err != nil {
		return nil, nil, err
	}
	if !st.IsDir() {
		return nil, nil, fmt.Errorf("profile %s: is %s, not a directory", DropInDir, typeOf(st.Mode()))
	}
	ents, err := h.ReadDir(DropInDir)
	if err != nil {
		return nil, nil, fmt.Errorf("profile %s: %v", DropInDir, unwrap(err))
	}
	var names []string
	var ignored []Ignored
	for _, e := range ents {
		p := DropInDir + "/" + e.Name()
		if why := DropIn(e.Name()); why != "" {
			ignored = append(ignored, Ignored{p, why})
			continue
		}
		names = append(names, p)
	}
	// ReadDir sorts by byte order already; the order is the profile's
	// meaning, so it is said here too.
	slices.Sort(names)
	return names, ignored, nil
}

// typeOf says what a file that is not a directory is.
func typeOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m.IsRegular():
		return "a regular file"
	}
	return "not a directory"
}

// readInRoot reads p inside the root at h as every file in a root is read
// (it is the image's, untrusted): a regular file, never a FIFO, device,
// socket or directory, of at most MaxSize bytes, a symbolic link followed
// inside the root. absent is true only when there is no such file.
func readInRoot(h *hostroot.Root, p string) (b []byte, absent bool, err error) {
	if _, absent, err = lookInRoot(h, p); absent || err != nil {
		return nil, absent, err
	}
	if b, err = h.ReadFileLimit(p, MaxSize); err != nil {
		return nil, false, fmt.Errorf("profile %s: %v", printable(p), unwrap(err))
	}
	return b, false, nil
}

// lookInRoot finds p inside the root at h, following symbolic links inside
// it, and stats what it leads to. absent is true only when there is no
// such path; a link that leads nowhere in the root (one made for another
// machine's files, or pointing out of the root) is an error, not an
// absence, so that a layer is never left out unnoticed.
func lookInRoot(h *hostroot.Root, p string) (st fs.FileInfo, absent bool, err error) {
	fail := func(err error) (fs.FileInfo, bool, error) {
		return nil, false, fmt.Errorf("profile %s: %v", printable(p), unwrap(err))
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i := range parts {
		q := "/" + path.Join(parts[:i+1]...)
		st, err := h.Lstat(q)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, true, nil
		}
		if err != nil {
			return fail(err)
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		if _, err := h.Stat(q); err != nil {
			target, _ := h.Readlink(q)
			what := "is"
			if q != p {
				what = q + " is"
			}
			if errors.Is(err, fs.ErrNotExist) {
				return fail(fmt.Errorf("%s a symbolic link to %q, which leads to no file in the root", what, target))
			}
			return fail(fmt.Errorf("%s a symbolic link to %q: %v", what, target, unwrap(err)))
		}
	}
	if st, err = h.Stat(p); err != nil {
		return fail(err)
	}
	return st, false, nil
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

// FromFlags is the source --profile FILE... (files, in the order given)
// and --no-profile (none) name: the root's layers, then the files; the
// platform defaults; both, an empty FILE or one given twice are refused
// (one way to say each).
func FromFlags(files []string, none bool) (Source, error) {
	switch {
	case none && len(files) > 0:
		return Source{}, fmt.Errorf("--profile and --no-profile: give one (--profile FILE layers FILE over the root's %s and %s/*.yaml, --no-profile plans with the platform defaults)", DefaultPath, DropInDir)
	case none:
		return None(), nil
	}
	for i, f := range files {
		if f == "" {
			return Source{}, fmt.Errorf("--profile: no file named (leave --profile out for the root's %s and %s/*.yaml, or give --no-profile for the platform defaults)", DefaultPath, DropInDir)
		}
		if slices.Contains(files[:i], f) {
			return Source{}, fmt.Errorf("--profile %s: given twice", printable(f))
		}
	}
	return Files(files...), nil
}

// FromInstallFlag is the source of firstboot install: --profile FILE
// (given: the flag was set) becomes the image's DefaultPath; without it,
// the image's own layers.
func FromInstallFlag(file string, given bool) (Source, error) {
	switch {
	case given && file == "":
		return Source{}, fmt.Errorf("--profile: no file named (leave --profile out for the image's own %s)", DefaultPath)
	case given:
		return Install(file), nil
	}
	return Default(), nil
}
