package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"golang.org/x/sys/unix"
)

// Health is what `ezedge-host check` reads beyond the facts a plan rests
// on: the state of the hardware now (power, temperature, cooling), swap in
// use, the containers' cgroups and the monitoring files. Every reading
// says where it came from. On an image root (no live /proc or /sys) it is
// empty: those checks are unknown there.
type Health struct {
	// UnderVoltage is the Raspberry Pi's under-voltage alarm from the
	// rpi_volt hwmon (in0_lcrit_alarm); nil when the root has none.
	UnderVoltage *Reading[bool] `json:"under_voltage,omitempty"`
	// Throttled is the firmware's get_throttled word, read only when
	// asked: newer kernels log a deprecation warning at every read.
	Throttled *Reading[uint32] `json:"throttled,omitempty"`
	// ThrottledPath is where the word is, read or not ("" none).
	ThrottledPath string           `json:"throttled_path,omitempty"`
	Thermal       []ThermalZone    `json:"thermal_zones,omitempty"`
	Sensors       []Sensor         `json:"sensors,omitempty"`
	Fans          []Fan            `json:"fans,omitempty"`
	Cooling       []CoolingDevice  `json:"cooling_devices,omitempty"`
	Disks         []DiskKind       `json:"disks,omitempty"`
	Swaps         []SwapArea       `json:"swaps,omitempty"`
	SwapTotal     uint64           `json:"swap_total_bytes"`
	SwapFree      uint64           `json:"swap_free_bytes"`
	Containers    []ContainerLimit `json:"containers,omitempty"`
	// Zswap is zswap's enabled parameter now; nil without zswap.
	Zswap *Reading[bool] `json:"zswap,omitempty"`
	// Filesystems are the mounted disk file systems and their free
	// space, read on the running system only (statfs of a mount point in
	// a fixture or image would measure the machine running the check).
	Filesystems []Filesystem `json:"filesystems,omitempty"`
}

// Filesystem is one mounted disk file system; sizes in bytes.
type Filesystem struct {
	Mount  string `json:"mount"`
	Device string `json:"device"`
	Size   uint64 `json:"size_bytes"`
	Avail  uint64 `json:"avail_bytes"`
}

// Reading is one value and the file it was read from.
type Reading[T any] struct {
	Value    T      `json:"value"`
	Evidence string `json:"evidence"`
}

// ThermalZone is one /sys/class/thermal zone: its temperature and the
// temperature of its first passive trip point (where the kernel starts
// throttling), both in millidegrees Celsius; 0 when unknown.
type ThermalZone struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Temp     int64  `json:"temp_millicelsius"`
	Passive  int64  `json:"passive_trip_millicelsius,omitempty"`
	Critical int64  `json:"critical_trip_millicelsius,omitempty"`
	Evidence string `json:"evidence"`
}

// Sensor is one hwmon temperature input (coretemp, k10temp, nvme…).
type Sensor struct {
	Chip     string `json:"chip"`
	Label    string `json:"label"`
	Temp     int64  `json:"temp_millicelsius"`
	Crit     int64  `json:"crit_millicelsius,omitempty"`
	Evidence string `json:"evidence"`
}

// Fan is one hwmon fan (the Pi 5's pwmfan): its speed and PWM duty.
type Fan struct {
	Chip     string `json:"chip"`
	RPM      int64  `json:"rpm"`
	PWM      int64  `json:"pwm"` // 0–255; -1 unknown
	Evidence string `json:"evidence"`
}

// CoolingDevice is one /sys/class/thermal cooling device.
type CoolingDevice struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Cur      int64  `json:"cur_state"`
	Max      int64  `json:"max_state"`
	Evidence string `json:"evidence"`
}

// DiskKind is what a disk is, beyond BlockDevice: the MMC card type
// (device/type: "SD" or "MMC") and whether it hangs off USB.
type DiskKind struct {
	Name     string `json:"name"`
	MMCType  string `json:"mmc_type,omitempty"`
	USB      bool   `json:"usb"`
	Evidence string `json:"evidence"`
}

// SwapArea is one line of /proc/swaps; sizes in bytes.
type SwapArea struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Size uint64 `json:"size_bytes"`
	Used uint64 `json:"used_bytes"`
}

// SwapAreas are the areas of /proc/swaps whose sizes read as numbers.
func SwapAreas(b []byte) []SwapArea {
	var out []SwapArea
	for _, sw := range ProcSwaps(b) {
		size, err1 := strconv.ParseUint(sw.Size, 10, 64)
		used, err2 := strconv.ParseUint(sw.Used, 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, SwapArea{sw.Name, sw.Type, size << 10, used << 10})
	}
	return out
}

// Zram reports whether the area is a zram device.
func (s SwapArea) Zram() bool { return strings.HasPrefix(s.Name, "/dev/zram") }

// ContainerLimit is one Podman container's cgroup and the limits it really
// has. MemoryMax and MemoryLow are bytes (0: none); CPUs is the cpu.max
// quota over its period (0: none).
type ContainerLimit struct {
	ID        string  `json:"id"`
	Name      string  `json:"name,omitempty"`
	Cgroup    string  `json:"cgroup"`
	MemoryMax uint64  `json:"memory_max_bytes"`
	MemoryLow uint64  `json:"memory_low_bytes"`
	CPUs      float64 `json:"cpus"`
	// Usage is what the cgroup counted since the container started.
	Usage ContainerUsage `json:"usage"`
}

// HealthOptions says what ReadHealth may read beyond the quiet files.
type HealthOptions struct {
	// Firmware: read the firmware's get_throttled word.
	Firmware bool
	// Names maps container IDs to names (from Podman on a live host).
	Names map[string]string
}

// ReadHealth reads the live state of the host at h. It only reads; on an
// image root it returns an empty Health.
func ReadHealth(h *hostroot.Root, f *Facts, o HealthOptions) *Health {
	hl := &Health{}
	if !f.Runtime {
		return hl
	}
	hl.readThermal(h)
	hl.readHwmon(h)
	hl.readThrottled(h, o.Firmware)
	hl.readDisks(h, f)
	hl.readSwaps(h)
	hl.readContainers(h, o.Names)
	if b, err := h.ReadFile("/sys/module/zswap/parameters/enabled"); err == nil {
		v := strings.TrimSpace(string(b))
		hl.Zswap = &Reading[bool]{v == "Y" || v == "1", "/sys/module/zswap/parameters/enabled"}
	}
	if h.IsSystemRoot() {
		hl.readFilesystems(h)
	}
	return hl
}

// readFilesystems measures every file system mounted from a disk
// (/dev/…) of the running system, once per device.
func (hl *Health) readFilesystems(h *hostroot.Root) {
	b, err := h.ReadFile("/proc/mounts")
	if err != nil {
		return
	}
	seen := map[string]bool{}
	for _, m := range ProcMounts(b) {
		if !strings.HasPrefix(m.Source, "/dev/") || seen[m.Source] || strings.HasPrefix(m.Source, "/dev/loop") {
			continue
		}
		var st unix.Statfs_t
		if unix.Statfs(m.Dir, &st) != nil || st.Blocks == 0 {
			continue
		}
		seen[m.Source] = true
		hl.Filesystems = append(hl.Filesystems, Filesystem{m.Dir, m.Source, st.Blocks * uint64(st.Bsize), st.Bavail * uint64(st.Bsize)})
	}
}

// readInt reads a file holding one decimal integer.
func readInt(h *hostroot.Root, name string) (int64, bool) {
	n, err := strconv.ParseInt(readTrim(h, name), 10, 64)
	return n, err == nil
}

// classEntries lists /sys/class/<class> entries with prefix, in numeric
// order (hwmon10 after hwmon9).
func classEntries(h *hostroot.Root, dir, prefix string) []string {
	ents, _ := h.ReadDir(dir)
	var names []string
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, prefix) {
			if _, err := strconv.Atoi(n[len(prefix):]); err == nil {
				names = append(names, n)
			}
		}
	}
	sort.Slice(names, func(i, j int) bool {
		a, _ := strconv.Atoi(names[i][len(prefix):])
		b, _ := strconv.Atoi(names[j][len(prefix):])
		return a < b
	})
	return names
}

var tempInput = regexp.MustCompile(`^temp([0-9]+)_input$`)

func (hl *Health) readHwmon(h *hostroot.Root) {
	zones := map[string]bool{}
	for _, z := range hl.Thermal {
		zones[strings.ReplaceAll(z.Type, "-", "_")] = true
	}
	for _, n := range classEntries(h, "/sys/class/hwmon", "hwmon") {
		dir := "/sys/class/hwmon/" + n
		chip := readTrim(h, dir+"/name")
		if chip == "rpi_volt" {
			if v, ok := readInt(h, dir+"/in0_lcrit_alarm"); ok {
				hl.UnderVoltage = &Reading[bool]{v != 0, dir + "/in0_lcrit_alarm"}
			}
		}
		if rpm, ok := readInt(h, dir+"/fan1_input"); ok {
			pwm, ok := readInt(h, dir+"/pwm1")
			if !ok {
				pwm = -1
			}
			hl.Fans = append(hl.Fans, Fan{chip, rpm, pwm, dir + "/fan1_input"})
		}
		// A thermal zone shows up in hwmon too (cpu-thermal as
		// cpu_thermal, acpitz): read once, from thermal; hwmon adds the
		// x86 package sensors and the NVMe's.
		if chip == "rpi_volt" || zones[chip] {
			continue
		}
		ents, _ := h.ReadDir(dir)
		for _, e := range ents {
			m := tempInput.FindStringSubmatch(e.Name())
			if m == nil {
				continue
			}
			t, ok := readInt(h, dir+"/"+e.Name())
			if !ok {
				continue
			}
			s := Sensor{Chip: chip, Label: readTrim(h, dir+"/temp"+m[1]+"_label"), Temp: t, Evidence: dir + "/" + e.Name()}
			if s.Label == "" {
				s.Label = "temp" + m[1]
			}
			s.Crit, _ = readInt(h, dir+"/temp"+m[1]+"_crit")
			hl.Sensors = append(hl.Sensors, s)
		}
	}
	sort.SliceStable(hl.Sensors, func(i, j int) bool { return hl.Sensors[i].Evidence < hl.Sensors[j].Evidence })
}

func (hl *Health) readThermal(h *hostroot.Root) {
	for _, n := range classEntries(h, "/sys/class/thermal", "thermal_zone") {
		dir := "/sys/class/thermal/" + n
		t, ok := readInt(h, dir+"/temp")
		if !ok {
			continue
		}
		z := ThermalZone{Name: n, Type: readTrim(h, dir+"/type"), Temp: t, Evidence: dir + "/temp"}
		for i := 0; i < 16; i++ {
			typ := readTrim(h, fmt.Sprintf("%s/trip_point_%d_type", dir, i))
			if typ == "" {
				break
			}
			v, _ := readInt(h, fmt.Sprintf("%s/trip_point_%d_temp", dir, i))
			switch {
			case typ == "passive" && z.Passive == 0:
				z.Passive = v
			case typ == "critical" && z.Critical == 0:
				z.Critical = v
			}
		}
		hl.Thermal = append(hl.Thermal, z)
	}
	for _, n := range classEntries(h, "/sys/class/thermal", "cooling_device") {
		dir := "/sys/class/thermal/" + n
		cur, ok1 := readInt(h, dir+"/cur_state")
		max, ok2 := readInt(h, dir+"/max_state")
		if !ok1 || !ok2 {
			continue
		}
		hl.Cooling = append(hl.Cooling, CoolingDevice{n, readTrim(h, dir+"/type"), cur, max, dir + "/cur_state"})
	}
}

// throttledPaths are where the Raspberry Pi firmware driver puts
// get_throttled (Pi 4 and earlier; Pi 5's soc node has an address).
var throttledPaths = []string{"/sys/devices/platform/soc/soc:firmware/get_throttled"}

func (hl *Health) readThrottled(h *hostroot.Root, read bool) {
	paths := throttledPaths
	if ents, err := h.ReadDir("/sys/devices/platform"); err == nil {
		for _, e := range ents {
			if n := e.Name(); strings.HasPrefix(n, "soc@") || strings.HasPrefix(n, "axi") {
				paths = append(paths, "/sys/devices/platform/"+n+"/"+n+":firmware/get_throttled")
			}
		}
	}
	for _, p := range paths {
		if !h.Exists(p) {
			continue
		}
		hl.ThrottledPath = p
		if !read {
			return
		}
		// The driver prints the word in hex ("%x\n").
		if v, err := strconv.ParseUint(strings.TrimPrefix(readTrim(h, p), "0x"), 16, 32); err == nil {
			hl.Throttled = &Reading[uint32]{uint32(v), p}
		}
		return
	}
}

func (hl *Health) readDisks(h *hostroot.Root, f *Facts) {
	for _, b := range f.Block {
		d := DiskKind{Name: b.Name, Evidence: "/sys/block/" + b.Name}
		if b.SDCard {
			d.MMCType = readTrim(h, "/sys/block/"+b.Name+"/device/type")
			d.Evidence += "/device/type"
		}
		// /sys/block/<disk> links to its device path, which names the
		// bus: a USB disk's runs through a usbN/… port.
		if l, err := h.Readlink("/sys/block/" + b.Name); err == nil && strings.Contains(l, "/usb") {
			d.USB = true
		}
		hl.Disks = append(hl.Disks, d)
	}
}

func (hl *Health) readSwaps(h *hostroot.Root) {
	b, err := h.ReadFile("/proc/swaps")
	if err != nil {
		return
	}
	hl.Swaps = SwapAreas(b)
	if mi, err := h.ReadFile("/proc/meminfo"); err == nil {
		m := parseColonFile(mi)
		hl.SwapTotal, hl.SwapFree = kbField(m, "SwapTotal"), kbField(m, "SwapFree")
	}
}

// A Podman container's cgroup: libpod-<id>.scope under the systemd cgroup
// manager (machine.slice, or a user's slice when rootless), libpod-<id>
// under cgroupfs. libpod-conmon-<id>.scope is its monitor, not it.
var libpodCgroup = regexp.MustCompile(`^libpod-([0-9a-f]{64})(\.scope)?$`)

// A container run with --cgroups=split, as Quadlet runs every one: its
// unit's cgroup (<unit>.service under system.slice, or under a user's
// app.slice when rootless) holds conmon, and libpod-payload-<id> in it
// the container, its limits and its processes, one level.
var libpodPayload = regexp.MustCompile(`^libpod-payload-([0-9a-f]{64})$`)

// maxCgroupDepth bounds the walk: rootless containers sit at
// user.slice/user-N.slice/user@N.service/user.slice/libpod-….scope, a
// rootless Quadlet's one deeper, at
// user.slice/user-N.slice/user@N.service/app.slice/<unit>.service/libpod-payload-….
const maxCgroupDepth = 6

func (hl *Health) readContainers(h *hostroot.Root, names map[string]string) {
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		ents, err := h.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			p := dir + "/" + e.Name()
			if m := libpodCgroup.FindStringSubmatch(e.Name()); m != nil {
				hl.Containers = append(hl.Containers, readLimits(h, p, m[1], names[m[1]], true))
				continue
			}
			if m := libpodPayload.FindStringSubmatch(e.Name()); m != nil {
				hl.Containers = append(hl.Containers, readLimits(h, p, m[1], names[m[1]], false))
				continue
			}
			if depth < maxCgroupDepth && (strings.HasSuffix(e.Name(), ".slice") || strings.HasSuffix(e.Name(), ".service") || e.Name() == "libpod_parent") {
				walk(p, depth+1)
			}
		}
	}
	walk("/sys/fs/cgroup", 1)
	sort.Slice(hl.Containers, func(i, j int) bool { return hl.Containers[i].Cgroup < hl.Containers[j].Cgroup })
}

// readLimits reads the cgroup v2 limits a container's processes are held
// to: memory.max and memory.low ("max" or bytes), cpu.max ("max <period>"
// or "<quota> <period>"). crun under systemd puts the processes and the
// limits in the scope's "container" child and leaves the scope itself at
// max; cgroupfs puts them on the scope. The tighter of the two levels is
// what the kernel enforces. A split container's libpod-payload-<id> is
// one level (withChild false): its "container" child is not looked for.
func readLimits(h *hostroot.Root, dir, id, name string, withChild bool) ContainerLimit {
	c := ContainerLimit{ID: id, Name: name, Cgroup: dir}
	levels := []string{dir}
	if st, err := h.Lstat(dir + "/container"); withChild && err == nil && st.IsDir() {
		levels = append(levels, dir+"/container")
		c.Cgroup = dir + "/container"
	}
	for _, d := range levels {
		if v, err := strconv.ParseUint(readTrim(h, d+"/memory.max"), 10, 64); err == nil && v > 0 && (c.MemoryMax == 0 || v < c.MemoryMax) {
			c.MemoryMax = v
		}
		// memory.low protects down the tree only as far as every level
		// grants it; a level left at 0 under systemd's scope is the
		// usual layout, so the deepest value set is the one shown.
		if v, err := strconv.ParseUint(readTrim(h, d+"/memory.low"), 10, 64); err == nil && v > 0 {
			c.MemoryLow = v
		}
		if q, p, ok := strings.Cut(readTrim(h, d+"/cpu.max"), " "); ok {
			quota, err1 := strconv.ParseUint(q, 10, 64)
			period, err2 := strconv.ParseUint(p, 10, 64)
			if err1 == nil && err2 == nil && period > 0 {
				if cpus := float64(quota) / float64(period); cpus > 0 && (c.CPUs == 0 || cpus < c.CPUs) {
					c.CPUs = cpus
				}
			}
		}
	}
	c.Usage = readUsage(h, levels)
	return c
}

// PodmanNames reads `podman ps --format json` output: container ID to its
// first name. Bad or empty input gives no names, never an error: names
// only label what the cgroups say.
func PodmanNames(out []byte) map[string]string {
	var ps []struct {
		ID    string   `json:"Id"`
		Names []string `json:"Names"`
	}
	if json.Unmarshal(out, &ps) != nil {
		return nil
	}
	m := map[string]string{}
	for _, c := range ps {
		if len(c.Names) > 0 && libpodCgroup.MatchString("libpod-"+c.ID) {
			m[c.ID] = c.Names[0]
		}
	}
	return m
}

// podmanTimeout bounds `podman ps`: a check run every minute must not hang
// on a stuck Podman.
const podmanTimeout = 5 * time.Second

// RunningPodmanNames asks the running system's Podman for its containers'
// names (`podman ps --format json`, a fixed command from PATH; never for an
// image root). None when Podman is absent or fails: the cgroups, not
// Podman, say what the limits are.
func RunningPodmanNames() map[string]string {
	bin, err := exec.LookPath("podman")
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), podmanTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "ps", "--format", "json").Output()
	if err != nil {
		return nil
	}
	return PodmanNames(out)
}
