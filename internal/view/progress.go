package view

import (
	"io"
	"strconv"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
)

// ProgressText says, on a line of its own, that step p of a long use case
// starts. The CLI writes it to standard error, and only on a terminal:
// what goes to standard output (the plan, the result, JSON) is the same
// whether or not anyone watched. A target (a disk, a directory, a URL) is
// shown as escape.Text.
func ProgressText(w io.Writer, p ops.Progress) {
	switch p.Phase {
	case ops.PhaseMeasure:
		escape.Fprintf(w, "Measuring the host for %s: %s within %s.\n", p.Op, count(p.Count, "measurement"), p.Budget)
	case ops.PhaseMeasureBefore:
		escape.Fprintf(w, "Measuring before the %s: %s within %s.\n", p.Op, count(p.Count, "measurement"), p.Budget)
	case ops.PhaseMeasureAfter:
		escape.Fprintf(w, "Measuring after the %s: %s within %s.\n", p.Op, count(p.Count, "measurement"), p.Budget)
	case ops.PhaseMeasurement:
		s := p.Step
		if s == nil {
			return
		}
		if s.Target == "" {
			escape.Fprintf(w, "  [%d/%d] %s, up to %s\n", s.N, s.Of, string(s.Kind), roughly(s.Share))
			return
		}
		escape.Fprintf(w, "  [%d/%d] %s %s, up to %s\n", s.N, s.Of, string(s.Kind), s.Target, roughly(s.Share))
	case ops.PhaseApply:
		escape.Fprintf(w, "Applying %s, each prior value journaled first.\n", count(p.Count, "change"))
	case ops.PhaseRollback:
		escape.Fprintf(w, "Rolling back apply %s: %s.\n", p.ID, count(p.Count, "change"))
	case ops.PhaseFirstbootBinary:
		escape.Fprintf(w, "Reading the ezedge-host binary to copy into the image.\n")
	case ops.PhaseFirstbootInstall:
		escape.Fprintf(w, "Installing first-boot provisioning into the image: %s.\n", count(p.Count, "change"))
	case ops.PhaseFirstbootEnable:
		escape.Fprintf(w, "Enabling the first-boot unit: %s.\n", count(p.Count, "change"))
	default:
		escape.Fprintf(w, "%s.\n", string(p.Phase))
	}
}

// count is n things, in the plural unless one.
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}

// roughly is d as a person reads a share of a budget: to the second from
// ten seconds on, else to a tenth.
func roughly(d time.Duration) time.Duration {
	if d >= 10*time.Second {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}
