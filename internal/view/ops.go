package view

import (
	"io"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/firstboot"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
)

// NewApplyResult is the JSON of an apply that did res and ended with err.
func NewApplyResult(res *ops.ApplyResult, err error, now time.Time) Apply {
	var pj *Pending
	if res.Pending != nil {
		v := NewPending(*res.Pending, now)
		pj = &v
	}
	a := NewApply(res.Plan, res.Applied, err, pj)
	a.RebootRequired = NewReboot(res.Reboot)
	if res.Effect != nil {
		e := NewEffect(res.Effect)
		a.Measured = &e
	}
	return a
}

// ApplyResultText says what an apply did, and how to keep (a try apply,
// to confirm within) or undo it.
func ApplyResultText(w io.Writer, res *ops.ApplyResult, within time.Duration) {
	a := res.Applied
	if a.ID == "" {
		escape.Fprintf(w, "\nNothing to apply.\n")
		return
	}
	escape.Fprintf(w, "\nApplied %d changes. Snapshot %s.\n", len(a.Changed), a.ID)
	for _, n := range a.Notes {
		escape.Fprintf(w, "  note: %s\n", n)
	}
	if res.Effect != nil {
		EffectText(w, res.Effect)
	}
	if pd := res.Pending; pd != nil {
		escape.Fprintf(w, "Confirm within %s (by %s) with: ezedge-host confirm\nOtherwise it is rolled back then, by %s, even if this session is gone.\n",
			within, pd.Deadline.Local().Format(time.TimeOnly), pd.RevertBy())
	} else {
		escape.Fprintf(w, "Undo with: ezedge-host rollback --to %s\n", a.ID)
	}
	// Last, where people look.
	RebootText(w, res.Reboot)
}

// NewRollbackResult is the JSON of a rollback that did res and ended with
// err.
func NewRollbackResult(res *ops.RollbackResult, err error) Rollback {
	r := NewRollback(res.Outcomes, err)
	r.RebootRequired = NewReboot(res.Reboot)
	if res.Effect != nil {
		e := NewEffect(res.Effect)
		r.Measured = &e
	}
	return r
}

// RollbackResultText says what a rollback did.
func RollbackResultText(w io.Writer, res *ops.RollbackResult) {
	RollbackText(w, res.Outcomes)
	if res.Effect != nil {
		EffectText(w, res.Effect)
	}
	RebootText(w, res.Reboot)
}

// NewConfirm is the JSON of what confirm did.
func NewConfirm(res *ops.ConfirmResult) Confirmed {
	return Confirmed{FormatVersion: FormatVersion, Confirmed: NonNil(res.Confirmed), RebootRequired: NewReboot(res.Reboot)}
}

// FirstbootInstallText says what firstboot install changed in the image at
// root, with the profile its first boot applies and what it sets.
func FirstbootInstallText(w io.Writer, res *ops.FirstbootResult, prof profile.Origin, root string) {
	for _, c := range res.Changed {
		escape.Fprintf(w, "  %s %s\n", c.Action, Describe(c.Resource))
	}
	if len(res.IDs) == 0 {
		escape.Fprintf(w, "First-boot provisioning is already installed.\n")
		return
	}
	escape.Fprintf(w, "Installed: %s applies the image's %s (under its %s) once, on the first boot of this image (platform %s).\n", firstboot.UnitName, profile.DefaultPath, profile.DropInDir, res.Facts.Platform)
	escape.Fprintf(w, "Profile: %s\n", prof)
	ProfileSettingsText(w, prof)
	escape.Fprintf(w, "Undo with: ezedge-host rollback --root %s --to %s\n", root, res.IDs[0])
}
