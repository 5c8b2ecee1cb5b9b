package platform

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/hostpath"
	"github.com/ezansiedgeai/ezedge-host/internal/formats/storageconf"
	"github.com/ezansiedgeai/ezedge-host/internal/formats/unitfile"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// Podman's storage configuration. containers/storage reads the first of
// these that exists and nothing else (no merging; storage.conf.d drop-ins
// only from Podman 6).
const (
	StorageConf        = "/etc/containers/storage.conf"
	StorageConfDefault = "/usr/share/containers/storage.conf"
	// DefaultGraphroot is containers/storage's built-in rootful store.
	DefaultGraphroot = "/var/lib/containers/storage"
	FuseOverlayfs    = "/usr/bin/fuse-overlayfs"
	podmanBinary     = "/usr/bin/podman"
	// storeIndexLimit bounds images.json and containers.json: an entry is
	// about 1 KiB, so this is tens of thousands of images.
	storeIndexLimit = 64 << 20
)

// Containers is what the root holds of Podman's rootful storage: its
// configuration, the store it points at, and what the kernel offers the
// overlay driver. Rootless stores (under each user's home) are not read.
type Containers struct {
	Podman        bool `json:"podman"`
	FuseOverlayfs bool `json:"fuse_overlayfs"`
	// Kernels are the kernel releases the root runs or boots (the
	// running one on a live root; /lib/modules on an image).
	Kernels []string `json:"kernels,omitempty"`
	// Overlay: the overlay file system is available to every kernel in
	// Kernels; OverlayKnown false when that cannot be told.
	Overlay      bool   `json:"overlay"`
	OverlayKnown bool   `json:"overlay_known"`
	OverlayWhy   string `json:"overlay_evidence,omitempty"`
	// ConfFile is the file containers/storage reads ("" for its built-in
	// defaults); Effective what it sets (with the built-in graphroot when
	// it sets none); ConfErr why it cannot be read or parsed.
	ConfFile  string             `json:"conf_file,omitempty"`
	Effective storageconf.Values `json:"effective"`
	ConfErr   string             `json:"conf_error,omitempty"`
	// Conf is /etc/containers/storage.conf's bytes as read.
	Conf []byte `json:"-"`
	// Default is /usr/share/containers/storage.conf's bytes when
	// /etc/containers/storage.conf is absent (the base of a new one).
	Default []byte `json:"-"`
	// Images and Containers are counted from the store's index files;
	// StoreErr says why they cannot be.
	Images     int `json:"images"`
	Containers int `json:"containers"`
	// Volumes counts the named volumes under <graphroot>/volumes: a reset
	// deletes them too.
	Volumes  int    `json:"volumes"`
	StoreErr string `json:"store_error,omitempty"`
	// Database is Podman's own database in the store, when there is one:
	// it records the driver and graphroot it was made with, and Podman
	// goes on using those, whatever storage.conf says, store empty or not.
	Database string `json:"database,omitempty"`
	// Quadlets are the rootful Quadlet containers, by file name
	// (NAME.container), as Podman's generator finds them.
	Quadlets map[string]unitfile.Unit `json:"-"`
}

// Populated says whether the store holds anything a reset would delete.
func (c Containers) Populated() bool { return c.Images > 0 || c.Containers > 0 || c.Volumes > 0 }

// podmanDatabases are libpod's state databases (BoltDB up to Podman 5,
// SQLite from 4.8 on), under <graphroot>/libpod.
var podmanDatabases = []string{"bolt_state.db", "db.sql"}

func (f *Facts) detectContainers(h *hostroot.Root) {
	c := &f.Containers
	c.Quadlets = unitfile.QuadletUnits(h, ".container")
	c.Podman = h.Exists(podmanBinary)
	if !c.Podman {
		return
	}
	c.FuseOverlayfs = h.Exists(FuseOverlayfs)
	f.Evidence = append(f.Evidence, fmt.Sprintf("podman: %s present; fuse-overlayfs %s", podmanBinary, presence(c.FuseOverlayfs, FuseOverlayfs)))
	f.detectOverlay(h)

	c.Effective.Graphroot = DefaultGraphroot
	for _, name := range []string{StorageConf, StorageConfDefault} {
		b, err := h.ReadFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		c.ConfFile = name
		if err != nil {
			c.ConfErr = err.Error()
			break
		}
		if name == StorageConfDefault {
			c.Default = b
		} else {
			c.Conf = b
		}
		v, err := storageconf.Parse(b)
		if err != nil {
			c.ConfErr = err.Error()
			break
		}
		v = StorageAsRead(v)
		if v.Graphroot == "" {
			v.Graphroot = DefaultGraphroot
		}
		c.Effective = v
		break
	}
	switch {
	case c.ConfErr != "":
		f.Evidence = append(f.Evidence, "container storage: "+c.ConfFile+": "+c.ConfErr)
		return
	case c.ConfFile == "":
		f.Evidence = append(f.Evidence, "container storage: no "+StorageConf+" or "+StorageConfDefault+", built-in defaults")
	default:
		f.Evidence = append(f.Evidence, fmt.Sprintf("container storage: driver %q, graphroot %s, mount_program %q (%s)", c.Effective.Driver, c.Effective.Graphroot, c.Effective.MountProgram, c.ConfFile))
	}
	f.countStore(h)
}

// StorageAsRead is v as containers/storage uses it: graphroot cleaned as
// filepath.Abs cleans it ("/var/lib/containers//storage/" is the default
// store), mount_program as the kernel resolves the program's path ("//"
// and "." components are nothing). A value it would not use as written
// (a relative path) is kept as written, for the refusal to name.
func StorageAsRead(v storageconf.Values) storageconf.Values {
	if g := hostpath.Read(hostpath.ContainersStorage, v.Graphroot); v.Graphroot != "" && g.OK() {
		v.Graphroot = g.Path
	}
	if m := hostpath.Read(hostpath.Exec, v.MountProgram); v.MountProgram != "" && m.OK() {
		v.MountProgram = m.Path
	}
	return v
}

func presence(ok bool, name string) string {
	if ok {
		return "installed (" + name + ")"
	}
	return "not installed (no " + name + ")"
}

// detectOverlay decides whether the kernels have the overlay file system:
// /proc/filesystems on a live root (it is there or loadable); else each
// installed kernel's modules.builtin and modules.dep.
func (f *Facts) detectOverlay(h *hostroot.Root) {
	c := &f.Containers
	if f.Runtime {
		if f.Kernel.Release != "" {
			c.Kernels = []string{f.Kernel.Release}
		}
		if b, err := h.ReadFile("/proc/filesystems"); err == nil && hasFilesystem(b, "overlay") {
			c.Overlay, c.OverlayKnown, c.OverlayWhy = true, true, "overlay in /proc/filesystems"
			f.Evidence = append(f.Evidence, "overlay: "+c.OverlayWhy)
			return
		}
	} else {
		ents, _ := h.ReadDir("/lib/modules")
		for _, e := range ents {
			if e.IsDir() {
				c.Kernels = append(c.Kernels, e.Name())
			}
		}
		sort.Strings(c.Kernels)
	}
	if len(c.Kernels) == 0 {
		c.OverlayWhy = "no running kernel and no /lib/modules to tell"
		f.Evidence = append(f.Evidence, "overlay: unknown ("+c.OverlayWhy+")")
		return
	}
	var have, lack []string
	for _, k := range c.Kernels {
		found := false
		for _, file := range []string{"modules.builtin", "modules.dep"} {
			b, err := h.ReadFileLimit("/lib/modules/"+k+"/"+file, 32<<20)
			if err == nil && hasOverlayModule(b) {
				found = true
				break
			}
		}
		if found {
			have = append(have, k)
		} else {
			lack = append(lack, k)
		}
	}
	c.OverlayKnown = true
	c.Overlay = len(lack) == 0
	if c.Overlay {
		c.OverlayWhy = "fs/overlayfs/overlay in /lib/modules/{" + strings.Join(have, ",") + "}"
	} else {
		c.OverlayWhy = "no overlay module for kernel " + strings.Join(lack, ", ")
	}
	f.Evidence = append(f.Evidence, "overlay: "+c.OverlayWhy)
}

func hasFilesystem(b []byte, name string) bool {
	for _, l := range strings.Split(string(b), "\n") {
		if fs := strings.Fields(l); len(fs) > 0 && fs[len(fs)-1] == name {
			return true
		}
	}
	return false
}

func hasOverlayModule(b []byte) bool {
	for _, l := range strings.Split(string(b), "\n") {
		p, _, _ := strings.Cut(l, ":")
		if strings.Contains(p, "fs/overlayfs/overlay.ko") {
			return true
		}
	}
	return false
}

// AtLeast says whether every kernel release in ks is at least
// major.minor; false when ks is empty or one cannot be read.
func AtLeast(ks []string, major, minor int) bool {
	for _, k := range ks {
		a, b, ok := kernelVersion(k)
		if !ok || a < major || a == major && b < minor {
			return false
		}
	}
	return len(ks) > 0
}

func kernelVersion(rel string) (int, int, bool) {
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	a, err1 := strconv.Atoi(parts[0])
	end := strings.IndexFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(parts[1])
	}
	b, err2 := strconv.Atoi(parts[1][:end])
	return a, b, err1 == nil && err2 == nil
}

// countStore counts the images and containers of the store at the
// effective graphroot, from each driver's index files (images.json and
// containers.json, JSON arrays). Nothing in them is trusted beyond being
// a bounded JSON array.
func (f *Facts) countStore(h *hostroot.Root) {
	c := &f.Containers
	root := c.Effective.Graphroot
	if g := hostpath.Read(hostpath.ContainersStorage, root); !g.OK() {
		c.StoreErr = fmt.Sprintf("graphroot %q: %s", root, g.Refused)
		f.Evidence = append(f.Evidence, "container store: "+c.StoreErr)
		return
	}
	ents, err := h.ReadDir(root)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.StoreErr = err.Error()
	}
	var files []string
	for _, e := range ents {
		n := e.Name()
		switch {
		case strings.HasSuffix(n, "-images"):
			files = append(files, path.Join(root, n, "images.json"))
		case strings.HasSuffix(n, "-containers"):
			files = append(files, path.Join(root, n, "containers.json"))
		}
	}
	slices.Sort(files)
	for _, name := range files {
		// containers/storage writes its index files itself, by rename: a
		// link or anything else there is not its doing.
		if st, err := h.Lstat(name); err == nil && !st.Mode().IsRegular() {
			c.StoreErr = name + " is " + describe(st.Mode()) + ", not a regular file"
			break
		}
		b, err := h.ReadFileLimit(name, storeIndexLimit)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			c.StoreErr = err.Error()
			break
		}
		var items []json.RawMessage
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		if err := json.Unmarshal(b, &items); err != nil {
			c.StoreErr = name + ": not a JSON array: " + err.Error()
			break
		}
		if strings.HasSuffix(name, "images.json") {
			c.Images += len(items)
		} else {
			c.Containers += len(items)
		}
	}
	if c.StoreErr == "" {
		if vols, err := h.ReadDir(path.Join(root, "volumes")); err == nil {
			for _, v := range vols {
				if v.IsDir() {
					c.Volumes++
				}
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			c.StoreErr = err.Error()
		}
	}
	for _, db := range podmanDatabases {
		if p := path.Join(root, "libpod", db); h.Exists(p) {
			c.Database = p
		}
	}
	if c.StoreErr != "" {
		f.Evidence = append(f.Evidence, "container store: "+c.StoreErr)
		return
	}
	f.Evidence = append(f.Evidence, fmt.Sprintf("container store: %d images, %d containers, %d volumes in %s", c.Images, c.Containers, c.Volumes, root))
	if c.Database != "" {
		f.Evidence = append(f.Evidence, "container store: Podman's database "+c.Database)
	}
}

func describe(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	}
	return "a special file"
}
