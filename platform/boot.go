package platform

import (
	"fmt"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/cmdline"
	"github.com/ezansiedgeai/ezedge-host/hostroot"
)

// Boot is how the host's kernel command line is set.
type Boot struct {
	// Loader is "rpi-firmware", "grub" or "none".
	Loader string `json:"loader"`
	// CmdlineFile is the file ezedge-host edits: the cmdline.txt the Pi
	// firmware reads, or /etc/default/grub.
	CmdlineFile string `json:"cmdline_file,omitempty"`
	// GrubDropIn is true where grub-mkconfig reads /etc/default/grub.d.
	GrubDropIn bool `json:"grub_drop_in,omitempty"`
	// Generator regenerates grub.cfg after a change; empty when none is
	// installed.
	Generator []string `json:"generator,omitempty"`
	// Running is the command line the kernel booted with (/proc/cmdline).
	Running string `json:"running,omitempty"`
}

func (f *Facts) detectBoot(h *hostroot.Root) {
	b := &f.Boot
	if pc, err := h.ReadFile("/proc/cmdline"); err == nil {
		b.Running = strings.TrimSpace(string(pc))
	}
	if f.Platform.IsRaspberryPi() || f.Arch == "arm64" && (h.Exists("/boot/firmware/config.txt") || h.Exists("/boot/config.txt")) {
		prefix := ""
		if p, err := h.ReadFile("/proc/device-tree/chosen/os_prefix"); err == nil {
			prefix = strings.TrimRight(string(p), "\x00\n")
		}
		for _, dir := range []string{"/boot/firmware/", "/boot/"} {
			name := dir + prefix + "cmdline.txt"
			data, err := h.ReadFile(name)
			if err != nil {
				continue
			}
			if line, _ := cmdline.FirstLine(data); strings.HasPrefix(strings.TrimSpace(line), cmdline.PiStub) {
				f.Evidence = append(f.Evidence, fmt.Sprintf("boot: %s is the Bookworm stub, passed over", name))
				continue
			}
			b.Loader, b.CmdlineFile = "rpi-firmware", name
			why := "first of /boot/firmware, /boot"
			if prefix != "" {
				why += fmt.Sprintf(", with os_prefix %q from /proc/device-tree/chosen/os_prefix", prefix)
			}
			f.Evidence = append(f.Evidence, fmt.Sprintf("boot: Raspberry Pi firmware reads %s (%s)", name, why))
			return
		}
	}
	if h.Exists("/etc/default/grub") {
		b.Loader, b.CmdlineFile = "grub", "/etc/default/grub"
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
		for _, g := range [][]string{
			{"/usr/sbin/update-grub"}, {"/sbin/update-grub"},
			{"/usr/sbin/grub-mkconfig", "-o", "/boot/grub/grub.cfg"},
			{"/usr/sbin/grub2-mkconfig", "-o", "/boot/grub2/grub.cfg"},
		} {
			if h.Exists(g[0]) {
				b.Generator = g
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
	b.Loader = "none"
	f.Evidence = append(f.Evidence, "boot: no cmdline.txt and no /etc/default/grub: the kernel command line is not managed")
}
