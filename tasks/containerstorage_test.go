package tasks

import (
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/storageconf"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// TestContainerStorageChoice: native overlay only where every kernel has
// it and is 5.13 or later; fuse-overlayfs elsewhere when installed; a
// populated store refuses any change, mount_program alone included.
func TestContainerStorageChoice(t *testing.T) {
	base := platform.Containers{Podman: true, FuseOverlayfs: true, Overlay: true, OverlayKnown: true, OverlayWhy: "overlay in /proc/filesystems",
		Kernels: []string{"6.1.0-rpi7-rpi-2712"}, Effective: platformValues("overlay", "")}
	for _, c := range []struct {
		name   string
		edit   func(*platform.Containers)
		mode   string
		want   string // a note, the skip or the refusal
		refuse bool
	}{
		{"native", nil, "auto", "native overlay: kernel 6.1.0-rpi7-rpi-2712 ≥ 5.13", false},
		{"old kernel", func(c *platform.Containers) { c.Kernels = []string{"5.10.103-v8+"} }, "auto", "fuse-overlayfs as mount_program: native overlay is unavailable (kernel 5.10.103-v8+ is not known to be 5.13 or later", false},
		{"one old kernel of two", func(c *platform.Containers) { c.Kernels = []string{"5.10.0", "6.1.0"} }, "auto", "fuse-overlayfs as mount_program", false},
		{"unknown", func(c *platform.Containers) {
			c.Kernels, c.OverlayKnown, c.OverlayWhy = nil, false, "no running kernel and no /lib/modules to tell"
		}, "auto", "the overlay file system's presence is unknown", false},
		{"no overlay, no fuse", func(c *platform.Containers) {
			c.Overlay, c.OverlayWhy, c.FuseOverlayfs = false, "no overlay module for kernel 6.1.0", false
		}, "auto", "native overlay is unavailable (no overlay module for kernel 6.1.0) and fuse-overlayfs is not installed", false},
		{"forced native", func(c *platform.Containers) { c.Kernels = []string{"5.10.0"} }, "native", "native overlay, as the profile asks", false},
		{"forced fuse", nil, "fuse-overlayfs", "fuse-overlayfs, as the profile asks", false},
		{"not installed", func(c *platform.Containers) { c.Podman = false }, "auto", "Podman is not installed", false},
		{"populated, in place", func(c *platform.Containers) { c.Images = 3 }, "auto", "", false},
		{"populated, mount_program", func(c *platform.Containers) { c.Images, c.Containers = 3, 1 }, "fuse-overlayfs", "the store holds 3 images, 1 containers and 0 volumes", true},
		{"volumes only", func(c *platform.Containers) { c.Volumes = 2 }, "fuse-overlayfs", "the store holds 0 images, 0 containers and 2 volumes", true},
		// Podman's database pins driver and graphroot, not the driver's
		// options: a new mount_program on an empty store is fine.
		{"database, mount_program", func(c *platform.Containers) { c.Database = "/var/lib/containers/storage/libpod/db.sql" }, "fuse-overlayfs", "fuse-overlayfs, as the profile asks", false},
		{"database, driver", func(c *platform.Containers) {
			c.Database, c.Effective = "/var/lib/containers/storage/libpod/db.sql", platformValues("vfs", "")
		}, "auto", `Podman's database records driver "vfs"`, true},
		{"database, no driver named", func(c *platform.Containers) {
			c.Database, c.Effective = "/var/lib/containers/storage/libpod/bolt_state.db", platformValues("", "")
		}, "auto", "Podman's database records the driver Podman picked itself (storage.conf names none) and graphroot /var/lib/containers/storage", true},
		{"store unknown", func(c *platform.Containers) { c.StoreErr = "x: not a JSON array" }, "fuse-overlayfs", "cannot tell whether the store holds images or containers: x: not a JSON array", true},
		{"conf error", func(c *platform.Containers) { c.ConfFile, c.ConfErr = platform.StorageConf, "line 2: not TOML" }, "auto", "line 2: not TOML", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cs := base
			if c.edit != nil {
				c.edit(&cs)
			}
			in := plan(t, "container-storage", &Facts{Containers: cs}, &ContainerStorageOptions{Overlay: c.mode})
			if c.refuse {
				if !strings.Contains(in.Refuse, c.want) {
					t.Fatalf("refuse %q, want %q", in.Refuse, c.want)
				}
				return
			}
			if in.Refuse != "" {
				t.Fatalf("refused: %s", in.Refuse)
			}
			got := in.Skip + strings.Join(in.Notes, "\n")
			if !strings.Contains(got, c.want) {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func platformValues(driver, mp string) storageconf.Values {
	return storageconf.Values{Driver: driver, Graphroot: platform.DefaultGraphroot, MountProgram: mp}
}

// TestContainerStorageCases: the three ways the file comes to be, from
// facts alone: edited in place (runroot added only where the file sets
// none), copied from /usr/share and edited, written whole when neither
// exists; each says so in the plan, and every file the edit makes holds
// what containers/storage needs of a file it reads alone.
func TestContainerStorageCases(t *testing.T) {
	const (
		rr     = "runroot = \"/run/containers/storage\"\n"
		gr     = "graphroot = \"/var/lib/containers/storage\"\n"
		debian = "[storage]\ndriver = \"\"\nrunroot = \"/run/containers/storage\"\ngraphroot = \"/var/lib/containers/storage\"\n"
	)
	base := platform.Containers{Podman: true, Overlay: true, OverlayKnown: true, OverlayWhy: "overlay in /proc/filesystems",
		Kernels: []string{"6.12.0"}, Effective: platformValues("", "")}
	for _, c := range []struct {
		name     string
		edit     func(*platform.Containers)
		cur      resource.State // the file as the plan's Edit reads it
		want     string         // what Edit makes of it ("" : left as it is)
		note     string
		noteLack bool // the note says runroot is added
	}{
		{"in place", func(c *platform.Containers) { c.ConfFile, c.Conf = platform.StorageConf, []byte(debian) }, resource.Content([]byte(debian)),
			strings.Replace(debian, `driver = ""`, `driver = "overlay"`, 1), "edited in place, every line but the changed keys kept byte for byte", false},
		{"in place, no runroot", func(c *platform.Containers) { c.ConfFile, c.Conf = platform.StorageConf, []byte("[storage]\n") }, resource.Content([]byte("[storage]\n")),
			"[storage]\ndriver = \"overlay\"\n" + rr + gr, "edited in place", true},
		{"copied", func(c *platform.Containers) { c.ConfFile, c.Default = platform.StorageConfDefault, []byte(debian) }, resource.State{},
			storageConfCopied + strings.Replace(debian, `driver = ""`, `driver = "overlay"`, 1), "written as a copy of /usr/share/containers/storage.conf", false},
		{"copied, no runroot", func(c *platform.Containers) {
			c.ConfFile, c.Default = platform.StorageConfDefault, []byte("[storage]\ndriver = \"vfs\"\n")
		}, resource.State{},
			storageConfCopied + "[storage]\n" + rr + gr + "driver = \"overlay\"\n", "written as a copy", true},
		{"copied, nothing to change", func(c *platform.Containers) {
			c.ConfFile, c.Default, c.Effective = platform.StorageConfDefault, []byte("[storage]\ndriver = \"overlay\"\n"+rr+gr), platformValues("overlay", "")
		}, resource.State{}, "", "holds the values already: nothing is written", false},
		{"whole", nil, resource.State{}, storageConfNew + "\n[storage]\ndriver = \"overlay\"\n" + rr + gr,
			"written whole with what containers/storage needs of a file it reads alone: driver \"overlay\", runroot /run/containers/storage, graphroot /var/lib/containers/storage", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cs := base
			if c.edit != nil {
				c.edit(&cs)
			}
			in := plan(t, "container-storage", &Facts{Containers: cs}, &ContainerStorageOptions{Overlay: "auto"})
			if in.Refuse != "" || in.Skip != "" || len(in.Wants) != 1 {
				t.Fatalf("refuse %q skip %q wants %d", in.Refuse, in.Skip, len(in.Wants))
			}
			notes := strings.Join(in.Notes, "\n")
			if !strings.Contains(notes, c.note) || strings.Contains(notes, "runroot = /run/containers/storage (containers/storage's built-in default) is added") != c.noteLack {
				t.Fatalf("notes:\n%s\nwant %q (runroot added: %v)", notes, c.note, c.noteLack)
			}
			got := in.Wants[0].Edit(c.cur)
			if c.want == "" {
				if got.Exists != c.cur.Exists || string(got.Data) != string(c.cur.Data) {
					t.Fatalf("Edit wrote %q", got.Data)
				}
				return
			}
			if !got.Exists || string(got.Data) != c.want {
				t.Fatalf("Edit made\n%q\nwant\n%q", got.Data, c.want)
			}
			if l, err := storageconf.Lacks(got.Data); err != nil || len(l) > 0 {
				t.Fatalf("the file lacks %v (%v)", l, err)
			}
		})
	}
}

// TestContainerStorageSpellings: a storage.conf whose graphroot or
// mount_program is written another way than ours, but names what
// containers/storage would use anyway, is no change: not edited, and a
// populated store is not refused for it.
func TestContainerStorageSpellings(t *testing.T) {
	for _, conf := range []string{
		"[storage]\nrunroot = \"/run/containers/storage\"\ndriver = \"overlay\"\ngraphroot = \"/var/lib/containers//storage/\"\n",
		"[storage]\nrunroot = \"/run/containers/storage\"\ndriver = \"overlay\"\ngraphroot = \"/var/lib/containers/./storage\"\n[storage.options.overlay]\nmount_program = \"\"\n",
	} {
		v, err := storageconf.Parse([]byte(conf))
		if err != nil {
			t.Fatal(err)
		}
		c := platform.Containers{Podman: true, Overlay: true, OverlayKnown: true, Kernels: []string{"6.1.0"}, Images: 3,
			ConfFile: platform.StorageConf, Conf: []byte(conf), Effective: platform.StorageAsRead(v)}
		in := plan(t, "container-storage", &Facts{Containers: c}, &ContainerStorageOptions{Overlay: "native"})
		if in.Refuse != "" || in.Skip != "" || len(in.Wants) != 1 {
			t.Fatalf("%q: %+v", conf, in)
		}
		cur := resource.Content([]byte(conf))
		if got := in.Wants[0].Edit(cur); string(got.Data) != conf {
			t.Errorf("%q edited to %q", conf, got.Data)
		}
		// Without runroot, Podman stops at every command: it is added,
		// the other spellings kept (an empty mount_program is the same
		// commented out).
		lacking := strings.Replace(conf, "runroot = \"/run/containers/storage\"\n", "", 1)
		want := strings.Replace(conf, "mount_program = \"\"", "#mount_program = \"\"", 1)
		if got := in.Wants[0].Edit(resource.Content([]byte(lacking))); string(got.Data) != want {
			t.Errorf("%q lacking runroot edited to %q", lacking, got.Data)
		}
	}
}
