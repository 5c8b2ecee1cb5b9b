package ops

import (
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/health/baseline"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
)

// Progress is a step of a use case said as it starts, so that one that
// takes long (a baseline of minutes, a measured apply, a first-boot
// install) can be followed while it runs. It is a typed value, not a
// sentence: the CLI words it (view.ProgressText) and shows it only on a
// terminal; no JSON output carries it.
type Progress struct {
	Phase Phase
	// Op is the operation a measuring phase belongs to: "apply",
	// "rollback", "baseline" or "check".
	Op string
	// ID is the apply a phase is about (the one rolled back), "" none.
	ID string
	// Count is how many changes the phase makes, or measurements it
	// takes.
	Count int
	// Budget is the time a measuring phase may take.
	Budget time.Duration
	// Step is the measurement that starts, in PhaseMeasurement.
	Step *MeasureStep
}

// MeasureStep is one measurement as it starts: the N-th of Of, what it
// measures and its share of the budget.
type MeasureStep struct {
	N, Of  int
	Kind   measure.Kind
	Target string
	Share  time.Duration
}

// Phase is what starts.
type Phase string

const (
	// PhaseMeasure: Count measurements of the host within Budget, for Op
	// (baseline, check --measure).
	PhaseMeasure Phase = "measure"
	// PhaseMeasureBefore and PhaseMeasureAfter: the figures before and
	// after a measured apply or rollback (Op).
	PhaseMeasureBefore Phase = "measure-before"
	PhaseMeasureAfter  Phase = "measure-after"
	// PhaseMeasurement: one measurement starts (Step).
	PhaseMeasurement Phase = "measurement"
	// PhaseApply: Count changes are applied, each prior value
	// journaled first.
	PhaseApply Phase = "apply"
	// PhaseRollback: apply ID's Count changes are restored.
	PhaseRollback Phase = "rollback"
	// PhaseFirstbootBinary: the binary is read and checked for the
	// image's architecture.
	PhaseFirstbootBinary Phase = "firstboot-binary"
	// PhaseFirstbootInstall: the binary, the profile and the unit go
	// into the image (Count changes); PhaseFirstbootEnable: the unit is
	// enabled (Count changes).
	PhaseFirstbootInstall Phase = "firstboot-install"
	PhaseFirstbootEnable  Phase = "firstboot-enable"
)

// progress tells x.Progress that p starts.
func (x *Host) progress(p Progress) {
	if x.Progress != nil {
		x.Progress(p)
	}
}

// measuring makes hv tell x.Progress of each measurement as it starts.
func (x *Host) measuring(hv *baseline.Host) {
	if x.Progress == nil {
		hv.Started = nil
		return
	}
	hv.Started = func(i, of int, it measure.Item, share time.Duration) {
		x.progress(Progress{Phase: PhaseMeasurement, Step: &MeasureStep{N: i + 1, Of: of, Kind: it.Kind, Target: it.Target, Share: share}})
	}
}
