package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/rollback"
)

func confirmCmd(g *globals) *cobra.Command {
	return &cobra.Command{
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
			done, err := rollback.Open(h).Confirm(id)
			if err != nil {
				return err
			}
			if len(done) == 0 {
				return fmt.Errorf("no apply is waiting for confirmation")
			}
			for _, d := range done {
				fmt.Fprintf(cmd.OutOrStdout(), "Confirmed apply %s: it stays.\n", d)
			}
			return nil
		},
	}
}

func statusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Applies waiting for confirmation, interrupted ones, and the latest",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := g.openRoot()
			if err != nil {
				return err
			}
			defer h.Close()
			store := rollback.Open(h)
			pending, err := store.PendingConfirmations()
			if err != nil {
				return err
			}
			recs, err := store.Records()
			if err != nil {
				return err
			}
			var latest map[string]any
			var interrupted []string
			for _, r := range recs {
				latest = map[string]any{"id": r.ID, "time": r.Time, "changes": len(r.Items), "status": r.Status()}
				if r.Status() == "interrupted" {
					interrupted = append(interrupted, r.ID)
				}
			}
			w := cmd.OutOrStdout()
			if g.output == "json" {
				if pending == nil {
					pending = []rollback.Pending{}
				}
				return plan.WriteJSON(w, map[string]any{"format_version": plan.FormatVersion, "pending_confirmation": pending, "interrupted": plan.NonNil(interrupted), "latest": latest})
			}
			for _, p := range pending {
				left := time.Until(p.Deadline).Round(time.Second)
				fmt.Fprintf(w, "Apply %s waits for confirmation: rolled back at %s (in %s) by %s unless `ezedge-host confirm` runs first.\n", p.ID, p.Deadline.Local().Format(time.DateTime), left, p.RevertBy)
			}
			for _, id := range interrupted {
				fmt.Fprintf(w, "Apply %s was interrupted: run `ezedge-host rollback`.\n", id)
			}
			if latest == nil {
				fmt.Fprintln(w, "No applies recorded.")
			} else {
				fmt.Fprintf(w, "Latest apply: %s, %d changes, %s.\n", latest["id"], latest["changes"], latest["status"])
			}
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
			unlock, err := store.Lock(time.Minute, "ezedge-host revert-if-unconfirmed")
			if err != nil {
				return err
			}
			defer unlock()
			id := args[0]
			if !store.IsPending(id) {
				fmt.Fprintf(cmd.OutOrStdout(), "apply %s was confirmed; nothing to do\n", id)
				return nil
			}
			recs, err := store.Records()
			if err != nil {
				return err
			}
			targets, err := rollback.Targets(recs, id)
			if err != nil {
				return err
			}
			for _, r := range targets {
				o, err := store.Restore(r, false)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "apply %s not confirmed in time: restored %d resources\n", r.ID, len(o.Restored))
			}
			return store.Unconfirmed(id)
		},
	}
	c.Flags().StringVar(&at, "at", "", "wait until this RFC 3339 time first")
	return c
}
