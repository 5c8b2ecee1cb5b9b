package adversarial

// A host root is input: an image or a fixture tree may hold any file type at
// any path the tool reads or writes. These suites put hostile entries there
// and hold the binary to its promises: it does not hang, crash or balloon,
// it never writes outside the root or onto a file it does not own, an
// error names the path and changes nothing, and a rollback is byte-exact.

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
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
	for i, args := range [][]string{{"plan"}, {"apply", "--yes"}, {"rollback", "--yes"}} {
		log := filepath.Join(dir, fmt.Sprintf("trace.%d", i))
		prefix := []string{strace, "-f", "-qq", "-y", "-s", "65535", "-o", log,
			"-e", "trace=openat,openat2,newfstatat,statx,readlinkat,mkdirat,unlinkat,renameat,renameat2,symlinkat"}
		r := hostileRun(hostileOpts{prefix: prefix, timeout: time.Minute}, append(args, "--root", root)...)
		if r.code != 0 {
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

var hostileHostPathRE = regexp.MustCompile(`/[^\s:"'()\[\],;]+`)

// hostileNames reports whether msg names rel: as /rel or as any path whose
// directories lead to rel's inside the root (cpu0/cpufreq is a link to
// policy0, so /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor names
// policy0's file). The last component is not followed: it is the hostile
// entry itself.
func hostileNames(root, msg, rel string) bool {
	for _, m := range hostileHostPathRE.FindAllString(msg, -1) {
		clean := strings.TrimPrefix(path.Clean(m), "/")
		if clean == rel {
			return true
		}
		dir, ok := hostileResolveDir(root, path.Dir(clean))
		if ok && path.Join(dir, path.Base(clean)) == rel {
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
