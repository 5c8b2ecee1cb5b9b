package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/health/baseline"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/rollback"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// measureFlags are the options of every command that measures.
type measureFlags struct {
	budget  time.Duration
	http    []string
	dataDir string
	busy    bool
}

// Budget bounds: under a second no method gets its runs; over ten
// minutes is not a baseline but a benchmark.
const (
	minBudget = time.Second
	maxBudget = 10 * time.Minute
)

func (m *measureFlags) add(c *cobra.Command, budget time.Duration, what string) {
	c.Flags().DurationVar(&m.budget, "budget", budget, "time the measurements may take "+what+" (1s to 10m)")
	c.Flags().StringArrayVar(&m.http, "http", nil, "also measure a capability `[health|simple|complex=]URL` alone and at 10 concurrent requests, against the guide's range for its class (repeatable)")
	c.Flags().StringVar(&m.dataDir, "data-dir", "", "`DIR` on the data filesystem for the synchronous-write test (default: Podman's storage, else /var/lib/ezedge-host)")
	c.Flags().BoolVar(&m.busy, "busy", false, "measure even when the host is under heavy load (load average at or above its core count)")
}

// live checks the flags and prepares a measurement of the running host.
func (m *measureFlags) live(h *hostroot.Root, f *platform.Facts, store *rollback.Store) (*baseline.Host, error) {
	if m.budget < minBudget || m.budget > maxBudget {
		return nil, fmt.Errorf("--budget %s: want 1s to 10m", m.budget)
	}
	o := baseline.Options{DataDir: m.dataDir, Busy: m.busy}
	for _, s := range m.http {
		e, err := measure.ParseEndpoint(s)
		if err != nil {
			return nil, err
		}
		o.HTTP = append(o.HTTP, e)
	}
	return baseline.Live(h, f, store, o, time.Now())
}

func baselineCmd(g *globals) *cobra.Command {
	var m measureFlags
	var list bool
	c := &cobra.Command{
		Use:   "baseline",
		Short: "Measure the running host (disks, sync writes, memory, CPU, capability URLs) and keep the figures beside the snapshots",
		Long: "Measure the running host within a time budget: sequential reads of the root and data disks\n" +
			"(O_DIRECT, read-only), 4 KiB write + fdatasync latency on the data filesystem, memory copy\n" +
			"bandwidth, single-core and all-core CPU throughput with the clock seen meanwhile, and each --http\n" +
			"URL alone and at 10 concurrent requests against the guide's expected range. Each figure is the\n" +
			"median of several runs, with its spread. The baseline is stored in /var/lib/ezedge-host/baselines\n" +
			"and compared with the previous one; --list shows them all. Needs the live host (--root /).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := g.openRoot()
			if err != nil {
				return err
			}
			defer h.Close()
			w := cmd.OutOrStdout()
			if list {
				recs, skipped, err := baseline.List(h)
				if err != nil {
					return err
				}
				if g.output == "json" {
					return view.WriteJSON(w, view.BaselineList{FormatVersion: view.FormatVersion, Baselines: nonNilRecs(recs), Skipped: view.NonNil(skipped)})
				}
				for _, s := range skipped {
					escape.Fprintf(g.stderr, "ezedge-host: warning: left out: %s\n", s)
				}
				view.BaselineListText(w, recs)
				return nil
			}
			// Only the platform, cores and disks: no task's observations.
			f, err := platform.DetectAs(h, platform.Kind(g.platform), platform.Observe{})
			if err != nil {
				return err
			}
			store := rollback.Open(h)
			hv, err := m.live(h, f, store)
			if err != nil {
				return err
			}
			if err := h.RequirePrivilege("baseline"); err != nil {
				return err
			}
			// An apply or rollback meanwhile would be measured too.
			unlock, err := store.Lock(g.lockTimeout, "ezedge-host baseline")
			if err != nil {
				return err
			}
			defer unlock()
			recs, skipped, err := baseline.List(h)
			if err != nil {
				return err
			}
			var prev *baseline.Record
			if len(recs) > 0 {
				prev = recs[len(recs)-1]
			}
			r := hv.Measure(nil, m.budget)
			if err := baseline.Save(h, r); err != nil {
				return err
			}
			if g.output == "json" {
				return view.WriteJSON(w, view.NewBaseline(r, prev, skipped))
			}
			for _, s := range skipped {
				escape.Fprintf(g.stderr, "ezedge-host: warning: left out: %s\n", s)
			}
			view.BaselineText(w, r, prev)
			escape.Fprintf(w, "\nSaved as baseline %s.\n", r.ID)
			return nil
		},
	}
	m.add(c, 30*time.Second, "in all")
	c.Flags().BoolVar(&list, "list", false, "list the stored baselines instead of measuring")
	c.Flags().DurationVar(&g.lockTimeout, "lock-timeout", 0, "wait this long for another ezedge-host changing the host (0: fail at once)")
	return c
}

func nonNilRecs(r []*baseline.Record) []*baseline.Record {
	if r == nil {
		return []*baseline.Record{}
	}
	return r
}

// measured is a measurement around a change: what to take, and the
// figures before it.
type measured struct {
	hv     *baseline.Host
	kinds  []measure.Kind
	tasks  []string
	before *baseline.Record
	budget time.Duration
}

// prepare checks that the host can be measured (f nil: the facts are read
// here), before anything is locked or changed; nil when on is false.
func (m *measureFlags) prepare(on bool, h *hostroot.Root, f *platform.Facts, store *rollback.Store) (*measured, error) {
	if !on {
		return nil, nil
	}
	if f == nil {
		var err error
		if f, err = platform.Detect(h, platform.Observe{}); err != nil {
			return nil, err
		}
	}
	hv, err := m.live(h, f, store)
	if err != nil {
		return nil, fmt.Errorf("--measure: %w", err)
	}
	return &measured{hv: hv, budget: m.budget / 2}, nil
}

// takeBefore takes the before figures of what the tasks bear on.
func (me *measured) takeBefore(taskNames []string) {
	me.tasks, me.kinds = taskNames, tasks.MeasuresOf(taskNames)
	if me.kinds == nil {
		me.kinds = []measure.Kind{} // none, not all
	}
	me.before = me.hv.Measure(me.kinds, me.budget)
}

// after takes the after figures and stores the effect of op on id.
func (me *measured) after(h *hostroot.Root, op, id, note string) (*baseline.Effect, error) {
	after := me.hv.Measure(me.kinds, me.budget)
	e := &baseline.Effect{ID: id, Op: op, Time: time.Now().UTC(), Tasks: me.tasks, Before: me.before.Figures, After: after.Figures, Note: note, Emulated: me.hv.Record.Emulated}
	if len(me.kinds) == 0 {
		e.Note = "none of these tasks changes a figure ezedge-host measures"
	}
	return e, baseline.SaveEffect(h, e)
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
