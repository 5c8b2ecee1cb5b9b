package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command"
	"github.com/ezansiedgeai/ezedge-host/internal/health/baseline"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
	"github.com/ezansiedgeai/ezedge-host/rollback"
)

// rollbackFlags are rollback's flags.
type rollbackFlags struct {
	to          string
	force, yes  bool
	lockTimeout time.Duration
	measure     command.MeasureFlags
}

func rollbackCmd(g *globals) *cobra.Command {
	var fl rollbackFlags
	c := &cobra.Command{
		Use:   "rollback",
		Short: "Restore the prior state of the most recent apply (or back to --to ID)",
		Example: `  sudo ezedge-host rollback                        # the latest apply, asked
  sudo ezedge-host rollback --yes --to 20261129T080000Z
  sudo ezedge-host rollback --yes --force          # what others changed since, too`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := fl.measure.Request()
			if err != nil {
				return err
			}
			return g.on(nil, func(x *ops.Host, out view.Format) error {
				w := cmd.OutOrStdout()
				res, err := x.Rollback(ops.RollbackRequest{To: fl.to, Force: fl.force, LockTimeout: fl.lockTimeout, Measure: m,
					Review: func(targets []*rollback.Record) error {
						for _, r := range targets {
							if out == view.Text {
								escape.Fprintf(w, "Roll back apply %s (%s, %d changes, %s)\n", r.ID, r.Time.Local().Format(time.DateTime), len(r.Items), r.Status())
							}
						}
						return confirm(cmd, fl.yes, "roll back")
					},
				})
				if res == nil {
					return err
				}
				if jerr := view.Show(w, out, view.NewRollbackResult(res, err), func() { view.RollbackResultText(w, res) }); err == nil {
					err = jerr
				}
				return err
			})
		},
	}
	c.Flags().StringVar(&fl.to, "to", "", "roll back every apply back to and including `ID`")
	c.Flags().BoolVar(&fl.force, "force", false, "also restore resources changed by someone else since the apply")
	fl.measure.Add(c, 20*time.Second, "before and after together", "what the restored tasks bear on before and after, and keep the figures with the snapshot")
	c.Flags().BoolVarP(&fl.yes, "yes", "y", false, "do not ask for confirmation")
	c.Flags().DurationVar(&fl.lockTimeout, "lock-timeout", 0, "wait up to `D` for another ezedge-host changing the host (0: fail at once)")
	return c
}

func historyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "history",
		Short: "List applies: id, time, platform, changes, status",
		Example: `  ezedge-host history
  ezedge-host history --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.on(nil, func(x *ops.Host, out view.Format) error {
				hi, err := x.Store.History()
				if err != nil {
					return err
				}
				effects, skipped, err := baseline.Effects(x.Root)
				if err != nil {
					return err
				}
				hi.Warnings = append(hi.Warnings, skipped...)
				w := cmd.OutOrStdout()
				return view.Show(w, out, view.NewHistory(hi, effects), func() {
					for _, u := range append(hi.Unreadable, hi.Warnings...) {
						escape.Fprintf(g.stderr, "ezedge-host: warning: %s\n", u)
					}
					view.HistoryText(w, hi, effects)
				})
			})
		},
	}
}
