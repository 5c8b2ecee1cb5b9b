package platform

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// elf32 is a little-endian 32-bit ELF header for machine m.
func elf32(m elf.Machine) []byte {
	b := make([]byte, 52)
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS], b[elf.EI_DATA], b[elf.EI_VERSION] = byte(elf.ELFCLASS32), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	binary.LittleEndian.PutUint16(b[16:], uint16(elf.ET_EXEC))
	binary.LittleEndian.PutUint16(b[18:], uint16(m))
	return b
}

// TestUserlandArmhf: Raspberry Pi OS's 32-bit userland on a Pi 4's 64-bit
// kernel is arm64 (the kernel) with an armhf userland (dpkg's own
// package), both in the evidence.
func TestUserlandArmhf(t *testing.T) {
	t.Parallel()
	dir := fixture.Copy(t, "pi4-8gb-bullseye")
	os.MkdirAll(filepath.Join(dir, "var/lib/dpkg"), 0o755)
	os.WriteFile(filepath.Join(dir, "var/lib/dpkg/status"), []byte("Package: base-files\nStatus: install ok installed\nArchitecture: armhf\nVersion: 11.1\n\nPackage: dpkg\nStatus: install ok installed\nArchitecture: armhf\nVersion: 1.20.12\n"), 0o644)
	f := detect(t, dir)
	if f.Arch != "arm64" || f.Userland != "armhf" || f.Platform != RPi4 {
		t.Fatalf("arch %s userland %s platform %s", f.Arch, f.Userland, f.Platform)
	}
	ev := strings.Join(f.Evidence, "\n")
	if !strings.Contains(ev, "userland: armhf (Architecture of dpkg in /var/lib/dpkg/status)") || !strings.Contains(ev, "armhf programs on a arm64 kernel") {
		t.Errorf("evidence:\n%s", ev)
	}
}

// TestUserlandArmhfImage: an armhf image root (no /proc, no dpkg
// database) is known by its shell; its kernel is not, until --platform
// says which Pi.
func TestUserlandArmhfImage(t *testing.T) {
	t.Parallel()
	dir := root(t, map[string][]byte{"bin/sh": elf32(elf.EM_ARM)})
	f := detect(t, dir)
	if f.Arch != "unknown" || f.Userland != "armhf" || !strings.Contains(strings.Join(f.Evidence, "\n"), "give --platform rpi4 or rpi5") {
		t.Fatalf("arch %s userland %s\n%s", f.Arch, f.Userland, strings.Join(f.Evidence, "\n"))
	}
	h, _ := hostroot.Open(dir)
	defer h.Close()
	f, err := DetectAs(h, RPi4, Observe{})
	if err != nil || f.Arch != "arm64" || f.Userland != "armhf" {
		t.Fatalf("--platform rpi4: %v %s %s", err, f.Arch, f.Userland)
	}
	if f.Binary != LocalBinary {
		t.Errorf("binary %s without the package", f.Binary)
	}
	os.MkdirAll(filepath.Join(dir, "usr/sbin"), 0o755)
	os.WriteFile(filepath.Join(dir, "usr/sbin/ezedge-host"), elf32(elf.EM_ARM), 0o755)
	if b := InstalledBinary(h); b != PackagedBinary {
		t.Errorf("binary %s with the package", b)
	}
}

// Only the packaged binary's units name its man pages: a copied binary has
// none, and systemd-analyze verify fails a unit naming a missing page.
func TestManDocumentation(t *testing.T) {
	t.Parallel()
	if got := ManDocumentation(PackagedBinary, "ezedge-host-check"); got != "Documentation=man:ezedge-host-check(8)\n" {
		t.Fatalf("%q", got)
	}
	if got := ManDocumentation(LocalBinary, "ezedge-host-check"); got != "" {
		t.Fatalf("%q", got)
	}
}
