package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/savedplan"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
	"github.com/ezansiedgeai/ezedge-host/plan"
)

// applyFlags are apply's flags.
type applyFlags struct {
	profile     command.ProfileFlags
	yes         bool
	lockTimeout time.Duration
	within      time.Duration
	measure     command.MeasureFlags
	only        []string
}

func applyCmd(g *globals) *cobra.Command {
	var fl applyFlags
	c := &cobra.Command{
		Use:   "apply [PLANFILE]",
		Short: "Make the planned changes (or exactly those of a saved plan), snapshotting every prior value first",
		Example: `  sudo ezedge-host apply                          # shows the plan, asks
  sudo ezedge-host apply --yes --only swappiness  # one task's changes
  sudo ezedge-host apply tuning.plan              # exactly a saved plan (plan --out)
  sudo ezedge-host apply --yes --confirm-within 2m  # over SSH: undone unless confirmed
  sudo ezedge-host apply --yes --only zswap --measure --budget 30s`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// A saved plan is the approval of one diff, not a recipe: the
			// host is planned again with the profile saved in it, and only
			// that fresh plan, if its diff is the saved one, is applied.
			var saved *savedplan.Saved
			var src profile.Source
			var err error
			if len(args) == 1 {
				if err := command.RefuseFixed(cmd); err != nil {
					return err
				}
				if saved, err = savedplan.Load(args[0]); err != nil {
					return err
				}
				src = profile.Saved(args[0], saved.Profile)
				fl.only = saved.Only
			} else if src, err = fl.profile.Source(); err != nil {
				return err
			}
			if err := command.OnlyTasks(fl.only); err != nil {
				if saved != nil {
					return fmt.Errorf("plan file %s: %w", args[0], err)
				}
				return err
			}
			m, err := fl.measure.Request()
			if err != nil {
				return err
			}
			return g.apply(cmd, src, ops.ApplyRequest{
				Request: ops.Request{Only: fl.only}, Saved: saved, LockTimeout: fl.lockTimeout, Within: fl.within, Measure: m,
			}, fl.yes || saved != nil)
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
// shown in out.
func (g *globals) apply(cmd *cobra.Command, src profile.Source, req ops.ApplyRequest, yes bool) error {
	return g.on(nil, func(x *ops.Host, out view.Format) error {
		var err error
		if req.Profile, err = x.Profile(src); err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		req.Review = func(p *plan.Plan) error {
			if out == view.Text && req.Saved == nil {
				view.PlanText(w, p, false)
			}
			if len(p.Pending()) == 0 {
				return nil
			}
			return confirm(cmd, yes, "apply these changes")
		}
		if req.Within > 0 {
			req.Self, _ = os.Executable()
		}
		res, err := x.Apply(req)
		switch {
		case res == nil:
			return err
		case out == view.JSON:
			if jerr := view.WriteJSON(w, view.NewApplyResult(res, err, time.Now())); err == nil {
				err = jerr
			}
			return err
		case errors.As(err, new(ops.NotArmedError)):
			return err
		case err != nil:
			return fmt.Errorf("apply failed: %w", err)
		}
		view.ApplyResultText(w, res, req.Within)
		return nil
	})
}
