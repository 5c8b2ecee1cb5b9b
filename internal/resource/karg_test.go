package resource

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

func init() {
	// What the tasks declare (tasks/owned.go), for this package's tests.
	Edit("/boot/", "/boot")
	Edit(GrubDefaultsFile, "/etc/default")
	Edit(RaspiExtraCmdline, "/etc/default")
}

// TestKernelArgID: a journal names a kernel argument by file and key; only
// a file ezedge-host edits for the command line, by its real path, and a
// key of the shape it sets are taken back.
func TestKernelArgID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{
		"kernel-arg:/boot/firmware/cmdline.txt:zswap.enabled",
		"kernel-arg:/boot/cmdline.txt:cgroup_enable",
		"kernel-arg:/etc/default/raspi-extra-cmdline:zswap.compressor",
		"kernel-arg:/etc/default/grub:intel_pstate",
		"kernel-arg:/boot/grub/grub.cfg:amd_pstate",
	} {
		r, err := FromID(id)
		if err != nil || ID(r) != id {
			t.Errorf("FromID(%q) = %v, %v", id, r, err)
		}
	}
	for _, id := range []string{
		"kernel-arg:/etc/passwd:root",
		"kernel-arg:/boot/../etc/shadow:x",
		"kernel-arg:/boot/firmware/cmdline.txt",
		"kernel-arg:/boot/firmware/cmdline.txt:",
		"kernel-arg:/boot/firmware/cmdline.txt:a b",
		"kernel-arg:/boot/firmware/cmdline.txt:a=b",
		"kernel-arg:/boot/firmware/cmdline.txt:\"a\"",
		"kernel-arg:boot/firmware/cmdline.txt:a",
		"kernel-arg:/boot//cmdline.txt:a",
		"kernel-arg:/etc/default/grub.d/90-ezedge-host.cfg:a",
	} {
		if r, err := FromID(id); err == nil {
			t.Errorf("FromID(%q) accepted: %v", id, r)
		}
	}
}

// TestKernelArgWrite: a key set, read back and put back on its own, every
// other byte, the mode and the owner kept; the file replaced, not a link
// or a FIFO written through.
func TestKernelArgWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "boot/firmware/cmdline.txt")
	os.MkdirAll(filepath.Dir(p), 0o755)
	const line = "console=tty1 root=PARTUUID=x-02 zswap.enabled=0 rootwait\nsecond line\n"
	os.WriteFile(p, []byte(line), 0o640)
	os.Chown(p, 7, 8)
	h, err := hostroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	k := KernelArgIn("/boot/firmware/cmdline.txt", "zswap.enabled")
	before, err := k.Read(h)
	if err != nil || !before.Exists || string(before.Data) != "zswap.enabled=0" {
		t.Fatalf("Read = %+v, %v", before, err)
	}
	if err := k.Write(h, Arg("zswap.enabled", "1")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != strings.Replace(line, "=0", "=1", 1) {
		t.Errorf("after Write: %q", b)
	}
	got, _ := k.Read(h)
	if !k.Equal(got, Arg("zswap.enabled", "1")) || k.Equal(got, before) {
		t.Errorf("Equal: %+v", got)
	}
	if err := k.Write(h, before); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	st, _ := os.Stat(p)
	if string(b) != line || st.Mode().Perm() != 0o640 || os.Geteuid() == 0 && st.Sys().(*syscall.Stat_t).Uid != 7 {
		t.Errorf("put back: %q mode %v", b, st.Mode())
	}
	// A new key and its absence.
	n := KernelArgIn("/boot/firmware/cmdline.txt", "cgroup_enable")
	if err := n.Write(h, Arg("cgroup_enable", "memory")); err != nil {
		t.Fatal(err)
	}
	if err := n.Write(h, State{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != line {
		t.Errorf("add then remove: %q", b)
	}

	// Hostile file types at the path: refused, nothing written through.
	for name, plant := range map[string]func(string) error{
		"fifo":    func(q string) error { return syscall.Mkfifo(q, 0o644) },
		"dir":     func(q string) error { return os.Mkdir(q, 0o755) },
		"outside": func(q string) error { return os.Symlink("/etc/passwd", q) },
	} {
		d := t.TempDir()
		q := filepath.Join(d, "boot/cmdline.txt")
		os.MkdirAll(filepath.Dir(q), 0o755)
		if err := plant(q); err != nil {
			t.Fatal(err)
		}
		h2, err := hostroot.Open(d)
		if err != nil {
			t.Fatal(err)
		}
		k := KernelArgIn("/boot/cmdline.txt", "a")
		if _, err := k.Read(h2); err == nil {
			t.Errorf("%s: read", name)
		}
		if err := k.Write(h2, Arg("a", "1")); err == nil {
			t.Errorf("%s: written", name)
		}
		h2.Close()
	}
}
