package baseline

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/store/statedir"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/rollback"
)

// Options say what a baseline measures beyond the host itself.
type Options struct {
	// DataDir is the directory on the data filesystem ("" Podman's
	// storage when present, else ezedge-host's own directory).
	DataDir string
	HTTP    []measure.Endpoint
	// Busy measures even on a host under heavy load.
	Busy bool
}

// DefaultDataDirs are tried in order for the synchronous writes.
var DefaultDataDirs = []string{"/var/lib/containers/storage", statedir.Dir}

// Host is a live host ready to be measured.
type Host struct {
	Targets measure.Targets
	Record  Record
	// Started, when set, is told of each measurement as it starts
	// (measure.Take).
	Started func(i, of int, it measure.Item, share time.Duration)
	h       *hostroot.Root
}

// ErrNotLive is a root that is not the running system.
var ErrNotLive = errors.New("not the running system")

// Live prepares a measurement of the running host: only the real / with a
// live kernel can be measured (an image or a copy has no kernel, disks or
// clock of its own), and not under heavy load unless o.Busy.
func Live(h *hostroot.Root, f *platform.Facts, store *rollback.Store, o Options, now time.Time) (*Host, error) {
	if !h.IsSystemRoot() || !f.Runtime {
		return nil, fmt.Errorf("--root %s: %w: measurements need a live host (an image or a copy has no kernel, disks or clock to measure); run ezedge-host on the device itself", h.Dir(), ErrNotLive)
	}
	load, err := loadAvg(h)
	if err != nil {
		return nil, err
	}
	if cores := max(f.Cores, 1); load >= float64(cores) && !o.Busy {
		return nil, fmt.Errorf("the host is busy (load %.2f on %d cores): the figures would measure the other work; run it when the host is idle, or pass --busy", load, cores)
	}
	hv := &Host{Targets: measure.Targets{Sys: "/sys", HTTP: o.HTTP, Family: family(f.Platform)}, h: h}
	dirs := []string{o.DataDir}
	if o.DataDir == "" {
		dirs = nil
		for _, d := range DefaultDataDirs {
			// ezedge-host's own directory is made when first measured.
			if st, err := h.Stat(d); err == nil && st.IsDir() || d == statedir.Dir {
				dirs = []string{d}
				break
			}
		}
	} else if st, err := h.Stat(o.DataDir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("--data-dir %s: not a directory", o.DataDir)
	}
	// The root disk, and the data directory's when another.
	for _, p := range append([]string{"/"}, dirs...) {
		d, err := measure.WholeDisk("/sys", p)
		switch {
		case err != nil && errors.Is(err, fs.ErrNotExist):
			// ezedge-host's directory, not made yet: on the root's disk.
		case err != nil:
			hv.Record.Notes = append(hv.Record.Notes, "no disk read for "+p+": "+err.Error())
		case !slices.Contains(hv.Targets.Devices, d):
			hv.Targets.Devices = append(hv.Targets.Devices, d)
		}
	}
	hv.Targets.Dirs = dirs
	kernel, _ := h.ReadFile("/proc/sys/kernel/osrelease")
	cmdline, _ := h.ReadFile("/proc/cmdline")
	notes := hv.Record.Notes
	hv.Record = Record{
		Notes: notes, ID: NewID(now), Time: now.UTC(), Platform: string(f.Platform),
		Kernel: strings.TrimSpace(string(kernel)), Cmdline: strings.TrimSpace(string(cmdline)),
		Snapshot: InForce(store), Emulated: Emulated(h), Load: load,
	}
	return hv, nil
}

// family is the guide's platform family for expected figures.
func family(k platform.Kind) string {
	switch {
	case k.IsRaspberryPi():
		return "pi"
	case k == platform.AMD64:
		return "amd64"
	}
	return ""
}

// loadAvg is the 1-minute load average.
func loadAvg(h *hostroot.Root) (float64, error) {
	b, err := h.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, fmt.Errorf("/proc/loadavg: %w", err)
	}
	fs := strings.Fields(string(b))
	if len(fs) == 0 {
		return 0, fmt.Errorf("/proc/loadavg: empty")
	}
	v, err := strconv.ParseFloat(fs[0], 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/loadavg: %q is not a load", fs[0])
	}
	return v, nil
}

// InForce is the newest apply not rolled back ("" none).
func InForce(store *rollback.Store) string {
	hi, err := store.History()
	if err != nil {
		return ""
	}
	var id string
	var at time.Time
	for _, r := range hi.Records {
		if s := r.Status(); (s == rollback.Applied || s == rollback.PartlyRolledBack) && !r.Time.Before(at) {
			id, at = r.ID, r.Time
		}
	}
	return id
}

// Emulated says why the host looks like a virtual machine ("" when it
// does not): its figures are then the emulator's, not the hardware's.
func Emulated(h *hostroot.Root) string {
	for _, p := range []string{"/sys/class/dmi/id/sys_vendor", "/sys/class/dmi/id/product_name"} {
		b, _ := h.ReadPrefix(p, 256)
		v := strings.TrimSpace(string(b))
		for _, vm := range []string{"QEMU", "KVM", "VMware", "VirtualBox", "innotek", "Xen", "Microsoft Corporation", "Bochs", "Parallels", "Amazon EC2", "Google Compute Engine"} {
			if strings.Contains(v, vm) {
				return fmt.Sprintf("a virtual machine (%s: %s)", p, v)
			}
		}
	}
	if b, err := h.ReadPrefix("/sys/hypervisor/type", 64); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return fmt.Sprintf("a virtual machine (/sys/hypervisor/type: %s)", strings.TrimSpace(string(b)))
	}
	if b, err := h.ReadPrefix("/proc/device-tree/compatible", 4096); err == nil && strings.Contains(string(b), "linux,dummy-virt") {
		return "a virtual machine (/proc/device-tree/compatible: linux,dummy-virt)"
	}
	if b, err := h.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "flags" && slices.Contains(strings.Fields(v), "hypervisor") {
				return "a virtual machine (/proc/cpuinfo: hypervisor flag)"
			}
		}
	}
	return ""
}

// Measure takes kinds (nil: all) within budget and fills the record.
func (hv *Host) Measure(kinds []measure.Kind, budget time.Duration) *Record {
	start := time.Now()
	r := hv.Record
	if slices.Contains(hv.Targets.Dirs, statedir.Dir) {
		if err := statedir.Ensure(hv.h); err != nil {
			r.Notes = append(slices.Clone(r.Notes), err.Error())
		}
	}
	r.Budget = budget.String()
	items := hv.Targets.Items(kinds)
	var started func(int, measure.Item, time.Duration)
	if hv.Started != nil {
		started = func(i int, it measure.Item, share time.Duration) { hv.Started(i, len(items), it, share) }
	}
	r.Figures = measure.Take(hv.Targets, items, budget, started)
	r.Took = time.Since(start).Round(10 * time.Millisecond).String()
	return &r
}

// Latest is the newest baseline (nil none).
func Latest(h *hostroot.Root) (*Record, error) {
	recs, _, err := List(h)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	return recs[len(recs)-1], nil
}
