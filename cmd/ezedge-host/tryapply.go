package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command/complete"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
)

func confirmCmd(g *globals) *cobra.Command {
	var lockTimeout time.Duration
	c := &cobra.Command{
		Use:               "confirm [ID]",
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: complete.PendingIDs(func() string { return g.root }),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.on(nil, func(x *ops.Host, v *view.View) error { return v.Confirmed(x.Confirm(append(args, "")[0], lockTimeout)) })
		},
	}
	c.Flags().DurationVar(&lockTimeout, "lock-timeout", 0, "wait up to `D` for another ezedge-host changing the host (0: fail at once)")
	return c
}

func statusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:  "status",
		Args: cobra.NoArgs,
		RunE: g.shows(func(x *ops.Host, v *view.View) error { return v.Status(x.Status()) }),
	}
}

// revertCmd is what a try apply schedules: at the deadline, roll the apply
// back unless it was confirmed meanwhile.
func revertCmd(g *globals) *cobra.Command {
	var at string
	c := &cobra.Command{
		Use:    "revert-if-unconfirmed ID",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var when time.Time
			if at != "" {
				var err error
				if when, err = time.Parse(time.RFC3339, at); err != nil {
					return err
				}
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
	return &cobra.Command{
		Use:    "revert-pending",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			return g.on(nil, func(x *ops.Host, _ *view.View) error { return x.RevertPending(self) })
		},
	}
}
