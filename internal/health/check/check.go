// Package check turns what is known of a host (its facts, its live health
// readings, the plan of its tuning and the history of applies) into the
// performance guide's checklists: one result per check, each with a
// status, the value seen, the file it was read from and what fixes it. It
// only evaluates; platform reads and view renders.
package check

import (
	"fmt"
	"github.com/ezansiedgeai/ezedge-host/internal/alloc"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/health/baseline"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/rollback"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// Status is a check's outcome.
type Status int

const (
	OK Status = iota
	Warn
	Fail
	Unknown
)

var statusNames = [...]string{"ok", "warn", "fail", "unknown"}

func (s Status) String() string { return statusNames[s] }

// MarshalText writes the status as its name in JSON.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Group is a section of the checklist.
type Group string

const (
	Power      Group = "power"
	Thermal    Group = "thermal"
	Storage    Group = "storage"
	Swap       Group = "swap"
	Memory     Group = "memory"
	Tuning     Group = "tuning"
	Monitoring Group = "monitoring"
)

// Groups is the order results are shown in.
var Groups = []Group{Power, Thermal, Storage, PCIe, Swap, Memory, Containers, Tuning, Performance, Monitoring}

// Result is one check.
type Result struct {
	Group  Group  `json:"group"`
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Value is what was seen ("72.3 °C", "SD card"); Detail says what it
	// means; Fix is the task or action that fixes a warning or failure.
	Value    string `json:"value"`
	Detail   string `json:"detail,omitempty"`
	Evidence string `json:"evidence,omitempty"`
	Fix      string `json:"fix,omitempty"`
	// ByID: the check is named by a container's ID, Podman having given
	// no name for it here (a rootless user's container, Podman absent). A
	// new ID comes with each restart, so a time series counts such checks
	// rather than naming them; JSON, JUnit and text show the ID.
	ByID bool `json:"-"`
	// Container is the container a result is about (its name, or its
	// ID's first 12 digits), "" for the others; ContainerID is its full
	// ID, which two containers never share.
	Container   string `json:"-"`
	ContainerID string `json:"-"`
}

// Worse says whether a is worse than b for a container's worst state:
// fail, warn, unknown, ok, in that order (an unknown hides less than an
// ok).
func Worse(a, b Status) bool {
	sev := map[Status]int{OK: 0, Unknown: 1, Warn: 2, Fail: 3}
	return sev[a] > sev[b]
}

// ID is the check's name within the whole report: group.name.
func (r Result) ID() string { return string(r.Group) + "." + r.Name }

// Bit is one bit of the firmware's throttling word: now and since boot;
// nil where it cannot be known.
type Bit struct {
	Name      string `json:"name"`
	Now       *bool  `json:"now"`
	SinceBoot *bool  `json:"since_boot"`
}

// Temperature is one zone or sensor in degrees Celsius.
type Temperature struct {
	Sensor  string  `json:"sensor"`
	Celsius float64 `json:"celsius"`
}

// Figures are the numbers behind the results, for monitoring.
type Figures struct {
	Temperatures   []Temperature `json:"temperatures"`
	FanRPM         []float64     `json:"fan_rpm,omitempty"`
	Throttling     []Bit         `json:"throttling,omitempty"`
	SwapTotal      uint64        `json:"swap_total_bytes"`
	SwapUsed       uint64        `json:"swap_used_bytes"`
	PendingChanges int           `json:"pending_changes"`
	PendingReboot  bool          `json:"pending_reboot"`
	Drift          int           `json:"drift"`
	// Containers are the figures of the containers that have results of
	// their own (at most MaxContainers).
	Containers []ContainerFigure `json:"containers,omitempty"`
	// UnnamedOthers are the containers known by their ID beyond those
	// (containers.others sums them): each one's worst state (Worse), for
	// the textfile's count of unnamed containers.
	UnnamedOthers []Status `json:"-"`
	// LastApply is when the newest apply still in force was made (zero:
	// none).
	LastApply time.Time `json:"last_apply,omitzero"`
}

// Report is the whole check of one host.
type Report struct {
	Root     string         `json:"root"`
	Platform platform.Kind  `json:"platform"`
	Runtime  bool           `json:"runtime"`
	Time     time.Time      `json:"time"`
	Results  []Result       `json:"results"`
	Figures  Figures        `json:"figures"`
	Counts   map[string]int `json:"summary"`
}

// Worst is the worst status among the results; unknown counts as ok (a
// check that cannot be made on this root is not a problem of the host).
func (r *Report) Worst() Status {
	w := OK
	for _, x := range r.Results {
		if x.Status != Unknown && x.Status > w {
			w = x.Status
		}
	}
	return w
}

// Input is what a check evaluates.
type Input struct {
	Facts  *platform.Facts
	Health *platform.Health
	Plan   *plan.Plan
	// PlanError is why no plan could be made (a task refused, a file it
	// cannot edit): the tuning is then one failing check saying so,
	// rather than no check at all (the timer's metrics would go stale).
	PlanError error
	// LastApply is the time of the newest apply still in force.
	LastApply time.Time
	// Textfile is the textfile this check writes for the node exporter,
	// and when it was last written (zero: never).
	Textfile     string
	TextfileTime time.Time
	Baselines    Baselines
	// Reserved is the memory the host keeps from containers with the
	// profile's choices (tasks.Reserved): limits-fit's budget.
	Reserved []alloc.Reserve
	// Reboot is what the running system waits for a reboot for (nil on
	// another root).
	Reboot *Reboot
	Now    time.Time
}

// Reboot is what says the running system needs a reboot: ezedge-host's
// changes since it booted that take effect only at the next boot, and
// Debian's notice (/run/reboot-required and the packages it lists).
type Reboot struct {
	// Changes are ezedge-host's, each "kind resource (task)".
	Changes []string
	// Notice: /run/reboot-required exists; Packages are those listed
	// in /run/reboot-required.pkgs (ezedge-host among them for its
	// changes).
	Notice   bool
	Packages []string
	// Err is why they could not all be read.
	Err error
}

// Run evaluates every check.
func Run(in Input) *Report {
	r := &Report{Root: in.Plan.Root, Platform: in.Facts.Platform, Runtime: in.Facts.Runtime, Time: in.Now}
	c := &checker{in: in, r: r}
	c.power()
	c.thermal()
	c.storage()
	c.pcie()
	c.swap()
	c.memory()
	c.tuning()
	c.reboot()
	c.performance()
	c.monitoring()
	r.Counts = map[string]int{}
	for _, s := range []Status{OK, Warn, Fail, Unknown} {
		r.Counts[s.String()] = 0
	}
	for _, x := range r.Results {
		r.Counts[x.Status.String()]++
	}
	return r
}

type checker struct {
	in Input
	r  *Report
}

func (c *checker) add(r Result) { c.r.Results = append(c.r.Results, r) }

// unknownHere is a runtime check on an image root.
func (c *checker) unknownHere(g Group, name string) {
	c.add(Result{Group: g, Name: name, Status: Unknown, Value: "not a running system", Detail: "read only on the running host, not on an image root"})
}

func celsius(milli int64) float64 { return float64(milli) / 1000 }

func deg(milli int64) string { return fmt.Sprintf("%.1f °C", celsius(milli)) }

// throttleBits are the firmware's get_throttled bits: bit n is the state
// now, bit n+16 whether it happened since boot.
var throttleBits = []struct {
	bit       uint
	name, say string
}{
	{0, "under_voltage", "under-voltage"},
	{1, "frequency_capped", "ARM frequency capped"},
	{2, "throttled", "throttled"},
	{3, "soft_temperature_limit", "soft temperature limit"},
}

func (c *checker) power() {
	f, h := c.in.Facts, c.in.Health
	if !f.Platform.IsRaspberryPi() {
		return
	}
	if !f.Runtime {
		c.unknownHere(Power, "throttling")
		return
	}
	bits := make([]Bit, len(throttleBits))
	for i, b := range throttleBits {
		bits[i].Name = b.name
	}
	if h.UnderVoltage != nil {
		v := h.UnderVoltage.Value
		bits[0].Now = &v
	}
	switch {
	case h.Throttled != nil:
		w := h.Throttled.Value
		var now, past []string
		for i, b := range throttleBits {
			n, s := w&(1<<b.bit) != 0, w&(1<<(b.bit+16)) != 0
			bits[i].Now, bits[i].SinceBoot = &n, &s
			if n {
				now = append(now, b.say)
			}
			if s {
				past = append(past, b.say)
			}
		}
		res := Result{Group: Power, Name: "throttling", Status: OK, Value: fmt.Sprintf("0x%x", w), Evidence: h.Throttled.Evidence,
			Detail: "none now or since boot"}
		switch {
		case len(now) > 0:
			res.Status, res.Detail = Fail, "now: "+strings.Join(now, ", ")
			if len(past) > 0 {
				res.Detail += "; since boot: " + strings.Join(past, ", ")
			}
			res.Fix = "a 5 V power supply that meets the board's rating (Pi 4: 3 A, Pi 5: 5 A) and active cooling"
		case len(past) > 0:
			res.Status, res.Detail = Warn, "not now; since boot: "+strings.Join(past, ", ")
			res.Fix = "check the power supply and cooling under load"
		}
		c.add(res)
	case h.UnderVoltage != nil:
		res := Result{Group: Power, Name: "under-voltage", Status: OK, Value: "no", Evidence: h.UnderVoltage.Evidence,
			Detail: "not under-voltage now (since boot and throttling: run with --firmware)"}
		if h.UnderVoltage.Value {
			res.Status, res.Value, res.Detail = Fail, "yes", "under-voltage now"
			res.Fix = "a 5 V power supply that meets the board's rating (Pi 4: 3 A, Pi 5: 5 A)"
		}
		c.add(res)
		c.add(Result{Group: Power, Name: "throttling", Status: Unknown, Value: "not read", Evidence: h.ThrottledPath,
			Detail: "the firmware's get_throttled word is read only with --firmware (newer kernels log a warning at each read)"})
	default:
		res := Result{Group: Power, Name: "throttling", Status: Unknown, Value: "not read",
			Detail: "no rpi_volt hwmon and no get_throttled here"}
		if h.ThrottledPath != "" {
			res.Evidence = h.ThrottledPath
			res.Detail = "the firmware's get_throttled word is read only with --firmware (newer kernels log a warning at each read)"
		}
		c.add(res)
	}
	c.r.Figures.Throttling = bits
}

// throttleAt is the temperature a board's firmware starts throttling at,
// in millidegrees, where a thermal zone does not say (Pi 4: 80 °C; Pi 5:
// 85 °C).
func throttleAt(k platform.Kind) int64 {
	switch k {
	case platform.RPi4:
		return 80000
	case platform.RPi5:
		return 85000
	}
	return 0
}

// warnMargin: a zone this close to its throttle point is a warning.
const warnMargin = 10000

func (c *checker) thermal() {
	f, h := c.in.Facts, c.in.Health
	if !f.Runtime {
		c.unknownHere(Thermal, "temperature")
		if f.Platform.IsRaspberryPi() {
			c.unknownHere(Thermal, "cooling")
		}
		return
	}
	for _, z := range h.Thermal {
		limit, from := z.Passive, "its passive trip point"
		if limit == 0 {
			if limit = throttleAt(f.Platform); limit != 0 {
				from = "the board's throttle point"
			}
		}
		if limit == 0 && z.Critical != 0 {
			limit, from = z.Critical, "its critical trip point"
		}
		c.r.Figures.Temperatures = append(c.r.Figures.Temperatures, Temperature{z.Name + ":" + z.Type, celsius(z.Temp)})
		res := Result{Group: Thermal, Name: "temperature." + z.Name, Status: OK, Value: deg(z.Temp), Evidence: z.Evidence}
		if z.Type != "" {
			res.Name = "temperature." + z.Type
		}
		switch {
		case limit == 0:
			res.Status, res.Detail = Unknown, "no throttle point known for this zone"
		case z.Temp >= limit:
			res.Status, res.Detail = Fail, fmt.Sprintf("at or above %s (%s): the CPU is slowed down", from, deg(limit))
			res.Fix = "active cooling (a fan or heatsink case) and airflow"
		case z.Temp >= limit-warnMargin:
			res.Status, res.Detail = Warn, fmt.Sprintf("within %d °C of %s (%s)", warnMargin/1000, from, deg(limit))
			res.Fix = "active cooling (a fan or heatsink case) and airflow"
		default:
			res.Detail = fmt.Sprintf("below %s (%s)", from, deg(limit))
		}
		c.add(res)
	}
	for _, s := range h.Sensors {
		c.r.Figures.Temperatures = append(c.r.Figures.Temperatures, Temperature{s.Chip + ":" + s.Label, celsius(s.Temp)})
		res := Result{Group: Thermal, Name: "temperature." + s.Chip + "." + strings.ReplaceAll(strings.ToLower(s.Label), " ", "-"), Status: OK, Value: deg(s.Temp), Evidence: s.Evidence}
		switch {
		case s.Crit == 0:
			res.Status, res.Detail = Unknown, "the sensor gives no critical point"
		case s.Temp >= s.Crit-warnMargin:
			res.Status, res.Detail = Warn, fmt.Sprintf("within %d °C of its critical point (%s)", warnMargin/1000, deg(s.Crit))
			res.Fix = "cooling and airflow"
		default:
			res.Detail = fmt.Sprintf("below its critical point (%s)", deg(s.Crit))
		}
		c.add(res)
	}
	if len(h.Thermal) == 0 && len(h.Sensors) == 0 {
		c.add(Result{Group: Thermal, Name: "temperature", Status: Unknown, Value: "no sensor", Detail: "no thermal zone or hwmon temperature on this host"})
	}
	if !f.Platform.IsRaspberryPi() {
		return
	}
	// The guide asks for active cooling on a Pi: a fan (the Pi 5's
	// pwmfan hwmon) or a cooling device the kernel drives.
	res := Result{Group: Thermal, Name: "cooling", Status: Warn, Value: "none found",
		Detail: "no fan and no cooling device: sustained load will throttle", Fix: "active cooling (the official Active Cooler or a fan case)",
		Evidence: "/sys/class/hwmon, /sys/class/thermal"}
	for _, fan := range h.Fans {
		c.r.Figures.FanRPM = append(c.r.Figures.FanRPM, float64(fan.RPM))
	}
	switch {
	case len(h.Fans) > 0:
		fan := h.Fans[0]
		res = Result{Group: Thermal, Name: "cooling", Status: OK, Value: fmt.Sprintf("fan %d rpm", fan.RPM), Evidence: fan.Evidence,
			Detail: "a fan (" + fan.Chip + ")"}
		if fan.PWM >= 0 {
			res.Value += fmt.Sprintf(", pwm %d/255", fan.PWM)
		}
	case len(h.Cooling) > 0:
		for _, cd := range h.Cooling {
			if cd.Type == "pwm-fan" || strings.Contains(cd.Type, "fan") {
				res = Result{Group: Thermal, Name: "cooling", Status: OK, Value: fmt.Sprintf("%s state %d/%d", cd.Type, cd.Cur, cd.Max), Evidence: cd.Evidence,
					Detail: "a fan the kernel drives"}
				break
			}
		}
	}
	c.add(res)
}

func (c *checker) storage() {
	f, h := c.in.Facts, c.in.Health
	kinds := map[string]platform.DiskKind{}
	for _, d := range h.Disks {
		kinds[d.Name] = d
	}
	if len(f.Block) == 0 {
		c.add(Result{Group: Storage, Name: "root-disk", Status: Unknown, Value: "no disks", Detail: "no /sys/block on this root"})
		return
	}
	for _, b := range f.Block {
		k := kinds[b.Name]
		what, status, detail, fix := "SSD", OK, "", ""
		switch {
		case b.SDCard && k.MMCType == "MMC":
			what = "eMMC"
		case b.SDCard:
			what, status = "SD card", Warn
			detail, fix = "SD cards are slow and wear out under container writes", "move the root or data volume to a USB SSD or NVMe"
		case b.NVMe:
			what = "NVMe"
		case b.Rotational:
			what, status = "rotational disk", Warn
			detail, fix = "a spinning disk: model loading and container storage are slow", "an SSD or NVMe for data volumes"
		case k.USB:
			what = "USB SSD"
		}
		role := "disk"
		if b.Root {
			role = "root disk"
		}
		if detail == "" {
			detail = role + " is " + what
		} else {
			detail = role + " is " + what + ": " + detail
		}
		if !b.Root && b.SDCard {
			// A Pi booting from NVMe keeps its card for the firmware;
			// only what runs from it matters.
			status, fix = OK, ""
		}
		c.add(Result{Group: Storage, Name: "disk." + b.Name, Status: status, Value: what, Detail: detail, Fix: fix,
			Evidence: "/sys/block/" + b.Name})
	}
	// Free space: model files and container layers fill a disk.
	for _, fs := range h.Filesystems {
		pct := float64(fs.Avail) * 100 / float64(fs.Size)
		res := Result{Group: Storage, Name: "free." + fs.Mount, Status: OK, Evidence: fs.Device + " (statfs " + fs.Mount + ")",
			Value: fmt.Sprintf("%s free of %s (%.0f %%)", platform.HumanBytes(fs.Avail), platform.HumanBytes(fs.Size), pct)}
		switch {
		case pct < freeFail:
			res.Status, res.Detail, res.Fix = Fail, fmt.Sprintf("less than %d %% free", freeFail), "free space: podman system prune, old models, logs"
		case pct < freeWarn:
			res.Status, res.Detail, res.Fix = Warn, fmt.Sprintf("less than %d %% free", freeWarn), "free space: podman system prune, old models, logs"
		}
		c.add(res)
	}
	// TRIM keeps an SSD's write speed: fstrim.timer on SSD and NVMe.
	flash := false
	for _, b := range f.Block {
		if !b.SDCard && !b.Rotational {
			flash = true
		}
	}
	if flash {
		u, ok := f.Units["fstrim.timer"]
		res := Result{Group: Storage, Name: "trim", Status: OK, Value: "fstrim.timer enabled", Evidence: "fstrim.timer"}
		switch {
		case !ok || !u.Installed:
			res.Status, res.Value, res.Detail = Warn, "fstrim.timer not installed", "SSDs and NVMe need periodic TRIM"
			res.Fix = "install util-linux's fstrim.timer"
		case !u.Enabled:
			res.Status, res.Value, res.Detail = Warn, "fstrim.timer disabled", "SSDs and NVMe need periodic TRIM"
			res.Fix = "task fstrim"
		}
		c.add(res)
	}
}

// Free space thresholds, in percent of a file system.
const (
	freeWarn = 10
	freeFail = 5
)

func (c *checker) swap() {
	f, h := c.in.Facts, c.in.Health
	if !f.Runtime {
		c.unknownHere(Swap, "use")
		return
	}
	var total, used uint64
	var disk, zram []string
	onSD := false
	sd := map[string]bool{}
	for _, b := range f.Block {
		if b.SDCard {
			sd[b.Name] = true
		}
	}
	for _, s := range h.Swaps {
		total += s.Size
		used += s.Used
		if s.Zram() {
			zram = append(zram, s.Name)
			continue
		}
		disk = append(disk, s.Name)
		// A swap file lives on the root file system; a partition names
		// its disk.
		if s.Type == "file" && sd[rootDisk(f)] {
			onSD = true
		}
		for n := range sd {
			if strings.HasPrefix(strings.TrimPrefix(s.Name, "/dev/"), n) {
				onSD = true
			}
		}
	}
	c.r.Figures.SwapTotal, c.r.Figures.SwapUsed = total, used
	res := Result{Group: Swap, Name: "use", Status: OK, Evidence: "/proc/swaps"}
	switch {
	case total == 0:
		res.Value, res.Detail = "none", "no swap: memory pressure goes to the OOM killer, as the guide advises for containers with limits"
	default:
		res.Value = fmt.Sprintf("%s of %s used", platform.HumanBytes(used), platform.HumanBytes(total))
		kind := "disk"
		if len(disk) == 0 {
			kind = "zram"
		}
		res.Detail = kind + " swap (" + strings.Join(append(zram, disk...), ", ") + ")"
		if z := f.Kernel.Sysctl["vm.swappiness"]; z != "" {
			res.Detail += ", swappiness " + z
		}
		if h.Zswap != nil && len(disk) > 0 {
			res.Detail += ", zswap " + map[bool]string{true: "on", false: "off"}[h.Zswap.Value]
		}
		switch {
		case onSD:
			res.Status, res.Fix = Warn, "task swap (no swap on the SD card, which wears out: zram sized from RAM instead), then reboot"
			res.Detail += ": on the SD card"
		case used*2 > total:
			res.Status, res.Fix = Warn, "memory limits on the containers, or more RAM"
			res.Detail += ": more than half in use"
		case f.Platform.IsRaspberryPi() && len(disk) > 0 && total > f.MemTotal/4 && f.MemTotal > 0:
			res.Status, res.Fix = Warn, "keep disk swap minimal (the guide: disabled or small) and use zswap"
			res.Detail += fmt.Sprintf(": more than a quarter of RAM (%s)", platform.HumanBytes(f.MemTotal))
		}
	}
	c.add(res)
}

func rootDisk(f *platform.Facts) string {
	for _, b := range f.Block {
		if b.Root {
			return b.Name
		}
	}
	return ""
}

// headroom is the share of RAM the guide keeps free of container limits
// (10–25 %): above 1-headroomFail of RAM is a failure, above
// 1-headroomWarn a warning.
const (
	headroomWarn = 0.25
	headroomFail = 0.10
)

func (c *checker) memory() {
	f, h := c.in.Facts, c.in.Health
	if !f.Runtime {
		c.unknownHere(Memory, "controller")
		return
	}
	res := Result{Group: Memory, Name: "controller", Status: OK, Value: "memory controller on", Evidence: "/sys/fs/cgroup/cgroup.controllers"}
	switch {
	case f.Kernel.CgroupControllers == nil:
		res.Status, res.Value, res.Detail = Fail, "no cgroup v2", "container limits cannot be enforced"
		res.Fix = "boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1)"
	case !slices.Contains(f.Kernel.CgroupControllers, "memory"):
		res.Status, res.Value, res.Detail = Fail, "memory controller off", "container memory limits are ignored"
		res.Fix = "task memory-cgroup (cgroup_enable=memory), then reboot"
	}
	c.add(res)
	if len(h.Containers) == 0 {
		c.add(Result{Group: Memory, Name: "containers", Status: OK, Value: "none running", Evidence: containerCgroups,
			Detail: "no Podman container is running"})
		return
	}
	var memSum uint64
	var cpuSum float64
	for _, ct := range h.Containers {
		memSum += ct.MemoryMax
		cpuSum += ct.CPUs
	}
	c.containers(h.Containers)
	// The budget `resources` sizes containers to: RAM less what the
	// host keeps (huge pages, a tmpfs /tmp, a volatile journal) less the
	// OS's least headroom; the warning line leaves it the most.
	budget, _, _ := alloc.BudgetOf(alloc.Bytes(f.MemTotal), "/proc/meminfo", c.in.Reserved)
	kept := uint64(0)
	for _, r := range c.in.Reserved {
		kept += uint64(r.Size)
	}
	// CPU limits are weighed against physical cores, as resources sizes
	// them (the logical CPUs where topology is unknown).
	cores := f.PhysicalCores
	if cores == 0 {
		cores = f.Cores
	}
	fit := Result{Group: Memory, Name: "limits-fit", Status: OK, Evidence: "/proc/meminfo, /sys/fs/cgroup"}
	fit.Value = fmt.Sprintf("memory limits %s of a %s budget (%s); CPU limits %.2f of %d physical cores", platform.HumanBytes(memSum),
		platform.HumanBytes(uint64(budget)), alloc.BudgetWords(alloc.Bytes(f.MemTotal), c.in.Reserved), cpuSum, cores)
	switch {
	case f.MemTotal == 0:
		fit.Status, fit.Detail = Unknown, "RAM unknown"
	case memSum > uint64(budget):
		fit.Status, fit.Detail = Fail, fmt.Sprintf("limits leave less than %.0f %% of RAM to the host, beyond what it keeps", headroomFail*100)
		fit.Fix = "lower the containers' memory limits (`ezedge-host resources` sizes them to the budget)"
	case float64(memSum+kept) > float64(f.MemTotal)*(1-headroomWarn):
		fit.Status, fit.Detail = Warn, fmt.Sprintf("limits leave less than %.0f %% of RAM to the host, beyond what it keeps", headroomWarn*100)
		fit.Fix = "lower the containers' memory limits (`ezedge-host resources` sizes them to the budget)"
	case cores > 0 && cpuSum > float64(cores):
		fit.Status, fit.Detail = Warn, "CPU limits add up to more physical cores than the host has"
		fit.Fix = "lower the containers' --cpus"
	default:
		fit.Detail = fmt.Sprintf("at least %.0f %% of RAM left to the host", headroomWarn*100)
	}
	c.add(fit)
}

func limitText(n uint64) string {
	if n == 0 {
		return "none"
	}
	return platform.HumanBytes(n)
}

// tuning turns the plan into one check per task: in place, pending, or
// pending a reboot; and the plan's drift and warnings (a file that wins
// over ours) as their own checks.
func (c *checker) tuning() {
	if c.in.PlanError != nil {
		c.add(Result{Group: Tuning, Name: "plan", Status: Fail, Value: "no plan can be made",
			Detail: c.in.PlanError.Error(), Fix: "see `ezedge-host plan`; turn the task named off in the profile"})
		return
	}
	p := c.in.Plan
	pending := map[string]int{}
	var order []string
	for _, ch := range p.Changes {
		if ch.Action != plan.None {
			c.r.Figures.PendingChanges++
		}
		// A resource several tasks share (the kernel command line) names
		// them all: "zswap,memory-cgroup".
		for _, t := range strings.Split(ch.Task, ",") {
			if _, seen := pending[t]; !seen {
				order = append(order, t)
				pending[t] = 0
			}
			if ch.Action != plan.None {
				pending[t]++
			}
		}
	}
	reboot := map[string][]string{}
	for _, rp := range p.RebootPending {
		// "arg (task): in file, not in /proc/cmdline yet"
		if i := strings.Index(rp, " ("); i >= 0 {
			if j := strings.Index(rp[i:], ")"); j > 0 {
				t := rp[i+2 : i+j]
				reboot[t] = append(reboot[t], rp[:i])
			}
		}
	}
	c.r.Figures.PendingReboot = len(p.RebootPending) > 0
	c.r.Figures.Drift = len(p.Drift)
	c.r.Figures.LastApply = c.in.LastApply
	var ts []Result
	for _, t := range order {
		res := Result{Group: Tuning, Name: t, Status: OK, Value: "in place"}
		switch {
		case pending[t] > 0:
			res.Status, res.Value = Fail, fmt.Sprintf("%d change(s) pending", pending[t])
			res.Detail, res.Fix = "not applied: `ezedge-host plan` shows what", "ezedge-host apply"
		case len(reboot[t]) > 0:
			res.Status, res.Value = Warn, "pending reboot"
			res.Detail, res.Fix = strings.Join(reboot[t], " ")+" configured, not active until the next boot", "reboot"
		}
		ts = append(ts, res)
	}
	for _, s := range p.Skipped {
		ts = append(ts, Result{Group: Tuning, Name: s.Task, Status: OK, Value: "not used here", Detail: s.Reason})
	}
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	c.r.Results = append(c.r.Results, ts...)
	if len(p.Drift) > 0 {
		c.add(Result{Group: Tuning, Name: "drift", Status: Warn, Value: fmt.Sprintf("%d resource(s) changed since the apply", len(p.Drift)),
			Detail: strings.Join(p.Drift, "; "), Fix: "ezedge-host apply (or find what changed them)"})
	}
	if len(p.Warnings) > 0 {
		c.add(Result{Group: Tuning, Name: "warnings", Status: Warn, Value: fmt.Sprintf("%d warning(s)", len(p.Warnings)),
			Detail: strings.Join(p.Warnings, "; "), Fix: "see `ezedge-host plan`"})
	}
}

// reboot says whether the running system waits for a reboot, for
// ezedge-host's changes or another package's (a new kernel): a warning
// naming them. On another root there is no such check.
func (c *checker) reboot() {
	rb := c.in.Reboot
	if rb == nil {
		return
	}
	res := Result{Group: Tuning, Name: "reboot", Status: OK, Value: "not required", Evidence: "/run/reboot-required"}
	var why []string
	if len(rb.Changes) > 0 {
		why = append(why, strings.Join(rb.Changes, ", ")+" take effect only at the next boot")
	}
	var others []string
	for _, p := range rb.Packages {
		if p != "ezedge-host" {
			others = append(others, p)
		}
	}
	if len(others) > 0 {
		why = append(why, "packages: "+strings.Join(others, ", "))
	} else if rb.Notice && len(rb.Changes) == 0 {
		why = append(why, "/run/reboot-required exists")
	}
	if len(why) > 0 {
		res.Status, res.Value, res.Detail, res.Fix = Warn, "required", strings.Join(why, "; "), "reboot when the host can be"
	}
	if rb.Err != nil {
		res.Status, res.Value, res.Detail = Unknown, "unreadable", rb.Err.Error()
	}
	c.add(res)
}

// freshFor is how old the textfile may be: the timer writes it every
// minute.
const freshFor = 5 * time.Minute

func (c *checker) monitoring() {
	f := c.in.Facts
	ne := f.Units[NodeExporter]
	res := Result{Group: Monitoring, Name: "node-exporter", Status: OK, Value: "enabled", Evidence: NodeExporter}
	switch {
	case !ne.Installed:
		res.Status, res.Value, res.Fix = Warn, "not installed", "apt install prometheus-node-exporter"
		res.Detail = "nothing exports this host's metrics"
	case !ne.Enabled:
		res.Status, res.Value, res.Fix = Warn, "installed, not enabled", "systemctl enable --now "+NodeExporter
	}
	c.add(res)
	tm := f.Units[Timer]
	res = Result{Group: Monitoring, Name: "check-timer", Status: OK, Value: "enabled", Evidence: Timer}
	if !tm.Installed || !tm.Enabled {
		res.Status, res.Value, res.Fix = Warn, "not enabled", "task check-timer"
		res.Detail = "nothing refreshes this check's metrics"
		if !tm.Installed {
			res.Value = "not installed"
		}
	}
	c.add(res)
	if c.in.TextfileTime.IsZero() && !tm.Enabled {
		return // the check-timer result says it already
	}
	res = Result{Group: Monitoring, Name: "textfile", Status: OK, Evidence: c.in.Textfile}
	switch {
	case c.in.TextfileTime.IsZero():
		res.Status, res.Value, res.Fix = Warn, "never written", "task check-timer"
	case !f.Runtime:
		res.Status, res.Value = Unknown, "written "+c.in.TextfileTime.UTC().Format(time.RFC3339)
	case c.in.Now.Sub(c.in.TextfileTime) > freshFor:
		res.Status, res.Value = Warn, "stale: written "+c.in.Now.Sub(c.in.TextfileTime).Round(time.Second).String()+" ago"
		res.Fix = "systemctl status " + Timer
	default:
		res.Value = "written " + c.in.Now.Sub(c.in.TextfileTime).Round(time.Second).String() + " ago"
	}
	c.add(res)
}

// The monitoring units: Debian's node exporter and this check's timer.
const (
	NodeExporter = "prometheus-node-exporter.service"
	Timer        = "ezedge-host-check.timer"
)

// Observe is what a check needs read beyond the tasks' facts.
var Observe = platform.Observe{Units: []string{"fstrim.timer", NodeExporter, Timer}}

// Options are a check's choices.
type Options struct {
	// As is --platform; Choices the profile's (nil: the defaults).
	As      platform.Kind
	Choices tasks.Choices
	// Firmware: read the firmware's get_throttled word.
	Firmware bool
	// TextfileDir is the node exporter's textfile directory in the root
	// ("": none).
	TextfileDir string
	// Probe, when set, is this check's own short measurement, compared
	// with the newest baseline.
	Probe *baseline.Record
	// Reboot is what the running system waits for a reboot for (nil on
	// another root).
	Reboot *Reboot
	// Names, when set, names the containers (ID to name) instead of the
	// running system's Podman: a test's names for a fixture's containers.
	// The containers themselves always come from the cgroups.
	Names func() map[string]string
}

// DefaultTextfileDir is Debian's prometheus-node-exporter textfile
// directory: where the textfile whose age a check reports is looked for
// when none is named.
const DefaultTextfileDir = "/var/lib/prometheus/node-exporter"

// TextfileName is the file the check writes in the textfile directory.
const TextfileName = "ezedge-host.prom"

// Host reads the host at h and checks it: the facts, the live health, the
// plan with the profile's choices, and the applies in force.
func Host(h *hostroot.Root, store *rollback.Store, o Options, now time.Time) (*Report, error) {
	f, err := platform.DetectAs(h, o.As, tasks.Observations().Merge(Observe))
	if err != nil {
		return nil, err
	}
	p, perr := plan.Build(h, store, f, o.Choices)
	if perr != nil {
		p = &plan.Plan{Root: h.Dir(), Facts: f}
	}
	ho := platform.HealthOptions{Firmware: o.Firmware}
	switch {
	case o.Names != nil:
		ho.Names = o.Names()
	case h.IsSystemRoot() && f.Runtime:
		ho.Names = platform.RunningPodmanNames()
	}
	in := Input{Facts: f, Health: platform.ReadHealth(h, f, ho), Plan: p, PlanError: perr, Reboot: o.Reboot, Now: now,
		Reserved: tasks.Reserved(f, o.Choices)}
	if hi, err := store.History(); err == nil {
		for _, r := range hi.Records {
			if (r.Status() == rollback.Applied || r.Status() == rollback.PartlyRolledBack) && r.Time.After(in.LastApply) {
				in.LastApply = r.Time
			}
		}
	}
	in.Baselines = Baselines{Live: h.IsSystemRoot() && f.Runtime, Probe: o.Probe}
	if in.Baselines.Live {
		recs, skipped, err := baseline.List(h)
		if err != nil {
			skipped = append(skipped, err.Error())
		}
		in.Baselines.Records, in.Baselines.Skipped = recs, skipped
	}
	if o.TextfileDir != "" {
		in.Textfile = path.Join(o.TextfileDir, TextfileName)
		if st, err := h.Stat(in.Textfile); err == nil && st.Mode().IsRegular() {
			in.TextfileTime = st.ModTime()
		}
	}
	return Run(in), nil
}

// WriteTextfile replaces the textfile in dir (inside the root) atomically:
// the node exporter never reads half a file.
func WriteTextfile(h *hostroot.Root, dir string, data []byte) error {
	st, err := h.Stat(dir)
	if err != nil {
		return fmt.Errorf("--textfile-dir %s: %w (is prometheus-node-exporter installed?)", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("--textfile-dir %s: not a directory", dir)
	}
	return h.WriteAtomic(path.Join(dir, TextfileName), data, 0o644, 0, 0)
}
