package hostroot

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostile puts each kind of file that is not a plain file at one name
// inside a fresh root, and a sentinel outside it.
func hostile(t *testing.T) (root, outside string, kinds map[string]string) {
	t.Helper()
	parent := t.TempDir()
	root, outside = filepath.Join(parent, "root"), filepath.Join(parent, "outside")
	for _, d := range []string{root + "/etc", outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sentinel := filepath.Join(outside, "sentinel")
	if err := os.WriteFile(sentinel, []byte("outside\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kinds = map[string]string{}
	add := func(kind string, make func(p string) error) {
		p := filepath.Join(root, "etc", kind)
		if err := make(p); err != nil {
			t.Logf("%s: cannot make one here: %v", kind, err)
			return
		}
		kinds[kind] = "/etc/" + kind
	}
	add("fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) })
	add("dir", func(p string) error { return os.Mkdir(p, 0o755) })
	add("socket", func(p string) error {
		l, err := net.Listen("unix", p)
		if err == nil {
			t.Cleanup(func() { l.Close() })
		}
		return err
	})
	if os.Geteuid() == 0 {
		// /dev/zero's numbers: reading it never ends.
		add("chardev", func(p string) error { return syscall.Mknod(p, syscall.S_IFCHR|0o644, 1<<8|5) })
	}
	add("hardlink", func(p string) error { return os.Link(sentinel, p) })
	add("sparse", func(p string) error {
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Truncate(8 << 30)
	})
	return root, outside, kinds
}

// TestHostileFileTypes: at any path, a FIFO, a device, a socket, a
// directory or an 8 GB sparse file is refused at once, naming the path,
// never read to the end or blocked on; a hard link to a file outside the
// root is never written in place.
func TestHostileFileTypes(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"openat2", "os.Root"} {
		t.Run(mode, func(t *testing.T) {
			root, outside, kinds := hostile(t)
			h, err := Open(root)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			if mode == "os.Root" {
				h.noOpenat2.Store(true)
			}
			for kind, p := range kinds {
				done := make(chan error, 1)
				go func() {
					_, err := h.ReadFile(p)
					done <- err
				}()
				select {
				case err := <-done:
					switch kind {
					case "hardlink":
						if err != nil {
							t.Errorf("%s: reading a file with two names is fine: %v", kind, err)
						}
					case "sparse":
						if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), p) {
							t.Errorf("%s: %v, want ErrTooLarge naming %s", kind, err, p)
						}
					default:
						if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), p) {
							t.Errorf("%s: %v, want ErrNotRegular naming %s", kind, err, p)
						}
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("%s: read blocked", kind)
				}
				if kind == "sparse" || kind == "dir" {
					continue
				}
				if err := h.WriteInPlace(p, []byte("x\n")); err == nil {
					t.Errorf("%s: written in place", kind)
				}
				if _, err := h.OpenPrivate(p, os.O_RDWR); err == nil {
					t.Errorf("%s: opened as a private file", kind)
				}
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "sentinel")); string(b) != "outside\n" {
				t.Errorf("the file outside the root changed: %q", b)
			}
			if len(h.Refusals()) == 0 {
				t.Errorf("no refusal recorded")
			}
		})
	}
}

// TestReadBounds: a file over the bound is refused, one at it is read;
// ReadPrefix reads the head of any size of file.
func TestReadBounds(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "at"), make([]byte, MaxRead), 0o644)
	os.WriteFile(filepath.Join(root, "over"), make([]byte, MaxRead+1), 0o644)
	h, _ := Open(root)
	defer h.Close()
	if b, err := h.ReadFile("/at"); err != nil || len(b) != MaxRead {
		t.Errorf("at the bound: %d bytes, %v", len(b), err)
	}
	if _, err := h.ReadFile("/over"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the bound: %v", err)
	}
	if b, err := h.ReadPrefix("/over", 20); err != nil || len(b) != 20 {
		t.Errorf("prefix: %d bytes, %v", len(b), err)
	}
}

// TestOpenPrivate: the store's files are created 0600, made 0600 when
// found otherwise, and refused through a link or with another name.
func TestOpenPrivate(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	h, _ := Open(root)
	defer h.Close()
	f, err := h.OpenPrivate("/lock", os.O_RDWR|os.O_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi, _ := os.Stat(filepath.Join(root, "lock")); fi.Mode().Perm() != 0o600 {
		t.Errorf("created %v", fi.Mode())
	}
	os.Chmod(filepath.Join(root, "lock"), 0o666)
	f, err = h.OpenPrivate("/lock", os.O_RDWR|os.O_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi, _ := os.Stat(filepath.Join(root, "lock")); fi.Mode().Perm() != 0o600 {
		t.Errorf("not fixed: %v", fi.Mode())
	}
	os.WriteFile(filepath.Join(root, "target"), []byte("keep"), 0o644)
	os.Symlink("target", filepath.Join(root, "link"))
	if _, err := h.OpenPrivate("/link", os.O_RDWR|os.O_CREATE); !errors.Is(err, ErrLink) {
		t.Errorf("through a link: %v", err)
	}
	os.Link(filepath.Join(root, "target"), filepath.Join(root, "hard"))
	if _, err := h.OpenPrivate("/hard", os.O_RDWR|os.O_CREATE); !errors.Is(err, ErrHardLink) {
		t.Errorf("a second name: %v", err)
	}
	if _, err := h.OpenPrivate("/lock", os.O_RDWR|os.O_TRUNC); err == nil {
		t.Errorf("O_TRUNC accepted")
	}
	if b, _ := os.ReadFile(filepath.Join(root, "target")); string(b) != "keep" {
		t.Errorf("target changed: %q", b)
	}
}
