package main

// The packages' tests (make deb-test): built twice with two versions, they
// are checked for their contents, linted with Debian's lintian, run on the
// fixtures (armhf under qemu-user), and installed, upgraded, removed and
// purged inside a Debian chroot (root needed): an overlay of test/debroot's
// shared bookworm-amd64 root, mounted in the test binary's own mount
// namespace. Under CI (CI set) a missing tool fails the test instead of
// skipping it.

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Versions as make deb makes them without a tag (the longest form, and
// the upgrade goes by commit time).
const (
	v1 = "0~git20261129080000.0123abc"
	v2 = "0~git20261129090000.4567def+dirty"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// debs builds the packages once per run: v1 for every architecture, v2
// for amd64 (the upgrade).
func debs(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "ezedge-deb-test-")
		if buildErr != nil {
			return
		}
		if buildErr = run("../..", buildDir, v1, []string{"amd64", "arm64", "armhf"}); buildErr != nil {
			return
		}
		buildErr = run("../..", buildDir, v2, []string{"amd64"})
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

func TestMain(m *testing.M) {
	// As root, in a mount namespace of its own: the chroot's overlay is
	// gone when the test binary ends, however it ends.
	if os.Geteuid() == 0 {
		if err := private(); err != nil {
			fmt.Fprintf(os.Stderr, "a mount namespace of its own: %v\n", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	for _, d := range []string{buildDir, debrootDir} {
		if d != "" {
			os.RemoveAll(d)
		}
	}
	os.Exit(code)
}

// private runs the test binary again, with its arguments, in a mount
// namespace of its own (as test/debroot's Private does for the suites of
// the main module, which this one does not import: its go.mod would then
// take the main module's versions of nfpm's dependencies),
// unless it is in one already: EZEDGE_MOUNT_NS, set in the new namespace,
// names it.
func private() error {
	self, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil || os.Getenv("EZEDGE_MOUNT_NS") == self {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return err
	}
	script := `export EZEDGE_MOUNT_NS="$(readlink /proc/self/ns/mnt)" && exec "$0" "$@"`
	return syscall.Exec(unshare, append([]string{"unshare", "--mount", "--propagation", "private", "sh", "-c", script, exe}, os.Args[1:]...), os.Environ())
}

var (
	debrootOnce sync.Once
	debrootDir  string
	debrootErr  error
)

// sharedRoot mounts, for this test, an overlay of test/debroot's shared
// root name (built with mmdebstrap the first time on this machine, in the
// repository's .cache/roots or $EZEDGE_ROOTS) with test/debroot's command,
// built once per test binary. The overlay takes every change; the root
// stays as built; the overlay is unmounted when the test ends.
func sharedRoot(t *testing.T, name string) string {
	t.Helper()
	debrootOnce.Do(func() {
		if debrootDir, debrootErr = os.MkdirTemp("", "ezedge-debroot-"); debrootErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", debrootDir, "./test/debroot/cmd/debroot")
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			debrootErr = fmt.Errorf("go build ./test/debroot/cmd/debroot: %v\n%s", err, out)
		}
	})
	if debrootErr != nil {
		t.Fatal(debrootErr)
	}
	cmd := exec.Command(filepath.Join(debrootDir, "debroot"), "layer", t.TempDir(), name)
	cmd.Dir = "../.."
	var progress strings.Builder
	cmd.Stderr = &progress
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("debroot layer %s: %v\n%s", name, err, progress.String())
	}
	root := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-R", root).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", root, err, out)
		}
	})
	return root
}

func pkgPath(t *testing.T, version, arch string) string {
	return filepath.Join(debs(t), "ezedge-host_"+version+"-"+revision+"_"+arch+".deb")
}

// need skips the test without tool, or fails it under CI.
func need(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and %s is not installed", tool)
		}
		t.Skipf("%s not installed", tool)
	}
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// expected is every path the package installs (directories aside).
var expected = []string{
	"/etc/ezedge-host/profile.yaml",
	"/usr/lib/systemd/system-preset/50-ezedge-host.preset",
	"/usr/lib/systemd/system/ezedge-host-check.service",
	"/usr/lib/systemd/system/ezedge-host-check.timer",
	"/usr/lib/systemd/system/ezedge-host-firstboot.service",
	"/usr/lib/systemd/system/ezedge-host-revert-pending.service",
	"/usr/sbin/ezedge-host",
	"/usr/share/bash-completion/completions/ezedge-host",
	"/usr/share/doc/ezedge-host/README.Debian",
	"/usr/share/doc/ezedge-host/changelog.Debian.gz",
	"/usr/share/doc/ezedge-host/copyright",
	"/usr/share/ezedge-host/prometheus/ezedge-host.rules.yml",
	"/usr/share/fish/vendor_completions.d/ezedge-host.fish",
	"/usr/share/lintian/overrides/ezedge-host",
	"/usr/share/man/man8/ezedge-host.8.gz",
	"/usr/share/zsh/vendor-completions/_ezedge-host",
}

// expectedFiles is expected with the manual: each document of the
// repository that Docs names, under /usr/share/doc/ezedge-host.
func expectedFiles(t *testing.T) []string {
	t.Helper()
	docs, err := Docs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := slices.Clone(expected)
	for _, rel := range docs {
		st, err := os.Stat(filepath.Join("../..", rel))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, "/usr/share/doc/ezedge-host/"+DocName(rel, st.Size()))
	}
	return out
}

// files lists the regular files and links in a .deb.
func debFiles(t *testing.T, path string) []string {
	var out []string
	tar := sh(t, "sh", "-c", "dpkg-deb --fsys-tarfile \"$1\" | tar -t", "-", path)
	for _, l := range strings.Split(tar, "\n") {
		l = strings.TrimPrefix(l, ".")
		if l == "" || strings.HasSuffix(l, "/") {
			continue
		}
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// TestContents: the expected files (a man page per command), nothing under
// /usr/local or elsewhere in /etc, the profile a conffile, units running
// /usr/sbin/ezedge-host; the version is the one asked for.
func TestContents(t *testing.T) {
	need(t, "dpkg-deb")
	expected := expectedFiles(t)
	for _, arch := range []string{"amd64", "arm64", "armhf"} {
		p := pkgPath(t, v1, arch)
		got := debFiles(t, p)
		var other []string
		for _, f := range got {
			if !strings.HasPrefix(f, "/usr/share/man/man8/ezedge-host-") && !slices.Contains(expected, f) {
				other = append(other, f)
			}
		}
		for _, f := range expected {
			if !slices.Contains(got, f) {
				t.Errorf("%s: %s missing", arch, f)
			}
		}
		if len(other) > 0 {
			t.Errorf("%s: unexpected files %v", arch, other)
		}
		info := sh(t, "dpkg-deb", "-f", p, "Architecture", "Version", "Suggests", "Depends", "Recommends")
		if !strings.Contains(info, "Architecture: "+arch) || !strings.Contains(info, "Version: "+v1+"-"+revision) ||
			!strings.Contains(info, "\nSuggests: podman, prometheus-node-exporter\n") || strings.Contains(info, "Depends:") || strings.Contains(info, "Recommends:") {
			t.Errorf("%s: control:\n%s", arch, info)
		}
		ctl := t.TempDir()
		sh(t, "dpkg-deb", "-e", p, ctl)
		if b, _ := os.ReadFile(filepath.Join(ctl, "conffiles")); strings.TrimSpace(string(b)) != "/etc/ezedge-host/profile.yaml" {
			t.Errorf("%s: conffiles %q", arch, b)
		}
	}
	x := t.TempDir()
	sh(t, "dpkg-deb", "-x", pkgPath(t, v1, "amd64"), x)
	units, _ := filepath.Glob(filepath.Join(x, "usr/lib/systemd/system/*"))
	for _, u := range units {
		b, _ := os.ReadFile(u)
		if strings.HasSuffix(u, ".service") && !strings.Contains(string(b), "ExecStart=/usr/sbin/ezedge-host ") {
			t.Errorf("%s:\n%s", u, b)
		}
	}
}

// TestLintian: no error or warning that is not overridden (with its reason)
// in debian/lintian-overrides.
func TestLintian(t *testing.T) {
	need(t, "lintian")
	for _, arch := range []string{"amd64", "arm64", "armhf"} {
		cmd := exec.Command("lintian", "--fail-on", "error,warning", "--pedantic", pkgPath(t, v1, arch))
		out, err := cmd.CombinedOutput()
		var tags []string
		for _, l := range strings.Split(string(out), "\n") {
			if len(l) > 2 && l[1] == ':' && strings.Contains("EWIPX", l[:1]) {
				tags = append(tags, l)
			}
		}
		if err != nil || len(tags) > 0 {
			t.Errorf("lintian %s: %v\n%s", arch, err, strings.Join(tags, "\n"))
		}
	}
}

// TestProfileParses: the shipped profile is one ezedge-host accepts, and
// plans what no profile does (it names no task: the defaults), but for the
// line saying which profile was used.
func TestProfileParses(t *testing.T) {
	bin := extract(t, v1, hostArch(t))
	with := sh(t, bin, "plan", "--root", "../../testdata/pi4-8gb-bullseye", "--profile", "debian/profile.yaml")
	without := sh(t, bin, "plan", "--root", "../../testdata/pi4-8gb-bullseye", "--no-profile")
	if !strings.Contains(with, "\nProfile: debian/profile.yaml (--profile)\n") || !strings.Contains(without, "\nProfile: platform defaults (--no-profile)\n") {
		t.Errorf("the plans do not say which profile they used:\n%s\n---\n%s", with, without)
	}
	profileLine := regexp.MustCompile(`(?m)^Profile: .*\n`)
	if a, b := profileLine.ReplaceAllString(with, ""), profileLine.ReplaceAllString(without, ""); a != b {
		t.Errorf("the shipped profile plans differently from the defaults:\n%s\n---\n%s", a, b)
	}
}

// TestArmhfUnderQemu: the armhf build runs the fixtures under qemu-user
// and plans exactly what this machine's build plans.
func TestArmhfUnderQemu(t *testing.T) {
	need(t, "qemu-arm-static")
	arm := extract(t, v1, "armhf")
	host := extract(t, v1, hostArch(t))
	for _, fx := range []string{"pi4-8gb-bullseye", "pi5-16gb-nvme-bookworm"} {
		root := "../../testdata/" + fx
		got := sh(t, "qemu-arm-static", arm, "plan", "--root", root)
		want := sh(t, host, "plan", "--root", root)
		if got != want {
			t.Errorf("%s: armhf plans\n%s\nthis machine's build plans\n%s", fx, got, want)
		}
	}
}

func hostArch(t *testing.T) string {
	out := strings.TrimSpace(sh(t, "go", "env", "GOARCH"))
	if out == "arm" {
		return "armhf"
	}
	return out
}

// extract is the ezedge-host binary of a package.
func extract(t *testing.T, version, arch string) string {
	t.Helper()
	need(t, "dpkg-deb")
	x := t.TempDir()
	sh(t, "dpkg-deb", "-x", pkgPath(t, version, arch), x)
	return filepath.Join(x, "usr/sbin/ezedge-host")
}

// chroot is a fresh Debian bookworm root with dpkg and apt: an overlay of
// the shared bookworm-amd64 root (built with mmdebstrap the first time on
// this machine; test/debroot), which takes every change and is unmounted
// when the test ends.
func chroot(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set and this is not root (the chroot tests need it)")
		}
		t.Skip("not root: the chroot tests need it")
	}
	need(t, "mmdebstrap")
	return sharedRoot(t, "bookworm-amd64")
}

// tree lists every path under root with its type and, for files, content
// digest; dpkg's and apt's own records and logs are left out.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, root)
		for _, skip := range []string{"/var/lib/dpkg", "/var/log", "/var/cache", "/tmp", "/proc", "/dev", "/run"} {
			if rel == skip || strings.HasPrefix(rel, skip+"/") {
				if fi.IsDir() && rel != skip {
					return filepath.SkipDir
				}
				return nil
			}
		}
		v := fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			v += fmt.Sprintf(" %x", sha256.Sum256(b))
		} else if fi.Mode()&os.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			v += " -> " + l
		}
		out[rel] = v
		return nil
	})
	return out
}

func diff(a, b map[string]string) []string {
	var d []string
	for k, v := range a {
		if w, ok := b[k]; !ok {
			d = append(d, "- "+k)
		} else if w != v {
			d = append(d, "~ "+k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			d = append(d, "+ "+k)
		}
	}
	sort.Strings(d)
	return d
}

// TestInstallUpgradeRemovePurge, in a chroot: install leaves dpkg -V clean
// and no unit enabled or started; upgrading to v2 keeps dpkg -V clean;
// remove leaves the conffile and the snapshot store; purge leaves the root
// exactly as it was before install, the snapshot store aside, which stays.
func TestInstallUpgradeRemovePurge(t *testing.T) {
	root := chroot(t)
	a, b := pkgPath(t, v1, "amd64"), pkgPath(t, v2, "amd64")
	if hostArch(t) != "amd64" {
		t.Skip("the chroot is amd64")
	}
	for _, p := range []string{a, b} {
		data, _ := os.ReadFile(p)
		os.WriteFile(filepath.Join(root, "tmp", filepath.Base(p)), data, 0o644)
	}
	in := func(args ...string) string { return sh(t, "chroot", append([]string{root}, args...)...) }
	before := tree(t, root)

	out := in("dpkg", "-i", "/tmp/"+filepath.Base(a))
	if v := in("dpkg", "-V", "ezedge-host"); v != "" {
		t.Errorf("dpkg -V after install:\n%s", v)
	}
	if strings.Contains(out, "Created symlink") {
		t.Errorf("install enabled a unit:\n%s", out)
	}
	for _, d := range diff(before, tree(t, root)) {
		if strings.Contains(d, ".wants/") || strings.HasPrefix(d, "+ /etc/systemd") {
			t.Errorf("install enabled a unit: %s", d)
		}
		if strings.Contains(d, "/usr/local") || strings.HasPrefix(d, "+ /etc/sysctl.d") || strings.HasPrefix(d, "~ ") || strings.HasPrefix(d, "- ") {
			t.Errorf("install: %s", d)
		}
	}
	// The installed binary plans with the installed conffile by itself.
	if out := in("/usr/sbin/ezedge-host", "plan"); !strings.Contains(out, "\nProfile: /etc/ezedge-host/profile.yaml in the root\n") {
		t.Errorf("plan after install does not use the conffile:\n%s", out)
	}
	// The snapshot store is the operator's: made here as an apply would.
	store := filepath.Join(root, "var/lib/ezedge-host")
	os.MkdirAll(filepath.Join(store, "snapshots"), 0o700)
	os.WriteFile(filepath.Join(store, "snapshots/history.jsonl"), []byte("{}\n"), 0o600)
	before[strings.TrimPrefix(store, root)] = "kept"

	in("dpkg", "-i", "/tmp/"+filepath.Base(b))
	if v := in("dpkg", "-V", "ezedge-host"); v != "" {
		t.Errorf("dpkg -V after upgrade:\n%s", v)
	}
	if v := in("dpkg-query", "-W", "-f", "${Version}", "ezedge-host"); v != v2+"-"+revision {
		t.Errorf("version after upgrade %q", v)
	}

	in("dpkg", "-r", "ezedge-host")
	for _, p := range []string{"etc/ezedge-host/profile.yaml", "var/lib/ezedge-host/snapshots/history.jsonl"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("after remove: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "usr/sbin/ezedge-host")); err == nil {
		t.Error("after remove: the binary is still there")
	}

	in("dpkg", "-P", "ezedge-host")
	after := tree(t, root)
	if _, ok := after["/var/lib/ezedge-host/snapshots/history.jsonl"]; !ok {
		t.Error("purge removed the snapshot store")
	}
	var left []string
	for _, d := range diff(before, after) {
		if !strings.HasPrefix(d, "+ /var/lib/ezedge-host") && !strings.HasPrefix(d, "~ /var/lib/ezedge-host") {
			left = append(left, d)
		}
	}
	if len(left) > 0 {
		t.Errorf("after purge the root differs from before install:\n%s", strings.Join(left, "\n"))
	}
	if out, err := exec.Command("chroot", root, "dpkg-query", "-W", "ezedge-host").CombinedOutput(); err == nil {
		t.Errorf("still known to dpkg after purge: %s", out)
	}

	// An image's first boot runs `systemctl preset-all` (machine-id
	// "uninitialized"), and Debian's default preset enables every unit: the
	// package's preset keeps its units disabled. The chroot has no preset
	// of its own, so without ours systemctl's default (enable) applies:
	// the control below shows that.
	need(t, "systemctl")
	in("dpkg", "-i", "/tmp/"+filepath.Base(a))
	sh(t, "systemctl", "--root="+root, "preset-all")
	links, _ := filepath.Glob(filepath.Join(root, "etc/systemd/system/*.wants/ezedge-host*"))
	if len(links) > 0 {
		t.Errorf("preset-all enabled %v", links)
	}
	os.Remove(filepath.Join(root, "usr/lib/systemd/system-preset/50-ezedge-host.preset"))
	sh(t, "systemctl", "--root="+root, "preset", "ezedge-host-check.timer")
	if links, _ := filepath.Glob(filepath.Join(root, "etc/systemd/system/*.wants/ezedge-host-check.timer")); len(links) == 0 {
		t.Error("without the package's preset, preset did not enable the timer: the check above proves nothing")
	}
}

// TestDocs: the manual is shipped as it is in the repository, each file
// over 4 KiB gzipped (policy 12.3), and every document README.Debian and
// the units name under /usr/share/doc/ezedge-host is in the package.
func TestDocs(t *testing.T) {
	need(t, "dpkg-deb")
	x := t.TempDir()
	sh(t, "dpkg-deb", "-x", pkgPath(t, v1, "amd64"), x)
	doc := filepath.Join(x, "usr/share/doc/ezedge-host")
	docs, err := Docs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, rel := range docs {
		want, err := os.ReadFile(filepath.Join("../..", rel))
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(doc, DocName(rel, int64(len(want))))
		var got string
		if strings.HasSuffix(name, ".gz") {
			got = sh(t, "gzip", "-dc", name)
		} else {
			b, _ := os.ReadFile(name)
			got = string(b)
		}
		if got != string(want) || len(want) > compressAbove != strings.HasSuffix(name, ".gz") {
			t.Errorf("%s: not shipped as it is in the repository (%d bytes)", name, len(want))
		}
	}
	// Named exactly in README.Debian; either way in a unit's comment.
	readme, _ := os.ReadFile(filepath.Join(doc, "README.Debian"))
	named := regexp.MustCompile(`\b(?:docs/[A-Za-z0-9._-]+|README\.md)(?:\.gz)?\b`)
	for _, n := range named.FindAllString(string(readme), -1) {
		if _, err := os.Stat(filepath.Join(doc, n)); err != nil {
			t.Errorf("README.Debian names %s, which the package does not have", n)
		}
	}
	units, _ := filepath.Glob(filepath.Join(x, "usr/lib/systemd/system/*"))
	for _, u := range units {
		b, _ := os.ReadFile(u)
		for _, n := range named.FindAllString(string(b), -1) {
			n = strings.TrimSuffix(n, ".gz")
			_, e1 := os.Stat(filepath.Join(doc, n))
			_, e2 := os.Stat(filepath.Join(doc, n+".gz"))
			if e1 != nil && e2 != nil {
				t.Errorf("%s names %s, which the package does not have", filepath.Base(u), n)
			}
		}
	}
}

// TestCopyright: the copyright file is DEP-5 and says Apache-2.0 for
// ezedge-host, as the repository's LICENSE (the Apache License 2.0, the
// text Debian keeps in common-licenses) does; and it has a paragraph for
// every Go module compiled into each architecture's binary (go version
// -m), none for one that is not, and a License paragraph for every
// license it names.
func TestCopyright(t *testing.T) {
	need(t, "dpkg-deb")
	lic, err := os.ReadFile("../../LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	if common, err := os.ReadFile("/usr/share/common-licenses/Apache-2.0"); err == nil && string(common) != string(lic) {
		t.Error("LICENSE is not the Apache License 2.0 as /usr/share/common-licenses/Apache-2.0 has it")
	}
	b, err := os.ReadFile("debian/copyright")
	if err != nil {
		t.Fatal(err)
	}
	paras := strings.Split(strings.TrimSpace(string(b)), "\n\n")
	field := func(p, name string) string {
		var v []string
		in := false
		for _, l := range strings.Split(p, "\n") {
			switch {
			case strings.HasPrefix(l, name+":"):
				in = true
				v = append(v, strings.TrimSpace(strings.TrimPrefix(l, name+":")))
			case in && strings.HasPrefix(l, " "):
				v = append(v, strings.TrimSpace(l))
			default:
				in = false
			}
		}
		return strings.Join(v, "\n")
	}
	if field(paras[0], "Format") != "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/" || field(paras[0], "Upstream-Name") != name {
		t.Errorf("header paragraph:\n%s", paras[0])
	}
	files := map[string]string{} // pattern -> license
	standalone := map[string]bool{}
	for _, p := range paras[1:] {
		lic := strings.SplitN(field(p, "License"), "\n", 2)
		if f := field(p, "Files"); f != "" {
			if field(p, "Copyright") == "" || lic[0] == "" {
				t.Errorf("paragraph without Copyright or License:\n%s", p)
			}
			for _, pat := range strings.Fields(f) {
				files[pat] = lic[0]
			}
		} else if len(lic) == 2 {
			standalone[lic[0]] = true
		}
	}
	if files["*"] != "Apache-2.0" {
		t.Errorf("Files: * is %q, want Apache-2.0", files["*"])
	}
	for pat, l := range files {
		for _, one := range strings.Split(l, " and ") {
			if !standalone[one] {
				t.Errorf("%s: license %s has no License paragraph", pat, one)
			}
		}
	}
	for _, p := range paras[1:] {
		if strings.HasPrefix(p, "License: Apache-2.0\n") && !strings.Contains(p, `"/usr/share/common-licenses/Apache-2.0"`) {
			t.Errorf("the Apache-2.0 paragraph does not refer to /usr/share/common-licenses/Apache-2.0:\n%s", p)
		}
	}
	need(t, "go")
	used := map[string]bool{"*": true, "go/*": true}
	for _, arch := range []string{"amd64", "arm64", "armhf"} {
		bin := extract(t, v1, arch)
		for _, l := range strings.Split(sh(t, "go", "version", "-m", bin), "\n") {
			f := strings.Fields(l)
			if len(f) >= 2 && f[0] == "dep" {
				if _, ok := files[f[1]+"/*"]; !ok {
					t.Errorf("%s: module %s is compiled in, and debian/copyright has no Files: %s/*", arch, f[1], f[1])
				}
				used[f[1]+"/*"] = true
			}
		}
	}
	for pat := range files {
		if !used[pat] {
			t.Errorf("debian/copyright names %s, which no binary has", pat)
		}
	}
}
