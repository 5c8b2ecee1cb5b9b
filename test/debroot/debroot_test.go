package debroot

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestKey: a root's key is what goes into it. The same spec gives the same
// key; a package more or less, another module in the initramfs, another
// suite, architecture or component give another one; each shared root has
// its own.
func TestKey(t *testing.T) {
	t.Parallel()
	key := func(s Spec) string {
		t.Helper()
		k, err := s.Key()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	seen := map[string]string{}
	for name, s := range Specs {
		if s.Name != name {
			t.Errorf("Specs[%q] is named %q", name, s.Name)
		}
		k := key(s)
		if other, ok := seen[k]; ok {
			t.Errorf("%s and %s have the same key %s", name, other, k)
		}
		seen[k] = name
		if key(s) != k {
			t.Errorf("%s: the key is not the same twice", name)
		}
	}
	base := BookwormAMD64
	for what, s := range map[string]Spec{
		"a package more":    {base.Name, base.Suite, base.Arch, base.Components, append(slices.Clone(base.Packages), "vim"), base.Initramfs},
		"a package less":    {base.Name, base.Suite, base.Arch, base.Components, base.Packages[1:], base.Initramfs},
		"a module more":     {base.Name, base.Suite, base.Arch, base.Components, base.Packages, append(slices.Clone(base.Initramfs), "nvme")},
		"no initramfs list": {base.Name, base.Suite, base.Arch, base.Components, base.Packages, nil},
		"another suite":     {base.Name, "trixie", base.Arch, base.Components, base.Packages, base.Initramfs},
		"another arch":      {base.Name, base.Suite, "arm64", base.Components, base.Packages, base.Initramfs},
		"a component more":  {base.Name, base.Suite, base.Arch, []string{"main", "contrib"}, base.Packages, base.Initramfs},
	} {
		if key(s) == key(base) {
			t.Errorf("%s: same key as %s", what, base.Name)
		}
	}
	// The name is only the folder's prefix.
	renamed := base
	renamed.Name = "other"
	if key(renamed) != key(base) {
		t.Error("the name changed the key")
	}
}

// TestSpecRefused: a word mmdebstrap or the hooks' shell could read as
// more than a name is refused, naming the spec.
func TestSpecRefused(t *testing.T) {
	t.Parallel()
	base := BookwormAMD64
	for what, s := range map[string]Spec{
		"package with a comma":     {"x", base.Suite, base.Arch, base.Components, []string{"systemd,evil"}, nil},
		"package as an option":     {"x", base.Suite, base.Arch, base.Components, []string{"--variant=custom"}, nil},
		"module with a quote":      {"x", base.Suite, base.Arch, base.Components, base.Packages, []string{"ext4'; rm -rf /; '"}},
		"module with a space":      {"x", base.Suite, base.Arch, base.Components, base.Packages, []string{"ext4 vfat"}},
		"suite with a slash":       {"x", "bookworm/../x", base.Arch, base.Components, base.Packages, nil},
		"initramfs without tools":  {"x", base.Suite, base.Arch, base.Components, []string{"systemd"}, []string{"ext4"}},
		"empty component":          {"x", base.Suite, base.Arch, []string{""}, base.Packages, nil},
		"uppercase architecture":   {"x", base.Suite, "AMD64", base.Components, base.Packages, nil},
		"component with a newline": {"x", base.Suite, base.Arch, []string{"main\nnon-free"}, base.Packages, nil},
	} {
		if _, err := s.Key(); err == nil || !strings.Contains(err.Error(), "x:") {
			t.Errorf("%s: %v", what, err)
		}
		if _, err := Build(t.TempDir(), s); err == nil {
			t.Errorf("%s: built", what)
		}
	}
}

// fakeMmdebstrap puts an mmdebstrap on PATH that counts its runs in
// count, mounts a tmpfs on its target's /proc with a file in it (as the
// real one mounts /proc, /sys and /dev/pts while it builds), waits a
// little (so that builds overlap) and makes its target (the last
// argument), failing when fail exists, without unmounting: as if killed.
func fakeMmdebstrap(t *testing.T) (count, fail string) {
	if os.Geteuid() != 0 {
		t.Skip("not root: Build runs mmdebstrap in a mount namespace of its own")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare")
	}
	dir := t.TempDir()
	count, fail = filepath.Join(dir, "count"), filepath.Join(dir, "fail")
	script := "#!/bin/sh\nset -e\nfor target; do :; done\necho run >> '" + count + "'\n" +
		"mkdir -p \"$target/proc\"\nmount -t tmpfs tmpfs \"$target/proc\"\ntouch \"$target/proc/mounted\"\nsleep 0.5\n" +
		"[ -e '" + fail + "' ] && { mkdir -p \"$target/half\"; exit 1; }\nmkdir -p \"$target/etc\"\n"
	if err := os.WriteFile(filepath.Join(dir, "mmdebstrap"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return count, fail
}

// noMountsLeft fails the test if anything is mounted under dir in this
// process's mount namespace (the machine's), and unmounts it.
func noMountsLeft(t *testing.T, dir string) {
	t.Helper()
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(info), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			t.Errorf("a build left %s mounted on the machine", f[4])
			exec.Command("umount", "-l", f[4]).Run()
		}
	}
}

func runs(t *testing.T, count string) int {
	b, err := os.ReadFile(count)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "run\n")
}

// TestBuildOnce: suites wanting the same root at the same time get one
// build between them (the others wait on its lock and take its root), and
// the next Build finds the root without building; a build that failed
// leaves no root, and its .tmp is removed by the next; what mmdebstrap
// mounts goes with it, whether it ends well or not.
func TestBuildOnce(t *testing.T) {
	count, fail := fakeMmdebstrap(t) // no t.Parallel: PATH
	cache := t.TempDir()
	want, err := TrixieAMD64.Path(cache)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]string, 4)
	errs := make([]error, 4)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = Build(cache, TrixieAMD64)
		}()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] != want {
			t.Errorf("build %d: %q, %v; want %q", i, got[i], errs[i], want)
		}
	}
	if n := runs(t, count); n != 1 {
		t.Errorf("mmdebstrap ran %d times for one root", n)
	}
	if _, err := os.Stat(filepath.Join(want, "etc")); err != nil {
		t.Errorf("the root is not whole: %v", err)
	}
	if _, err := os.Stat(want + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("%s.tmp left: %v", want, err)
	}
	if _, err := os.Stat(filepath.Join(want, "proc/mounted")); !os.IsNotExist(err) {
		t.Errorf("mmdebstrap's mount is seen outside it: %v", err)
	}
	noMountsLeft(t, cache)
	if r, err := Build(cache, TrixieAMD64); err != nil || r != want || runs(t, count) != 1 {
		t.Errorf("a built root built again: %q, %v, %d runs", r, err, runs(t, count))
	}

	// Another root: the build fails, half made.
	if err := os.WriteFile(fail, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	other, _ := BookwormAMD64.Path(cache)
	if r, err := Build(cache, BookwormAMD64); err == nil || !strings.Contains(err.Error(), "mmdebstrap bookworm-amd64") {
		t.Errorf("failed build: %q, %v", r, err)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("a failed build left a root: %v", err)
	}
	noMountsLeft(t, cache)
	os.Remove(fail)
	if r, err := Build(cache, BookwormAMD64); err != nil || r != other {
		t.Fatalf("build after a failed one: %q, %v", r, err)
	}
	if _, err := os.Stat(filepath.Join(other, "half")); !os.IsNotExist(err) {
		t.Errorf("the failed build's .tmp was taken for the root: %v", err)
	}
	noMountsLeft(t, cache)
}

// TestMountRefusedOutsideItsNamespace: a layer is not mounted in a mount
// namespace this program did not make for itself (Private), so nothing is
// left mounted where the machine sees it.
func TestMountRefusedOutsideItsNamespace(t *testing.T) {
	t.Setenv(NamespaceEnv, "mnt:[0]") // not this process's
	l, err := NewLayer(t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Mount(); err == nil || !strings.Contains(err.Error(), "not in a mount namespace of its own") {
		l.Unmount()
		t.Fatalf("Mount: %v", err)
	}
	for _, d := range []string{"a,b", "a:b"} {
		bad, _ := NewLayer(filepath.Join(t.TempDir(), d), t.TempDir())
		if err := bad.Mount(); err == nil || !strings.Contains(err.Error(), "option separators") {
			if err == nil {
				bad.Unmount()
			}
			t.Errorf("lower %q: %v", d, err)
		}
	}
}

// TestCacheIn: $EZEDGE_ROOTS wins; else the repository's .cache/roots.
func TestCacheIn(t *testing.T) {
	t.Setenv(CacheEnv, "")
	if got := CacheIn("../.."); got != filepath.Join("../..", ".cache/roots") {
		t.Errorf("CacheIn: %q", got)
	}
	t.Setenv(CacheEnv, "/srv/roots")
	if got := CacheIn("../.."); got != "/srv/roots" {
		t.Errorf("CacheIn with %s: %q", CacheEnv, got)
	}
}
