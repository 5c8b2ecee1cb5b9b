// Package plan turns host facts and a profile's choices into an ordered
// list of changes: each task's wants, the owned files composed from the
// tasks' lines, the kernel command line, and what the store says (drift,
// interrupted applies). Plan and apply share Build: what the plan shows is
// exactly what apply does.
package plan

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/par"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/rollback"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// Action is what a change does to its resource.
type Action string

const (
	Create Action = "create"
	Update Action = "update"
	Delete Action = "delete"
	None   Action = "none"
)

// Change is one resource and the value the plan wants it to hold.
type Change struct {
	Task           string
	Resource       resource.Resource
	Before         resource.State
	After          resource.State
	Action         Action
	RebootRequired bool
	Notes          []string
	// Then must follow the change on a live host (regenerate grub.cfg
	// after a GRUB change), and its rollback.
	Then resource.Then
}

// Skipped is a task that will not run, and why.
type Skipped struct {
	Task   string
	Reason string
}

// Plan is the whole intended change of a host.
type Plan struct {
	Root  string
	Facts *platform.Facts
	// Profile is which profile the plan was made with, set by the command
	// that resolved it (profile.Source); shown with the plan and kept in a
	// saved plan.
	Profile profile.Origin
	Changes []Change
	Skipped []Skipped
	// Notes are per-task explanations shown with the plan.
	Notes []string
	// Warnings are things an operator must know: a file that wins over
	// ours, an interrupted apply.
	Warnings []string
	// Interrupted lists applies that stopped before they finished; no
	// apply runs until they are rolled back.
	Interrupted []string
	// InProgress lists applies running now (another process holds the
	// host lock); this plan may be out of date when they finish.
	InProgress []string
	// Unreadable lists journals that cannot be read; apply and rollback
	// refuse until each is moved out of the store.
	Unreadable []string
	// RebootPending lists kernel arguments that are configured but not
	// active yet. A pending reboot is not a pending change.
	RebootPending []string
	// Drift lists resources an apply set that something else has changed
	// since: rollback leaves them alone unless --force.
	Drift []string
	// ArgFiles are the files whose kernel arguments change, whole, as they
	// are and as apply leaves them (for plan --diff).
	ArgFiles []ArgFile
	// only are the tasks the plan is limited to (nil: all); otherArgs are
	// the kernel arguments of the tasks it leaves out.
	only      []string
	otherArgs []taskArg
}

// sections reads an owned file ezedge-host wrote (Header, then a "# task"
// line after a blank line and its lines, for each task) into each task's
// lines; a file it did not write has none.
func sections(data []byte) map[string][]string {
	out := map[string][]string{}
	rest, ok := strings.CutPrefix(string(data), tasks.Header)
	if !ok {
		return out
	}
	var cur string
	lines := strings.Split(strings.TrimSuffix(rest, "\n"), "\n")
	for i, l := range lines {
		if name, ok := strings.CutPrefix(l, "# "); ok && i > 0 && lines[i-1] == "" {
			if _, task := tasks.ByName(name); task {
				cur = name
				out[cur] = []string{}
				continue
			}
		}
		if cur != "" && !(l == "" && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "# ")) {
			out[cur] = append(out[cur], l)
		}
	}
	return out
}

// Pending lists the changes that would modify the host.
func (p *Plan) Pending() []Change {
	var out []Change
	for _, c := range p.Changes {
		if c.Action != None {
			out = append(out, c)
		}
	}
	return out
}

// Build computes the plan for the host at h with the profile's choices;
// store is its snapshot store (Open(h), or the one holding the lock).
func Build(h *hostroot.Root, store *rollback.Store, facts *platform.Facts, choices tasks.Choices) (*Plan, error) {
	return BuildOnly(h, store, facts, choices, nil)
}

// BuildOnly is Build for the named tasks only (nil: all), for one change
// at a time (`apply --only TASK`): every other task's resources, its part
// of an owned file and its kernel arguments stay as they are now, so the
// plan holds exactly the named tasks' changes.
func BuildOnly(h *hostroot.Root, store *rollback.Store, facts *platform.Facts, choices tasks.Choices, only []string) (*Plan, error) {
	p := &Plan{Root: h.Dir(), Facts: facts, only: only}
	recs := p.history(store)
	b := &builder{p: p, h: h, accepted: rollback.Accepted(recs), parts: map[string][]part{}}
	for _, t := range tasks.All() {
		if err := b.task(t, choices); err != nil {
			return nil, err
		}
	}
	if err := p.kernelArgs(h, b.kargs); err != nil {
		return nil, err
	}
	for _, name := range tasks.OwnedFiles {
		if err := b.ownedFile(name); err != nil {
			return nil, err
		}
	}
	if err := p.undoOff(h, store, recs, b.off); err != nil {
		return nil, err
	}
	p.previewArgs(h)
	read := map[string]resource.State{}
	for _, c := range p.Changes {
		read[resource.ID(c.Resource)] = c.Before
	}
	p.Drift = drift(h, recs, read)
	for _, r := range h.Refusals() {
		p.Warnings = append(p.Warnings, "not read: "+r)
	}
	return p, nil
}

// builder gathers a plan task by task: each task's changes go straight
// into the plan; its lines in owned files, its kernel arguments, and
// whether it is off are kept for the steps that take every task together.
type builder struct {
	p        *Plan
	h        *hostroot.Root
	accepted map[string]map[string]string
	parts    map[string][]part
	kargs    []taskArg
	off      []string
}

// part is one task's lines in an owned file.
type part struct {
	task  string
	lines []string
}

// named says whether the plan covers task (--only).
func (p *Plan) named(task string) bool { return p.only == nil || slices.Contains(p.only, task) }

// task plans one task under the profile's choices.
func (b *builder) task(t tasks.Task, choices tasks.Choices) error {
	p := b.p
	on, why := t.Default(p.Facts)
	if v, set := choices.Enabled(t); set {
		on, why = v, "off in the profile"
	}
	if !on {
		if p.named(t.Name()) {
			p.Skipped = append(p.Skipped, Skipped{t.Name(), why})
			b.off = append(b.off, t.Name())
		}
		return nil
	}
	in := t.Plan(p.Facts, choices.Options(t), choices)
	if !p.named(t.Name()) {
		// Its kernel arguments are looked at only to keep those the
		// GRUB drop-in holds now (grubDropIn).
		if in.Refuse == "" && in.Skip == "" {
			for _, a := range in.KernelArgs {
				p.otherArgs = append(p.otherArgs, taskArg{t.Name(), a})
			}
		}
		return nil
	}
	if in.Refuse != "" {
		return refused([]string{t.Name()}, in.RefuseFile, in.Refuse)
	}
	if in.Skip != "" {
		p.Skipped = append(p.Skipped, Skipped{t.Name(), in.Skip})
		return nil
	}
	for _, n := range in.Notes {
		p.Notes = append(p.Notes, t.Name()+": "+n)
	}
	for _, rp := range in.RebootPending {
		// The form the kernel arguments' entries have, which check
		// reads: "what (task): why".
		p.RebootPending = append(p.RebootPending, fmt.Sprintf("%s (%s): %s", rp.What, t.Name(), rp.Why))
	}
	for _, w := range in.Warnings {
		if !slices.Contains(p.Warnings, w) {
			p.Warnings = append(p.Warnings, w)
		}
	}
	cs := make([]Change, len(in.Wants))
	err := par.Do(len(in.Wants), func(i int) error {
		w := in.Wants[i]
		c, err := change(b.h, t.Name(), w.Resource, w.Desired, w.Edit, w.Current, b.accepted)
		c.Notes = append(c.Notes, w.Notes...)
		c.RebootRequired = w.Reboot && c.Action != None
		cs[i] = c
		return err
	})
	if err != nil {
		return err
	}
	p.Changes = append(p.Changes, cs...)
	for _, f := range in.Fragments {
		b.parts[f.File] = append(b.parts[f.File], part{t.Name(), f.Lines})
	}
	for _, a := range in.KernelArgs {
		b.kargs = append(b.kargs, taskArg{t.Name(), a})
	}
	return nil
}

// ownedFile composes the owned file name whole from the tasks' parts, in
// plan order, each under a "# task" line; with --only, the other tasks'
// parts are taken as the file holds them now.
func (b *builder) ownedFile(name string) error {
	p := b.p
	parts := b.parts[name]
	if p.only != nil {
		cur, err := resource.File(name).Read(b.h)
		if err != nil {
			return err
		}
		now := sections(cur.Data)
		parts = nil
		for _, t := range tasks.All() {
			if !p.named(t.Name()) {
				if lines, ok := now[t.Name()]; ok {
					parts = append(parts, part{t.Name(), lines})
				}
				continue
			}
			for _, pt := range b.parts[name] {
				if pt.task == t.Name() {
					parts = append(parts, pt)
				}
			}
		}
	}
	desired := resource.State{}
	var owners []string
	if len(parts) > 0 {
		var sb strings.Builder
		sb.WriteString(tasks.Header)
		for _, pt := range parts {
			owners = append(owners, pt.task)
			fmt.Fprintf(&sb, "\n# %s\n", pt.task)
			for _, l := range pt.lines {
				sb.WriteString(l + "\n")
			}
		}
		desired = resource.Content([]byte(sb.String()))
	}
	c, err := change(b.h, strings.Join(owners, ","), resource.File(name), desired, nil, nil, nil)
	if err != nil {
		return err
	}
	if c.Before.Exists && c.Action != None && !strings.HasPrefix(string(c.Before.Data), tasks.Header) {
		c.Notes = append(c.Notes, "replaces a file ezedge-host did not write; rollback puts it back")
	}
	if c.Task == "" {
		if c.Action == None {
			return nil
		}
		c.Task = "(no task)"
	}
	p.Changes = append(p.Changes, c)
	return nil
}

// history reads the store for the plan: interrupted applies (which block
// apply), applies running now, journals that cannot be read. A plan is
// read-only and needs no privilege: a store it may not read is a warning,
// not a failure.
func (p *Plan) history(store *rollback.Store) []*rollback.Record {
	hi, err := store.History()
	if err != nil {
		p.Warnings = append(p.Warnings, fmt.Sprintf("%v: interrupted applies and drift are not shown (run as root to see them)", err))
		return nil
	}
	p.Warnings = append(p.Warnings, hi.Warnings...)
	p.Unreadable = hi.Unreadable
	p.Warnings = append(p.Warnings, hi.Unreadable...)
	for _, r := range hi.Records {
		switch r.Status() {
		case rollback.Interrupted:
			p.Interrupted = append(p.Interrupted, r.ID)
			p.Warnings = append(p.Warnings, fmt.Sprintf("apply %s was interrupted before it finished; run `ezedge-host rollback` to restore the host", r.ID))
		case rollback.InProgress:
			p.InProgress = append(p.InProgress, r.ID)
			p.Warnings = append(p.Warnings, fmt.Sprintf("apply %s is in progress (held by %s): this plan may be out of date when it finishes", r.ID, hi.Holder))
		}
	}
	return hi.Records
}

// drift compares every resource that an apply still in force set with what
// it holds now; read holds the states this plan has already read.
func drift(h *hostroot.Root, recs []*rollback.Record, read map[string]resource.State) []string {
	var out []string
	seen := map[string]bool{}
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		if st := r.Status(); st != rollback.Applied && st != rollback.PartlyRolledBack {
			continue
		}
		for _, it := range r.Items {
			id := it.ID()
			if it.Restored || it.After == nil || seen[id] {
				continue
			}
			seen[id] = true
			res := it.Resource
			// A large file installed by an apply (first boot's binary) is
			// seen unchanged by its size and time, not read and hashed on
			// every plan.
			if f, isFile := res.(*resource.FileRes); isFile && f.Unchanged(h, *it.After) {
				continue
			}
			cur, ok := read[id]
			if !ok {
				var err error
				if cur, err = res.Read(h); err != nil {
					continue
				}
			}
			if res.Equal(cur, *it.After) {
				continue
			}
			if res.Equal(cur, it.Before) {
				out = append(out, fmt.Sprintf("%s: apply %s set %s, now %s again, its value before the apply (changed back by something else; rollback has nothing to undo there)", id, r.ID, res.Show(*it.After), res.Show(cur)))
				continue
			}
			out = append(out, fmt.Sprintf("%s: apply %s set %s, now %s (changed by something else; rollback leaves it alone unless --force)", id, r.ID, res.Show(*it.After), res.Show(cur)))
		}
	}
	sort.Strings(out)
	return out
}

// Same reports the first pending change of p that q, planned again, does
// not have exactly (resource, value before, value after), or "".
func Same(p, q *Plan) string {
	a, b := p.Pending(), q.Pending()
	for i := range max(len(a), len(b)) {
		if i >= len(a) {
			return resource.ID(b[i].Resource)
		}
		if i >= len(b) {
			return resource.ID(a[i].Resource)
		}
		x, y := a[i], b[i]
		if resource.ID(x.Resource) != resource.ID(y.Resource) || !x.Resource.Equal(x.Before, y.Before) || !x.Resource.Equal(x.After, y.After) {
			return resource.ID(x.Resource)
		}
	}
	return ""
}

// Summary is the plan's closing line.
func (p *Plan) Summary() string {
	return fmt.Sprintf("%d to change, %d already in place, %d skipped.", len(p.Pending()), len(p.Changes)-len(p.Pending()), len(p.Skipped))
}

// NewChange is the change that makes r hold desired on the host at h, with
// its action (none when r holds it already).
func NewChange(h *hostroot.Root, task string, r resource.Resource, desired resource.State) (Change, error) {
	return change(h, task, r, desired, nil, nil, nil)
}

// change compares what r holds (cur, or read now when nil) with desired,
// or with what edit makes of it.
func change(h *hostroot.Root, task string, r resource.Resource, desired resource.State, edit func(resource.State) resource.State, read *resource.State, accepted map[string]map[string]string) (Change, error) {
	var cur resource.State
	if read != nil {
		cur = *read
	} else {
		var err error
		if cur, err = r.Read(h); err != nil {
			return Change{}, fmt.Errorf("%s: %w", r.Name(), err)
		}
	}
	if edit != nil {
		desired = edit(cur)
	}
	c := Change{Task: task, Resource: r, Before: cur, After: desired, Action: None}
	if r.Equal(cur, desired) {
		return c, nil
	}
	if got, ok := accepted[resource.ID(r)][resource.Normalize(desired.Data)]; ok && got == resource.Normalize(cur.Data) {
		c.Notes = append(c.Notes, fmt.Sprintf("the kernel set it to the device's limit %s when %s was asked", got, resource.Normalize(desired.Data)))
		c.After = cur
		return c, nil
	}
	switch {
	case !cur.Exists:
		c.Action = Create
	case !desired.Exists:
		c.Action = Delete
	default:
		c.Action = Update
	}
	return c, nil
}

// Narrow keeps of p only task's changes to the resources ids names (with
// its notes and skip), for a command that writes one thing through the
// plan (`resources --write`). What blocks or concerns any apply (an
// interrupted apply, unreadable journals, warnings) stays.
func (p *Plan) Narrow(task string, ids []string) {
	var cs []Change
	for _, c := range p.Changes {
		if c.Task == task && slices.Contains(ids, resource.ID(c.Resource)) {
			cs = append(cs, c)
		}
	}
	var sk []Skipped
	for _, s := range p.Skipped {
		if s.Task == task {
			sk = append(sk, s)
		}
	}
	var notes []string
	for _, n := range p.Notes {
		if strings.HasPrefix(n, task+": ") {
			notes = append(notes, n)
		}
	}
	p.Changes, p.Skipped, p.Notes, p.RebootPending = cs, sk, notes, nil
}
