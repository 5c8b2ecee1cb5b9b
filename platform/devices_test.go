package platform

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDevices: character devices under /dev, by every kind of entry:
// only device nodes count (not a regular file, a link, a FIFO, a
// directory of the same name); links are not followed, in or out of the
// root; nothing deeper than four levels; the accelerators among them by
// name. Device nodes need mknod: skipped where the test may not.
func TestDevices(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	node := func(p string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mknod(filepath.Join(root, p), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))); err != nil {
			t.Skipf("mknod: %v", err)
		}
	}
	for _, p := range []string{"dev/hailo0", "dev/apex_0", "dev/accel/accel0", "dev/bus/usb/001/002", "dev/null", "dev/a/b/c/d/deep", "dev/hailo"} {
		node(p)
	}
	os.MkdirAll(filepath.Join(root, "dev/accel/accel1"), 0o755)         // a directory named like one
	os.WriteFile(filepath.Join(root, "dev/hailo1"), nil, 0o644)         // a regular file
	os.Symlink("hailo0", filepath.Join(root, "dev/hailo2"))             // a link to one
	os.Symlink("/dev", filepath.Join(root, "dev/loop"))                 // a link back up
	os.Symlink("../../../../../../etc", filepath.Join(root, "dev/out")) // a link out
	unix.Mkfifo(filepath.Join(root, "dev/apex_1"), 0o600)               // a FIFO
	if err := os.WriteFile(filepath.Join(root, "etc-not-dev"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f := &Facts{}
	f.detectDevices(openRoot(t, root))
	if want := []string{"/dev/accel/accel0", "/dev/apex_0", "/dev/bus/usb/001/002", "/dev/hailo", "/dev/hailo0", "/dev/null"}; !slices.Equal(f.CharDevices, want) {
		t.Errorf("char devices %q, want %q", f.CharDevices, want)
	}
	if want := []string{"/dev/accel/accel0", "/dev/apex_0", "/dev/hailo0"}; !slices.Equal(f.Accelerators, want) {
		t.Errorf("accelerators %q, want %q", f.Accelerators, want)
	}
	if !f.IsCharDevice("/dev/null") || f.IsCharDevice("/dev/hailo1") || f.IsCharDevice("/dev/hailo2") || f.IsCharDevice("/dev/a/b/c/d/deep") {
		t.Error("IsCharDevice")
	}
	// An image: no /dev, none.
	g := &Facts{}
	g.detectDevices(openRoot(t, t.TempDir()))
	if g.CharDevices != nil || g.Accelerators != nil {
		t.Errorf("image: %q %q", g.CharDevices, g.Accelerators)
	}
}
