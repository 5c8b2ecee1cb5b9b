package main

import (
	"bytes"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/health/check"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/rollback"
)

// DefaultTextfileDir is Debian's prometheus-node-exporter textfile
// directory.
const DefaultTextfileDir = "/var/lib/prometheus/node-exporter"

// checkNow is the clock a check reads (a test fixes it: the report's time
// and the textfile's age are in its output).
var checkNow = time.Now

func checkCmd(g *globals) *cobra.Command {
	var firmware, probe bool
	var textfileDir string
	var m measureFlags
	c := &cobra.Command{
		Use:   "check",
		Short: "Check the host against the guide's checklists (power, temperature, storage, swap, limits, tuning, monitoring)",
		Long: "Check the host against the performance guide's checklists: each check ok, warn, fail or unknown, with\n" +
			"the value seen, the file it was read from and what fixes it. Changes nothing on the host; with\n" +
			"--output prometheus it writes the node exporter's textfile (" + check.TextfileName + ") in --textfile-dir.\n\n" +
			"Exit status: 0 all ok (unknown allowed), 4 warnings, 5 failures, 1 the check could not run.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g.formats = []string{"junit", "prometheus"}
			var err error
			if g.src, err = g.profileSource(cmd); err != nil {
				return err
			}
			h, err := g.openRoot()
			if err != nil {
				return err
			}
			defer h.Close()
			if err := g.resolveProfile(h); err != nil {
				return err
			}
			dir := textfileDir
			if dir == "-" {
				dir = ""
			}
			o := check.Options{As: platform.Kind(g.platform), Choices: g.choices, Firmware: firmware, TextfileDir: dir}
			if probe {
				f, err := platform.DetectAs(h, platform.Kind(g.platform), platform.Observe{})
				if err != nil {
					return err
				}
				hv, err := m.live(h, f, rollback.Open(h))
				if err != nil {
					return fmt.Errorf("--measure: %w", err)
				}
				o.Probe = hv.Measure(check.ProbeKinds, m.budget)
			}
			r, err := check.Host(h, rollback.Open(h), o, checkNow())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch g.output {
			case "json":
				err = view.WriteJSON(out, view.NewCheck(r))
			case "junit":
				err = view.CheckJUnit(out, r)
			case "prometheus":
				if textfileDir == "-" {
					err = view.CheckPrometheus(out, r)
					break
				}
				var b bytes.Buffer
				if err = view.CheckPrometheus(&b, r); err == nil {
					err = check.WriteTextfile(h, textfileDir, b.Bytes())
				}
			default:
				view.CheckText(out, r)
			}
			if err != nil {
				return err
			}
			switch r.Worst() {
			case check.Fail:
				return exitCode(exitFail)
			case check.Warn:
				return exitCode(exitWarn)
			}
			return nil
		},
	}
	g.addProfileFlags(c)
	c.Flags().BoolVar(&firmware, "firmware", false, "also read the Raspberry Pi firmware's throttling word (get_throttled; newer kernels log a warning at each read)")
	c.Flags().BoolVar(&probe, "measure", false, "also measure CPU, memory and disk reads briefly and compare them with the newest baseline")
	c.Flags().DurationVar(&m.budget, "budget", 5*time.Second, "time --measure may take (1s to 10m)")
	c.Flags().BoolVar(&m.busy, "busy", false, "--measure even when the host is under heavy load")
	c.Flags().StringVar(&textfileDir, "textfile-dir", DefaultTextfileDir, "the node exporter's textfile `DIR` in the root, for --output prometheus (- for standard output)")
	return c
}
