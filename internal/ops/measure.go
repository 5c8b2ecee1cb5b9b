package ops

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/health/baseline"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// Measure is how to measure the live host.
type Measure struct {
	// Budget is the time every measurement together may take.
	Budget time.Duration
	// HTTP are the capability endpoints measured too.
	HTTP []measure.Endpoint
	// DataDir is on the data file system (the sync-write test).
	DataDir string
	// Busy measures a host under heavy load all the same.
	Busy bool
}

// Budget bounds: under a second no method gets its runs; over ten
// minutes is not a baseline but a benchmark.
const (
	MinBudget = time.Second
	MaxBudget = 10 * time.Minute
)

// live checks m and prepares a measurement of the running host with facts
// f (nil: only what measuring needs is read).
func (x *Host) live(m Measure, f *platform.Facts) (*baseline.Host, error) {
	if m.Budget < MinBudget || m.Budget > MaxBudget {
		return nil, fmt.Errorf("--budget %s: want 1s to 10m", m.Budget)
	}
	if f == nil {
		var err error
		if f, err = platform.DetectAs(x.Root, x.As, platform.Observe{}); err != nil {
			return nil, err
		}
	}
	return baseline.Live(x.Root, f, x.Store, baseline.Options{DataDir: m.DataDir, Busy: m.Busy, HTTP: m.HTTP}, x.now())
}

// measurement is a measurement around a change (op): what to take, and
// the figures before it.
type measurement struct {
	hv     *baseline.Host
	op     string
	kinds  []measure.Kind
	tasks  []string
	before *baseline.Record
	budget time.Duration
}

// prepare checks that the host can be measured around op, before
// anything is locked or changed; nil when m is.
func (x *Host) prepare(m *Measure, f *platform.Facts, op string) (*measurement, error) {
	if m == nil {
		return nil, nil
	}
	hv, err := x.live(*m, f)
	if err != nil {
		return nil, fmt.Errorf("--measure: %w", err)
	}
	return &measurement{hv: hv, op: op, budget: m.Budget / 2}, nil
}

// takeBefore takes the before figures of what the tasks bear on.
func (x *Host) takeBefore(me *measurement, taskNames []string) {
	me.tasks, me.kinds = taskNames, tasks.MeasuresOf(taskNames)
	if me.kinds == nil {
		me.kinds = []measure.Kind{} // none, not all
	}
	me.before = x.measure(me.hv, PhaseMeasureBefore, me.op, me.kinds, me.budget)
}

// measure takes kinds (nil: all) on hv within budget, saying so as phase
// of op and each measurement as it starts.
func (x *Host) measure(hv *baseline.Host, phase Phase, op string, kinds []measure.Kind, budget time.Duration) *baseline.Record {
	if n := len(hv.Targets.Items(kinds)); n > 0 {
		x.progress(Progress{Phase: phase, Op: op, Count: n, Budget: budget})
	}
	x.measuring(hv)
	return hv.Measure(kinds, budget)
}

// after takes the after figures and stores the effect of me's op on id.
func (x *Host) after(me *measurement, id, note string) (*baseline.Effect, error) {
	after := x.measure(me.hv, PhaseMeasureAfter, me.op, me.kinds, me.budget)
	e := &baseline.Effect{ID: id, Op: me.op, Time: x.now().UTC(), Tasks: me.tasks, Before: me.before.Figures, After: after.Figures, Note: note, Emulated: me.hv.Record.Emulated}
	if len(me.kinds) == 0 {
		e.Note = "none of these tasks changes a figure ezedge-host measures"
	}
	return e, baseline.SaveEffect(x.Root, e)
}

// addTasks adds the tasks a change names (a resource several tasks share
// names them all: "swappiness,net-buffers") to names, each once.
func addTasks(names []string, task string) []string {
	for _, t := range strings.Split(task, ",") {
		if _, ok := tasks.ByName(t); ok && !slices.Contains(names, t) {
			names = append(names, t)
		}
	}
	return names
}

// Baseline measures the live host within m's budget, under the host lock
// (an apply or rollback meanwhile would be measured too), and stores the
// record beside the snapshots; it returns it with the previous baseline
// and the stored files it left out.
func (x *Host) Baseline(m Measure, lockTimeout time.Duration) (r, prev *baseline.Record, skipped []string, err error) {
	// Only the platform, cores and disks: no task's observations.
	f, err := platform.DetectAs(x.Root, x.As, platform.Observe{})
	if err != nil {
		return nil, nil, nil, err
	}
	hv, err := x.live(m, f)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := x.Root.RequirePrivilege("baseline"); err != nil {
		return nil, nil, nil, err
	}
	unlock, err := x.Store.Lock(lockTimeout, "ezedge-host baseline")
	if err != nil {
		return nil, nil, nil, err
	}
	defer unlock()
	recs, skipped, err := baseline.List(x.Root)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(recs) > 0 {
		prev = recs[len(recs)-1]
	}
	r = x.measure(hv, PhaseMeasure, "baseline", nil, m.Budget)
	if err := baseline.Save(x.Root, r); err != nil {
		return nil, nil, nil, err
	}
	return r, prev, skipped, nil
}

// Probe measures what check --measure compares with the newest baseline.
func (x *Host) Probe(m Measure, kinds []measure.Kind) (*baseline.Record, error) {
	hv, err := x.live(m, nil)
	if err != nil {
		return nil, fmt.Errorf("--measure: %w", err)
	}
	return x.measure(hv, PhaseMeasure, "check", kinds, m.Budget), nil
}
