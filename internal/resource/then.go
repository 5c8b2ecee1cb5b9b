package resource

import (
	"fmt"
	"slices"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// Then is what must follow a change, and its restore, on a live host.
// It is a name, not a command: the command is worked out from the running
// system's own files when it runs, so no command line is ever taken from a
// journal or a saved plan.
type Then string

const (
	// RegenerateGrub rebuilds grub.cfg after its defaults changed.
	RegenerateGrub Then = "regenerate-grub"
	// RegenerateRaspiFirmware remakes Debian's raspi-firmware cmdline.txt
	// (and config.txt) after /etc/default/raspi-extra-cmdline changed.
	RegenerateRaspiFirmware Then = "regenerate-raspi-firmware"
)

// RaspiFirmwareRegenPath is Debian raspi-firmware's own initramfs hook,
// which runs its kernel hook as a kernel update does.
const RaspiFirmwareRegenPath = "/etc/initramfs/post-update.d/z50-raspi-firmware"

// ParseThen accepts only the names above.
func ParseThen(s string) (Then, error) {
	switch Then(s) {
	case RegenerateGrub, RegenerateRaspiFirmware:
		return Then(s), nil
	}
	return "", fmt.Errorf("unknown follow-up %q", s)
}

// Command is the command t runs on the system at h, or an error when it has
// none.
func (t Then) Command(h *hostroot.Root) ([]string, error) {
	switch t {
	case RegenerateGrub:
		if g := GrubGenerator(h); g != nil {
			return g, nil
		}
		return nil, fmt.Errorf("no grub.cfg generator (update-grub, grub-mkconfig, grub2-mkconfig) installed")
	case RegenerateRaspiFirmware:
		if h.Exists(RaspiFirmwareRegenPath) {
			return []string{RaspiFirmwareRegenPath}, nil
		}
		return nil, fmt.Errorf("raspi-firmware's hook %s is not installed", RaspiFirmwareRegenPath)
	}
	return nil, fmt.Errorf("unknown follow-up %q", t)
}

// grubGenerators are the commands that regenerate grub.cfg, in the order
// they are preferred. Only these ever run, and only on the running system:
// a command is never taken from a file in a root.
var grubGenerators = [][]string{
	{"/usr/sbin/update-grub"}, {"/sbin/update-grub"},
	{"/usr/sbin/grub-mkconfig", "-o", "/boot/grub/grub.cfg"},
	{"/usr/sbin/grub2-mkconfig", "-o", "/boot/grub2/grub.cfg"},
}

// GrubGenerator is the first of the known grub.cfg generators installed in
// the root, or nil.
func GrubGenerator(h *hostroot.Root) []string {
	for _, g := range grubGenerators {
		if h.Exists(g[0]) {
			return g
		}
	}
	return nil
}

// IsGrubGenerator reports whether cmd is exactly one of the known
// generators (a version 1 journal recorded the command itself).
func IsGrubGenerator(cmd []string) bool {
	return slices.ContainsFunc(grubGenerators, func(g []string) bool { return slices.Equal(g, cmd) })
}
