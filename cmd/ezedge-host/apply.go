package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
)

type applyFlags struct {
	profile             command.ProfileFlags
	yes                 bool
	lockTimeout, within time.Duration
	measure             command.MeasureFlags
	only                []string
}

func applyCmd(g *globals) *cobra.Command {
	var fl applyFlags
	c := &cobra.Command{Use: "apply [PLANFILE]", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := ops.ApplyRequest{Request: ops.Request{Only: fl.only}, LockTimeout: fl.lockTimeout, Within: fl.within}
			src, err := fl.profile.Source()
			if len(args) == 1 {
				// Applied with the profile and tasks saved in it, the flags
				// that would choose them refused.
				if err := command.RefuseFixed(cmd); err != nil {
					return err
				}
				if req.Saved, src, err = ops.LoadPlan(args[0]); err != nil {
					return err
				}
				req.Only = req.Saved.Only
			} else if err == nil {
				err = ops.OnlyTasks(fl.only)
			}
			if err == nil {
				req.Measure, err = fl.measure.Request()
			}
			if err != nil {
				return err
			}
			return g.apply(cmd, src, req, fl.yes || req.Saved != nil)
		},
	}
	fl.profile.Add(c)
	c.Flags().BoolVarP(&fl.yes, "yes", "y", false, "do not ask for confirmation")
	c.Flags().DurationVar(&fl.lockTimeout, "lock-timeout", 0, "wait up to `D` for another ezedge-host changing the host (0: fail at once)")
	c.Flags().DurationVar(&fl.within, "confirm-within", 0, "roll the apply back automatically unless ezedge-host confirm runs within `D` (e.g. 120s)")
	c.Flags().StringArrayVar(&fl.only, "only", nil, "apply only `TASK`'s changes, the others left pending (repeatable): one change at a time")
	fl.measure.Add(c, 20*time.Second, "before and after together", "what the changed tasks bear on (disk, CPU, memory, --http URLs) before and after, and keep the figures with the snapshot")
	// What a saved plan fixes itself, the flags that would choose it are
	// refused with PLANFILE. The others still mean something there: --root
	// and --platform say which host (and must be the plan's), --yes is what
	// a plan file does anyway (nothing is asked), --output, --lock-timeout,
	// --confirm-within and --measure with its flags act on the apply.
	command.FixedByArg(c, "a saved plan is applied with the profile it was made with; make the plan again with plan --profile or --no-profile", "profile", "no-profile")
	command.FixedByArg(c, "a saved plan is applied as saved; make it with plan --only instead", "only")
	return c
}

// apply resolves the profile, then applies through ops.Apply: the plan is
// shown (text, unless a saved plan was) and asked about, and the result
// shown.
func (g *globals) apply(cmd *cobra.Command, src profile.Source, req ops.ApplyRequest, yes bool) error {
	return g.on(nil, func(x *ops.Host, v *view.View) error {
		var err error
		if req.Profile, err = x.Profile(src); err != nil {
			return err
		}
		req.Review = v.ApplyReview(req.Saved != nil, func() error { return confirm(cmd, yes, "apply these changes") })
		if req.Within > 0 {
			req.Self, _ = os.Executable()
		}
		res, err := x.Apply(req)
		return v.Apply(res, err, req.Within)
	})
}
