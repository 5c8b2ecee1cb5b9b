// Package debroot builds Debian roots from Debian's own packages with
// mmdebstrap, once per package list (cached, git-ignored), for the suites
// that run ezedge-host on them and the roots' own programs on what it
// wrote (test/realroots, test/consumers); and it runs those programs in a
// chroot, in a mount namespace of their own, so that nothing they mount
// outlives them or reaches the machine running the tests. One root per
// distribution and architecture: the suites share the specs below.
package debroot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Cache is where the roots are kept, relative to the repository.
const Cache = ".cache/realroots"

// Spec is what mmdebstrap builds a root from.
type Spec struct {
	Name, Suite, Arch, Components string
	Packages                      []string
}

var (
	// BookwormArm64Pi is Debian's Raspberry Pi layout: raspi-firmware and
	// its kernel hook, the arm64 kernel (built through qemu-user).
	BookwormArm64Pi = Spec{"bookworm-arm64-pi", "bookworm", "arm64", "main non-free-firmware",
		[]string{"raspi-firmware", "linux-image-arm64", "initramfs-tools", "systemd", "systemd-sysv", "udev", "kmod", "procps", "util-linux", "dbus"}}
	// TrixieAMD64 is Debian 13 with what reads ezedge-host's files:
	// systemd 257 (systemd-analyze, the fstab generator, systemd-sysctl,
	// systemd-tmpfiles, udevadm verify), Podman 5.4 (its Quadlet
	// generator), podman-compose, containers-storage (Debian's
	// /usr/share/containers/storage.conf) and fuse-overlayfs (a
	// mount_program for it to name), Prometheus' promtool, GRUB's
	// scripts, zram-generator.
	TrixieAMD64 = Spec{"trixie-amd64", "trixie", "amd64", "main",
		[]string{"systemd", "systemd-sysv", "udev", "kmod", "procps", "systemd-zram-generator", "grub2-common", "util-linux", "dbus",
			"podman", "containers-storage", "fuse-overlayfs", "podman-compose", "prometheus"}}
	// BookwormAMD64 is Debian 12: systemd 252 and Podman 4.3, whose
	// containers/storage (1.43) refuses a storage.conf without runroot.
	BookwormAMD64 = Spec{"bookworm-amd64", "bookworm", "amd64", "main",
		[]string{"systemd", "systemd-sysv", "udev", "kmod", "procps", "util-linux", "dbus", "podman", "containers-storage", "fuse-overlayfs"}}
)

// Build makes the root of spec under cache, once per package list, and
// returns its path. A root being built is in <root>.tmp and renamed when
// done, so a root that exists is whole.
func Build(cache string, spec Spec) (string, error) {
	sum := sha256.Sum256([]byte(strings.Join(append([]string{spec.Suite, spec.Arch, spec.Components}, spec.Packages...), ",") + " v2 MODULES=list"))
	root := filepath.Join(cache, spec.Name+"-"+hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(root); err == nil {
		return root, nil
	}
	t := time.Now()
	fmt.Printf("debroot: building %s ...\n", root)
	tmp := root + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	// initramfs-tools' default MODULES=most runs modinfo on every module
	// of the kernel: through qemu-user that alone takes most of an hour.
	// Nothing here boots, so the initramfs holds only what is listed (none
	// by default): the hooks that matter (raspi-firmware's) run the same.
	hook := `mkdir -p "$1/etc/initramfs-tools/conf.d" && echo MODULES=list > "$1/etc/initramfs-tools/conf.d/ezedge.conf"`
	args := []string{"--variant=minbase", "--quiet", "--arch=" + spec.Arch, "--components=" + spec.Components,
		"--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata", "--dpkgopt=force-unsafe-io", "--essential-hook=" + hook,
		"--include=" + strings.Join(spec.Packages, ","), spec.Suite, tmp}
	cmd := exec.Command("mmdebstrap", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("mmdebstrap %s: %v", spec.Name, err)
	}
	if err := os.Rename(tmp, root); err != nil {
		return "", err
	}
	fmt.Printf("debroot: %s built in %.0f s\n", spec.Name, time.Since(t).Seconds())
	return root, nil
}

// Mounts are what a program run in the root gets, each only in its own
// mount namespace.
type Mounts struct {
	// Proc mounts a procfs at /proc (Chroot always does); Dev binds the
	// machine's /dev (read by Podman, GRUB's probe); Sys mounts a sysfs,
	// read-only; Tmpfs puts an empty tmpfs over each directory named
	// (relative to the root, e.g. "run", "sys"), made if missing, so
	// that nothing a program keeps there survives it and nothing it
	// writes there reaches the machine.
	Proc, Dev, Sys bool
	Tmpfs          []string
	// Binds puts a directory of the machine over one of the root's
	// (root-relative, which must exist), as it is: for a program that
	// must see the root's own file system at / (GRUB's probe cannot name
	// the device of an overlay) and a few directories of the test's.
	Binds [][2]string
}

// plain refuses a root-relative path the mount script could not quote.
func plain(d string) error {
	if d == "" || strings.ContainsAny(d, "'\"$`\\") || strings.Contains(d, "..") || strings.HasPrefix(d, "/") {
		return fmt.Errorf("%q: not a plain relative path", d)
	}
	return nil
}

// script is the shell that mounts m under "$r" (Proc aside).
func (m Mounts) script() (string, error) {
	var s string
	if m.Dev {
		s += `; mount --rbind /dev "$r/dev"`
	}
	if m.Sys {
		s += `; mount -t sysfs -o ro sysfs "$r/sys"`
	}
	for _, b := range m.Binds {
		if err := plain(b[0]); err != nil {
			return "", err
		}
		if strings.ContainsAny(b[1], "'\"$`\\") {
			return "", fmt.Errorf("bind %q: not a plain path", b[1])
		}
		s += fmt.Sprintf(`; mount --bind "%s" "$r/%s"`, b[1], b[0])
	}
	for _, d := range m.Tmpfs {
		if err := plain(d); err != nil {
			return "", err
		}
		s += fmt.Sprintf(`; mkdir -p "$r/%[1]s" && mount -t tmpfs tmpfs "$r/%[1]s"`, d)
	}
	return s, nil
}

// Chroot runs a program of the root inside it, with /proc mounted there
// in a mount namespace of its own (gone when the program exits, whatever
// happens): raspi-firmware's hooks ask ischroot, which reads /proc,
// before insisting that /boot/firmware be a mount point. env is the
// program's whole environment (nil: the machine's PATH only). It returns
// the program's stdout and stderr together.
func Chroot(root string, m Mounts, env []string, args ...string) (string, error) {
	script := `set -e; r=$1; shift; mount -t proc proc "$r/proc"`
	s, err := m.script()
	if err != nil {
		return "", err
	}
	script += s + `; exec chroot "$r" "$@"`
	cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script, "sh", root}, args...)...)
	if env == nil {
		env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Copy copies a cached root to dst (which must not exist), for one check
// to change.
func Copy(src, dst string) error {
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("cp %s: %v: %s", dst, err, out)
	}
	return nil
}

// Layer is a cached root seen through an overlay file system: the root,
// read-only, below; a directory of its own above, which takes every
// change. Copying a root with Podman and Prometheus in it takes half a
// minute of disk; a layer costs nothing, and the cached root stays as
// mmdebstrap made it. The overlay is mounted afresh, in a mount namespace
// of its own, by every Run and Chroot, and unmounted when that ends; what
// is written to Upper between them is seen by the next.
type Layer struct {
	Lower, Upper, work, merged string
}

// NewLayer makes a layer over the root lower, its directories under dir.
func NewLayer(lower, dir string) (*Layer, error) {
	l := &Layer{Lower: lower, Upper: filepath.Join(dir, "upper"), work: filepath.Join(dir, "work"), merged: filepath.Join(dir, "root")}
	for _, d := range []string{l.Upper, l.work, l.merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Fork makes a new layer over the same root whose changes start as a copy
// of l's, under dir: checks that change the root (a package removed,
// Podman's store made) run there and leave l as it was.
func (l *Layer) Fork(dir string) (*Layer, error) {
	f, err := NewLayer(l.Lower, dir)
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Upper); err != nil {
		return nil, err
	}
	if out, err := exec.Command("cp", "-a", l.Upper, f.Upper).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("cp %s: %v: %s", l.Upper, err, out)
	}
	return f, nil
}

// Root is where the layer is mounted while a Run or Chroot runs: the root
// to give ezedge-host's --root.
func (l *Layer) Root() string { return l.merged }

// Put writes a file into the layer (path absolute in the root), making
// its directories.
func (l *Layer) Put(path string, data []byte, mode os.FileMode) error {
	p := filepath.Join(l.Upper, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, mode)
}

// Run runs a program of the machine (ezedge-host) with the layer mounted
// at Root and m's mounts in it; Chroot runs one of the root's, inside it.
func (l *Layer) Run(m Mounts, env []string, args ...string) (string, error) {
	return l.exec(false, m, env, args)
}

// Chroot: see Run.
func (l *Layer) Chroot(m Mounts, env []string, args ...string) (string, error) {
	return l.exec(true, m, env, args)
}

func (l *Layer) exec(chroot bool, m Mounts, env, args []string) (string, error) {
	script := `set -e; r=$1; lower=$2; upper=$3; work=$4; shift 4
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$r"`
	if m.Proc {
		script += `; mount -t proc proc "$r/proc"`
	}
	s, err := m.script()
	if err != nil {
		return "", err
	}
	script += s
	if chroot {
		script += `; exec chroot "$r" "$@"`
	} else {
		script += `; exec "$@"`
	}
	cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script, "sh", l.merged, l.Lower, l.Upper, l.work}, args...)...)
	if env == nil {
		env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Version is the version of a package installed in root, from its dpkg
// status file ("" when it is not installed).
func Version(root, pkg string) string {
	b, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/status"))
	if err != nil {
		return ""
	}
	for _, st := range strings.Split(string(b), "\n\n") {
		var name, version string
		installed := false
		for _, l := range strings.Split(st, "\n") {
			switch {
			case strings.HasPrefix(l, "Package: "):
				name = strings.TrimPrefix(l, "Package: ")
			case strings.HasPrefix(l, "Version: "):
				version = strings.TrimPrefix(l, "Version: ")
			case strings.HasPrefix(l, "Status: "):
				installed = strings.HasSuffix(l, " installed")
			}
		}
		if name == pkg && installed {
			return version
		}
	}
	return ""
}
