package oracle

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// EscapePath is `systemd-escape --path --suffix=SUFFIX -- p`: the unit
// name systemd gives path p, or the program's error.
func EscapePath(t testing.TB, p, suffix string) (string, bool) {
	t.Helper()
	need(t, Escape)
	out, err := exec.Command(Escape, "--path", "--suffix="+strings.TrimPrefix(suffix, "."), "--", p).Output()
	return strings.TrimSuffix(string(out), "\n"), err == nil
}

// FstabUnits runs systemd-fstab-generator on root's /etc/fstab, chrooted
// (links in mount points resolve inside root): the units it writes, by
// name, and its log.
func FstabUnits(t testing.TB, root string) (map[string]string, string) {
	t.Helper()
	out := t.TempDir()
	log, _ := InRoot(t, root, map[string]string{out: "/.oracle/out"}, FstabGenerator, "/.oracle/out", "/.oracle/out", "/.oracle/out")
	units := map[string]string{}
	ents, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Type().IsRegular() {
			b, _ := os.ReadFile(filepath.Join(out, e.Name()))
			units[e.Name()] = string(b)
		}
	}
	return units, log
}

// Loaded is what `systemd-analyze verify` loaded of a unit.
type Loaded struct {
	// State is the unit's load state (loaded, masked, not-found,
	// bad-setting, error); "" when the dump was not printed.
	State    string
	Fragment string
	DropIns  []string
	// What, Where, Type, Options are a mount unit's settings ("" for
	// n/a).
	What, Where, Type, Options string
	Log                        string
}

var (
	dumpField = regexp.MustCompile(`(?m)^\t\t([A-Za-z ]+): (.*)$`)
	maskedMsg = regexp.MustCompile(`Unit (\S+) is masked`)
)

// Verify loads unit with `systemd-analyze verify` chrooted into root (so
// its unit path is root's, links resolving inside it) and reads back its
// dump.
func Verify(t testing.TB, root, unit string) Loaded {
	t.Helper()
	log, _ := InRoot(t, root, nil, Analyze, "verify", "--man=no", unit)
	l := Loaded{Log: log}
	if m := maskedMsg.FindStringSubmatch(log); m != nil && m[1] == unit {
		l.State = "masked"
		return l
	}
	// The dump names the unit by its fragment's name, an alias's target.
	_, dump, ok := strings.Cut(log, "-> Unit ")
	if !ok {
		return l
	}
	if _, rest, ok := strings.Cut(dump, ":\n"); ok {
		dump = rest
	}
	if i := strings.Index(dump, "\n\t-> "); i >= 0 {
		dump = dump[:i]
	}
	na := func(s string) string {
		if s == "n/a" {
			return ""
		}
		return s
	}
	for _, m := range dumpField.FindAllStringSubmatch(dump, -1) {
		switch v := strings.TrimPrefix(m[2], root); m[1] {
		case "Unit Load State":
			l.State = v
		case "Fragment Path":
			l.Fragment = v
		case "DropIn Path":
			l.DropIns = append(l.DropIns, v)
		case "What":
			l.What = na(v)
		case "Where":
			l.Where = na(v)
		case "File System Type":
			l.Type = na(v)
		case "Options":
			l.Options = na(v)
		}
	}
	return l
}

var sysctlSetting = regexp.MustCompile(`(?m)^Setting '/proc/sys/([^']*)' to '([^']*)'`)

// SysctlKeys runs systemd-sysctl on conf, in new user and network
// namespaces, and returns the /proc/sys path it writes each value to. Only
// give it keys under a top-level name /proc/sys does not have
// ("ezedgetest."): the writes then fail with ENOENT and nothing changes.
func SysctlKeys(t testing.TB, conf string) map[string]string {
	t.Helper()
	need(t, Sysctl)
	needNamespaces(t)
	for _, l := range strings.Split(conf, "\n") {
		l = strings.TrimLeft(strings.TrimSpace(l), "-/.")
		if l != "" && l[0] != '#' && l[0] != ';' && !strings.HasPrefix(l, "ezedgetest") {
			t.Fatalf("oracle: sysctl key outside ezedgetest: %q", l)
		}
	}
	f := filepath.Join(t.TempDir(), "x.conf")
	if err := os.WriteFile(f, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "-r", "-n", Sysctl, f)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=debug", "SYSTEMD_LOG_COLOR=0")
	out, _ := cmd.CombinedOutput()
	keys := map[string]string{}
	for _, m := range sysctlSetting.FindAllStringSubmatch(string(out), -1) {
		keys[m[2]] = m[1]
	}
	return keys
}

// TmpfilesCreate runs `systemd-tmpfiles --root=ROOT --create CONF`: it
// changes files inside root only. It returns its log.
func TmpfilesCreate(t testing.TB, root, conf string) string {
	t.Helper()
	need(t, Tmpfiles)
	f := filepath.Join(t.TempDir(), "x.conf")
	if err := os.WriteFile(f, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(Tmpfiles, "--root="+root, "--create", f)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=debug", "SYSTEMD_LOG_COLOR=0")
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// ZramUnits runs zram-generator on root's configuration, through the
// generator's own ZRAM_GENERATOR_ROOT (it then reads its configuration
// files, /proc/meminfo and /proc/cmdline under root, and nothing else:
// no chroot is needed). It returns what it writes, by path under its
// output directory (a link as "-> target"), its log, and whether it
// accepted the configuration.
func ZramUnits(t testing.TB, root string) (map[string]string, string, bool) {
	t.Helper()
	prog := zramGenerator()
	need(t, prog)
	out := t.TempDir()
	cmd := exec.Command(prog, out)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "ZRAM_GENERATOR_ROOT=" + root, "LC_ALL=C"}
	log, err := cmd.CombinedOutput()
	units := map[string]string{}
	werr := filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		if d.Type()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			units[rel] = "-> " + target
			return nil
		}
		b, err := os.ReadFile(p)
		units[rel] = string(b)
		return err
	})
	if werr != nil {
		t.Fatal(werr)
	}
	return units, string(log), err == nil
}
