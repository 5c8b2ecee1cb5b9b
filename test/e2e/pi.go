package main

// The Raspberry Pi scenario: Debian bookworm arm64 in Debian's Raspberry Pi
// layout (raspi-firmware, linux-image-arm64, /boot/firmware a FAT
// partition) on an SD card image, booted three times under QEMU's raspi4b
// machine. The guest is made on an overlay of the shared Pi root
// (debroot.BookwormArm64Pi, which test/realroots uses too). Bookworm's
// QEMU (7.2) has no raspi4b (it came in QEMU 9.0), so QEMU comes from
// Debian trixie: it runs chrooted in an overlay of the shared trixie root
// (debroot.TrixieAMD64), its working files inside that overlay, so
// nothing is bind-mounted and the root stays as built.
//
// The harness plays the Pi's firmware: before each boot it reads
// config.txt and cmdline.txt from the image's FAT partition (mtools, no
// mount), takes the kernel, initramfs and device tree config.txt names
// from there (raspi-firmware's hook copies them in at every kernel and
// initramfs update) and passes cmdline.txt's line, so what apply and
// update-initramfs leave in cmdline.txt is what the next boot gets.

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/cmdline"
	"github.com/ezansiedgeai/ezedge-host/internal/formats/configtxt"
	"github.com/ezansiedgeai/ezedge-host/test/debroot"
)

var (
	//go:embed guest/pi-step.sh
	piStepScript []byte
	//go:embed guest/pi-profile.yaml
	piProfile []byte
)

// The SD card (QEMU wants a power-of-two size): an MBR with the FAT
// partition the firmware reads (4 MiB to 256 MiB) and the ext4 root.
const (
	sdSize    = 2 << 30
	fatOffset = 4 << 20
	fatSize   = 252 << 20
	rootStart = 256 << 20
	rootSize  = sdSize - rootStart
	sdLayout  = "label: dos\nstart=8192, size=516096, type=c\nstart=524288, type=83\n"
)

// rootPart is the ROOTPART raspi-firmware's hook writes into cmdline.txt
// (Debian's own images say LABEL=RASPIROOT): the mmc aliases the harness
// adds to the device tree make the card mmcblk0 at every boot.
const rootPart = "/dev/mmcblk0p2"

// piFirmwareDefaults is added to the guest's /etc/default/raspi-firmware
// (see piImage).
const piFirmwareDefaults = "\n# The end-to-end image (see test/e2e/pi.go).\nROOTPART=" + rootPart + "\nCONSOLES=\"tty0 ttyS1,115200\"\nCMA=0\n"

const piFstab = "/dev/mmcblk0p2 / ext4 rw,errors=remount-ro 0 1\n/dev/mmcblk0p1 /boot/firmware vfat rw 0 2\n"

// piResults is the Pi's PL011 UART (the first -serial of raspi4b); the
// kernel's console is the mini UART (the second), which Debian's
// cmdline.txt names (ttyS1).
const piResults = "/dev/ttyAMA0"

// runPi runs the Raspberry Pi scenario.
func runPi(cacheDir, outDir, bin string, bootTimeout time.Duration) error {
	for _, tool := range []string{"mmdebstrap", "mcopy", "mkfs.vfat", "sfdisk", "mke2fs", "fdtput", "fdtget", "chroot"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not installed (make e2e installs it: apt-get install mtools dosfstools fdisk device-tree-compiler)", tool)
		}
	}
	// Both roots are shared (built once per machine); a build is mostly
	// waiting on the mirror, dpkg and qemu-user: side by side.
	var qroot string
	qerr := make(chan error, 1)
	go func() {
		var err error
		qroot, err = debroot.Build(cacheDir, debroot.TrixieAMD64)
		qerr <- err
	}()
	root, err := debroot.Build(cacheDir, debroot.BookwormArm64Pi)
	if e := <-qerr; err == nil {
		err = e
	}
	if err != nil {
		return err
	}
	layers, err := os.MkdirTemp("", "ezedge-pi-layers")
	if err != nil {
		return err
	}
	defer os.RemoveAll(layers)
	q, err := debroot.NewLayer(qroot, filepath.Join(layers, "qemu"))
	if err != nil {
		return err
	}
	if err := q.Mount(); err != nil {
		return err
	}
	defer q.Unmount()
	qroot = q.Root()
	// The working files live inside the QEMU overlay, where its QEMU sees
	// them; inChroot maps a path there to QEMU's.
	work, err := os.MkdirTemp(filepath.Join(qroot, "tmp"), "ezedge-pi")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	inChroot := func(p string) string { return "/" + strings.TrimPrefix(p, qroot+"/") }

	fmt.Println("e2e: scenario pi")
	sd := filepath.Join(work, "sd.img")
	if err := piImage(root, filepath.Join(layers, "guest"), bin, sd); err != nil {
		return err
	}
	for boot := 1; boot <= 3; boot++ {
		fw, err := piFirmware(sd, filepath.Join(work, fmt.Sprintf("fw%d", boot)))
		if err != nil {
			return err
		}
		// The harness adds its markers after cmdline.txt's line, and
		// makes tty0 the last console, so /dev/console: the mini UART
		// (ttyS1, Debian's serial console) still gets the kernel's
		// messages, written without its interrupt, but no program may
		// open it (see piImage).
		args := fw.cmdline + " ezedge.scenario=pi ezedge.results=" + piResults + " systemd.firstboot=off panic=-1 console=tty0"
		fmt.Printf("e2e: boot %d: %s (kernel %s, initramfs %s, device tree %s)\n", boot, args, fw.names[0], fw.names[1], fw.names[2])
		con := filepath.Join(work, fmt.Sprintf("pi-console-%d.log", boot))
		res := filepath.Join(work, fmt.Sprintf("pi-results-%d.log", boot))
		q := exec.Command("chroot", qroot, "qemu-system-aarch64", "-M", "raspi4b", "-m", "2G",
			"-kernel", inChroot(fw.kernel), "-initrd", inChroot(fw.initrd), "-dtb", inChroot(fw.dtb), "-append", args,
			"-drive", "file="+inChroot(sd)+",format=raw,if=sd",
			"-serial", "file:"+inChroot(res), "-serial", "file:"+inChroot(con),
			"-display", "none", "-monitor", "none", "-nic", "none", "-no-reboot")
		if err := bootOnce(q, "pi", boot, con, res, outDir, bootTimeout); err != nil {
			return err
		}
	}
	return nil
}

// piImage makes the SD card image from an overlay of the cached root
// (under dir): raspi-firmware set for the Pi 4 and its hook run again,
// the scenario and ezedge-host added, /boot/firmware's files on a FAT
// partition (mkfs.vfat, mcopy), the rest on ext4 (mke2fs -d), both written
// into a partitioned image (sfdisk) without a loop mount.
func piImage(root, dir, bin, sd string) error {
	l, err := debroot.NewLayer(root, dir)
	if err != nil {
		return err
	}
	if err := l.Mount(); err != nil {
		return err
	}
	defer func() {
		l.Unmount()
		os.RemoveAll(dir)
	}()
	guest := l.Root()
	if err := piRaspiFirmware(guest); err != nil {
		return err
	}
	if err := piGuestFiles(guest, bin); err != nil {
		return err
	}
	return piDisk(guest, sd)
}

// piRaspiFirmware sets raspi-firmware's defaults in the guest and runs its
// hook there.
func piRaspiFirmware(guest string) error {
	// Set as an administrator would, then raspi-firmware's hook (which
	// every kernel and initramfs update runs) regenerates cmdline.txt and
	// config.txt in /boot/firmware. Left to "auto", the hook writes a
	// line that depends on where it runs: console= for each of
	// /dev/ttyAMA0 and /dev/ttyS1 present, cma=64M unless the device tree
	// says Pi 4. Made in a chroot the image would get another line than
	// the Pi makes at its first kernel update, and the pristine line
	// could not come back. These are the values auto gives on a real Pi 4
	// (ttyAMA0 is Bluetooth's there; no cma=), and they keep console
	// output off the results port. Only the guest has them: the shared
	// root keeps raspi-firmware's own defaults (realroots checks the
	// hook with those).
	defaults, err := os.OpenFile(filepath.Join(guest, "etc/default/raspi-firmware"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := defaults.WriteString(piFirmwareDefaults); err != nil {
		defaults.Close()
		return err
	}
	if err := defaults.Close(); err != nil {
		return err
	}
	if out, err := debroot.Chroot(guest, debroot.Mounts{}, nil, "/etc/initramfs/post-update.d/z50-raspi-firmware"); err != nil {
		return fmt.Errorf("raspi-firmware's hook in the guest: %v: %s", err, out)
	}
	return nil
}

// piGuestFiles puts the scenario, its unit and ezedge-host (bin) into the
// guest.
func piGuestFiles(guest, bin string) error {
	self, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	id := make([]byte, 16)
	rand.Read(id)
	files := map[string]struct {
		data []byte
		mode os.FileMode
	}{
		"usr/local/sbin/e2e-step":               {piStepScript, 0o755},
		"usr/local/sbin/ezedge-host":            {self, 0o755},
		"etc/systemd/system/ezedge-e2e.service": {stepUnit, 0o644},
		// Boot 1 runs apply and update-initramfs on an emulated CPU.
		"etc/systemd/system/ezedge-e2e.service.d/pi.conf": {[]byte("[Service]\nTimeoutStartSec=480\n"), 0o644},
		"etc/e2e/pi-profile.yaml":                         {piProfile, 0o644},
		"etc/machine-id":                                  {[]byte(hex.EncodeToString(id) + "\n"), 0o444},
		"etc/fstab":                                       {[]byte(piFstab), 0o644},
		"etc/hostname":                                    {[]byte("ezedge-e2e-pi\n"), 0o644},
		// Masked: no getty on the results port; and none on the mini
		// UART, which systemd-getty-generator would also open to check
		// it: in QEMU the mini UART's interrupt never clears once the
		// 8250 driver requests it, and CPU 0 stalls in the handler.
		"etc/systemd/system-generators/systemd-getty-generator": {nil, 0},
		"etc/systemd/system/getty@tty1.service":                 {nil, 0},
	}
	for p, f := range files {
		full := filepath.Join(guest, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if f.data == nil {
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
	wants := filepath.Join(guest, "etc/systemd/system/multi-user.target.wants")
	os.MkdirAll(wants, 0o755)
	if err := os.Symlink("/etc/systemd/system/ezedge-e2e.service", filepath.Join(wants, "ezedge-e2e.service")); err != nil {
		return err
	}
	return nil
}

// piDisk writes the guest into the SD card image sd: /boot/firmware's
// files on a FAT partition, the rest on ext4, without a loop mount.
func piDisk(guest, sd string) error {
	fwDir := filepath.Join(guest, "boot/firmware")
	fwFiles, _ := filepath.Glob(filepath.Join(fwDir, "*"))
	if len(fwFiles) == 0 {
		return fmt.Errorf("%s is empty: raspi-firmware's hook did not run", fwDir)
	}
	fat := sd + ".fat"
	if err := sh("mkfs.vfat", "-C", "-n", "RASPIFIRM", fat, fmt.Sprint(fatSize>>10)); err != nil {
		return err
	}
	if err := sh("mcopy", append(append([]string{"-s", "-p", "-i", fat}, fwFiles...), "::/")...); err != nil {
		return err
	}
	for _, f := range fwFiles {
		if err := os.RemoveAll(f); err != nil {
			return err
		}
	}
	ext := sd + ".root"
	if err := sh("mke2fs", "-q", "-t", "ext4", "-L", "RASPIROOT", "-d", guest, ext, fmt.Sprintf("%dM", rootSize>>20)); err != nil {
		return err
	}
	if err := os.WriteFile(sd, nil, 0o644); err != nil {
		return err
	}
	if err := os.Truncate(sd, sdSize); err != nil {
		return err
	}
	sf := exec.Command("sfdisk", "--quiet", sd)
	sf.Stdin = strings.NewReader(sdLayout)
	if out, err := sf.CombinedOutput(); err != nil {
		return fmt.Errorf("sfdisk: %v: %s", err, out)
	}
	for part, off := range map[string]int64{fat: fatOffset, ext: rootStart} {
		if err := writeAt(sd, part, off); err != nil {
			return err
		}
		os.Remove(part)
	}
	return nil
}

// writeAt copies the file part into disk at off, skipping blocks of
// zeros so the image stays sparse.
func writeAt(disk, part string, off int64) error {
	d, err := os.OpenFile(disk, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	p, err := os.Open(part)
	if err != nil {
		return err
	}
	defer p.Close()
	buf := make([]byte, 1<<16)
	zero := make([]byte, len(buf))
	for pos := int64(0); ; {
		n, err := io.ReadFull(p, buf)
		if n > 0 && !bytes.Equal(buf[:n], zero[:n]) {
			if _, werr := d.WriteAt(buf[:n], off+pos); werr != nil {
				return werr
			}
		}
		pos += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return err
		}
	}
	return d.Close()
}

// piBoot is what the firmware would boot: the files it loads (copied out
// of the image; the device tree edited for QEMU) and the command line.
type piBoot struct {
	kernel, initrd, dtb, cmdline string
	names                        [3]string
}

// piBoard is the Pi 4 as config.txt's conditional sections see it.
var piBoard = configtxt.Model{Known: true, Yes: []string{"pi4"}}

// piFirmware reads config.txt as the Pi 4 firmware does (kernel=,
// os_prefix=, device_tree=, cmdline=, the initramfs line) from the FAT
// partition and copies what it names into dir.
func piFirmware(sd, dir string) (*piBoot, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	img := fmt.Sprintf("%s@@%d", sd, fatOffset)
	cache := map[string][]byte{}
	read := func(name string) ([]byte, error) {
		if b, ok := cache[name]; ok {
			return b, nil
		}
		dst := filepath.Join(dir, "read")
		os.Remove(dst)
		if out, err := exec.Command("mcopy", "-n", "-i", img, "::"+name, dst).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("mcopy %s: %v: %s", name, err, out)
		}
		b, err := os.ReadFile(dst)
		cache[name] = b
		return b, err
	}
	set, err := configtxt.Eval(read, "/config.txt", piBoard, "kernel", "os_prefix", "device_tree", "cmdline", "arm_64bit")
	if err != nil {
		return nil, fmt.Errorf("config.txt: %v", err)
	}
	conf, _ := read("/config.txt")
	val := func(k, def string) string {
		if s, ok := set[k]; ok && s.Value != "" {
			return s.Value
		}
		return def
	}
	prefix := val("os_prefix", "")
	kernel := path.Join("/", prefix+val("kernel", "kernel8.img"))
	dtbName := path.Join("/", prefix+val("device_tree", "bcm2711-rpi-4-b.dtb"))
	initrd := initramfsLine(conf)
	if initrd == "" {
		return nil, fmt.Errorf("config.txt names no initramfs:\n%s", conf)
	}
	initrd = path.Join("/", prefix+initrd)
	line, err := read(path.Join("/", val("cmdline", "cmdline.txt")))
	if err != nil {
		return nil, err
	}
	first, _ := cmdline.FirstLine(line)
	b := &piBoot{kernel: filepath.Join(dir, "kernel"), initrd: filepath.Join(dir, "initrd"), dtb: filepath.Join(dir, "pi.dtb"),
		cmdline: strings.TrimSpace(first), names: [3]string{kernel, initrd, dtbName}}
	for src, dst := range map[string]string{kernel: b.kernel, initrd: b.initrd, dtbName: b.dtb} {
		if out, err := exec.Command("mcopy", "-n", "-i", img, "::"+src, dst).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("mcopy %s: %v: %s", src, err, out)
		}
	}
	return b, qemuDeviceTree(b.dtb)
}

// initramfsLine is the file of config.txt's last "initramfs FILE
// [followkernel]" line in a section that holds on a Pi 4 (configtxt
// evaluates key=value settings only).
func initramfsLine(conf []byte) string {
	holds, file := true, ""
	for _, l := range strings.Split(string(conf), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "[") {
			sec := strings.TrimSuffix(strings.TrimPrefix(l, "["), "]")
			holds = sec == "all" || sec == "pi4"
			continue
		}
		if f := strings.Fields(l); holds && len(f) >= 2 && f[0] == "initramfs" {
			file = f[1]
		}
	}
	return file
}

// qemuDeviceTree edits the Pi 4 device tree (fdtput, in place) for what
// QEMU's raspi4b does and does not emulate:
//   - the display pipeline (HDMI, HVS, pixel valves, TXP, DVP, /gpu) and
//     the display interrupt controller at 0x7ef00100 are disabled: their
//     drivers panic at init and hang poweroff;
//   - QEMU puts the SD card on the Arasan SDHCI (mmc@7e300000, routed by
//     its GPIO model), where a real Pi 4 has its WiFi chip, not on eMMC2:
//     that controller loses its WiFi power sequence (it waits on the
//     firmware's GPIO expander, which QEMU lacks, and the controller never
//     probes) and its WiFi child;
//   - the Bluetooth chip on the PL011 UART is removed: with it the UART is
//     a serdev bus, not ttyAMA0, the results port;
//   - /chosen gets an rng-seed, as a bootloader gives one (the kernel
//     trusts it: RANDOM_TRUST_BOOTLOADER): QEMU's raspi4b has no RNG
//     (it disables RNG200) and gives no seed, so the kernel's pool filled
//     only after minutes, and systemd-random-seed, which waits for it once
//     a seed file exists (every boot after the first), held the boot.
//
// and mmc0/mmc1 aliases make the card mmcblk0 at every boot (without them
// the kernel numbers the controllers in probe order).
func qemuDeviceTree(dtb string) error {
	fdt := func(args ...string) (string, error) {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
	soc, err := fdt("fdtget", "-l", dtb, "/soc")
	if err != nil {
		return err
	}
	// Found by compatible (the DVP is clock@7ef00000), so a later
	// kernel's device tree with other unit addresses is edited alike.
	var disable []string
	for _, n := range strings.Fields(soc) {
		c, _ := fdt("fdtget", dtb, "/soc/"+n, "compatible")
		for _, want := range []string{"-hdmi", "-hvs", "-pixelvalve", "-txp", "-dvp"} {
			if strings.Contains(c, want) {
				disable = append(disable, "/soc/"+n)
				break
			}
		}
		if n == "interrupt-controller@7ef00100" {
			disable = append(disable, "/soc/"+n)
		}
	}
	if len(disable) < 9 {
		return fmt.Errorf("device tree %s: the display nodes were not all found under /soc (%v)", dtb, disable)
	}
	disable = append(disable, "/gpu")
	for _, n := range disable {
		if _, err := fdt("fdtput", "-t", "s", dtb, n, "status", "disabled"); err != nil {
			return err
		}
	}
	const sdhci, emmc2 = "/soc/mmc@7e300000", "/emmc2bus/mmc@7e340000"
	b := make([]byte, 64)
	rand.Read(b)
	var seed []string
	for _, x := range b {
		seed = append(seed, fmt.Sprintf("%02x", x))
	}
	for _, edit := range [][]string{
		{"fdtput", "-d", dtb, sdhci, "mmc-pwrseq"},
		{"fdtput", "-r", dtb, sdhci + "/wifi@1"},
		{"fdtput", "-r", dtb, "/soc/serial@7e201000/bluetooth"},
		append([]string{"fdtput", "-t", "bx", dtb, "/chosen", "rng-seed"}, seed...),
		{"fdtput", "-t", "s", dtb, "/aliases", "mmc0", sdhci},
		{"fdtput", "-t", "s", dtb, "/aliases", "mmc1", emmc2},
	} {
		if _, err := fdt(edit...); err != nil {
			return err
		}
	}
	return nil
}
