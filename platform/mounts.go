package platform

import (
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/hostpath"
)

// ProcMount is one line of /proc/mounts, its paths decoded as the kernel
// wrote them (a blank, tab, newline or backslash in a path is \NNN).
type ProcMount struct {
	Source, Dir, Type, Options string
}

// ProcMounts reads /proc/mounts (or /proc/self/mounts) in order: a later
// mount on the same directory hides an earlier one.
func ProcMounts(b []byte) []ProcMount {
	var out []ProcMount
	for _, l := range strings.Split(string(b), "\n") {
		fs := strings.Fields(l)
		if len(fs) < 3 {
			continue
		}
		m := ProcMount{
			Source: hostpath.Read(hostpath.Kernel, fs[0]).Path,
			Dir:    hostpath.Read(hostpath.Kernel, fs[1]).Path,
			Type:   fs[2],
		}
		if len(fs) >= 4 {
			m.Options = fs[3]
		}
		out = append(out, m)
	}
	return out
}

// ProcSwap is one swap area of /proc/swaps.
type ProcSwap struct {
	// Name is the device or file, decoded as the kernel wrote it.
	Name, Type string
	// Size and Used are in KiB, as the kernel prints them.
	Size, Used string
}

// ProcSwaps reads /proc/swaps, its header line left out.
func ProcSwaps(b []byte) []ProcSwap {
	var out []ProcSwap
	lines := strings.Split(string(b), "\n")
	if len(lines) > 0 {
		lines = lines[1:]
	}
	for _, l := range lines {
		fs := strings.Fields(l)
		if len(fs) < 4 {
			continue
		}
		out = append(out, ProcSwap{Name: hostpath.Read(hostpath.Kernel, fs[0]).Path, Type: fs[1], Size: fs[2], Used: fs[3]})
	}
	return out
}
