package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
)

// baselineFlags are baseline's flags.
type baselineFlags struct {
	measure     command.MeasureFlags
	list        bool
	lockTimeout time.Duration
}

func baselineCmd(g *globals) *cobra.Command {
	var fl baselineFlags
	c := &cobra.Command{
		Use:  "baseline",
		Args: cobra.NoArgs,
		RunE: g.shows(func(x *ops.Host, v *view.View) error {
			if fl.list {
				return v.Baselines(x.Baselines())
			}
			m, err := fl.measure.Options()
			if err != nil {
				return err
			}
			return v.Baseline(x.Baseline(m, fl.lockTimeout))
		}),
	}
	fl.measure.Add(c, 30*time.Second, "in all", "")
	c.Flags().BoolVar(&fl.list, "list", false, "list the stored baselines instead of measuring")
	c.Flags().DurationVar(&fl.lockTimeout, "lock-timeout", 0, "wait up to `D` for another ezedge-host changing the host (0: fail at once)")
	return c
}
