package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/rollback"
)

// The profile is the desired state: a task that is off holds nothing on
// the host. What earlier applies made a task change, while it was on, is
// put back to what the first of them found (the snapshot's prior value),
// as changes of this plan like any other, under rollback's drift rule: a
// resource that no longer holds what ezedge-host last set there has been
// changed by someone else since, and is left alone with a warning.

// touched is one resource that applies still in force changed for a task.
type touched struct {
	res resource.Resource
	// first is the apply whose prior value is put back; before that
	// value; after what the latest apply left there.
	first  string
	before resource.State
	after  resource.State
	then   resource.Then
	// owners are the tasks the journal names for the resource.
	owners []string
	// last is where the latest apply touched it, in journal order: undone
	// last touched first, as rollback does.
	last int
}

// undoOff plans the undoing of what the tasks in off changed, from the
// records of applies in force (oldest first). A resource this plan already
// plans (a task that is on wants it, an owned file composed anew) is left
// to that change.
func (p *Plan) undoOff(h *hostroot.Root, store *rollback.Store, recs []*rollback.Record, off []string) error {
	if len(off) == 0 {
		return nil
	}
	planned := map[string]int{}
	for i, c := range p.Changes {
		planned[resource.ID(c.Resource)] = i
	}
	order, byID := touchedBy(recs)
	// The files whose kernel arguments applies set one by one.
	argFiles := map[string]bool{}
	for _, tc := range byID {
		if k, ok := tc.res.(*resource.KernelArg); ok {
			argFiles[k.File()] = true
		}
	}
	slices.SortStableFunc(order, func(a, b string) int { return byID[b].last - byID[a].last })
	for _, id := range order {
		tc := byID[id]
		mine := slices.DeleteFunc(slices.Clone(tc.owners), func(o string) bool { return !slices.Contains(off, o) })
		if len(mine) == 0 {
			continue
		}
		task := strings.Join(mine, ",")
		if i, ok := planned[id]; ok {
			if err := p.undoPlanned(&p.Changes[i], tc, id, task, mine, store); err != nil {
				return err
			}
			continue
		}
		if len(mine) != len(tc.owners) && argFiles[tc.res.Name()] && tc.res.Kind() == resource.KindFile {
			// A file created or readied for kernel arguments set one by
			// one (raspi-extra-cmdline, GRUB_CMDLINE_LINUX): each task's
			// arguments are undone on their own, and the file stays for
			// the tasks still on.
			continue
		}
		if len(mine) != len(tc.owners) {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: %s is off, but apply %s changed it together with %s, which is on: left as it is (`ezedge-host rollback --to %s` undoes that whole apply)", id, task, tc.first, strings.Join(slices.DeleteFunc(slices.Clone(tc.owners), func(o string) bool { return slices.Contains(off, o) }), ", "), tc.first))
			continue
		}
		cur, err := tc.res.Read(h)
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		if tc.res.Equal(cur, tc.before) {
			continue
		}
		if !tc.res.Equal(cur, tc.after) {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: %s is off, but this was changed by something else since ezedge-host set it (now %s, ezedge-host set %s): left alone; `ezedge-host rollback --to %s --force` restores %s", id, task, tc.res.Show(cur), tc.res.Show(tc.after), tc.first, tc.res.Show(tc.before)))
			continue
		}
		before := tc.before
		if err := store.LoadData(&before); err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		c, err := change(h, task, tc.res, before, nil, &cur, nil)
		if err != nil {
			return err
		}
		c.Then = tc.then
		c.RebootRequired = tc.res.Kind() == resource.KindKernelArg
		c.Notes = append(c.Notes, fmt.Sprintf("%s is off: back to what apply %s found", task, tc.first))
		p.Changes = append(p.Changes, c)
	}
	return nil
}

// undoPlanned takes off task's part (mine: the tasks off among the
// resource's owners) out of change c, which this plan already plans for
// the resource id that tc records.
func (p *Plan) undoPlanned(c *Change, tc *touched, id, task string, mine []string, store *rollback.Store) error {
	// A file composed from every task's part: the plan's change
	// takes the off task's part out; it is named for it, and a
	// file that goes takes the directories made for it along.
	if len(c.edits) > 0 && tc.before.Exists {
		// A file tasks still on edit too (fstab): their edits
		// are made again on what the first apply found, so the
		// off task's edit goes and theirs stay. A file changed
		// by someone else since is left as rollback's drift
		// rule leaves it.
		if !tc.res.Equal(c.Before, tc.after) {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: %s is off, but this was changed by something else since ezedge-host set it: left alone; `ezedge-host rollback --to %s --force` restores it", id, task, tc.first))
			return nil
		}
		before := tc.before
		if err := store.LoadData(&before); err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		after := before
		for _, e := range c.edits {
			after = e(after)
		}
		c.reaction(after)
		c.Task = strings.TrimPrefix(c.Task+","+task, ",")
		c.RebootRequired = c.reboot && c.Action != None
		c.Notes = append(c.Notes, fmt.Sprintf("%s is off: made again from what apply %s found, with the edits of the tasks still on", task, tc.first))
		return nil
	}
	if c.Action == None {
		return nil
	}
	for _, o := range mine {
		if !slices.Contains(strings.Split(c.Task, ","), o) {
			c.Task = strings.TrimPrefix(strings.TrimPrefix(c.Task, "(no task)")+","+o, ",")
		}
	}
	if !c.After.Exists && !tc.before.Exists {
		c.After.MissingDirs = tc.before.MissingDirs
	}
	return nil
}

// touchedBy gathers, from the records of applies in force (oldest first),
// every resource they changed and not yet restored: its value before the
// first of them, after the last, and every task that changed it, in the
// order found.
func touchedBy(recs []*rollback.Record) ([]string, map[string]*touched) {
	var order []string
	byID := map[string]*touched{}
	n := 0
	for _, r := range recs {
		if st := r.Status(); st != rollback.Applied && st != rollback.PartlyRolledBack {
			continue
		}
		for _, it := range r.Items {
			if it.Restored || it.After == nil {
				continue
			}
			id := it.ID()
			tc, seen := byID[id]
			if !seen {
				tc = &touched{res: it.Resource, first: r.ID, before: it.Before}
				byID[id] = tc
				order = append(order, id)
			}
			tc.after, tc.then = *it.After, it.Then
			n++
			tc.last = n
			for _, o := range strings.Split(it.Task, ",") {
				if !slices.Contains(tc.owners, o) {
					tc.owners = append(tc.owners, o)
				}
			}
		}
	}
	return order, byID
}
