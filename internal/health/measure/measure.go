// Package measure holds the host measurements behind `ezedge-host
// baseline` and measured applies: sequential device reads that bypass the
// page cache, small synchronous writes, memory copy bandwidth, CPU
// throughput with the clock seen meanwhile, and an HTTP capability's
// latency alone and under concurrency. Each method runs several times
// within a deadline and reports every run, so the spread is part of the
// figure.
//
// The methods are safe by construction: a device is only ever opened
// read-only, writes go to one temporary file in a directory the caller
// names and removed before returning, and every loop checks its deadline
// between steps of bounded size.
package measure

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Kind is what a figure measures.
type Kind string

const (
	DiskRead  Kind = "disk-read"
	Sync      Kind = "sync-write"
	Memory    Kind = "memory-copy"
	CPUSingle Kind = "cpu-single"
	CPUAll    Kind = "cpu-all"
	HTTP      Kind = "http"
	HTTP10    Kind = "http-10"
)

// Kinds lists the host measurements in the order they are taken and shown
// (the HTTP ones are taken only for a configured URL).
var Kinds = []Kind{CPUSingle, CPUAll, Memory, DiskRead, Sync}

// Unit is what a figure is counted in.
type Unit string

const (
	MBps Unit = "MB/s"
	Ms   Unit = "ms"
	// MiBps of SHA-256 hashed, the CPU work unit.
	HashMBps Unit = "MB/s hashed"
)

// Figure is one measurement: every run's value and their spread.
type Figure struct {
	Kind Kind `json:"kind"`
	// Target is what was measured: a device, a directory, a URL; empty
	// for the CPU and memory.
	Target string `json:"target,omitempty"`
	Unit   Unit   `json:"unit"`
	// Lower says a smaller value is better (a latency).
	Lower  bool      `json:"lower_is_better,omitempty"`
	Runs   []float64 `json:"runs"`
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	// Method says how, in a sentence, with the sizes used.
	Method string `json:"method"`
	// Clock is the CPU clock seen during the runs, in MHz (absent where
	// cpufreq is not exposed, as in most VMs).
	Clock *Span `json:"clock_mhz,omitempty"`
	// Celsius is the hottest thermal zone before and after.
	Celsius *Span `json:"celsius,omitempty"`
	// Error is why the figure could not be taken (then Runs is empty).
	Error string `json:"error,omitempty"`
	// Expected is the guide's range for this figure on the platform, and
	// Verdict where the median lies against it.
	Expected *Span  `json:"expected,omitempty"`
	Verdict  string `json:"verdict,omitempty"`
}

// Span is a low and a high value.
type Span struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// ID names a figure within a set: its kind and target.
func (f Figure) ID() string {
	if f.Target == "" {
		return string(f.Kind)
	}
	return string(f.Kind) + " " + f.Target
}

// finish computes the spread from the runs (at least one).
func (f *Figure) finish() {
	if len(f.Runs) == 0 {
		if f.Error == "" {
			f.Error = "no run fit in the time allowed"
		}
		return
	}
	s := slices.Clone(f.Runs)
	slices.Sort(s)
	f.Min, f.Max = s[0], s[len(s)-1]
	if n := len(s); n%2 == 1 {
		f.Median = s[n/2]
	} else {
		f.Median = (s[n/2-1] + s[n/2]) / 2
	}
	for _, p := range []*float64{&f.Median, &f.Min, &f.Max} {
		*p = round(*p)
	}
	for i := range f.Runs {
		f.Runs[i] = round(f.Runs[i])
	}
}

// round keeps four significant digits: more is noise.
func round(v float64) float64 {
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return v
	}
	p := math.Pow(10, 3-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*p) / p
}

// Value prints a figure's median with its spread and unit.
func (f Figure) Value() string {
	if f.Error != "" {
		return "not measured: " + f.Error
	}
	return fmt.Sprintf("%s %s (min %s, max %s, %d runs)", num(f.Median), f.Unit, num(f.Min), num(f.Max), len(f.Runs))
}

func num(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}

// Change is how much better (positive) or worse a figure got from a to b,
// as a fraction of a; ok is false when either is missing.
func Change(a, b Figure) (float64, bool) {
	if a.Error != "" || b.Error != "" || a.Median == 0 {
		return 0, false
	}
	d := (b.Median - a.Median) / a.Median
	if a.Lower {
		d = -d
	}
	return d, true
}

// Deadline is the end of one measurement's share of the time budget.
type Deadline struct {
	end time.Time
	now func() time.Time
}

// NewDeadline is a deadline d from now.
func NewDeadline(d time.Duration) Deadline { return Deadline{end: time.Now().Add(d), now: time.Now} }

// Left is the time remaining (never negative).
func (d Deadline) Left() time.Duration { return max(0, d.end.Sub(d.now())) }

// Passed says the time is up.
func (d Deadline) Passed() bool { return !d.now().Before(d.end) }

// Split gives n consecutive, equal shares of what is left.
func (d Deadline) Split(n int) []Deadline {
	out := make([]Deadline, n)
	start, share := d.now(), d.Left()/time.Duration(max(n, 1))
	for i := range out {
		out[i] = Deadline{end: start.Add(share * time.Duration(i+1)), now: d.now}
	}
	return out
}
