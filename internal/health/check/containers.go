package check

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/platform"
)

// Containers is the guide's "monitor containers": each running Podman
// container's cgroup as the kernel counts it since the container started
// (memory near its limit, OOM kills, CPU throttling, pressure stalls),
// the signals `podman stats` and the kernel's PSI give.
const Containers Group = "containers"

// The thresholds of the container checks (docs/check.md gives their
// sources).
const (
	// memoryNearLimit: the working set (memory.current less inactive page
	// cache) above 90 % of memory.max warns (the and the guide's
	// "memory near its limit"); the kernel reclaims, then OOM-kills, at
	// 100 %.
	memoryNearLimit = 0.90
	// throttledWarn: the quota ran out in more than 25 % of the CFS
	// periods (nr_throttled / nr_periods), the threshold of
	// kubernetes-mixin's CPUThrottlingHigh alert.
	throttledWarn = 0.25
	// memoryPressureFail is systemd-oomd's DefaultMemoryPressureLimit
	// (60 %), against which it compares the same figure, memory.pressure's
	// "full avg10", before killing a cgroup; memoryPressureWarn is ours: a
	// tenth of the time with every task of the container stalled on
	// memory, what the kernel's PSI document calls thrashing, well before
	// oomd would act.
	memoryPressureWarn = 10.0
	memoryPressureFail = 60.0
	// cpuPressureWarn is ours: cpu.pressure's "some avg10" at 25 %, a task
	// of the container waiting for a CPU a quarter of the time, the same
	// share as throttledWarn.
	cpuPressureWarn = 25.0
)

// containerCgroups is where containers are looked for, the evidence of
// the results about all of them: a scope (systemd), a cgroupfs cgroup, a
// --cgroups=split payload (Quadlet).
const containerCgroups = "/sys/fs/cgroup (libpod-*.scope, libpod-*, libpod-payload-*)"

// MaxContainers is how many containers get results of their own (and
// series of their own in the textfile): the worst first, then by name.
// The rest are summed in one result, containers.others, whose status is
// the worst of theirs and whose detail names them.
const MaxContainers = 20

// maxOthersNamed is how many of the rest containers.others names.
const maxOthersNamed = 40

// ContainerFigure is one container's figures, for monitoring; a figure
// that could not be read is nil.
type ContainerFigure struct {
	Name string `json:"name"`
	// ByID: Podman gave no name for it here (Name is its ID's first 12
	// digits); the textfile gives such containers no series.
	ByID bool `json:"-"`
	// MemoryRatio is the working set (memory.current less inactive_file)
	// over memory.max (nil without a limit, 1 with memory.max 0).
	MemoryRatio *float64 `json:"memory_usage_ratio,omitempty"`
	OOMKills    *uint64  `json:"oom_kills,omitempty"`
	// ThrottledRatio is nr_throttled over nr_periods (0 without a quota).
	ThrottledRatio *float64 `json:"cpu_throttled_periods_ratio,omitempty"`
	// MemoryPressure and CPUPressure are PSI avg10 as ratios (0–1):
	// memory's "full", CPU's "some".
	MemoryPressure *float64 `json:"memory_pressure_full_avg10_ratio,omitempty"`
	CPUPressure    *float64 `json:"cpu_pressure_some_avg10_ratio,omitempty"`
}

// containerName is what a container is called in results: its Podman
// name, else its ID's first 12 digits.
func containerName(ct platform.ContainerLimit) string {
	if ct.Name != "" {
		return ct.Name
	}
	return ct.ID[:min(12, len(ct.ID))]
}

// containerChecks are one container's results: its limits (memory group,
// as before) and its usage.
type containerChecks struct {
	name    string
	byID    bool
	results []Result
	figure  ContainerFigure
	worst   Status
}

// containers adds each container's results, bounded by MaxContainers.
func (c *checker) containers(cts []platform.ContainerLimit) {
	all := make([]containerChecks, 0, len(cts))
	for _, ct := range cts {
		cc := containerChecks{name: containerName(ct)}
		cc.results = append(cc.results, limitsResult(ct, cc.name))
		cc.byID = ct.Name == ""
		usage, fig := usageResults(ct, cc.name)
		cc.results = append(cc.results, usage...)
		cc.figure = fig
		for _, r := range cc.results {
			if r.Status != Unknown && r.Status > cc.worst {
				cc.worst = r.Status
			}
		}
		all = append(all, cc)
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].worst != all[j].worst {
			return all[i].worst > all[j].worst
		}
		return all[i].name < all[j].name
	})
	shown := all[:min(len(all), MaxContainers)]
	rest := all[len(shown):]
	// Chosen worst first, shown by name: a container keeps its place
	// while its state changes.
	shown = append([]containerChecks(nil), shown...)
	sort.SliceStable(shown, func(i, j int) bool { return shown[i].name < shown[j].name })
	// Limits first (memory group), then usage (containers group): the
	// text output shows them by group anyway, JSON in this order.
	for _, cc := range shown {
		c.add(cc.results[0])
	}
	for _, cc := range shown {
		for _, r := range cc.results[1:] {
			c.add(r)
		}
		c.r.Figures.Containers = append(c.r.Figures.Containers, cc.figure)
	}
	if len(rest) == 0 {
		return
	}
	others := Result{Group: Containers, Name: "others", Status: OK, Evidence: containerCgroups}
	counts := map[Status]int{}
	var names []string
	for _, cc := range rest {
		names = append(names, cc.name)
		if cc.byID {
			w := OK
			for _, r := range cc.results {
				if Worse(r.Status, w) {
					w = r.Status
				}
			}
			c.r.Figures.UnnamedOthers = append(c.r.Figures.UnnamedOthers, w)
		}
		if cc.worst > others.Status {
			others.Status = cc.worst
		}
		for _, r := range cc.results {
			counts[r.Status]++
		}
	}
	others.Value = fmt.Sprintf("%d more containers: %d checks ok, %d warn, %d fail, %d unknown", len(rest), counts[OK], counts[Warn], counts[Fail], counts[Unknown])
	// The names too are bounded: a host running thousands gets a line,
	// not a page.
	listed := strings.Join(names[:min(len(names), maxOthersNamed)], ", ")
	if len(names) > maxOthersNamed {
		listed += fmt.Sprintf(" and %d more", len(names)-maxOthersNamed)
	}
	others.Detail = fmt.Sprintf("only the %d worst containers have checks of their own; the rest: %s", MaxContainers, listed)
	if others.Status == Warn || others.Status == Fail {
		others.Fix = "`podman stats` shows each of them; fewer containers on this host"
	}
	c.add(others)
}

// limitsResult is memory.container.<name>: the limits the kernel holds
// the container to.
func limitsResult(ct platform.ContainerLimit, name string) Result {
	var missing []string
	if ct.MemoryMax == 0 {
		missing = append(missing, "memory limit")
	}
	if ct.CPUs == 0 {
		missing = append(missing, "CPU limit")
	}
	val := []string{"memory.max " + limitText(ct.MemoryMax), "memory.low " + limitText(ct.MemoryLow)}
	if ct.CPUs == 0 {
		val = append(val, "cpu.max max")
	} else {
		val = append(val, fmt.Sprintf("cpu.max %.2f CPUs", ct.CPUs))
	}
	r := Result{Group: Memory, Name: "container." + name, Status: OK, Value: strings.Join(val, ", "), Evidence: ct.Cgroup,
		Detail: "limits set", ByID: ct.Name == "", Container: name, ContainerID: ct.ID}
	if len(missing) > 0 {
		r.Status, r.Detail = Warn, "no "+strings.Join(missing, " and no ")+": one container can starve the others"
		r.Fix = "podman run --memory … --cpus … (or the quadlet's MemoryMax=, CPUQuota=)"
	}
	return r
}

// unreadable is a usage check whose file could not be read or parsed:
// unknown, naming the file and why.
func unreadable(r Result, file, why string) Result {
	r.Status, r.Value, r.Detail, r.Evidence = Unknown, "unreadable", why, file
	return r
}

// psiRatio is a PSI percentage (two decimals, as the kernel prints it)
// as a ratio, without the binary fraction's tail (48.2 % is 0.482).
func psiRatio(p float64) float64 { return math.Round(p*100) / 10000 }

func pct(x float64) string { return fmt.Sprintf("%.1f %%", x*100) }

// usageResults are containers.<name>.{memory,oom-kills,cpu-throttling,
// memory-pressure,cpu-pressure} and the figures behind them.
func usageResults(ct platform.ContainerLimit, name string) ([]Result, ContainerFigure) {
	fig := ContainerFigure{Name: name, ByID: ct.Name == ""}
	base := Result{Group: Containers, ByID: ct.Name == "", Container: name, ContainerID: ct.ID}
	var out []Result
	for _, f := range []func(platform.ContainerUsage, Result, *ContainerFigure) Result{memoryResult, oomResult, throttleResult, memoryPressureResult, cpuPressureResult} {
		out = append(out, f(ct.Usage, base, &fig))
	}
	return out, fig
}

// memoryResult is containers.<name>.memory: the working set
// (memory.current less memory.stat's inactive_file, the page cache the
// kernel reclaims before an OOM kill) against memory.max.
func memoryResult(u platform.ContainerUsage, r Result, fig *ContainerFigure) Result {
	r.Name = r.Container + ".memory"
	m := u.Memory
	if !m.OK() {
		return unreadable(r, m.File, m.Err)
	}
	// Both figures: the working set is what is compared, memory.current
	// what the cgroup is charged, page cache and all.
	use := fmt.Sprintf("%s working set (memory.current %s less inactive_file %s)", platform.HumanBytes(m.Value.WorkingSet()),
		platform.HumanBytes(m.Value.Current), platform.HumanBytes(m.Value.InactiveFile))
	r.Status, r.Evidence = OK, m.File
	switch ratio, limited := m.Value.Ratio(); {
	case !limited:
		r.Value = use + ", no limit"
		r.Detail = "memory.max is max: no limit, so no share of one"
	case m.Value.Max == 0:
		// Nothing more may be charged: at or over the limit whatever the
		// use. The figure is 1, the least the share can be.
		one := 1.0
		fig.MemoryRatio = &one
		r.Status = Warn
		r.Value = use + ", memory.max 0"
		r.Detail = "memory.max is 0: no memory may be charged, any use is at or over the limit"
		r.Fix = "a higher --memory for the container (`ezedge-host resources` sizes it)"
	default:
		fig.MemoryRatio = &ratio
		r.Value = fmt.Sprintf("%s of %s (%s)", use, platform.HumanBytes(m.Value.Max), pct(ratio))
		r.Detail = fmt.Sprintf("working set at or below %.0f %% of memory.max", memoryNearLimit*100)
		if ratio > memoryNearLimit {
			r.Status = Warn
			r.Detail = fmt.Sprintf("working set above %.0f %% of memory.max: the kernel reclaims what page cache is left, then OOM-kills at the limit", memoryNearLimit*100)
			r.Fix = "a higher --memory for the container (`ezedge-host resources` sizes it), or a smaller model"
		}
	}
	return r
}

// oomResult is containers.<name>.oom-kills: memory.events' oom_kill.
func oomResult(u platform.ContainerUsage, r Result, fig *ContainerFigure) Result {
	r.Name = r.Container + ".oom-kills"
	switch e := u.OOMKills; {
	case !e.OK():
		r = unreadable(r, e.File, e.Err)
	default:
		n := e.Value
		fig.OOMKills = &n
		r.Status, r.Evidence = OK, e.File
		r.Value = fmt.Sprintf("%d since the container started", n)
		r.Detail = "no process of the container was killed for memory"
		if n > 0 {
			// The cgroup is made when the container starts, so its
			// counter starts at 0 then: any kill is one since the start.
			r.Status = Fail
			r.Detail = "the kernel's OOM killer killed a process of the container (memory.events oom_kill)"
			r.Fix = "a higher --memory for the container, or a smaller model; `journalctl -k` names the process"
		}
	}
	return r
}

// throttleResult is containers.<name>.cpu-throttling: cpu.stat's
// throttled periods.
func throttleResult(u platform.ContainerUsage, r Result, fig *ContainerFigure) Result {
	r.Name = r.Container + ".cpu-throttling"
	switch s := u.CPU; {
	case !s.OK():
		r = unreadable(r, s.File, s.Err)
	case s.Value.NrPeriods == 0:
		zero := 0.0
		fig.ThrottledRatio = &zero
		r.Status, r.Evidence = OK, s.File
		r.Value = "no CFS periods"
		r.Detail = "no cpu.max quota enforced: never throttled"
	default:
		ratio := s.Value.ThrottledRatio()
		fig.ThrottledRatio = &ratio
		r.Status, r.Evidence = OK, s.File
		r.Value = fmt.Sprintf("%s of %d periods throttled (%.1f s)", pct(ratio), s.Value.NrPeriods, float64(s.Value.ThrottledUsec)/1e6)
		r.Detail = fmt.Sprintf("at or below %.0f %% of the periods since the container started", throttledWarn*100)
		if ratio > throttledWarn {
			r.Status = Warn
			r.Detail = fmt.Sprintf("the CPU quota ran out in more than %.0f %% of the periods since the container started", throttledWarn*100)
			r.Fix = "a higher --cpus for the container, or fewer threads (NUM_THREADS, WORKERS) than its CPUs"
		}
	}
	return r
}

// memoryPressureResult is containers.<name>.memory-pressure: PSI full
// avg10.
func memoryPressureResult(u platform.ContainerUsage, r Result, fig *ContainerFigure) Result {
	r.Name = r.Container + ".memory-pressure"
	p := u.MemoryPressure
	if !p.OK() {
		return unreadable(r, p.File, p.Err)
	}
	v := psiRatio(p.Value)
	fig.MemoryPressure = &v
	r.Status, r.Evidence = OK, p.File
	r.Value = fmt.Sprintf("full avg10 %.2f %%", p.Value)
	r.Detail = fmt.Sprintf("below %.0f %%", memoryPressureWarn)
	switch {
	case p.Value >= memoryPressureFail:
		r.Status = Fail
		r.Detail = fmt.Sprintf("every task of the container stalled on memory at least %.0f %% of the last 10 s: systemd-oomd's limit for killing it", memoryPressureFail)
	case p.Value >= memoryPressureWarn:
		r.Status = Warn
		r.Detail = fmt.Sprintf("every task of the container stalled on memory at least %.0f %% of the last 10 s: it is thrashing", memoryPressureWarn)
	}
	if r.Status != OK {
		r.Fix = "a higher --memory for the container, or a smaller model"
	}
	return r
}

// cpuPressureResult is containers.<name>.cpu-pressure: PSI some avg10.
func cpuPressureResult(u platform.ContainerUsage, r Result, fig *ContainerFigure) Result {
	r.Name = r.Container + ".cpu-pressure"
	p := u.CPUPressure
	if !p.OK() {
		return unreadable(r, p.File, p.Err)
	}
	v := psiRatio(p.Value)
	fig.CPUPressure = &v
	r.Status, r.Evidence = OK, p.File
	r.Value = fmt.Sprintf("some avg10 %.2f %%", p.Value)
	r.Detail = fmt.Sprintf("below %.0f %%", cpuPressureWarn)
	if p.Value >= cpuPressureWarn {
		r.Status = Warn
		r.Detail = fmt.Sprintf("a task of the container waited for a CPU at least %.0f %% of the last 10 s", cpuPressureWarn)
		r.Fix = "a higher --cpus for the container, fewer threads, or fewer containers on this host"
	}
	return r
}
