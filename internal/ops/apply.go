package ops

import (
	"fmt"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/apply"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/reboot"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/savedplan"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/tryapply"
	"github.com/ezansiedgeai/ezedge-host/internal/health/baseline"
	"github.com/ezansiedgeai/ezedge-host/plan"
)

// ApplyRequest is an apply: of the profile, or exactly of a saved plan.
type ApplyRequest struct {
	Request
	// Saved, when set, is the plan file being applied: the fresh plan
	// must be its diff exactly.
	Saved *savedplan.Saved
	// Review is shown the plan before anything is locked or changed and
	// says whether to go on (the CLI shows it and asks); nil goes on.
	Review func(p *plan.Plan) error
	// LockTimeout is how long to wait for another ezedge-host.
	LockTimeout time.Duration
	// Within, when set, makes it a try apply: rolled back unless
	// confirmed within this time, by a revert that Self (this binary)
	// runs.
	Within time.Duration
	Self   string
	// Measure, when set, measures what the changed tasks bear on before
	// and after.
	Measure *Measure
}

// ApplyResult is what an apply did.
type ApplyResult struct {
	// Plan is the plan applied: made again under the lock.
	Plan    *plan.Plan
	Applied *apply.Applied
	// Pending is the try apply's confirmation, when one was armed.
	Pending *tryapply.Pending
	// Effect is the measured effect, with Measure.
	Effect *baseline.Effect
	// Reboot are the changes that take effect only at the next boot
	// (reboot.go): on the running system every one since it booted.
	Reboot []reboot.Reason
}

// Apply plans the host, has the plan reviewed, and applies it under the
// host lock, planning again there: the host must still be what was
// reviewed (another apply, or an operator, may have been quicker). A try
// apply is armed with its revert, or undone at once when the revert cannot
// be armed. The result is returned whenever the apply ran, with its error.
func (x *Host) Apply(req ApplyRequest) (out *ApplyResult, err error) {
	if err := x.Root.RequirePrivilege("apply"); err != nil {
		return nil, err
	}
	// An overdue try apply is reverted before the plan is made, so the
	// plan reviewed is the one applied.
	if len(tryapply.Overdue(x.Root, x.now())) > 0 {
		unlock, _, err := x.Lock(req.LockTimeout, "ezedge-host apply")
		if err != nil {
			return nil, err
		}
		unlock()
	}
	p, err := x.Plan(req.Request)
	if err != nil {
		return nil, err
	}
	if req.Saved != nil {
		if err := req.Saved.Check(p); err != nil {
			return nil, err
		}
	}
	// --measure on a host that cannot be measured fails before anything
	// is locked, asked or changed.
	var me *measurement
	if len(p.Pending()) > 0 {
		if me, err = x.prepare(req.Measure, p.Facts, "apply"); err != nil {
			return nil, err
		}
	}
	if req.Review != nil {
		if err := req.Review(p); err != nil {
			return nil, err
		}
	}
	unlock, _, err := x.Lock(req.LockTimeout, "ezedge-host apply")
	if err != nil {
		return nil, err
	}
	defer unlock()
	// What needs a reboot is said whatever happens from here on: a
	// failed apply restored, a try apply undone at once, need none.
	var made []reboot.Reason
	defer func() {
		reasons := x.syncReboot(made)
		if out != nil {
			out.Reboot = reasons
		}
	}()
	again, err := x.replan(req, p)
	if err != nil {
		return nil, err
	}
	out = &ApplyResult{Plan: again}
	if me != nil && len(again.Pending()) > 0 {
		var names []string
		for _, c := range again.Pending() {
			names = addTasks(names, c.Task)
		}
		x.takeBefore(me, names)
	} else {
		me = nil
	}
	if n := len(again.Pending()); n > 0 {
		x.trackReboot(trackChanges(again.Pending()))
		x.progress(Progress{Phase: PhaseApply, Count: n})
	}
	out.Applied, err = apply.Apply(x.Root, x.Store, again, x.now())
	if err != nil {
		return out, err
	}
	made = madeByChanges(out.Applied.Changed)
	if me != nil && out.Applied.ID != "" {
		if out.Effect, err = x.after(me, out.Applied.ID, bootNote(again)); err != nil {
			return out, fmt.Errorf("the apply is done (snapshot %s), but its figures were not saved: %w", out.Applied.ID, err)
		}
	}
	if out.Applied.ID != "" && req.Within > 0 {
		pd, err := x.arm(out.Applied.ID, req.Within, req.Self)
		if err != nil {
			made = nil
			return out, err
		}
		out.Pending = &pd
	}
	return out, nil
}

// replan plans again under the lock: the host must still be what was
// reviewed as p (or what the saved plan was made from).
func (x *Host) replan(req ApplyRequest, p *plan.Plan) (*plan.Plan, error) {
	again, err := x.Plan(req.Request)
	if err != nil {
		return nil, err
	}
	if req.Saved != nil {
		err = req.Saved.Check(again)
	} else if id := plan.Same(p, again); id != "" {
		err = fmt.Errorf("the host changed since the plan was made (%s); nothing was changed: run apply again", id)
	}
	if err != nil {
		return nil, err
	}
	return again, nil
}

// bootNote is what a measured apply's figures say when some of p's changes
// wait for the next boot.
func bootNote(p *plan.Plan) string {
	for _, c := range p.Pending() {
		if c.RebootRequired {
			return "some changes take effect at the next boot: the after figures do not show them yet"
		}
	}
	return ""
}

// NotArmedError is a try apply whose revert could not be armed: the apply
// was rolled back at once (or, when that failed too, it says so).
type NotArmedError struct{ msg string }

func (e NotArmedError) Error() string { return e.msg }

// arm schedules the automatic revert of try apply id. Without it a try
// apply is not safe: if it cannot be armed, the apply is rolled back now,
// and a failure of that rollback is said too.
func (x *Host) arm(id string, within time.Duration, self string) (tryapply.Pending, error) {
	err := fmt.Errorf("the path of this binary is unknown")
	if self != "" {
		var p tryapply.Pending
		if p, err = tryapply.Schedule(x.Root, id, within, self, x.now()); err == nil {
			return p, nil
		}
	}
	rv := tryapply.Revert(x.Store, x.Root, id)
	if rv.Err != nil {
		return tryapply.Pending{}, NotArmedError{fmt.Sprintf("could not schedule the automatic revert (%v), and rolling the apply back failed too: %v; run `ezedge-host rollback --to %s`", err, rv.Err, id)}
	}
	return tryapply.Pending{}, NotArmedError{fmt.Sprintf("could not schedule the automatic revert (%v); the apply was rolled back", err)}
}
