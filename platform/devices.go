package platform

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// maxDevices bounds the device nodes listed (a live /dev holds a few
// hundred; /dev/pts may hold many).
const maxDevices = 4096

// devDepth is how deep under /dev device nodes are looked for:
// /dev/bus/usb/001/002 (a USB accelerator) is four levels down.
const devDepth = 4

// accelerator is a device node the guide's accelerators appear as: the
// Hailo-8/8L's /dev/hailoN, the Coral PCIe Edge TPU's /dev/apex_N, and
// the kernel's compute-accelerator class, /dev/accel/accelN.
var accelerator = regexp.MustCompile(`^/dev/(hailo[0-9]+|apex_[0-9]+|accel/accel[0-9]+)$`)

// detectDevices lists the character device nodes under /dev, a link
// never followed, and those of them that are accelerators. An image's
// /dev is empty: its devices appear when the kernel runs.
func (f *Facts) detectDevices(h *hostroot.Root) {
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		ents, err := h.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range ents {
			if len(f.CharDevices) >= maxDevices {
				return
			}
			p := path.Join(dir, e.Name())
			switch t := e.Type(); {
			case t&fs.ModeCharDevice != 0:
				f.CharDevices = append(f.CharDevices, p)
			case t.IsDir() && depth < devDepth:
				walk(p, depth+1)
			}
		}
	}
	walk("/dev", 1)
	slices.Sort(f.CharDevices)
	for _, d := range f.CharDevices {
		if accelerator.MatchString(d) {
			f.Accelerators = append(f.Accelerators, d)
		}
	}
	if len(f.Accelerators) > 0 {
		f.Evidence = append(f.Evidence, fmt.Sprintf("accelerators: %v (character devices under /dev)", f.Accelerators))
	}
}

// IsCharDevice says whether p is a character device node the root has.
func (f *Facts) IsCharDevice(p string) bool {
	_, ok := slices.BinarySearch(f.CharDevices, p)
	return ok
}
