package rollback

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
)

// RunThen runs the follow-ups of a change or its restore (regenerate
// grub.cfg), each once, in order. Only on the running system: for an image
// or fixture root nothing runs and ran is false, so the caller can say what
// is left to do. The command is the system's own, found by name from a
// fixed list (resource.Then), never read from a journal or a plan file.
func RunThen(h *hostroot.Root, thens []resource.Then) (ran bool, err error) {
	if len(thens) == 0 || !h.IsSystemRoot() {
		return false, nil
	}
	for _, t := range dedupe(thens) {
		c, err := t.Command(h)
		if err != nil {
			return true, err
		}
		out, err := exec.Command(c[0], c[1:]...).CombinedOutput()
		if err != nil {
			last := strings.TrimSpace(string(out))
			if i := strings.LastIndexByte(last, '\n'); i >= 0 {
				last = last[i+1:]
			}
			return true, fmt.Errorf("%s: %v: %s", strings.Join(c, " "), err, last)
		}
	}
	return true, nil
}

func dedupe(thens []resource.Then) []resource.Then {
	var out []resource.Then
	for _, t := range thens {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}
