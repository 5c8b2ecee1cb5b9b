package check

import (
	"strings"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/health/baseline"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

func rec(id string, at time.Time, cpu, sync float64) *baseline.Record {
	return &baseline.Record{ID: id, Time: at, Figures: []measure.Figure{
		{Kind: measure.CPUSingle, Unit: measure.HashMBps, Runs: []float64{cpu}, Median: cpu, Min: cpu, Max: cpu},
		{Kind: measure.Sync, Target: "/var", Unit: measure.Ms, Lower: true, Runs: []float64{sync}, Median: sync, Min: sync, Max: sync},
		{Kind: measure.DiskRead, Target: "/dev/sda", Error: "not measured"},
	}}
}

// The baseline checks: absent, present, stale, emulated; the newest
// against the one before, and a probe against the newest; each side of
// the 25 % line, for a higher-is-better and a lower-is-better figure.
func TestPerformance(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	old := rec("20260801T000000Z", now.Add(-120*day), 100, 2)
	for _, tc := range []struct {
		name string
		b    Baselines
		want map[string]Status
		in   map[string]string
	}{
		{"image", Baselines{}, map[string]Status{"baseline": Unknown}, map[string]string{"baseline": "not a running system"}},
		{"none", Baselines{Live: true}, map[string]Status{"baseline": Warn}, map[string]string{"baseline": "none recorded"}},
		{"one fresh", Baselines{Live: true, Records: []*baseline.Record{rec("20261128T000000Z", now.Add(-day), 100, 2)}},
			map[string]Status{"baseline": OK}, map[string]string{"baseline": "1 day old"}},
		{"stale", Baselines{Live: true, Records: []*baseline.Record{old}}, map[string]Status{"baseline": Warn}, map[string]string{"baseline": "120 days old"}},
		{"cpu fell 30%", Baselines{Live: true, Records: []*baseline.Record{old, rec("20261128T000000Z", now.Add(-day), 70, 2)}},
			map[string]Status{"baseline": OK, "regression": Warn}, map[string]string{"regression": "cpu-single 100 → 70"}},
		{"cpu fell 20%", Baselines{Live: true, Records: []*baseline.Record{old, rec("20261128T000000Z", now.Add(-day), 80, 2)}},
			map[string]Status{"regression": OK}, map[string]string{"regression": "within 25%"}},
		{"sync doubled", Baselines{Live: true, Records: []*baseline.Record{old, rec("20261128T000000Z", now.Add(-day), 100, 4)}},
			map[string]Status{"regression": Warn}, map[string]string{"regression": "sync-write /var 2 → 4 ms (-100%)"}},
		{"probe", Baselines{Live: true, Records: []*baseline.Record{old}, Probe: rec("20261129T120000Z", now, 50, 2)},
			map[string]Status{"baseline": Warn, "regression": Warn}, map[string]string{"regression": "this check's measurement"}},
	} {
		r := Run(Input{Facts: &platform.Facts{Runtime: true}, Health: &platform.Health{}, Plan: &plan.Plan{}, Now: now, Baselines: tc.b})
		for name, st := range tc.want {
			res := find(t, r, "performance."+name)
			if res.Status != st {
				t.Errorf("%s: %s is %s, want %s (%+v)", tc.name, name, res.Status, st, res)
			}
			if s := tc.in[name]; !strings.Contains(res.Value+" "+res.Detail, s) {
				t.Errorf("%s: %s says %q %q, want %q", tc.name, name, res.Value, res.Detail, s)
			}
		}
		if _, has := tc.want["regression"]; !has {
			for _, x := range r.Results {
				if x.ID() == "performance.regression" {
					t.Errorf("%s: a regression check from one baseline", tc.name)
				}
			}
		}
	}
}
