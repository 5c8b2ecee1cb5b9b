package main

import (
	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
)

// The commands that look without changing anything: facts, plan, profile.

func factsCmd(g *globals) *cobra.Command {
	return &cobra.Command{Use: "facts", Args: cobra.NoArgs,
		RunE: g.shows(func(x *ops.Host, v *view.View) error { return v.Facts(x.Facts()) }),
	}
}

type planFlags struct {
	profile        command.ProfileFlags
	diff, detailed bool
	out            string
	only           []string
}

func planCmd(g *globals) *cobra.Command {
	var fl planFlags
	c := &cobra.Command{Use: "plan", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			src, err := fl.profile.Source()
			if err != nil {
				return err
			}
			if err := ops.OnlyTasks(fl.only); err != nil {
				return err
			}
			return g.on(nil, func(x *ops.Host, v *view.View) error {
				prof, err := x.Profile(src)
				if err != nil {
					return err
				}
				p, err := x.Plan(ops.Request{Profile: prof, Only: fl.only})
				if err == nil {
					err = v.Plan(p, fl.diff)
				}
				if err == nil && fl.out != "" {
					if err = x.SavePlan(fl.out, p, prof, fl.only); err == nil {
						v.PlanSaved(fl.out)
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

func profileCmd(g *globals) *cobra.Command {
	var fl command.ProfileFlags
	c := &cobra.Command{Use: "profile", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			src, err := fl.Source()
			if err != nil {
				return err
			}
			return g.on(nil, func(x *ops.Host, v *view.View) error { return v.Profile(x.Profile(src)) })
		},
	}
	fl.Add(c)
	return c
}
