package view

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
)

// TestProgressText: every phase is one line, worded; a target read from a
// host (a device name, a URL) is shown as escape.Text.
func TestProgressText(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		p    ops.Progress
		want string
	}{
		{ops.Progress{Phase: ops.PhaseMeasure, Op: "baseline", Count: 6, Budget: 2 * time.Minute}, "Measuring the host for baseline: 6 measurements within 2m0s.\n"},
		{ops.Progress{Phase: ops.PhaseMeasureBefore, Op: "apply", Count: 1, Budget: 10 * time.Second}, "Measuring before the apply: 1 measurement within 10s.\n"},
		{ops.Progress{Phase: ops.PhaseMeasureAfter, Op: "rollback", Count: 3, Budget: 10 * time.Second}, "Measuring after the rollback: 3 measurements within 10s.\n"},
		{ops.Progress{Phase: ops.PhaseMeasurement, Step: &ops.MeasureStep{N: 2, Of: 7, Kind: measure.DiskRead, Target: "/dev/nvme0n1", Share: 17123 * time.Millisecond}}, "  [2/7] disk-read /dev/nvme0n1, up to 17s\n"},
		{ops.Progress{Phase: ops.PhaseMeasurement, Step: &ops.MeasureStep{N: 1, Of: 7, Kind: measure.CPUSingle, Share: 1234 * time.Millisecond}}, "  [1/7] cpu-single, up to 1.2s\n"},
		{ops.Progress{Phase: ops.PhaseMeasurement, Step: &ops.MeasureStep{N: 7, Of: 7, Kind: measure.HTTP, Target: "http://x/\x1b[2J", Share: time.Second}}, "  [7/7] http \"http://x/\\x1b[2J\", up to 1s\n"},
		{ops.Progress{Phase: ops.PhaseApply, Count: 12}, "Applying 12 changes, each prior value journaled first.\n"},
		{ops.Progress{Phase: ops.PhaseRollback, ID: "20261129T080000Z", Count: 1}, "Rolling back apply 20261129T080000Z: 1 change.\n"},
		{ops.Progress{Phase: ops.PhaseFirstbootBinary}, "Reading the ezedge-host binary to copy into the image.\n"},
		{ops.Progress{Phase: ops.PhaseFirstbootInstall, Count: 3}, "Installing first-boot provisioning into the image: 3 changes.\n"},
		{ops.Progress{Phase: ops.PhaseFirstbootEnable, Count: 1}, "Enabling the first-boot unit: 1 change.\n"},
	} {
		var b bytes.Buffer
		ProgressText(&b, c.p)
		if b.String() != c.want {
			t.Errorf("%s: %q, want %q", c.p.Phase, b.String(), c.want)
		}
		if err := escape.CheckText(b.Bytes()); err != nil || strings.Count(b.String(), "\n") != 1 {
			t.Errorf("%s: %q: %v", c.p.Phase, b.String(), err)
		}
	}
}
