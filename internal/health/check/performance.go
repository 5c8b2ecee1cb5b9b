package check

import (
	"fmt"
	"strings"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/health/baseline"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
)

// Performance is the guide's "performance baseline established", and
// whether the host still does what its baseline says.
const Performance Group = "performance"

// staleAfter is when a baseline is old enough to say so: SD cards wear
// and fans clog over months.
const staleAfter = 90 * 24 * time.Hour

// Baselines are what check knows of measured figures.
type Baselines struct {
	// Live: the root is the running system (a baseline can exist).
	Live bool
	// Records are the stored baselines, oldest first.
	Records []*baseline.Record
	// Skipped are stored ones that could not be read.
	Skipped []string
	// Probe is this check's own short measurement (check --measure), nil
	// when not taken.
	Probe *baseline.Record
}

func (c *checker) performance() {
	b := c.in.Baselines
	if !b.Live {
		c.unknownHere(Performance, "baseline")
		return
	}
	res := Result{Group: Performance, Name: "baseline", Evidence: "/var/lib/ezedge-host/baselines"}
	if len(b.Records) == 0 {
		res.Status, res.Value = Warn, "none recorded"
		res.Detail = "the guide's checklists end with a performance baseline: without one no change can be measured"
		res.Fix = "ezedge-host baseline"
		if len(b.Skipped) > 0 {
			res.Detail += "; unreadable: " + strings.Join(b.Skipped, "; ")
		}
		c.add(res)
		return
	}
	last := b.Records[len(b.Records)-1]
	age := c.in.Now.Sub(last.Time)
	res.Status, res.Value = OK, fmt.Sprintf("%s, %s old", last.ID, days(age))
	var d []string
	if last.Emulated != "" {
		d = append(d, "taken on "+last.Emulated)
	}
	if age > staleAfter {
		res.Status, res.Fix = Warn, "ezedge-host baseline"
		d = append(d, fmt.Sprintf("older than %s", days(staleAfter)))
	}
	if len(b.Skipped) > 0 {
		d = append(d, "unreadable: "+strings.Join(b.Skipped, "; "))
	}
	res.Detail = strings.Join(d, "; ")
	c.add(res)
	// The figures now against the newest baseline (check --measure), or
	// the newest baseline against the one before it.
	now, ref, what := b.Probe, last, "this check's measurement"
	if now == nil {
		if len(b.Records) < 2 {
			return
		}
		now, ref, what = last, b.Records[len(b.Records)-2], "baseline "+last.ID
	}
	res = Result{Group: Performance, Name: "regression", Status: OK, Evidence: "baseline " + ref.ID}
	var worse, seen []string
	for _, cp := range baseline.Compare(ref.Figures, now.Figures) {
		if !cp.HasDiff {
			continue
		}
		s := fmt.Sprintf("%s %g → %g %s (%+.0f%%)", cp.Now.ID(), cp.Before.Median, cp.Now.Median, cp.Now.Unit, 100*cp.Change)
		seen = append(seen, s)
		if cp.Change < -baseline.Worse {
			worse = append(worse, s)
		}
	}
	switch {
	case len(seen) == 0:
		res.Status, res.Value = Unknown, "no figure in common"
	case len(worse) > 0:
		res.Status, res.Value = Warn, fmt.Sprintf("%d figure(s) more than %d%% worse", len(worse), int(100*baseline.Worse))
		res.Detail = what + " against baseline " + ref.ID + ": " + strings.Join(worse, "; ")
		res.Fix = "look for throttling (thermal, power) or a worn disk; ezedge-host baseline once it is understood"
	default:
		res.Value = fmt.Sprintf("within %d%% of baseline %s", int(100*baseline.Worse), ref.ID)
		res.Detail = what + ": " + strings.Join(seen, "; ")
	}
	c.add(res)
}

func days(d time.Duration) string {
	if n := int(d.Hours() / 24); n != 1 {
		return fmt.Sprintf("%d days", n)
	}
	return "1 day"
}

// ProbeKinds are what check --measure takes: quick, and what throttling
// and a worn disk show in.
var ProbeKinds = []measure.Kind{measure.CPUSingle, measure.CPUAll, measure.Memory, measure.DiskRead}
