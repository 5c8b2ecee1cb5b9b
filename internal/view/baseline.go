package view

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/health/baseline"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
)

// Baseline is `baseline --output json`: the new baseline, each figure
// beside the previous baseline's.
type Baseline struct {
	FormatVersion int              `json:"format_version"`
	Baseline      *baseline.Record `json:"baseline"`
	// Previous is the id of the baseline compared with ("" none).
	Previous string     `json:"previous"`
	Compared []Compared `json:"compared"`
	Skipped  []string   `json:"skipped"`
}

// Compared is a figure's id, its median now and before, and the change
// (positive: better).
type Compared struct {
	ID     string   `json:"id"`
	Now    *float64 `json:"now"`
	Before *float64 `json:"before"`
	Change *float64 `json:"change"`
	Unit   string   `json:"unit"`
}

func compared(cs []baseline.Compared) []Compared {
	out := []Compared{}
	for _, c := range cs {
		v := Compared{ID: c.Now.ID(), Unit: string(c.Now.Unit)}
		if c.Now.Error == "" {
			m := c.Now.Median
			v.Now = &m
		}
		if c.Before != nil && c.Before.Error == "" {
			m := c.Before.Median
			v.Before = &m
		}
		if c.HasDiff {
			d := c.Change
			v.Change = &d
		}
		out = append(out, v)
	}
	return out
}

// NewBaseline is the JSON of r compared with prev (nil: none).
func NewBaseline(r, prev *baseline.Record, skipped []string) Baseline {
	b := Baseline{FormatVersion: FormatVersion, Baseline: r, Skipped: NonNil(skipped)}
	var before []measure.Figure
	if prev != nil {
		b.Previous, before = prev.ID, prev.Figures
	}
	b.Compared = compared(baseline.Compare(before, r.Figures))
	return b
}

// BaselineText shows a baseline as a table, each figure with its spread,
// the previous baseline's median and the change, then how each was taken.
func BaselineText(w io.Writer, r, prev *baseline.Record) {
	escape.Fprintf(w, "Baseline %s of %s, kernel %s: took %s of a %s budget (load %.2f at the start).\n", r.ID, r.Platform, r.Kernel, r.Took, r.Budget, r.Load)
	if r.Snapshot != "" {
		escape.Fprintf(w, "Tuning in force: apply %s.\n", r.Snapshot)
	} else {
		escape.Fprintf(w, "Tuning in force: none applied by ezedge-host.\n")
	}
	if r.Emulated != "" {
		escape.Fprintf(w, "Emulated: this host is %s; the figures measure the emulator, not hardware.\n", r.Emulated)
	}
	var before []measure.Figure
	if prev != nil {
		escape.Fprintf(w, "Compared with baseline %s (%s ago).\n", prev.ID, ago(r.Time.Sub(prev.Time)))
		before = prev.Figures
	}
	escape.Fprintf(w, "\n")
	FiguresText(w, baseline.Compare(before, r.Figures), "PREVIOUS")
	for _, n := range r.Notes {
		escape.Fprintf(w, "note: %s\n", n)
	}
}

// FiguresText is the table of figures beside earlier ones (column head
// what), each followed by its method, clock, temperature and the guide's
// range where known.
func FiguresText(w io.Writer, cs []baseline.Compared, what string) {
	t := escape.Table{}
	t.Row("MEASURE\tMEDIAN\tSPREAD\t%s\tCHANGE", what)
	for _, c := range cs {
		f := c.Now
		prev, change := "-", "-"
		if c.Before != nil && c.Before.Error == "" {
			prev = fmt.Sprintf("%g", c.Before.Median)
		}
		if c.HasDiff {
			change = fmt.Sprintf("%+.1f%%", 100*c.Change)
		}
		if f.Error != "" {
			t.Row("%s\t-\t\t%s", f.ID(), prev)
			t.Under("    not measured: %s", f.Error)
			continue
		}
		t.Row("%s\t%g %s\t%g–%g (%d runs)\t%s\t%s", f.ID(), f.Median, unitShort(f.Unit), f.Min, f.Max, len(f.Runs), prev, change)
		var extra []string
		if f.Clock != nil {
			extra = append(extra, fmt.Sprintf("clock %g–%g MHz", f.Clock.Low, f.Clock.High))
		}
		if f.Celsius != nil {
			extra = append(extra, fmt.Sprintf("%.1f → %.1f °C", f.Celsius.Low, f.Celsius.High))
		}
		if f.Expected != nil {
			extra = append(extra, fmt.Sprintf("guide %g–%g ms: %s", f.Expected.Low, f.Expected.High, f.Verdict))
		}
		if len(extra) > 0 {
			t.Under("    %s", strings.Join(extra, "; "))
		}
		t.Under("    %s (%s, %s)", f.Method, f.Unit, betterWay(f))
	}
	t.Write(w)
}

func unitShort(u measure.Unit) string {
	if u == measure.HashMBps {
		return "MB/s"
	}
	return string(u)
}

func betterWay(f measure.Figure) string {
	if f.Lower {
		return "lower is better"
	}
	return "higher is better"
}

func ago(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	case d >= 2*time.Minute:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	}
	return fmt.Sprintf("%d seconds", int(d.Seconds()))
}

// BaselineList is `baseline --list --output json`.
type BaselineList struct {
	FormatVersion int                `json:"format_version"`
	Baselines     []*baseline.Record `json:"baselines"`
	Skipped       []string           `json:"skipped"`
}

// BaselineListText lists stored baselines, one a line with its main
// figures.
func BaselineListText(w io.Writer, recs []*baseline.Record) {
	if len(recs) == 0 {
		escape.Fprintf(w, "No baselines recorded: run ezedge-host baseline.\n")
		return
	}
	t := escape.Table{}
	t.Row("ID\tPLATFORM\tAPPLY IN FORCE\tEMULATED\tFIGURES (median)")
	for _, r := range recs {
		var figs []string
		for _, f := range r.Figures {
			if f.Error == "" {
				figs = append(figs, fmt.Sprintf("%s %g %s", f.ID(), f.Median, unitShort(f.Unit)))
			}
		}
		snap, emu := r.Snapshot, "no"
		if snap == "" {
			snap = "-"
		}
		if r.Emulated != "" {
			emu = "yes"
		}
		t.Row("%s\t%s\t%s\t%s\t%s", r.ID, r.Platform, snap, emu, strings.Join(figs, ", "))
	}
	t.Write(w)
}

// Effect is a measured apply or rollback in JSON.
type Effect struct {
	Op       string     `json:"op"`
	Time     time.Time  `json:"time"`
	Tasks    []string   `json:"tasks"`
	Compared []Compared `json:"compared"`
	Note     string     `json:"note,omitempty"`
	Emulated string     `json:"emulated,omitempty"`
}

// NewEffect is e in JSON.
func NewEffect(e *baseline.Effect) Effect {
	return Effect{Op: e.Op, Time: e.Time, Tasks: NonNil(e.Tasks), Compared: compared(baseline.Compare(e.Before, e.After)), Note: e.Note, Emulated: e.Emulated}
}

// EffectText shows what an apply or rollback changed in numbers.
func EffectText(w io.Writer, e *baseline.Effect) {
	escape.Fprintf(w, "\nMeasured %s of %s (%s), before and after:\n", e.Op, e.ID, strings.Join(e.Tasks, ", "))
	if e.Emulated != "" {
		escape.Fprintf(w, "Emulated: this host is %s.\n", e.Emulated)
	}
	FiguresText(w, baseline.Compare(e.Before, e.After), "BEFORE")
	if e.Note != "" {
		escape.Fprintf(w, "note: %s\n", e.Note)
	}
}

// EffectLine is a measured apply or rollback in one line: each figure's
// median before → after.
func EffectLine(e *baseline.Effect) string {
	var parts []string
	for _, c := range baseline.Compare(e.Before, e.After) {
		if c.Before == nil || !c.HasDiff {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %g → %g %s (%+.0f%%)", c.Now.ID(), c.Before.Median, c.Now.Median, unitShort(c.Now.Unit), 100*c.Change))
	}
	if len(parts) == 0 {
		return e.Op + ": nothing measured"
	}
	return e.Op + ": " + strings.Join(parts, "; ")
}
