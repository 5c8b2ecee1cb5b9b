// Command e2e proves ezedge-host on a real kernel and systemd: it takes the
// shared Debian root of its architecture (test/debroot, built once per
// machine), makes a guest of it on an overlay (the root stays as built),
// boots it under qemu three times and runs
// the scenario in guest/step.sh at each boot: apply and check, reboot and
// check everything held, roll back, reboot and check the defaults are back.
// Between boots it gives the kernel the command line the image's GRUB
// configuration would, so a command-line change made by apply reaches the
// next boot. Then the Raspberry Pi scenario (pi.go): Debian's Pi layout on
// an SD card image under QEMU's raspi4b, the harness playing the Pi's
// firmware. Run it with `make e2e` (as root: mmdebstrap and mke2fs -d keep
// ownership); -scenarios picks some of them.
package main

import (
	"bufio"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/cmdline"
	"github.com/ezansiedgeai/ezedge-host/test/debroot"
)

var (
	//go:embed guest/step.sh
	stepScript []byte
	//go:embed guest/ezedge-e2e.service
	stepUnit []byte
	//go:embed guest/profile.yaml
	profile []byte
	//go:embed guest/try.yaml
	tryProfile []byte
)

// machine is how one architecture's guest is booted, and the shared root
// it is made from (its kernel, systemd, Podman and busybox-static for
// the containers, rfkill and bluez; see debroot.BookwormAMD64). The arm64
// virt machine has one UART, so its results come over a virtio console.
type machine struct {
	root                   debroot.Spec
	qemu, console, results string
	qemuArgs               []string
}

var machines = map[string]machine{
	"amd64": {debroot.BookwormAMD64, "qemu-system-x86_64", "ttyS0", "/dev/ttyS1", []string{"-machine", "q35"}},
	"arm64": {debroot.BookwormArm64, "qemu-system-aarch64", "ttyAMA0", "/dev/hvc0", []string{"-machine", "virt", "-cpu", "cortex-a72"}},
}

// debianGrub is Debian's stock /etc/default/grub, with THP at madvise
// (Debian's kernel defaults to always) so that applying thp changes
// something a reboot and a rollback must carry. GRUB itself is not
// installed (the kernel is booted directly), so update-grub is a stub.
const debianGrub = `# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.
GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=` + "`lsb_release -i -s 2> /dev/null || echo Debian`" + `
GRUB_CMDLINE_LINUX_DEFAULT="quiet transparent_hugepage=madvise"
GRUB_CMDLINE_LINUX=""
`

// vendorNVMeRule stands for a distribution's own NVMe tuning, read before
// ezedge-host's 60-nvme.rules: QEMU's NVMe already reports the guide's
// value, so without it apply and rollback would change nothing visible.
const vendorNVMeRule = `ACTION=="add|change", SUBSYSTEM=="block", KERNEL=="nvme[0-9]*n[0-9]*", ATTR{queue/nr_requests}="64"` + "\n"

// vfsStorage starts Podman's store away from the guide (vfs, not
// overlay), so container-storage has something to change and its refusal
// on a populated store has a store to refuse.
const vfsStorage = `# The e2e image's store: vfs, away from the guide's overlay.
[storage]
driver = "vfs"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
`

func main() {
	cache := flag.String("cache", debroot.CacheIn("."), "folder for the cached roots (git-ignored; $"+debroot.CacheEnv+" sets the default)")
	arch := flag.String("arch", "amd64", "guest architecture: amd64 or arm64")
	out := flag.String("out", "e2e-out", "folder for the logs of failed boots")
	bootTimeout := flag.Duration("boot-timeout", 10*time.Minute, "hard limit on one boot (a boot takes 1–5 min under software emulation)")
	piBootTimeout := flag.Duration("pi-boot-timeout", 10*time.Minute, "hard limit on one boot of the Raspberry Pi scenario (an emulated Cortex-A72 without KVM)")
	scenarios := flag.String("scenarios", "apply-reboot-rollback,firstboot,pi", "the scenarios to run, comma-separated")
	flag.Parse()
	start := time.Now()
	m, ok := machines[*arch]
	if !ok {
		fmt.Fprintf(os.Stderr, "e2e: -arch %q: want amd64 or arm64\n", *arch)
		os.Exit(2)
	}
	want := map[string]bool{}
	for _, sc := range strings.Split(*scenarios, ",") {
		if sc != "apply-reboot-rollback" && sc != "firstboot" && sc != "pi" {
			fmt.Fprintf(os.Stderr, "e2e: -scenarios: %q is not a scenario (apply-reboot-rollback, firstboot, pi)\n", sc)
			os.Exit(2)
		}
		want[sc] = true
	}
	// The guests are made on overlays of the shared roots, mounted in a
	// mount namespace of this program's own: gone when it ends.
	if err := debroot.Private(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: a mount namespace of its own (root needed): %v\n", err)
		os.Exit(1)
	}
	err := run(*arch, m, *cache, *out, *bootTimeout, *piBootTimeout, want)
	fmt.Printf("e2e took %.0f s\n", time.Since(start).Seconds())
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: %v\n", err)
	}
	fmt.Printf("e2e: %d passed, %d failed\n", passed, failed)
	if err != nil || failed > 0 {
		os.Exit(1)
	}
}

// passed and failed count the checks of every boot.
var passed, failed int

func sh(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	if out, err := cmd.Output(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func run(arch string, m machine, cacheDir, outDir string, bootTimeout, piBootTimeout time.Duration, want map[string]bool) error {
	work, err := os.MkdirTemp("", "ezedge-e2e")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if want["apply-reboot-rollback"] || want["firstboot"] {
		if err := runGrub(arch, m, cacheDir, outDir, work, bootTimeout, want); err != nil {
			return err
		}
	}
	if !want["pi"] {
		return nil
	}
	// The Pi guest is arm64 whatever -arch says.
	bin := filepath.Join(work, "ezedge-host-arm64")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/ezedge-host")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building ezedge-host for arm64: %v", err)
	}
	return runPi(cacheDir, outDir, bin, piBootTimeout)
}

// runGrub runs the scenarios on amd64's q35 or arm64's virt machine, with
// the harness playing GRUB.
func runGrub(arch string, m machine, cacheDir, outDir, work string, bootTimeout time.Duration, want map[string]bool) error {
	for _, tool := range []string{"mmdebstrap", m.qemu, "mke2fs", "debugfs"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not installed (make e2e installs it: apt-get install mmdebstrap qemu-system-x86 e2fsprogs eatmydata)", tool)
		}
	}
	root, err := debroot.Build(cacheDir, m.root)
	if err != nil {
		return err
	}

	// ezedge-host goes into the guests as its Debian package, built for
	// the guest: the first-boot image is provisioned the way an image
	// builder does it (the mmdebstrap hook's script,
	// dist/images/common/ezedge-provision, whose firstboot install uses
	// the packaged binary); the other has it installed with dpkg -i.
	var deb string
	if want["firstboot"] || want["apply-reboot-rollback"] {
		repo, err := os.Getwd()
		if err != nil {
			return err
		}
		pkg := exec.Command("go", "run", ".", "-repo", repo, "-out", filepath.Join(work, "deb"), "-arch", arch, "-version", "0~e2e")
		pkg.Dir = filepath.Join(repo, "dist", "deb")
		pkg.Stdout, pkg.Stderr = os.Stderr, os.Stderr
		if err := pkg.Run(); err != nil {
			return fmt.Errorf("building the .deb: %v", err)
		}
		debs, _ := filepath.Glob(filepath.Join(work, "deb", "ezedge-host_*_"+arch+".deb"))
		if len(debs) != 1 {
			return fmt.Errorf("want one .deb for %s, found %v", arch, debs)
		}
		deb = debs[0]
	}
	nvme := filepath.Join(work, "nvme.img")
	if err := os.WriteFile(nvme, nil, 0o644); err != nil {
		return err
	}
	if err := os.Truncate(nvme, 64<<20); err != nil {
		return err
	}
	for _, sc := range []struct {
		name      string
		firstboot bool
		boots     int
	}{{"apply-reboot-rollback", false, 3}, {"firstboot", true, 2}} {
		if !want[sc.name] {
			continue
		}
		fmt.Printf("e2e: scenario %s\n", sc.name)
		g, err := prepare(work, root, deb, m, sc.name, sc.firstboot)
		if err != nil {
			return err
		}
		if err := boots(g, m, nvme, outDir, sc.name, sc.boots, bootTimeout); err != nil {
			return err
		}
	}
	return nil
}

type guestImage struct{ disk, kernel, initrd string }

// prepare lays the scenario and ezedge-host over the cached root and
// makes the disk image of the whole. For the first-boot scenario the
// image is provisioned offline with `ezedge-host firstboot install`, as an
// operator would, and keeps machine-id "uninitialized".
func prepare(work, root, deb string, m machine, name string, firstboot bool) (*guestImage, error) {
	l, err := debroot.NewLayer(root, filepath.Join(work, name+"-layer"))
	if err != nil {
		return nil, err
	}
	if err := l.Mount(); err != nil {
		return nil, err
	}
	defer func() {
		l.Unmount()
		os.RemoveAll(filepath.Join(work, name+"-layer"))
	}()
	guest := l.Root()
	id := make([]byte, 16)
	rand.Read(id)
	machineID := hex.EncodeToString(id) + "\n"
	if firstboot {
		machineID = "uninitialized\n"
	}
	if err := addScenario(guest, machineID); err != nil {
		return nil, err
	}
	if err := install(guest, deb, m, firstboot); err != nil {
		return nil, err
	}
	return makeImage(guest, filepath.Join(work, name))
}

// addScenario writes the scenario into the guest root: its step and unit,
// profiles, the host files it starts from, masked consoles, a busybox
// container root, and fstrim.timer disabled.
func addScenario(guest, machineID string) error {
	files := map[string]struct {
		data []byte
		mode os.FileMode
	}{
		"usr/local/sbin/e2e-step":                       {stepScript, 0o755},
		"etc/systemd/system/ezedge-e2e.service":         {stepUnit, 0o644},
		"etc/e2e/profile.yaml":                          {profile, 0o644},
		"etc/e2e/try.yaml":                              {tryProfile, 0o644},
		"etc/default/grub":                              {[]byte(debianGrub), 0o644},
		"etc/udev/rules.d/50-e2e-nvme.rules":            {[]byte(vendorNVMeRule), 0o644},
		"etc/containers/storage.conf":                   {[]byte(vfsStorage), 0o644},
		"etc/e2e/storage.yaml":                          {[]byte("version: 1\ntasks:\n  container-storage: {enabled: true}\n"), 0o644},
		"usr/sbin/update-grub":                          {[]byte("#!/bin/sh\n# The e2e guest boots its kernel directly: nothing to generate.\nexit 0\n"), 0o755},
		"etc/machine-id":                                {[]byte(machineID), 0o444},
		"etc/fstab":                                     {[]byte("/dev/vda / ext4 rw,errors=remount-ro 0 1\n"), 0o644},
		"etc/hostname":                                  {[]byte("ezedge-e2e\n"), 0o644},
		"etc/systemd/system/getty@tty1.service":         {nil, 0},
		"etc/systemd/system/serial-getty@ttyS1.service": {nil, 0},
		"etc/systemd/system/serial-getty@hvc0.service":  {nil, 0},
	}

	for p, f := range files {
		full := filepath.Join(guest, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if f.data == nil {
			// Masked: nothing should talk on the results port.
			os.Remove(full)
			if err := os.Symlink("/dev/null", full); err != nil {
				return err
			}
			continue
		}
		if err := os.WriteFile(full, f.data, f.mode); err != nil {
			return err
		}
		os.Chmod(full, f.mode)
	}
	// The node exporter's textfile directory, where the check timer
	// writes (the exporter itself is not needed to write it); a
	// container root file system of busybox alone.
	for _, d := range []string{"var/lib/prometheus/node-exporter", "opt/ctr/bin", "opt/ctr/proc", "opt/ctr/sys", "opt/ctr/dev", "opt/ctr/etc", "opt/ctr/tmp"} {
		if err := os.MkdirAll(filepath.Join(guest, d), 0o755); err != nil {
			return err
		}
	}
	if err := sh("cp", filepath.Join(guest, "bin/busybox"), filepath.Join(guest, "opt/ctr/bin/busybox")); err != nil {
		return err
	}
	for _, l := range []string{"sh", "sleep"} {
		if err := os.Symlink("busybox", filepath.Join(guest, "opt/ctr/bin", l)); err != nil {
			return err
		}
	}
	// Debian enables fstrim.timer when util-linux installs; disabled, the
	// fstrim task has something to enable and rollback something to undo.
	if err := os.Remove(filepath.Join(guest, "etc/systemd/system/timers.target.wants/fstrim.timer")); err != nil && !os.IsNotExist(err) {
		return err
	}
	wants := filepath.Join(guest, "etc/systemd/system/multi-user.target.wants")
	os.MkdirAll(wants, 0o755)
	if err := os.Symlink("/etc/systemd/system/ezedge-e2e.service", filepath.Join(wants, "ezedge-e2e.service")); err != nil {
		return err
	}
	return nil
}

// install installs ezedge-host into the guest root: dpkg -i in a chroot, or,
// for the first-boot scenario, as the image hook does.
func install(guest, deb string, m machine, firstboot bool) error {
	if !firstboot {
		// dpkg -i inside the image, as an operator on the device would.
		if err := sh("cp", deb, filepath.Join(guest, "tmp/ezedge-host.deb")); err != nil {
			return err
		}
		if err := sh("chroot", guest, "dpkg", "-i", "/tmp/ezedge-host.deb"); err != nil {
			return err
		}
		if err := os.Remove(filepath.Join(guest, "tmp/ezedge-host.deb")); err != nil {
			return err
		}
	}
	if firstboot {
		// As the mmdebstrap hook does: install the .deb with the image's
		// dpkg, print the plan, firstboot install with the profile.
		repo, err := os.Getwd()
		if err != nil {
			return err
		}
		prov := exec.Command(filepath.Join(repo, "dist/images/common/ezedge-provision"), guest)
		prov.Env = append(os.Environ(), "EZEDGE_DEB="+deb, "EZEDGE_PROFILE="+filepath.Join(guest, "etc/e2e/profile.yaml"), "EZEDGE_PLATFORM="+m.root.Arch)
		prov.Stdout, prov.Stderr = os.Stderr, os.Stderr
		if err := prov.Run(); err != nil {
			return fmt.Errorf("provisioning the first-boot image: %v", err)
		}
	}
	return nil
}

// makeImage takes the guest's kernel and initrd out and makes its disk
// image, its files named base.img, base.vmlinuz and base.initrd.
func makeImage(guest, base string) (*guestImage, error) {
	kernels, _ := filepath.Glob(filepath.Join(guest, "boot/vmlinuz-*"))
	initrds, _ := filepath.Glob(filepath.Join(guest, "boot/initrd.img-*"))
	if len(kernels) != 1 || len(initrds) != 1 {
		return nil, fmt.Errorf("want one kernel and one initrd in the guest, found %v %v", kernels, initrds)
	}
	g := &guestImage{disk: base + ".img", kernel: base + ".vmlinuz", initrd: base + ".initrd"}
	for src, dst := range map[string]string{kernels[0]: g.kernel, initrds[0]: g.initrd} {
		if err := sh("cp", src, dst); err != nil {
			return nil, err
		}
	}
	if err := sh("mke2fs", "-q", "-t", "ext4", "-L", "root", "-d", guest, g.disk, "2G"); err != nil {
		return nil, err
	}
	return g, nil
}

// boots boots the image n times; the scenario step in the guest knows
// which boot it is from its own state.
func boots(g *guestImage, m machine, nvme, outDir, name string, n int, bootTimeout time.Duration) error {
	work := filepath.Dir(g.disk)
	for boot := 1; boot <= n; boot++ {
		kcmd, err := grubCommandLine(g.disk)
		if err != nil {
			return err
		}
		args := "root=/dev/vda rw console=" + m.console + " systemd.firstboot=off systemd.show_status=1 panic=-1 ezedge.results=" + m.results + " ezedge.scenario=" + name + " " + kcmd
		con := filepath.Join(work, fmt.Sprintf("%s-console-%d.log", name, boot))
		res := filepath.Join(work, fmt.Sprintf("%s-results-%d.log", name, boot))
		fmt.Printf("e2e: boot %d: %s\n", boot, args)
		qa := append(append([]string{}, m.qemuArgs...), "-m", "1536", "-smp", "2",
			"-kernel", g.kernel, "-initrd", g.initrd, "-append", args,
			"-drive", "file="+g.disk+",format=raw,if=none,id=root0", "-device", "virtio-blk-pci,drive=root0",
			"-drive", "file="+nvme+",format=raw,if=none,id=nv0", "-device", "nvme,drive=nv0,serial=ezedge0",
			"-serial", "file:"+con,
			"-display", "none", "-monitor", "none", "-nic", "none", "-no-reboot")
		if m.results == "/dev/hvc0" {
			qa = append(qa, "-device", "virtio-serial-pci", "-chardev", "file,id=res0,path="+res, "-device", "virtconsole,chardev=res0")
		} else {
			qa = append(qa, "-serial", "file:"+res)
		}
		if err := bootOnce(exec.Command(m.qemu, qa...), name, boot, con, res, outDir, bootTimeout); err != nil {
			return err
		}
	}
	return nil
}

// bootOnce runs one boot (q, a qemu that powers off at the end of the
// step) under a hard timeout and reports its results; a failed boot's
// serial logs are kept in outDir.
func bootOnce(q *exec.Cmd, name string, boot int, con, res, outDir string, bootTimeout time.Duration) error {
	t := time.Now()
	if err := q.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- q.Wait() }()
	timedOut := false
	select {
	case <-done:
	case <-time.After(bootTimeout):
		q.Process.Kill()
		<-done
		timedOut = true
	}
	pass, fail, ended := report(res, boot)
	passed, failed = passed+pass, failed+fail
	fmt.Printf("e2e: boot %d: %d passed, %d failed in %.0f s\n", boot, pass, fail, time.Since(t).Seconds())
	if !timedOut && ended && fail == 0 {
		return nil
	}
	if fail == 0 {
		failed++
	}
	if timedOut {
		fmt.Printf("FAIL boot%d timeout after %s\n", boot, bootTimeout)
	} else if !ended {
		fmt.Printf("FAIL boot%d the scenario did not finish\n", boot)
	}
	os.MkdirAll(outDir, 0o755)
	for _, f := range []string{con, res} {
		if b, err := os.ReadFile(f); err == nil {
			os.WriteFile(filepath.Join(outDir, filepath.Base(f)), b, 0o644)
		}
	}
	fmt.Printf("e2e: serial logs of boot %d kept in %s\n", boot, outDir)
	return fmt.Errorf("scenario %s: boot %d failed", name, boot)
}

// report prints a boot's result lines and counts them.
func report(path string, boot int) (pass, fail int, ended bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.HasPrefix(l, "PASS "):
			pass++
		case strings.HasPrefix(l, "FAIL "):
			fail++
		case l == fmt.Sprintf("END boot%d", boot):
			ended = true
			continue
		}
		if l != "" {
			fmt.Println(l)
		}
	}
	return pass, fail, ended
}

// grubCommandLine reads /etc/default/grub and its grub.d drop-ins out of
// the ext4 image (debugfs, no mount) and evaluates them as grub-mkconfig
// would.
func grubCommandLine(disk string) (string, error) {
	cat := func(p string) ([]byte, error) {
		return exec.Command("debugfs", "-R", "cat "+p, disk).Output()
	}
	names := []string{"/etc/default/grub"}
	ls, _ := exec.Command("debugfs", "-R", "ls -l /etc/default/grub.d", disk).Output()
	var drops []string
	for _, l := range strings.Split(string(ls), "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && strings.HasSuffix(f[len(f)-1], ".cfg") {
			drops = append(drops, "/etc/default/grub.d/"+f[len(f)-1])
		}
	}
	sort.Strings(drops)
	names = append(names, drops...)
	var contents [][]byte
	for _, n := range names {
		b, err := cat(n)
		if err != nil {
			return "", fmt.Errorf("debugfs cat %s: %v", n, err)
		}
		contents = append(contents, b)
	}
	vars, err := cmdline.EvalGrub(names, contents)
	if err != nil {
		return "", err
	}
	return cmdline.Kernel(vars), nil
}
