package ops

import (
	"fmt"
	"slices"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/reboot"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/tryapply"
	"github.com/ezansiedgeai/ezedge-host/rollback"
)

// ConfirmResult is what a confirm did.
type ConfirmResult struct {
	// Confirmed are the applies kept.
	Confirmed []string
	// Reboot are the changes that take effect only at the next boot
	// (reboot.go): on the running system every one since it booted,
	// elsewhere the kernel arguments the confirmed applies set.
	Reboot []reboot.Reason
}

// Confirm keeps try apply id (""): every one waiting) before its revert.
// One whose deadline has passed is rolled back instead, and said so.
func (x *Host) Confirm(id string, lockTimeout time.Duration) (out *ConfirmResult, err error) {
	if err := x.Root.RequirePrivilege("confirm"); err != nil {
		return nil, err
	}
	unlock, reverted, err := x.Lock(lockTimeout, "ezedge-host confirm")
	if err != nil {
		return nil, err
	}
	defer unlock()
	// The overdue applies the lock reverted may need a reboot, whatever
	// happens next.
	var made []reboot.Reason
	defer func() {
		reasons := x.syncReboot(made)
		if out != nil {
			out.Reboot = reasons
		}
	}()
	for _, rv := range reverted {
		if id == "" || rv.ID == id {
			return nil, fmt.Errorf("apply %s was not confirmed by its deadline and has been rolled back; apply it again", rv.ID)
		}
	}
	done, err := tryapply.Confirm(x.Root, id)
	if err != nil {
		return nil, err
	}
	if len(done) == 0 {
		return nil, fmt.Errorf("no apply is waiting for confirmation")
	}
	if hi, err := x.Store.History(); err == nil {
		for _, r := range hi.Records {
			if slices.Contains(done, r.ID) {
				var ids []string
				for _, it := range r.Items {
					ids = append(ids, it.ID())
				}
				for _, m := range madeByRestores([]*rollback.Record{r}, ids) {
					made = addReason(made, m)
				}
			}
		}
	}
	return &ConfirmResult{Confirmed: done}, nil
}

// RevertIfUnconfirmed is what a try apply schedules: at its deadline (at,
// waited for first; zero: now), the apply id is rolled back unless it was
// confirmed meanwhile. It returns the applies rolled back (an overdue one
// is reverted by the lock too).
func (x *Host) RevertIfUnconfirmed(id string, at time.Time) ([]string, error) {
	if !rollback.ValidID(id) {
		return nil, fmt.Errorf("%q is not an apply id", id)
	}
	if !at.IsZero() {
		time.Sleep(at.Sub(x.now()))
	}
	// Taking the lock reverts every overdue apply, this one too.
	unlock, reverted, err := x.Lock(time.Minute, "ezedge-host revert-if-unconfirmed")
	if err != nil {
		return nil, err
	}
	defer unlock()
	var ids []string
	for _, rv := range reverted {
		ids = append(ids, rv.ID)
	}
	defer x.syncReboot(nil)
	if !tryapply.IsPending(x.Root, id) {
		return ids, nil
	}
	// Not due by this clock yet (the timer fired early): revert it all
	// the same, it was scheduled for now.
	x.trackApplies([]string{id})
	if rv := tryapply.Revert(x.Store, x.Root, id); rv.Err != nil {
		return ids, rv.Err
	}
	return append(ids, id), nil
}

// RevertPending is what the boot unit runs after a reboot: every try apply
// whose deadline passed is reverted (by the lock), the timers of the
// others armed again for self.
func (x *Host) RevertPending(self string) error {
	unlock, _, err := x.Lock(time.Minute, "ezedge-host revert-pending")
	if err != nil {
		return err
	}
	defer unlock()
	x.syncReboot(nil)
	return tryapply.Rearm(x.Root, self, x.now())
}
