package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command/complete"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/tryapply"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
)

func confirmCmd(g *globals) *cobra.Command {
	var lockTimeout time.Duration
	c := &cobra.Command{
		Use:   "confirm [ID]",
		Short: "Keep a try apply (apply --confirm-within) before it is rolled back",
		Example: `  sudo ezedge-host confirm                     # every apply waiting
  sudo ezedge-host confirm 20261129T080000Z`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: complete.PendingIDs(func() string { return g.root }),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.on(nil, func(x *ops.Host, out view.Format) error {
				res, err := x.Confirm(append(args, "")[0], lockTimeout)
				if err != nil {
					return err
				}
				c := view.NewConfirm(res)
				return view.Show(cmd.OutOrStdout(), out, c, func() { view.ConfirmText(cmd.OutOrStdout(), c) })
			})
		},
	}
	c.Flags().DurationVar(&lockTimeout, "lock-timeout", 0, "wait up to `D` for another ezedge-host changing the host (0: fail at once)")
	return c
}

func statusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Applies waiting for confirmation, interrupted or in progress ones, and the latest",
		Example: `  ezedge-host status
  ezedge-host status --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.on(nil, func(x *ops.Host, out view.Format) error {
				pending, err := tryapply.List(x.Root)
				if err != nil {
					return err
				}
				hi, err := x.Store.History()
				if err != nil {
					return err
				}
				reasons, err := x.RebootRequired()
				if err != nil {
					hi.Warnings = append(hi.Warnings, err.Error())
				}
				st := view.NewStatus(pending, hi, reasons, time.Now())
				return view.Show(cmd.OutOrStdout(), out, st, func() { view.StatusText(cmd.OutOrStdout(), st) })
			})
		},
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
		RunE: func(cmd *cobra.Command, args []string) error {
			var when time.Time
			if at != "" {
				var err error
				if when, err = time.Parse(time.RFC3339, at); err != nil {
					return err
				}
			}
			return g.on(nil, func(x *ops.Host, _ view.Format) error {
				ids, err := x.RevertIfUnconfirmed(args[0], when)
				for _, id := range ids {
					escape.Fprintf(cmd.OutOrStdout(), "apply %s not confirmed in time: rolled back\n", id)
				}
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			return g.on(nil, func(x *ops.Host, _ view.Format) error { return x.RevertPending(self) })
		},
	}
}
