package platform

import (
	"fmt"
	"path"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/cmdline"
	"github.com/ezansiedgeai/ezedge-host/internal/formats/configtxt"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
)

// Loader is what sets the kernel command line at boot.
type Loader string

const (
	// LoaderPiFirmware: the Raspberry Pi firmware reads cmdline.txt.
	LoaderPiFirmware Loader = "rpi-firmware"
	// LoaderGrub: GRUB, configured through /etc/default/grub.
	LoaderGrub Loader = "grub"
	// LoaderNone: neither was found; the command line is not managed.
	LoaderNone Loader = "none"
)

// Boot is how the host's kernel command line is set.
type Boot struct {
	Loader Loader `json:"loader"`
	// CmdlineFile is the file ezedge-host edits: the cmdline.txt the Pi
	// firmware reads, or /etc/default/grub.
	CmdlineFile string `json:"cmdline_file,omitempty"`
	// GrubDropIn is true where grub-mkconfig reads /etc/default/grub.d.
	GrubDropIn bool `json:"grub_drop_in,omitempty"`
	// Generator regenerates grub.cfg after a change; empty when none is
	// installed.
	Generator []string `json:"generator,omitempty"`
	// Refused, when set, says why the kernel command line will not be
	// edited: config.txt leaves open which file the firmware reads.
	Refused string `json:"refused,omitempty"`
	// CmdlineInput, when set, is the file a generator makes CmdlineFile
	// from (Debian's raspi-firmware: /etc/default/raspi-extra-cmdline):
	// arguments go there, and Generator remakes the command line.
	CmdlineInput string `json:"cmdline_input,omitempty"`
	// GrubConfig is the grub.cfg grub-mkconfig generates, where it exists:
	// edited too where its generator cannot run (an image).
	GrubConfig string `json:"grub_config,omitempty"`
	// Running is the command line the kernel booted with (/proc/cmdline).
	Running string `json:"running,omitempty"`
}

func (f *Facts) detectBoot(h *hostroot.Root) {
	b := &f.Boot
	if pc, err := h.ReadFile("/proc/cmdline"); err == nil {
		b.Running = strings.TrimSpace(string(pc))
	}
	if f.Platform.IsRaspberryPi() || f.Arch == "arm64" && (h.Exists("/boot/firmware/config.txt") || h.Exists("/boot/config.txt")) {
		dtPrefix, dtErr := h.ReadFile("/proc/device-tree/chosen/os_prefix")
		for _, dir := range []string{"/boot/firmware/", "/boot/"} {
			if f.piCmdline(h, dir, strings.TrimRight(string(dtPrefix), "\x00\n"), dtErr == nil) {
				f.raspiFirmware(h)
				return
			}
		}
	}
	if h.Exists("/etc/default/grub") {
		b.Loader, b.CmdlineFile = LoaderGrub, "/etc/default/grub"
		for _, mk := range []string{"/usr/sbin/grub-mkconfig", "/sbin/grub-mkconfig"} {
			if s, err := h.ReadFile(mk); err == nil && strings.Contains(string(s), "default/grub.d") {
				b.GrubDropIn = true
			}
		}
		if osr, err := h.ReadFile("/etc/os-release"); err == nil && !b.GrubDropIn {
			// Debian's grub-mkconfig reads grub.d; an image without the
			// package installed yet still is Debian.
			for _, l := range strings.Split(string(osr), "\n") {
				if (strings.HasPrefix(l, "ID=") || strings.HasPrefix(l, "ID_LIKE=")) && (strings.Contains(l, "debian") || strings.Contains(l, "ubuntu")) {
					b.GrubDropIn = true
				}
			}
		}
		b.Generator = resource.GrubGenerator(h)
		for _, cfg := range []string{"/boot/grub/grub.cfg", "/boot/grub2/grub.cfg"} {
			if h.Exists(cfg) {
				b.GrubConfig = cfg
				break
			}
		}
		how := "edited in place"
		if b.GrubDropIn {
			how = "through a /etc/default/grub.d drop-in"
		}
		gen := "no grub.cfg generator installed"
		if len(b.Generator) > 0 {
			gen = "regenerated with " + strings.Join(b.Generator, " ")
		}
		f.Evidence = append(f.Evidence, fmt.Sprintf("boot: GRUB, command line %s, %s", how, gen))
		return
	}
	b.Loader = LoaderNone
	// Other generators of a boot configuration in Debian's packages, whose
	// inputs ezedge-host does not edit: say so rather than "none found".
	// (flash-kernel's database covers the Raspberry Pi 1 to 3 only; on a
	// Pi 4 or 5 the firmware's cmdline.txt is read, handled above.)
	switch {
	case h.Exists("/usr/sbin/u-boot-update"):
		b.Refused = "u-boot-menu makes /boot/extlinux/extlinux.conf from U_BOOT_PARAMETERS in /etc/default/u-boot (or /etc/kernel/cmdline); ezedge-host does not edit those"
	case h.Exists("/usr/sbin/flash-kernel"):
		b.Refused = "flash-kernel makes the boot script from LINUX_KERNEL_CMDLINE in /etc/default/flash-kernel; ezedge-host does not edit it"
	}
	if b.Refused != "" {
		f.Evidence = append(f.Evidence, "boot: "+b.Refused)
		return
	}
	f.Evidence = append(f.Evidence, "boot: no cmdline.txt and no /etc/default/grub: the kernel command line is not managed")
}

// piCmdline finds the file the Pi firmware reads the kernel command line
// from in boot partition dir: cmdline.txt, or what config.txt's cmdline=
// names, behind os_prefix (config.txt's for the next boot, else the one
// the firmware reported for this boot). It reports whether dir decided.
func (f *Facts) piCmdline(h *hostroot.Root, dir, dtPrefix string, hasDT bool) bool {
	b := &f.Boot
	refuse := func(why string) bool {
		b.Loader, b.Refused = LoaderPiFirmware, why+": cannot tell which file holds the kernel command line"
		f.Evidence = append(f.Evidence, "boot: "+b.Refused)
		return true
	}
	model := f.configModel()
	name, prefix := "cmdline.txt", dtPrefix
	why := []string{"first of /boot/firmware, /boot"}
	if hasDT && dtPrefix != "" {
		why = append(why, fmt.Sprintf("os_prefix %q from /proc/device-tree/chosen/os_prefix", dtPrefix))
	}
	chosen := false
	// autoboot.txt (A/B and tryboot layouts) makes the firmware boot from
	// another partition, whose cmdline.txt may not be the one mounted here.
	if auto := dir + "autoboot.txt"; h.Exists(auto) {
		set, err := configtxt.Eval(h.ReadFile, auto, model, "boot_partition")
		if err != nil {
			return refuse(err.Error())
		}
		if s, ok := set["boot_partition"]; ok && (s.Unsure != "" || strings.TrimSpace(s.Value) != "1") {
			where := fmt.Sprintf("%s: boot_partition=%s", s.Where(), s.Value)
			if s.Unsure != "" {
				where += " under " + s.Unsure
			}
			return refuse(fmt.Sprintf("%s: the firmware boots from the partition autoboot.txt names, which may not be the one mounted at %s", where, dir))
		}
	}
	cfg := dir + "config.txt"
	if h.Exists(cfg) {
		set, err := configtxt.Eval(h.ReadFile, cfg, model, "cmdline", "os_prefix")
		if err != nil {
			return refuse(fmt.Sprintf("%s: %v", cfg, err))
		}
		for _, k := range []string{"os_prefix", "cmdline"} {
			s, ok := set[k]
			if !ok {
				continue
			}
			if s.Unsure != "" {
				return refuse(fmt.Sprintf("%s: %s= is set under %s, which is only known at boot", s.Where(), k, s.Unsure))
			}
			if k == "cmdline" {
				name = strings.TrimLeft(s.Value, "/")
			} else {
				prefix = s.Value
			}
			why = append(why, fmt.Sprintf("%s=%s from %s", k, s.Value, s.Where()))
			chosen = true
		}
	}
	file := path.Clean(dir + prefix + name)
	if !strings.HasPrefix(file, dir) || name == "" {
		return refuse(fmt.Sprintf("%s: the kernel command line file %q is not in the boot partition %s", cfg, prefix+name, dir))
	}
	data, err := h.ReadFile(file)
	if err != nil && !chosen {
		return false
	}
	if line, _ := cmdline.FirstLine(data); err == nil && strings.HasPrefix(strings.TrimSpace(line), cmdline.PiStub) {
		f.Evidence = append(f.Evidence, fmt.Sprintf("boot: %s is the Bookworm stub, passed over", file))
		return false
	}
	b.Loader, b.CmdlineFile = LoaderPiFirmware, file
	f.Evidence = append(f.Evidence, fmt.Sprintf("boot: Raspberry Pi firmware reads %s (%s)", file, strings.Join(why, ", ")))
	return true
}

// configModel is which of config.txt's model filters hold on this board.
func (f *Facts) configModel() configtxt.Model {
	b := f.Board
	switch {
	case strings.Contains(b, "Raspberry Pi 400"):
		return configtxt.Model{Known: true, Yes: []string{"pi4", "pi400"}}
	case strings.Contains(b, "Compute Module 4S"):
		return configtxt.Model{Known: true, Yes: []string{"pi4", "cm4s"}}
	case strings.Contains(b, "Compute Module 4"):
		return configtxt.Model{Known: true, Yes: []string{"pi4", "cm4"}}
	case strings.Contains(b, "Raspberry Pi 4"):
		return configtxt.Model{Known: true, Yes: []string{"pi4"}}
	case strings.Contains(b, "Raspberry Pi 500"):
		return configtxt.Model{Known: true, Yes: []string{"pi5", "pi500"}}
	case strings.Contains(b, "Compute Module 5"):
		return configtxt.Model{Known: true, Yes: []string{"pi5", "cm5"}}
	case strings.Contains(b, "Raspberry Pi 5"):
		return configtxt.Model{Known: true, Yes: []string{"pi5"}}
	case f.Platform == RPi4:
		// An image given --platform: the family is known, the variant not.
		return configtxt.Model{Known: true, Yes: []string{"pi4"}, Maybe: []string{"pi400", "cm4", "cm4s"}}
	case f.Platform == RPi5:
		return configtxt.Model{Known: true, Yes: []string{"pi5"}, Maybe: []string{"pi500", "cm5"}}
	}
	return configtxt.Model{}
}

// Debian's raspi-firmware package generates /boot/firmware/cmdline.txt: its
// kernel hook (run on every kernel install and initramfs update) rewrites
// the whole file from /etc/default/raspi-firmware and appends the contents
// of /etc/default/raspi-extra-cmdline. An edit of cmdline.txt alone would
// be gone at the next kernel upgrade, so the arguments go into that input;
// and since the firmware reads cmdline.txt, not the input, they go into
// cmdline.txt too (on an image nothing runs the hook before it boots), and
// the hook is run on the running system as update-grub is for GRUB.
const (
	raspiFirmwareHook = resource.RaspiFirmwareHook
	RaspiExtraCmdline = resource.RaspiExtraCmdline
)

func (f *Facts) raspiFirmware(h *hostroot.Root) {
	b := &f.Boot
	if b.Refused != "" || !h.Exists(raspiFirmwareHook) {
		return
	}
	b.CmdlineInput = RaspiExtraCmdline
	if h.Exists(resource.RaspiFirmwareRegenPath) {
		b.Generator = []string{resource.RaspiFirmwareRegenPath}
	}
	f.Evidence = append(f.Evidence, fmt.Sprintf("boot: %s is generated by Debian's raspi-firmware (%s) from %s: kernel arguments go there, and into %s too", b.CmdlineFile, raspiFirmwareHook, RaspiExtraCmdline, b.CmdlineFile))
}
