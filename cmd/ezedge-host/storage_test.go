package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// podmanRoot is a fixture copy with Podman installed: its binary, the
// overlay module for a 6.1 kernel on a live root, and fuse-overlayfs when
// fuse is set.
func podmanRoot(t *testing.T, fuse bool, files map[string]string) string {
	t.Helper()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	put := func(p, body string) {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put("usr/bin/podman", "#!/bin/sh\n")
	put("proc/sys/kernel/osrelease", "6.1.0-rpi7-rpi-2712\n")
	put("proc/filesystems", "nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\n")
	if fuse {
		put("usr/bin/fuse-overlayfs", "#!/bin/sh\n")
	}
	for p, b := range files {
		put(p, b)
	}
	return root
}

const storageProfile = "version: 1\ntasks:\n  container-storage: {enabled: true}\n"

const debianStorageConf = "# Debian's default, shortened\n[storage]\ndriver = \"\"\nrunroot = \"/run/containers/storage\"\ngraphroot = \"/var/lib/containers/storage\"\n\n[storage.options]\nadditionalimagestores = [\n]\n\n[storage.options.overlay]\n#mount_program = \"/usr/bin/fuse-overlayfs\"\nmountopt = \"nodev\"\n"

// The header of a storage.conf written from nothing, and of one copied from
// /usr/share.
const (
	storageConfNewHeader  = "# Written by ezedge-host's container-storage task: there was no\n# /usr/share/containers/storage.conf to start from (Debian's containers-storage\n# package is not installed). containers/storage reads this file alone and\n# needs runroot and graphroot in it; they are its built-in rootful defaults.\n"
	storageConfCopyHeader = "# Copied by ezedge-host's container-storage task from\n# /usr/share/containers/storage.conf and edited: containers/storage reads\n# this file instead of that one, not both.\n"
)

// TestContainerStorageCycle: opt-in; on a fresh store apply writes
// storage.conf, byte for byte as expected in each of its three cases
// (edited in place, copied from /usr/share and edited, written whole when
// neither exists), the plan says which case it is and what the file holds,
// the file holds every key containers/storage needs of a file it reads
// alone (runroot: Podman 4.3 and 5.4 refuse one without it), the plan after
// it is empty, and rollback leaves the root byte-identical.
func TestContainerStorageCycle(t *testing.T) {
	t.Parallel()
	const rr = "runroot = \"/run/containers/storage\"\n"
	const gr = "graphroot = \"/var/lib/containers/storage\"\n"
	debianEdited := strings.Replace(debianStorageConf, `driver = ""`, `driver = "overlay"`, 1)
	for _, c := range []struct {
		name    string
		fuse    bool
		profile string
		files   map[string]string
		want    string // storage.conf after apply, whole
		note    string
	}{
		{"etc", false, "", map[string]string{"etc/containers/storage.conf": debianStorageConf}, debianEdited,
			"edited in place, every line but the changed keys kept byte for byte"},
		{"etc without runroot", false, "", map[string]string{"etc/containers/storage.conf": "# mine\n[storage]\ndriver = \"vfs\"\n"}, "# mine\n[storage]\n" + rr + gr + "driver = \"overlay\"\n",
			"edited in place, every line but the changed keys kept byte for byte; it sets no runroot, without which Podman stops at every command (\"runroot must be set\"): runroot = /run/containers/storage (containers/storage's built-in default) is added"},
		{"etc with an empty runroot", false, "", map[string]string{"etc/containers/storage.conf": "[storage]\ndriver = \"overlay\"\nrunroot = \"\"\n" + gr}, "[storage]\ndriver = \"overlay\"\n" + rr + gr,
			"it sets no runroot"},
		{"usr-share copy", false, "", map[string]string{"usr/share/containers/storage.conf": debianStorageConf}, storageConfCopyHeader + debianEdited,
			"absent, so it is written as a copy of /usr/share/containers/storage.conf (Debian's containers-storage package), edited; containers/storage then no longer reads that one"},
		{"none", false, "", nil, storageConfNewHeader + "\n[storage]\ndriver = \"overlay\"\n" + rr + gr,
			"absent, and there is no /usr/share/containers/storage.conf to copy (Debian's containers-storage package, which podman only suggests, is not installed), so it is written whole with what containers/storage needs of a file it reads alone: driver \"overlay\", runroot /run/containers/storage, graphroot /var/lib/containers/storage (its built-in rootful paths)"},
		{"none, fuse-overlayfs", true, "version: 1\ntasks:\n  container-storage: {enabled: true, overlay: fuse-overlayfs}\n", nil,
			storageConfNewHeader + "\n[storage]\ndriver = \"overlay\"\n" + rr + gr + "\n[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n",
			"driver \"overlay\", runroot /run/containers/storage, graphroot /var/lib/containers/storage, mount_program /usr/bin/fuse-overlayfs (its built-in rootful paths)"},
		{"empty store dirs", false, "", map[string]string{"etc/containers/storage.conf": debianStorageConf, "var/lib/containers/storage/overlay-images/images.json": "[]", "var/lib/containers/storage/overlay-containers/containers.json": ""}, debianEdited,
			"edited in place"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			root := podmanRoot(t, c.fuse, c.files)
			orig := fixture.Snapshot(t, root)
			if p := cli("plan", "--root", root).must(t, 0); !strings.Contains(p.stdout, "container-storage") || !strings.Contains(p.stdout, "opt-in") {
				t.Errorf("default plan does not skip it as opt-in:\n%s", p.stdout)
			}
			body := storageProfile
			if c.profile != "" {
				body = c.profile
			}
			prof := writeProfile(t, body)
			p := cli("plan", "--root", root, "--profile", prof).must(t, 0)
			for _, w := range []string{"0 images, 0 containers", "next command", c.note} {
				if !strings.Contains(p.stdout, w) {
					t.Errorf("plan lacks %q:\n%s", w, p.stdout)
				}
			}
			if !c.fuse && !strings.Contains(p.stdout, "native overlay: kernel 6.1.0-rpi7-rpi-2712 ≥ 5.13 and overlay in /proc/filesystems") {
				t.Errorf("plan does not say why native overlay:\n%s", p.stdout)
			}
			if strings.Contains(c.note, "runroot") != strings.Contains(p.stdout, "runroot") {
				t.Errorf("plan speaks of runroot where it should not, or not where it should:\n%s", p.stdout)
			}
			applyYes(t, root, "--profile", prof)
			if got := readFile(t, filepath.Join(root, "etc/containers/storage.conf")); got != c.want {
				t.Errorf("storage.conf:\n%s\nwant:\n%s", got, c.want)
			}
			cli("plan", "--root", root, "--profile", prof, "--detailed-exitcode").must(t, 0)
			cli("rollback", "--root", root, "--yes").must(t, 0)
			identical(t, orig, root)
		})
	}
}

// TestContainerStorageFuse: a kernel without overlay gets mount_program,
// and the plan says why; without fuse-overlayfs the task is skipped.
func TestContainerStorageFuse(t *testing.T) {
	t.Parallel()
	root := podmanRoot(t, true, map[string]string{"etc/containers/storage.conf": debianStorageConf, "proc/filesystems": "nodev\tsysfs\n"})
	os.MkdirAll(filepath.Join(root, "lib/modules/6.1.0-rpi7-rpi-2712"), 0o755)
	os.WriteFile(filepath.Join(root, "lib/modules/6.1.0-rpi7-rpi-2712/modules.dep"), []byte("kernel/fs/ext4/ext4.ko:\n"), 0o644)
	prof := writeProfile(t, storageProfile)
	p := cli("plan", "--root", root, "--profile", prof).must(t, 0)
	if !strings.Contains(p.stdout, "fuse-overlayfs as mount_program: native overlay is unavailable (no overlay module for kernel 6.1.0-rpi7-rpi-2712)") {
		t.Errorf("plan:\n%s", p.stdout)
	}
	orig := fixture.Snapshot(t, root)
	applyYes(t, root, "--profile", prof)
	want := strings.Replace(strings.Replace(debianStorageConf, `driver = ""`, `driver = "overlay"`, 1), "[storage.options.overlay]\n", "[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n", 1)
	if got := readFile(t, filepath.Join(root, "etc/containers/storage.conf")); got != want {
		t.Errorf("got:\n%s", got)
	}
	cli("plan", "--root", root, "--profile", prof, "--detailed-exitcode").must(t, 0)
	cli("rollback", "--root", root, "--yes").must(t, 0)
	identical(t, orig, root)

	os.Remove(filepath.Join(root, "usr/bin/fuse-overlayfs"))
	if p := cli("plan", "--root", root, "--profile", prof).must(t, 0); !strings.Contains(p.stdout, "fuse-overlayfs is not installed") {
		t.Errorf("plan:\n%s", p.stdout)
	}
}

// TestContainerStorageRefuses: a populated store, unreadable indexes and
// configuration ezedge-host cannot edit safely are refused with one line
// naming the file, and nothing is written.
func TestContainerStorageRefuses(t *testing.T) {
	t.Parallel()
	const images = "var/lib/containers/storage/overlay-images/images.json"
	const ctrs = "var/lib/containers/storage/overlay-containers/containers.json"
	const conf = "etc/containers/storage.conf"
	native := "[storage]\ndriver = \"overlay\"\ngraphroot = \"/var/lib/containers/storage\"\n"
	for _, c := range []struct {
		name  string
		files map[string]string
		setup func(root string)
		want  string
	}{
		{"populated", map[string]string{conf: debianStorageConf, images: `[{"id":"a"},{"id":"b"}]`, ctrs: `[{"id":"c"}]`}, nil, "/var/lib/containers/storage: refused: the store holds 2 images, 1 containers and 0 volumes"},
		{"mount_program only", map[string]string{conf: native + "[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n", images: `[{"id":"a"}]`}, nil, "the store holds 1 images, 0 containers and 0 volumes; changing driver \"overlay\", graphroot /var/lib/containers/storage, mount_program \"/usr/bin/fuse-overlayfs\""},
		// Volumes alone: a reset deletes them too.
		{"volumes only", map[string]string{conf: "[storage]\ndriver = \"vfs\"\n", "var/lib/containers/storage/volumes/models/_data/m.gguf": "weights"}, nil, "the store holds 0 images, 0 containers and 1 volumes"},
		// An empty store whose Podman database records another driver:
		// Podman would refuse to run after the change.
		{"database with another driver", map[string]string{conf: "[storage]\ndriver = \"vfs\"\n", "var/lib/containers/storage/libpod/bolt_state.db": "bolt"}, nil, "/var/lib/containers/storage/libpod/bolt_state.db: refused: Podman's database records driver \"vfs\""},
		{"images.json not JSON", map[string]string{conf: debianStorageConf, images: "{"}, nil, "images.json: not a JSON array"},
		{"images.json huge", map[string]string{conf: debianStorageConf}, func(root string) {
			f, _ := os.Create(filepath.Join(root, images))
			f.Truncate(65<<20 + 1)
			f.Close()
		}, "images.json"},
		{"images.json link out", map[string]string{conf: debianStorageConf}, func(root string) {
			os.Remove(filepath.Join(root, images))
			os.Symlink("/etc/passwd", filepath.Join(root, images))
		}, "/var/lib/containers/storage: refused: cannot tell whether the store holds images or containers: /var/lib/containers/storage/overlay-images/images.json is a symbolic link"},
		{"duplicate key", map[string]string{conf: "[storage]\ndriver = \"vfs\"\ndriver = \"overlay\"\n"}, nil, "/etc/containers/storage.conf: refused: line 3: not TOML"},
		{"inline table", map[string]string{conf: "[storage.options]\noverlay = { mountopt = \"nodev\" }\n"}, nil, "/etc/containers/storage.conf: refused: line 2: storage.options.overlay is written as an inline value"},
		{"conf is a directory", nil, func(root string) { os.MkdirAll(filepath.Join(root, conf), 0o755) }, "/etc/containers/storage.conf: refused:"},
		{"conf is a FIFO", nil, func(root string) {
			os.MkdirAll(filepath.Join(root, "etc/containers"), 0o755)
			syscall.Mkfifo(filepath.Join(root, conf), 0o644)
		}, "/etc/containers/storage.conf: refused:"},
		{"conf huge", nil, func(root string) {
			os.MkdirAll(filepath.Join(root, "etc/containers"), 0o755)
			os.WriteFile(filepath.Join(root, conf), []byte("# "+strings.Repeat("x", 1<<20)+"\n"), 0o644)
		}, "/etc/containers/storage.conf: refused:"},
		{"conf link out of /etc/containers", map[string]string{"etc/other.conf": native}, func(root string) {
			os.MkdirAll(filepath.Join(root, "etc/containers"), 0o755)
			os.Symlink("../other.conf", filepath.Join(root, conf))
		}, "/etc/containers/storage.conf"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			files := map[string]string{}
			for k, v := range c.files {
				files[k] = v
			}
			if _, ok := files[images]; !ok && c.setup != nil && strings.HasPrefix(c.name, "images") {
				files[images] = "[]"
			}
			root := podmanRoot(t, true, files)
			if c.setup != nil {
				c.setup(root)
			}
			// A FIFO cannot be read to compare; what is around it can.
			skip := []string{fixture.StoreDir}
			if strings.Contains(c.name, "FIFO") {
				skip = append(skip, conf)
			}
			orig := fixture.Snapshot(t, root, skip...)
			prof := writeProfile(t, storageProfile)
			r := cli("apply", "--root", root, "--yes", "--profile", prof)
			if r.code == 0 || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Fatalf("exit %d, want a one-line error with %q\nstdout:\n%s\nstderr:\n%s", r.code, c.want, r.stdout, r.stderr)
			}
			if d := orig.Diff(fixture.Snapshot(t, root, skip...)); len(d) > 0 {
				t.Fatalf("root changed:\n%s", strings.Join(d, "\n"))
			}
		})
	}
}
