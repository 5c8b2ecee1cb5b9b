package unitfile

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/oracle"
)

const vendorTmp = "[Unit]\nDescription=Temporary Directory /tmp\n[Mount]\nWhat=tmpfs\nWhere=/tmp\nType=tmpfs\nOptions=mode=1777\n"

// want is what systemd makes of tmp.mount in a case: load state
// ("loaded", "masked", or "error" for any failure), fragment, drop-ins
// and the mount's settings.
type want struct {
	state, fragment          string
	dropIns                  []string
	what, where, typ, option string
}

// unitCases are every kind of file at a unit's name, and drop-ins, on a
// root that ships systemd's tmp.mount in /usr/lib.
var unitCases = []struct {
	name  string
	files map[string]fixture.Entry
	want  want
}{
	{"vendor only", nil, want{"loaded", "/usr/lib/systemd/system/tmp.mount", nil, "tmpfs", "/tmp", "tmpfs", "mode=1777"}},
	{"admin's ext4 unit", map[string]fixture.Entry{"etc/systemd/system/tmp.mount": fixture.File("[Mount]\nWhat=/dev/sdb1\nWhere=/tmp\nType=ext4\n")},
		want{"loaded", "/etc/systemd/system/tmp.mount", nil, "/dev/sdb1", "/tmp", "ext4", ""}},
	{"alias to another mount", map[string]fixture.Entry{
		"etc/systemd/system/foo.mount": fixture.File("[Mount]\nWhat=/dev/sdb1\nWhere=/foo\nType=ext4\n"),
		"etc/systemd/system/tmp.mount": fixture.Link("foo.mount")},
		want{"loaded", "/usr/lib/systemd/system/tmp.mount", nil, "tmpfs", "/tmp", "tmpfs", "mode=1777"}},
	{"masked", map[string]fixture.Entry{"etc/systemd/system/tmp.mount": fixture.Link("/dev/null")}, want{state: "masked"}},
	{"masked, spelled", map[string]fixture.Entry{"etc/systemd/system/tmp.mount": fixture.Link("../../../dev/../dev//null")}, want{state: "masked"}},
	{"empty file", map[string]fixture.Entry{"etc/systemd/system/tmp.mount": fixture.File("")}, want{state: "masked"}},
	{"directory", map[string]fixture.Entry{"etc/systemd/system/tmp.mount": fixture.Dir()},
		want{"loaded", "/usr/lib/systemd/system/tmp.mount", nil, "tmpfs", "/tmp", "tmpfs", "mode=1777"}},
	{"fifo", map[string]fixture.Entry{"etc/systemd/system/tmp.mount": fixture.FIFO()},
		want{"loaded", "/usr/lib/systemd/system/tmp.mount", nil, "tmpfs", "/tmp", "tmpfs", "mode=1777"}},
	{"tmpfs type, another what", map[string]fixture.Entry{"etc/systemd/system/tmp.mount": fixture.File("[Mount]\nWhat=/dev/sdb1\nWhere=/tmp\nType=tmpfs\n")},
		want{"loaded", "/etc/systemd/system/tmp.mount", nil, "/dev/sdb1", "/tmp", "tmpfs", ""}},
	{"linked file", map[string]fixture.Entry{
		"opt/x.mount":                  fixture.File("[Mount]\nWhat=/dev/sdc1\nWhere=/tmp\nType=xfs\n"),
		"etc/systemd/system/tmp.mount": fixture.Link("../../../opt/x.mount")},
		want{"loaded", "/etc/systemd/system/tmp.mount", nil, "/dev/sdc1", "/tmp", "xfs", ""}},
	{"dangling link", map[string]fixture.Entry{"etc/systemd/system/tmp.mount": fixture.Link("../../../opt/missing.mount")}, want{state: "error"}},
	{"self link", map[string]fixture.Entry{"etc/systemd/system/tmp.mount": fixture.Link("../../../usr/lib/systemd/system/tmp.mount")},
		want{"loaded", "/usr/lib/systemd/system/tmp.mount", nil, "tmpfs", "/tmp", "tmpfs", "mode=1777"}},
	{"bad section header", map[string]fixture.Entry{"etc/systemd/system/tmp.mount": fixture.File("[Mount\nWhat=tmpfs\n")}, want{state: "error"}},
	{"syntax", map[string]fixture.Entry{"etc/systemd/system/tmp.mount": fixture.File("\uFEFF[Mount]\r\nWhat=tmp\\\n# a comment inside\n fs\rWhere=/tmp/\n  Type = tmpfs  \nOptions=a\\\\\nnot a setting\n[X-Mine]\nType=ext4\n")},
		want{"loaded", "/etc/systemd/system/tmp.mount", nil, "tmp  fs", "/tmp", "tmpfs", "a\\\\"}},
	{"drop-ins", map[string]fixture.Entry{
		"usr/lib/systemd/system/tmp.mount.d/50-type.conf":    fixture.File("[Mount]\nType=ext4\n"),
		"etc/systemd/system/mount.d/10-all.conf":             fixture.File("[Mount]\nOptions=x\n"),
		"usr/lib/systemd/system/tmp.mount.d/60-masked.conf":  fixture.File("[Mount]\nWhat=/dev/sdd1\n"),
		"etc/systemd/system/tmp.mount.d/60-masked.conf":      fixture.Link("/dev/null"),
		"etc/systemd/system/tmp.mount.d/70-dir.conf":         fixture.Dir(),
		"etc/systemd/system/tmp.mount.d/.80-hidden.conf":     fixture.File("[Mount]\nWhat=hidden\n"),
		"etc/systemd/system/tmp.mount.d/90-fifo.conf.backup": fixture.FIFO(),
		"etc/systemd/system/tmp.mount.d/99-reset.conf":       fixture.File("[Mount]\nOptions=\n"),
	}, want{"loaded", "/usr/lib/systemd/system/tmp.mount", []string{
		"/etc/systemd/system/mount.d/10-all.conf",
		"/usr/lib/systemd/system/tmp.mount.d/50-type.conf",
		"/etc/systemd/system/tmp.mount.d/60-masked.conf",
		"/etc/systemd/system/tmp.mount.d/70-dir.conf",
		"/etc/systemd/system/tmp.mount.d/99-reset.conf",
	}, "tmpfs", "/tmp", "ext4", ""}},
	{"drop-in faults", map[string]fixture.Entry{
		"etc/systemd/system/tmp.mount.d/10-bad.conf":  fixture.File("[Mount]\nType=xfs\n[Mount\nWhat=/dev/sde1\n"),
		"etc/systemd/system/tmp.mount.d/20-link.conf": fixture.Link("../../../../opt/20.conf"),
		"opt/20.conf": fixture.File("[Mount]\nOptions=ro\n"),
		"etc/systemd/system/tmp.mount.d/30-empty.conf": fixture.File(""),
	}, want{"loaded", "/usr/lib/systemd/system/tmp.mount", []string{
		"/etc/systemd/system/tmp.mount.d/10-bad.conf",
		"/etc/systemd/system/tmp.mount.d/20-link.conf",
		"/etc/systemd/system/tmp.mount.d/30-empty.conf",
	}, "tmpfs", "/tmp", "xfs", "ro"}},
	{"where refused", map[string]fixture.Entry{"etc/systemd/system/tmp.mount": fixture.File("[Mount]\nWhat=tmpfs\nWhere=/var/../tmp\nType=tmpfs\n")},
		want{"loaded", "/etc/systemd/system/tmp.mount", nil, "tmpfs", "/tmp", "tmpfs", ""}},
}

func root(t *testing.T, files map[string]fixture.Entry) string {
	r := t.TempDir()
	for _, d := range []string{"etc/systemd/system", "usr/lib/systemd/system", "tmp", "run", "dev"} {
		os.MkdirAll(filepath.Join(r, d), 0o755)
	}
	fixture.File(vendorTmp).Put(t, r, "usr/lib/systemd/system/tmp.mount")
	fixture.PutAll(t, r, files)
	return r
}

func open(t *testing.T, dir string) *hostroot.Root {
	h, err := hostroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// state is Load's answer in systemd's words.
func state(u Unit) string {
	switch {
	case u.Masked != "":
		return "masked"
	case u.Problem != "" || !u.Exists():
		return "error"
	}
	return "loaded"
}

func value(u Unit, key string) string {
	s, _ := u.Last("Mount", key)
	return s.Value
}

// TestLoad: every kind of file at a unit's name, read as systemd reads
// it; the same as systemd-analyze verify loads (chrooted into the root,
// so links resolve inside it), when it is installed.
func TestLoad(t *testing.T) {
	t.Parallel()
	for _, c := range unitCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := root(t, c.files)
			u := Load(open(t, dir), "tmp.mount")
			got := want{state: state(u)}
			if got.state == "loaded" {
				got = want{"loaded", u.Fragment, u.DropIns, value(u, "What"), value(u, "Where"), value(u, "Type"), value(u, "Options")}
				if w := value(u, "Where"); w != "" && w != "/tmp" && w != "/tmp/" {
					got.where = "/tmp" // systemd ignores a Where= it does not take, and derives it from the name
				}
				got.where = strings.TrimSuffix(got.where, "/")
				if got.where == "" {
					got.where = "/tmp"
				}
			}
			if !same(got, c.want) {
				t.Errorf("Load: %+v (problem %q, passed %v), want %+v", got, u.Problem, u.Passed, c.want)
			}
			l := oracle.Verify(t, dir, "tmp.mount")
			theirs := want{state: l.State}
			switch l.State {
			case "loaded":
				theirs = want{"loaded", l.Fragment, l.DropIns, l.What, l.Where, l.Type, l.Options}
			case "masked":
			default:
				theirs.state = "error"
			}
			if !same(theirs, c.want) {
				t.Errorf("systemd-analyze verify: %+v, want %+v\n%s", theirs, c.want, l.Log)
			}
		})
	}
}

func same(a, b want) bool {
	return a.state == b.state && a.fragment == b.fragment && slices.Equal(a.dropIns, b.dropIns) &&
		a.what == b.what && a.where == b.where && a.typ == b.typ && a.option == b.option
}

// TestLoadService: a service's aliases (a link in the unit path to
// another service), its "-" prefix and type drop-ins, the fragment and
// drop-ins systemd-analyze verify loads for it.
func TestLoadService(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, unit string
		files      map[string]fixture.Entry
		fragment   string
		dropIns    []string
		start      string
	}{
		{"alias", "raspi-config.service", map[string]fixture.Entry{
			"usr/lib/systemd/system/foo.service":               fixture.File("[Service]\nExecStart=/bin/foo\n"),
			"etc/systemd/system/raspi-config.service":          fixture.Link("/usr/lib/systemd/system/foo.service"),
			"etc/systemd/system/raspi-config.service.d/a.conf": fixture.File("[Service]\nExecStart=\nExecStart=/bin/a\n"),
			"etc/systemd/system/foo.service.d/b.conf":          fixture.File("[Service]\nExecStartPost=/bin/b\n"),
		}, "/usr/lib/systemd/system/foo.service", []string{"/etc/systemd/system/raspi-config.service.d/a.conf", "/etc/systemd/system/foo.service.d/b.conf"}, "/bin/a"},
		{"aliased by another", "foo.service", map[string]fixture.Entry{
			"usr/lib/systemd/system/foo.service":      fixture.File("[Service]\nExecStart=/bin/foo\n"),
			"etc/systemd/system/bar.service":          fixture.Link("../../../usr/lib/systemd/system/foo.service"),
			"etc/systemd/system/bar.service.d/c.conf": fixture.File("[Service]\nExecStart=\nExecStart=/bin/c\n"),
		}, "/usr/lib/systemd/system/foo.service", []string{"/etc/systemd/system/bar.service.d/c.conf"}, "/bin/c"},
		{"prefix and type drop-ins", "raspi-config.service", map[string]fixture.Entry{
			"usr/lib/systemd/system/raspi-config.service":    fixture.File("[Service]\nExecStart=/etc/init.d/raspi-config start\n"),
			"usr/lib/systemd/system/raspi-.service.d/p.conf": fixture.File("[Service]\nExecStart=\nExecStart=/bin/p\n"),
			"etc/systemd/system/service.d/q.conf":            fixture.File("[Service]\nTimeoutSec=5\n"),
		}, "/usr/lib/systemd/system/raspi-config.service", []string{"/usr/lib/systemd/system/raspi-.service.d/p.conf", "/etc/systemd/system/service.d/q.conf"}, "/bin/p"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := root(t, c.files)
			u := Load(open(t, dir), c.unit)
			starts := u.All("Service", "ExecStart")
			if u.Fragment != c.fragment || !slices.Equal(u.DropIns, c.dropIns) || len(starts) != 1 || starts[0].Value != c.start {
				t.Errorf("Load: fragment %q drop-ins %v ExecStart %v (problem %q passed %v), want %q %v %q", u.Fragment, u.DropIns, starts, u.Problem, u.Passed, c.fragment, c.dropIns, c.start)
			}
			if l := oracle.Verify(t, dir, c.unit); l.Fragment != c.fragment || !slices.Equal(l.DropIns, c.dropIns) {
				t.Errorf("systemd-analyze verify: fragment %q drop-ins %v, want %q %v\n%s", l.Fragment, l.DropIns, c.fragment, c.dropIns, l.Log)
			}
		})
	}
}

// TestGenerated: a unit a generator makes at boot sits between /etc and
// /usr/lib (systemd-fstab-generator's) or below every unit on disk
// (systemd-sysv-generator's).
func TestGenerated(t *testing.T) {
	t.Parallel()
	fstab := Generated{Name: "tmp.mount", By: "systemd-fstab-generator, from /etc/fstab line 1",
		Settings: []Setting{{File: "/etc/fstab line 1", Line: 1, Section: "Mount", Key: "Type", Value: "ext4"}}}
	sysv := Generated{Name: "tmp.mount", By: "systemd-sysv-generator", Late: true}
	for _, c := range []struct {
		name  string
		files map[string]fixture.Entry
		gen   Generated
		want  string
	}{
		{"fstab over /usr/lib", nil, fstab, "systemd-fstab-generator, from /etc/fstab line 1"},
		{"/etc over fstab", map[string]fixture.Entry{"etc/systemd/system/tmp.mount": fixture.File(vendorTmp)}, fstab, "/etc/systemd/system/tmp.mount"},
		{"/usr/lib over sysv", nil, sysv, "/usr/lib/systemd/system/tmp.mount"},
	} {
		u := Load(open(t, root(t, c.files)), "tmp.mount", c.gen)
		if u.From() != c.want {
			t.Errorf("%s: from %q, want %q", c.name, u.From(), c.want)
		}
	}
}

// TestParse: systemd's config parser, line by line.
func TestParse(t *testing.T) {
	t.Parallel()
	p := Parse("f", []byte("\uFEFF[A]\nk=v\n ; c\nx = a\\\n# inside\n  b \\\\\n[B]\r\nk\nk=\n=v\n[C] # x\nk=z\n"))
	want := []Setting{{"f", 2, "A", "k", "v"}, {"f", 4, "A", "x", "a   b \\\\"}, {"f", 9, "B", "k", ""}, {"f", 10, "B", "", "v"}}
	if !slices.Equal(p.Settings, want) || !slices.Equal(p.Sections, []string{"A", "B"}) || !strings.Contains(p.Problem, "line 11") || !slices.Equal(p.Ignored, []int{8}) {
		t.Errorf("Parse: %+v", p)
	}
}
