package measure

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// Targets are what a set of measurements is taken of.
type Targets struct {
	// Sys is the sysfs mount (/sys), for the CPU clock and temperatures.
	Sys string
	// Devices are the whole disks read (/dev/nvme0n1); Dirs the
	// directories whose filesystems take the synchronous writes.
	Devices, Dirs []string
	HTTP          []Endpoint
	// Family is the guide's platform family for expected figures ("pi",
	// "amd64"; "" none).
	Family string
	// Regular lets Devices be regular files (tests only).
	Regular bool
}

// Item is one measurement to take.
type Item struct {
	Kind   Kind
	Target string
	http   *Endpoint
}

// Items lists what kinds (nil: all) measure on t, in order.
func (t Targets) Items(kinds []Kind) []Item {
	want := func(k Kind) bool { return kinds == nil || slices.Contains(kinds, k) }
	var out []Item
	for _, k := range Kinds {
		if !want(k) {
			continue
		}
		switch k {
		case DiskRead:
			for _, d := range t.Devices {
				out = append(out, Item{Kind: k, Target: d})
			}
		case Sync:
			for _, d := range t.Dirs {
				out = append(out, Item{Kind: k, Target: d})
			}
		default:
			out = append(out, Item{Kind: k})
		}
	}
	if want(HTTP) {
		for i := range t.HTTP {
			out = append(out, Item{Kind: HTTP, Target: t.HTTP[i].URL, http: &t.HTTP[i]})
		}
	}
	return out
}

// Take measures items within budget, one after the other (they would
// disturb each other at once), each in an equal share of what is left.
// started, when not nil, is told of each item as it starts, with its
// place and share: a measurement of minutes is followed as it goes.
func Take(t Targets, items []Item, budget time.Duration, started func(i int, it Item, share time.Duration)) []Figure {
	var out []Figure
	all := NewDeadline(budget)
	for i, it := range items {
		// An equal share of what is left: one that overran (a loaded
		// host) shortens the others rather than leaving them nothing.
		share := all.Left() / time.Duration(len(items)-i)
		if started != nil {
			started(i, it, share)
		}
		d := NewDeadline(share)
		switch it.Kind {
		case CPUSingle:
			out = append(out, CPU(false, t.Sys, d))
		case CPUAll:
			out = append(out, CPU(true, t.Sys, d))
		case Memory:
			out = append(out, MemoryCopy(d))
		case DiskRead:
			out = append(out, ReadDevice(it.Target, d, t.Regular))
		case Sync:
			out = append(out, SyncWrite(it.Target, d))
		case HTTP:
			a, l := GetLatency(*it.http, d)
			want := Expected(t.Family, it.http.Class)
			a.Judge(want)
			l.Judge(want)
			out = append(out, a, l)
		}
	}
	return out
}

// WholeDisk is the block device holding the filesystem of path, as the
// whole disk's node (/dev/nvme0n1 for a file on /dev/nvme0n1p2), found
// through sysfs (sys).
func WholeDisk(sys, path string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "", err
	}
	maj, mnr := unix.Major(st.Dev), unix.Minor(st.Dev)
	if maj == 0 {
		return "", fmt.Errorf("%s is not on a block device", path)
	}
	link := filepath.Join(sys, "dev/block", fmt.Sprintf("%d:%d", maj, mnr))
	real, err := filepath.EvalSymlinks(link)
	if err != nil {
		return "", fmt.Errorf("%s: its device %d:%d is not in %s", path, maj, mnr, filepath.Join(sys, "dev/block"))
	}
	if _, err := os.Stat(filepath.Join(real, "partition")); err == nil {
		real = filepath.Dir(real)
	}
	return "/dev/" + filepath.Base(real), nil
}
