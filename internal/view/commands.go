package view

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/apply"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/firstboot"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/reboot"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/tryapply"
	"github.com/ezansiedgeai/ezedge-host/internal/health/baseline"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/rollback"
)

// Every command's --output json is one of these objects, each with
// format_version. Lists are [] when empty, never null; a value that may be
// absent is a pointer (null).

// Facts is `facts --output json`.
type Facts struct {
	FormatVersion int             `json:"format_version"`
	Root          string          `json:"root"`
	Facts         *platform.Facts `json:"facts"`
}

// NewFacts is the JSON of facts f of the root at dir.
func NewFacts(dir string, f *platform.Facts) Facts {
	return Facts{FormatVersion: FormatVersion, Root: dir, Facts: f}
}

// Pending is a try apply waiting for confirmation.
type Pending struct {
	ID       string    `json:"id"`
	Deadline time.Time `json:"deadline"`
	RevertBy string    `json:"revert_by"`
	// Overdue: the deadline passed and the revert did not run.
	Overdue bool `json:"overdue"`
}

// NewPending is the JSON of p at now.
func NewPending(p tryapply.Pending, now time.Time) Pending {
	return Pending{ID: p.ID, Deadline: p.Deadline, RevertBy: p.RevertBy(), Overdue: p.Overdue(now)}
}

// Apply is `apply --output json`.
type Apply struct {
	FormatVersion int          `json:"format_version"`
	SnapshotID    string       `json:"snapshot_id"`
	Changes       []JSONChange `json:"changes"`
	Notes         []string     `json:"notes"`
	Error         *string      `json:"error"`
	// PendingConfirmation is set for a try apply.
	PendingConfirmation *Pending `json:"pending_confirmation"`
	// RebootRequired is set when changes wait for the next boot.
	RebootRequired *Reboot `json:"reboot_required"`
	// Measured is set for apply --measure.
	Measured *Effect `json:"measured,omitempty"`
}

// Reboot is what needs a reboot: the changes that take effect only at the
// next boot (on the running system, every one since it booted).
type Reboot struct {
	Reasons []reboot.Reason `json:"reasons"`
}

// NewReboot is the JSON of reasons: null when there is none, so that a
// program tests reboot_required as a truth value.
func NewReboot(reasons []reboot.Reason) *Reboot {
	if len(reasons) == 0 {
		return nil
	}
	return &Reboot{Reasons: reasons}
}

// RebootText says, when anything needs a reboot, the line people look for
// and each reason under it (a task, a resource, shown as escape.Text).
func RebootText(w io.Writer, reasons []reboot.Reason) {
	switch len(reasons) {
	case 0:
		return
	case 1:
		escape.Fprintf(w, "Reboot required: 1 change takes effect only at the next boot:\n")
	default:
		escape.Fprintf(w, "Reboot required: %d changes take effect only at the next boot:\n", len(reasons))
	}
	for _, r := range reasons {
		escape.Fprintf(w, "  %s %s (%s)\n", r.Kind, r.Resource, r.Task)
	}
}

// NewApply is the JSON of an apply of p that did res (nil when it did not
// start) and ended with err.
func NewApply(p *plan.Plan, res *apply.Applied, err error, pending *Pending) Apply {
	a := Apply{FormatVersion: FormatVersion, Changes: []JSONChange{}, Notes: []string{}, Error: errText(err), PendingConfirmation: pending}
	if res != nil {
		a.SnapshotID, a.Changes, a.Notes = res.ID, JSONChanges(p, res.Changed), NonNil(res.Notes)
	}
	return a
}

// Rollback is `rollback --output json`.
type Rollback struct {
	FormatVersion int             `json:"format_version"`
	Rollbacks     []RollbackEntry `json:"rollbacks"`
	Error         *string         `json:"error"`
	// RebootRequired is set when changes wait for the next boot.
	RebootRequired *Reboot `json:"reboot_required"`
	// Measured is set for rollback --measure.
	Measured *Effect `json:"measured,omitempty"`
}

// RollbackEntry is what rolling back one apply did.
type RollbackEntry struct {
	ID        string   `json:"id"`
	Restored  []string `json:"restored"`
	LeftAlone []string `json:"left_alone"`
	Complete  bool     `json:"complete"`
	Notes     []string `json:"notes"`
}

// NewRollback is the JSON of a rollback.
func NewRollback(outs []*rollback.Outcome, err error) Rollback {
	r := Rollback{FormatVersion: FormatVersion, Rollbacks: []RollbackEntry{}, Error: errText(err)}
	for _, o := range outs {
		r.Rollbacks = append(r.Rollbacks, RollbackEntry{o.ID, NonNil(o.Restored), NonNil(o.LeftAlone), o.Complete, NonNil(o.Notes)})
	}
	return r
}

// RollbackText says what each rollback did.
func RollbackText(w io.Writer, outs []*rollback.Outcome) {
	for _, o := range outs {
		escape.Fprintf(w, "Apply %s: restored %d resources.\n", o.ID, len(o.Restored))
		for _, l := range o.LeftAlone {
			escape.Fprintf(w, "  left alone: %s\n", l)
		}
		for _, n := range o.Notes {
			escape.Fprintf(w, "  note: %s\n", n)
		}
	}
}

// History is `history --output json`.
type History struct {
	FormatVersion int            `json:"format_version"`
	Applies       []HistoryEntry `json:"applies"`
	Unreadable    []string       `json:"unreadable"`
	Warnings      []string       `json:"warnings"`
}

// HistoryEntry is one apply.
type HistoryEntry struct {
	ID       string          `json:"id"`
	Time     *time.Time      `json:"time"`
	Platform string          `json:"platform"`
	Board    string          `json:"board"`
	Changes  int             `json:"changes"`
	Status   rollback.Status `json:"status"`
	// Measured are its measured apply and rollbacks (history only).
	Measured []Effect `json:"measured,omitempty"`
}

func entry(r *rollback.Record) HistoryEntry {
	e := HistoryEntry{ID: r.ID, Platform: r.Platform, Board: r.Board, Changes: len(r.Items), Status: r.Status()}
	if !r.Time.IsZero() {
		t := r.Time
		e.Time = &t
	}
	return e
}

// NewHistory is the JSON of a store's history, with the measured effects
// of applies by id.
func NewHistory(hi *rollback.History, effects map[string][]*baseline.Effect) History {
	h := History{FormatVersion: FormatVersion, Applies: []HistoryEntry{}, Unreadable: NonNil(hi.Unreadable), Warnings: NonNil(hi.Warnings)}
	for _, r := range hi.Records {
		e := entry(r)
		for _, ef := range effects[r.ID] {
			e.Measured = append(e.Measured, NewEffect(ef))
		}
		h.Applies = append(h.Applies, e)
	}
	return h
}

// HistoryText lists the applies, one a line, each measured apply or
// rollback on a line below it.
func HistoryText(w io.Writer, hi *rollback.History, effects map[string][]*baseline.Effect) {
	if len(hi.Records) == 0 {
		escape.Fprintf(w, "No applies recorded.\n")
		return
	}
	t := escape.Table{}
	t.Row("ID\tTIME\tPLATFORM\tCHANGES\tSTATUS")
	for _, r := range hi.Records {
		at := "-"
		if !r.Time.IsZero() {
			at = r.Time.Format(time.RFC3339)
		}
		t.Row("%s\t%s\t%s\t%d\t%s", r.ID, at, r.Platform, len(r.Items), r.Status())
		for _, e := range effects[r.ID] {
			t.Under("    measured %s", EffectLine(e))
		}
	}
	t.Write(w)
}

// Status is `status --output json`.
type Status struct {
	FormatVersion       int       `json:"format_version"`
	PendingConfirmation []Pending `json:"pending_confirmation"`
	Interrupted         []string  `json:"interrupted"`
	InProgress          []string  `json:"in_progress"`
	// LockHolder is who changes the host now ("pid command"), or "".
	LockHolder string        `json:"lock_holder"`
	Unreadable []string      `json:"unreadable"`
	Warnings   []string      `json:"warnings"`
	Latest     *HistoryEntry `json:"latest"`
	// RebootRequired is set when the running system waits for a reboot
	// (null on another root).
	RebootRequired *Reboot `json:"reboot_required"`
}

// NewStatus is the state of the store: pending confirmations at now,
// interrupted and running applies, the latest apply; and what the running
// system waits for a reboot for.
func NewStatus(pending []tryapply.Pending, hi *rollback.History, reasons []reboot.Reason, now time.Time) Status {
	s := Status{FormatVersion: FormatVersion, PendingConfirmation: []Pending{}, Interrupted: []string{}, InProgress: []string{},
		LockHolder: hi.Holder, Unreadable: NonNil(hi.Unreadable), Warnings: NonNil(hi.Warnings), RebootRequired: NewReboot(reasons)}
	for _, p := range pending {
		s.PendingConfirmation = append(s.PendingConfirmation, NewPending(p, now))
	}
	for _, r := range hi.Records {
		e := entry(r)
		s.Latest = &e
		switch r.Status() {
		case rollback.Interrupted:
			s.Interrupted = append(s.Interrupted, r.ID)
		case rollback.InProgress:
			s.InProgress = append(s.InProgress, r.ID)
		}
	}
	return s
}

// StatusText says the same for a person.
func StatusText(w io.Writer, s Status) {
	for _, p := range s.PendingConfirmation {
		if p.Overdue {
			escape.Fprintf(w, "Apply %s was not confirmed by %s and its revert has not run (the process died or the host rebooted): the next apply, rollback or confirm rolls it back first, or run `ezedge-host rollback --to %s` now.\n",
				p.ID, p.Deadline.Local().Format(time.DateTime), p.ID)
			continue
		}
		escape.Fprintf(w, "Apply %s waits for confirmation: rolled back at %s (in %s) by %s unless `ezedge-host confirm` runs first.\n",
			p.ID, p.Deadline.Local().Format(time.DateTime), time.Until(p.Deadline).Round(time.Second), p.RevertBy)
	}
	for _, id := range s.InProgress {
		escape.Fprintf(w, "Apply %s is in progress (%s).\n", id, s.LockHolder)
	}
	for _, id := range s.Interrupted {
		escape.Fprintf(w, "Apply %s was interrupted: run `ezedge-host rollback`.\n", id)
	}
	for _, u := range append(append([]string{}, s.Unreadable...), s.Warnings...) {
		escape.Fprintf(w, "Warning: %s\n", u)
	}
	if s.Latest == nil {
		escape.Fprintf(w, "No applies recorded.\n")
	} else {
		escape.Fprintf(w, "Latest apply: %s, %d changes, %s.\n", s.Latest.ID, s.Latest.Changes, s.Latest.Status)
	}
	if s.RebootRequired != nil {
		RebootText(w, s.RebootRequired.Reasons)
	}
}

// Confirmed is `confirm --output json`.
type Confirmed struct {
	FormatVersion int      `json:"format_version"`
	Confirmed     []string `json:"confirmed"`
	// RebootRequired is set when changes wait for the next boot.
	RebootRequired *Reboot `json:"reboot_required"`
}

// ConfirmText says which applies stay, and what waits for a reboot.
func ConfirmText(w io.Writer, c Confirmed) {
	for _, id := range c.Confirmed {
		escape.Fprintf(w, "Confirmed apply %s: it stays.\n", id)
	}
	if c.RebootRequired != nil {
		RebootText(w, c.RebootRequired.Reasons)
	}
}

// FirstbootStatus is `firstboot status --output json`.
type FirstbootStatus struct {
	FormatVersion int               `json:"format_version"`
	Installed     bool              `json:"installed"`
	Ran           bool              `json:"ran"`
	Outcome       *firstboot.Report `json:"outcome"`
}

// NewFirstbootStatus is the JSON of s.
func NewFirstbootStatus(s firstboot.Status) FirstbootStatus {
	return FirstbootStatus{FormatVersion: FormatVersion, Installed: s.Installed, Ran: s.Ran, Outcome: s.Report}
}

// FirstbootText says the same for a person.
func FirstbootText(w io.Writer, s firstboot.Status) {
	switch {
	case !s.Installed && !s.Ran:
		escape.Fprintf(w, "First-boot provisioning is not installed.\n")
	case !s.Ran:
		escape.Fprintf(w, "Installed; it has not run yet (it runs on the first boot).\n")
	case s.Report == nil:
		escape.Fprintf(w, "It ran, but left no result file.\n")
	default:
		o := s.Report
		escape.Fprintf(w, "Ran at %s: %d changes, snapshot %s.\n", o.RanAt.Format(time.RFC3339), o.Changes, o.SnapshotID)
		if o.Error != "" {
			escape.Fprintf(w, "It failed and restored what it changed: %s\n", o.Error)
		}
	}
}

// FactsText says what ezedge-host decided about a host and why.
func FactsText(w io.Writer, f *platform.Facts) {
	escape.Fprintf(w, "platform:   %s\n", f.Platform)
	escape.Fprintf(w, "arch:       %s\n", f.Arch)
	if f.Userland != "" && f.Userland != f.Arch {
		// Raspberry Pi OS 32-bit: armhf programs on an arm64 kernel.
		escape.Fprintf(w, "userland:   %s\n", f.Userland)
	}
	if f.Board != "" {
		escape.Fprintf(w, "board:      %s\n", f.Board)
	}
	if f.OS != "" {
		escape.Fprintf(w, "os:         %s\n", f.OS)
	}
	if f.CPUVendor != "" {
		escape.Fprintf(w, "cpu vendor: %s\n", f.CPUVendor)
	}
	escape.Fprintf(w, "cores:      %d\n", f.Cores)
	escape.Fprintf(w, "memory:     %s", platform.HumanBytes(f.MemTotal))
	if f.HugePageSize > 0 {
		escape.Fprintf(w, " (huge page %s)", platform.HumanBytes(f.HugePageSize))
	}
	escape.Fprintf(w, "\n")
	govs := map[string][]string{}
	var order []string
	for _, c := range f.CPUs {
		if !c.HasCpufreq {
			continue
		}
		k := strings.Join(c.Governors, " ") + " (now " + c.Governor + ")"
		if _, ok := govs[k]; !ok {
			order = append(order, k)
		}
		govs[k] = append(govs[k], fmt.Sprint(c.ID))
	}
	if len(order) == 0 {
		escape.Fprintf(w, "cpufreq:    none\n")
	}
	for _, k := range order {
		escape.Fprintf(w, "cpufreq:    cpu %s: %s\n", compactIDs(govs[k]), k)
	}
	for _, b := range f.Block {
		var tags []string
		for _, t := range []struct {
			on   bool
			name string
		}{{b.NVMe, "nvme"}, {b.SDCard, "sd card"}, {b.Rotational, "rotational"}, {!b.Rotational, "non-rotational"}, {b.Removable, "removable"}, {b.Root, "root"}} {
			if t.on {
				tags = append(tags, t.name)
			}
		}
		escape.Fprintf(w, "disk:       %s (%s)\n", b.Name, strings.Join(tags, ", "))
	}
	for _, d := range f.BusDevices {
		if d.Name != "" {
			escape.Fprintf(w, "device:     %s\n", d.Summary())
		}
	}
	escape.Fprintf(w, "runtime:    %v\n\nWhy:\n", f.Runtime)

	for _, e := range f.Evidence {
		escape.Fprintf(w, "  %s\n", e)
	}
}

func compactIDs(ids []string) string {
	if len(ids) > 4 {
		return ids[0] + "-" + ids[len(ids)-1]
	}
	return strings.Join(ids, ",")
}

func errText(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}
