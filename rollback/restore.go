package rollback

import (
	"fmt"
	"strings"

	"github.com/hashicorp/go-multierror"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
)

// Outcome is what rolling back one apply did.
type Outcome struct {
	ID       string
	Restored []string
	// LeftAlone names resources that no longer hold what the apply set
	// (drift) and were not touched, with why.
	LeftAlone []string
	Complete  bool
	Notes     []string
}

// Targets picks the applies a rollback undoes, newest first: the most recent
// one not yet rolled back, or with to, every such apply back to and
// including it.
func Targets(recs []*Record, to string) ([]*Record, error) {
	if to == "" {
		for i := len(recs) - 1; i >= 0; i-- {
			if recs[i].Open() {
				return []*Record{recs[i]}, nil
			}
		}
		return nil, fmt.Errorf("nothing to roll back: no apply that is not rolled back already")
	}
	var out []*Record
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		if r.Open() {
			out = append(out, r)
		}
		if r.ID == to {
			if !r.Open() {
				return nil, fmt.Errorf("apply %s is %s already", to, r.Status())
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("no apply with id %s (see ezedge-host history)", to)
}

// Restore puts back the prior state of every resource one apply changed,
// newest change first. A resource that holds neither what the apply set nor
// its prior value has drifted: it is left alone unless force.
//
// It can be cut short at any point and run again: each item's restore is
// announced in the journal before it starts (an item found announced but
// not finished is this rollback's own half-done work, never drift), and
// writing a prior state is idempotent and cleans up what an interrupted
// write left (a temporary file, a directory made for a new file).
func (s *Store) Restore(r *Record, force bool) (*Outcome, error) {
	out := &Outcome{ID: r.ID}
	if r.NoBegin {
		if err := s.closeEmpty(r.ID); err != nil {
			return out, err
		}
		out.Complete = true
		return out, nil
	}
	j, err := s.Reopen(r.ID)
	if err != nil {
		return out, err
	}
	defer j.Close()
	var errs *multierror.Error
	var thens []resource.Then
	for i := len(r.Items) - 1; i >= 0; i-- {
		it := r.Items[i]
		if it.Restored {
			continue
		}
		res := it.Resource
		cur, err := res.Read(s.h)
		if err != nil {
			errs = appendErr(errs, fmt.Errorf("%s: %w", it.ID(), err))
			continue
		}
		forced := false
		if !it.Restoring && it.After != nil && !res.Equal(cur, it.Before) && !res.Equal(cur, *it.After) {
			if !force {
				out.LeftAlone = append(out.LeftAlone, fmt.Sprintf("%s: changed since the apply (now %s, apply set %s); --force restores %s",
					it.ID(), res.Show(cur), res.Show(*it.After), res.Show(it.Before)))
				continue
			}
			forced = true
		}
		if !it.Restoring {
			if err := j.Restoring(i); err != nil {
				return out, appendErr(errs, err).ErrorOrNil()
			}
		}
		before := it.Before
		if err := s.LoadData(&before); err != nil {
			errs = appendErr(errs, fmt.Errorf("%s: restore: %w", it.ID(), err))
			continue
		}
		if err := writeVerified(s.h, res, before); err != nil {
			errs = appendErr(errs, fmt.Errorf("%s: restore: %w", it.ID(), err))
			continue
		}
		if err := j.Restored(i, forced); err != nil {
			return out, appendErr(errs, err).ErrorOrNil()
		}
		out.Restored = append(out.Restored, it.ID())
		if it.Then != "" {
			thens = append(thens, it.Then)
		}
	}
	if ran, err := RunThen(s.h, thens); err != nil {
		errs = appendErr(errs, err)
	} else if !ran && len(thens) > 0 {
		out.Notes = append(out.Notes, NotRun(s.h, thens))
	}
	if errs.ErrorOrNil() == nil && len(out.LeftAlone) == 0 {
		if err := j.RolledBack(); err != nil {
			return out, err
		}
		out.Complete = true
	}
	return out, errs.ErrorOrNil()
}

// writeVerified writes st and reads it back, so a restore that the kernel
// or file system did not take is an error, not a silent difference.
func writeVerified(h *hostroot.Root, res resource.Resource, st resource.State) error {
	if err := res.Write(h, st); err != nil {
		return err
	}
	got, err := res.Read(h)
	if err != nil {
		return err
	}
	if !res.Equal(got, st) {
		return fmt.Errorf("reads back %s, want %s", res.Show(got), res.Show(st))
	}
	return nil
}

// NotRun is the note for follow-ups left to do on a root that is not the
// running system.
func NotRun(h *hostroot.Root, thens []resource.Then) string {
	var cmds []string
	for _, t := range dedupe(thens) {
		if c, err := t.Command(h); err == nil {
			cmds = append(cmds, strings.Join(c, " "))
		} else {
			cmds = append(cmds, string(t))
		}
	}
	return fmt.Sprintf("not run on this root (not the running system): %s; run it on the host before it reboots", strings.Join(cmds, "; "))
}
