package hostroot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// layout builds a root inside a parent that also holds an "outside" folder,
// so that a test can check no byte outside the root ever changes.
func layout(t *testing.T) (root, outside string) {
	t.Helper()
	parent := t.TempDir()
	root = filepath.Join(parent, "root")
	outside = filepath.Join(parent, "outside")
	for _, d := range []string{root + "/etc/sysctl.d", root + "/usr/lib", outside + "/etc"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(root+"/etc/sysctl.conf", "inside\n")
	write(outside+"/etc/sysctl.conf", "outside\n")
	write(outside+"/secret", "outside\n")
	// Debian's relative link, an absolute link as images have them, and
	// links that climb out of the root.
	links := map[string]string{
		"/etc/sysctl.d/99-sysctl.conf": "../sysctl.conf",
		"/etc/abs.conf":                "/etc/sysctl.conf",
		"/etc/climb.conf":              "../../../../../../../../outside/secret",
		"/etc/absout.conf":             outside + "/secret",
		"/lib":                         "usr/lib",
		"/etc/loop":                    "loop",
	}
	for l, target := range links {
		if err := os.Symlink(target, root+l); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

// both runs a test with openat2 and with the os.Root path that kernels
// before 5.6 take.
func both(t *testing.T, f func(t *testing.T, h *Root, root, outside string)) {
	for _, mode := range []string{"openat2", "os.Root"} {
		t.Run(mode, func(t *testing.T) {
			root, outside := layout(t)
			h, err := Open(root)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			if mode == "os.Root" {
				h.noOpenat2.Store(true)
			}
			f(t, h, root, outside)
		})
	}
}

func TestResolveStaysInside(t *testing.T) {
	t.Parallel()
	both(t, resolveStaysInside)
}

func resolveStaysInside(t *testing.T, h *Root, _, _ string) {
	cases := map[string]string{
		"/etc/sysctl.d/99-sysctl.conf":   "etc/sysctl.conf",
		"/etc/abs.conf":                  "etc/sysctl.conf",
		"/etc/climb.conf":                "outside/secret",
		"/lib/x":                         "usr/lib/x",
		"/../../etc/sysctl.conf":         "etc/sysctl.conf",
		"etc/../../../etc/sysctl.conf":   "etc/sysctl.conf",
		"/":                              ".",
		"/missing/dir/file":              "missing/dir/file",
		"/etc/sysctl.d/../sysctl.d/none": "etc/sysctl.d/none",
	}
	for in, want := range cases {
		got, err := h.Resolve(in)
		if err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	// An absolute link to the real outside path resolves to that path
	// inside the root, where it does not exist.
	if _, err := h.ReadFile("/etc/absout.conf"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absolute link out of the root: %v, want not-exist inside the root", err)
	}
	if b, err := h.ReadFile("/etc/abs.conf"); err != nil || string(b) != "inside\n" {
		t.Errorf("absolute link inside the root read %q, %v", b, err)
	}
	if _, err := h.ReadFile("/etc/loop"); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("symlink loop: %v, want ELOOP", err)
	}
}

func TestWritesNeverLeaveTheRoot(t *testing.T) {
	t.Parallel()
	both(t, writesNeverLeaveTheRoot)
}

func writesNeverLeaveTheRoot(t *testing.T, h *Root, root, outside string) {
	// No write follows a final symlink, whether it leads out of the root
	// or stays inside: a link at a file's name must not make ezedge-host
	// write another file. Callers that edit a link's target resolve it
	// and check where it lands themselves.
	for _, p := range []string{"/etc/climb.conf", "/etc/absout.conf", "/etc/abs.conf", "/etc/sysctl.d/99-sysctl.conf"} {
		if err := h.WriteAtomic(p, []byte("written\n"), 0o644, 0, 0); !errors.Is(err, ErrLink) {
			t.Errorf("WriteAtomic(%s) = %v, want ErrLink", p, err)
		}
		if err := h.WriteInPlace(p, []byte("x")); !errors.Is(err, ErrLink) {
			t.Errorf("WriteInPlace(%s) = %v, want ErrLink", p, err)
		}
	}
	for _, f := range []string{"etc/sysctl.conf", "secret"} {
		if b, _ := os.ReadFile(filepath.Join(outside, f)); string(b) != "outside\n" {
			t.Errorf("%s outside the root changed: %q", f, b)
		}
	}
	if b, _ := os.ReadFile(root + "/etc/sysctl.conf"); string(b) != "inside\n" {
		t.Errorf("a link's target inside the root was written: %q", b)
	}
	if fi, err := os.Lstat(root + "/etc/abs.conf"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("a refused write replaced the link")
	}
	// The resolved target itself is an ordinary write.
	rp, err := h.Resolve("/etc/sysctl.d/99-sysctl.conf")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.WriteAtomic(rp, []byte("new\n"), 0o640, 0, 0); err != nil {
		t.Fatal(err)
	}
	if t2, err := os.Readlink(root + "/etc/sysctl.d/99-sysctl.conf"); err != nil || t2 != "../sysctl.conf" {
		t.Fatalf("link replaced: %q %v", t2, err)
	}
	fi, _ := os.Stat(root + "/etc/sysctl.conf")
	b, _ := os.ReadFile(root + "/etc/sysctl.conf")
	if string(b) != "new\n" || fi.Mode().Perm() != 0o640 {
		t.Fatalf("target = %q %v", b, fi.Mode())
	}
	ents, _ := os.ReadDir(root + "/etc")
	for _, e := range ents {
		if strings.Contains(e.Name(), "ezedge-tmp") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestRemoveDropsCachedDirectory(t *testing.T) {
	t.Parallel()
	root, _ := layout(t)
	h, _ := Open(root)
	defer h.Close()
	if err := h.Mkdir("/etc/new", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := h.WriteAtomic("/etc/new/f", []byte("1"), 0o644, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := h.Remove("/etc/new/f"); err != nil {
		t.Fatal(err)
	}
	if err := h.Remove("/etc/new"); err != nil {
		t.Fatal(err)
	}
	if err := h.Mkdir("/etc/new", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := h.WriteAtomic("/etc/new/f", []byte("2"), 0o644, 0, 0); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(root + "/etc/new/f"); err != nil || string(b) != "2" {
		t.Fatalf("write after re-creating a directory went astray: %q %v", b, err)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "none")); err == nil || err.Error() != "root "+filepath.Join(dir, "none")+": no such directory" {
		t.Errorf("missing root: %v", err)
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := Open(f); err == nil || err.Error() != "root "+f+": not a directory" {
		t.Errorf("file root: %v", err)
	}
}

func TestRemoveSymlinkKeepsTarget(t *testing.T) {
	t.Parallel()
	root, _ := layout(t)
	h, _ := Open(root)
	defer h.Close()
	if err := h.Remove("/etc/abs.conf"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(root + "/etc/abs.conf"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("link still there: %v", err)
	}
	if b, err := os.ReadFile(root + "/etc/sysctl.conf"); err != nil || string(b) != "inside\n" {
		t.Errorf("removing a link touched its target: %q %v", b, err)
	}
}
