package adversarial

// A host root is input: an image or a fixture tree may hold any file type at
// any path the tool reads or writes. These suites put hostile entries there
// and hold the binary to its promises: it does not hang, crash or balloon,
// it never writes outside the root or onto a file it does not own, an
// error names the path and changes nothing, and a rollback is byte-exact.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// hostileOwned are the files the README says ezedge-host owns: it writes
// them whole. They are tried at every fixture even where absent.
var hostileOwned = []string{
	"etc/sysctl.d/90-ezedge-host.conf",
	"etc/tmpfiles.d/90-ezedge-host.conf",
	"etc/udev/rules.d/60-nvme.rules",
	"etc/udev/rules.d/99-ezedge-host-cpu-governor.rules",
	"etc/systemd/system/raspi-config.service.d/90-ezedge-host.conf",
	"etc/default/grub.d/90-ezedge-host.cfg",
	// The swap task's drop-ins, and the files it reads for the host's
	// swap.
	"etc/rpi/swap.conf.d/90-ezedge-host.conf",
	"etc/systemd/zram-generator.conf.d/90-ezedge-host.conf",
	"etc/dphys-swapfile",
	"etc/rpi/swap.conf",
	// Not written by plan or apply, but read by every command that plans:
	// the host's own profile.
	"etc/ezedge-host/profile.yaml",
}

// hostileStore are the snapshot store's own paths.
var hostileStore = []string{
	fixture.StoreDir,
	fixture.StoreDir + "/lock",
	fixture.StoreDir + "/snapshots",
}

// hostilePair is one hostile entry planted in a fresh copy of a fixture.
type hostilePair struct {
	fixture string
	rel     string // root-relative path replaced
	root    string
	abs     string // root/rel
	// sentinel is a file outside the root (same file system) that links
	// point to; it starts with the original bytes of rel, so that the tool
	// sees a plausible file and is tempted to write it.
	sentinel string
	outside  string // the folder holding sentinel
	orig     []byte // what rel held in the fixture (or a sample line)
}

type hostileKind struct {
	name     string
	needRoot bool
	// heavy kinds cost memory or I/O: at most one per CPU runs at once.
	heavy bool
	plant func(p *hostilePair) error
}

var hostileKinds = []hostileKind{
	{name: "fifo", plant: func(p *hostilePair) error { return unix.Mkfifo(p.abs, 0o644) }},
	{name: "chardev-1:3-null", needRoot: true, plant: func(p *hostilePair) error {
		return unix.Mknod(p.abs, unix.S_IFCHR|0o644, int(unix.Mkdev(1, 3)))
	}},
	{name: "chardev-1:5-zero", needRoot: true, heavy: true, plant: func(p *hostilePair) error {
		return unix.Mknod(p.abs, unix.S_IFCHR|0o644, int(unix.Mkdev(1, 5)))
	}},
	// mknod makes a socket inode without binding one: a bound socket's
	// path is limited to 108 bytes, which deep temp paths exceed.
	{name: "socket", plant: func(p *hostilePair) error { return unix.Mknod(p.abs, unix.S_IFSOCK|0o644, 0) }},
	{name: "directory", plant: func(p *hostilePair) error { return os.Mkdir(p.abs, 0o755) }},
	{name: "symlink-outside-abs", plant: func(p *hostilePair) error { return os.Symlink(p.sentinel, p.abs) }},
	{name: "symlink-outside-rel", plant: func(p *hostilePair) error {
		rel, err := filepath.Rel(filepath.Dir(p.abs), p.sentinel)
		if err != nil {
			return err
		}
		return os.Symlink(rel, p.abs)
	}},
	{name: "symlink-dev-zero", plant: func(p *hostilePair) error { return os.Symlink("/dev/zero", p.abs) }},
	{name: "hardlink-outside", plant: func(p *hostilePair) error { return os.Link(p.sentinel, p.abs) }},
	{name: "sparse-8g", heavy: true, plant: func(p *hostilePair) error {
		f, err := os.OpenFile(p.abs, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Truncate(8 << 30)
	}},
	{name: "lines-100m", heavy: true, plant: func(p *hostilePair) error {
		unit := p.orig
		if len(bytes.TrimSpace(unit)) == 0 {
			unit = hostileSampleLine(p.rel)
		}
		if unit[len(unit)-1] != '\n' {
			unit = append(slices.Clone(unit), '\n')
		}
		return hostileWriteBig(p.abs, unit, 100<<20)
	}},
}

// hostileSampleLine is one valid-looking line for the format at rel, for
// files that are absent or empty in the fixture.
func hostileSampleLine(rel string) []byte {
	switch {
	case strings.Contains(rel, "sysctl"):
		return []byte("vm.swappiness = 10\n")
	case strings.Contains(rel, "tmpfiles.d"):
		return []byte("w /sys/kernel/mm/transparent_hugepage/enabled - - - - always\n")
	case strings.Contains(rel, "rules.d"):
		return []byte(`ACTION=="add", SUBSYSTEM=="block", KERNEL=="nvme[0-9]*n[0-9]*", ATTR{queue/nr_requests}="1024"` + "\n")
	case strings.Contains(rel, "grub"):
		return []byte(`GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX zswap.enabled=1"` + "\n")
	case strings.HasSuffix(rel, ".service.d/90-ezedge-host.conf"):
		return []byte("ExecStartPost=-systemd-tmpfiles --create /etc/tmpfiles.d/90-ezedge-host.conf\n")
	case strings.HasSuffix(rel, "ezedge-host/profile.yaml"):
		return []byte("version: 1\n")
	case strings.HasSuffix(rel, "/lock"):
		return []byte("4242 ezedge-host apply\n")
	case strings.HasPrefix(rel, fixture.StoreDir):
		return []byte(`{"op":"begin","format_version":1,"id":"20260101T000000Z","time":"2026-01-01T00:00:00Z","i":0}` + "\n")
	}
	return []byte("0\n")
}

// hostileDiscover runs plan, apply --yes and rollback --yes on a copy of
// fixture name under strace and returns every root-relative path they
// touched that is a regular file in the fixture, reached without a symlink
// (the same file through a symlinked directory is tried once).
func hostileDiscover(t *testing.T, strace, name string) []string {
	t.Helper()
	dir := t.TempDir()
	root := hostileCopy(t, dir, name)
	seen := map[string]bool{}
	// check reads what plan does and more (thermal, hwmon, throttling,
	// swaps, container cgroups): its paths are traced too.
	for i, args := range [][]string{{"plan"}, {"check", "--firmware", "--output", "prometheus", "--textfile-dir", "-"}, {"apply", "--yes"}, {"rollback", "--yes"}} {
		log := filepath.Join(dir, fmt.Sprintf("trace.%d", i))
		prefix := []string{strace, "-f", "-qq", "-y", "-s", "65535", "-o", log,
			"-e", "trace=openat,openat2,newfstatat,statx,readlinkat,mkdirat,unlinkat,renameat,renameat2,symlinkat"}
		r := hostileRun(hostileOpts{prefix: prefix, timeout: time.Minute}, append(args, "--root", root)...)
		if r.code != 0 && !(args[0] == "check" && (r.code == 4 || r.code == 5)) {
			t.Fatalf("discovery on fixture %s: %s under strace: %s", name, args[0], r)
		}
		paths, err := hostileTracedPaths(log, root)
		if err != nil {
			t.Fatal(err)
		}
		for p := range paths {
			seen[p] = true
		}
	}
	src := filepath.Join(fixture.Testdata(), name)
	var out []string
	for _, rel := range hostileSortedKeys(seen) {
		if hostileRegularNoLink(src, rel) {
			out = append(out, rel)
		}
	}
	if len(out) == 0 {
		t.Fatalf("discovery on fixture %s found no path: is strace -y output parsed?", name)
	}
	return out
}

// hostileRegularNoLink reports whether rel is a regular file under root
// and no component of it is a symlink.
func hostileRegularNoLink(root, rel string) bool {
	p := root
	parts := strings.Split(rel, "/")
	for i, c := range parts {
		p = filepath.Join(p, c)
		st, err := os.Lstat(p)
		if err != nil || st.Mode()&fs.ModeSymlink != 0 {
			return false
		}
		if i == len(parts)-1 {
			return st.Mode().IsRegular()
		}
	}
	return false
}

type hostileCase struct {
	fixture string
	rel     string
	kind    hostileKind
}

// TestHostileFileTypes is class 1: every file type at every path. The
// paths are discovered, not listed: each fixture's plan, apply and
// rollback are traced, and every regular file they touch is replaced in
// turn by each hostile type, as are the owned files and the store's paths.
func TestHostileFileTypes(t *testing.T) {
	t.Parallel()
	strace := hostileStrace(t)
	discovered := map[string][]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range fixture.Names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run("discover/"+name, func(t *testing.T) {
				paths := hostileDiscover(t, strace, name)
				t.Logf("fixture %s: %d regular files touched:\n%s", name, len(paths), strings.Join(paths, "\n"))
				mu.Lock()
				discovered[name] = paths
				mu.Unlock()
			})
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	var cases []hostileCase
	for _, name := range fixture.Names {
		paths := slices.Concat(discovered[name], hostileOwned, hostileStore)
		slices.Sort(paths)
		paths = slices.Compact(paths)
		for _, rel := range paths {
			for _, k := range hostileKinds {
				// The store and its snapshots folder are directories by
				// design: a directory there is not hostile.
				if k.name == "directory" && (rel == fixture.StoreDir || rel == fixture.StoreDir+"/snapshots") {
					continue
				}
				cases = append(cases, hostileCase{name, rel, k})
			}
		}
	}
	if testing.Short() {
		cases = hostileSample(cases, discovered)
	}
	t.Logf("%d (path, type) pairs over %d fixtures", len(cases), len(fixture.Names))

	// The pairs run side by side from goroutines rather than under
	// t.Parallel: go test's -parallel defaults to the CPU count, and a
	// hung pair waits out its timeouts without using a CPU, so a pool
	// sized by CPUs would make the full matrix take hours on the current
	// code. Heavy kinds (100 MB files, /dev/zero, 8 GB sparse) are bounded
	// by the CPU count instead.
	pool := make(chan struct{}, 48)
	heavy := make(chan struct{}, runtime.NumCPU())
	for _, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.kind.heavy {
				heavy <- struct{}{}
				defer func() { <-heavy }()
			}
			pool <- struct{}{}
			defer func() { <-pool }()
			t.Run(c.fixture+"/"+c.kind.name+"/"+c.rel, func(t *testing.T) { hostileRunPair(t, c) })
		}()
	}
	wg.Wait()
}

// hostileSample keeps, under -short, a few paths per type: the owned
// sysctl.d file and a runtime value (the paths of the known defects), a
// store path, and one discovered path that rotates with the type.
func hostileSample(cases []hostileCase, discovered map[string][]string) []hostileCase {
	var all []string
	for _, name := range fixture.Names {
		for _, p := range discovered[name] {
			all = append(all, name+"|"+p)
		}
	}
	var out []hostileCase
	for i, k := range hostileKinds {
		want := map[string]bool{
			"pi5-16gb-nvme-bookworm|etc/sysctl.d/90-ezedge-host.conf": true,
			"pi5-16gb-nvme-bookworm|proc/sys/vm/swappiness":           true,
			"amd64-intel-32gb-2nvme|" + fixture.StoreDir + "/lock":    true,
		}
		if len(all) > 0 {
			want[all[(i*37+11)%len(all)]] = true
		}
		for _, c := range cases {
			if c.kind.name == k.name && want[c.fixture+"|"+c.rel] {
				out = append(out, c)
			}
		}
	}
	return out
}

// hostileRunPair plants one hostile entry and runs plan, apply and (when
// apply succeeded) rollback, checking every promise after each.
func hostileRunPair(t *testing.T, c hostileCase) {
	if c.kind.needRoot && os.Geteuid() != 0 {
		t.Skipf("type %s needs root (mknod of a device node)", c.kind.name)
	}
	where := fmt.Sprintf("fixture %s, path /%s, type %s", c.fixture, c.rel, c.kind.name)
	base := t.TempDir()
	p := &hostilePair{fixture: c.fixture, rel: c.rel, root: hostileCopy(t, base, c.fixture)}
	p.abs = filepath.Join(p.root, c.rel)
	p.outside = filepath.Join(base, "outside")
	p.sentinel = filepath.Join(p.outside, "sentinel")
	if b, err := os.ReadFile(p.abs); err == nil {
		p.orig = b
	} else {
		p.orig = hostileSampleLine(c.rel)
	}
	// The sentinel holds what the tool expects at the path, so a tool that
	// follows the link sees a plausible file, and a write reaches it.
	hostileWrite(t, p.sentinel, string(p.orig), 0o640)
	parentMode := fs.FileMode(0o755)
	if strings.HasPrefix(c.rel, fixture.StoreDir+"/") {
		parentMode = 0o700
	}
	if err := os.MkdirAll(filepath.Dir(p.abs), parentMode); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(p.abs); err != nil {
		t.Fatal(err)
	}
	if err := c.kind.plant(p); err != nil {
		t.Fatalf("%s: planting: %v", where, err)
	}
	outsideBefore := hostileMustSnap(t, p.outside)
	before := hostileMustSnap(t, p.root)

	fail := func(cmd string, msgs []string) bool {
		for _, m := range msgs {
			t.Errorf("%s, command %s: %s", where, cmd, m)
		}
		return len(msgs) > 0
	}
	outsideOK := func(cmd string) {
		if d := outsideBefore.Diff(hostileMustSnap(t, p.outside)); len(d) > 0 {
			fail(cmd, []string{"changed the sentinel outside the root (" + p.sentinel + "): " + strings.Join(d, "; ")})
		}
	}

	r := hostileRun(hostileOpts{}, "plan", "--root", p.root)
	fail("plan", hostileRunFailures(r, 0, 1))
	outsideOK("plan")
	if d := before.Diff(hostileMustSnap(t, p.root)); len(d) > 0 {
		fail("plan", []string{"plan changed the root: " + strings.Join(d, "; ")})
	}
	// check only reads: whatever it meets it exits with its verdict (0,
	// 4, 5) or a one-line error (1), and changes nothing.
	r = hostileRun(hostileOpts{}, "check", "--root", p.root, "--firmware", "--output", "prometheus", "--textfile-dir", "-")
	fail("check", hostileRunFailures(r, 0, 1, 4, 5))
	if r.code == 1 {
		fail("check", hostileErrLines(r.stderr))
	}
	outsideOK("check")
	if d := before.Diff(hostileMustSnap(t, p.root)); len(d) > 0 {
		fail("check", []string{"check changed the root: " + strings.Join(d, "; ")})
	}

	r = hostileRun(hostileOpts{}, "apply", "--root", p.root, "--yes")
	fail("apply", hostileRunFailures(r, 0, 1))
	outsideOK("apply")
	if r.code != 0 && r.code != 1 {
		// Hung, killed or crashed (reported above): what it left is not
		// an outcome the remaining promises speak about.
		t.Logf("apply: %s", r)
		return
	}
	after := hostileMustSnap(t, p.root)
	if r.code == 1 {
		fail("apply", hostileErrLines(r.stderr))
		if !hostileNames(p.root, r.stderr, c.rel) {
			fail("apply", []string{fmt.Sprintf("stderr names neither /%s nor a path that leads to it: %q", c.rel, hostileClip(r.stderr, 600))})
		}
		if d := hostileDiff(before, after); len(d) > 0 {
			fail("apply", []string{"apply failed but the root changed: " + strings.Join(d, "; ")})
		}
		return
	}
	r = hostileRun(hostileOpts{}, "rollback", "--root", p.root, "--yes")
	fail("rollback", hostileRunFailures(r, 0))
	outsideOK("rollback")
	if d := hostileDiff(before, hostileMustSnap(t, p.root)); len(d) > 0 {
		fail("rollback", []string{"root not byte-identical to before apply: " + strings.Join(d, "; ")})
	}
}

var hostileHostPathRE = regexp.MustCompile(`/[^\s"'()\[\],;]+`)

// hostileNames reports whether msg names rel: as /rel or as any path whose
// directories lead to rel's inside the root (cpu0/cpufreq is a link to
// policy0, so /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor names
// policy0's file). The last component is not followed: it is the hostile
// entry itself. A path below rel counts too: "/a/b/c: not a directory" is
// how the kernel reports a hostile /a/b that is not a directory.
func hostileNames(root, msg, rel string) bool {
	is := func(p string) bool { return p == rel || strings.HasPrefix(p, rel+"/") }
	for _, m := range hostileHostPathRE.FindAllString(msg, -1) {
		// A path may hold a colon (systemd-rfkill's "…mmc:wlan"); the
		// one that ends it is the message's "path: why".
		clean := strings.TrimPrefix(path.Clean(strings.TrimRight(m, ":")), "/")
		if is(clean) {
			return true
		}
		dir, ok := hostileResolveDir(root, path.Dir(clean))
		if ok && is(path.Join(dir, path.Base(clean))) {
			return true
		}
	}
	return false
}

// hostileResolveDir resolves a root-relative directory path component by
// component, following symlinks the way the README says the tool does
// (absolute targets from the root, ".." stopping at it), never leaving the
// root.
func hostileResolveDir(root, rel string) (string, bool) {
	rest := strings.Split(rel, "/")
	var done []string
	for hops := 0; len(rest) > 0; {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		p := filepath.Join(append([]string{root}, append(done, c)...)...)
		st, err := os.Lstat(p)
		if err != nil {
			return "", false
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		if hops++; hops > 40 {
			return "", false
		}
		target, err := os.Readlink(p)
		if err != nil {
			return "", false
		}
		if strings.HasPrefix(target, "/") {
			done = nil
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return path.Join(done...), true
}

// hostileLinkCase is one class-2 case: a link planted so that a write
// through it would land on a file the tool does not own.
type hostileLinkCase struct {
	name, fixture string
	// setup plants the link and returns the targets that must stay
	// untouched (root-relative, or absolute when outside the root) and the
	// path the error must name when apply refuses.
	setup func(t *testing.T, base, root string) (targets []string, names string)
	// mustRefuse: the README promises apply fails (naming names).
	mustRefuse bool
}

var hostileShadow = "root:$6$hostile$notarealhash:19000:0:99999:7:::\n"

func hostileLinkCases() []hostileLinkCase {
	shadow := func(t *testing.T, root string) {
		hostileWrite(t, filepath.Join(root, "etc/shadow"), hostileShadow, 0o640)
	}
	store := func(t *testing.T, root string) {
		if err := os.MkdirAll(filepath.Join(root, fixture.StoreDir, "snapshots"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	var cases []hostileLinkCase
	for _, name := range fixture.Names {
		cases = append(cases,
			hostileLinkCase{name: "sysctl.d-symlink-to-shadow", fixture: name, setup: func(t *testing.T, _, root string) ([]string, string) {
				shadow(t, root)
				hostileLink(t, "../shadow", filepath.Join(root, "etc/sysctl.d/90-ezedge-host.conf"))
				return []string{"etc/shadow"}, "/etc/sysctl.d/90-ezedge-host.conf"
			}},
			hostileLinkCase{name: "lock-symlink-to-shadow", fixture: name, setup: func(t *testing.T, _, root string) ([]string, string) {
				shadow(t, root)
				store(t, root)
				hostileLink(t, "../../../etc/shadow", filepath.Join(root, fixture.StoreDir, "lock"))
				return []string{"etc/shadow"}, "/" + fixture.StoreDir + "/lock"
			}},
			hostileLinkCase{name: "lock-hardlink-to-shadow", fixture: name, setup: func(t *testing.T, _, root string) ([]string, string) {
				shadow(t, root)
				store(t, root)
				if err := os.Link(filepath.Join(root, "etc/shadow"), filepath.Join(root, fixture.StoreDir, "lock")); err != nil {
					t.Fatal(err)
				}
				return []string{"etc/shadow"}, "/" + fixture.StoreDir + "/lock"
			}},
			// Journals hold prior file contents (0600 for a reason): led
			// into /etc/cron.d they would land where cron reads.
			hostileLinkCase{name: "snapshots-symlink-into-etc", fixture: name, setup: func(t *testing.T, _, root string) ([]string, string) {
				hostileWrite(t, filepath.Join(root, "etc/cron.d/sentinel"), "# cron sentinel\n", 0o644)
				if err := os.MkdirAll(filepath.Join(root, fixture.StoreDir), 0o700); err != nil {
					t.Fatal(err)
				}
				hostileLink(t, "/etc/cron.d", filepath.Join(root, fixture.StoreDir, "snapshots"))
				return []string{"etc/cron.d"}, "/" + fixture.StoreDir + "/snapshots"
			}},
			hostileLinkCase{name: "swappiness-hardlink-outside", fixture: name, setup: func(t *testing.T, base, root string) ([]string, string) {
				out := filepath.Join(base, "outside", "swappiness")
				hostileWrite(t, out, "60\n", 0o644)
				p := filepath.Join(root, "proc/sys/vm/swappiness")
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				if err := os.Link(out, p); err != nil {
					t.Fatal(err)
				}
				return []string{out}, "/proc/sys/vm/swappiness"
			}},
		)
	}
	return append(cases, hostileLinkCase{name: "cmdline.txt-symlink-to-passwd", fixture: "pi5-16gb-nvme-bookworm", mustRefuse: true,
		setup: func(t *testing.T, _, root string) ([]string, string) {
			hostileWrite(t, filepath.Join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/bash\npi:x:1000:1000::/home/pi:/bin/bash\n", 0o644)
			p := filepath.Join(root, "boot/firmware/cmdline.txt")
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			hostileLink(t, "/etc/passwd", p)
			return []string{"etc/passwd"}, "/boot/firmware/cmdline.txt"
		}})
}

func hostileLink(t *testing.T, target, at string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(at), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Remove(at)
	if err := os.Symlink(target, at); err != nil {
		t.Fatal(err)
	}
}

// TestHostileWritesThroughLinks is class 2: links that would carry a write
// onto a file the tool does not own. After plan, apply and rollback each,
// the target is untouched (bytes and mode); a refused apply names the link
// and changes nothing; a successful one rolls back byte-identical.
func TestHostileWritesThroughLinks(t *testing.T) {
	t.Parallel()
	for _, c := range hostileLinkCases() {
		t.Run(c.fixture+"/"+c.name, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			root := hostileCopy(t, base, c.fixture)
			targets, names := c.setup(t, base, root)
			snapTarget := func() map[string]fixture.Tree {
				out := map[string]fixture.Tree{}
				for _, tg := range targets {
					p := tg
					if !filepath.IsAbs(p) {
						p = filepath.Join(root, tg)
					}
					out[tg] = hostileMustSnap(t, p)
				}
				return out
			}
			tBefore := snapTarget()
			before := hostileMustSnap(t, root)
			where := fmt.Sprintf("fixture %s, case %s (%s)", c.fixture, c.name, names)
			check := func(cmd string) {
				for tg, s := range snapTarget() {
					if d := tBefore[tg].Diff(s); len(d) > 0 {
						t.Errorf("%s, command %s: wrote through the link onto %s: %s", where, cmd, tg, strings.Join(d, "; "))
					}
				}
			}
			r := hostileRun(hostileOpts{}, "plan", "--root", root)
			for _, m := range hostileRunFailures(r, 0, 1) {
				t.Errorf("%s, command plan: %s", where, m)
			}
			check("plan")
			r = hostileRun(hostileOpts{}, "apply", "--root", root, "--yes")
			for _, m := range hostileRunFailures(r, 0, 1) {
				t.Errorf("%s, command apply: %s", where, m)
			}
			check("apply")
			if c.mustRefuse && r.code != 1 {
				t.Errorf("%s, command apply: exit %d, want 1: the README refuses a command line file outside the boot partition\n%s", where, r.code, r)
			}
			switch r.code {
			case 1:
				for _, m := range hostileErrLines(r.stderr, names) {
					t.Errorf("%s, command apply: %s", where, m)
				}
				if d := hostileDiff(before, hostileMustSnap(t, root)); len(d) > 0 {
					t.Errorf("%s, command apply: failed but the root changed: %s", where, strings.Join(d, "; "))
				}
			case 0:
				r = hostileRun(hostileOpts{}, "rollback", "--root", root, "--yes")
				for _, m := range hostileRunFailures(r, 0) {
					t.Errorf("%s, command rollback: %s", where, m)
				}
				check("rollback")
				if d := hostileDiff(before, hostileMustSnap(t, root)); len(d) > 0 {
					t.Errorf("%s, command rollback: root not byte-identical to before apply: %s", where, strings.Join(d, "; "))
				}
			}
		})
	}
}

// hostileTraced runs the binary under strace -f, tracing every execve, with
// PATH holding only the stubs. It returns the result, the programs any
// process of the run executed (the binary itself first) and what the stubs
// recorded.
func hostileTraced(t *testing.T, strace, dir string, args ...string) (hostileResult, []string, string) {
	t.Helper()
	f, err := os.CreateTemp(dir, "execs.*")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	stubLog := f.Name() + ".stubs"
	r := hostileRun(hostileOpts{stubLog: stubLog, prefix: []string{strace, "-f", "-qq", "-s", "4096", "-e", "trace=execve,execveat", "-o", f.Name()}}, args...)
	stubs, _ := os.ReadFile(stubLog)
	return r, hostileExecs(t, f.Name()), string(stubs)
}

// hostileForeign lists what was executed other than the binary.
func hostileForeign(execs []string) []string {
	self, _ := filepath.EvalSymlinks(hostileBin)
	var out []string
	for _, e := range execs {
		if e == hostileBin || e == self {
			continue
		}
		out = append(out, e)
	}
	return out
}

// TestHostileNoCommands is class 3: for a root other than / no program is
// executed but the binary itself (a try apply's revert is the binary too).
// Every command of the CLI is traced on every fixture; a file in the root
// naming a command (a pending confirmation, a saved plan's then, a
// journal's then) must not get it run either.
func TestHostileNoCommands(t *testing.T) {
	t.Parallel()
	strace := hostileStrace(t)
	names := fixture.Names
	if testing.Short() {
		// One Pi (cmdline.txt, units, radios) and one GRUB host.
		names = []string{"pi5-16gb-nvme-bookworm", "amd64-intel-32gb-2nvme"}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			root := hostileCopy(t, dir, name)
			// A profile that turns on every task, so that the GRUB,
			// unit and radio paths (those with commands on a live host)
			// run too.
			prof := filepath.Join(dir, "all.yaml")
			hostileWrite(t, prof, "version: 1\ntasks:\n  zswap: {enabled: true, force: true}\n  cpu-pstate: {enabled: true}\n  bluetooth: {enabled: true}\n  fstrim: {enabled: true}\n", 0o644)
			profArgs := []string{"--profile", prof}
			if !strings.HasPrefix(name, "amd64") {
				profArgs = nil // cpu-pstate is x86 only; the Pi defaults already cover the rest
			}
			img := filepath.Join(dir, "image")
			if err := fixture.CopyTree(filepath.Join(fixture.Testdata(), name), img); err != nil {
				t.Fatal(err)
			}
			steps := []struct {
				cmd  string
				args []string
			}{
				{"plan", append([]string{"plan", "--root", root}, profArgs...)},
				{"apply", append([]string{"apply", "--root", root, "--yes"}, profArgs...)},
				{"status", []string{"status", "--root", root}},
				{"history", []string{"history", "--root", root}},
				{"rollback", []string{"rollback", "--root", root, "--yes"}},
				{"firstboot install", []string{"firstboot", "install", "--root", img, "--binary", imageBinary(t, name)}},
				{"firstboot status", []string{"firstboot", "status", "--root", img}},
				{"rollback (of firstboot install)", []string{"rollback", "--root", img, "--yes"}},
			}
			for _, s := range steps {
				r, execs, stubs := hostileTraced(t, strace, dir, s.args...)
				cmd := s.cmd
				for _, m := range hostileExitFailures(r, 0, 1) {
					t.Errorf("fixture %s, command %s: %s", name, cmd, m)
				}
				// The install copies a binary of the image's own
				// architecture: it must succeed, or nothing was traced.
				if s.cmd == "firstboot install" && r.code != 0 {
					t.Errorf("fixture %s: firstboot install failed: %s", name, r.stderr)
				}
				if f := hostileForeign(execs); len(f) > 0 {
					t.Errorf("fixture %s, command %s: executed %q for a root other than /", name, cmd, f)
				}
				if stubs != "" {
					t.Errorf("fixture %s, command %s: ran stubbed commands:\n%s", name, cmd, stubs)
				}
			}
		})
	}
	t.Run("try-apply-then-confirm", func(t *testing.T) {
		t.Parallel()
		hostileTryConfirm(t, strace)
	})
	t.Run("try-apply-reverted", func(t *testing.T) {
		t.Parallel()
		hostileTryRevert(t, strace)
	})
	t.Run("pending-confirm-names-a-command", func(t *testing.T) {
		t.Parallel()
		hostilePlantedConfirm(t, strace)
	})
	t.Run("saved-plan-then", func(t *testing.T) {
		t.Parallel()
		hostileSavedThen(t, strace)
	})
	t.Run("journal-then", func(t *testing.T) {
		t.Parallel()
		hostileJournalThen(t, strace)
	})
}

// hostileCheckExecs reports what a traced run executed besides the binary.
func hostileCheckExecs(t *testing.T, where string, r hostileResult, execs []string, stubs string, okCodes ...int) {
	t.Helper()
	for _, m := range hostileExitFailures(r, okCodes...) {
		t.Errorf("%s: %s", where, m)
	}
	if f := hostileForeign(execs); len(f) > 0 {
		t.Errorf("%s: executed %q for a root other than /", where, f)
	}
	if stubs != "" {
		t.Errorf("%s: ran stubbed commands (they would have run on this machine):\n%s", where, stubs)
	}
}

// hostileTryConfirm: apply --confirm-within 60s, status, confirm. The
// revert process the apply starts is the binary; it sleeps until the
// deadline, and strace -f waits for every traced process, so once the
// apply itself has exited and the revert is on record, the test ends that
// process (by its pid, which the binary recorded) to let strace finish.
func hostileTryConfirm(t *testing.T, strace string) {
	const name = "pi5-16gb-nvme-bookworm"
	dir := t.TempDir()
	root := hostileCopy(t, dir, name)
	log := filepath.Join(dir, "try.execs")
	stubLog := log + ".stubs"
	cmd := exec.Command(strace, "-f", "-qq", "-s", "4096", "-e", "trace=execve,execveat", "-o", log,
		hostileBin, "apply", "--root", root, "--yes", "--confirm-within", "60s")
	cmd.Env = hostileEnv(hostileOpts{stubLog: stubLog})
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	pending := filepath.Join(root, fixture.StoreDir, "pending-confirm")
	revertPid := 0
	deadline := time.Now().Add(30 * time.Second)
	for revertPid == 0 && time.Now().Before(deadline) {
		ents, _ := os.ReadDir(pending)
		for _, e := range ents {
			// {"deadline": …, "how": "process", "pid": N}
			var rec struct {
				PID int `json:"pid"`
			}
			b, _ := os.ReadFile(filepath.Join(pending, e.Name()))
			if json.Unmarshal(b, &rec) == nil {
				revertPid = rec.PID
			}
		}
		select {
		case err := <-done:
			if revertPid == 0 {
				t.Fatalf("fixture %s, command apply --confirm-within: ended (%v) without a revert on record:\n%s", name, err, out.String())
			}
			done <- err
		case <-time.After(50 * time.Millisecond):
		}
	}
	if revertPid == 0 {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("fixture %s, command apply --confirm-within: no revert on record after 30s:\n%s", name, out.String())
	}
	// Whatever happens below, the revert process (started by the binary
	// this test ran, in its own session) does not outlive the test.
	t.Cleanup(func() { syscall.Kill(revertPid, syscall.SIGKILL) })
	// The apply (the first process in the trace) writes the record just
	// before it exits; once it is gone, the revert process is idle until
	// the deadline and can be stopped.
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(log)
		if pid := hostileFirstPid(b); pid > 0 && hostileGone(pid) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	syscall.Kill(revertPid, syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("strace did not end after the revert process was stopped")
	}
	stubs, _ := os.ReadFile(stubLog)
	r := hostileResult{code: cmd.ProcessState.ExitCode(), stdout: out.String()}
	if !strings.Contains(out.String(), "Confirm within") {
		t.Errorf("fixture %s, command apply --confirm-within 60s: no confirmation asked:\n%s", name, out.String())
	}
	hostileCheckExecs(t, "fixture "+name+", command apply --confirm-within 60s", r, hostileExecs(t, log), string(stubs), 0)

	for _, args := range [][]string{{"status", "--root", root}, {"confirm", "--root", root}, {"history", "--root", root}} {
		r, execs, stubs := hostileTraced(t, strace, dir, args...)
		hostileCheckExecs(t, "fixture "+name+", command "+args[0]+" (after apply --confirm-within 60s)", r, execs, stubs, 0)
	}
}

// hostileFirstPid is the pid on the first line of an strace -f log: the
// binary strace started.
func hostileFirstPid(log []byte) int {
	pid := 0
	fmt.Sscanf(string(log), "%d", &pid)
	return pid
}

// hostileGone reports whether process pid has exited.
func hostileGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}

// hostileTryRevert: a try apply nobody confirms is reverted by the binary
// itself; strace -f follows the detached revert process to its end.
func hostileTryRevert(t *testing.T, strace string) {
	const name = "pi4-8gb-bullseye"
	dir := t.TempDir()
	root := hostileCopy(t, dir, name)
	orig := hostileMustSnap(t, root)
	r, execs, stubs := hostileTraced(t, strace, dir, "apply", "--root", root, "--yes", "--confirm-within", "2s")
	hostileCheckExecs(t, "fixture "+name+", command apply --confirm-within 2s (and its revert)", r, execs, stubs, 0)
	if d := hostileDiff(orig, hostileMustSnap(t, root)); len(d) > 0 {
		t.Errorf("fixture %s, command apply --confirm-within 2s: not reverted once strace saw every process end: %s", name, strings.Join(d, "; "))
	}
}

// hostilePlantedConfirm: a pending confirmation in the root whose "revert
// by" line names a systemd timer with a shell command in it. The record
// is the root's content, not this machine's: confirm must not hand it to
// systemctl (here a stub, so this machine is never touched).
func hostilePlantedConfirm(t *testing.T, strace string) {
	const name = "pi5-16gb-nvme-bookworm"
	dir := t.TempDir()
	root := hostileCopy(t, dir, name)
	pwned := filepath.Join(dir, "pwned.timer")
	pend := filepath.Join(root, fixture.StoreDir, "pending-confirm")
	if err := os.MkdirAll(pend, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(root, fixture.StoreDir), 0o700)
	deadline := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	hostileWrite(t, filepath.Join(pend, "20260101T000000Z"), deadline+"\nsystemd timer x;touch "+pwned+"\n", 0o600)
	r, execs, stubs := hostileTraced(t, strace, dir, "confirm", "--root", root)
	hostileCheckExecs(t, "fixture "+name+", command confirm (planted pending-confirm naming a timer)", r, execs, stubs, 0, 1)
	if _, err := os.Stat(pwned); err == nil {
		t.Errorf("fixture %s, command confirm: the planted command ran (%s exists)", name, pwned)
	}
}

// hostileSavedThen: a saved plan edited to run a command after a change.
func hostileSavedThen(t *testing.T, strace string) {
	const name = "amd64-intel-32gb-2nvme"
	dir := t.TempDir()
	root := hostileCopy(t, dir, name)
	planFile := filepath.Join(dir, "edited.plan")
	if r := hostileRun(hostileOpts{}, "plan", "--root", root, "--out", planFile); r.code != 0 {
		t.Fatalf("fixture %s, command plan --out: %s", name, r)
	}
	touched := filepath.Join(dir, "then-ran")
	hostileEditPlan(t, planFile, func(changes []map[string]any) []map[string]any {
		changes[0]["then"] = []string{"/bin/touch", touched}
		return changes
	})
	r, execs, stubs := hostileTraced(t, strace, dir, "apply", planFile, "--root", root)
	hostileCheckExecs(t, "fixture "+name+", command apply FILE (saved plan with then: /bin/touch)", r, execs, stubs, 0, 1)
	if r.code == 0 {
		r, execs, stubs = hostileTraced(t, strace, dir, "rollback", "--root", root, "--yes")
		hostileCheckExecs(t, "fixture "+name+", command rollback (after a saved plan with then)", r, execs, stubs, 0)
	}
	if _, err := os.Stat(touched); err == nil {
		t.Errorf("fixture %s, command apply FILE: the plan's then command ran (%s exists)", name, touched)
	}
}

// hostileJournalThen: a journal in the root edited so that an item's
// restore is followed by a command; rollback must not run it.
func hostileJournalThen(t *testing.T, strace string) {
	const name = "amd64-intel-32gb-2nvme"
	dir := t.TempDir()
	root := hostileCopy(t, dir, name)
	if r := hostileRun(hostileOpts{}, "apply", "--root", root, "--yes"); r.code != 0 {
		t.Fatalf("fixture %s, command apply: %s", name, r)
	}
	touched := filepath.Join(dir, "then-ran")
	j := hostileJournals(t, root)[0]
	b, err := os.ReadFile(j)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["op"] == "before" {
			m["then"] = []string{"/bin/touch", touched}
			nb, _ := json.Marshal(m)
			lines[i] = string(nb)
		}
	}
	if err := os.WriteFile(j, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	r, execs, stubs := hostileTraced(t, strace, dir, "rollback", "--root", root, "--yes")
	hostileCheckExecs(t, "fixture "+name+", command rollback (journal with then: /bin/touch)", r, execs, stubs, 0, 1)
	if _, err := os.Stat(touched); err == nil {
		t.Errorf("fixture %s, command rollback: the journal's then command ran (%s exists)", name, touched)
	}
}

// hostileJournals lists the journals in a root's store, oldest first.
func hostileJournals(t *testing.T, root string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(root, fixture.StoreDir, "snapshots", "*.jsonl"))
	if err != nil || len(m) == 0 {
		t.Fatalf("no journal in %s: %v", root, err)
	}
	slices.Sort(m)
	return m
}

// hostileEditPlan rewrites a saved plan's changes.
func hostileEditPlan(t *testing.T, file string, edit func([]map[string]any) []map[string]any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	raw, _ := p["changes"].([]any)
	var changes []map[string]any
	for _, c := range raw {
		changes = append(changes, c.(map[string]any))
	}
	if len(changes) == 0 {
		t.Fatalf("plan %s has no changes to edit", file)
	}
	p["changes"] = edit(changes)
	nb, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, append(nb, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestHostileNamesColon: a refusal names a path with a colon in it.
func TestHostileNamesColon(t *testing.T) {
	t.Parallel()
	msg := "ezedge-host: /var/lib/systemd/rfkill/platform-1.mmc:wlan: read /var/lib/systemd/rfkill/platform-1.mmc:wlan: too large"
	if !hostileNames(t.TempDir(), msg, "var/lib/systemd/rfkill/platform-1.mmc:wlan") {
		t.Error("not recognised")
	}
}

// imageBinary is the build firstboot install copies into fixture name's
// image: one of its architecture.
func imageBinary(t testing.TB, name string) string {
	if strings.HasPrefix(name, "amd64") {
		return bin
	}
	return binArm64(t)
}
