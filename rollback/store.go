// Package rollback is the snapshot store: a write-ahead journal of every
// prior value an apply replaces, the history of applies, and the restore.
//
// Each apply is one journal file, <root>/var/lib/ezedge-host/snapshots/<id>.jsonl
// (directory 0700, files 0600). A line is appended and fsynced before the
// change it describes is made, so a crash at any point leaves enough to put
// the host back.
package rollback

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/ezansiedgeai/ezedge-host/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/par"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// Dir is where the store lives inside the host root.
const Dir = "/var/lib/ezedge-host"

const snapDir = Dir + "/snapshots"

// FormatVersion is the journal format this build writes and reads.
const FormatVersion = 1

// Entry ops, in the order they appear in a journal.
const (
	opBegin      = "begin"
	opBefore     = "before"
	opAfter      = "after"
	opCommit     = "commit"
	opAbort      = "abort"
	opRestored   = "restored"
	opRolledBack = "rolled_back"
)

type line struct {
	Op            string       `json:"op"`
	FormatVersion int          `json:"format_version,omitempty"`
	ID            string       `json:"id,omitempty"`
	Time          string       `json:"time,omitempty"`
	Platform      string       `json:"platform,omitempty"`
	Board         string       `json:"board,omitempty"`
	I             int          `json:"i"`
	Task          string       `json:"task,omitempty"`
	Resource      string       `json:"resource,omitempty"`
	State         *tasks.State `json:"state,omitempty"`
	Desired       *tasks.State `json:"desired,omitempty"`
	Forced        bool         `json:"forced,omitempty"`
	Then          []string     `json:"then,omitempty"`
}

// Item is one resource an apply changed.
type Item struct {
	Task     string
	Resource string
	Before   tasks.State
	// After is what the resource held once written; nil when the apply
	// stopped between recording the prior value and reading the new one.
	After    *tasks.State
	Desired  *tasks.State
	Restored bool
	// Then must run after the item is restored, as after it was applied.
	Then []string
}

// Record is one apply as read back from its journal.
type Record struct {
	ID         string
	Time       time.Time
	Platform   string
	Board      string
	Items      []*Item
	Committed  bool
	Aborted    bool
	RolledBack bool
}

// Status says where a record stands.
func (r *Record) Status() string {
	switch {
	case r.Aborted:
		return "failed, restored"
	case r.RolledBack:
		return "rolled back"
	case !r.Committed:
		return "interrupted"
	}
	for _, it := range r.Items {
		if it.Restored {
			return "partly rolled back"
		}
	}
	return "applied"
}

// Store is the snapshot store of one host root.
type Store struct{ h *hostroot.Root }

// Open returns the store of h; it is created on the first write.
func Open(h *hostroot.Root) *Store { return &Store{h: h} }

func (s *Store) path(id string) string { return snapDir + "/" + id + ".jsonl" }

// Records reads every journal, oldest first. A journal that cannot be read
// is an error naming it: rollback must never act on half a record.
func (s *Store) Records() ([]*Record, error) {
	ents, err := s.h.ReadDir(snapDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if id, ok := strings.CutSuffix(e.Name(), ".jsonl"); ok {
			ids = append(ids, id)
		}
	}
	// A long history is most of a plan's time: decode journals side by side.
	out := make([]*Record, len(ids))
	if err := par.Do(len(ids), func(i int) (err error) {
		out[i], err = s.Read(ids[i])
		return err
	}); err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Read reads one journal.
func (s *Store) Read(id string) (*Record, error) {
	name := s.path(id)
	b, err := s.h.ReadFile(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("snapshot %s: no such apply", id)
		}
		return nil, fmt.Errorf("snapshot %s: %v", name, err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return nil, fmt.Errorf("snapshot %s:%d: corrupt: truncated last record", name, bytes.Count(b, []byte("\n"))+1)
	}
	r := &Record{ID: id}
	// One decoder for the whole journal: a decoder per line cost more than
	// the decoding on a long history.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	n, lines, prev := 0, 0, int64(0)
	for {
		n++
		var l line
		if err := dec.Decode(&l); err == io.EOF {
			n--
			break
		} else if err != nil {
			return nil, fmt.Errorf("snapshot %s:%d: corrupt: %v", name, n, err)
		}
		// Each record is one line of its own.
		off := dec.InputOffset()
		lines += bytes.Count(b[prev:off], []byte("\n"))
		prev = off
		if off >= int64(len(b)) || b[off] != '\n' || lines != n-1 {
			return nil, fmt.Errorf("snapshot %s:%d: corrupt: not one record per line", name, n)
		}
		if n == 1 && l.Op != opBegin {
			return nil, fmt.Errorf("snapshot %s:1: corrupt: does not start with a begin record", name)
		}
		bad := func(why string) error { return fmt.Errorf("snapshot %s:%d: corrupt: %s", name, n, why) }
		switch l.Op {
		case opBegin:
			if n != 1 {
				return nil, bad("second begin record")
			}
			if l.FormatVersion > FormatVersion {
				return nil, fmt.Errorf("snapshot %s: format version %d is newer than this build reads (%d); use a newer ezedge-host", name, l.FormatVersion, FormatVersion)
			}
			r.Time, _ = time.Parse(time.RFC3339, l.Time)
			r.Platform, r.Board = l.Platform, l.Board
		case opBefore:
			if l.I != len(r.Items) || l.State == nil || l.Resource == "" {
				return nil, bad("out-of-order before record")
			}
			if _, err := tasks.FromID(l.Resource); err != nil {
				return nil, bad(err.Error())
			}
			r.Items = append(r.Items, &Item{Task: l.Task, Resource: l.Resource, Before: *l.State, Then: l.Then})
		case opAfter, opRestored:
			if l.I < 0 || l.I >= len(r.Items) {
				return nil, bad("record for unknown item")
			}
			if l.Op == opAfter {
				r.Items[l.I].After, r.Items[l.I].Desired = l.State, l.Desired
			} else {
				r.Items[l.I].Restored = true
			}
		case opCommit:
			r.Committed = true
		case opAbort:
			r.Aborted = true
		case opRolledBack:
			r.RolledBack = true
		default:
			return nil, bad(fmt.Sprintf("unknown op %q", l.Op))
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("snapshot %s: corrupt: empty", name)
	}
	return r, nil
}

// Journal appends to one apply's journal; every append is durable before it
// returns.
type Journal struct {
	f  *os.File
	ID string
}

// Begin starts the journal of a new apply.
func (s *Store) Begin(platform, board string, now time.Time) (*Journal, error) {
	if err := s.ensure(); err != nil {
		return nil, err
	}
	base := now.UTC().Format("20060102T150405Z")
	id := base
	var f *os.File
	for n := 2; ; n++ {
		var err error
		f, err = s.h.OpenFile(s.path(id), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("snapshot store: %v", err)
		}
		id = fmt.Sprintf("%s-%d", base, n)
	}
	j := &Journal{f: f, ID: id}
	if err := j.append(line{Op: opBegin, FormatVersion: FormatVersion, ID: id, Time: now.UTC().Format(time.RFC3339), Platform: platform, Board: board}); err != nil {
		// An empty or torn journal would read as corrupt and block every
		// later command: none is better (nothing was changed yet).
		f.Close()
		s.Discard(id)
		return nil, err
	}
	// The new journal's name must survive a crash too.
	if err := s.h.SyncDir(snapDir); err != nil {
		j.Close()
		return nil, err
	}
	return j, nil
}

// Discard removes the journal of an apply that changed nothing.
func (s *Store) Discard(id string) error { return s.h.Remove(s.path(id)) }

// Reopen continues an existing journal (rollback progress).
func (s *Store) Reopen(id string) (*Journal, error) {
	f, err := s.h.OpenFile(s.path(id), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %v", id, err)
	}
	return &Journal{f: f, ID: id}, nil
}

// append writes lines with one write and one fsync.
func (j *Journal) append(ls ...line) error {
	var b []byte
	for _, l := range ls {
		lb, err := json.Marshal(l)
		if err != nil {
			return err
		}
		b = append(append(b, lb...), '\n')
	}
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("snapshot %s: %v", j.ID, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("snapshot %s: %v", j.ID, err)
	}
	return nil
}

// Prior is the state of one resource before an apply changes it.
type Prior struct {
	Task, Resource string
	State          tasks.State
	Then           []string
}

// Before records the prior state of every item, numbered from 0; it is
// durable when this returns, before any of them is changed.
func (j *Journal) Before(items []Prior) error {
	ls := make([]line, len(items))
	for i, it := range items {
		ls[i] = line{Op: opBefore, I: i, Task: it.Task, Resource: it.Resource, State: &items[i].State, Then: it.Then}
	}
	return j.append(ls...)
}

// Outcome of one item: what it held after the write, and what was asked.
type After struct {
	State, Desired tasks.State
}

// Commit records every item's outcome (numbered as in Before) and the
// commit, in one durable write. A journal without it is an interrupted
// apply, and rollback restores each item's prior state.
func (j *Journal) Commit(afters []After) error {
	ls := make([]line, 0, len(afters)+1)
	for i := range afters {
		ls = append(ls, line{Op: opAfter, I: i, State: &afters[i].State, Desired: &afters[i].Desired})
	}
	return j.append(append(ls, line{Op: opCommit})...)
}

// Restored records that item i holds its prior state again.
func (j *Journal) Restored(i int, forced bool) error {
	return j.append(line{Op: opRestored, I: i, Forced: forced})
}

func (j *Journal) Abort() error      { return j.append(line{Op: opAbort}) }
func (j *Journal) RolledBack() error { return j.append(line{Op: opRolledBack}) }
func (j *Journal) Close() error      { return j.f.Close() }

// Accepted returns, per resource and desired value, what the kernel actually
// accepted when it differed (a clamp), so the plan does not propose the same
// unreachable value forever.
func Accepted(recs []*Record) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, r := range recs {
		for _, it := range r.Items {
			if it.After == nil || it.Desired == nil {
				continue
			}
			want, got := tasks.Normalize(it.Desired.Data), tasks.Normalize(it.After.Data)
			if it.After.Exists && want != got && !strings.HasPrefix(it.Resource, "file:") {
				if out[it.Resource] == nil {
					out[it.Resource] = map[string]string{}
				}
				out[it.Resource][want] = got
			}
		}
	}
	return out
}
