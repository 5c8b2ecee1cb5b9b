// Package alloc holds the guide's container resource tables (memory per
// platform, CPUs per core count, the figures of each AI workload) as data,
// and computes from a host's facts what each container of a mix of
// workloads gets: memory limit and reservation, CPUs, environment, and
// which row or rule gave each figure. Between and beyond the table's
// sizes the figures come from the guide's own rules (the row's
// percentages, CPUs clamped to the cores present), never from new numbers.
package alloc

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/platform"
)

// Bytes is an amount of memory. It prints the way Podman and Compose take
// it: whole GiB as "4g", else whole MiB as "2457m".
type Bytes uint64

const (
	MiB Bytes = 1 << 20
	GiB Bytes = 1 << 30
)

func (b Bytes) String() string {
	if b%GiB == 0 {
		return fmt.Sprintf("%dg", b/GiB)
	}
	return fmt.Sprintf("%dm", b/MiB)
}

// Workload is a kind of AI capability the guide sizes.
type Workload string

const (
	LLM     Workload = "llm"
	STT     Workload = "stt"
	Vision  Workload = "vision"
	General Workload = "general"
)

// Workloads are the values --workload takes.
var Workloads = []Workload{LLM, STT, Vision, General}

// Class is the column of the guide's tables a host falls in.
type Class string

const (
	Pi    Class = "Raspberry Pi"
	AMD64 Class = "amd64"
)

// ClassOf is the table column for a platform. The guide has no column for
// other arm64 servers; they take amd64's, which is rules by size and
// cores, not by board.
func ClassOf(k platform.Kind) Class {
	if k.IsRaspberryPi() {
		return Pi
	}
	return AMD64
}

// memRow is one row of the guide's memory table: a host of Size gets
// Limit and Reservation for its containers.
type memRow struct {
	Class                    Class
	Host                     string
	Size, Limit, Reservation Bytes
}

// MemoryTable is the guide's "memory per platform" table.
var MemoryTable = []memRow{
	{Pi, "Pi 4 8 GB", 8 * GiB, 5 * GiB, 3 * GiB},
	{Pi, "Pi 5 16 GB", 16 * GiB, 12 * GiB, 8 * GiB},
	{AMD64, "amd64 24 GB", 24 * GiB, 18 * GiB, 12 * GiB},
	{AMD64, "amd64 32 GB+", 32 * GiB, 28 * GiB, 20 * GiB},
}

// MinHeadroom is the least share of RAM the guide leaves to the OS
// ("leave 10–25 % for the OS"): the sum of the limits must stay below the
// rest.
const MinHeadroom = 10 // percent

// Env is one environment variable a workload is tuned with.
type Env struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// workloadSpec is one cell of the guide's workload table. Threads names
// the variables that count threads: they follow the CPUs when those are
// clamped to the cores present.
type workloadSpec struct {
	Memory  Bytes
	CPUs    int
	Env     []Env
	Threads []string
}

// WorkloadTable is the guide's per-workload table.
var WorkloadTable = map[Workload]map[Class]workloadSpec{
	LLM: {
		Pi:    {4 * GiB, 4, []Env{{"NUM_THREADS", "4"}, {"MAX_CONCURRENT_REQUESTS", "2"}}, []string{"NUM_THREADS"}},
		AMD64: {20 * GiB, 8, []Env{{"NUM_THREADS", "8"}, {"MAX_CONCURRENT_REQUESTS", "5"}}, []string{"NUM_THREADS"}},
	},
	STT: {
		Pi:    {2 * GiB, 4, []Env{{"WORKERS", "2"}, {"BATCH_SIZE", "1"}}, nil},
		AMD64: {8 * GiB, 6, []Env{{"WORKERS", "4"}, {"BATCH_SIZE", "4"}}, nil},
	},
	Vision: {
		Pi:    {3 * GiB, 4, []Env{{"INFERENCE_THREADS", "4"}, {"IMAGE_CACHE_SIZE", "100"}}, []string{"INFERENCE_THREADS"}},
		AMD64: {12 * GiB, 8, []Env{{"INFERENCE_THREADS", "8"}, {"IMAGE_CACHE_SIZE", "500"}}, []string{"INFERENCE_THREADS"}},
	},
}

// cpuRow is one row of the guide's CPU table: hosts with From..To cores
// give their containers CPUs.
type cpuRow struct {
	Class    Class
	From, To int
	CPUs     int
}

// CPUTable is the guide's CPU table. Outside its rows: all cores on a Pi
// (a Pi's row is all four), 75 % elsewhere (the percentage its amd64 rows
// are taken at).
var CPUTable = []cpuRow{
	{Pi, 4, 4, 4},
	{AMD64, 6, 8, 6},
	{AMD64, 12, 16, 12},
}

// Reserve is memory the host keeps from containers: what keeps it, how
// much (the most it may take), and where that figure comes from.
type Reserve struct {
	What string `json:"what"`
	Size Bytes  `json:"bytes"`
	Why  string `json:"why"`
}

// Options are what Compute takes besides the host's facts and the mix.
type Options struct {
	// RAM, when not zero, stands for the RAM an image cannot show (--ram).
	RAM Bytes
	// Reserved is the memory the host keeps from containers, as planned
	// (tasks.Reserved): the budget subtracts each.
	Reserved []Reserve
	// Strict refuses a mix over the budget, as before scaling (CI).
	Strict bool
	// FloorPercent is the least share of its own figure a container is
	// scaled to; a mix that would take one below it is refused. 0:
	// DefaultFloorPercent.
	FloorPercent int
}

// DefaultFloorPercent is the floor where the profile sets none: half
// of what the guide gives a container. Below it a model sized for the
// row's limit would not load; the operator picks a smaller model and a
// smaller container instead (or fewer workloads per host).
const DefaultFloorPercent = 50

// Request is one container of the mix: its workload, and its name (the
// Compose service or Quadlet unit; the workload's name when not given).
type Request struct {
	Name     string
	Workload Workload
}

// Container is what one container gets, and why.
type Container struct {
	Name        string   `json:"name"`
	Workload    Workload `json:"workload"`
	Memory      Bytes    `json:"memory_limit_bytes"`
	Reservation Bytes    `json:"memory_reservation_bytes"`
	CPUs        int      `json:"cpus"`
	Env         []Env    `json:"environment"`
	Why         []string `json:"why"`
}

// Allocation is the mix sized for one host.
type Allocation struct {
	Platform platform.Kind `json:"platform"`
	Class    Class         `json:"class"`
	// MemTotal is what the kernel reports; Physical the RAM the guide's
	// tables speak of (the module size MemTotal falls short of).
	MemTotal Bytes `json:"mem_total_bytes"`
	Physical Bytes `json:"physical_bytes"`
	Cores    int   `json:"cores"`
	// PhysicalCores is what CPUs and threads are sized from (the guide:
	// "don't exceed physical cores"); Cores where topology is unknown.
	PhysicalCores int `json:"physical_cores"`
	// Row is the memory table row the percentages come from.
	Row string `json:"memory_row"`
	// Reserved is the memory the host keeps from containers besides the
	// OS's headroom (huge pages, a tmpfs /tmp's cap, a volatile
	// journal's cap); Headroom the OS's share (MinHeadroom of MemTotal).
	Reserved []Reserve `json:"reserved"`
	Headroom Bytes     `json:"headroom_bytes"`
	// Budget is MemTotal less Reserved and Headroom: the sum of the
	// limits may not exceed it; BudgetWhy is that sum, line by line.
	// Guide is the row's own total for containers.
	Budget         Bytes       `json:"budget_bytes"`
	BudgetWhy      []string    `json:"budget_why"`
	Guide          Bytes       `json:"guide_limit_bytes"`
	SumLimit       Bytes       `json:"sum_limit_bytes"`
	SumReservation Bytes       `json:"sum_reservation_bytes"`
	Containers     []Container `json:"containers"`
	// Scaled: the guide's figures did not fit the budget, and every
	// container was scaled down by one factor (scaleToBudget).
	Scaled   bool     `json:"scaled"`
	Warnings []string `json:"warnings,omitempty"`
}

// Name is what a container may be called: a Compose service name that is
// also a Quadlet unit name and a file name.
var Name = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// ParseRequest reads "WORKLOAD" or "WORKLOAD=NAME" (--workload llm=chat).
func ParseRequest(s string) (Request, error) {
	w, n, named := strings.Cut(s, "=")
	r := Request{Workload: Workload(w), Name: n}
	if !slices.Contains(Workloads, r.Workload) {
		return Request{}, fmt.Errorf("workload %q: want %s, optionally =NAME", w, joinWorkloads())
	}
	if !named {
		r.Name = w
	}
	if !Name.MatchString(r.Name) {
		return Request{}, fmt.Errorf("workload %q: name %q: want lower-case letters, digits, '_', '.' and '-', starting with a letter or digit, at most 63", s, r.Name)
	}
	return r, nil
}

func joinWorkloads() string {
	var s []string
	for _, w := range Workloads {
		s = append(s, string(w))
	}
	return strings.Join(s, ", ")
}

// Physical is the RAM a host was sold with: the smallest size of the form
// 2^k or 3·2^k GiB at or above MemTotal (the kernel and firmware keep the
// difference), when MemTotal is within 10 % of it; otherwise (a virtual
// machine given 20 GiB) MemTotal itself.
func Physical(memTotal Bytes) Bytes {
	for s := GiB; s < 1<<50; s *= 2 {
		for _, c := range []Bytes{s, s / 2 * 3} {
			if c >= memTotal {
				if memTotal >= c/10*9 {
					return c
				}
				return memTotal
			}
		}
	}
	return memTotal
}

// scale is n·num/den without overflow for sizes below an exbibyte, floored
// to a MiB.
func scale(n, num, den Bytes) Bytes {
	v := uint64(n/MiB) * uint64(num/MiB) / uint64(den/MiB)
	return Bytes(v) * MiB
}

// memoryRow is the row whose percentages a host of physical size p takes:
// the largest row of its class at or below p, or the smallest above.
func memoryRow(c Class, p Bytes) memRow {
	var best, smallest *memRow
	for i := range MemoryTable {
		r := &MemoryTable[i]
		if r.Class != c {
			continue
		}
		if smallest == nil || r.Size < smallest.Size {
			smallest = r
		}
		if r.Size <= p && (best == nil || r.Size > best.Size) {
			best = r
		}
	}
	if best == nil {
		return *smallest
	}
	return *best
}

// GeneralCPUs is the CPUs the guide gives a general container on a host
// of cores, and the rule that said so.
func GeneralCPUs(c Class, cores int) (int, string) {
	for _, r := range CPUTable {
		if r.Class == c && cores >= r.From && cores <= r.To {
			n := min(r.CPUs, cores)
			if r.From == r.To {
				return n, fmt.Sprintf("CPU table: %s with %d cores → %d", c, r.From, r.CPUs)
			}
			return n, fmt.Sprintf("CPU table: %s with %d–%d cores → %d", c, r.From, r.To, r.CPUs)
		}
	}
	if c == Pi {
		return cores, fmt.Sprintf("all %d cores (the guide gives a Pi all of its)", cores)
	}
	n := max(1, cores*3/4)
	return n, fmt.Sprintf("75 %% of %d cores (the rate of the guide's amd64 rows), at least 1", cores)
}

// BudgetOf is what the containers' limits may sum to on a host of memTotal
// keeping rs: MemTotal less each reserve, less MinHeadroom % of MemTotal
// for the OS (the guide's share is of all RAM, whatever else is kept),
// floored to a MiB; and that sum in words, a line each. 0 when nothing is
// left.
func BudgetOf(memTotal Bytes, src string, rs []Reserve) (b, headroom Bytes, why []string) {
	rest := memTotal / 100 * (100 - MinHeadroom)
	headroom = memTotal - rest
	why = []string{fmt.Sprintf("%s RAM (MemTotal, %s)", platform.HumanBytes(uint64(memTotal)), src)}
	for _, r := range rs {
		rest -= min(r.Size, rest)
		why = append(why, fmt.Sprintf("− %s %s: %s", platform.HumanBytes(uint64(r.Size)), r.What, r.Why))
	}
	why = append(why, fmt.Sprintf("− %s for the OS: %d %% of RAM (the guide's least headroom)", platform.HumanBytes(uint64(headroom)), MinHeadroom))
	b = rest / MiB * MiB
	return b, headroom, append(why, fmt.Sprintf("= %s for the containers' limits", b))
}

// Compute sizes the mix reqs for the host f with o.
func Compute(f *platform.Facts, o Options, reqs []Request) (*Allocation, error) {
	if len(reqs) == 0 {
		reqs = []Request{{Name: string(General), Workload: General}}
	}
	a := &Allocation{Platform: f.Platform, Class: ClassOf(f.Platform), MemTotal: Bytes(f.MemTotal), Cores: f.Cores, PhysicalCores: f.PhysicalCores, Reserved: o.Reserved}
	src := "/proc/meminfo"
	if o.RAM != 0 {
		a.MemTotal, src = o.RAM, "--ram"
	}
	if a.Reserved == nil {
		a.Reserved = []Reserve{}
	}
	switch {
	case a.MemTotal == 0:
		return nil, fmt.Errorf("this root shows no RAM (no /proc/meminfo: an image?): give the device's RAM with --ram")
	case a.Cores == 0 && a.Class == Pi:
		// An image shows no CPUs; every Raspberry Pi 4 and 5 has four
		// cores, one thread each.
		a.Cores, a.PhysicalCores = 4, 4
	case a.Cores == 0:
		return nil, fmt.Errorf("this root shows no CPUs (no /proc/cpuinfo or /sys/devices/system/cpu): size it on the host itself")
	}
	if a.PhysicalCores == 0 || a.PhysicalCores > a.Cores {
		a.PhysicalCores = a.Cores
	}
	a.Physical = Physical(a.MemTotal)
	row := memoryRow(a.Class, a.Physical)
	a.Row = row.Host
	limit := scale(a.Physical, row.Limit, row.Size)
	reservation := scale(a.Physical, row.Reservation, row.Size)
	a.Budget, a.Headroom, a.BudgetWhy = BudgetOf(a.MemTotal, src, a.Reserved)
	if a.Budget == 0 {
		return nil, fmt.Errorf("no memory is left for containers: %s", strings.Join(a.BudgetWhy, " "))
	}
	a.Guide = min(limit, a.Budget)
	rowWhy := fmt.Sprintf("memory table row %q: %s limit, %s reservation", row.Host, row.Limit, row.Reservation)
	if row.Size != a.Physical {
		rowWhy = fmt.Sprintf("memory table row %q (%s / %s of %s) scaled to %s: %s limit, %s reservation",
			row.Host, row.Limit, row.Reservation, Bytes(row.Size), a.Physical, limit, reservation)
	}
	seen := map[string]bool{}
	for _, r := range reqs {
		if seen[r.Name] {
			return nil, fmt.Errorf("workload %s: the name %q is given twice", r.Workload, r.Name)
		}
		seen[r.Name] = true
		var c Container
		if r.Workload == General {
			c = a.general(r.Name, limit, reservation, rowWhy)
		} else {
			c = a.workload(r, row)
		}
		a.SumLimit += c.Memory
		a.SumReservation += c.Reservation
		a.Containers = append(a.Containers, c)
	}
	a.Warnings = append(a.Warnings, a.cpuWarnings()...)
	if a.SumLimit > a.Budget {
		if err := a.scaleToBudget(o); err != nil {
			return nil, err
		}
	}
	if a.SumLimit > limit {
		a.Warnings = append(a.Warnings, fmt.Sprintf("memory limits sum to %s, more than the %s the guide gives all containers on this host (%s): the OS keeps less than the guide's headroom", a.SumLimit, limit, row.Host))
	}
	a.Warnings = append(a.Warnings, cgroupWarnings(f)...)
	return a, nil
}

// general is a general container: the row's limit and reservation, cut
// to the budget, and the CPU row.
func (a *Allocation) general(name string, limit, reservation Bytes, rowWhy string) Container {
	c := Container{Name: name, Workload: General, Env: []Env{}, Memory: a.Guide, Reservation: min(reservation, a.Guide)}
	c.Why = append(c.Why, rowWhy)
	if a.Guide < limit {
		c.Why = append(c.Why, fmt.Sprintf("limit cut to the budget, %s: %s", a.Guide, budgetWords(a)))
	}
	var why string
	c.CPUs, why = GeneralCPUs(a.Class, a.PhysicalCores)
	c.Why = append(c.Why, why)
	return c
}

// ThreadVars are the environment variables that count threads or worker
// processes: never more than the physical cores (llama.cpp #7176: more
// threads than cores halved throughput).
var ThreadVars = []string{"NUM_THREADS", "INFERENCE_THREADS", "WORKERS"}

// workload is r's cell of the workload table: its limit, a reservation
// at the row's ratio, its CPUs and thread counts within the physical
// cores.
func (a *Allocation) workload(r Request, row memRow) Container {
	s := WorkloadTable[r.Workload][a.Class]
	c := Container{Name: r.Name, Workload: r.Workload, Env: []Env{}, Memory: s.Memory}
	// The guide gives a workload its limit; its reservation keeps the
	// row's reservation-to-limit ratio.
	c.Reservation = scale(s.Memory, row.Reservation, row.Limit)
	c.CPUs = min(s.CPUs, a.PhysicalCores)
	c.Why = append(c.Why, fmt.Sprintf("workload table: %s on %s → %s, %d CPUs", r.Workload, a.Class, s.Memory, s.CPUs),
		fmt.Sprintf("reservation %s: %s × %s/%s (the ratio of memory table row %q)", c.Reservation, s.Memory, row.Reservation, row.Limit, row.Host))
	if c.CPUs < s.CPUs {
		c.Why = append(c.Why, fmt.Sprintf("CPUs clamped to the %s (the guide: never more than the physical cores)", a.coresWords()))
	}
	for _, e := range s.Env {
		if slices.Contains(s.Threads, e.Name) {
			e.Value = fmt.Sprint(c.CPUs)
		} else if n, err := strconv.Atoi(e.Value); err == nil && slices.Contains(ThreadVars, e.Name) && n > a.PhysicalCores {
			e.Value = fmt.Sprint(a.PhysicalCores)
			c.Why = append(c.Why, fmt.Sprintf("%s %d → %d: never more threads than the %s", e.Name, n, a.PhysicalCores, a.coresWords()))
		}
		c.Env = append(c.Env, e)
	}
	return c
}

// coresWords is "4 physical cores", or "6 physical cores (12 logical
// CPUs)" where SMT makes more.
func (a *Allocation) coresWords() string {
	if a.PhysicalCores == a.Cores {
		return fmt.Sprintf("%d physical cores", a.PhysicalCores)
	}
	return fmt.Sprintf("%d physical cores (%d logical CPUs)", a.PhysicalCores, a.Cores)
}

// cpuWarnings say when the containers' CPUs, or their threads, sum to
// more than the physical cores: each --cpus limits one container, not
// all, so under load they slow each other.
func (a *Allocation) cpuWarnings() []string {
	var cpus, threads int
	var parts []string
	for _, c := range a.Containers {
		cpus += c.CPUs
		parts = append(parts, fmt.Sprintf("%s %d", c.Name, c.CPUs))
		for _, e := range c.Env {
			if n, err := strconv.Atoi(e.Value); err == nil && slices.Contains(ThreadVars, e.Name) {
				threads += n
			}
		}
	}
	if cpus <= a.PhysicalCores && threads <= a.PhysicalCores {
		return nil
	}
	return []string{fmt.Sprintf("CPUs sum to %d (%s) and threads to %d on %s: the containers overcommit the cores and slow each other under load; run fewer workloads on this host, or lower their --cpus and thread counts",
		cpus, strings.Join(parts, " + "), threads, a.coresWords())}
}

// scaleToBudget scales every container's limit and reservation by one
// factor, the budget over the sum of the limits (floored to a MiB, so
// the sum stays within it), saying so in each Why and a warning; unless
// o.Strict, or a container would fall below its floor: then it refuses
// with the sums.
func (a *Allocation) scaleToBudget(o Options) error {
	var parts []string
	for _, c := range a.Containers {
		parts = append(parts, fmt.Sprintf("%s %s", c.Name, c.Memory))
	}
	over := fmt.Sprintf("memory limits sum to %s (%s), more than this host's %s: %s",
		a.SumLimit, strings.Join(parts, " + "), a.Budget, budgetWords(a))
	if o.Strict {
		return fmt.Errorf("%s (--strict: not scaled)", over)
	}
	floor := o.FloorPercent
	if floor == 0 {
		floor = DefaultFloorPercent
	}
	sum := a.SumLimit
	// Per mille, floored: what the text says is never more than applied.
	pm := uint64(a.Budget/MiB) * 1000 / uint64(sum/MiB)
	a.SumLimit, a.SumReservation = 0, 0
	for i := range a.Containers {
		c := &a.Containers[i]
		least := scale(c.Memory, Bytes(floor)*MiB, 100*MiB)
		m, r := scale(c.Memory, a.Budget, sum), scale(c.Reservation, a.Budget, sum)
		if m < least || m == 0 {
			return fmt.Errorf("%s; scaled to fit, %s would get %s, below its floor of %s (%d %% of %s)", over, c.Name, m, least, floor, c.Memory)
		}
		c.Why = append(c.Why, fmt.Sprintf("scaled by %d.%d %% to fit the budget: limit %s → %s, reservation %s → %s (the mix's %s over %s)", pm/10, pm%10, c.Memory, m, c.Reservation, r, sum, a.Budget))
		c.Memory, c.Reservation = m, r
		a.SumLimit += m
		a.SumReservation += r
	}
	a.Scaled = true
	a.Warnings = append(a.Warnings, fmt.Sprintf("%s; every container is scaled by %d.%d %% to fit (--strict refuses instead; each keeps at least %d %% of its figure)", over, pm/10, pm%10, floor))
	return nil
}

// budgetWords is a's budget in one phrase.
func budgetWords(a *Allocation) string { return BudgetWords(a.MemTotal, a.Reserved) }

// BudgetWords is the budget of a host of memTotal keeping rs in one
// phrase: "31.3 GiB RAM less 2 GiB huge pages less 10 % for the OS".
func BudgetWords(memTotal Bytes, rs []Reserve) string {
	w := platform.HumanBytes(uint64(memTotal)) + " RAM"
	for _, r := range rs {
		w += " less " + platform.HumanBytes(uint64(r.Size)) + " " + r.What
	}
	return w + fmt.Sprintf(" less %d %% for the OS", MinHeadroom)
}

// cgroupWarnings say when limits written would not take effect.
func cgroupWarnings(f *platform.Facts) []string {
	if !f.Runtime {
		return nil
	}
	ctl := f.Kernel.CgroupControllers
	switch {
	case ctl == nil:
		return []string{"no cgroup v2 (/sys/fs/cgroup/cgroup.controllers is missing): on cgroup v1 Podman's memory reservation and CPU limits need the v1 controllers mounted; the guide's host runs cgroup v2"}
	case !slices.Contains(ctl, "memory"):
		return []string{"the memory controller is not available (/sys/fs/cgroup/cgroup.controllers has no memory): memory limits and reservations are ignored; the memory-cgroup task adds cgroup_enable=memory"}
	case !slices.Contains(ctl, "cpu"):
		return []string{"the cpu controller is not available (/sys/fs/cgroup/cgroup.controllers has no cpu): --cpus is ignored"}
	}
	return nil
}

// ParseBytes reads a size as Podman writes one: a number of bytes, or
// with k, m, g or t (binary units; "GiB", "GB" and the like are read the
// same way, the guide's "8 GB" Pi having 8 GiB).
func ParseBytes(s string) (Bytes, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "ib"), "b")
	mult := Bytes(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = MiB
		case 'g':
			mult = GiB
		case 't':
			mult = 1 << 40
		}
		if mult != 1 {
			t = strings.TrimSpace(t[:n-1])
		}
	}
	v, err := strconv.ParseUint(t, 10, 64)
	if err != nil || v == 0 || v > (1<<50)/uint64(mult) {
		return 0, fmt.Errorf("size %q: want a whole number of bytes, or with k, m, g or t (e.g. 8g), at most 1 PiB", s)
	}
	return Bytes(v) * mult, nil
}

// ParseFlags reads resources' --workload, --form and --ram values, each
// error naming its flag.
func ParseFlags(workloads, forms []string, ram string) ([]Request, []Form, Bytes, error) {
	var reqs []Request
	for _, w := range workloads {
		r, err := ParseRequest(w)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("--workload %s", err)
		}
		reqs = append(reqs, r)
	}
	var fs []Form
	for _, f := range forms {
		if !slices.Contains(Forms, Form(f)) {
			return nil, nil, 0, fmt.Errorf("--form %q: want compose, quadlet or run", f)
		}
		fs = append(fs, Form(f))
	}
	var size Bytes
	if ram != "" {
		var err error
		if size, err = ParseBytes(ram); err != nil {
			return nil, nil, 0, fmt.Errorf("--ram %s", err)
		}
	}
	return reqs, fs, size, nil
}
