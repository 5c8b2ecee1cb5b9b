package ops

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/health/baseline"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
)

// TestProgressOfApplyAndRollback: an apply says how many changes it makes
// as it starts making them, a rollback which apply it restores; an apply
// with nothing to do says nothing.
func TestProgressOfApplyAndRollback(t *testing.T) {
	t.Parallel()
	x, _, _ := host(t, "pi5-16gb-nvme-bookworm")
	var got []Progress
	x.Progress = func(p Progress) { got = append(got, p) }
	res, err := x.Apply(ApplyRequest{Request: defaults(t, x)})
	if err != nil {
		t.Fatal(err)
	}
	n := len(res.Applied.Changed)
	if want := []Progress{{Phase: PhaseApply, Count: n}}; n == 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("apply said %+v, want %+v", got, want)
	}
	got = nil
	if _, err := x.Apply(ApplyRequest{Request: defaults(t, x)}); err != nil || len(got) != 0 {
		t.Fatalf("an apply with nothing to do said %+v (%v)", got, err)
	}
	if _, err := x.Rollback(RollbackRequest{}); err != nil {
		t.Fatal(err)
	}
	if want := []Progress{{Phase: PhaseRollback, ID: res.Applied.ID, Count: n}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("rollback said %+v, want %+v", got, want)
	}
}

// TestProgressOfMeasuring: a measuring phase says how many measurements it
// takes within which budget, then each as it starts, in order, with its
// share of what is left. (The live host is not measured here: a file
// stands in for a disk.)
func TestProgressOfMeasuring(t *testing.T) {
	t.Parallel()
	x, _, _ := host(t, "pi4-8gb-bullseye")
	var got []Progress
	x.Progress = func(p Progress) { got = append(got, p) }
	dev := filepath.Join(t.TempDir(), "disk")
	if err := os.WriteFile(dev, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	hv := &baseline.Host{Targets: measure.Targets{Sys: t.TempDir(), Devices: []string{dev, dev + "2"}, Regular: true}}
	const budget = 400 * time.Millisecond
	x.measure(hv, PhaseMeasure, "baseline", []measure.Kind{measure.DiskRead}, budget)
	if len(got) != 3 || got[0].Phase != PhaseMeasure || got[0].Op != "baseline" || got[0].Count != 2 || got[0].Budget != budget {
		t.Fatalf("said %+v", got)
	}
	for i, p := range got[1:] {
		s := p.Step
		if p.Phase != PhaseMeasurement || s == nil || s.N != i+1 || s.Of != 2 || s.Kind != measure.DiskRead || s.Target != hv.Targets.Devices[i] || s.Share <= 0 || s.Share > budget {
			t.Errorf("step %d: %+v %+v", i, p, s)
		}
	}
	// Nothing to measure: no phase to say.
	got = nil
	x.measure(hv, PhaseMeasureBefore, "apply", []measure.Kind{}, budget)
	if len(got) != 0 {
		t.Errorf("measuring nothing said %+v", got)
	}
}
