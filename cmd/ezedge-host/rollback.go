package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command"
	"github.com/ezansiedgeai/ezedge-host/internal/command/complete"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
)

// The commands that keep or undo applies: rollback, history, status,
// confirm, and the reverts a try apply schedules.

type rollbackFlags struct {
	to          string
	force, yes  bool
	lockTimeout time.Duration
	measure     command.MeasureFlags
}

func rollbackCmd(g *globals) *cobra.Command {
	var fl rollbackFlags
	c := &cobra.Command{Use: "rollback", Args: cobra.NoArgs,
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
	return &cobra.Command{Use: "history", Args: cobra.NoArgs,
		RunE: g.shows(func(x *ops.Host, v *view.View) error { return v.History(x.History()) }),
	}
}

func statusCmd(g *globals) *cobra.Command {
	return &cobra.Command{Use: "status", Args: cobra.NoArgs,
		RunE: g.shows(func(x *ops.Host, v *view.View) error { return v.Status(x.Status()) }),
	}
}

func confirmCmd(g *globals) *cobra.Command {
	var lockTimeout time.Duration
	c := &cobra.Command{Use: "confirm [ID]", Args: cobra.MaximumNArgs(1), ValidArgsFunction: complete.PendingIDs(func() string { return g.root }),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.on(nil, func(x *ops.Host, v *view.View) error { return v.Confirmed(x.Confirm(append(args, "")[0], lockTimeout)) })
		},
	}
	c.Flags().DurationVar(&lockTimeout, "lock-timeout", 0, "wait up to `D` for another ezedge-host changing the host (0: fail at once)")
	return c
}

// revertCmd is what a try apply schedules: at the deadline, roll the apply
// back unless it was confirmed meanwhile.
func revertCmd(g *globals) *cobra.Command {
	var at string
	c := &cobra.Command{Use: "revert-if-unconfirmed ID", Hidden: true, Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			when, err := command.Time(at)
			if err != nil {
				return err
			}
			return g.on(nil, func(x *ops.Host, v *view.View) error {
				ids, err := x.RevertIfUnconfirmed(args[0], when)
				v.Reverted(ids)
				return err
			})
		},
	}
	c.Flags().StringVar(&at, "at", "", "wait until this RFC 3339 time first")
	return c
}

// revertPendingCmd is what the boot unit runs after a reboot: revert every
// try apply whose deadline passed, re-arm the timers of the others.
func revertPendingCmd(g *globals) *cobra.Command {
	return &cobra.Command{Use: "revert-pending", Hidden: true, Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			return g.on(nil, func(x *ops.Host, _ *view.View) error { return x.RevertPending(self) })
		},
	}
}
