package main

import (
	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
)

func factsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:  "facts",
		Args: cobra.NoArgs,
		RunE: g.shows(func(x *ops.Host, v *view.View) error { return v.Facts(x.Facts()) }),
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
		Use:  "plan",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			src, err := fl.profile.Source()
			if err != nil {
				return err
			}
			if err := command.OnlyTasks(fl.only); err != nil {
				return err
			}
			return g.on(nil, func(x *ops.Host, v *view.View) error {
				prof, err := x.Profile(src)
				if err != nil {
					return err
				}
				p, err := x.Plan(ops.Request{Profile: prof, Only: fl.only})
				if err != nil {
					return err
				}
				if err := v.Plan(p, fl.diff); err != nil {
					return err
				}
				if fl.out != "" {
					if err := x.SavePlan(fl.out, p, prof, fl.only); err != nil {
						return err
					}
					v.PlanSaved(fl.out)
				}
				if fl.detailed && len(p.Pending()) > 0 {
					return command.Changes
				}
				return nil
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
