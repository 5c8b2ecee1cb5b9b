package main

import (
	"bytes"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command"
	"github.com/ezansiedgeai/ezedge-host/internal/health/check"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
)

// checkNow is the clock a check reads (a test fixes it: the report's time
// and the textfile's age are in its output).
var checkNow = time.Now

// checkFlags are check's flags.
type checkFlags struct {
	profile     command.ProfileFlags
	firmware    bool
	textfileDir string
	measure     command.MeasureFlags
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
			src, err := fl.profile.Source()
			if err != nil {
				return err
			}
			return g.on([]view.Format{view.JUnit, view.Prometheus}, func(x *ops.Host, out view.Format) error {
				// The textfile whose age the check reports is the one named,
				// else Debian's, wherever this check's own output goes.
				req := ops.CheckRequest{Firmware: fl.firmware, TextfileDir: fl.textfileDir, Now: checkNow()}
				if req.TextfileDir == "" || req.TextfileDir == "-" {
					req.TextfileDir = check.DefaultTextfileDir
				}
				if fl.measure.On() {
					m, _ := fl.measure.Options() // no --http here: nothing to parse
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
				return map[check.Status]error{check.Fail: command.Fail, check.Warn: command.Warn}[r.Worst()]
			})
		},
	}
	fl.profile.Add(c)
	c.Flags().BoolVar(&fl.firmware, "firmware", false, "also read the Raspberry Pi firmware's throttling word (get_throttled; newer kernels log a warning at each read)")
	fl.measure.Probe(c)
	c.Flags().StringVar(&fl.textfileDir, "textfile-dir", "", "the node exporter's textfile `DIR` in the root: --output prometheus goes there, not to standard output (-: standard output); the textfile's age is checked there (else in "+check.DefaultTextfileDir+")")
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
