package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command"
	"github.com/ezansiedgeai/ezedge-host/internal/health/check"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
)

// The commands that look at the host's health: check, baseline.

// checkNow is the clock a check reads (a test fixes it: the report's time
// and the textfile's age are in its output).
var checkNow = time.Now

// checkNames names containers in place of the running system's Podman
// (nil: Podman's names, on the running system only); a test names the
// containers it puts in a fixture with it.
var checkNames func() map[string]string

type checkFlags struct {
	profile     command.ProfileFlags
	firmware    bool
	textfileDir string
	measure     command.MeasureFlags
}

func checkCmd(g *globals) *cobra.Command {
	var fl checkFlags
	c := &cobra.Command{Use: "check", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			src, err := fl.profile.Source()
			if err != nil {
				return err
			}
			return g.on([]view.Format{view.JUnit, view.Prometheus}, func(x *ops.Host, v *view.View) error {
				req := ops.CheckRequest{Firmware: fl.firmware, Probe: fl.measure.ProbeRequest(), TextfileDir: ops.TextfileDir(fl.textfileDir), Now: checkNow(), Names: checkNames}
				if req.Profile, err = x.Profile(src); err != nil {
					return err
				}
				r, err := x.Check(req)
				if err == nil {
					err = v.Check(r, x.Textfile(fl.textfileDir))
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

type baselineFlags struct {
	measure     command.MeasureFlags
	list        bool
	lockTimeout time.Duration
}

func baselineCmd(g *globals) *cobra.Command {
	var fl baselineFlags
	c := &cobra.Command{Use: "baseline", Args: cobra.NoArgs,
		RunE: g.shows(func(x *ops.Host, v *view.View) error {
			if fl.list {
				return v.Baselines(x.Baselines())
			}
			m, err := fl.measure.Options()
			if err != nil {
				return err
			}
			return v.Baseline(x.Baseline(m, fl.lockTimeout))
		}),
	}
	fl.measure.Add(c, 30*time.Second, "in all", "")
	c.Flags().BoolVar(&fl.list, "list", false, "list the stored baselines instead of measuring")
	c.Flags().DurationVar(&fl.lockTimeout, "lock-timeout", 0, "wait up to `D` for another ezedge-host changing the host (0: fail at once)")
	return c
}
