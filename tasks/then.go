package tasks

import (
	"fmt"

	"github.com/ezansiedgeai/ezedge-host/hostroot"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// Then is what must follow a change, and its restore, on a live host.
// It is a name, not a command: the command is worked out from the running
// system's own files when it runs, so no command line is ever taken from a
// journal or a saved plan.
type Then string

const (
	// RegenerateGrub rebuilds grub.cfg after its defaults changed.
	RegenerateGrub Then = "regenerate-grub"
)

// ParseThen accepts only the names above.
func ParseThen(s string) (Then, error) {
	switch Then(s) {
	case RegenerateGrub:
		return Then(s), nil
	}
	return "", fmt.Errorf("unknown follow-up %q", s)
}

// Command is the command t runs on the system at h, or an error when it has
// none.
func (t Then) Command(h *hostroot.Root) ([]string, error) {
	switch t {
	case RegenerateGrub:
		if g := platform.GrubGenerator(h); g != nil {
			return g, nil
		}
		return nil, fmt.Errorf("no grub.cfg generator (update-grub, grub-mkconfig, grub2-mkconfig) installed")
	}
	return nil, fmt.Errorf("unknown follow-up %q", t)
}
