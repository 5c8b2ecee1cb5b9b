package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
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
		Use:  "rollback",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := fl.measure.Request()
			if err != nil {
				return err
			}
			return g.on(nil, func(x *ops.Host, v *view.View) error {
				ask := func() error { return confirm(cmd, fl.yes, "roll back") }
				res, err := x.Rollback(ops.RollbackRequest{To: fl.to, Force: fl.force, LockTimeout: fl.lockTimeout, Measure: m, Review: v.RollbackReview(ask)})
				return v.Rollback(res, err)
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
		Use:  "history",
		Args: cobra.NoArgs,
		RunE: g.shows(func(x *ops.Host, v *view.View) error { return v.History(x.History()) }),
	}
}
