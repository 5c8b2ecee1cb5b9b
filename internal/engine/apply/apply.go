// Package apply makes a plan's changes on a host: every prior state
// journalled before anything is touched, each written value read back, the
// follow-ups run, and on any failure everything restored.
package apply

import (
	"fmt"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/rollback"
)

// Applied is what an apply did.
type Applied struct {
	// ID is the snapshot id; empty when nothing needed changing.
	ID      string
	Changed []plan.Change
	Notes   []string
}

// Apply makes the plan's pending changes under the host lock the caller
// holds through store. Each resource's prior state is journalled durably
// before it is touched. If any change fails, every change this run made is
// restored and all errors are returned together.
func Apply(h *hostroot.Root, store *rollback.Store, p *plan.Plan, now time.Time) (*Applied, error) {
	if err := h.RequirePrivilege("apply"); err != nil {
		return nil, err
	}
	if len(p.Unreadable) > 0 {
		return nil, fmt.Errorf("%s; nothing was changed", p.Unreadable[0])
	}
	if len(p.Interrupted) > 0 {
		return nil, fmt.Errorf("apply %s was interrupted before it finished; run `ezedge-host rollback` first", p.Interrupted[0])
	}
	out := &Applied{}
	todo, prior, err := priors(h, p.Pending())
	if err != nil || len(todo) == 0 {
		return out, err
	}
	// Every prior state in one durable write, and only then anything
	// changed: write-ahead for the whole apply at the cost of one fsync,
	// not one per change.
	j, err := store.Begin(rollback.Meta{Platform: string(p.Facts.Platform), Board: p.Facts.Board}, prior, now)
	if err != nil {
		// A full disk ends here: there is no journal, nothing changed.
		return nil, fmt.Errorf("%w; nothing was changed", err)
	}
	out.ID = j.ID
	afters, failed := write(h, todo, out)
	if failed == nil {
		failed = follow(h, out)
	}
	if failed == nil {
		if failed = j.Commit(store, afters); failed == nil {
			return out, j.Close()
		}
	}
	j.Close()
	out.Changed = nil
	return out, undo(store, j.ID, failed)
}

// priors reads what each pending change's resource holds now: the changes
// still to make (a resource that holds its value already is left out),
// with the prior states to journal.
func priors(h *hostroot.Root, pending []plan.Change) ([]plan.Change, []rollback.Prior, error) {
	var todo []plan.Change
	var prior []rollback.Prior
	for _, c := range pending {
		cur, err := c.Resource.Read(h)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", c.Resource.Name(), err)
		}
		if c.Resource.Equal(cur, c.After) {
			continue
		}
		c.Before = cur
		todo = append(todo, c)
		prior = append(prior, rollback.Prior{Task: c.Task, Resource: c.Resource, State: cur, Then: c.Then, Reboot: c.RebootRequired})
	}
	return todo, prior, nil
}

// write makes each change, reading each value back; a kernel that set
// another value (a device's limit) is noted. It stops at the first
// failure.
func write(h *hostroot.Root, todo []plan.Change, out *Applied) ([]rollback.After, error) {
	var afters []rollback.After
	for _, c := range todo {
		if err := c.Resource.Write(h, c.After); err != nil {
			return afters, fmt.Errorf("%s: %w", c.Resource.Name(), err)
		}
		got, err := c.Resource.Read(h)
		if err != nil {
			return afters, fmt.Errorf("%s: read back: %w", c.Resource.Name(), err)
		}
		afters = append(afters, rollback.After{State: got, Desired: c.After})
		if !c.Resource.Equal(got, c.After) {
			out.Notes = append(out.Notes, fmt.Sprintf("%s: the kernel set %s when %s was asked (the device's limit)",
				c.Resource.Name(), c.Resource.Show(got), c.Resource.Show(c.After)))
		}
		out.Changed = append(out.Changed, c)
	}
	return afters, nil
}

// follow runs the changes' follow-ups (regenerate grub.cfg) on the running
// system, or notes them as left to do on another root.
func follow(h *hostroot.Root, out *Applied) error {
	var thens []resource.Then
	for _, c := range out.Changed {
		if c.Then != "" {
			thens = append(thens, c.Then)
		}
	}
	ran, err := rollback.RunThen(h, thens)
	if err == nil && !ran && len(thens) > 0 {
		out.Notes = append(out.Notes, rollback.NotRun(h, thens))
	}
	return err
}

// undo restores what the failed apply id changed and marks it aborted;
// where the restore fails too, the apply stays interrupted for rollback.
func undo(store *rollback.Store, id string, failed error) error {
	errs := multierror.Append(nil, failed)
	errs.ErrorFormat = rollback.OneLine
	rec, err := store.Read(id)
	if err != nil {
		return multierror.Append(errs, fmt.Errorf("the apply is left interrupted; run `ezedge-host rollback`: %w", err))
	}
	if _, err := store.Restore(rec, true); err != nil {
		// Not aborted: the journal stays an interrupted apply, so the next
		// command refuses to go on until a rollback has finished the job.
		return multierror.Append(errs, fmt.Errorf("restoring after the failure: %w; the apply is left interrupted: run `ezedge-host rollback`", err))
	}
	if j, err := store.Reopen(rec.ID); err == nil {
		if err := j.Abort(); err != nil {
			errs = multierror.Append(errs, err)
		}
		j.Close()
	}
	return fmt.Errorf("%w; every change it made was restored", errs)
}
