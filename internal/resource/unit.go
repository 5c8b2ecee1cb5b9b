package resource

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// unitPath is where systemctl --root looks for unit files, in order.
var unitPath = []string{"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"}

// Manager is the running systemd, where there is one.
type Manager interface {
	ActiveState(unit string) (string, error)
	Start(unit string) error
	Stop(unit string) error
	Reload() error
}

var (
	managerMu sync.Mutex
	// live is the D-Bus connection to the running systemd, made once.
	live Manager
	// stand holds the managers that stand in for systemd on a root, by
	// its directory (UseManager).
	stand sync.Map
)

// UseManager makes m the systemd of the root at dir, for tests of what a
// live host does (stop, reload, start), each on its own root so they can
// run side by side; nil removes it.
func UseManager(dir string, m Manager) {
	if m == nil {
		stand.Delete(dir)
		return
	}
	stand.Store(dir, m)
}

// managerFor is the systemd of h: the running one over D-Bus for the
// running system, nil for an image or fixture root, where unit state is
// only the symlinks systemctl --root would make.
func managerFor(h *hostroot.Root) (Manager, error) {
	if m, ok := stand.Load(h.Dir()); ok {
		return m.(Manager), nil
	}
	if !h.IsSystemRoot() || !h.Exists("/run/systemd/system") {
		return nil, nil
	}
	managerMu.Lock()
	defer managerMu.Unlock()
	if live == nil {
		c, err := sddbus.NewSystemConnectionContext(context.Background())
		if err != nil {
			return nil, fmt.Errorf("systemd D-Bus: %w", err)
		}
		live = &dbusManager{c: c}
	}
	return live, nil
}

type dbusManager struct{ c *sddbus.Conn }

const unitTimeout = 90 * time.Second

func (d *dbusManager) ActiveState(unit string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), unitTimeout)
	defer cancel()
	p, err := d.c.GetUnitPropertyContext(ctx, unit, "ActiveState")
	if err != nil {
		return "", err
	}
	return strings.Trim(p.Value.String(), `"`), nil
}

func (d *dbusManager) job(f func(context.Context, string, string, chan<- string) (int, error), unit string) error {
	ctx, cancel := context.WithTimeout(context.Background(), unitTimeout)
	defer cancel()
	ch := make(chan string, 1)
	if _, err := f(ctx, unit, "replace", ch); err != nil {
		return err
	}
	select {
	case r := <-ch:
		if r != "done" {
			return fmt.Errorf("job %s", r)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *dbusManager) Start(unit string) error { return d.job(d.c.StartUnitContext, unit) }
func (d *dbusManager) Stop(unit string) error  { return d.job(d.c.StopUnitContext, unit) }
func (d *dbusManager) Reload() error {
	ctx, cancel := context.WithTimeout(context.Background(), unitTimeout)
	defer cancel()
	return d.c.ReloadContext(ctx)
}

// UnitRes is a systemd unit's state: its enablement symlinks (exactly those
// systemctl enable/disable make from [Install]: WantedBy=, RequiredBy=,
// Alias=, and Also= units) and, on a live host, whether it is active.
type UnitRes struct {
	name string
	// links, when set, are the unit's install links as the task that
	// writes its unit file knows them: read before that file exists,
	// the unit is there and disabled, not "not installed", so that
	// restoring it removes its links while the file is still in place.
	links map[string]string
	// linksOnly: only the links are read (and so snapshotted), never the
	// running state, so neither apply nor a restore starts or stops it.
	linksOnly bool
}

// Unit is the systemd unit name.
func Unit(name string) *UnitRes { return &UnitRes{name: name} }

// OwnUnit is a unit whose file the same task writes, with the install
// links that file's [Install] section makes. Its ID is the unit's, so a
// journal restores it as Unit(name) (the file is still in place then:
// restores run in reverse order).
func OwnUnit(name string, links map[string]string) *UnitRes {
	return &UnitRes{name: name, links: maps.Clone(links)}
}

// LinksOnly is u with its running state left out of what is read: a
// tmp.mount enabled for the next boot must not be stopped by a rollback
// (that would unmount a /tmp in use), nor started by apply. A journal
// restores it as Unit(name), and a captured state without a running
// state restores links only.
func (u *UnitRes) LinksOnly() *UnitRes {
	c := *u
	c.linksOnly = true
	return &c
}

func (u *UnitRes) Kind() Kind   { return KindUnit }
func (u *UnitRes) Name() string { return u.name }
func (u *UnitRes) Layer() Layer { return Persistent }

// activeState is systemd's ActiveState of a unit; the ones ezedge-host
// asks for are named, others (activating, failed…) are kept as read.
type activeState string

const (
	stateActive   activeState = "active"
	stateInactive activeState = "inactive"
)

// unitState is the parsed form of a unit State's Data, which is text
// ("active X", "dir D", "link PATH TARGET" lines) so that a journal and the
// JSON plan show it readably; all logic works on this struct.
type unitState struct {
	active activeState       // "" when unknown (no running systemd)
	links  map[string]string // symlink path -> target
	dirs   []string          // .wants/.requires directories that exist
}

func (s unitState) encode() State {
	var b strings.Builder
	if s.active != "" {
		fmt.Fprintf(&b, "active %s\n", s.active)
	}
	dirs := slices.Clone(s.dirs)
	slices.Sort(dirs)
	for _, d := range dirs {
		fmt.Fprintf(&b, "dir %s\n", d)
	}
	keys := make([]string, 0, len(s.links))
	for k := range s.links {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "link %s %s\n", k, s.links[k])
	}
	return State{Exists: true, Data: []byte(b.String())}
}

func decodeUnit(st State) unitState {
	s := unitState{links: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(st.Data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "active":
			s.active = activeState(f[1])
		case len(f) == 2 && f[0] == "dir":
			s.dirs = append(s.dirs, f[1])
		case len(f) == 3 && f[0] == "link":
			s.links[f[1]] = f[2]
		}
	}
	return s
}

// install reads [Install] of a unit from the unit path: the symlinks
// enabling it makes (to the unit file where it was found) and the units
// named by Also=.
func install(h *hostroot.Root, name string) (file string, links map[string]string, also []string, err error) {
	var data []byte
	for _, d := range unitPath {
		p := path.Join(d, name)
		if st, err := h.Lstat(p); err == nil && st.Mode()&fs.ModeSymlink != 0 {
			if t, _ := h.Readlink(p); t == "/dev/null" {
				return "", nil, nil, fmt.Errorf("%s is masked", name)
			}
		}
		if b, err := h.ReadFile(p); err == nil {
			file, data = p, b
			break
		}
	}
	if file == "" {
		return "", nil, nil, fs.ErrNotExist
	}
	links = map[string]string{}
	section := ""
	for _, raw := range strings.Split(string(data), "\n") {
		l := strings.TrimSpace(raw)
		if strings.HasPrefix(l, "[") {
			section = l
			continue
		}
		if section != "[Install]" {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		for _, item := range strings.Fields(v) {
			switch strings.TrimSpace(k) {
			case "WantedBy":
				links["/etc/systemd/system/"+item+".wants/"+name] = file
			case "RequiredBy":
				links["/etc/systemd/system/"+item+".requires/"+name] = file
			case "Alias":
				links["/etc/systemd/system/"+item] = file
			case "Also":
				also = append(also, item)
			}
		}
	}
	return file, links, also, nil
}

// installLinks is every symlink enabling name (and its Also= units) makes.
func installLinks(h *hostroot.Root, name string, seen map[string]bool) (map[string]string, error) {
	if seen[name] {
		return nil, nil
	}
	seen[name] = true
	_, links, also, err := install(h, name)
	if err != nil {
		return nil, err
	}
	for _, a := range also {
		more, err := installLinks(h, a, seen)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		for k, v := range more {
			links[k] = v
		}
	}
	return links, nil
}

// InstallLinks is every symlink `systemctl --root enable name` makes: from
// its [Install] section and its Also= units'. It is fs.ErrNotExist when the
// unit is not installed in the root, and an error when it is masked.
func InstallLinks(h *hostroot.Root, name string) (map[string]string, error) {
	return installLinks(h, name, map[string]bool{})
}

func (u *UnitRes) Read(h *hostroot.Root) (State, error) {
	want, err := u.links, error(nil)
	if want == nil {
		want, err = installLinks(h, u.name, map[string]bool{})
	}
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("unit %s: %w", u.name, err)
	}
	s := unitState{links: map[string]string{}}
	for p := range want {
		if t, err := h.Readlink(p); err == nil {
			s.links[p] = t
		}
		if d := path.Dir(p); d != "/etc/systemd/system" && h.Exists(d) && !slices.Contains(s.dirs, d) {
			s.dirs = append(s.dirs, d)
		}
	}
	m, err := managerFor(h)
	if err != nil {
		return State{}, err
	}
	if m != nil && !u.linksOnly {
		a, err := m.ActiveState(u.name)
		if err != nil {
			return State{}, fmt.Errorf("unit %s: %w", u.name, err)
		}
		s.active = activeState(a)
	}
	return s.encode(), nil
}

// UnitEnabled is the desired state of a unit enabled with links (its
// InstallLinks) and, live, active, from its current state cur.
func UnitEnabled(cur State, links map[string]string) State {
	s := decodeUnit(cur)
	s.links = maps.Clone(links)
	for p := range links {
		if d := path.Dir(p); d != "/etc/systemd/system" && !slices.Contains(s.dirs, d) {
			s.dirs = append(s.dirs, d)
		}
	}
	if s.active != "" {
		s.active = stateActive
	}
	return s.encode()
}

// UnitLinked is the desired state of a unit enabled with links whose
// running state is left as it is: apply does not start it (a tmpfs is not
// mounted over a /tmp in use; it starts at the next boot), and a plan or
// drift check after that boot does not count its being active as a
// difference. Read it with LinksOnly, so that restoring the state read
// before does not stop it either.
func UnitLinked(cur State, links map[string]string) State {
	s := decodeUnit(UnitEnabled(cur, links))
	s.active = ""
	return s.encode()
}

// UnitDisabled is the desired state of a disabled, stopped unit, from its
// current state cur.
func UnitDisabled(cur State) State {
	s := decodeUnit(cur)
	s.links = map[string]string{}
	if s.active != "" {
		s.active = stateInactive
	}
	return s.encode()
}

func (u *UnitRes) Write(h *hostroot.Root, st State) error {
	if !st.Exists {
		return nil
	}
	want := decodeUnit(st)
	curState, err := u.Read(h)
	if err != nil {
		return err
	}
	cur := decodeUnit(curState)
	m, err := managerFor(h)
	if err != nil {
		return err
	}
	if m != nil && want.active == stateInactive && cur.active != stateInactive {
		if err := m.Stop(u.name); err != nil {
			return fmt.Errorf("stop %s: %w", u.name, err)
		}
	}
	// In order, so that a crash at the n-th link leaves the same links
	// every time (the crash tests cut a run at each change).
	changed := false
	for _, p := range slices.Sorted(maps.Keys(cur.links)) {
		if t := cur.links[p]; want.links[p] != t {
			if err := h.Remove(p); err != nil {
				return err
			}
			changed = true
		}
	}
	for _, d := range want.dirs {
		if !h.Exists(d) {
			if err := h.Mkdir(d, 0o755); err != nil {
				return err
			}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(want.links)) {
		if t := want.links[p]; cur.links[p] != t {
			if err := h.Symlink(t, p); err != nil {
				return err
			}
			changed = true
		}
	}
	for _, d := range cur.dirs {
		if !slices.Contains(want.dirs, d) {
			// Only an empty directory goes: one that holds other units'
			// links stays, whatever the snapshot said.
			if err := h.Remove(d); err != nil && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, fs.ErrExist) {
				return err
			}
		}
	}
	if m != nil {
		if !changed && want.active == cur.active {
			return nil
		}
		if err := m.Reload(); err != nil {
			return fmt.Errorf("daemon-reload: %w", err)
		}
		if want.active == stateActive && cur.active != stateActive {
			if err := m.Start(u.name); err != nil {
				return fmt.Errorf("start %s: %w", u.name, err)
			}
		}
	}
	return nil
}

func (u *UnitRes) Equal(a, b State) bool {
	if a.Exists != b.Exists {
		// What ezedge-host controls of a unit is its links and whether it
		// runs: a unit with neither is, to it, the same as one not
		// installed. A unit whose file a task writes (OwnUnit) is read as
		// disabled before that file exists, and as not installed by the
		// plain Unit a journal restores it through once the file is gone.
		s := a
		if b.Exists {
			s = b
		}
		x := decodeUnit(s)
		return len(x.links) == 0 && x.active != stateActive
	}
	x, y := decodeUnit(a), decodeUnit(b)
	if x.active != "" && y.active != "" && x.active != y.active {
		return false
	}
	if len(x.links) != len(y.links) {
		return false
	}
	for k, v := range x.links {
		if y.links[k] != v {
			return false
		}
	}
	return true
}

func (u *UnitRes) Show(st State) string {
	if !st.Exists {
		return "(not installed)"
	}
	s := decodeUnit(st)
	en := "disabled"
	if len(s.links) > 0 {
		en = fmt.Sprintf("enabled (%d links)", len(s.links))
	}
	if s.active != "" {
		return en + ", " + string(s.active)
	}
	return en
}
