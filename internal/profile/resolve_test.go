package profile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// makeRoot writes files and links into a new folder; openRoot opens it.
func makeRoot(t *testing.T, files map[string]string, links map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range links {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func openDir(t *testing.T, dir string) *hostroot.Root {
	t.Helper()
	h, err := hostroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func openRoot(t *testing.T, files map[string]string, links map[string]string) *hostroot.Root {
	t.Helper()
	return openDir(t, makeRoot(t, files, links))
}

// swappiness is the value c sets.
func swappiness(c tasks.Choices) int {
	sw, _ := tasks.ByName("swappiness")
	return c.Options(sw).(*tasks.SwappinessOptions).Value
}

// TestResolveDefault: the root's own profile is read inside the root (a
// link followed there, an absolute target being the root's); its absence
// is the platform defaults, and says so.
func TestResolveDefault(t *testing.T) {
	t.Parallel()
	const body = "version: 1\ntasks:\n  swappiness: {value: 5}\n"
	for name, h := range map[string]*hostroot.Root{
		"file":          openRoot(t, map[string]string{"etc/ezedge-host/profile.yaml": body}, nil),
		"link in root":  openRoot(t, map[string]string{"etc/ezedge-host/edge.yaml": body}, map[string]string{"etc/ezedge-host/profile.yaml": "/etc/ezedge-host/edge.yaml"}),
		"dir link":      openRoot(t, map[string]string{"srv/cfg/profile.yaml": body}, map[string]string{"etc/ezedge-host": "../srv/cfg"}),
		"absolute link": openRoot(t, map[string]string{"srv/cfg/profile.yaml": body}, map[string]string{"etc/ezedge-host": "/srv/cfg"}),
	} {
		r, err := Default().Resolve(h)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if r.Origin.Kind != KindLayers || !reflect.DeepEqual(r.Origin.Layers, []Layer{{DefaultPath, InRoot}}) || len(r.Data) != 1 || string(r.Data[0]) != body || swappiness(r.Choices) != 5 {
			t.Errorf("%s: %+v", name, r)
		}
		if got := r.Origin.String(); got != "/etc/ezedge-host/profile.yaml in the root" {
			t.Errorf("%s: %q", name, got)
		}
	}
	for name, h := range map[string]*hostroot.Root{
		"no etc":         openRoot(t, nil, nil),
		"no directory":   openRoot(t, map[string]string{"etc/hostname": "x\n"}, nil),
		"no profile":     openRoot(t, map[string]string{"etc/ezedge-host/edge.yaml": "version: 1\n"}, nil),
		"empty drop-ins": openRoot(t, map[string]string{"etc/ezedge-host/profile.d/README": "x\n", "etc/ezedge-host/profile.d/.x.yaml": "version: 1\n"}, nil),
	} {
		r, err := Default().Resolve(h)
		if err != nil || r.Origin.Kind != KindAbsent || len(r.Origin.Layers) != 0 || r.Data != nil || r.Choices != nil {
			t.Errorf("%s: %+v %v", name, r, err)
			continue
		}
		if got := r.Origin.String(); got != "platform defaults (no /etc/ezedge-host/profile.yaml or /etc/ezedge-host/profile.d/*.yaml in the root)" {
			t.Errorf("%s: %q", name, got)
		}
	}
	// A link that leads nowhere in the root is not an absence.
	h := openRoot(t, nil, map[string]string{"etc/ezedge-host/profile.yaml": "/home/me/edge.yaml"})
	if _, err := Default().Resolve(h); err == nil || !strings.Contains(err.Error(), `profile /etc/ezedge-host/profile.yaml: is a symbolic link to "/home/me/edge.yaml", which leads to no file in the root`) {
		t.Errorf("dangling link: %v", err)
	}
}

// setSwappiness is a profile setting only swappiness's value, on line 3.
func setSwappiness(v int) string {
	return fmt.Sprintf("version: 1\ntasks:\n  swappiness: {value: %d}\n", v)
}

// TestResolveOrder: the root's profile.yaml, then its profile.d/*.yaml in
// byte order (links followed inside the root), then the --profile files in
// the order given; every other name in profile.d is left out and said.
func TestResolveOrder(t *testing.T) {
	t.Parallel()
	dir := makeRoot(t, map[string]string{
		"etc/ezedge-host/profile.yaml":                  setSwappiness(1),
		"etc/ezedge-host/profile.d/9-a.yaml":            setSwappiness(3),
		"etc/ezedge-host/profile.d/10-b.yaml":           setSwappiness(2),
		"etc/ezedge-host/profile.d/A.yaml":              setSwappiness(4),
		"etc/ezedge-host/profile.d/_z.yaml":             setSwappiness(5),
		"etc/ezedge-host/profile.d/a.yaml":              setSwappiness(6),
		"srv/site/b.yaml":                               setSwappiness(7),
		"etc/ezedge-host/profile.d/10-b.yaml.dpkg-new":  setSwappiness(100),
		"etc/ezedge-host/profile.d/10-b.yaml.dpkg-old":  setSwappiness(100),
		"etc/ezedge-host/profile.d/10-b.yaml.dpkg-dist": setSwappiness(100),
		"etc/ezedge-host/profile.d/10-b.yaml.ucf-old":   setSwappiness(100),
		"etc/ezedge-host/profile.d/10-b.yaml~":          setSwappiness(100),
		"etc/ezedge-host/profile.d/.10-b.yaml.swp":      setSwappiness(100),
		"etc/ezedge-host/profile.d/.hidden.yaml":        setSwappiness(100),
		"etc/ezedge-host/profile.d/site.yml":            setSwappiness(100),
		"etc/ezedge-host/profile.d/site.YAML":           setSwappiness(100),
		"etc/ezedge-host/profile.d/notes":               "not a profile\n",
		"etc/ezedge-host/profile.d/sub/x.yaml":          setSwappiness(100),
	}, map[string]string{"etc/ezedge-host/profile.d/b-link.yaml": "/srv/site/b.yaml"})
	f1 := filepath.Join(t.TempDir(), "host.yaml")
	f2 := filepath.Join(t.TempDir(), "fix.yaml")
	os.WriteFile(f1, []byte(setSwappiness(8)), 0o644)
	os.WriteFile(f2, []byte(setSwappiness(9)), 0o644)
	d := DropInDir + "/"
	wantLayers := []Layer{{DefaultPath, InRoot}, {d + "10-b.yaml", InRoot}, {d + "9-a.yaml", InRoot}, {d + "A.yaml", InRoot}, {d + "_z.yaml", InRoot}, {d + "a.yaml", InRoot}, {d + "b-link.yaml", InRoot}, {f1, FromFlag}, {f2, FromFlag}}
	r, err := Files(f1, f2).Resolve(openDir(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Origin.Layers, wantLayers) {
		t.Errorf("layers %v\nwant %v", r.Origin.Layers, wantLayers)
	}
	// Each layer sets swappiness to its place: the last wins, and the
	// provenance lists every earlier one, in order.
	if swappiness(r.Choices) != 9 || len(r.Origin.Settings) != 1 {
		t.Fatalf("swappiness %d, settings %+v", swappiness(r.Choices), r.Origin.Settings)
	}
	s := r.Origin.Settings[0]
	if s.Task != "swappiness" || s.Key != "value" || s.Value != 9 || s.Default != 10 || s.At != (Place{8, f2, 3}) || len(s.Overrides) != 8 {
		t.Errorf("setting %+v", s)
	}
	for i, o := range s.Overrides {
		if o.At != (Place{i, wantLayers[i].Path, 3}) || o.Value != i+1 {
			t.Errorf("override %d: %+v", i, o)
		}
	}
	var ignored []string
	for _, ig := range r.Ignored {
		ignored = append(ignored, strings.TrimPrefix(ig.Path, d)+": "+ig.Why)
	}
	want := []string{
		".10-b.yaml.swp: hidden (its name starts with a dot)",
		".hidden.yaml: hidden (its name starts with a dot)",
		"10-b.yaml.dpkg-dist: a backup (an editor's or a package manager's)",
		"10-b.yaml.dpkg-new: a backup (an editor's or a package manager's)",
		"10-b.yaml.dpkg-old: a backup (an editor's or a package manager's)",
		"10-b.yaml.ucf-old: a backup (an editor's or a package manager's)",
		"10-b.yaml~: a backup (an editor's or a package manager's)",
		"notes: not *.yaml",
		"site.YAML: not *.yaml",
		"site.yml: not *.yaml",
		"sub: not *.yaml",
	}
	if !reflect.DeepEqual(ignored, want) {
		t.Errorf("ignored %q\nwant %q", ignored, want)
	}
	if got, want := r.Origin.String(), "/etc/ezedge-host/profile.yaml, /etc/ezedge-host/profile.d/10-b.yaml, /etc/ezedge-host/profile.d/9-a.yaml, /etc/ezedge-host/profile.d/A.yaml, /etc/ezedge-host/profile.d/_z.yaml, /etc/ezedge-host/profile.d/a.yaml, /etc/ezedge-host/profile.d/b-link.yaml in the root, then "+f1+", "+f2+" (--profile)"; got != want {
		t.Errorf("String %q\nwant %q", got, want)
	}
	// --no-profile reads none of them; the files alone, without a root
	// profile, are the layers.
	if r, err := None().Resolve(openDir(t, dir)); err != nil || r.Origin.Kind != KindNone || swappiness(r.Choices) != 10 {
		t.Errorf("--no-profile: %+v %v", r, err)
	}
	if r, err := Files(f1).Resolve(openRoot(t, nil, nil)); err != nil || !reflect.DeepEqual(r.Origin.Layers, []Layer{{f1, FromFlag}}) || swappiness(r.Choices) != 8 || r.Origin.String() != f1+" (--profile)" {
		t.Errorf("--profile alone: %+v %v", r, err)
	}
	// A directory of profile.d linked elsewhere in the root is followed.
	linked := openRoot(t, map[string]string{"etc/ezedge-host/profile.yaml": setSwappiness(1), "srv/d/20-x.yaml": setSwappiness(20)}, map[string]string{"etc/ezedge-host/profile.d": "/srv/d"})
	if r, err := Default().Resolve(linked); err != nil || len(r.Origin.Layers) != 2 || r.Origin.Layers[1].Path != d+"20-x.yaml" || swappiness(r.Choices) != 20 {
		t.Errorf("linked profile.d: %+v %v", r, err)
	}
	// Only drop-ins, no profile.yaml.
	only := openRoot(t, map[string]string{"etc/ezedge-host/profile.d/20-x.yaml": setSwappiness(20)}, nil)
	if r, err := Default().Resolve(only); err != nil || len(r.Origin.Layers) != 1 || swappiness(r.Choices) != 20 {
		t.Errorf("drop-ins alone: %+v %v", r, err)
	}
}

// TestPaths: the root's two places share the directory Resolve looks at
// first.
func TestPaths(t *testing.T) {
	t.Parallel()
	if filepath.Dir(DefaultPath) != configDir || filepath.Dir(DropInDir) != configDir {
		t.Errorf("%s and %s are not both in %s", DefaultPath, DropInDir, configDir)
	}
}

// TestDropInNames: which names in profile.d are layers, as systemd reads
// a *.conf.d directory with the suffix .yaml.
func TestDropInNames(t *testing.T) {
	t.Parallel()
	for name, layer := range map[string]bool{
		"10-site.yaml": true, "a.b.yaml": true, "x y.yaml": true, "-.yaml": true, "yaml.yaml": true,
		".yaml": false, ".10-site.yaml": false, ".#10-site.yaml": false, "10-site.yaml~": false,
		"10-site.yaml.dpkg-old": false, "10-site.yaml.dpkg-new": false, "10-site.yaml.dpkg-dist": false,
		"10-site.yaml.dpkg-tmp": false, "10-site.yaml.dpkg-bak": false, "10-site.yaml.dpkg-backup": false,
		"10-site.yaml.dpkg-remove": false, "10-site.yaml.ucf-new": false, "10-site.yaml.ucf-old": false,
		"10-site.yaml.ucf-dist": false, "10-site.yaml.rpmnew": false, "10-site.yaml.rpmsave": false,
		"10-site.yaml.bak": false, "10-site.yaml.old": false, "10-site.yaml.new": false, "10-site.yaml.swp": false,
		"10-site.yaml.ignore": false, "10-site.yml": false, "10-site.YAML": false, "10-site.yaml.txt": false,
		"#10-site.yaml#": false, "10-site": false, "lost+found": false,
	} {
		if why := DropIn(name); (why == "") != layer {
			t.Errorf("%q: %q, want a layer: %v", name, why, layer)
		}
	}
}

// hostileDropIn plants a hostile entry at, or in, profile.d: path is what
// the error must name.
type hostileDropIn struct {
	name, path string
	needRoot   bool
	plant      func(t *testing.T, root, outside string) error
}

const hostileName = DropInDir + "/10-x.yaml"

func inDropIns(root string) string { return filepath.Join(root, "etc/ezedge-host/profile.d") }

func configIn(root string) string { return filepath.Join(root, "etc/ezedge-host") }

var hostileDropIns = []hostileDropIn{
	// The directory holding profile.yaml and profile.d: one line for both.
	{name: "config-dir-file", path: configDir + ": is a regular file, not a directory", plant: func(_ *testing.T, root, _ string) error {
		os.RemoveAll(configIn(root))
		return os.WriteFile(configIn(root), []byte(setSwappiness(7)), 0o644)
	}},
	{name: "config-dir-fifo", path: configDir + ": is a FIFO, not a directory", plant: func(_ *testing.T, root, _ string) error {
		os.RemoveAll(configIn(root))
		return unix.Mkfifo(configIn(root), 0o644)
	}},
	{name: "config-dir-symlink-outside", path: configDir + ": is a symbolic link", plant: func(_ *testing.T, root, outside string) error {
		os.RemoveAll(configIn(root))
		return os.Symlink(outside, configIn(root))
	}},
	// profile.d itself.
	{name: "dir-fifo", path: DropInDir, plant: func(_ *testing.T, root, _ string) error { return unix.Mkfifo(inDropIns(root), 0o644) }},
	{name: "dir-socket", path: DropInDir, plant: func(_ *testing.T, root, _ string) error {
		return unix.Mknod(inDropIns(root), unix.S_IFSOCK|0o644, 0)
	}},
	{name: "dir-chardev", path: DropInDir, needRoot: true, plant: func(_ *testing.T, root, _ string) error {
		return unix.Mknod(inDropIns(root), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 5)))
	}},
	{name: "dir-regular-file", path: DropInDir, plant: func(_ *testing.T, root, _ string) error {
		return os.WriteFile(inDropIns(root), []byte(setSwappiness(7)), 0o644)
	}},
	{name: "dir-symlink-outside-abs", path: DropInDir, plant: func(_ *testing.T, root, outside string) error { return os.Symlink(outside, inDropIns(root)) }},
	{name: "dir-symlink-outside-rel", path: DropInDir, plant: func(_ *testing.T, root, outside string) error {
		rel, err := filepath.Rel(filepath.Join(root, "etc/ezedge-host"), outside)
		if err != nil {
			return err
		}
		return os.Symlink(rel, inDropIns(root))
	}},
	{name: "dir-symlink-loop", path: DropInDir, plant: func(_ *testing.T, root, _ string) error { return os.Symlink("profile.d", inDropIns(root)) }},
	{name: "dir-symlink-to-file", path: DropInDir, plant: func(_ *testing.T, root, _ string) error { return os.Symlink("profile.yaml", inDropIns(root)) }},
	{name: "dir-unreadable", path: DropInDir, plant: func(t *testing.T, root, _ string) error {
		if os.Geteuid() == 0 {
			t.Skip("root reads a 0000 directory")
		}
		return os.Mkdir(inDropIns(root), 0)
	}},
	{name: "too-many-layers", path: DropInDir, plant: func(_ *testing.T, root, _ string) error {
		os.Mkdir(inDropIns(root), 0o755)
		for i := range MaxLayers {
			if err := os.WriteFile(filepath.Join(inDropIns(root), fmt.Sprintf("%02d.yaml", i)), []byte("version: 1\n"), 0o644); err != nil {
				return err
			}
		}
		return nil
	}},
	// A layer in it.
	{name: "fifo", path: hostileName, plant: func(_ *testing.T, root, _ string) error {
		return unix.Mkfifo(filepath.Join(root, hostileName), 0o644)
	}},
	{name: "socket", path: hostileName, plant: func(_ *testing.T, root, _ string) error {
		return unix.Mknod(filepath.Join(root, hostileName), unix.S_IFSOCK|0o644, 0)
	}},
	{name: "chardev-zero", path: hostileName, needRoot: true, plant: func(_ *testing.T, root, _ string) error {
		return unix.Mknod(filepath.Join(root, hostileName), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 5)))
	}},
	{name: "blockdev", path: hostileName, needRoot: true, plant: func(_ *testing.T, root, _ string) error {
		return unix.Mknod(filepath.Join(root, hostileName), unix.S_IFBLK|0o644, int(unix.Mkdev(7, 0)))
	}},
	{name: "directory", path: hostileName, plant: func(_ *testing.T, root, _ string) error { return os.Mkdir(filepath.Join(root, hostileName), 0o755) }},
	{name: "symlink-outside-abs", path: hostileName, plant: func(_ *testing.T, root, outside string) error {
		return os.Symlink(filepath.Join(outside, "10-x.yaml"), filepath.Join(root, hostileName))
	}},
	{name: "symlink-outside-rel", path: hostileName, plant: func(_ *testing.T, root, outside string) error {
		rel, err := filepath.Rel(inDropIns(root), filepath.Join(outside, "10-x.yaml"))
		if err != nil {
			return err
		}
		return os.Symlink(rel, filepath.Join(root, hostileName))
	}},
	{name: "symlink-dev-zero", path: hostileName, plant: func(_ *testing.T, root, _ string) error {
		return os.Symlink("/dev/zero", filepath.Join(root, hostileName))
	}},
	{name: "symlink-dangling", path: hostileName, plant: func(_ *testing.T, root, _ string) error {
		return os.Symlink("11-gone.yaml", filepath.Join(root, hostileName))
	}},
	{name: "symlink-loop", path: hostileName, plant: func(_ *testing.T, root, _ string) error {
		return os.Symlink("10-x.yaml", filepath.Join(root, hostileName))
	}},
	{name: "symlink-to-directory", path: hostileName, plant: func(_ *testing.T, root, _ string) error {
		return os.Symlink("/etc", filepath.Join(root, hostileName))
	}},
	{name: "sparse-8g", path: hostileName, plant: func(_ *testing.T, root, _ string) error {
		f, err := os.Create(filepath.Join(root, hostileName))
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Truncate(8 << 30)
	}},
	{name: "over-64k", path: hostileName, plant: func(_ *testing.T, root, _ string) error {
		return os.WriteFile(filepath.Join(root, hostileName), []byte(setSwappiness(7)+strings.Repeat("# padding\n", 7000)), 0o644)
	}},
	{name: "invalid-value", path: hostileName + ":3", plant: func(_ *testing.T, root, _ string) error {
		return os.WriteFile(filepath.Join(root, hostileName), []byte(setSwappiness(500)), 0o644)
	}},
	{name: "invalid-yaml", path: hostileName + ":", plant: func(_ *testing.T, root, _ string) error {
		return os.WriteFile(filepath.Join(root, hostileName), []byte("version: 1\ntasks: [\n"), 0o644)
	}},
	{name: "unknown-task", path: hostileName + ":3", plant: func(_ *testing.T, root, _ string) error {
		return os.WriteFile(filepath.Join(root, hostileName), []byte("version: 1\ntasks:\n  swapiness: {value: 5}\n"), 0o644)
	}},
	{name: "no-version", path: hostileName + ":1", plant: func(_ *testing.T, root, _ string) error {
		return os.WriteFile(filepath.Join(root, hostileName), []byte("tasks:\n  swappiness: {value: 5}\n"), 0o644)
	}},
	{name: "nul-byte", path: hostileName + ":2", plant: func(_ *testing.T, root, _ string) error {
		return os.WriteFile(filepath.Join(root, hostileName), []byte("version: 1\n\x00\n"), 0o644)
	}},
	{name: "empty", path: hostileName + ":1", plant: func(_ *testing.T, root, _ string) error {
		return os.WriteFile(filepath.Join(root, hostileName), nil, 0o644)
	}},
	{name: "unreadable", path: hostileName, plant: func(t *testing.T, root, _ string) error {
		if os.Geteuid() == 0 {
			t.Skip("root reads a 0000 file")
		}
		return os.WriteFile(filepath.Join(root, hostileName), []byte(setSwappiness(7)), 0)
	}},
	{name: "name-with-escape", path: `/etc/ezedge-host/profile.d/\x1b[2J.yaml:3`, plant: func(_ *testing.T, root, _ string) error {
		return os.WriteFile(filepath.Join(inDropIns(root), "\x1b[2J.yaml"), []byte(setSwappiness(500)), 0o644)
	}},
}

// TestHostileDropIns: whatever is at profile.d or in it, Resolve fails
// with one line naming it (never a file outside the root read, never the
// layer left out), whether --profile is given or not; --no-profile does
// not look.
func TestHostileDropIns(t *testing.T) {
	t.Parallel()
	for _, k := range hostileDropIns {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			if k.needRoot && os.Geteuid() != 0 {
				t.Skip("mknod of a device needs root")
			}
			base := t.TempDir()
			root := filepath.Join(base, "a", "root")
			outside := filepath.Join(base, "outside")
			os.MkdirAll(filepath.Join(root, "etc/ezedge-host"), 0o755)
			os.WriteFile(filepath.Join(root, "etc/ezedge-host/profile.yaml"), []byte(setSwappiness(5)), 0o644)
			os.MkdirAll(outside, 0o755)
			os.WriteFile(filepath.Join(outside, "10-x.yaml"), []byte(setSwappiness(7)), 0o644)
			if !strings.HasPrefix(k.name, "dir-") && !strings.HasPrefix(k.name, "config-dir-") && k.name != "too-many-layers" {
				os.MkdirAll(inDropIns(root), 0o755)
			}
			if err := k.plant(t, root, outside); err != nil {
				t.Fatalf("planting: %v", err)
			}
			flag := filepath.Join(base, "host.yaml")
			os.WriteFile(flag, []byte(setSwappiness(8)), 0o644)
			h := openDir(t, root)
			for _, src := range []Source{Default(), Files(flag), Install(flag)} {
				r, err := src.Resolve(h)
				if err == nil {
					t.Errorf("resolved %+v", r.Origin)
					continue
				}
				if msg := err.Error(); strings.Count(msg, "\n") != 0 || !strings.HasPrefix(msg, "profile "+k.path) {
					t.Errorf("want one line naming %s, got %q", k.path, msg)
				}
			}
			if r, err := None().Resolve(h); err != nil || swappiness(r.Choices) != 10 {
				t.Errorf("--no-profile: %v", err)
			}
		})
	}
}

// TestResolveCollectsEveryLayersProblems: each invalid layer is named,
// one line per problem, in layer order.
func TestResolveCollectsEveryLayersProblems(t *testing.T) {
	t.Parallel()
	h := openRoot(t, map[string]string{
		"etc/ezedge-host/profile.yaml":        setSwappiness(500),
		"etc/ezedge-host/profile.d/10-a.yaml": "version: 1\ntasks:\n  thp: {mode: sometimes}\n  nvme-queue: {nr_requests: 1}\n",
		"etc/ezedge-host/profile.d/20-b.yaml": setSwappiness(5),
	}, map[string]string{"etc/ezedge-host/profile.d/30-c.yaml": "/nowhere.yaml"})
	_, err := Default().Resolve(h)
	want := []string{
		"profile /etc/ezedge-host/profile.yaml:3: tasks.swappiness.value: 500 out of range 0..200",
		`profile /etc/ezedge-host/profile.d/10-a.yaml:3: tasks.thp.mode: "sometimes" is not one of always, madvise, never`,
		"profile /etc/ezedge-host/profile.d/10-a.yaml:4: tasks.nvme-queue.nr_requests: 1 out of range 4..65536",
		`profile /etc/ezedge-host/profile.d/30-c.yaml: is a symbolic link to "/nowhere.yaml", which leads to no file in the root`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("got\n%v\nwant\n%s", err, strings.Join(want, "\n"))
	}
}

func TestFromFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		files []string
		none  bool
		want  string // "" ok
	}{
		{nil, false, ""},
		{nil, true, ""},
		{[]string{"a.yaml", "b.yaml"}, false, ""},
		{[]string{"a.yaml"}, true, "--profile and --no-profile: give one"},
		{[]string{""}, false, "--profile: no file named"},
		{[]string{"a.yaml", ""}, false, "--profile: no file named"},
		{[]string{"a.yaml", "b.yaml", "a.yaml"}, false, "--profile a.yaml: given twice"},
		{[]string{"a\nb", "a\nb"}, false, `--profile a\nb: given twice`},
	} {
		s, err := FromFlags(tc.files, tc.none)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q %v: %v", tc.files, tc.none, err)
		case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n")):
			t.Errorf("%q %v: %v, want %q", tc.files, tc.none, err, tc.want)
		case tc.want == "" && tc.none && s.via != viaNone:
			t.Errorf("--no-profile: %+v", s)
		case tc.want == "" && !tc.none && (s.via != viaRoot || !reflect.DeepEqual(s.files, tc.files)):
			t.Errorf("%q: %+v", tc.files, s)
		}
	}
	if s, err := FromInstallFlag("", false); err != nil || s.via != viaRoot || s.files != nil {
		t.Errorf("firstboot install without --profile: %+v %v", s, err)
	}
	if s, err := FromInstallFlag("e.yaml", true); err != nil || s.via != viaInstall || s.install != "e.yaml" {
		t.Errorf("firstboot install --profile: %+v %v", s, err)
	}
	if _, err := FromInstallFlag("", true); err == nil || !strings.HasPrefix(err.Error(), "--profile: no file named") {
		t.Errorf("firstboot install --profile '': %v", err)
	}
}

// TestInstall: firstboot install --profile FILE resolves as the image's
// first boot will: FILE first (it becomes the image's profile.yaml, which
// is not read), then the image's profile.d.
func TestInstall(t *testing.T) {
	t.Parallel()
	h := openRoot(t, map[string]string{
		"etc/ezedge-host/profile.yaml":        setSwappiness(1),
		"etc/ezedge-host/profile.d/10-a.yaml": "version: 1\ntasks:\n  thp: {mode: madvise}\n",
	}, nil)
	f := filepath.Join(t.TempDir(), "edge.yaml")
	os.WriteFile(f, []byte(setSwappiness(7)), 0o644)
	r, err := Install(f).Resolve(h)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Origin.Layers, []Layer{{f, ToInstall}, {DropInDir + "/10-a.yaml", InRoot}}) || swappiness(r.Choices) != 7 || string(r.Installed()) != setSwappiness(7) {
		t.Errorf("%+v", r.Origin)
	}
	if got, want := r.Origin.String(), f+" (--profile, to be the image's /etc/ezedge-host/profile.yaml), then /etc/ezedge-host/profile.d/10-a.yaml in the root"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if r, _ := Default().Resolve(h); r.Installed() != nil {
		t.Errorf("Installed without install: %q", r.Installed())
	}
}

// layeredRoot is a root with three layers for the saved-record tests.
func layeredRoot(t *testing.T) (*hostroot.Root, string) {
	t.Helper()
	h := openRoot(t, map[string]string{
		"etc/ezedge-host/profile.yaml":        "version: 1\ntasks:\n  swappiness: {enabled: true, value: 20}\n  thp: {mode: madvise}\n",
		"etc/ezedge-host/profile.d/10-a.yaml": "version: 1\ntasks:\n  swappiness: {value: 15}\n",
		"etc/ezedge-host/profile.d/20-b.yaml": "version: 1\ntasks:\n  net-buffers: {tcp_rmem: [4096, 131072, 67108864]}\n",
	}, nil)
	f := filepath.Join(t.TempDir(), "host.yaml")
	os.WriteFile(f, []byte(setSwappiness(5)), 0o644)
	return h, f
}

// TestResolveSaved: a saved plan's record resolves to exactly what was
// merged, its provenance included; a record that is not one Resolve makes
// (layers, their order, their bytes, their settings) is refused.
func TestResolveSaved(t *testing.T) {
	t.Parallel()
	h, f := layeredRoot(t)
	orig, err := Files(f).Resolve(h)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := orig.Record()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rec)
	var back Record
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got, err := Saved("p.plan", back).Resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Origin, orig.Origin) || !reflect.DeepEqual(got.Choices, orig.Choices) || !reflect.DeepEqual(got.Data, orig.Data) {
		t.Errorf("saved %+v\nwant %+v", got.Origin, orig.Origin)
	}
	for _, src := range []Source{None(), Default()} {
		r, err := src.Resolve(openRoot(t, nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		rec, _ := r.Record()
		if got, err := Saved("p.plan", rec).Resolve(nil); err != nil || !reflect.DeepEqual(got.Origin, r.Origin) || got.Choices != nil {
			t.Errorf("%s: %+v %v", r.Origin.Kind, got, err)
		}
	}

	edits := map[string]func(r *Record){
		"unknown kind":         func(r *Record) { r.Kind = "elsewhere" },
		"none with layers":     func(r *Record) { r.Kind = KindNone },
		"absent with layers":   func(r *Record) { r.Kind = KindAbsent },
		"no layers":            func(r *Record) { r.Layers = nil },
		"another root path":    func(r *Record) { r.Layers[0].Path = "/etc/shadow" },
		"drop-in out of order": func(r *Record) { r.Layers[1], r.Layers[2] = r.Layers[2], r.Layers[1] },
		"drop-in twice":        func(r *Record) { r.Layers[2] = r.Layers[1] },
		"hidden drop-in":       func(r *Record) { r.Layers[1].Path = DropInDir + "/.10-a.yaml" },
		"backup drop-in":       func(r *Record) { r.Layers[1].Path = DropInDir + "/10-a.yaml.dpkg-old" },
		"drop-in in a subdir":  func(r *Record) { r.Layers[1].Path = DropInDir + "/x/10-a.yaml" },
		"drop-in escaping":     func(r *Record) { r.Layers[1].Path = DropInDir + "/../10-a.yaml" },
		"profile.yaml not 1st": func(r *Record) { r.Layers[0], r.Layers[1] = r.Layers[1], r.Layers[0] },
		"root after --profile": func(r *Record) { r.Layers[2], r.Layers[3] = r.Layers[3], r.Layers[2] },
		"install layer":        func(r *Record) { r.Layers[3].Where = ToInstall },
		"no where":             func(r *Record) { r.Layers[3].Where = "" },
		"empty --profile":      func(r *Record) { r.Layers[3].Path = "" },
		"--profile twice":      func(r *Record) { r.Layers = append(r.Layers, r.Layers[3]) },
		"too many layers":      func(r *Record) { r.Layers = append(r.Layers, manyFlags(MaxLayers)...) },
		"a value edited":       func(r *Record) { r.Layers[3].Data = setSwappiness(6) },
		"an overridden value":  func(r *Record) { r.Layers[1].Data = setSwappiness(16) },
		"a line moved":         func(r *Record) { r.Layers[3].Data = "# moved\n" + r.Layers[3].Data },
		"a layer removed":      func(r *Record) { r.Layers = r.Layers[:3] },
		"a setting's line":     func(r *Record) { r.Settings = []byte(strings.Replace(string(r.Settings), `"line":3`, `"line":4`, 1)) },
		"a setting's value":    func(r *Record) { r.Settings = []byte(strings.Replace(string(r.Settings), `"value":5`, `"value":6`, 1)) },
		"a setting as a float": func(r *Record) {
			r.Settings = []byte(strings.Replace(string(r.Settings), `"value":5`, `"value":5.0`, 1))
		},
		"a setting removed":     func(r *Record) { r.Settings = []byte(`[]`) },
		"settings null":         func(r *Record) { r.Settings = []byte(`null`) },
		"settings missing":      func(r *Record) { r.Settings = nil },
		"settings two values":   func(r *Record) { r.Settings = append(append([]byte{}, r.Settings...), r.Settings...) },
		"settings not a list":   func(r *Record) { r.Settings = []byte(`{"x": 1}`) },
		"a layer too large":     func(r *Record) { r.Layers[3].Data += strings.Repeat("#\n", MaxSize) },
		"an invalid layer":      func(r *Record) { r.Layers[3].Data = setSwappiness(500) },
		"an escape in the path": func(r *Record) { r.Layers[3].Path = "\x1b[2J" },
	}
	for name, edit := range edits {
		var r Record
		json.Unmarshal(b, &r)
		edit(&r)
		_, err := Saved("p.plan", r).Resolve(nil)
		if err == nil || !strings.HasPrefix(err.Error(), "plan file p.plan: ") || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "\x1b") {
			t.Errorf("%s: %q", name, err)
		}
	}
}

func manyFlags(n int) []RecordLayer {
	var out []RecordLayer
	for i := range n {
		out = append(out, RecordLayer{Layer{fmt.Sprintf("f%d.yaml", i), FromFlag}, "version: 1\n"})
	}
	return out
}

func TestOriginString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		o    Origin
		want string
	}{
		{Origin{Kind: KindLayers, Layers: []Layer{{"edge.yaml", FromFlag}}}, "edge.yaml (--profile)"},
		{Origin{Kind: KindLayers, Layers: []Layer{{"a\nb", FromFlag}}}, `a\nb (--profile)`},
		{Origin{Kind: KindLayers, Layers: []Layer{{DefaultPath, InRoot}, {"a.yaml", FromFlag}, {"b.yaml", FromFlag}}}, "/etc/ezedge-host/profile.yaml in the root, then a.yaml, b.yaml (--profile)"},
		{Origin{Kind: KindNone}, "platform defaults (--no-profile)"},
		{Origin{Kind: KindAbsent}, "platform defaults (no /etc/ezedge-host/profile.yaml or /etc/ezedge-host/profile.d/*.yaml in the root)"},
		{Origin{Kind: KindLayers, Layers: []Layer{{DefaultPath, InRoot}}}, "/etc/ezedge-host/profile.yaml in the root"},
		{Origin{Kind: Kind("other\x1b[2J")}, `unknown (other\x1b[2J)`},
	} {
		if got := tc.o.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.o, got, tc.want)
		}
	}
}

// TestNotUTF8: a layer is Unicode text, as YAML is, and a profile.d name
// must be too: a saved plan keeps both in JSON, which would change them.
func TestNotUTF8(t *testing.T) {
	t.Parallel()
	_, err := decodeLayer("/etc/ezedge-host/profile.yaml", []byte("version: 1\n# caf\xe9\ntasks: {}\n"))
	if err == nil || !strings.Contains(err.Error(), "profile /etc/ezedge-host/profile.yaml:2: not UTF-8") {
		t.Errorf("a Latin-1 comment: %v", err)
	}
	if _, err := decodeLayer("p.yaml", []byte("version: 1\n# café\ntasks: {}\n")); err != nil {
		t.Errorf("UTF-8: %v", err)
	}
	if why := DropIn("10-caf\xe9.yaml"); why != "its name is not UTF-8" {
		t.Errorf("a Latin-1 name: %q", why)
	}
	if why := DropIn("10-café.yaml"); why != "" {
		t.Errorf("a UTF-8 name: %q", why)
	}
}
