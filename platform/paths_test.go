package platform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

func openRoot(t *testing.T, dir string) *hostroot.Root {
	t.Helper()
	h, err := hostroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// TestStorageSpellings: graphroot and mount_program written another way
// are the values containers/storage uses: the default store, counted
// where it is; a relative graphroot is refused, naming it.
func TestStorageSpellings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ graphroot, mp, wantRoot, wantMP, storeErr string }{
		{"/var/lib/containers//storage/", "/usr//bin/./fuse-overlayfs", DefaultGraphroot, FuseOverlayfs, ""},
		{"/var/lib/containers/./storage", "", DefaultGraphroot, "", ""},
		{"/var/lib/other/../containers/storage", "", DefaultGraphroot, "", ""},
		{"var/lib/containers/storage", "", "var/lib/containers/storage", "", "not absolute"},
		{"/srv/store/", "/usr/bin/fuse-overlayfs/", "/srv/store", "/usr/bin/fuse-overlayfs/", ""},
	} {
		root := t.TempDir()
		conf := "[storage]\ndriver = \"overlay\"\ngraphroot = \"" + c.graphroot + "\"\n"
		if c.mp != "" {
			conf += "[storage.options.overlay]\nmount_program = \"" + c.mp + "\"\n"
		}
		fixture.PutAll(t, root, map[string]fixture.Entry{
			"usr/bin/podman":              fixture.File(""),
			"etc/containers/storage.conf": fixture.File(conf),
			"var/lib/containers/storage/overlay-images/images.json": fixture.File(`[{"id":"a"}]`),
			"srv/store/overlay-images/images.json":                  fixture.File(`[{"id":"a"},{"id":"b"}]`),
		})
		f := &Facts{}
		f.detectContainers(openRoot(t, root))
		e := f.Containers.Effective
		if e.Graphroot != c.wantRoot || e.MountProgram != c.wantMP || !strings.Contains(f.Containers.StoreErr, c.storeErr) || c.storeErr == "" && f.Containers.StoreErr != "" {
			t.Errorf("%q %q: %+v, store error %q", c.graphroot, c.mp, e, f.Containers.StoreErr)
		}
		if want := map[string]int{DefaultGraphroot: 1, "/srv/store": 2}[c.wantRoot]; c.storeErr == "" && f.Containers.Images != want {
			t.Errorf("%q: %d images counted, want %d", c.graphroot, f.Containers.Images, want)
		}
	}
}

// TestProcMounts: /proc/mounts and /proc/swaps paths decoded as the
// kernel escapes them.
func TestProcMounts(t *testing.T) {
	t.Parallel()
	ms := ProcMounts([]byte("/dev/root / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n/dev/sdb1 /mnt/my\\040disk\\134x ext4 rw 0 0\nshort line\n"))
	if len(ms) != 3 || ms[2].Dir != `/mnt/my disk\x` || ms[1].Dir != "/tmp" || ms[1].Type != "tmpfs" || ms[0].Options != "rw" {
		t.Errorf("%+v", ms)
	}
	sw := ProcSwaps([]byte("Filename\tType\tSize\tUsed\tPriority\n/swap\\040file file 1024 0 -2\n/dev/zram0 partition 10 1 100\n"))
	if len(sw) != 2 || sw[0].Name != "/swap file" || sw[1].Name != "/dev/zram0" || sw[1].Used != "1" {
		t.Errorf("%+v", sw)
	}
}

// TestZramMasks: zram-generator's configuration as it reads it: /run
// before /etc, a dangling link is no file, /dev/null however the link
// spells it masks, hidden drop-ins are left out.
func TestZramMasks(t *testing.T) {
	t.Parallel()
	gen := "usr/lib/systemd/system-generators/zram-generator"
	for _, c := range []struct {
		name  string
		files map[string]fixture.Entry
		want  string
	}{
		{"/run first", map[string]fixture.Entry{"run/systemd/zram-generator.conf": fixture.File("# none\n"), "etc/systemd/zram-generator.conf": fixture.File("[zram0]\n")}, ""},
		{"dangling main", map[string]fixture.Entry{"etc/systemd/zram-generator.conf": fixture.Link("/srv/none"), "usr/lib/systemd/zram-generator.conf": fixture.File("[zram0]\n")}, "/usr/lib/systemd/zram-generator.conf"},
		{"masked, spelled", map[string]fixture.Entry{"etc/systemd/zram-generator.conf": fixture.Link("../../dev//./null"), "usr/lib/systemd/zram-generator.conf": fixture.File("[zram0]\n")}, ""},
		{"drop-in masked, spelled", map[string]fixture.Entry{"usr/lib/systemd/zram-generator.conf.d/a.conf": fixture.File("[zram1]\n"), "etc/systemd/zram-generator.conf.d/a.conf": fixture.Link("//dev/null")}, ""},
		{"hidden drop-in", map[string]fixture.Entry{"etc/systemd/zram-generator.conf.d/.a.conf": fixture.File("[zram1]\n")}, ""},
	} {
		root := t.TempDir()
		fixture.File("").Put(t, root, gen)
		fixture.PutAll(t, root, c.files)
		f := &Facts{}
		f.detectSwap(openRoot(t, root))
		if (c.want == "") != (f.Swap.Zram == "") || !strings.Contains(f.Swap.Zram, c.want) {
			t.Errorf("%s: %q, want %q", c.name, f.Swap.Zram, c.want)
		}
	}
}

// TestSSHSocketPorts: ssh.socket's ports as the running systemd has them:
// its fragment, a reset in a drop-in, /usr/lib's and /run's drop-ins.
func TestSSHSocketPorts(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		files map[string]fixture.Entry
		want  []uint64
		not   []uint64
	}{
		{"fragment", map[string]fixture.Entry{"lib/systemd/system/ssh.socket": fixture.File("[Socket]\nListenStream=0.0.0.0:2200\n")}, []uint64{2200}, nil},
		{"reset", map[string]fixture.Entry{"lib/systemd/system/ssh.socket": fixture.File("[Socket]\nListenStream=2200\n"),
			"usr/lib/systemd/system/ssh.socket.d/a.conf": fixture.File("[Socket]\nListenStream=\nListenStream=[::]:2201\n")}, []uint64{2201}, []uint64{2200}},
		{"/run drop-in", map[string]fixture.Entry{"lib/systemd/system/ssh.socket": fixture.File("[Socket]\nListenStream=2200\n"),
			"run/systemd/system/ssh.socket.d/b.conf": fixture.File("[Socket]\nListenStream=2202\n")}, []uint64{2200, 2202}, nil},
		{"masked", map[string]fixture.Entry{"lib/systemd/system/ssh.socket": fixture.File("[Socket]\nListenStream=2200\n"),
			"etc/systemd/system/ssh.socket": fixture.Link("/dev/null")}, nil, []uint64{2200}},
	} {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "etc"), 0o755)
		fixture.PutAll(t, root, c.files)
		ports := sshPorts(openRoot(t, root))
		for _, p := range c.want {
			if !ports[p] {
				t.Errorf("%s: port %d not read: %v", c.name, p, ports)
			}
		}
		for _, p := range c.not {
			if ports[p] {
				t.Errorf("%s: port %d read: %v", c.name, p, ports)
			}
		}
	}
}

// TestSSHDInclude: sshd_config's Include as sshd globs it: a wildcard in
// a directory component, relative to /etc/ssh, dot files left out, links
// and ".." resolved inside the root, each file read once.
func TestSSHDInclude(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	fixture.PutAll(t, root, map[string]fixture.Entry{
		"etc/ssh/sshd_config":         fixture.File("Include conf.*/*.conf\nInclude /etc/ssh/../ssh/other/./x.conf\nInclude /srv/link/y.conf\n"),
		"etc/ssh/conf.a/1.conf":       fixture.File("Port 2201\n"),
		"etc/ssh/conf.b/2.conf":       fixture.File("Port 2202\n"),
		"etc/ssh/conf.b/.hidden.conf": fixture.File("Port 2299\n"),
		"etc/ssh/other/x.conf":        fixture.File("Port 2203\nInclude /etc/ssh/sshd_config\n"),
		"srv/link":                    fixture.Link("../etc/ssh/other"),
		"etc/ssh/other/y.conf":        fixture.File("Port 2204\n"),
	})
	ports := sshPorts(openRoot(t, root))
	for _, p := range []uint64{22, 2201, 2202, 2203, 2204} {
		if !ports[p] {
			t.Errorf("port %d not read: %v", p, ports)
		}
	}
	if ports[2299] {
		t.Errorf("a dot file matched a wildcard: %v", ports)
	}
}
