// Package ops holds ezedge-host's use cases: apply, rollback, confirm and
// the try-apply revert, first boot, baseline. Each takes a request and
// returns a typed result; the CLI only parses flags into requests, shows
// results and maps errors to exit codes, so the steps that keep a host
// safe (the lock, reverting overdue try applies, planning again under the
// lock, arming the revert or undoing the apply) are tested here, in
// process.
package ops

import (
	"fmt"
	"maps"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/reboot"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/tryapply"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/rollback"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// Host is a root opened for the use cases, with its snapshot store.
type Host struct {
	Root  *hostroot.Root
	Store *rollback.Store
	// As is the platform when the root cannot tell (--platform; "" to
	// detect it).
	As platform.Kind
	// Notify is told what happens on the way that the caller did not ask
	// for (an overdue try apply reverted first); nil says nothing.
	Notify func(msg string)
	// Progress is told of each step of a long use case as it starts
	// (measuring, applying, installing); nil says nothing.
	Progress func(Progress)
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// running: the root is the running system, the one whose /run says
	// what needs a reboot (reboot.go).
	running bool
}

// Open opens the root at dir.
func Open(dir string, as platform.Kind) (*Host, error) {
	h, err := hostroot.Open(dir)
	if err != nil {
		return nil, err
	}
	return &Host{Root: h, Store: rollback.Open(h), As: as, running: reboot.Live(h)}, nil
}

// Close releases the root.
func (x *Host) Close() { x.Root.Close() }

func (x *Host) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

func (x *Host) notify(format string, args ...any) {
	if x.Notify != nil {
		x.Notify(fmt.Sprintf(format, args...))
	}
}

// Facts reads the host with what every task observes.
func (x *Host) Facts() (*platform.Facts, error) {
	return platform.DetectAs(x.Root, x.As, tasks.Observations())
}

// Lock takes the host lock for what, the first step of every use case that
// changes the host; then it reverts every try apply whose deadline has
// passed without its revert having run (the process died, the device
// rebooted), and clears what crashes left in the store. Every caller ends
// with syncReboot: what it and those reverts changed may need a reboot.
func (x *Host) Lock(timeout time.Duration, what string) (unlock func(), reverted []tryapply.Reverted, err error) {
	unlock, err = x.Store.Lock(timeout, what)
	if err != nil {
		return nil, nil, err
	}
	var overdue []string
	for _, p := range tryapply.Overdue(x.Root, x.now()) {
		overdue = append(overdue, p.ID)
	}
	x.trackApplies(overdue)
	revs, err := tryapply.RevertOverdue(x.Store, x.Root, x.now())
	if len(overdue) > 0 {
		// What the reverts changed is said now, under the lock: the
		// caller may stop before its own sync (a plan refused, a
		// question answered no), and the notice must not go stale.
		x.syncReboot(nil)
	}
	if err != nil {
		unlock()
		return nil, nil, err
	}
	for _, rv := range revs {
		if rv.Err != nil {
			unlock()
			return nil, revs, fmt.Errorf("apply %s was not confirmed in time and its revert had not run; reverting it now failed: %w", rv.ID, rv.Err)
		}
		n := 0
		for _, o := range rv.Outcomes {
			n += len(o.Restored)
		}
		x.notify("apply %s was not confirmed in time and its revert had not run: rolled it back first (%d resources restored)", rv.ID, n)
	}
	if hi, err := x.Store.History(); err == nil {
		x.Store.Tidy(hi)
	}
	return unlock, revs, nil
}

// Request is what a use case that plans plans with.
type Request struct {
	// Profile is the profile, resolved for this root (Host.Profile).
	Profile *profile.Resolved
	// Extra, when set, makes the choices planned with from the profile's
	// (resources --write: the container-resources task for one mix, its
	// other options as the profile sets them).
	Extra func(tasks.Choices) tasks.Choices
	// Only narrows the plan to these tasks (nil: all).
	Only []string
	// Narrow, when set, cuts the plan down to what one command writes.
	Narrow func(*plan.Plan) error
	// Check, when set, refuses the choices before they are planned,
	// saying where a value refused came from (resources --write: a
	// placement entry, by its flag or its profile line).
	Check func(f *platform.Facts, c tasks.Choices, prof *profile.Resolved) error
}

// Profile resolves src for this root.
func (x *Host) Profile(src profile.Source) (*profile.Resolved, error) { return src.Resolve(x.Root) }

// Plan reads the host afresh and plans it.
func (x *Host) Plan(r Request) (*plan.Plan, error) {
	f, err := x.Facts()
	if err != nil {
		return nil, err
	}
	var choices tasks.Choices
	if r.Profile != nil {
		choices = r.Profile.Choices
	}
	if r.Extra != nil {
		merged := tasks.Choices{}
		maps.Copy(merged, choices)
		choices = r.Extra(merged)
	}
	if r.Check != nil {
		if err := r.Check(f, choices, r.Profile); err != nil {
			return nil, err
		}
	}
	p, err := plan.BuildOnly(x.Root, x.Store, f, choices, r.Only)
	if err != nil {
		return nil, err
	}
	if r.Profile != nil {
		p.Profile = r.Profile.Origin
	}
	if r.Narrow != nil {
		if err := r.Narrow(p); err != nil {
			return nil, err
		}
	}
	return p, nil
}
