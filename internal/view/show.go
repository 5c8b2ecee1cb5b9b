package view

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/term"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/firstboot"
	"github.com/ezansiedgeai/ezedge-host/internal/health/baseline"
	"github.com/ezansiedgeai/ezedge-host/internal/health/check"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/rollback"
)

// View is one command's output, chosen once: the format (--output),
// standard output, standard error for the warnings that go with a text
// view, and the root the command looks at (as JSON names it). Each method
// shows one command's result in that format; given the use case's error
// instead, it shows nothing and returns it, so that a command reads
// `return v.History(x.History())`.
type View struct {
	Format Format
	W      io.Writer
	Err    io.Writer
	Root   string
}

// Attach has x tell standard error what it does on its own (an overdue
// try apply reverted first) and, in a text view on a terminal unless
// quiet, its progress: progress is for a person watching, not for a log,
// a pipe or a program reading JSON.
func (v *View) Attach(x *ops.Host, quiet bool) {
	x.Notify = func(msg string) { escape.Fprintf(v.Err, "ezedge-host: %s\n", msg) }
	if f, ok := v.Err.(interface{ Fd() uintptr }); ok && v.Format == Text && !quiet && term.IsTerminal(int(f.Fd())) {
		x.Progress = func(p ops.Progress) { ProgressText(v.Err, p) }
	}
}

// Warn says on standard error what was left out of what a command read.
func (v *View) Warn(skipped []string) {
	for _, s := range skipped {
		escape.Fprintf(v.Err, "ezedge-host: warning: left out: %s\n", s)
	}
}

// Facts shows facts f of the root.
func (v *View) Facts(f *platform.Facts, err error) error {
	if err != nil {
		return err
	}
	return Show(v.W, v.Format, NewFacts(v.Root, f), func() { FactsText(v.W, f) })
}

// Plan shows p, with every file's diff in text when diff.
func (v *View) Plan(p *plan.Plan, diff bool) error {
	if v.Format == JSON {
		return PlanJSON(v.W, p)
	}
	PlanText(v.W, p, diff)
	return nil
}

// PlanSaved says (in text) that the plan shown was saved to path.
func (v *View) PlanSaved(path string) {
	if v.Format == Text {
		escape.Fprintf(v.W, "Saved to %s: `ezedge-host apply %s` applies exactly this plan.\n", path, path)
	}
}

// ApplyReview shows the plan an apply is about to make (in text, unless
// it is a saved plan's, already reviewed) and, when it changes anything,
// asks.
func (v *View) ApplyReview(saved bool, ask func() error) func(*plan.Plan) error {
	return func(p *plan.Plan) error {
		if v.Format == Text && !saved {
			PlanText(v.W, p, false)
		}
		if len(p.Pending()) == 0 {
			return nil
		}
		return ask()
	}
}

// Apply shows what an apply did (res) and how it ended (err, which it
// returns, a failure said to be one); within is a try apply's time to
// confirm.
func (v *View) Apply(res *ops.ApplyResult, err error, within time.Duration) error {
	switch {
	case res == nil:
		return err
	case v.Format == JSON:
		if jerr := WriteJSON(v.W, NewApplyResult(res, err, time.Now())); err == nil {
			err = jerr
		}
		return err
	case errors.As(err, new(ops.NotArmedError)):
		return err
	case err != nil:
		return fmt.Errorf("apply failed: %w", err)
	}
	ApplyResultText(v.W, res, within)
	return nil
}

// RollbackReview names (in text) each apply a rollback is about to
// restore, then asks.
func (v *View) RollbackReview(ask func() error) func([]*rollback.Record) error {
	return func(targets []*rollback.Record) error {
		for _, r := range targets {
			if v.Format == Text {
				escape.Fprintf(v.W, "Roll back apply %s (%s, %d changes, %s)\n", r.ID, r.Time.Local().Format(time.DateTime), len(r.Items), r.Status())
			}
		}
		return ask()
	}
}

// Rollback shows what a rollback did (res) and returns how it ended
// (err).
func (v *View) Rollback(res *ops.RollbackResult, err error) error {
	if res == nil {
		return err
	}
	if jerr := Show(v.W, v.Format, NewRollbackResult(res, err), func() { RollbackResultText(v.W, res) }); err == nil {
		err = jerr
	}
	return err
}

// History shows every apply; in text, what could not be read is warned
// about on standard error.
func (v *View) History(h *ops.HistoryResult, err error) error {
	if err != nil {
		return err
	}
	return Show(v.W, v.Format, NewHistory(h.History, h.Effects), func() {
		for _, u := range append(h.Unreadable, h.Warnings...) {
			escape.Fprintf(v.Err, "ezedge-host: warning: %s\n", u)
		}
		HistoryText(v.W, h.History, h.Effects)
	})
}

// Status shows what waits, now.
func (v *View) Status(s *ops.StatusResult, err error) error {
	if err != nil {
		return err
	}
	st := NewStatus(s.Pending, s.History, s.Reboot, time.Now())
	return Show(v.W, v.Format, st, func() { StatusText(v.W, st) })
}

// Confirmed shows the try applies a confirm kept.
func (v *View) Confirmed(res *ops.ConfirmResult, err error) error {
	if err != nil {
		return err
	}
	c := NewConfirm(res)
	return Show(v.W, v.Format, c, func() { ConfirmText(v.W, c) })
}

// Reverted says which try applies were rolled back at their deadline.
func (v *View) Reverted(ids []string) {
	for _, id := range ids {
		escape.Fprintf(v.W, "apply %s not confirmed in time: rolled back\n", id)
	}
}

// FirstbootInstalled says what firstboot install did to the image at
// root (as given), with the profile (origin) its first boot applies.
func (v *View) FirstbootInstalled(res *ops.FirstbootResult, origin profile.Origin, root string, err error) error {
	if err != nil {
		return err
	}
	FirstbootInstallText(v.W, res, origin, root)
	return nil
}

// FirstbootRan is the first-boot unit's line in the journal.
func (v *View) FirstbootRan(r firstboot.Report) {
	escape.Fprintf(v.W, "ezedge-host first boot: %d changes, snapshot %q\n", r.Changes, r.SnapshotID)
}

// FirstbootStatus shows whether first-boot provisioning ran.
func (v *View) FirstbootStatus(s firstboot.Status, err error) error {
	if err != nil {
		return err
	}
	return Show(v.W, v.Format, NewFirstbootStatus(s), func() { FirstbootText(v.W, s) })
}

// Baselines lists stored baselines; in text, those left out are warned
// about.
func (v *View) Baselines(recs []*baseline.Record, skipped []string, err error) error {
	if err != nil {
		return err
	}
	return Show(v.W, v.Format, BaselineList{FormatVersion: FormatVersion, Baselines: NonNil(recs), Skipped: NonNil(skipped)}, func() {
		v.Warn(skipped)
		BaselineListText(v.W, recs)
	})
}

// Baseline shows a baseline just measured and kept (r), compared with
// the previous one.
func (v *View) Baseline(r, prev *baseline.Record, skipped []string, err error) error {
	if err != nil {
		return err
	}
	return Show(v.W, v.Format, NewBaseline(r, prev, skipped), func() {
		v.Warn(skipped)
		BaselineText(v.W, r, prev)
		escape.Fprintf(v.W, "\nSaved as baseline %s.\n", r.ID)
	})
}

// Check shows a check's report; the Prometheus form goes to textfile
// instead when there is one (the node exporter's textfile).
func (v *View) Check(r *check.Report, textfile func([]byte) error) error {
	switch v.Format {
	case JSON:
		return WriteJSON(v.W, NewCheck(r))
	case JUnit:
		return CheckJUnit(v.W, r)
	case Prometheus:
		if textfile == nil {
			return CheckPrometheus(v.W, r)
		}
		var b bytes.Buffer
		if err := CheckPrometheus(&b, r); err != nil {
			return err
		}
		return textfile(b.Bytes())
	}
	CheckText(v.W, r)
	return nil
}

// Resources shows a mix sized for the root, in the forms asked for.
func (v *View) Resources(res *ops.ResourcesResult, err error) error {
	if err != nil {
		return err
	}
	r := NewResources(v.Root, res.Allocation, res.Podman, res.Forms)
	return Show(v.W, v.Format, r, func() { ResourcesText(v.W, r) })
}

// Profile shows the profile resolved for the root, each key with its
// provenance.
func (v *View) Profile(r *profile.Resolved, err error) error {
	if err != nil {
		return err
	}
	if v.Format == JSON {
		return WriteJSON(v.W, NewProfileResult(v.Root, r))
	}
	return ProfileText(v.W, r)
}
