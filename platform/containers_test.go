package platform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// TestContainersImageRoot: an image root's kernels come from /lib/modules,
// each checked for the overlay module; the store is counted from its
// index files.
func TestContainersImageRoot(t *testing.T) {
	root := t.TempDir()
	put := func(p, body string) {
		os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte(body), 0o644)
	}
	put("usr/bin/podman", "")
	put("lib/modules/6.6.31+rpt-rpi-v8/modules.dep", "kernel/fs/overlayfs/overlay.ko.xz:\n")
	put("lib/modules/6.6.31+rpt-rpi-2712/modules.builtin", "kernel/fs/overlayfs/overlay.ko\n")
	put("usr/share/containers/storage.conf", "[storage]\ndriver = \"overlay\"\ngraphroot = \"/srv/store\"\n")
	put("srv/store/overlay-images/images.json", `[{"id":"a"}]`)
	put("srv/store/vfs-containers/containers.json", `[{"id":"b"},{"id":"c"}]`)
	h, err := hostroot.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	f := &Facts{}
	f.detectContainers(h)
	c := f.Containers
	if !c.Overlay || !c.OverlayKnown || strings.Join(c.Kernels, " ") != "6.6.31+rpt-rpi-2712 6.6.31+rpt-rpi-v8" || !AtLeast(c.Kernels, 5, 13) {
		t.Errorf("overlay: %+v", c)
	}
	if c.ConfFile != StorageConfDefault || c.Effective.Graphroot != "/srv/store" || c.Images != 1 || c.Containers != 2 || c.StoreErr != "" {
		t.Errorf("store: %+v", c)
	}
	put("lib/modules/5.10.0/modules.dep", "kernel/fs/ext4/ext4.ko:\n")
	f = &Facts{}
	f.detectContainers(h)
	if f.Containers.Overlay || f.Containers.OverlayWhy != "no overlay module for kernel 5.10.0" || AtLeast(f.Containers.Kernels, 5, 13) {
		t.Errorf("old kernel: %+v", f.Containers)
	}
	for rel, want := range map[string]bool{"5.13.0": true, "5.12.19-v8+": false, "6.1": true, "4.19.0": false, "x": false, "10.0.0": true} {
		if AtLeast([]string{rel}, 5, 13) != want {
			t.Errorf("AtLeast(%s) != %v", rel, want)
		}
	}
}
