package main

import (
	"bytes"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/health/check"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
)

// DefaultTextfileDir is Debian's prometheus-node-exporter textfile
// directory.
const DefaultTextfileDir = "/var/lib/prometheus/node-exporter"

// checkNow is the clock a check reads (a test fixes it: the report's time
// and the textfile's age are in its output).
var checkNow = time.Now

// checkNames names containers in place of the running system's Podman
// (nil: Podman's names, on the running system only); a test names the
// containers it puts in a fixture with it.
var checkNames func() map[string]string

// checkFlags are check's flags.
type checkFlags struct {
	profile         profileFlags
	firmware, probe bool
	textfileDir     string
	measure         measureFlags
}

func checkCmd(g *globals) *cobra.Command {
	var fl checkFlags
	c := &cobra.Command{
		Use:   "check",
		Short: "Check the host against the guide's checklists (power, temperature, storage, swap, limits, tuning, monitoring)",
		Long: "Check the host against the performance guide's checklists: each check ok, warn, fail or unknown, with\n" +
			"the value seen, the file it was read from and what fixes it. Changes nothing on the host; with\n" +
			"--output prometheus and --textfile-dir it writes the node exporter's textfile (" + check.TextfileName + ") there.\n\n" +
			"Exit status: 0 all ok (unknown allowed), 4 warnings, 5 failures, 1 the check could not run.",
		Example: `  ezedge-host check
  sudo ezedge-host check --firmware --measure
  ezedge-host check --output junit > check.xml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := fl.profile.source(cmd)
			if err != nil {
				return err
			}
			return g.on([]view.Format{view.JUnit, view.Prometheus}, func(x *ops.Host, out view.Format) error {
				// The textfile whose age the check reports is the one named,
				// else Debian's, wherever this check's own output goes.
				req := ops.CheckRequest{Firmware: fl.firmware, TextfileDir: fl.textfileDir, Now: checkNow(), Names: checkNames}
				if req.TextfileDir == "" || req.TextfileDir == "-" {
					req.TextfileDir = DefaultTextfileDir
				}
				if fl.probe {
					m, _ := fl.measure.options() // no --http here: nothing to parse
					req.Probe = &m
				}
				if req.Profile, err = x.Profile(src); err != nil {
					return err
				}
				r, err := x.Check(req)
				if err == nil {
					err = showCheck(cmd.OutOrStdout(), out, x, r, fl.textfileDir)
				}
				if err != nil {
					return err
				}
				return map[check.Status]error{check.Fail: exitCode(exitFail), check.Warn: exitCode(exitWarn)}[r.Worst()]
			})
		},
	}
	fl.profile.add(c)
	c.Flags().BoolVar(&fl.firmware, "firmware", false, "also read the Raspberry Pi firmware's throttling word (get_throttled; newer kernels log a warning at each read)")
	c.Flags().BoolVar(&fl.probe, "measure", false, "also measure CPU, memory and disk reads briefly and compare them with the newest baseline")
	c.Flags().DurationVar(&fl.measure.budget, "budget", 5*time.Second, "time --measure may take (1s to 10m)")
	c.Flags().BoolVar(&fl.measure.busy, "busy", false, "--measure even when the host is under heavy load")
	c.Flags().StringVar(&fl.textfileDir, "textfile-dir", "", "the node exporter's textfile `DIR` in the root: --output prometheus goes there, not to standard output (-: standard output); the textfile's age is checked there (else in "+DefaultTextfileDir+")")
	return c
}

// showCheck writes the report in out to w; the Prometheus form goes to
// the node exporter's textfile in dir instead when one is named ("" or
// "-": to w, as every output).
func showCheck(w io.Writer, out view.Format, x *ops.Host, r *check.Report, dir string) error {
	switch out {
	case view.JSON:
		return view.WriteJSON(w, view.NewCheck(r))
	case view.JUnit:
		return view.CheckJUnit(w, r)
	case view.Prometheus:
		if dir == "" || dir == "-" {
			return view.CheckPrometheus(w, r)
		}
		var b bytes.Buffer
		if err := view.CheckPrometheus(&b, r); err != nil {
			return err
		}
		return check.WriteTextfile(x.Root, dir, b.Bytes())
	}
	view.CheckText(w, r)
	return nil
}
