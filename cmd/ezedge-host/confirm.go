package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/tryapply"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
	"github.com/ezansiedgeai/ezedge-host/rollback"
)

func confirmCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "confirm [ID]",
		Short: "Keep a try apply (apply --confirm-within) before it is rolled back",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := g.openRoot()
			if err != nil {
				return err
			}
			defer h.Close()
			if err := h.RequirePrivilege("confirm"); err != nil {
				return err
			}
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			store := rollback.Open(h)
			unlock, reverted, err := g.lockHost(h, store, "ezedge-host confirm")
			if err != nil {
				return err
			}
			defer unlock()
			for _, rv := range reverted {
				if id == "" || rv.ID == id {
					return fmt.Errorf("apply %s was not confirmed by its deadline and has been rolled back; apply it again", rv.ID)
				}
			}
			done, err := tryapply.Confirm(h, id)
			if err != nil {
				return err
			}
			if len(done) == 0 {
				return fmt.Errorf("no apply is waiting for confirmation")
			}
			for _, d := range done {
				escape.Fprintf(cmd.OutOrStdout(), "Confirmed apply %s: it stays.\n", d)
			}
			return nil
		},
	}
	c.Flags().DurationVar(&g.lockTimeout, "lock-timeout", 0, "wait this long for another ezedge-host changing the host (0: fail at once)")
	return c
}

func statusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Applies waiting for confirmation, interrupted or in progress ones, and the latest",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := g.openRoot()
			if err != nil {
				return err
			}
			defer h.Close()
			now := time.Now()
			pending, err := tryapply.List(h)
			if err != nil {
				return err
			}
			hi, err := rollback.Open(h).History()
			if err != nil {
				return err
			}
			st := view.NewStatus(pending, hi, now)
			if g.output == "json" {
				return view.WriteJSON(cmd.OutOrStdout(), st)
			}
			view.StatusText(cmd.OutOrStdout(), st)
			return nil
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
			id := args[0]
			if !rollback.ValidID(id) {
				return fmt.Errorf("%q is not an apply id", id)
			}
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return err
				}
				time.Sleep(time.Until(t))
			}
			h, err := g.openRoot()
			if err != nil {
				return err
			}
			defer h.Close()
			store := rollback.Open(h)
			g.lockTimeout = time.Minute
			// Taking the lock reverts every overdue apply, this one too.
			unlock, reverted, err := g.lockHost(h, store, "ezedge-host revert-if-unconfirmed")
			if err != nil {
				return err
			}
			defer unlock()
			for _, rv := range reverted {
				escape.Fprintf(cmd.OutOrStdout(), "apply %s not confirmed in time: rolled back\n", rv.ID)
			}
			if !tryapply.IsPending(h, id) {
				return nil
			}
			// Not due by this clock yet (the timer fired early): revert it
			// all the same, it was scheduled for now.
			if rv := tryapply.Revert(store, h, id); rv.Err != nil {
				return rv.Err
			}
			escape.Fprintf(cmd.OutOrStdout(), "apply %s not confirmed in time: rolled back\n", id)
			return nil
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
			h, err := g.openRoot()
			if err != nil {
				return err
			}
			defer h.Close()
			g.lockTimeout = time.Minute
			unlock, _, err := g.lockHost(h, rollback.Open(h), "ezedge-host revert-pending")
			if err != nil {
				return err
			}
			defer unlock()
			self, err := os.Executable()
			if err != nil {
				return err
			}
			return tryapply.Rearm(h, self, time.Now())
		},
	}
}
