// Package debroot builds Debian roots from Debian's own packages with
// mmdebstrap, once per machine and package list (cached, git-ignored),
// for every suite that needs one: the end-to-end guests (test/e2e), the
// roots ezedge-host runs on as on images (test/realroots), the roots whose
// programs read what it wrote (test/consumers), the package's chroot
// (dist/deb), the image builders' root (dist/images) and the Ansible
// chroot (dist/ansible, through cmd/debroot). One root per distribution
// and architecture: each spec below is the union of what its suites need,
// and a suite changes only its own copy or overlay of it (Layer), never
// the root. It also runs a root's programs in a chroot, in a mount
// namespace of their own, so that nothing they mount outlives them or
// reaches the machine running the tests.
package debroot

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

// CacheEnv names a folder to keep the roots in instead of the
// repository's .cache/roots (a fresh one measures cold builds; several
// checkouts can share one).
const CacheEnv = "EZEDGE_ROOTS"

// CacheIn is where the roots are kept for the repository at repo (a
// path, "." for the suites that run from the repository, "../.." for
// dist/deb's and dist/images' tests): $EZEDGE_ROOTS, or repo/.cache/roots.
func CacheIn(repo string) string {
	if d := os.Getenv(CacheEnv); d != "" {
		return d
	}
	return filepath.Join(repo, ".cache/roots")
}

// Spec is what mmdebstrap builds a root from (variant minbase, no
// Recommends). Every field but Name is part of the root's key.
type Spec struct {
	Name, Suite, Arch string
	Components        []string
	Packages          []string
	// Initramfs, for a root with a kernel and initramfs-tools, lists the
	// modules its initramfs holds (MODULES=list; see hooks).
	Initramfs []string
}

// bookwormGuest is the end-to-end guest (test/e2e: systemd, udev, rfkill
// and bluez for the radio tasks, Podman and busybox-static for containers
// started from a local root file system) with what the other bookworm
// suites add: Podman's containers-storage (Debian's storage.conf) and
// fuse-overlayfs (a mount_program to name) for test/consumers, Python for
// Ansible's modules (dist/ansible: the chroot connection runs them inside
// the root). dist/deb and dist/images need only dpkg, apt and systemd,
// which are in it. Each addition is a program nobody else runs and no
// unit that starts by itself: harmless to the suites that do not use it.
var bookwormGuest = []string{"initramfs-tools", "systemd", "systemd-sysv", "dbus", "udev", "procps", "util-linux", "kmod",
	"rfkill", "bluez", "podman", "busybox-static", "containers-storage", "fuse-overlayfs", "python3"}

// guestModules is what the guests' initramfs needs to mount their root
// on a virtio disk (test/e2e's q35 and virt machines).
var guestModules = []string{"virtio_pci", "virtio_blk", "ext4"}

var (
	// BookwormAMD64 is Debian 12 on amd64: systemd 252 and Podman 4.3
	// (whose containers/storage, 1.43, refuses a storage.conf without
	// runroot). Used by the end-to-end guest (booted: make e2e),
	// test/consumers' bookworm readers, the package's install, upgrade and
	// purge (make deb-test), the image builders' root (make
	// builders-test) and the Ansible chroot (make test-ansible).
	BookwormAMD64 = Spec{"bookworm-amd64", "bookworm", "amd64", []string{"main"},
		append([]string{"linux-image-amd64"}, bookwormGuest...), guestModules}
	// BookwormArm64Pi is Debian's Raspberry Pi layout: raspi-firmware and
	// its kernel hook, the arm64 kernel (built through qemu-user). Used
	// by test/realroots (as an image: the hook run in a chroot) and by
	// test/e2e's Raspberry Pi scenario (booted on QEMU's raspi4b). The
	// initramfs holds what the Pi's SD card needs to mount its root
	// (eMMC2's driver; mmc_block and the firmware clocks are built into
	// Debian's kernel): what the booted guest needs, and two modules
	// more to copy for realroots' update-initramfs.
	BookwormArm64Pi = Spec{"bookworm-arm64-pi", "bookworm", "arm64", []string{"main", "non-free-firmware"},
		[]string{"raspi-firmware", "linux-image-arm64", "initramfs-tools", "systemd", "systemd-sysv", "udev", "kmod", "procps", "util-linux", "dbus"},
		[]string{"sdhci-iproc", "ext4"}}
	// TrixieAMD64 is Debian 13 with what reads ezedge-host's files
	// (test/consumers): systemd 257 (systemd-analyze, the fstab
	// generator, systemd-sysctl, systemd-tmpfiles, udevadm verify),
	// Podman 5.4 (its Quadlet generator), podman-compose,
	// containers-storage (Debian's /usr/share/containers/storage.conf)
	// and fuse-overlayfs (a mount_program for it to name), Prometheus'
	// promtool, GRUB's scripts; zram-generator and procps for
	// test/realroots; and QEMU 10's qemu-system-arm, which test/e2e's
	// Raspberry Pi scenario runs in it (bookworm's QEMU 7.2 has no
	// raspi4b machine).
	TrixieAMD64 = Spec{"trixie-amd64", "trixie", "amd64", []string{"main"},
		[]string{"systemd", "systemd-sysv", "udev", "kmod", "procps", "systemd-zram-generator", "grub2-common", "util-linux", "dbus",
			"podman", "containers-storage", "fuse-overlayfs", "podman-compose", "prometheus", "qemu-system-arm"}, nil}
	// BookwormArm64 is the end-to-end guest for arm64 on QEMU's virt
	// machine (make e2e ARCH=arm64, not run by CI). It is not the Pi
	// root: raspi-firmware's hook has no place on virt, and the Pi root
	// would have to carry Podman, built through qemu-user, for a suite CI
	// does not run.
	BookwormArm64 = Spec{"bookworm-arm64", "bookworm", "arm64", []string{"main"},
		append([]string{"linux-image-arm64"}, bookwormGuest...), guestModules}
)

// Specs are every root, by name.
var Specs = map[string]Spec{}

func init() {
	for _, s := range []Spec{BookwormAMD64, BookwormArm64Pi, TrixieAMD64, BookwormArm64} {
		Specs[s.Name] = s
	}
}

// plainWord is a package or module name as Debian spells them: nothing a
// shell or an option parser could read as more.
var plainWord = regexp.MustCompile(`^[a-z0-9][a-z0-9+._-]*$`)

// hooks are mmdebstrap's --essential-hook and --customize-hook for spec.
// A root with a kernel lists its initramfs modules (MODULES=list): the
// default, MODULES=most, runs modinfo on every module of the kernel, most
// of an hour through qemu-user; nothing but the listed modules is needed
// to mount the guests' roots. The initramfs is made once, at the end:
// installing the kernel, initramfs-tools (and raspi-firmware) would
// otherwise make it up to three times, minutes each through qemu-user, so
// update-initramfs is diverted to true until then; the final run also
// runs the post-update hooks (raspi-firmware's fills /boot/firmware).
func (s Spec) hooks() (essential, customize string, err error) {
	if s.Initramfs == nil {
		return "", "", nil
	}
	if !slices.Contains(s.Packages, "initramfs-tools") {
		return "", "", fmt.Errorf("%s: Initramfs without initramfs-tools", s.Name)
	}
	for _, m := range s.Initramfs {
		if !plainWord.MatchString(m) {
			return "", "", fmt.Errorf("%s: module %q", s.Name, m)
		}
	}
	essential = `set -e; mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d"` +
		`; echo MODULES=list > "$1/etc/initramfs-tools/conf.d/ezedge.conf"` +
		`; printf '%s\n' ` + strings.Join(s.Initramfs, " ") + ` > "$1/usr/share/initramfs-tools/modules.d/ezedge"` +
		`; chroot "$1" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs` +
		`; ln -s /bin/true "$1/usr/sbin/update-initramfs"`
	customize = `set -e; rm "$1/usr/sbin/update-initramfs"` +
		`; chroot "$1" dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs` +
		`; chroot "$1" update-initramfs -c -k all`
	return essential, customize, nil
}

// args are mmdebstrap's arguments for spec, but the target.
func (s Spec) args() ([]string, error) {
	for _, w := range append(append([]string{s.Suite, s.Arch}, s.Components...), s.Packages...) {
		if !plainWord.MatchString(w) {
			return nil, fmt.Errorf("%s: %q", s.Name, w)
		}
	}
	essential, customize, err := s.hooks()
	if err != nil {
		return nil, err
	}
	args := []string{"--variant=minbase", "--quiet", "--arch=" + s.Arch, "--components=" + strings.Join(s.Components, " "),
		"--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata", "--dpkgopt=force-unsafe-io",
		"--include=" + strings.Join(s.Packages, ",")}
	if essential != "" {
		args = append(args, "--essential-hook="+essential, "--customize-hook="+customize)
	}
	return append(args, s.Suite), nil
}

// Key names the root built from spec: a digest of mmdebstrap's arguments
// (suite, architecture, components, packages, hooks), so that any change
// to what goes into a root makes a new one.
func (s Spec) Key() (string, error) {
	args, err := s.args()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte("debroot v3\x00" + strings.Join(args, "\x00")))
	return hex.EncodeToString(sum[:6]), nil
}

// Path is where the root of spec is (or will be) under cache, absolute:
// the suites give it to programs that run elsewhere.
func (s Spec) Path(cache string) (string, error) {
	k, err := s.Key()
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(cache)
	if err != nil {
		return "", err
	}
	return filepath.Join(abs, s.Name+"-"+k), nil
}

// Build makes the root of spec under cache, once per machine and key, and
// returns its path. A root being built is in <root>.tmp and renamed when
// done, so a root that exists is whole. Two suites wanting the same root
// at once (CI runs some side by side) take turns on <root>.lock (flock,
// let go by the kernel when its holder exits, however it ends): the
// first builds, the others wait for it and take its root; a .tmp left by
// a build that died is removed by the next.
func Build(cache string, spec Spec) (string, error) {
	root, err := spec.Path(cache)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(root); err == nil {
		return root, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(root+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		fmt.Fprintf(os.Stderr, "debroot: %s is being built by another process; waiting\n", root)
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX)
	}
	if err != nil {
		return "", fmt.Errorf("lock %s: %v", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(root); err == nil {
		return root, nil
	}
	args, err := spec.args()
	if err != nil {
		return "", err
	}
	t := time.Now()
	fmt.Fprintf(os.Stderr, "debroot: building %s ...\n", root)
	tmp := root + ".tmp"
	if err := removeHalfMade(tmp); err != nil {
		return "", err
	}
	// mmdebstrap mounts /proc, /sys and /dev's pts and shm in the root
	// while it builds and unmounts them at its end; killed half-way, it
	// left them mounted on the machine. In a mount namespace of its own
	// they go with it, however it ends.
	cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "mmdebstrap"}, append(args, tmp)...)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("mmdebstrap %s: %v", spec.Name, err)
	}
	if err := os.Rename(tmp, root); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "debroot: %s built in %.0f s\n", spec.Name, time.Since(t).Seconds())
	return root, nil
}

// removeHalfMade removes dir, a build left half-made, without crossing
// into a file system mounted in it (rm --one-file-system): a build by an
// older debroot, killed half-way, left mmdebstrap's /proc, /sys and
// /dev/pts mounted there, and a removal walking into them would reach
// the machine's. rm refuses then, naming them.
func removeHalfMade(dir string) error {
	if out, err := exec.Command("rm", "-rf", "--one-file-system", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("debroot: removing %s, left half-made by a build that died (unmount what is mounted in it): %v: %s", dir, err, out)
	}
	return nil
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
// to change, where an overlay would not do: a program that asks what is
// mounted at / (raspi-firmware's hook names the root's device from
// findmnt /) sees the overlay there, and writes root=overlay.
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

// Mount mounts the layer at Root for as long as this process's mount
// namespace lives (or until Unmount), for a suite that works on the root
// with its own file operations (writing a guest's files, mke2fs -d) or
// gives it to another program (Ansible's chroot connection). It refuses
// to mount in the machine's mount namespace: call Private first (or run
// under unshare --mount), so the mount is gone when the suite ends,
// however it ends, and nothing else on the machine sees it.
func (l *Layer) Mount() error {
	for _, d := range []string{l.Lower, l.Upper, l.work} {
		if strings.ContainsAny(d, ",:") {
			return fmt.Errorf("debroot: %s: a layer's folders may not hold ',' or ':' (overlay's option separators)", d)
		}
	}
	if !private() {
		return errors.New("debroot: not in a mount namespace of its own (debroot.Private, or unshare --mount): a layer is not mounted where the machine sees it")
	}
	opts := "lowerdir=" + l.Lower + ",upperdir=" + l.Upper + ",workdir=" + l.work
	if out, err := exec.Command("mount", "-t", "overlay", "overlay", "-o", opts, l.merged).CombinedOutput(); err != nil {
		return fmt.Errorf("mount the layer over %s: %v: %s", l.Lower, err, out)
	}
	return nil
}

// Unmount undoes Mount (and whatever was mounted under Root since).
func (l *Layer) Unmount() error {
	if out, err := exec.Command("umount", "-R", l.merged).CombinedOutput(); err != nil {
		return fmt.Errorf("umount %s: %v: %s", l.merged, err, out)
	}
	return nil
}

// NamespaceEnv holds the mount namespace that Private made (its
// /proc/self/ns/mnt), for the program and its children to know they are in
// it. The machine's own namespace cannot be told apart otherwise: process
// 1's is not always readable.
const NamespaceEnv = "EZEDGE_MOUNT_NS"

// unshareScript, run by unshare in the new namespace, names it in
// NamespaceEnv and runs the program.
const unshareScript = `export ` + NamespaceEnv + `="$(readlink /proc/self/ns/mnt)" && exec "$0" "$@"`

// private says whether this process is in the mount namespace a program
// made for itself with Private (or an ancestor's: children share it).
func private() bool {
	self, err := os.Readlink("/proc/self/ns/mnt")
	return err == nil && os.Getenv(NamespaceEnv) == self
}

// Private runs this program again, with the same arguments, in a mount
// namespace of its own (unshare --mount --propagation private), unless
// it already is in one; it returns only then (or on an error). What the
// program and its children mount there (Layer.Mount, the builders' /proc)
// is seen by them alone and unmounted by the kernel when the last of them
// exits, however it ends. (dist/deb's and dist/images' tests, and
// dist/ansible/test.sh, do the same with unshareScript's words.)
func Private() error {
	if private() {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return err
	}
	return syscall.Exec(unshare, append([]string{"unshare", "--mount", "--propagation", "private", "sh", "-c", unshareScript, exe}, os.Args[1:]...), os.Environ())
}

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
