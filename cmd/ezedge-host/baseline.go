package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/health/baseline"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
)

// measureFlags are the options of every command that measures: --measure
// itself where measuring is optional, then what and how long.
type measureFlags struct {
	on      bool
	budget  time.Duration
	http    []string
	dataDir string
	busy    bool
	cmd     *cobra.Command
}

// add gives c the measuring flags; with on set, --measure says what it
// measures (apply, rollback), else measuring is what c does (baseline).
func (m *measureFlags) add(c *cobra.Command, budget time.Duration, what, on string) {
	m.cmd = c
	if on != "" {
		c.Flags().BoolVar(&m.on, "measure", false, "measure "+on)
	}
	c.Flags().DurationVar(&m.budget, "budget", budget, "let the measurements take up to `D` "+what+" (1s to 10m)")
	c.Flags().StringArrayVar(&m.http, "http", nil, "also measure a capability `[health|simple|complex=]URL` alone and at 10 concurrent requests, against the guide's range for its class (repeatable)")
	c.Flags().StringVar(&m.dataDir, "data-dir", "", "`DIR` on the data filesystem for the synchronous-write test (default: Podman's storage, else /var/lib/ezedge-host)")
	c.Flags().BoolVar(&m.busy, "busy", false, "measure even when the host is under heavy load (load average at or above its core count)")
}

// options are the measurement the flags ask for.
func (m *measureFlags) options() (ops.Measure, error) {
	o := ops.Measure{Budget: m.budget, DataDir: m.dataDir, Busy: m.busy}
	for _, s := range m.http {
		e, err := measure.ParseEndpoint(s)
		if err != nil {
			return o, err
		}
		o.HTTP = append(o.HTTP, e)
	}
	return o, nil
}

// request is the measurement --measure asks for, or nil; a measuring flag
// given without --measure is refused rather than silently ignored.
func (m *measureFlags) request() (*ops.Measure, error) {
	if !m.on {
		for _, n := range []string{"budget", "http", "data-dir", "busy"} {
			if m.cmd.Flags().Changed(n) {
				return nil, fmt.Errorf("--%s: only with --measure", n)
			}
		}
		return nil, nil
	}
	o, err := m.options()
	return &o, err
}

// baselineFlags are baseline's flags.
type baselineFlags struct {
	measure     measureFlags
	list        bool
	lockTimeout time.Duration
}

func baselineCmd(g *globals) *cobra.Command {
	var fl baselineFlags
	c := &cobra.Command{
		Use:   "baseline",
		Short: "Measure the running host (disks, sync writes, memory, CPU, capability URLs) and keep the figures beside the snapshots",
		Long: "Measure the running host within a time budget: sequential reads of the root and data disks\n" +
			"(O_DIRECT, read-only), 4 KiB write + fdatasync latency on the data filesystem, memory copy\n" +
			"bandwidth, single-core and all-core CPU throughput with the clock seen meanwhile, and each --http\n" +
			"URL alone and at 10 concurrent requests against the guide's expected range. Each figure is the\n" +
			"median of several runs, with its spread. The baseline is stored in /var/lib/ezedge-host/baselines\n" +
			"and compared with the previous one; --list shows them all. Needs the live host (--root /).",
		Example: `  sudo ezedge-host baseline
  sudo ezedge-host baseline --budget 2m --http complex=http://127.0.0.1:11434/api/tags
  ezedge-host baseline --list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.on(nil, func(x *ops.Host, out view.Format) error {
				w := cmd.OutOrStdout()
				if fl.list {
					recs, skipped, err := baseline.List(x.Root)
					if err != nil {
						return err
					}
					return view.Show(w, out, view.BaselineList{FormatVersion: view.FormatVersion, Baselines: view.NonNil(recs), Skipped: view.NonNil(skipped)}, func() {
						g.warn(skipped)
						view.BaselineListText(w, recs)
					})
				}
				m, err := fl.measure.options()
				if err != nil {
					return err
				}
				r, prev, skipped, err := x.Baseline(m, fl.lockTimeout)
				if err != nil {
					return err
				}
				return view.Show(w, out, view.NewBaseline(r, prev, skipped), func() {
					g.warn(skipped)
					view.BaselineText(w, r, prev)
					escape.Fprintf(w, "\nSaved as baseline %s.\n", r.ID)
				})
			})
		},
	}
	fl.measure.add(c, 30*time.Second, "in all", "")
	c.Flags().BoolVar(&fl.list, "list", false, "list the stored baselines instead of measuring")
	c.Flags().DurationVar(&fl.lockTimeout, "lock-timeout", 0, "wait up to `D` for another ezedge-host changing the host (0: fail at once)")
	return c
}

// warn says on stderr what was left out of what a command read.
func (g *globals) warn(skipped []string) {
	for _, s := range skipped {
		escape.Fprintf(g.stderr, "ezedge-host: warning: left out: %s\n", s)
	}
}
