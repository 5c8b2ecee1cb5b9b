package unitfile

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/hostpath"
)

// Root is the host a unit is read from: *hostroot.Root is one. Stat and
// ReadFile follow links inside the root; Lstat and Readlink do not.
type Root interface {
	Lstat(name string) (fs.FileInfo, error)
	Stat(name string) (fs.FileInfo, error)
	Readlink(name string) (string, error)
	ReadDir(name string) ([]fs.DirEntry, error)
	ReadFile(name string) ([]byte, error)
}

// place is one directory of systemd's unit path and when it holds units.
type place struct {
	dir string
	// boot is set for the directories of /run: at the next boot, the
	// one a change here is for, they hold what the generators make then
	// (gen) or nothing.
	boot bool
	gen  genDir
}

// genDir says which generator output directory a place is.
type genDir int

const (
	notGen genDir = iota
	genEarly
	genNormal
	genLate
)

// unitPath is systemd's system unit path on Debian (`systemd-analyze
// unit-paths`, systemd 252), highest precedence first.
var unitPath = []place{
	{dir: "/etc/systemd/system.control"},
	{dir: "/run/systemd/system.control", boot: true},
	{dir: "/run/systemd/transient", boot: true},
	{dir: "/run/systemd/generator.early", boot: true, gen: genEarly},
	{dir: "/etc/systemd/system"},
	{dir: "/etc/systemd/system.attached"},
	{dir: "/run/systemd/system", boot: true},
	{dir: "/run/systemd/system.attached", boot: true},
	{dir: "/run/systemd/generator", boot: true, gen: genNormal},
	{dir: "/usr/local/lib/systemd/system"},
	{dir: "/lib/systemd/system"},
	{dir: "/usr/lib/systemd/system"},
	{dir: "/run/systemd/generator.late", boot: true, gen: genLate},
}

// Generated is a unit a generator makes at boot.
type Generated struct {
	Name string
	// By names the generator and what it made the unit of
	// ("systemd-fstab-generator, from /etc/fstab line 6").
	By string
	// Late: the generator writes to generator.late (systemd-sysv-generator:
	// any unit on disk wins over it); otherwise to generator, which /etc
	// wins over and /usr/lib does not.
	Late bool
	// Settings are the unit's settings as the generator writes them.
	Settings []Setting
}

// Unit is a unit as systemd would load it at the next boot.
type Unit struct {
	Name string
	// Fragment is the file the unit is loaded from: the unit file, or
	// the link in the unit path to a file outside it (systemd names the
	// link; its contents are the target's). Target is what a link leads
	// to.
	Fragment, Target string
	// Generated is set when a generator makes the unit at boot.
	Generated *Generated
	// Masked names what masks it: a link to /dev/null, an empty file.
	Masked string
	// Problem says why systemd fails to load it (the file cannot be read,
	// is a directory, a link that leads nowhere, a file systemd refuses).
	Problem string
	// Passed are files at the unit's name that systemd passes over (a
	// directory, a FIFO, a link it refuses for the unit's type).
	Passed []Passed
	// Names are the unit's names: its own and its aliases.
	Names []string
	// DropIns are the drop-ins systemd lists after the fragment, in the
	// order it reads them (a masked one and a directory among them, which
	// add nothing).
	DropIns []string
	// Settings are the fragment's and the drop-ins' settings in the
	// order systemd applies them.
	Settings []Setting
	// Sections are the fragment's sections (LoadQuadlet).
	Sections []string
}

// Passed is a file at a unit's name that systemd passes over, going on
// to the next directory of the unit path.
type Passed struct {
	File, Why string
	// Same: a link to a unit file of the same name in the unit path,
	// which systemd ignores and loads that file by its name anyway.
	Same bool
}

func (p Passed) String() string { return p.File + ": " + p.Why }

// Exists reports whether systemd finds a unit file (or a mask, or a
// generated unit) under the name. Without one, Settings still holds the
// name's drop-ins.
func (u Unit) Exists() bool {
	return u.Fragment != "" || u.Generated != nil
}

// From names where the unit comes from, for messages.
func (u Unit) From() string {
	switch {
	case u.Generated != nil:
		return u.Generated.By
	case u.Target != "":
		return u.Fragment + " (a link to " + u.Target + ")"
	}
	return u.Fragment
}

// Last is the setting systemd ends up with for section/key, leaving out
// the files in skip: the last assignment wins and an empty one resets the
// key (ok false then, with the resetting assignment).
func (u Unit) Last(section, key string, skip ...string) (Setting, bool) {
	var last Setting
	found := false
	for _, s := range u.Settings {
		if s.Section != section || s.Key != key || slices.Contains(skip, s.File) {
			continue
		}
		last, found = s, true
	}
	return last, found && last.Value != ""
}

// All is every assignment of section/key in order, leaving out skip, with
// an empty one clearing those before it (list settings: ExecStart=,
// ListenStream=).
func (u Unit) All(section, key string, skip ...string) []Setting {
	var out []Setting
	for _, s := range u.Settings {
		if s.Section != section || s.Key != key || slices.Contains(skip, s.File) {
			continue
		}
		if s.Value == "" {
			out = nil
			continue
		}
		out = append(out, s)
	}
	return out
}

// maxHops is how many aliases systemd follows (FOLLOW_MAX).
const maxHops = 64

// entry is what a unit name maps to in systemd's name map.
type entry struct {
	// file is the fragment's path (a unit file, or a link to one outside
	// the unit path); alias is the unit name a link in the unit path
	// leads to; gen a unit made at boot.
	file, alias string
	gen         *Generated
	// target is a linked file's destination in the root.
	target string
}

// loader reads one root's unit path.
type loader struct {
	r Root
	// now: read /run as it is (what the running systemd has loaded),
	// not as the next boot has it.
	now     bool
	dirList []string
	gen     map[string]*Generated
	dirs    []string // the expanded unit path (directories and their resolutions)
	cache   map[string]lookupResult
}

type lookupResult struct {
	e      entry
	ok     bool
	passed []Passed
}

// Load reads unit name as systemd would at the next boot: gen are the
// units generators make then (a unit on disk in /etc wins over
// systemd-fstab-generator's, any unit on disk over
// systemd-sysv-generator's).
func Load(r Root, name string, gen ...Generated) Unit {
	l := &loader{r: r, gen: map[string]*Generated{}, cache: map[string]lookupResult{}}
	for i := range gen {
		l.gen[gen[i].Name] = &gen[i]
	}
	return l.load(name)
}

// LoadNow reads unit name as the running systemd has it: /run's
// directories as they are (generators' output, runtime units and
// drop-ins) instead of as the next boot will have them.
func LoadNow(r Root, name string) Unit {
	l := &loader{r: r, now: true, gen: map[string]*Generated{}, cache: map[string]lookupResult{}}
	return l.load(name)
}

// searchDirs are the directories the loader reads units and drop-ins
// from, highest precedence first. A directory that is a link to another
// of the list (/lib/systemd/system to /usr/lib/systemd/system on a
// merged-/usr root) is read once, under the other's name, as systemd 255
// and later name it.
func (l *loader) searchDirs() []string {
	if l.dirList != nil {
		return l.dirList
	}
	var all []string
	for _, p := range unitPath {
		if l.now || !p.boot {
			all = append(all, p.dir)
		}
	}
	l.dirList = []string{}
	for _, d := range all {
		if c, err := hostpath.Chase(l.r, d); err == nil && c != d && slices.Contains(all, c) {
			continue
		}
		l.dirList = append(l.dirList, d)
	}
	return l.dirList
}

// skipDir reports whether d is read under another name (searchDirs).
func (l *loader) skipDir(d string) bool { return !slices.Contains(l.searchDirs(), d) }

func (l *loader) load(name string) Unit {
	for _, d := range l.searchDirs() {
		l.dirs = append(l.dirs, d)
		if c, err := hostpath.Chase(l.r, d); err == nil && !slices.Contains(l.dirs, c) {
			l.dirs = append(l.dirs, c)
		}
	}
	u := Unit{Name: name, Names: []string{name}}
	if !validName(name) {
		u.Problem = fmt.Sprintf("%q is not a unit name ezedge-host reads", name)
		return u
	}
	id := name
	var e entry
	for hop := 0; ; hop++ {
		res := l.lookup(id)
		u.Passed = append(u.Passed, res.passed...)
		if !res.ok {
			// No fragment: systemd lists the name's drop-ins all the same
			// (the unit is not-found); their settings are kept for a
			// caller about to write the fragment.
			l.addDropIns(&u, nil)
			return u
		}
		e = res.e
		if e.alias == "" {
			break
		}
		if hop == maxHops {
			u.Problem = fmt.Sprintf("%s: more than %d aliases", name, maxHops)
			return u
		}
		id = e.alias
		if !slices.Contains(u.Names, id) {
			u.Names = append(u.Names, id)
		}
	}
	var parts []Parsed
	switch {
	case e.gen != nil:
		u.Generated = e.gen
		parts = append(parts, Parsed{Settings: e.gen.Settings})
	default:
		u.Fragment, u.Target = e.file, e.target
		p, masked, problem := l.readUnitFile(e.file, e.target)
		switch {
		case masked:
			u.Masked = u.From()
			return u
		case problem != "":
			u.Problem = problem
			return u
		}
		parts = append(parts, p)
	}
	u.Names = append(u.Names, l.aliasesOf(u.Names)...)
	l.addDropIns(&u, parts)
	return u
}

// addDropIns reads u's drop-ins after parts (its fragment) into its
// settings, as unit_load_dropin() does: each is parsed and a fault in one
// (a directory, a bad section header) only ends that file; a masked one
// (/dev/null, empty) adds nothing. One systemd would block on or cannot
// read at all (a FIFO, a socket, a file over hostroot's bound) leaves the
// unit's settings unknown: a problem.
func (l *loader) addDropIns(u *Unit, parts []Parsed) {
	for _, d := range l.dropIns(u.Names) {
		u.DropIns = append(u.DropIns, d)
		target := ""
		if t, err := l.r.Readlink(d); err == nil {
			if !path.IsAbs(t) {
				t = path.Dir(d) + "/" + t
			}
			if path.Clean(t) == "/dev/null" {
				continue
			}
		}
		if st, err := l.r.Stat(d); err == nil && st.IsDir() {
			continue
		}
		p, masked, problem := l.readUnitFile(d, target)
		switch {
		case masked:
			continue
		case problem != "" && p.Problem == "":
			u.Problem = problem
			return
		}
		parts = append(parts, p)
	}
	for _, p := range parts {
		u.Settings = append(u.Settings, p.Settings...)
	}
}

// lookup is the name map's entry for name: the first directory of the
// unit path (then the generators' places) that has a file or link by
// that name systemd accepts.
func (l *loader) lookup(name string) lookupResult {
	if r, ok := l.cache[name]; ok {
		return r
	}
	var res lookupResult
	defer func() { l.cache[name] = res }()
	for _, pl := range unitPath {
		if pl.boot && !l.now {
			if g := l.gen[name]; g != nil && (pl.gen == genNormal && !g.Late || pl.gen == genLate && g.Late) {
				res.e, res.ok = entry{gen: g}, true
				return res
			}
			continue
		}
		if l.skipDir(pl.dir) {
			continue
		}
		p := path.Join(pl.dir, name)
		st, err := l.r.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			res.passed = append(res.passed, Passed{File: p, Why: err.Error()})
			continue
		case st.Mode().IsRegular():
			res.e, res.ok = entry{file: p}, true
			return res
		case st.Mode()&fs.ModeSymlink != 0:
			e, why, same := l.symlink(pl.dir, name)
			if why != "" {
				res.passed = append(res.passed, Passed{File: p, Why: why, Same: same})
				continue
			}
			res.e, res.ok = e, true
			return res
		default:
			res.passed = append(res.passed, Passed{File: p, Why: "is " + kind(st.Mode()) + ": systemd passes over it"})
		}
	}
	return res
}

// symlink is what systemd makes of the link dir/name
// (unit_file_resolve_symlink): a link into the unit path is an alias of
// the unit it names, checked as systemd checks aliases; a link out of it
// (a mask to /dev/null among them) is a linked unit file, loaded through
// the link.
func (l *loader) symlink(dir, name string) (e entry, why string, same bool) {
	p := path.Join(dir, name)
	t, err := l.r.Readlink(p)
	if err != nil {
		return entry{}, err.Error(), false
	}
	if t == "" {
		return entry{}, "an empty link", false
	}
	if !path.IsAbs(t) {
		t = dir + "/" + t
	}
	if path.Clean(t) == "/dev/null" {
		// /dev is the kernel's devtmpfs at boot, whatever an image holds
		// there: no link in it, so ".." is lexical.
		return entry{file: p, target: "/dev/null"}, "", false
	}
	s, err := hostpath.ChaseNoFollow(l.r, t)
	if err != nil {
		return entry{}, fmt.Sprintf("a link to %s that cannot be resolved (%v): systemd passes over it", t, err), false
	}
	if !l.inUnitPath(s) {
		return entry{file: p, target: s}, "", false
	}
	dst := path.Base(s)
	switch {
	case dst == name:
		return entry{}, fmt.Sprintf("a link to %s, a unit of the same name: systemd ignores it", s), true
	case !mayAlias(name):
		return entry{}, fmt.Sprintf("a link to %s: systemd refuses links for %s units and passes over it", s, unitType(name)), false
	case !validName(dst) || unitType(dst) != unitType(name) || strings.Contains(dst, "@") != strings.Contains(name, "@"):
		return entry{}, fmt.Sprintf("a link to %s, which is not a %s of the same kind: systemd refuses it", s, unitType(name)), false
	}
	return entry{alias: dst}, "", false
}

// inUnitPath reports whether s lies in a directory of the unit path
// (as written or resolved).
func (l *loader) inUnitPath(s string) bool {
	for _, d := range l.dirs {
		if strings.HasPrefix(s, d+"/") {
			return true
		}
	}
	for _, pl := range unitPath {
		if strings.HasPrefix(s, pl.dir+"/") {
			return true
		}
	}
	return false
}

// readUnitFile reads a fragment or drop-in as systemd loads it: through
// links, masked when it is /dev/null, any character device or an empty
// file; a directory, a FIFO or a file that cannot be read fails the unit.
func (l *loader) readUnitFile(p, target string) (Parsed, bool, string) {
	if target == "/dev/null" {
		return Parsed{}, true, ""
	}
	st, err := l.r.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Parsed{}, false, fmt.Sprintf("%s leads nowhere (%s does not exist): systemd cannot load it", p, target)
		}
		return Parsed{}, false, fmt.Sprintf("%s: %v", p, err)
	}
	switch m := st.Mode(); {
	case m&fs.ModeCharDevice != 0, m.IsRegular() && st.Size() == 0:
		return Parsed{}, true, ""
	case !m.IsRegular():
		return Parsed{}, false, fmt.Sprintf("%s is %s: systemd cannot load it", p, kind(m))
	}
	b, err := l.r.ReadFile(p)
	if err != nil {
		return Parsed{}, false, fmt.Sprintf("%s cannot be read: %v", p, err)
	}
	// Settings name the file their lines are in: a linked file's target.
	name := p
	if target != "" {
		name = target
	}
	parsed := Parse(name, b)
	if parsed.Problem != "" {
		return parsed, false, parsed.Problem
	}
	return parsed, false, ""
}

// aliasesOf is every other name that is an alias of one of names: the
// links in the unit path that lead to them.
func (l *loader) aliasesOf(names []string) []string {
	var out []string
	for _, d := range l.searchDirs() {
		ents, _ := l.r.ReadDir(d)
		for _, e := range ents {
			n := e.Name()
			if e.Type()&fs.ModeSymlink == 0 || slices.Contains(names, n) || slices.Contains(out, n) || !validName(n) {
				continue
			}
			if unitType(n) != unitType(names[0]) {
				continue
			}
			res := l.lookup(n)
			if res.ok && res.e.alias != "" && slices.Contains(names, res.e.alias) {
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// dropIns are the drop-ins of a unit named names, as systemd lists them:
// NAME.d/*.conf in every directory of the unit path (and its "-" prefixes,
// foo-.service.d for foo-bar.service), then TYPE.d (service.d) in every
// directory; a file name seen once hides the same name later; read in
// file-name order.
func (l *loader) dropIns(names []string) []string {
	var dirs []string
	for _, d := range l.searchDirs() {
		for _, n := range names {
			for _, p := range prefixes(n) {
				dirs = append(dirs, path.Join(d, p+".d"))
			}
		}
	}
	for _, d := range l.searchDirs() {
		dirs = append(dirs, path.Join(d, unitType(names[0])+".d"))
	}
	byName := map[string]string{}
	for _, d := range dirs {
		ents, err := l.r.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			n := e.Name()
			if !strings.HasSuffix(n, ".conf") || strings.HasPrefix(n, ".") {
				continue
			}
			if _, seen := byName[n]; !seen {
				byName[n] = path.Join(d, n)
			}
		}
	}
	keys := make([]string, 0, len(byName))
	for k := range byName {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = byName[k]
	}
	return out
}

// prefixes are name and its "-" prefixes, most specific first:
// foo-bar-baz.service, foo-bar-.service, foo-.service.
func prefixes(name string) []string {
	out := []string{name}
	t := unitType(name)
	stem := strings.TrimSuffix(name, "."+t)
	for {
		i := strings.LastIndexByte(strings.TrimSuffix(stem, "-"), '-')
		if i <= 0 {
			return out
		}
		stem = stem[:i+1]
		out = append(out, stem+"."+t)
		stem = stem[:i]
	}
}

// unitTypes are systemd's unit types; aliasTypes those that may have
// aliases (unit_type_may_alias).
var (
	unitTypes  = []string{"service", "socket", "target", "device", "mount", "automount", "swap", "timer", "path", "slice", "scope"}
	aliasTypes = []string{"service", "socket", "target", "device", "timer", "path"}
)

func unitType(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i+1:]
	}
	return ""
}

func mayAlias(name string) bool { return slices.Contains(aliasTypes, unitType(name)) }

// validName: a plain unit name (no template) of a known type, of the
// bytes systemd allows, shorter than UNIT_NAME_MAX.
func validName(name string) bool {
	t := unitType(name)
	stem := strings.TrimSuffix(name, "."+t)
	if !slices.Contains(unitTypes, t) || stem == "" || len(name) >= 256 {
		return false
	}
	for i := 0; i < len(stem); i++ {
		c := stem[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(":-_.\\@", c) >= 0) {
			return false
		}
	}
	return true
}

// kind names a file type for messages.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device node"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "not a regular file"
}
