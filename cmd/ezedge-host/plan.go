package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/savedplan"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
)

func factsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "facts",
		Short: "Show what platform this host is, and why",
		Example: `  ezedge-host facts
  ezedge-host facts --root /mnt/img --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.on(nil, func(x *ops.Host, out view.Format) error {
				f, err := x.Facts()
				if err != nil {
					return err
				}
				return view.Show(cmd.OutOrStdout(), out, view.NewFacts(x.Root.Dir(), f), func() { view.FactsText(cmd.OutOrStdout(), f) })
			})
		},
	}
}

// planFlags are plan's flags.
type planFlags struct {
	profile        command.ProfileFlags
	diff, detailed bool
	out            string
	only           []string
}

func planCmd(g *globals) *cobra.Command {
	var fl planFlags
	c := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would change; changes nothing",
		Example: `  ezedge-host plan --diff                       # every file's diff too
  ezedge-host plan --only swappiness --only zswap
  ezedge-host plan --out tuning.plan            # then: sudo ezedge-host apply tuning.plan
  ezedge-host plan --detailed-exitcode -o json  # exit 2 when changes are pending`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := fl.profile.Source()
			if err != nil {
				return err
			}
			if err := command.OnlyTasks(fl.only); err != nil {
				return err
			}
			return g.on(nil, func(x *ops.Host, out view.Format) error {
				prof, err := x.Profile(src)
				if err != nil {
					return err
				}
				p, err := x.Plan(ops.Request{Profile: prof, Only: fl.only})
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				if out == view.JSON {
					err = view.PlanJSON(w, p)
				} else {
					view.PlanText(w, p, fl.diff)
				}
				if err == nil && fl.out != "" {
					var rec profile.Record
					if rec, err = prof.Record(); err == nil {
						err = savedplan.Save(fl.out, p, rec, fl.only, time.Now())
					}
					if err == nil && out == view.Text {
						escape.Fprintf(w, "Saved to %s: `ezedge-host apply %s` applies exactly this plan.\n", fl.out, fl.out)
					}
				}
				if err == nil && fl.detailed && len(p.Pending()) > 0 {
					return command.Changes
				}
				return err
			})
		},
	}
	fl.profile.Add(c)
	c.Flags().BoolVar(&fl.diff, "diff", false, "show a unified diff for every file")
	c.Flags().BoolVar(&fl.detailed, "detailed-exitcode", false, "exit 0 when there is nothing to change, 2 when changes are pending, 1 on error")
	c.Flags().StringVar(&fl.out, "out", "", "save the plan to `FILE`, for ezedge-host apply FILE")
	c.Flags().StringArrayVar(&fl.only, "only", nil, "plan only `TASK`'s changes (repeatable)")
	return c
}
