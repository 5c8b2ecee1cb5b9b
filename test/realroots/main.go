// Command realroots checks ezedge-host on roots built from Debian's own
// packages with mmdebstrap (test/debroot's shared roots), not on
// hand-made fixtures: Debian bookworm arm64 laid out as Debian's Raspberry
// Pi images are (raspi-firmware, linux-image-arm64), and Debian trixie
// amd64 (systemd-zram-generator, procps, GRUB's tools). Each root is used as
// an image (--root): nothing boots; where a check needs the root's own
// programs (raspi-firmware's kernel hook, systemd-analyze) they run in a
// chroot, arm64 ones through qemu-user and binfmt_misc. The checks work
// on a copy of the shared Pi root (raspi-firmware's hook asks what is
// mounted at /: on an overlay it would write root=overlay) and on an
// overlay of the trixie one (mounted in this program's own mount
// namespace); the shared roots stay as they were built. Run it with
// `make realroots` (as root).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ezansiedgeai/ezedge-host/test/debroot"
)

var passed, failed int

func check(name string, ok bool, detail string, args ...any) {
	if ok {
		passed++
		fmt.Printf("PASS %s\n", name)
		return
	}
	failed++
	fmt.Printf("FAIL %s: %s\n", name, fmt.Sprintf(detail, args...))
}

func main() {
	cache := flag.String("cache", debroot.CacheIn("."), "folder for the cached roots (git-ignored; $"+debroot.CacheEnv+" sets the default)")
	flag.Parse()
	if err := debroot.Private(); err != nil {
		fmt.Fprintf(os.Stderr, "realroots: a mount namespace of its own (root needed): %v\n", err)
		os.Exit(1)
	}
	start := time.Now()
	err := run(*cache)
	fmt.Printf("realroots took %.0f s\n", time.Since(start).Seconds())
	if err != nil {
		fmt.Fprintf(os.Stderr, "realroots: FAIL: %v\n", err)
	}
	fmt.Printf("realroots: %d passed, %d failed\n", passed, failed)
	if err != nil || failed > 0 {
		os.Exit(1)
	}
}

func run(cache string) error {
	work, err := os.MkdirTemp("", "ezedge-realroots")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "ezedge-host")
	b := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/ezedge-host")
	b.Env = append(os.Environ(), "CGO_ENABLED=0")
	b.Stderr = os.Stderr
	if err := b.Run(); err != nil {
		return fmt.Errorf("building ezedge-host: %v", err)
	}
	built := map[string]string{}
	// Shared: the Pi root is the one test/e2e's Raspberry Pi scenario
	// boots, the trixie one the one test/consumers runs its consumers
	// in; each is built by whichever suite needs it first.
	for _, spec := range []debroot.Spec{debroot.BookwormArm64Pi, debroot.TrixieAMD64} {
		r, err := debroot.Build(cache, spec)
		if err != nil {
			return err
		}
		built[spec.Name] = r
	}
	t := &tester{bin: bin, work: work}
	defer func() {
		for _, l := range t.layers {
			l.Unmount()
		}
	}()
	if err := t.raspiFirmware(built[debroot.BookwormArm64Pi.Name]); err != nil {
		return err
	}
	return t.trixie(built[debroot.TrixieAMD64.Name])
}

type tester struct {
	bin, work string
	layers    []*debroot.Layer
}

// copyRoot copies a cached root for one check to change: see the
// package's comment for why the Pi's is a copy.
func (t *tester) copyRoot(src, name string) (string, error) {
	dst := filepath.Join(t.work, name)
	return dst, debroot.Copy(src, dst)
}

// layerRoot mounts an overlay of a cached root for one check to change.
// It stays mounted until the program ends (its mount namespace goes with
// it); the work folder's removal unmounts it first.
func (t *tester) layerRoot(src, name string) (string, error) {
	l, err := debroot.NewLayer(src, filepath.Join(t.work, name))
	if err != nil {
		return "", err
	}
	if err := l.Mount(); err != nil {
		return "", err
	}
	t.layers = append(t.layers, l)
	return l.Root(), nil
}

// ez runs ezedge-host; it returns stdout, stderr and the exit code.
func (t *tester) ez(args ...string) (string, string, int) {
	cmd := exec.Command(t.bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return o.String(), e.String(), code
}

// chroot runs a program of the root inside it, with /proc mounted there
// (raspi-firmware's hooks ask ischroot, which reads /proc, before
// insisting that /boot/firmware be a mount point).
func chroot(root string, args ...string) (string, error) {
	return debroot.Chroot(root, debroot.Mounts{}, os.Environ(), args...)
}

func read(root, p string) string {
	b, err := os.ReadFile(filepath.Join(root, p))
	if err != nil {
		return "(absent)"
	}
	return string(b)
}

// raspiFirmware: on Debian's Raspberry Pi layout the kernel arguments go
// into raspi-extra-cmdline, so raspi-firmware's own hook (run by every
// kernel upgrade and initramfs update) puts them into cmdline.txt and keeps
// them there, and into cmdline.txt itself, which the firmware reads, so an
// image boots with them before the hook ever runs; the hook's own output
// agrees with ezedge-host's edit; rollback takes them out of both, with or
// without the hook run since.
func (t *tester) raspiFirmware(cached string) error {
	root, err := t.copyRoot(cached, "pi")
	if err != nil {
		return err
	}
	hook := "/etc/initramfs/post-update.d/z50-raspi-firmware"
	// The hook regenerates cmdline.txt (and config.txt) as a kernel
	// install does: first make sure this root's are the hook's own.
	if out, err := chroot(root, hook); err != nil {
		return fmt.Errorf("raspi-firmware hook in the pristine root: %v: %s", err, out)
	}
	pristine := read(root, "boot/firmware/cmdline.txt")
	check("pi-cmdline-generated", strings.Contains(pristine, "root=") && !strings.Contains(pristine, "zswap"), "cmdline.txt %q", pristine)

	var facts struct {
		Facts struct {
			Platform string `json:"platform"`
			Boot     struct {
				Loader       string `json:"loader"`
				CmdlineFile  string `json:"cmdline_file"`
				CmdlineInput string `json:"cmdline_input"`
				Generator    []string
			} `json:"boot"`
		} `json:"facts"`
	}
	out, _, code := t.ez("facts", "--root", root, "--platform", "rpi4", "--output", "json")
	if err := json.Unmarshal([]byte(out), &facts); err != nil || code != 0 {
		return fmt.Errorf("facts: exit %d: %v\n%s", code, err, out)
	}
	bt := facts.Facts.Boot
	check("pi-facts", bt.Loader == "rpi-firmware" && bt.CmdlineFile == "/boot/firmware/cmdline.txt" && bt.CmdlineInput == "/etc/default/raspi-extra-cmdline",
		"boot %+v", bt)

	out, errOut, code := t.ez("apply", "--root", root, "--platform", "rpi4", "--yes")
	check("pi-apply", code == 0 && strings.Contains(out, "not run on this root (not the running system): "+hook), "exit %d\n%s%s", code, out, errOut)
	check("pi-extra-cmdline", read(root, "etc/default/raspi-extra-cmdline") == "zswap.enabled=1 zswap.compressor=lz4 cgroup_enable=memory\n",
		"raspi-extra-cmdline %q", read(root, "etc/default/raspi-extra-cmdline"))
	edited := read(root, "boot/firmware/cmdline.txt")
	// The hook writes "… rootwait " and the input: the arguments go there.
	check("pi-cmdline-edited", strings.HasSuffix(pristine, "rootwait \n") && edited == strings.TrimSuffix(pristine, "\n")+"zswap.enabled=1 zswap.compressor=lz4 cgroup_enable=memory\n", "cmdline.txt after apply %q, was %q", edited, pristine)
	out, _, code = t.ez("plan", "--root", root, "--platform", "rpi4", "--detailed-exitcode")
	check("pi-plan-clean-before-hook", code == 0, "exit %d\n%s", code, out)

	// What the running Pi does after apply, and what a kernel upgrade
	// does later: the hook, then update-initramfs (which runs it again).
	if out, err := chroot(root, hook); err != nil {
		return fmt.Errorf("raspi-firmware hook after apply: %v: %s", err, out)
	}
	after := read(root, "boot/firmware/cmdline.txt")
	check("pi-hook-keeps-arguments", strings.Contains(after, "zswap.enabled=1 zswap.compressor=lz4 cgroup_enable=memory"), "cmdline.txt %q", after)
	check("pi-hook-agrees-with-edit", after == edited, "the hook made %q, ezedge-host's edit was %q", after, edited)
	if out, err := chroot(root, "update-initramfs", "-u"); err != nil {
		return fmt.Errorf("update-initramfs -u: %v: %s", err, out)
	}
	upgraded := read(root, "boot/firmware/cmdline.txt")
	check("pi-initramfs-update-keeps-arguments", strings.Contains(upgraded, "zswap.enabled=1 zswap.compressor=lz4 cgroup_enable=memory"), "cmdline.txt %q", upgraded)
	out, _, code = t.ez("plan", "--root", root, "--platform", "rpi4", "--detailed-exitcode")
	check("pi-plan-clean-after", code == 0, "exit %d\n%s", code, out)

	out, errOut, code = t.ez("rollback", "--root", root, "--yes")
	check("pi-rollback", code == 0, "exit %d\n%s%s", code, out, errOut)
	check("pi-extra-cmdline-gone", read(root, "etc/default/raspi-extra-cmdline") == "(absent)", "raspi-extra-cmdline %q", read(root, "etc/default/raspi-extra-cmdline"))
	// Nothing runs the hook on an image: cmdline.txt must be right as it is.
	check("pi-cmdline-pristine-without-hook", read(root, "boot/firmware/cmdline.txt") == pristine, "cmdline.txt %q, was %q", read(root, "boot/firmware/cmdline.txt"), pristine)
	if out, err := chroot(root, hook); err != nil {
		return fmt.Errorf("raspi-firmware hook after rollback: %v: %s", err, out)
	}
	check("pi-cmdline-pristine", read(root, "boot/firmware/cmdline.txt") == pristine, "cmdline.txt %q, was %q", read(root, "boot/firmware/cmdline.txt"), pristine)
	return nil
}

// trixie: zram read as zram-generator reads its configuration;
// /etc/sysctl.conf not taken for read at boot where procps.service is an
// alias of systemd-sysctl.service; the first-boot unit verified by the
// root's own systemd; messages that say what happens.
func (t *tester) trixie(cached string) error {
	root, err := t.layerRoot(cached, "trixie")
	if err != nil {
		return err
	}
	prof := filepath.Join(t.work, "zswap.yaml")
	os.WriteFile(prof, []byte("version: 1\ntasks:\n  zswap: {enabled: true}\n  cpu-pstate: {enabled: true}\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/default/grub"), []byte("GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n"), 0o644)
	zswapSkip := func() string {
		out, _, _ := t.ez("plan", "--root", root, "--platform", "amd64", "--profile", prof)
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[0] == "zswap" {
				return strings.Join(f[1:], " ")
			}
		}
		return ""
	}
	gen := "etc/systemd/zram-generator.conf"
	check("trixie-zram-generator-installed", read(root, "usr/lib/systemd/system-generators/zram-generator") != "(absent)", "no generator")
	shipped := zswapSkip()
	os.WriteFile(filepath.Join(root, gen), []byte("[zram0]\nzram-size = ram / 2\n"), 0o644)
	check("trixie-zram-configured", strings.Contains(zswapSkip(), "swap is zram ([zram0] in /etc/systemd/zram-generator.conf"), "zswap: %q", zswapSkip())
	os.Remove(filepath.Join(root, gen))
	os.Symlink("/dev/null", filepath.Join(root, gen))
	check("trixie-zram-masked", !strings.Contains(zswapSkip(), "zram"), "zswap: %q (shipped config: %q)", zswapSkip(), shipped)
	os.Remove(filepath.Join(root, gen))
	os.WriteFile(filepath.Join(root, gen), []byte("# [zram0]\n# zram-size = ram / 2\n"), 0o644)
	check("trixie-zram-comments", !strings.Contains(zswapSkip(), "zram"), "zswap: %q", zswapSkip())

	alias, _ := os.Readlink(filepath.Join(root, "usr/lib/systemd/system/procps.service"))
	check("trixie-procps-alias", alias != "", "procps.service is not an alias here")
	os.WriteFile(filepath.Join(root, "etc/sysctl.conf"), []byte("vm.swappiness=60\n"), 0o644)
	out, _, _ := t.ez("plan", "--root", root, "--platform", "amd64")
	check("trixie-sysctl-conf-not-read", !strings.Contains(out, "/etc/sysctl.conf"), "plan warns of /etc/sysctl.conf:\n%s", out)

	out, _, _ = t.ez("plan", "--root", root, "--platform", "amd64", "--profile", prof)
	check("trixie-pstate-unknown-vendor", strings.Contains(out, "CPU vendor unknown"), "plan:\n%s", out)

	if _, e, code := t.ez("firstboot", "install", "--root", root, "--platform", "amd64"); code != 0 {
		return fmt.Errorf("firstboot install: %s", e)
	}
	v, _ := chroot(root, "systemd-analyze", "verify", "--recursive-errors=no", "/etc/systemd/system/ezedge-host-firstboot.service")
	check("trixie-firstboot-unit-verifies", !strings.Contains(v, "udev-settle") && !strings.Contains(v, "ezedge-host-firstboot.service:"), "systemd-analyze verify:\n%s", v)

	// Drift: a file set back to its value before the apply is not
	// something rollback "leaves alone".
	if _, e, code := t.ez("apply", "--root", root, "--platform", "amd64", "--yes"); code != 0 {
		return fmt.Errorf("apply: %s", e)
	}
	os.Remove(filepath.Join(root, "etc/sysctl.d/90-ezedge-host.conf"))
	out, _, _ = t.ez("plan", "--root", root, "--platform", "amd64")
	check("trixie-drift-message", strings.Contains(out, "its value before the apply") && !strings.Contains(out, "(changed by something else; rollback leaves it alone"), "plan:\n%s", out)
	out, e, code := t.ez("rollback", "--root", root, "--yes")
	check("trixie-drift-rollback", code == 0, "exit %d\n%s%s", code, out, e)
	return nil
}
