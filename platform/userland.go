package platform

import (
	"debug/elf"
	"fmt"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// Where ezedge-host is installed in a root: the Debian package's binary
// first, then where `firstboot install` copies one when there is none.
// ProfileFile is the root's own profile, the first layer of every
// command's profile (internal/profile): the package's conffile, and where
// `firstboot install --profile` puts one.
const (
	PackagedBinary = "/usr/sbin/ezedge-host"
	LocalBinary    = "/usr/local/sbin/ezedge-host"
	ProfileFile    = "/etc/ezedge-host/profile.yaml"
)

// InstalledBinary is the ezedge-host a unit in the root at h should run:
// the packaged one when the package is installed, else the copied one.
func InstalledBinary(h *hostroot.Root) string {
	if h.Exists(PackagedBinary) {
		return PackagedBinary
	}
	return LocalBinary
}

// detectUserland reads the architecture of the root's programs, which on a
// Raspberry Pi may differ from the kernel's: Raspberry Pi OS's 32-bit
// (armhf) userland boots a 64-bit kernel on a Pi 4 or 5 by default.
// dpkg's own package says it first; an image without a dpkg database is
// asked through the ELF header of its shell.
func (f *Facts) detectUserland(h *hostroot.Root, status []byte) {
	// dpkg is never a foreign package: its architecture is the root's.
	for _, fields := range dpkgStanzas(status, "dpkg") {
		a := dpkgValue(fields, "Architecture")
		if a == "" {
			continue
		}
		f.Userland = a
		f.Evidence = append(f.Evidence, fmt.Sprintf("userland: %s (Architecture of dpkg in %s)", a, DpkgStatus))
		f.noteArmhf()
		return
	}
	for _, bin := range []string{"/bin/sh", "/usr/bin/sh"} {
		if m, ok := elfMachine(h, bin); ok {
			a := ELFArch(m)
			if a == "" {
				continue
			}
			f.Userland = a
			f.Evidence = append(f.Evidence, fmt.Sprintf("userland: %s (ELF machine of %s)", a, bin))
			f.noteArmhf()
			return
		}
	}
}

func (f *Facts) noteArmhf() {
	if f.Userland != "armhf" {
		return
	}
	if f.Arch == "unknown" {
		if f.Runtime {
			f.Evidence = append(f.Evidence, "userland: armhf on a 32-bit kernel (arm_64bit=0): not supported, the tasks are planned for a 64-bit kernel")
			return
		}
		f.Evidence = append(f.Evidence, "userland: armhf: an image does not say whether its kernel is 64-bit; give --platform rpi4 or rpi5 (Raspberry Pi OS boots a 64-bit kernel on both)")
		return
	}
	f.Evidence = append(f.Evidence, fmt.Sprintf("userland: armhf programs on a %s kernel: the tasks tune the kernel and its files, the same as on a 64-bit userland; run the armhf package", f.Arch))
}

// ELFArch is the Debian architecture of an ELF machine ezedge-host is built
// for ("" otherwise). 32-bit ARM is armhf: ezedge-host's armhf build is
// static, so an armel root would run it too, but Raspberry Pi OS is armhf.
func ELFArch(m elf.Machine) string {
	switch m {
	case elf.EM_X86_64:
		return "amd64"
	case elf.EM_AARCH64:
		return "arm64"
	case elf.EM_ARM:
		return "armhf"
	}
	return ""
}

// ManDocumentation is a unit's Documentation= line for man page (section
// 8) when binary is the packaged one, which installs its man pages; ""
// for a copied binary, which has none (systemd-analyze verify fails a unit
// naming a page man cannot find).
func ManDocumentation(binary, page string) string {
	if binary != PackagedBinary {
		return ""
	}
	return "Documentation=man:" + page + "(8)\n"
}
