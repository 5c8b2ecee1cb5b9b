// Command consumers feeds every kind of file ezedge-host writes to the
// program that reads it, from Debian's packages: ezedge-host applies a
// profile that turns the tasks on to copies of the fixture hosts and to
// real Debian roots (trixie and bookworm amd64: test/debroot's, shared
// with the other suites), and each file it wrote
// is then read by its consumer inside a Debian root: systemd-analyze
// verify (units and drop-ins, and what the generators make of the
// others), systemd-sysctl, systemd-tmpfiles, systemd-fstab-generator and
// findmnt --verify (fstab), udevadm verify, systemd-analyze cat-config
// (journald), podman info (storage.conf, with and without
// containers-storage installed), Podman's Quadlet generator,
// podman-compose, grub-mkconfig, promtool. A consumer rejecting a file
// fails the check with the consumer's own message; every check is also
// run once on a deliberately broken file, which must fail (the negative
// controls). Nothing runs on the machine itself: the roots are seen
// through an overlay in a mount namespace of their own, their programs
// run chrooted there, with tmpfs over /run, /tmp, Podman's store and the
// /proc and /sys that systemd-sysctl and systemd-tmpfiles write. Run it
// with `make consumers` (as root).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/test/debroot"
)

var passed, failed, notes int

func pass(name, detail string) {
	passed++
	fmt.Printf("PASS %s: %s\n", name, detail)
}

func fail(name string, err error) {
	failed++
	fmt.Printf("FAIL %s: %s\n", name, indent(err.Error()))
}

var noted = map[string]bool{}

// note says what a release cannot check, and why; once per message.
func note(name, detail string) {
	if noted[detail] {
		return
	}
	noted[detail] = true
	notes++
	fmt.Printf("NOTE %s: %s\n", name, detail)
}

// check reports a consumer's verdict on ezedge-host's file.
func check(name string, err error, detail string) {
	if err != nil {
		fail(name, err)
		return
	}
	pass(name, detail)
}

// control reports a negative control: the same check on a broken file
// must fail, and the consumer's message is shown.
func control(name string, err error) {
	if err == nil {
		fail(name, errors.New("the check accepted a deliberately broken file: it cannot fail"))
		return
	}
	pass(name, "rejected, as it must be: "+said(err.Error()))
}

// said is what a consumer said, short: the first line (the command) and
// the last (its verdict).
func said(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) <= 2 {
		return strings.Join(l, " | ")
	}
	return l[0] + " | … | " + l[len(l)-1]
}

func indent(s string) string { return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") }

func firstLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[:n]
	}
	return strings.Join(l, " | ")
}

func main() {
	cache := flag.String("cache", debroot.CacheIn("."), "folder for the cached roots (git-ignored; $"+debroot.CacheEnv+" sets the default)")
	keep := flag.Bool("keep", false, "keep the work folder (its path is printed)")
	flag.Parse()
	start := time.Now()
	err := run(*cache, *keep)
	fmt.Printf("consumers took %.0f s\n", time.Since(start).Seconds())
	if err != nil {
		fmt.Fprintf(os.Stderr, "consumers: FAIL: %v\n", err)
	}
	fmt.Printf("consumers: %d passed, %d failed, %d notes\n", passed, failed, notes)
	if err != nil || failed > 0 {
		os.Exit(1)
	}
}

// release is a Debian root whose programs read the files.
type release struct {
	name string // trixie, bookworm
	root string // the cached root
}

func (r release) version(pkg string) string { return pkg + " " + debroot.Version(r.root, pkg) }

func run(cache string, keep bool) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (mmdebstrap, mount namespaces, chroot)")
	}
	work, err := os.MkdirTemp("", "ezedge-consumers")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("work folder:", work)
	} else {
		defer os.RemoveAll(work)
	}
	bin := filepath.Join(work, "ezedge-host")
	b := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/ezedge-host")
	b.Env = append(os.Environ(), "CGO_ENABLED=0")
	b.Stderr = os.Stderr
	if err := b.Run(); err != nil {
		return fmt.Errorf("building ezedge-host: %v", err)
	}
	t0 := time.Now()
	var rels []release
	for _, s := range []debroot.Spec{debroot.TrixieAMD64, debroot.BookwormAMD64} {
		r, err := debroot.Build(cache, s)
		if err != nil {
			return err
		}
		rels = append(rels, release{name: s.Suite, root: r})
	}
	fmt.Printf("consumers: roots ready in %.0f s\n", time.Since(t0).Seconds())
	for _, r := range rels {
		fmt.Printf("consumers: %s: %s, %s, %s, %s, %s, %s, %s\n", r.name, r.version("systemd"), r.version("udev"), r.version("util-linux"),
			r.version("podman"), r.version("containers-storage"), r.version("podman-compose"), r.version("prometheus"))
	}
	x := &ctx{bin: bin, work: work}

	var sources []*source
	for _, name := range fixture.Names {
		for _, form := range []string{"quadlet", "compose"} {
			s, err := x.fixtureSource(name, form)
			if err != nil {
				return err
			}
			sources = append(sources, s)
		}
	}
	for _, r := range rels {
		s, err := x.rootSource(r)
		if err != nil {
			return err
		}
		sources = append(sources, s)
	}
	for _, s := range sources {
		for _, r := range rels {
			if err := x.consume(s, r); err != nil {
				return fmt.Errorf("%s on %s: %v", s.name, r.name, err)
			}
		}
	}
	for _, r := range rels {
		if err := x.storageCases(r); err != nil {
			return err
		}
		if err := x.controls(r); err != nil {
			return err
		}
	}
	return nil
}

type ctx struct {
	bin, work string
	n         int
}

// dir is a new folder under the work folder.
func (x *ctx) dir(name string) string {
	x.n++
	d := filepath.Join(x.work, fmt.Sprintf("%03d-%s", x.n, strings.ReplaceAll(name, "/", "_")))
	os.MkdirAll(d, 0o755)
	return d
}

// ez runs ezedge-host; it returns stdout and stderr together, and the
// exit code.
func (x *ctx) ez(args ...string) (string, int) {
	cmd := exec.Command(x.bin, args...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return string(out), code
}

// file is one file ezedge-host wrote: its bytes, or the target of a
// symbolic link.
type file struct {
	data []byte
	link string
	mode fs.FileMode
}

// source is what one apply of ezedge-host wrote, and what the consumers
// need to read it as the host would.
type source struct {
	name  string
	files map[string]file // by absolute path in the root
	// host is the applied root (a fixture copy, or nil for a real root
	// seen through layer); its runtime tree says what apply set now.
	host string
	// runtime are the /proc/sys and /sys values apply set, by path.
	runtime map[string]string
	// release is the real root's release, and layer the root applied,
	// for a real root.
	release string
	layer   *debroot.Layer
}

const allTasks = `version: 1
tasks:
  swappiness: {enabled: true}
  net-buffers: {enabled: true}
  hugepages: {enabled: true}
  thp: {enabled: true}
  cpu-governor: {enabled: true}
  nvme-queue: {enabled: true}
  zswap: {enabled: true}
  memory-cgroup: {enabled: true}
  cpu-pstate: {enabled: true}
  bluetooth: {enabled: true}
  fstrim: {enabled: true}
  container-storage: {enabled: true, overlay: native}
  tmp-tmpfs: {enabled: true}
  journald: {enabled: true}
  root-noatime: {enabled: true}
  check-timer: {enabled: true}
  swap: {enabled: true}
  container-resources: {enabled: true, containers: [llm=chat, stt=ears], form: %s, cpuset: true}
`

func (x *ctx) profile(dir, form string) string {
	p := filepath.Join(dir, "profile.yaml")
	os.WriteFile(p, []byte(fmt.Sprintf(allTasks, form)), 0o644)
	return p
}

// fixtureSource applies every task to a copy of a fixture host (the
// Quadlet form or the Compose one) and collects what it wrote.
func (x *ctx) fixtureSource(name, form string) (*source, error) {
	d := x.dir(name + "-" + form)
	orig := filepath.Join("testdata", name)
	host := filepath.Join(d, "host")
	if err := fixture.CopyTree(orig, host); err != nil {
		return nil, err
	}
	out, code := x.ez("apply", "--root", host, "--yes", "--profile", x.profile(d, form))
	if code != 0 {
		return nil, fmt.Errorf("apply on %s (%s): exit %d\n%s", name, form, code, out)
	}
	files, err := written(orig, host)
	if err != nil {
		return nil, err
	}
	s := &source{name: name + "/" + form, files: files, host: host, runtime: map[string]string{}}
	for _, dir := range []string{"proc/sys", "sys"} {
		filepath.WalkDir(filepath.Join(host, dir), func(p string, e fs.DirEntry, err error) error {
			if err != nil || !e.Type().IsRegular() {
				return nil
			}
			rel := strings.TrimPrefix(p, host)
			after, _ := os.ReadFile(p)
			before, _ := os.ReadFile(filepath.Join(orig, rel))
			if !bytes.Equal(before, after) {
				s.runtime[rel] = string(after)
			}
			return nil
		})
	}
	// The check's textfile, as the check timer writes it.
	tdir := filepath.Join(host, "var/lib/prometheus/node-exporter")
	os.MkdirAll(tdir, 0o755)
	if out, code := x.ez("check", "--root", host, "--output", "prometheus", "--firmware", "--textfile-dir", "/var/lib/prometheus/node-exporter"); code != 0 && code != 4 && code != 5 {
		return nil, fmt.Errorf("check on %s: exit %d\n%s", name, code, out)
	}
	if b, err := os.ReadFile(filepath.Join(tdir, "ezedge-host.prom")); err == nil {
		s.files["/var/lib/prometheus/node-exporter/ezedge-host.prom"] = file{data: b, mode: 0o644}
	}
	return s, nil
}

// written lists what differs in host from orig: files and links that are
// new or changed, outside ezedge-host's own state and the runtime trees.
func written(orig, host string) (map[string]file, error) {
	files := map[string]file{}
	err := filepath.WalkDir(host, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, host)
		for _, skip := range []string{"/proc", "/sys", "/var/lib/ezedge-host", "/dev", "/run", "/tmp"} {
			if rel == skip || strings.HasPrefix(rel, skip+"/") {
				if e.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		if e.IsDir() {
			return nil
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		var f file
		if info.Mode()&fs.ModeSymlink != 0 {
			f.link, _ = os.Readlink(p)
		} else if info.Mode().IsRegular() {
			f.data, _ = os.ReadFile(p)
			f.mode = info.Mode().Perm()
		} else {
			return nil
		}
		o, oerr := os.Lstat(filepath.Join(orig, rel))
		if oerr == nil {
			if f.link != "" && o.Mode()&fs.ModeSymlink != 0 {
				if t, _ := os.Readlink(filepath.Join(orig, rel)); t == f.link {
					return nil
				}
			} else if f.link == "" && o.Mode().IsRegular() {
				if b, _ := os.ReadFile(filepath.Join(orig, rel)); bytes.Equal(b, f.data) {
					return nil
				}
			}
		}
		files[rel] = f
		return nil
	})
	return files, err
}

// The /etc/fstab and /etc/default/grub a Debian installation has: a root
// line as the installer writes it (relatime is the kernel's default, so
// no atime option), an EFI partition, swap.
const (
	debianFstab = "# /etc/fstab: static file system information.\n#\n# <file system> <mount point>   <type>  <options>       <dump>  <pass>\n" +
		"UUID=0d9e6b2a-3f6c-4a7e-9a51-6c1f0e8b2d41 /               ext4    errors=remount-ro 0       1\n" +
		"UUID=7A1B-2C3D  /boot/efi       vfat    umask=0077      0       1\n" +
		"UUID=5e0c1e1d-2b7e-4f4c-8e61-0a9b8c7d6e5f none            swap    sw              0       0\n"
	debianGrub = "GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR=`( . /etc/os-release; echo ${NAME:-Debian} ) 2>/dev/null || echo Debian`\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n"
)

// rootSource applies every task to a real Debian root, as to an image
// (what firstboot and image builders do), and collects what it wrote; it
// also checks the plan's words for storage.conf and that rollback gives
// the root back byte for byte.
func (x *ctx) rootSource(r release) (*source, error) {
	d := x.dir("root-" + r.name)
	l, err := debroot.NewLayer(r.root, d)
	if err != nil {
		return nil, err
	}
	l.Put("/etc/fstab", []byte(debianFstab), 0o644)
	if _, err := os.Stat(filepath.Join(r.root, "usr/sbin/grub-mkconfig")); err == nil {
		l.Put("/etc/default/grub", []byte(debianGrub), 0o644)
	}
	// ezedge-host installed by hand: the check timer's unit runs it.
	bin, err := os.ReadFile(x.bin)
	if err != nil {
		return nil, err
	}
	l.Put("/usr/local/sbin/ezedge-host", bin, 0o755)
	// Bookworm's Podman (4.3) has no Quadlet: the Compose form there.
	form := "quadlet"
	if r.name == "bookworm" {
		form = "compose"
	}
	prof := x.profile(d, form)
	before, err := upper(l)
	if err != nil {
		return nil, err
	}
	plan, code := x.layerEz(l, "plan", "--root", l.Root(), "--platform", "amd64", "--profile", prof)
	if code != 0 {
		return nil, fmt.Errorf("plan on %s: exit %d\n%s", r.name, code, plan)
	}
	check("storage.conf-plan "+r.name, wantIn(plan, "absent, and what containers/storage reads now (/usr/share/containers/storage.conf) holds the values already: nothing is written"),
		"Debian's own /usr/share/containers/storage.conf says overlay already: the plan says nothing is written for native overlay")
	out, code := x.layerEz(l, "apply", "--root", l.Root(), "--platform", "amd64", "--profile", prof, "--yes")
	if code != 0 {
		return nil, fmt.Errorf("apply on %s: exit %d\n%s", r.name, code, out)
	}
	after, err := upper(l)
	if err != nil {
		return nil, err
	}
	files := map[string]file{}
	for p, e := range after {
		if e.dir || e.whiteout || strings.HasPrefix(p, "/var/lib/ezedge-host/") || before[p].same(e) || sameAsLower(l, p, e) {
			continue
		}
		files[p] = e.file
	}
	s := &source{name: r.name + "-amd64", files: files, release: r.name}
	// Rollback on a fork: the layer itself stays applied for the
	// consumers.
	f, err := l.Fork(x.dir("root-" + r.name + "-rollback"))
	if err != nil {
		return nil, err
	}
	if out, code := x.layerEz(f, "rollback", "--root", f.Root(), "--yes"); code != 0 {
		return nil, fmt.Errorf("rollback on %s: exit %d\n%s", r.name, code, out)
	}
	back, err := upper(f)
	if err != nil {
		return nil, err
	}
	var d2 []string
	for p, e := range back {
		if strings.HasPrefix(p, "/var/lib/ezedge-host") || before[p].same(e) || sameAsLower(f, p, e) {
			continue
		}
		d2 = append(d2, p)
	}
	for p := range before {
		if _, ok := back[p]; !ok {
			d2 = append(d2, p+" (gone)")
		}
	}
	sort.Strings(d2)
	var rerr error
	if len(d2) > 0 {
		rerr = fmt.Errorf("after rollback these differ from before the apply: %s", strings.Join(d2, ", "))
	}
	check("rollback "+r.name, rerr, fmt.Sprintf("the root is byte-identical to before the apply (%d files written, then undone)", len(files)))
	// The check's textfile, as the check timer writes it on this root.
	l.Put("/var/lib/prometheus/node-exporter/.keep", nil, 0o644)
	if out, code := x.layerEz(l, "check", "--root", l.Root(), "--platform", "amd64", "--output", "prometheus", "--textfile-dir", "/var/lib/prometheus/node-exporter"); code != 0 && code != 4 && code != 5 {
		return nil, fmt.Errorf("check on %s: exit %d\n%s", r.name, code, out)
	}
	b, err := os.ReadFile(filepath.Join(l.Upper, "var/lib/prometheus/node-exporter/ezedge-host.prom"))
	if err != nil {
		return nil, fmt.Errorf("check wrote no textfile on %s: %v", r.name, err)
	}
	s.files["/var/lib/prometheus/node-exporter/ezedge-host.prom"] = file{data: b, mode: 0o644}
	s.layer = l
	return s, nil
}

func wantIn(out, want string) error {
	if !strings.Contains(out, want) {
		return fmt.Errorf("%q not in:\n%s", want, out)
	}
	return nil
}

// layerEz runs ezedge-host on a layer (mounted for it alone).
func (x *ctx) layerEz(l *debroot.Layer, args ...string) (string, int) {
	out, err := l.Run(debroot.Mounts{}, os.Environ(), append([]string{x.bin}, args...)...)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return out, code
}

// entry is one entry of a layer's upper directory.
type entry struct {
	file
	dir, whiteout bool
}

func (a entry) same(b entry) bool {
	return a.dir == b.dir && a.whiteout == b.whiteout && a.link == b.link && a.mode == b.mode && bytes.Equal(a.data, b.data)
}

// sameAsLower says whether an upper entry shows what the root below has
// at that path anyway (a directory copied up, a link put back).
func sameAsLower(l *debroot.Layer, p string, e entry) bool {
	info, err := os.Lstat(filepath.Join(l.Lower, p))
	if err != nil {
		return false
	}
	switch {
	case e.whiteout:
		return false
	case e.dir:
		return info.IsDir() && info.Mode() == e.mode
	case e.link != "":
		t, _ := os.Readlink(filepath.Join(l.Lower, p))
		return info.Mode()&fs.ModeSymlink != 0 && t == e.link
	}
	b, err := os.ReadFile(filepath.Join(l.Lower, p))
	return err == nil && info.Mode() == e.mode && bytes.Equal(b, e.data)
}

// upper lists a layer's changes, by absolute path in the root.
func upper(l *debroot.Layer) (map[string]entry, error) {
	m := map[string]entry{}
	err := filepath.WalkDir(l.Upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == l.Upper {
			return nil
		}
		rel := strings.TrimPrefix(p, l.Upper)
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		var e entry
		e.mode = info.Mode()
		switch {
		case info.IsDir():
			e.dir = true
		case info.Mode()&fs.ModeSymlink != 0:
			e.link, _ = os.Readlink(p)
		case info.Mode()&fs.ModeCharDevice != 0:
			e.whiteout = true
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.data = b
		}
		m[rel] = e
		return nil
	})
	return m, err
}
