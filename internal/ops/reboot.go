package ops

import (
	"slices"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/reboot"
	"github.com/ezansiedgeai/ezedge-host/internal/health/check"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/rollback"
)

// Which changes need a reboot, and how it is said (docs/commands.md,
// "Reboot required"):
//
//   - A change needs one when the plan marks it RebootRequired: a kernel
//     argument, and the resources a task reads only at boot (tmp.mount,
//     the journald drop-in, the root's fstab line). A restore by rollback
//     or a try apply's revert needs one when the apply's plan marked the
//     change so (the journal keeps the mark; a kernel argument in a
//     journal written before it did), or of a resource an apply marked
//     since this boot.
//   - On the running system (--root /) every use case that changes the
//     host records, before the change, the value such a resource had when
//     the system booted (reboot.Record, in /run), and afterwards reads the
//     host: the reasons are the resources no longer at their booted value,
//     whichever apply, rollback or revert put them there. Debian's
//     /run/reboot-required and .pkgs are kept in step (reboot.Record.Sync),
//     so a rollback in the same boot that undoes the reason takes the
//     notice away again.
//   - On any other root (an image, a copy) there is no boot to compare
//     with: the reasons are the changes the command itself made that take
//     effect at the next boot, and nothing is written in its /run.

// trackReboot records, before the changes add tracks are made, what the
// running system booted with (nothing elsewhere).
func (x *Host) trackReboot(add func(*reboot.Record)) {
	if !x.running {
		return
	}
	r, err := reboot.Load(x.Root)
	if err != nil {
		x.notify("warning: %v; it is started again", err)
	}
	add(r)
	if err := r.Save(x.Root); err != nil {
		x.notify("warning: what needs a reboot was not recorded: %v", err)
	}
}

// trackChanges tracks the changes of cs that take effect at the next
// boot.
func trackChanges(cs []plan.Change) func(*reboot.Record) {
	return func(r *reboot.Record) {
		for _, c := range cs {
			if c.RebootRequired && c.Action != plan.None {
				r.Track(c.Task, c.Resource, c.Before)
			}
		}
	}
}

// trackRestores tracks, with the value each holds now, the kernel
// arguments that restoring recs will change.
func (x *Host) trackRestores(recs []*rollback.Record) func(*reboot.Record) {
	return func(r *reboot.Record) {
		for _, rec := range recs {
			for _, it := range rec.Items {
				if it.Restored || !atBoot(it) {
					continue
				}
				if now, err := it.Resource.Read(x.Root); err == nil {
					r.Track(it.Task, it.Resource, now)
				}
			}
		}
	}
}

// trackApplies tracks the restores of the applies ids (reverts about to
// run).
func (x *Host) trackApplies(ids []string) {
	if !x.running || len(ids) == 0 {
		return
	}
	hi, err := x.Store.History()
	if err != nil {
		return // the revert reports it
	}
	var recs []*rollback.Record
	for _, r := range hi.Records {
		if slices.Contains(ids, r.ID) {
			recs = append(recs, r)
		}
	}
	x.trackReboot(x.trackRestores(recs))
}

// syncReboot is what follows changes: on the running system the reasons
// read from the host against its record, with Debian's notice kept in
// step; elsewhere made, what the command itself changed that takes effect
// at the next boot.
func (x *Host) syncReboot(made []reboot.Reason) []reboot.Reason {
	if !x.running {
		return made
	}
	r, err := reboot.Load(x.Root)
	if err != nil {
		x.notify("warning: %v", err)
	}
	reasons, err := r.Sync(x.Root)
	if err != nil {
		x.notify("warning: %s not kept in step: %v", reboot.FlagPath, err)
	}
	return reasons
}

// RebootRequired is what needs a reboot on the running system now: its
// record read against the host, changing nothing (status, check); nil
// on another root.
func (x *Host) RebootRequired() ([]reboot.Reason, error) {
	if !x.running {
		return nil, nil
	}
	r, err := reboot.Load(x.Root)
	return r.Reasons(x.Root), err
}

// madeByChanges are the reasons changes cs gave.
func madeByChanges(cs []plan.Change) []reboot.Reason {
	var out []reboot.Reason
	for _, c := range cs {
		if c.RebootRequired && c.Action != plan.None {
			out = addReason(out, reboot.Of(c.Task, c.Resource))
		}
	}
	return out
}

// madeByRestores are the reasons restoring the items ids of recs gave.
func madeByRestores(recs []*rollback.Record, ids []string) []reboot.Reason {
	var out []reboot.Reason
	for _, rec := range recs {
		for _, it := range rec.Items {
			if atBoot(it) && slices.Contains(ids, it.ID()) {
				out = addReason(out, reboot.Of(it.Task, it.Resource))
			}
		}
	}
	return out
}

// atBoot: restoring it takes effect at the next boot: a kernel argument,
// or what the apply's plan marked so (journals from before the mark was
// kept know only the first).
func atBoot(it *rollback.Item) bool {
	return it.Reboot || it.Resource.Kind() == resource.KindKernelArg
}

func addReason(rs []reboot.Reason, r reboot.Reason) []reboot.Reason {
	if slices.Contains(rs, r) {
		return rs
	}
	return append(rs, r)
}

// checkReboot is what check reports of a needed reboot on the running
// system (nil elsewhere): ezedge-host's reasons and Debian's notice, read
// without changing either.
func (x *Host) checkReboot() *check.Reboot {
	if !x.running {
		return nil
	}
	reasons, err := x.RebootRequired()
	rb := &check.Reboot{Err: err}
	for _, r := range reasons {
		rb.Changes = append(rb.Changes, r.String())
	}
	n, err := reboot.ReadNotice(x.Root)
	rb.Notice, rb.Packages = n.Required, n.Packages
	if rb.Err == nil {
		rb.Err = err
	}
	return rb
}
