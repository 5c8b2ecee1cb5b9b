package rollback

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/hostroot"
)

// RunThen runs the commands that must follow a change or its restore
// (update-grub after a GRUB change), each once, in order. Only the running
// system's own tools act on it: on an image or fixture root nothing runs and
// ran is false, so the caller can say what is left to do.
func RunThen(h *hostroot.Root, cmds [][]string) (ran bool, err error) {
	if len(cmds) == 0 || !h.IsSystemRoot() {
		return false, nil
	}
	var done [][]string
	for _, c := range cmds {
		if slices.ContainsFunc(done, func(d []string) bool { return slices.Equal(d, c) }) {
			continue
		}
		done = append(done, c)
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
