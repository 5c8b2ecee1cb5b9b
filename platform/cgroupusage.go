package platform

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// cgroupFileLimit bounds each cgroup file read for a container's usage:
// memory.events, cpu.stat and the pressure files are a few hundred bytes,
// memory.stat a few kilobytes; anything larger is not the kernel's.
const cgroupFileLimit = 16 << 10

// CgroupValue is one figure read from a container's cgroup: its value and
// the file it came from, or why it could not be read (Err names the file
// and what was wrong with it). Nothing in a cgroup file is trusted: a
// value that is missing, not a number, negative or out of range is an Err,
// never a zero.
type CgroupValue[T any] struct {
	Value T      `json:"value"`
	File  string `json:"file"`
	Err   string `json:"error,omitempty"`
}

// OK says whether the value was read.
func (v CgroupValue[T]) OK() bool { return v.Err == "" }

// MemoryUse is memory.current against memory.max at one cgroup level.
// Limited is false for memory.max "max": no limit, so no share of it
// either (Max is then 0). A memory.max of 0 is a limit too, the tightest:
// nothing more may be charged, so any use is at or over it.
//
// The use measured is the working set, memory.current less memory.stat's
// inactive_file: the page cache not used lately, which the kernel
// reclaims before it OOM-kills, so a container full of it is not near an
// OOM kill. The kubelet (its memory eviction signal) and `docker stats`
// subtract the same.
type MemoryUse struct {
	Current      uint64 `json:"current_bytes"`
	InactiveFile uint64 `json:"inactive_file_bytes"`
	Max          uint64 `json:"max_bytes"`
	Limited      bool   `json:"limited"`
}

// WorkingSet is memory.current less inactive_file, 0 if that is more (the
// two files are not read at one instant).
func (m MemoryUse) WorkingSet() uint64 {
	if m.InactiveFile > m.Current {
		return 0
	}
	return m.Current - m.InactiveFile
}

// Ratio is the working set over the limit, and whether there is a limit.
// With memory.max 0 the use is at or over the limit whatever it is: the
// ratio is then +Inf, above every threshold.
func (m MemoryUse) Ratio() (float64, bool) {
	switch {
	case !m.Limited:
		return 0, false
	case m.Max == 0:
		return math.Inf(1), true
	}
	return float64(m.WorkingSet()) / float64(m.Max), true
}

// CPUStat is what cpu.stat counts of the CFS bandwidth controller since
// the cgroup was made: enforcement periods (cpu.max's period) that had
// runnable tasks, those in which the quota ran out, and the time spent
// throttled; UsageUsec is the CPU time used. The kernel writes the
// nr_periods, nr_throttled and throttled_usec lines in every cpu.stat where
// the cpu controller is enabled; they stay 0 where no cpu.max quota is
// set (no periods are enforced there), which is also why a level without
// those lines (the controller off) reads as 0.
type CPUStat struct {
	UsageUsec     uint64 `json:"usage_usec"`
	NrPeriods     uint64 `json:"nr_periods"`
	NrThrottled   uint64 `json:"nr_throttled"`
	ThrottledUsec uint64 `json:"throttled_usec"`
}

// ThrottledRatio is the share of enforcement periods in which the quota
// ran out (nr_throttled / nr_periods); 0 without periods.
func (s CPUStat) ThrottledRatio() float64 {
	if s.NrPeriods == 0 {
		return 0
	}
	return float64(s.NrThrottled) / float64(s.NrPeriods)
}

// ContainerUsage is what a container's cgroup has counted since the
// container started: the cgroup is made when the container starts and
// removed when it stops (a restart makes a new one), so every counter in
// it is the container's since its start.
type ContainerUsage struct {
	// Memory is the level (the scope or its container child) whose
	// working set is nearest its own memory.max.
	Memory CgroupValue[MemoryUse] `json:"memory"`
	// OOMKills is memory.events' oom_kill of the scope.
	OOMKills CgroupValue[uint64] `json:"oom_kills"`
	// CPU is cpu.stat of the level most throttled.
	CPU CgroupValue[CPUStat] `json:"cpu"`
	// MemoryPressure is memory.pressure's "full avg10" of the scope,
	// CPUPressure cpu.pressure's "some avg10": percentages of the last 10 s.
	MemoryPressure CgroupValue[float64] `json:"memory_pressure_full_avg10"`
	CPUPressure    CgroupValue[float64] `json:"cpu_pressure_some_avg10"`
}

// readCgroupFile reads one file of a container's cgroup, bounded; a
// missing file and any refusal (a FIFO, a directory, a link out of the
// tree resolved inside the root, an oversized file) is an error naming it.
func readCgroupFile(h *hostroot.Root, name string) (string, error) {
	b, err := h.ReadFileLimit(name, cgroupFileLimit)
	if errors.Is(err, fs.ErrNotExist) {
		// Why the kernel would leave it out: memory.* files only where the
		// memory controller is enabled, *.pressure files only with PSI;
		// cpu.stat is in every cgroup.
		why := "missing"
		switch base := path.Base(name); {
		case strings.HasSuffix(base, ".pressure"):
			why = "missing (no PSI: a kernel without CONFIG_PSI, or PSI off at boot: psi=0, or CONFIG_PSI_DEFAULT_DISABLED without psi=1)"
		case strings.HasPrefix(base, "memory."):
			why = "missing (the memory controller is not enabled for this cgroup)"
		}
		return "", fmt.Errorf("%s: %s", name, why)
	}
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// quoteShort is a value from a cgroup file in an error: quoted, at most
// 40 bytes of it.
func quoteShort(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:40]) + "…"
	}
	return strconv.Quote(s)
}

// parseCount reads a non-negative 64-bit decimal counter.
func parseCount(file, key, s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		what := "value"
		if key != "" {
			what = key
		}
		return 0, fmt.Errorf("%s: %s %s is not a count", file, what, quoteShort(s))
	}
	return v, nil
}

// readKeyed reads a flat keyed file ("key value" lines: memory.events,
// cpu.stat) into counters. A line that is not two fields, a key given
// twice or a value that is not a count is an error naming the file.
func readKeyed(h *hostroot.Root, name string) (map[string]uint64, error) {
	s, err := readCgroupFile(h, name)
	if err != nil {
		return nil, err
	}
	m := map[string]uint64{}
	for i, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if l == "" && i == 0 {
			continue
		}
		f := strings.Fields(l)
		if len(f) != 2 {
			return nil, fmt.Errorf("%s: line %d: %s is not \"key value\"", name, i+1, quoteShort(l))
		}
		if _, dup := m[f[0]]; dup {
			return nil, fmt.Errorf("%s: line %d: %s given twice", name, i+1, quoteShort(f[0]))
		}
		v, err := parseCount(name, f[0], f[1])
		if err != nil {
			return nil, fmt.Errorf("%s (line %d)", err, i+1)
		}
		m[f[0]] = v
	}
	return m, nil
}

// readUsage reads a container's usage from its cgroup levels: the scope
// first, then the "container" child crun makes under systemd (levels[0]
// holds levels[1]).
func readUsage(h *hostroot.Root, levels []string) ContainerUsage {
	var u ContainerUsage
	scope := levels[0]
	u.Memory = readMemoryUse(h, levels)

	// memory.events, not memory.events.local: memory.events counts the
	// events of the cgroup and of every cgroup under it, so a kill in the
	// container child (where crun puts the processes) shows at the
	// scope, as a kill caused by the scope's own limit does;
	// memory.events.local would see neither from the scope. The scope is
	// made when the container starts, so any oom_kill it counts happened
	// since the start.
	ev := CgroupValue[uint64]{File: scope + "/memory.events"}
	if m, err := readKeyed(h, ev.File); err != nil {
		ev.Err = err.Error()
	} else if v, ok := m["oom_kill"]; !ok {
		ev.Err = ev.File + ": no oom_kill line"
	} else {
		ev.Value = v
	}
	u.OOMKills = ev

	u.CPU = readCPUStat(h, levels)
	// Pressure of the scope: it counts the stalls of every task in the
	// container, whichever child cgroup it runs in.
	u.MemoryPressure = readPressure(h, scope+"/memory.pressure", "full")
	u.CPUPressure = readPressure(h, scope+"/cpu.pressure", "some")
	return u
}

// readMemoryUse compares the working set (memory.current less
// memory.stat's inactive_file) with memory.max at each level and keeps
// the level nearest its limit ("max" at every level: no limit, the
// scope's use).
func readMemoryUse(h *hostroot.Root, levels []string) CgroupValue[MemoryUse] {
	var best CgroupValue[MemoryUse]
	for i, d := range levels {
		cur := CgroupValue[MemoryUse]{File: d + "/memory.current"}
		s, err := readCgroupFile(h, cur.File)
		if err != nil {
			return CgroupValue[MemoryUse]{File: cur.File, Err: err.Error()}
		}
		if cur.Value.Current, err = parseCount(cur.File, "", strings.TrimSpace(s)); err != nil {
			return CgroupValue[MemoryUse]{File: cur.File, Err: err.Error()}
		}
		statFile := d + "/memory.stat"
		stat, err := readKeyed(h, statFile)
		if err != nil {
			return CgroupValue[MemoryUse]{File: statFile, Err: err.Error()}
		}
		inactive, ok := stat["inactive_file"]
		if !ok {
			return CgroupValue[MemoryUse]{File: statFile, Err: statFile + ": no inactive_file line"}
		}
		cur.Value.InactiveFile = inactive
		maxFile := d + "/memory.max"
		s, err = readCgroupFile(h, maxFile)
		if err != nil {
			return CgroupValue[MemoryUse]{File: maxFile, Err: err.Error()}
		}
		if s = strings.TrimSpace(s); s != "max" {
			if cur.Value.Max, err = parseCount(maxFile, "", s); err != nil {
				return CgroupValue[MemoryUse]{File: maxFile, Err: err.Error()}
			}
			cur.Value.Limited = true
		}
		ratio, limited := cur.Value.Ratio()
		bestRatio, bestLimited := best.Value.Ratio()
		if i == 0 || limited && (!bestLimited || ratio > bestRatio) {
			best = cur
		}
	}
	return best
}

// readCPUStat reads cpu.stat at each level and keeps the most throttled
// one: the quota may be on the scope or on its child. Between levels
// throttled alike (never, usually) the one with periods wins: the kernel
// writes "nr_periods 0" in the cpu.stat of a level without a quota too,
// and that level says nothing about the quota on the other.
func readCPUStat(h *hostroot.Root, levels []string) CgroupValue[CPUStat] {
	var best CgroupValue[CPUStat]
	for i, d := range levels {
		v := CgroupValue[CPUStat]{File: d + "/cpu.stat"}
		m, err := readKeyed(h, v.File)
		if err != nil {
			return CgroupValue[CPUStat]{File: v.File, Err: err.Error()}
		}
		u, ok := m["usage_usec"]
		if !ok {
			return CgroupValue[CPUStat]{File: v.File, Err: v.File + ": no usage_usec line"}
		}
		v.Value = CPUStat{UsageUsec: u, NrPeriods: m["nr_periods"], NrThrottled: m["nr_throttled"], ThrottledUsec: m["throttled_usec"]}
		if v.Value.NrThrottled > v.Value.NrPeriods {
			return CgroupValue[CPUStat]{File: v.File, Err: fmt.Sprintf("%s: nr_throttled %d is more than nr_periods %d", v.File, v.Value.NrThrottled, v.Value.NrPeriods)}
		}
		r, br := v.Value.ThrottledRatio(), best.Value.ThrottledRatio()
		if i == 0 || r > br || r == br && best.Value.NrPeriods == 0 && v.Value.NrPeriods > 0 {
			best = v
		}
	}
	return best
}

// psiPercent is an avg10 as the kernel's PSI code prints it ("%lu.%02lu":
// a whole percentage of at most three digits, a point, two decimals).
// Anything else (a sign, an exponent, a hex float, underscores) is not the
// kernel's, even where strconv.ParseFloat would take it.
var psiPercent = regexp.MustCompile(`^[0-9]{1,3}\.[0-9]{2}$`)

// readPressure reads the avg10 of a PSI file's "some" or "full" line
// ("some avg10=0.00 avg60=0.00 avg300=0.00 total=0"): a percentage,
// 0–100. The line given twice, or avg10 twice on it, is an error: which
// one the kernel meant is unknown.
func readPressure(h *hostroot.Root, name, kind string) CgroupValue[float64] {
	v := CgroupValue[float64]{File: name}
	s, err := readCgroupFile(h, name)
	if err != nil {
		v.Err = err.Error()
		return v
	}
	var line []string
	for _, l := range strings.Split(s, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != kind {
			continue
		}
		if line != nil {
			v.Err = fmt.Sprintf("%s: the %q line given twice", name, kind)
			return v
		}
		line = f
	}
	if line == nil {
		v.Err = fmt.Sprintf("%s: no %q line", name, kind)
		return v
	}
	avg := ""
	found := false
	for _, kv := range line[1:] {
		val, ok := strings.CutPrefix(kv, "avg10=")
		if !ok {
			continue
		}
		if found {
			v.Err = fmt.Sprintf("%s: the %s line gives avg10 twice", name, kind)
			return v
		}
		avg, found = val, true
	}
	if !found {
		v.Err = fmt.Sprintf("%s: the %s line has no avg10", name, kind)
		return v
	}
	p, err := strconv.ParseFloat(avg, 64)
	if !psiPercent.MatchString(avg) || err != nil || !(p >= 0 && p <= 100) {
		v.Err = fmt.Sprintf("%s: %s avg10 %s is not a percentage", name, kind, quoteShort(avg))
		return v
	}
	v.Value = p
	return v
}
