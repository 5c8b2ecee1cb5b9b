package tasks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/storageconf"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// ContainerStorageOptions are container-storage's profile options.
type ContainerStorageOptions struct {
	Overlay string `yaml:"overlay" doc:"auto: native overlay where every kernel has it and is 5.13 or later, fuse-overlayfs (mount_program) elsewhere; native or fuse-overlayfs to choose" enum:"auto,native,fuse-overlayfs"`
}

// storageConfHome is where the storage.conf edit must land once resolved.
const storageConfHome = "/etc/containers"

// New storage.conf files start with one of these, so a person reading it
// knows who wrote it and why it stands alone. A file written from nothing
// is made complete by storageconf.Set (driver, runroot, graphroot):
// containers/storage reads it alone and refuses one without runroot.
const (
	storageConfNew    = "# Written by ezedge-host's container-storage task: there was no\n# /usr/share/containers/storage.conf to start from (Debian's containers-storage\n# package is not installed). containers/storage reads this file alone and\n# needs runroot and graphroot in it; they are its built-in rootful defaults.\n"
	storageConfCopied = "# Copied by ezedge-host's container-storage task from\n# /usr/share/containers/storage.conf and edited: containers/storage reads\n# this file instead of that one, not both.\n"
)

func init() {
	resource.Edit(platform.StorageConf, storageConfHome)
	Register(Def[ContainerStorageOptions]{
		Name: "container-storage", Order: 120,
		Measures: []measure.Kind{measure.Sync},
		Summary:  "Podman's rootful store in /etc/containers/storage.conf: driver overlay, graphroot /var/lib/containers/storage, mount_program fuse-overlayfs only where native overlay is unavailable; refused on a populated store",
		When:     "opt-in (a storage change on a store with images needs `podman system reset`)",
		Default:  func(*Facts) (bool, string) { return false, "opt-in: turn it on in the profile" },
		Options:  ContainerStorageOptions{Overlay: "auto"},
		Plan:     planContainerStorage,
	})
}

// overlayChoice is the mount_program storage.conf should name ("" for
// native overlay) and why, or a reason to skip.
func overlayChoice(c platform.Containers, mode string) (mp, why, skip string) {
	kernels := "kernel unknown"
	if len(c.Kernels) > 0 {
		kernels = "kernel " + strings.Join(c.Kernels, ", ")
	}
	fuse := "fuse-overlayfs " + map[bool]string{true: "is installed (" + platform.FuseOverlayfs + ")", false: "is not installed (no " + platform.FuseOverlayfs + ")"}[c.FuseOverlayfs]
	switch mode {
	case "native":
		return "", "native overlay, as the profile asks (" + kernels + "; " + c.OverlayWhy + ")", ""
	case "fuse-overlayfs":
		if !c.FuseOverlayfs {
			return "", "", "the profile asks for fuse-overlayfs and " + fuse
		}
		return platform.FuseOverlayfs, "fuse-overlayfs, as the profile asks; " + fuse, ""
	}
	var lacks []string
	switch {
	case !c.OverlayKnown:
		lacks = append(lacks, "the overlay file system's presence is unknown ("+c.OverlayWhy+")")
	case !c.Overlay:
		lacks = append(lacks, c.OverlayWhy)
	}
	if !platform.AtLeast(c.Kernels, 5, 13) {
		lacks = append(lacks, kernels+" is not known to be 5.13 or later (rootless native overlay needs 5.13)")
	}
	if len(lacks) == 0 {
		return "", fmt.Sprintf("native overlay: %s ≥ 5.13 and %s; Podman's maintainers advise it over fuse-overlayfs (no FUSE process per container, faster I/O)", kernels, c.OverlayWhy), ""
	}
	if !c.FuseOverlayfs {
		return "", "", "native overlay is unavailable (" + strings.Join(lacks, "; ") + ") and " + fuse
	}
	return platform.FuseOverlayfs, "fuse-overlayfs as mount_program: native overlay is unavailable (" + strings.Join(lacks, "; ") + "); " + fuse, ""
}

func planContainerStorage(f *Facts, o *ContainerStorageOptions) Intent {
	c := f.Containers
	if !c.Podman {
		return Skip("Podman is not installed (no /usr/bin/podman)")
	}
	if c.ConfErr != "" {
		return Refuse(c.ConfFile, c.ConfErr)
	}
	mp, why, skip := overlayChoice(c, o.Overlay)
	if skip != "" {
		return Skip(skip)
	}
	want := storageconf.Want{Driver: "overlay", Graphroot: platform.DefaultGraphroot, MountProgram: mp}
	changed := c.Effective != storageconf.Values(want)
	if changed {
		if c.StoreErr != "" {
			return Refuse(c.Effective.Graphroot, "cannot tell whether the store holds images or containers: "+c.StoreErr)
		}
		if c.Populated() {
			return Refuse(c.Effective.Graphroot, fmt.Sprintf("the store holds %d images, %d containers and %d volumes; changing driver %q, graphroot %s, mount_program %q to %q, %s, %q needs `podman system reset`, which deletes them all: reset or export them by hand first, or leave the task off",
				c.Images, c.Containers, c.Volumes, c.Effective.Driver, c.Effective.Graphroot, c.Effective.MountProgram, want.Driver, want.Graphroot, want.MountProgram))
		}
		if c.Database != "" && (c.Effective.Driver != want.Driver || c.Effective.Graphroot != want.Graphroot) {
			// storage.conf's driver "" (upstream's own file) lets Podman
			// pick one: the database records that one, which the files
			// do not tell.
			driver := fmt.Sprintf("driver %q", c.Effective.Driver)
			if c.Effective.Driver == "" {
				driver = "the driver Podman picked itself (storage.conf names none)"
			}
			return Refuse(c.Database, fmt.Sprintf("Podman's database records %s and graphroot %s, and Podman goes on using them whatever storage.conf says, even on an empty store: the change would not take effect; `podman system reset` first, or leave the task off",
				driver, c.Effective.Graphroot))
		}
	}
	// The edit is made here on the facts' copy so that a file it cannot
	// edit safely is refused before anything is written; the plan's Edit
	// makes it again on the bytes it reads.
	base := func(cur []byte, exists bool) []byte {
		switch {
		case exists:
			return cur
		case c.Default != nil:
			return append([]byte(storageConfCopied), c.Default...)
		}
		return []byte(storageConfNew)
	}
	if _, err := storageconf.Set(base(c.Conf, c.ConfFile == platform.StorageConf), want); err != nil {
		file := platform.StorageConf
		if c.ConfFile == platform.StorageConfDefault {
			file = c.ConfFile
		}
		return Refuse(file, err.Error())
	}
	in := Intent{Notes: []string{
		why,
		fmt.Sprintf("store %s: %d images, %d containers (counted from its images.json and containers.json)", c.Effective.Graphroot, c.Images, c.Containers),
		"Podman reads storage.conf at its next command (no daemon to restart); rootless stores (~/.local/share/containers) and users' own storage.conf are not read or changed",
		storageConfCase(c, want, changed),
	}}
	in.Wants = []Want{{Resource: resource.File(platform.StorageConf), Edit: func(cur resource.State) resource.State {
		if !cur.Exists && !changed {
			return cur
		}
		// Values written another way ("/var/lib/containers//storage/")
		// that containers/storage reads as the ones wanted are left as
		// they are: only what the file lacks (runroot) is added.
		w := want
		if v, err := storageconf.Parse(cur.Data); cur.Exists && err == nil && platform.StorageAsRead(v) == storageconf.Values(want) {
			if lacks, err := storageconf.Lacks(cur.Data); err == nil && len(lacks) == 0 {
				return cur
			}
			w = storageconf.Want(v)
		}
		out, err := storageconf.Set(base(cur.Data, cur.Exists), w)
		if err != nil {
			// The file changed since the facts were read into one this
			// cannot edit: leave it; the next plan refuses it.
			return cur
		}
		next := resource.Content(out)
		if cur.Exists {
			next.Mode, next.UID, next.GID = cur.Mode, cur.UID, cur.GID
		}
		return next
	}}}
	return in
}

// storageConfCase says how the file comes to be: edited in place, copied
// from /usr/share and edited, or written whole, and what it then holds.
// containers/storage reads one storage.conf alone and takes none of its
// built-in paths for a key that file leaves out, so a file ezedge-host
// writes must be complete (storageconf.Required): Set adds runroot where
// the file sets none.
func storageConfCase(c platform.Containers, want storageconf.Want, changed bool) string {
	alone := "containers/storage reads " + platform.StorageConf + " alone (storage.conf.d drop-ins only from Podman 6; Debian bookworm has 4.3, trixie 5.4)"
	runroot := func(data []byte) string {
		if l, err := storageconf.Lacks(data); err == nil && slices.Contains(l, "runroot") {
			return "; it sets no runroot, without which Podman stops at every command (\"runroot must be set\"): runroot = " + storageconf.DefaultRunRoot + " (containers/storage's built-in default) is added"
		}
		return ""
	}
	holds := fmt.Sprintf("driver %q, runroot %s, graphroot %s", want.Driver, storageconf.DefaultRunRoot, want.Graphroot)
	if want.MountProgram != "" {
		holds += ", mount_program " + want.MountProgram
	}
	switch {
	case c.ConfFile == platform.StorageConf:
		return alone + ": edited in place, every line but the changed keys kept byte for byte" + runroot(c.Conf)
	case !changed:
		return alone + ": absent, and what containers/storage reads now (" + c.ConfFile + ") holds the values already: nothing is written"
	case c.ConfFile == platform.StorageConfDefault:
		return alone + ": absent, so it is written as a copy of " + platform.StorageConfDefault + " (Debian's containers-storage package), edited; containers/storage then no longer reads that one" + runroot(c.Default)
	}
	return alone + ": absent, and there is no " + platform.StorageConfDefault + " to copy (Debian's containers-storage package, which podman only suggests, is not installed), so it is written whole with what containers/storage needs of a file it reads alone: " + holds + " (its built-in rootful paths); every other setting keeps containers/storage's built-in default, as with no file"
}
