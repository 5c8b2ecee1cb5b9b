package ops

import (
	"fmt"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/reboot"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/tryapply"
	"github.com/ezansiedgeai/ezedge-host/internal/health/baseline"
	"github.com/ezansiedgeai/ezedge-host/rollback"
)

// RollbackRequest is a rollback of the latest apply, or back to To.
type RollbackRequest struct {
	To string
	// Force restores resources changed by someone else since, too.
	Force bool
	// Review is shown the applies to roll back before anything is locked
	// or changed and says whether to go on; nil goes on.
	Review      func(targets []*rollback.Record) error
	LockTimeout time.Duration
	Measure     *Measure
}

// RollbackResult is what a rollback did: an outcome per apply, newest
// first, as far as it got.
type RollbackResult struct {
	Outcomes []*rollback.Outcome
	Effect   *baseline.Effect
	// Reboot are the changes that take effect only at the next boot
	// (reboot.go): on the running system every one since it booted.
	Reboot []reboot.Reason
}

// DriftError is a rollback left incomplete on purpose: resources changed
// since the apply were left alone (Force restores them).
type DriftError struct{ msg string }

func (e DriftError) Error() string { return e.msg }

// Rollback restores the applies req names, newest first, under the host
// lock, choosing them again there (another apply or rollback, or the
// revert of an overdue try apply, may have finished while it waited). A
// rolled-back try apply no longer waits for confirmation. The result is
// returned whenever the rollback ran, with its error.
func (x *Host) Rollback(req RollbackRequest) (out *RollbackResult, err error) {
	if err := x.Root.RequirePrivilege("rollback"); err != nil {
		return nil, err
	}
	targets, err := x.targets(req.To)
	if err != nil {
		return nil, err
	}
	me, err := x.prepare(req.Measure, nil, "rollback")
	if err != nil {
		return nil, err
	}
	if req.Review != nil {
		if err := req.Review(targets); err != nil {
			return nil, err
		}
	}
	unlock, _, err := x.Lock(req.LockTimeout, "ezedge-host rollback")
	if err != nil {
		return nil, err
	}
	defer unlock()
	var made []reboot.Reason
	defer func() {
		reasons := x.syncReboot(made)
		if out != nil {
			out.Reboot = reasons
		}
	}()
	if targets, err = x.targets(req.To); err != nil {
		return nil, err
	}
	x.trackReboot(x.trackRestores(targets))
	if me != nil {
		var names []string
		for _, r := range targets {
			for _, it := range r.Items {
				names = addTasks(names, it.Task)
			}
		}
		x.takeBefore(me, names)
	}
	out = &RollbackResult{}
	for _, r := range targets {
		x.progress(Progress{Phase: PhaseRollback, ID: r.ID, Count: len(r.Items)})
		o, err := x.Store.Restore(r, req.Force)
		out.Outcomes = append(out.Outcomes, o)
		if o != nil {
			for _, m := range madeByRestores([]*rollback.Record{r}, o.Restored) {
				made = addReason(made, m)
			}
		}
		if err != nil {
			return out, fmt.Errorf("rollback of %s: %w", r.ID, err)
		}
		if !o.Complete {
			return out, DriftError{fmt.Sprintf("rollback of %s incomplete: %d resources changed since the apply were left alone (--force restores them)", r.ID, len(o.LeftAlone))}
		}
		if tryapply.IsPending(x.Root, r.ID) {
			if err := tryapply.Done(x.Root, r.ID); err != nil {
				return out, err
			}
		}
	}
	if me != nil && len(targets) > 0 {
		last := targets[len(targets)-1]
		note := ""
		if len(targets) > 1 {
			note = fmt.Sprintf("figures for rolling back %d applies together, back to %s", len(targets), last.ID)
		}
		if out.Effect, err = x.after(me, last.ID, note); err != nil {
			return out, fmt.Errorf("the rollback is done, but its figures were not saved: %w", err)
		}
	}
	return out, nil
}

// targets are the applies a rollback back to to (latest: "") undoes.
func (x *Host) targets(to string) ([]*rollback.Record, error) {
	hi, err := x.Store.History()
	if err != nil {
		return nil, err
	}
	if err := hi.Err(); err != nil {
		return nil, err
	}
	return rollback.Targets(hi.Records, to)
}
