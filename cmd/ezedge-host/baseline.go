package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command"
	"github.com/ezansiedgeai/ezedge-host/internal/health/baseline"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
)

// baselineFlags are baseline's flags.
type baselineFlags struct {
	measure     command.MeasureFlags
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
						command.LeftOut(g.stderr, skipped)
						view.BaselineListText(w, recs)
					})
				}
				m, err := fl.measure.Options()
				if err != nil {
					return err
				}
				r, prev, skipped, err := x.Baseline(m, fl.lockTimeout)
				if err != nil {
					return err
				}
				return view.Show(w, out, view.NewBaseline(r, prev, skipped), func() {
					command.LeftOut(g.stderr, skipped)
					view.BaselineText(w, r, prev)
					escape.Fprintf(w, "\nSaved as baseline %s.\n", r.ID)
				})
			})
		},
	}
	fl.measure.Add(c, 30*time.Second, "in all", "")
	c.Flags().BoolVar(&fl.list, "list", false, "list the stored baselines instead of measuring")
	c.Flags().DurationVar(&fl.lockTimeout, "lock-timeout", 0, "wait up to `D` for another ezedge-host changing the host (0: fail at once)")
	return c
}
