package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/storageconf"
	"github.com/ezansiedgeai/ezedge-host/test/debroot"
)

// A kind of file ezedge-host writes, and the program that reads it.
type kind struct {
	name string
	// match says whether a written path is of this kind.
	match func(p string, f file) bool
	// consume feeds the files to their consumer in the layer (the
	// files already in it) and says what it saw, or why it refused.
	consume func(x *ctx, c *use) (string, error)
}

// use is one consumer run: the layer holding the files, the release
// whose programs read them, the source that wrote them, and the paths.
type use struct {
	l     *debroot.Layer
	r     release
	s     *source
	paths []string
}

func (c *use) data(p string) string { return string(c.s.files[p].data) }

// noConsumer are the files no program from Debian's packages can read
// here, and why; docs/testing.md lists them.
var noConsumer = []struct {
	re  *regexp.Regexp
	why string
}{
	{regexp.MustCompile(`^/boot/(firmware/)?cmdline\.txt$`), "read by the Raspberry Pi firmware and the kernel at boot (not a Debian package); make realroots runs raspi-firmware's hook, make e2e boots it"},
	{regexp.MustCompile(`^/etc/default/raspi-extra-cmdline$`), "read by raspi-firmware's kernel hook: make realroots runs it"},
	{regexp.MustCompile(`^/var/lib/NetworkManager/NetworkManager\.state$`), "read by the NetworkManager daemon as it starts; not run here (a daemon on the machine's D-Bus)"},
	{regexp.MustCompile(`^/var/lib/systemd/rfkill/`), "read by systemd-rfkill for an rfkill device at boot; none exists in a root"},
	{regexp.MustCompile(`^/etc/rpi/swap\.conf\.d/[^/]+\.conf$`), "read by Raspberry Pi OS's rpi-swap (not a Debian package); its keys are the ones rpi-swap documents (tasks' TestSwapPlan)"},
}

var (
	unitDir    = "/etc/systemd/system/"
	unitSuffix = regexp.MustCompile(`\.(service|socket|timer|mount|target|path|swap|slice|scope|automount|device)$`)
	quadletRe  = regexp.MustCompile(`^/etc/containers/systemd/([^/]+)\.container\.d/[^/]+\.conf$`)
)

var kinds = []kind{
	{"unit", func(p string, f file) bool {
		return f.link == "" && strings.HasPrefix(p, unitDir) && (unitSuffix.MatchString(p) || strings.HasSuffix(path.Dir(p), ".d"))
	}, (*ctx).units},
	{"unit-link", func(p string, f file) bool { return f.link != "" && strings.HasPrefix(p, unitDir) }, (*ctx).unitLinks},
	{"sysctl.d", func(p string, _ file) bool { return strings.HasPrefix(p, "/etc/sysctl.d/") }, (*ctx).sysctl},
	{"tmpfiles.d", func(p string, _ file) bool { return strings.HasPrefix(p, "/etc/tmpfiles.d/") }, (*ctx).tmpfiles},
	{"udev-rules", func(p string, _ file) bool { return strings.HasPrefix(p, "/etc/udev/rules.d/") }, (*ctx).udev},
	{"journald", func(p string, _ file) bool { return strings.HasPrefix(p, "/etc/systemd/journald.conf.d/") }, (*ctx).journald},
	{"fstab", func(p string, _ file) bool { return p == "/etc/fstab" }, (*ctx).fstab},
	{"storage.conf", func(p string, _ file) bool { return p == "/etc/containers/storage.conf" }, (*ctx).storage},
	{"quadlet", func(p string, _ file) bool { return quadletRe.MatchString(p) }, (*ctx).quadlet},
	{"compose", func(p string, _ file) bool { return p == "/etc/ezedge-host/compose.override.yaml" }, (*ctx).compose},
	{"grub.d", func(p string, _ file) bool { return strings.HasPrefix(p, "/etc/default/grub.d/") }, (*ctx).grub},
	{"zram-generator", func(p string, _ file) bool { return strings.HasPrefix(p, "/etc/systemd/zram-generator.conf.d/") }, (*ctx).zram},
	{"textfile", func(p string, _ file) bool { return strings.HasSuffix(p, ".prom") }, (*ctx).textfile},
}

// consume lays the files of s over release r's root and has each kind's
// consumer read them. A real root's files are read by its own release
// only; a fixture's by both.
func (x *ctx) consume(s *source, r release) error {
	if s.release != "" && s.release != r.name {
		return nil
	}
	var l *debroot.Layer
	var err error
	if s.layer != nil {
		l, err = s.layer.Fork(x.dir(s.name + "-" + r.name))
	} else {
		l, err = x.lay(r, s.files, x.dir(s.name+"-"+r.name))
	}
	if err != nil {
		return err
	}
	byKind := map[string][]string{}
	var paths []string
	for p := range s.files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
next:
	for _, p := range paths {
		for _, k := range kinds {
			if k.match(p, s.files[p]) {
				byKind[k.name] = append(byKind[k.name], p)
				continue next
			}
		}
		for _, n := range noConsumer {
			if n.re.MatchString(p) {
				if r.name == "trixie" {
					note("no-consumer "+s.name, p+": "+n.why)
				}
				continue next
			}
		}
		fail("no-consumer "+s.name, fmt.Errorf("%s: ezedge-host wrote it and no consumer reads it in this suite", p))
	}
	for _, k := range kinds {
		ps := byKind[k.name]
		if len(ps) == 0 {
			continue
		}
		detail, err := k.consume(x, &use{l: l, r: r, s: s, paths: ps})
		name := fmt.Sprintf("%s %s@%s", k.name, s.name, r.name)
		if errors.Is(err, errNotHere) {
			note(name, detail)
			continue
		}
		check(name, err, detail)
	}
	return nil
}

// errNotHere: the release has no such consumer (the detail says which
// release's does).
var errNotHere = errors.New("no such consumer in this release")

// lay makes a layer over r's root holding files, and ezedge-host itself
// where the check timer's unit runs it.
func (x *ctx) lay(r release, files map[string]file, dir string) (*debroot.Layer, error) {
	l, err := debroot.NewLayer(r.root, dir)
	if err != nil {
		return nil, err
	}
	for p, f := range files {
		if err := put(l, p, f); err != nil {
			return nil, err
		}
	}
	bin, err := os.ReadFile(x.bin)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if m := execStart.FindStringSubmatch(string(f.data)); m != nil && strings.HasSuffix(m[1], "/ezedge-host") {
			l.Put(m[1], bin, 0o755)
		}
	}
	return l, nil
}

var execStart = regexp.MustCompile(`(?m)^ExecStart=(/\S+)`)

func put(l *debroot.Layer, p string, f file) error {
	if f.link != "" {
		full := filepath.Join(l.Upper, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.Remove(full)
		return os.Symlink(f.link, full)
	}
	mode := f.mode.Perm()
	if mode == 0 {
		mode = 0o644
	}
	return l.Put(p, f.data, mode)
}

// chroot runs a program of the layer's root in it; the error carries the
// program's output.
func chroot(l *debroot.Layer, m debroot.Mounts, args ...string) (string, error) {
	m.Proc = true
	out, err := l.Chroot(m, nil, args...)
	if err != nil {
		return out, fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out, nil
}

// mentions are the lines of out that name one of names.
func mentions(out string, names ...string) []string {
	var m []string
	for _, l := range strings.Split(out, "\n") {
		for _, n := range names {
			if n != "" && strings.Contains(l, n) {
				m = append(m, l)
				break
			}
		}
	}
	return m
}

func (c *use) has(p string) bool {
	if _, ok := c.s.files[p]; ok {
		return true
	}
	if _, err := os.Lstat(filepath.Join(c.l.Upper, p)); err == nil {
		return true
	}
	_, err := os.Stat(filepath.Join(c.r.root, p))
	return err == nil
}

// units: systemd-analyze verify on every unit ezedge-host wrote or
// extended with a drop-in, as the release's systemd loads it (drop-ins
// included). verify prints what it dislikes (an unknown key, a command
// not found) and may still exit 0, so a line naming one of ours fails
// too. A unit that exists only on the fixture (Bullseye's raspi-config,
// made from its init script by systemd-sysv-generator) is taken from it.
// verify does not look for the command of an Exec line whose failure is
// ignored (Exec…=-cmd): those are verified again with the '-' taken off,
// so a command systemd cannot find fails here too.
func (x *ctx) units(c *use) (string, error) {
	var targets, names []string
	sysv := false
	seen := map[string]bool{}
	for _, p := range c.paths {
		unit := path.Base(p)
		if strings.HasSuffix(path.Dir(p), ".d") {
			unit = strings.TrimSuffix(path.Base(path.Dir(p)), ".d")
		}
		names = append(names, p, unit+":")
		if seen[unit] {
			continue
		}
		seen[unit] = true
		target := ""
		for _, d := range []string{unitDir, "/usr/lib/systemd/system/", "/lib/systemd/system/"} {
			if c.has(d + unit) {
				target = d + unit
				break
			}
		}
		if target == "" && c.s.host != "" {
			if b, err := os.ReadFile(filepath.Join(c.s.host, "etc/init.d", strings.TrimSuffix(unit, ".service"))); err == nil {
				c.l.Put("/etc/init.d/"+strings.TrimSuffix(unit, ".service"), b, 0o755)
				target, sysv = "/run/gen/"+unit, true
			}
			for _, d := range []string{"lib/systemd/system/", "usr/lib/systemd/system/"} {
				if b, err := os.ReadFile(filepath.Join(c.s.host, d, unit)); target == "" && err == nil {
					c.l.Put("/usr/lib/systemd/system/"+unit, b, 0o644)
					target = "/usr/lib/systemd/system/" + unit
				}
			}
		}
		if target == "" {
			return "", fmt.Errorf("%s: no unit %s to extend in the root or on the fixture", p, unit)
		}
		targets = append(targets, target)
	}
	verify := func(l *debroot.Layer) (string, error) {
		script := `set -e; mkdir -p /run/gen`
		if sysv {
			script += `; /usr/lib/systemd/system-generators/systemd-sysv-generator /run/gen /run/gen /run/gen 2>/dev/null`
		}
		script += `; exec systemd-analyze verify --man=no --recursive-errors=no "$@"`
		out, err := chroot(l, debroot.Mounts{Tmpfs: []string{"run", "tmp"}}, append([]string{"sh", "-c", script, "sh"}, targets...)...)
		if err != nil {
			return "", err
		}
		if m := mentions(out, names...); len(m) > 0 {
			return "", fmt.Errorf("systemd-analyze verify:\n%s", strings.Join(m, "\n"))
		}
		return out, nil
	}
	if _, err := verify(c.l); err != nil {
		return "", err
	}
	// The '-' commands, with the '-' off, in a fork.
	ignored := regexp.MustCompile(`(?m)^(Exec[A-Za-z]*=)[-@:+!]*-`)
	var strip []string
	for _, p := range c.paths {
		if ignored.MatchString(c.data(p)) {
			strip = append(strip, p)
		}
	}
	detail := fmt.Sprintf("%s (%s) verifies %s", "systemd-analyze verify", c.r.version("systemd"), strings.Join(targets, " "))
	if len(strip) > 0 {
		f, err := c.l.Fork(x.dir("strip"))
		if err != nil {
			return "", err
		}
		for _, p := range strip {
			f.Put(p, []byte(ignored.ReplaceAllString(c.data(p), "$1")), 0o644)
		}
		if _, err := verify(f); err != nil {
			return "", fmt.Errorf("with the '-' of Exec lines taken off (systemd ignores their failure, and verify does not look for their command): %v", err)
		}
		detail += "; the commands of its Exec…=- lines are found"
	}
	return detail, nil
}

// unitLinks: every link ezedge-host made in /etc/systemd/system enables
// its unit, as systemctl reads the root (systemctl --root: the same
// search for [Install] and links as on a host).
func (x *ctx) unitLinks(c *use) (string, error) {
	var units []string
	for _, p := range c.paths {
		units = append(units, path.Base(p))
	}
	var bad []string
	for _, u := range units {
		out, _ := chroot(c.l, debroot.Mounts{Tmpfs: []string{"run", "tmp"}}, "systemctl", "--root=/", "is-enabled", u)
		if st := strings.TrimSpace(out); st != "enabled" {
			bad = append(bad, u+": "+st)
		}
	}
	if len(bad) > 0 {
		return "", fmt.Errorf("systemctl --root=/ is-enabled: %s", strings.Join(bad, "; "))
	}
	return fmt.Sprintf("systemctl --root=/ is-enabled (%s): %s enabled", c.r.version("systemd"), strings.Join(units, ", ")), nil
}

// assignments are a sysctl.d file's key = value lines.
func assignments(data string) [][2]string {
	var kv [][2]string
	for _, l := range strings.Split(data, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		k, v, _ := strings.Cut(l, "=")
		kv = append(kv, [2]string{strings.TrimPrefix(strings.TrimSpace(k), "-"), strings.TrimSpace(v)})
	}
	return kv
}

func norm(s string) string { return strings.Join(strings.Fields(s), " ") }

// sysctl: systemd-sysctl, as at boot (every sysctl.d file of the root and
// ours, in its order), writes into a /proc/sys that is a tmpfs holding
// only the keys a kernel has (their names taken from the machine's
// /proc/sys or the fixture's, never written): every assignment of ours
// must arrive with its value, and, on a fixture, be the value apply set
// at runtime.
func (x *ctx) sysctl(c *use) (string, error) {
	var keys []string
	want := map[string]string{}
	for _, p := range c.paths {
		for _, kv := range assignments(c.data(p)) {
			keys = append(keys, kv[0])
			want[kv[0]] = kv[1]
		}
	}
	// The keys this kernel has: the machine's, or the fixture's.
	var seed []string
	for _, k := range keys {
		f := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
		_, err := os.Stat(f)
		if c.s.host != "" {
			if _, ferr := os.Stat(filepath.Join(c.s.host, f)); ferr == nil {
				err = nil
			}
		}
		if err == nil {
			seed = append(seed, f)
		}
	}
	script := `set -e; r=$1; n=$2; shift 2
i=0; for f in "$@"; do i=$((i+1)); if [ $i -le $n ]; then mkdir -p "$r$(dirname "$f")"; : > "$r$f"; fi; done
chroot "$r" /usr/lib/systemd/systemd-sysctl
i=0; for k in "$@"; do i=$((i+1)); [ $i -le $n ] && continue; f=$(echo "$k" | tr . /); printf '%s=' "$k"; cat "$r/proc/sys/$f" 2>/dev/null | tr '\n\t' '  '; echo; done`
	args := append([]string{"sh", "-c", script, "sh", c.l.Root(), fmt.Sprint(len(seed))}, seed...)
	out, err := c.l.Run(debroot.Mounts{Tmpfs: []string{"proc"}}, nil, append(args, keys...)...)
	if err != nil {
		return "", fmt.Errorf("systemd-sysctl: %v\n%s", err, out)
	}
	if m := mentions(out, c.paths...); len(m) > 0 {
		return "", fmt.Errorf("systemd-sysctl:\n%s", strings.Join(m, "\n"))
	}
	got := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			got[k] = norm(v)
		}
	}
	var bad []string
	for _, k := range keys {
		if got[k] != norm(want[k]) {
			bad = append(bad, fmt.Sprintf("%s: systemd-sysctl set %q, the file says %q", k, got[k], want[k]))
		}
		if v, ok := c.s.runtime["/proc/sys/"+strings.ReplaceAll(k, ".", "/")]; ok && norm(v) != got[k] {
			bad = append(bad, fmt.Sprintf("%s: at boot %q, but apply set %q now", k, got[k], norm(v)))
		}
	}
	if len(bad) > 0 {
		return "", errors.New(strings.Join(bad, "\n"))
	}
	return fmt.Sprintf("systemd-sysctl (%s) sets %d keys as the file says%s", c.r.version("systemd"), len(keys), runtimeNote(c.s)), nil
}

func runtimeNote(s *source) string {
	if s.host != "" {
		return ", and as apply set them at runtime"
	}
	return ""
}

// tmpfiles: systemd-tmpfiles --create, as at boot (every tmpfiles.d file
// of the root and ours, its /sys lines only), writes into a /sys that is
// a tmpfs holding only the attributes a host has (the fixture's, or the
// machine kernel's, by name; never written): every w line of ours must
// arrive.
func (x *ctx) tmpfiles(c *use) (string, error) {
	var paths []string
	want := map[string]string{}
	for _, p := range c.paths {
		for _, l := range strings.Split(c.data(p), "\n") {
			f := strings.Fields(l)
			if len(f) >= 7 && (f[0] == "w" || f[0] == "w+") {
				paths = append(paths, f[1])
				want[f[1]] = strings.Join(f[6:], " ")
			}
		}
	}
	// The attributes to seed: the fixture's, or the machine's (zswap's
	// parameters appear once the next boot's command line turns it on).
	// A glob (an image's cpu*/cpufreq/scaling_governor) stands for what it
	// matches there, or, where nothing does (a machine without cpufreq),
	// for CPUs 0 and 1 of a host that has it; each must get the value.
	var seed, expect []string
	for _, p := range paths {
		var found []string
		if m, _ := filepath.Glob(p); len(m) > 0 {
			found = append(found, m...)
		}
		if c.s.host != "" {
			m, _ := filepath.Glob(filepath.Join(c.s.host, p))
			for _, f := range m {
				found = append(found, strings.TrimPrefix(f, c.s.host))
			}
		}
		if len(found) == 0 && strings.ContainsAny(p, "*?[") {
			found = []string{strings.ReplaceAll(p, "*", "0"), strings.ReplaceAll(p, "*", "1")}
		}
		seed = append(seed, found...)
		if len(found) == 0 {
			found = []string{p}
		}
		for _, f := range found {
			want[f] = want[p]
			expect = append(expect, f)
		}
	}
	paths = expect
	script := `set -e; r=$1; n=$2; shift 2
i=0; for p in "$@"; do i=$((i+1)); if [ $i -le $n ]; then mkdir -p "$r$(dirname "$p")"; : > "$r$p"; fi; done
chroot "$r" systemd-tmpfiles --create --prefix=/sys
i=0; for p in "$@"; do i=$((i+1)); [ $i -le $n ] && continue; printf '%s=' "$p"; cat "$r$p" 2>/dev/null | tr '\n' ' '; echo; done`
	args := append([]string{"sh", "-c", script, "sh", c.l.Root(), fmt.Sprint(len(seed))}, seed...)
	args = append(args, paths...)
	out, err := c.l.Run(debroot.Mounts{Proc: true, Tmpfs: []string{"sys", "run", "tmp"}}, nil, args...)
	if err != nil {
		return "", fmt.Errorf("systemd-tmpfiles: %v\n%s", err, out)
	}
	if m := mentions(out, c.paths...); len(m) > 0 {
		return "", fmt.Errorf("systemd-tmpfiles:\n%s", strings.Join(m, "\n"))
	}
	got := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && strings.HasPrefix(k, "/sys/") {
			got[k] = norm(v)
		}
	}
	var bad []string
	for _, p := range paths {
		if got[p] != norm(want[p]) {
			bad = append(bad, fmt.Sprintf("%s: systemd-tmpfiles wrote %q, the file says %q", p, got[p], want[p]))
		}
		if v, ok := c.s.runtime[p]; ok && norm(v) != got[p] {
			bad = append(bad, fmt.Sprintf("%s: at boot %q, but apply set %q now", p, got[p], norm(v)))
		}
	}
	if len(bad) > 0 {
		return "", errors.New(strings.Join(bad, "\n"))
	}
	return fmt.Sprintf("systemd-tmpfiles (%s) writes %d attributes as the file says%s", c.r.version("systemd"), len(paths), runtimeNote(c.s)), nil
}

// udev: udevadm verify, the rules files' own checker (systemd 254 and
// later: trixie's, not bookworm's 252).
func (x *ctx) udev(c *use) (string, error) {
	if out, err := chroot(c.l, debroot.Mounts{}, "udevadm", "verify", "--help"); err != nil {
		return "udevadm (" + c.r.version("udev") + ") has no verify (systemd 254 and later): the rules are verified by trixie's", fmt.Errorf("%w: %s", errNotHere, firstLines(out, 1))
	}
	out, err := chroot(c.l, debroot.Mounts{Tmpfs: []string{"run", "tmp"}}, append([]string{"udevadm", "verify"}, c.paths...)...)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("udevadm verify (%s): %s", c.r.version("udev"), firstLines(out, 3)), nil
}

// journald: systemd-analyze cat-config shows the files journald reads,
// in its order: ours is among them and, for every key it sets, the last
// setting read is ours; and every key is one this journald's parser
// knows (its table of Journal.* keys, in the binary).
func (x *ctx) journald(c *use) (string, error) {
	out, err := chroot(c.l, debroot.Mounts{Tmpfs: []string{"run", "tmp"}}, "systemd-analyze", "cat-config", "systemd/journald.conf")
	if err != nil {
		return "", err
	}
	bin, err := os.ReadFile(filepath.Join(c.r.root, "usr/lib/systemd/systemd-journald"))
	if err != nil {
		return "", err
	}
	last := map[string]string{}
	var file string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "# /") {
			file = strings.TrimPrefix(l, "# ")
			continue
		}
		if k, _, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			last[strings.TrimSpace(k)] = file
		}
	}
	var bad []string
	n := 0
	for _, p := range c.paths {
		if !strings.Contains(out, "# "+p+"\n") {
			bad = append(bad, p+" is not among the files journald reads")
		}
		for _, l := range strings.Split(c.data(p), "\n") {
			k, _, ok := strings.Cut(l, "=")
			if !ok || strings.HasPrefix(l, "#") {
				continue
			}
			n++
			if last[k] != p {
				bad = append(bad, fmt.Sprintf("%s=: the last setting journald reads is in %s, not %s", k, last[k], p))
			}
			if !strings.Contains(string(bin), "Journal."+k+"\x00") {
				bad = append(bad, fmt.Sprintf("%s=: not a key this systemd-journald knows", k))
			}
		}
	}
	if len(bad) > 0 {
		return "", errors.New(strings.Join(bad, "\n"))
	}
	return fmt.Sprintf("systemd-analyze cat-config (%s): read, its %d settings last, each a key systemd-journald knows", c.r.version("systemd"), n), nil
}

// fstabProblems are what findmnt --verify says of the machine it runs on
// rather than of the file: the fixture's and the installer's devices and
// mount points are not here.
var fstabEnvironment = regexp.MustCompile(`^\s*\[[EW]\] (unreachable on boot required (source|target)|unreachable (source|target)|cannot detect on-disk filesystem type|target is not a directory)`)

// fstab: findmnt --verify parses the file (no parse error, nothing wrong
// but what only this machine lacks: its devices and mount points), and
// systemd-fstab-generator turns it into the -.mount unit the boot uses,
// saying nothing, with every option of the root's line, which
// systemd-analyze verify accepts.
func (x *ctx) fstab(c *use) (string, error) {
	out, _ := chroot(c.l, debroot.Mounts{Tmpfs: []string{"run", "tmp"}}, "findmnt", "--verify", "--verbose", "--tab-file", "/etc/fstab")
	var bad []string
	for _, l := range strings.Split(out, "\n") {
		t := strings.TrimSpace(l)
		switch {
		case strings.Contains(l, "parse error") && !strings.HasPrefix(t, "0 parse errors"):
			bad = append(bad, t)
		case strings.HasPrefix(t, "[E]") || strings.HasPrefix(t, "[W]"):
			if !fstabEnvironment.MatchString(l) {
				bad = append(bad, t)
			}
		}
	}
	if sum := regexp.MustCompile(`(?m)^(\d+) parse errors?, \d+ errors?, \d+ warnings?$`).FindStringSubmatch(out); sum == nil || sum[1] != "0" {
		bad = append(bad, "findmnt did not finish its check without a parse error:\n"+out)
	}
	if len(bad) > 0 {
		return "", fmt.Errorf("findmnt --verify:\n%s", strings.Join(bad, "\n"))
	}
	var opts []string
	for _, l := range strings.Split(c.data("/etc/fstab"), "\n") {
		if f := strings.Fields(l); len(f) >= 4 && f[1] == "/" && !strings.HasPrefix(f[0], "#") {
			opts = strings.Split(f[3], ",")
		}
	}
	// /sys a tmpfs: read-only, the generator takes it for a container
	// and skips device mounts.
	gen, err := chroot(c.l, debroot.Mounts{Tmpfs: []string{"run", "tmp", "sys"}}, "sh", "-c",
		`set -e; mkdir -p /run/gen; SYSTEMD_PROC_CMDLINE= /usr/lib/systemd/system-generators/systemd-fstab-generator /run/gen /run/gen /run/gen; echo ---; cat /run/gen/-.mount; echo ---; systemd-analyze verify --man=no --recursive-errors=no /run/gen/-.mount`)
	if err != nil {
		return "", err
	}
	parts := strings.SplitN(gen, "---\n", 3)
	if len(parts) != 3 || strings.TrimSpace(parts[0]) != "" || strings.TrimSpace(parts[2]) != "" {
		return "", fmt.Errorf("systemd-fstab-generator or the verify of its -.mount said:\n%s", gen)
	}
	m := regexp.MustCompile(`(?m)^Options=(.*)$`).FindStringSubmatch(parts[1])
	if m == nil {
		return "", fmt.Errorf("systemd-fstab-generator made a -.mount without Options=:\n%s", parts[1])
	}
	have := map[string]bool{}
	for _, o := range strings.Split(m[1], ",") {
		have[o] = true
	}
	for _, o := range opts {
		if !have[o] {
			return "", fmt.Errorf("-.mount has Options=%s, without %s of the root's line", m[1], o)
		}
	}
	return fmt.Sprintf("findmnt --verify (%s) parses it; systemd-fstab-generator (%s) mounts / with Options=%s", c.r.version("util-linux"), c.r.version("systemd"), m[1]), nil
}

// podmanMounts keep Podman off the machine: its store, run root and
// temporary files are tmpfs in the mount namespace.
var podmanMounts = debroot.Mounts{Dev: true, Sys: true, Tmpfs: []string{"run", "tmp", "var/tmp", "var/lib/containers"}}

// podmanInfo runs podman info in the layer and returns its store.
func podmanInfo(l *debroot.Layer) (map[string]any, error) {
	out, err := chroot(l, podmanMounts, "sh", "-c", "podman info --format json 2>/tmp/err || { cat /tmp/err >&2; exit 1; }")
	if err != nil {
		return nil, err
	}
	var info struct {
		Store map[string]any `json:"store"`
	}
	i := strings.Index(out, "{")
	if i < 0 {
		return nil, fmt.Errorf("podman info printed no JSON:\n%s", out)
	}
	if err := json.Unmarshal([]byte(out[i:]), &info); err != nil {
		return nil, fmt.Errorf("podman info: %v\n%s", err, out)
	}
	return info.Store, nil
}

// storage: podman info reads storage.conf as every podman command does
// (containers/storage's lookup: /etc/containers/storage.conf) and runs
// with what it holds: the driver and graphroot ezedge-host set, and a
// runroot.
func (x *ctx) storage(c *use) (string, error) {
	v, err := storageconf.Parse([]byte(c.data("/etc/containers/storage.conf")))
	if err != nil {
		return "", err
	}
	st, err := podmanInfo(c.l)
	if err != nil {
		return "", err
	}
	want := map[string]any{"graphDriverName": v.Driver, "graphRoot": v.Graphroot, "runRoot": storageconf.DefaultRunRoot, "configFile": "/etc/containers/storage.conf"}
	for k, w := range want {
		if st[k] != w {
			return "", fmt.Errorf("podman info: store.%s is %v, want %v", k, st[k], w)
		}
	}
	return fmt.Sprintf("podman info (%s, %s) runs with it: driver %v, graphroot %v, runroot %v", c.r.version("podman"), c.r.version("golang-github-containers-common"), st["graphDriverName"], st["graphRoot"], st["runRoot"]), nil
}

// quadlet: Podman's Quadlet generator (podman-system-generator, Podman
// 4.4 and later: trixie's 5.4) reads each drop-in with the operator's
// NAME.container and puts every argument and variable of ours into the
// service's podman run; systemd-analyze verify accepts the service.
func (x *ctx) quadlet(c *use) (string, error) {
	gen := "/usr/lib/systemd/system-generators/podman-system-generator"
	if !c.has(gen) {
		return c.r.version("podman") + " has no Quadlet (4.4 and later): ezedge-host refuses the form there; trixie's reads the drop-ins", errNotHere
	}
	// A drop-in is written for the host's Podman (Memory= from 5.5 on,
	// PodmanArgs= before): a root's older Quadlet is not its reader.
	if c.s.host != "" {
		if h, r := debroot.Version(c.s.host, "podman"), debroot.Version(c.r.root, "podman"); newer(h, r) {
			return fmt.Sprintf("written for the fixture's Podman %s, newer than this root's %s: no Debian root here has a Quadlet as new (Memory= came in 5.5)", h, r), errNotHere
		}
	}
	var services []string
	want := map[string][]string{}
	networked := map[string]bool{}
	for _, p := range c.paths {
		name := quadletRe.FindStringSubmatch(p)[1]
		if unit := "/etc/containers/systemd/" + name + ".container"; !c.has(unit) {
			// The operator's unit names a network of its own: a drop-in
			// that sets Network= must clear it, or Podman gets two.
			c.l.Put(unit, []byte("[Container]\nImage=localhost/"+name+":latest\nNetwork=none\n"), 0o644)
		}
		services = append(services, name+".service")
		for _, l := range strings.Split(c.data(p), "\n") {
			switch k, v, _ := strings.Cut(l, "="); k {
			case "PodmanArgs":
				want[name] = append(want[name], strings.Fields(v)...)
			case "Environment":
				want[name] = append(want[name], "--env "+v)
			case "Network":
				if v != "" { // an empty value clears the unit's own
					want[name] = append(want[name], "--network "+v)
					networked[name] = true
				}
			case "Ulimit":
				want[name] = append(want[name], "--ulimit "+v)
			case "AddDevice":
				want[name] = append(want[name], "--device "+v)
			}
		}
	}
	out, err := chroot(c.l, debroot.Mounts{Tmpfs: []string{"run", "tmp"}}, gen, "--dryrun")
	if err != nil {
		return "", err
	}
	for _, p := range c.paths {
		if !strings.Contains(out, "Loading source drop-in file "+p) {
			return "", fmt.Errorf("the generator did not read %s:\n%s", p, out)
		}
	}
	for name, args := range want {
		i := strings.Index(out, "---"+name+".service---")
		if i < 0 {
			return "", fmt.Errorf("the generator made no %s.service:\n%s", name, out)
		}
		sec := out[i:]
		m := regexp.MustCompile(`(?m)^ExecStart=(.*)$`).FindStringSubmatch(sec)
		if m == nil {
			return "", fmt.Errorf("no ExecStart= in %s.service:\n%s", name, sec)
		}
		if n := strings.Count(m[1], "--network"); networked[name] && n != 1 {
			return "", fmt.Errorf("%s.service runs %s: %d networks, the unit's own not cleared", name, m[1], n)
		}
		for _, a := range args {
			if !strings.Contains(m[1]+" ", " "+a+" ") && !strings.Contains(m[1]+" ", " "+strings.Replace(a, " ", "=", 1)+" ") {
				return "", fmt.Errorf("%s.service runs %s, without %s", name, m[1], a)
			}
		}
	}
	v, err := chroot(c.l, debroot.Mounts{Tmpfs: []string{"run", "tmp"}}, append([]string{"sh", "-c",
		`set -e; mkdir -p /run/gen; ` + gen + ` /run/gen /run/gen /run/gen 2>/dev/null; cd /run/gen; exec systemd-analyze verify --man=no --recursive-errors=no "$@"`, "sh"}, services...)...)
	if err != nil {
		return "", err
	}
	if m := mentions(v, services...); len(m) > 0 {
		return "", fmt.Errorf("systemd-analyze verify of the generated services:\n%s", strings.Join(m, "\n"))
	}
	return fmt.Sprintf("Quadlet (%s) reads the drop-ins: %s run with every argument; systemd-analyze verify accepts them", c.r.version("podman"), strings.Join(services, ", ")), nil
}

// compose: podman-compose merges the override over a compose file naming
// its services (config), and turns it into podman run flags (--dry-run
// up): the limits, the reservation and the environment of ours.
// Bookworm's podman-compose (1.0.3) reads it in make test, on the machine.
func (x *ctx) compose(c *use) (string, error) {
	const override = "/etc/ezedge-host/compose.override.yaml"
	if !c.has("/usr/bin/podman-compose") {
		return "podman-compose is not in this root: bookworm's (1.0.3) reads the override in make test (TestComposeOverrideInPodmanCompose), trixie's here", errNotHere
	}
	var doc struct {
		Services map[string]struct {
			Deploy struct {
				Resources struct {
					Limits       map[string]string `yaml:"limits"`
					Reservations map[string]string `yaml:"reservations"`
				} `yaml:"resources"`
			} `yaml:"deploy"`
			Environment map[string]string `yaml:"environment"`
			NetworkMode string            `yaml:"network_mode"`
			Ulimits     map[string]struct {
				Soft int `yaml:"soft"`
				Hard int `yaml:"hard"`
			} `yaml:"ulimits"`
			Devices []string `yaml:"devices"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(c.data(override)), &doc); err != nil || len(doc.Services) == 0 {
		return "", fmt.Errorf("the override names no services (%v)", err)
	}
	var compose strings.Builder
	compose.WriteString("services:\n")
	want := map[string][]string{}
	var names []string
	for name, s := range doc.Services {
		names = append(names, name)
		fmt.Fprintf(&compose, "  %s:\n    image: localhost/%s:latest\n", name, name)
		if v := s.Deploy.Resources.Limits["cpus"]; v != "" {
			want[name] = append(want[name], "--cpus "+v+".0")
		}
		if v := s.Deploy.Resources.Limits["memory"]; v != "" {
			want[name] = append(want[name], "-m "+v)
		}
		if v := s.Deploy.Resources.Reservations["memory"]; v != "" {
			want[name] = append(want[name], "--memory-reservation "+v)
		}
		for k, v := range s.Environment {
			want[name] = append(want[name], "-e "+k+"="+v)
		}
		// The placement (host networking, memlock, devices); the cpuset
		// only where this podman-compose maps it (1.0.3 does not).
		if s.NetworkMode != "" {
			want[name] = append(want[name], "--network "+s.NetworkMode)
		}
		if m, ok := s.Ulimits["memlock"]; ok {
			want[name] = append(want[name], fmt.Sprintf("--ulimit memlock=%d:%d", m.Soft, m.Hard))
		}
		for _, d := range s.Devices {
			want[name] = append(want[name], "--device "+d)
		}
	}
	sort.Strings(names)
	c.l.Put("/srv/app/compose.yaml", []byte(compose.String()), 0o644)
	out, err := chroot(c.l, podmanMounts, "sh", "-c", `cd /srv/app && podman-compose -f compose.yaml -f `+override+` config >/dev/null && podman-compose --verbose --dry-run -f compose.yaml -f `+override+` up -d 2>&1`)
	if err != nil {
		return "", err
	}
	for _, name := range names {
		m := regexp.MustCompile(`podman run --name=app_` + regexp.QuoteMeta(name) + `_1 .*`).FindString(out)
		if m == "" {
			return "", fmt.Errorf("podman-compose runs no %s:\n%s", name, out)
		}
		for _, w := range want[name] {
			// A flag and its value as one word or two: podman-compose
			// versions differ.
			if !strings.Contains(m+" ", " "+w+" ") && !strings.Contains(m+" ", " "+strings.Replace(w, " ", "=", 1)+" ") {
				return "", fmt.Errorf("%s: %q not in %s", name, w, m)
			}
		}
	}
	return fmt.Sprintf("podman-compose (%s) config merges it, and --dry-run up runs %s with its limits, reservation, environment, network and ulimits", c.r.version("podman-compose"), strings.Join(names, ", ")), nil
}

// grub: grub-mkconfig sources /etc/default/grub and our drop-in, as
// update-grub does, and every linux line of the grub.cfg it writes has
// our arguments. Its grub-probe must name the device of /, which it
// cannot do on an overlay: it runs in the cached root itself, with
// /etc/default (the root's, the layer's and ours) and /boot (a stand-in
// kernel for it to list) bound over the root's from the work folder, and
// reads the machine's /dev (read only).
func (x *ctx) grub(c *use) (string, error) {
	if !c.has("/usr/sbin/grub-mkconfig") {
		return "GRUB is not in this root: trixie's grub-mkconfig reads the drop-in", errNotHere
	}
	if c.s.host != "" {
		if b, err := os.ReadFile(filepath.Join(c.s.host, "etc/default/grub")); err == nil {
			c.l.Put("/etc/default/grub", b, 0o644)
		}
	}
	var args []string
	for _, p := range c.paths {
		for _, m := range regexp.MustCompile(`(?m)^GRUB_CMDLINE_LINUX(?:_DEFAULT)?="([^"]*)"`).FindAllStringSubmatch(c.data(p), -1) {
			for _, a := range strings.Fields(m[1]) {
				if !strings.HasPrefix(a, "$") {
					args = append(args, a)
				}
			}
		}
	}
	d := x.dir("grub")
	def, boot := filepath.Join(d, "default"), filepath.Join(d, "boot")
	for _, cmd := range [][]string{
		{"cp", "-a", filepath.Join(c.r.root, "etc/default"), def},
		{"cp", "-a", filepath.Join(c.l.Upper, "etc/default") + "/.", def},
		{"mkdir", "-p", filepath.Join(boot, "grub")},
	} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("%v: %v: %s", cmd, err, out)
		}
	}
	os.WriteFile(filepath.Join(boot, "vmlinuz-6.12.0-0-amd64"), []byte("not a kernel: grub-mkconfig only lists it"), 0o644)
	m := debroot.Mounts{Dev: true, Sys: true, Tmpfs: []string{"run", "tmp"}, Binds: [][2]string{{"etc/default", def}, {"boot", boot}}}
	out, err := debroot.Chroot(c.r.root, m, nil, "sh", "-c", `grub-mkconfig -o /tmp/grub.cfg 2>/tmp/err || { cat /tmp/err; exit 1; }; grep -E '^[[:space:]]*linux[[:space:]]' /tmp/grub.cfg`)
	if err != nil {
		return "", fmt.Errorf("grub-mkconfig: %v\n%s", err, out)
	}
	if len(args) == 0 {
		return "", errors.New("the drop-in adds no argument")
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		for _, a := range args {
			if !strings.Contains(l+" ", " "+a+" ") {
				return "", fmt.Errorf("grub.cfg: %s lacks %s", strings.TrimSpace(l), a)
			}
		}
	}
	return fmt.Sprintf("grub-mkconfig (%s) puts %s on its %d linux lines", c.r.version("grub-common"), strings.Join(args, " "), len(lines)), nil
}

// textfile: promtool check metrics, Prometheus' own linter of the text
// format the node exporter's textfile collector reads.
func (x *ctx) textfile(c *use) (string, error) {
	if !c.has("/usr/bin/promtool") {
		return "promtool is not in this root: trixie's checks the textfile", errNotHere
	}
	for _, p := range c.paths {
		out, err := chroot(c.l, debroot.Mounts{Tmpfs: []string{"run", "tmp"}}, "sh", "-c", `promtool check metrics < "$1" 2>&1`, "sh", p)
		if err != nil {
			return "", err
		}
		if strings.TrimSpace(out) != "" {
			return "", fmt.Errorf("promtool check metrics:\n%s", out)
		}
	}
	return fmt.Sprintf("promtool check metrics (%s): no problem", c.r.version("prometheus")), nil
}

// newer says whether Debian version a's upstream major.minor is above b's.
func newer(a, b string) bool {
	mm := func(v string) (int, int) {
		var x, y int
		fmt.Sscanf(v, "%d.%d", &x, &y)
		return x, y
	}
	ax, ay := mm(a)
	bx, by := mm(b)
	return ax > bx || ax == bx && ay > by
}

// zram: Debian's zram-generator (systemd-zram-generator) reads the
// drop-ins with its own configuration and makes the zram swap unit; the
// same drop-ins with each zram-size = 0 make none, so it is ours that
// sized the device (Debian's own [zram0] would make one either way).
func (x *ctx) zram(c *use) (string, error) {
	gen := "/usr/lib/systemd/system-generators/zram-generator"
	if !c.has(gen) {
		return "zram-generator is not in this root: trixie's reads the drop-ins", errNotHere
	}
	run := func() (string, error) {
		return chroot(c.l, debroot.Mounts{Tmpfs: []string{"run", "tmp"}}, "sh", "-c",
			`set -e; rm -rf /run/gen; mkdir -p /run/gen; ZRAM_GENERATOR_ROOT=/ `+gen+` /run/gen; cd /run/gen; ls -1 *.swap 2>/dev/null || true`)
	}
	out, err := run()
	if err != nil {
		return "", err
	}
	if !strings.Contains(out, "dev-zram0.swap") {
		return "", fmt.Errorf("zram-generator made no dev-zram0.swap from %s:\n%s", strings.Join(c.paths, ", "), out)
	}
	size := regexp.MustCompile(`(?m)^\s*zram-size\s*=.*$`)
	for _, p := range c.paths {
		if !size.MatchString(c.data(p)) {
			return "", fmt.Errorf("%s sets no zram-size", p)
		}
		c.l.Put(p, []byte(size.ReplaceAllString(c.data(p), "zram-size = 0")), 0o644)
	}
	zero, err := run()
	for _, p := range c.paths {
		c.l.Put(p, []byte(c.data(p)), 0o644)
	}
	if err != nil {
		return "", err
	}
	if strings.Contains(zero, "dev-zram0.swap") {
		return "", fmt.Errorf("zram-generator made dev-zram0.swap with zram-size = 0 in %s: it does not read them", strings.Join(c.paths, ", "))
	}
	return "zram-generator (" + c.r.version("systemd-zram-generator") + ") reads " + strings.Join(c.paths, ", ") + ": dev-zram0.swap sized by it (none with zram-size = 0)", nil
}
