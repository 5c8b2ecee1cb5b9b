// Package rollback is the snapshot store: a write-ahead journal of every
// prior value an apply replaces, the history of applies, and the restore.
//
// Each apply is one journal file, <root>/var/lib/ezedge-host/snapshots/<id>.jsonl
// (directories 0700, files 0600, the running user's own). The journal is
// created whole, with every prior value, before anything is changed (a
// temporary file renamed into place), and each later record is appended
// and fsynced before what follows it, so a crash at any point leaves
// enough to put the host back. Contents over 64 KiB (a binary first boot
// installs) are kept once, by SHA-256, in snapshots/blobs/.
package rollback

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/par"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/internal/store/lock"
	"github.com/ezansiedgeai/ezedge-host/internal/store/statedir"
)

const (
	snapSub = "snapshots"
	blobSub = "snapshots/blobs"
)

var (
	snapDir = statedir.Path(snapSub)
	blobDir = statedir.Path(blobSub)
)

const (
	// inlineMax: larger contents go to a blob.
	inlineMax = 64 << 10
	// maxJournal bounds a journal read; with large contents out of line a
	// real one is a few KiB.
	maxJournal = 32 << 20
	// maxBlob bounds a blob (the largest file resource is a binary).
	maxBlob = 512 << 20
)

// Store is the snapshot store of one host root.
type Store struct {
	h *hostroot.Root
	// locked: this process holds the host lock, so an uncommitted journal
	// is an interrupted apply, not one in progress.
	locked bool
}

// Open returns the store of h; it is created on the first write.
func Open(h *hostroot.Root) *Store { return &Store{h: h} }

// Lock takes the host lock for cmd (see package lock) and remembers that
// this process holds it.
func (s *Store) Lock(timeout time.Duration, cmd string) (unlock func(), err error) {
	l, err := lock.Take(s.h, timeout, cmd)
	if err != nil {
		return nil, err
	}
	s.locked = true
	return func() { s.locked = false; l.Release() }, nil
}

func (s *Store) path(id string) string { return snapDir + "/" + id + ".jsonl" }

// History is every apply recorded in a store.
type History struct {
	// Records are the journals that could be read, oldest first.
	Records []*Record
	// Unreadable says, for each journal that could not be read, why and
	// what to do; apply and rollback refuse while there is one.
	Unreadable []string
	// Warnings: the store is too open (fixed by the next change).
	Warnings []string
	// Holder is who holds the host lock now ("pid command"), if anyone.
	Holder string
}

// Err is the refusal of a command that changes the host while a journal
// cannot be read, or nil.
func (hi *History) Err() error {
	if len(hi.Unreadable) == 0 {
		return nil
	}
	return errors.New(strings.Join(hi.Unreadable, "\n"))
}

// History reads every journal. A journal that is cut short reads as an
// interrupted apply; one that is damaged elsewhere is listed as unreadable
// (with how to recover), never half-acted on. Under the lock (a command
// that acts on the journals) the store must be this user's own, and so
// must each journal: one planted by someone else is unreadable. A command
// that only reads is told about such a store instead.
func (s *Store) History() (*History, error) {
	hi := &History{}
	if s.locked {
		if err := statedir.Ensure(s.h, snapSub); err != nil {
			return nil, err
		}
	} else {
		warn, err := statedir.Check(s.h, snapSub)
		if err != nil {
			return nil, err
		}
		hi.Warnings = warn
	}
	ents, err := s.h.ReadDir(snapDir)
	if errors.Is(err, fs.ErrNotExist) {
		return hi, nil
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot store: %w", err)
	}
	var ids []string
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".jsonl")
		if !ok || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if !ValidID(id) {
			hi.Unreadable = append(hi.Unreadable, fmt.Sprintf("snapshot %s/%s: not a journal ezedge-host writes (its name is not an apply id); move it out of %s", snapDir, e.Name(), snapDir))
			continue
		}
		ids = append(ids, id)
	}
	if !s.locked {
		if who, held, _ := lock.Holder(s.h); held {
			hi.Holder = who
		}
	}
	// A long history is most of a plan's time: decode journals side by side.
	out := make([]*Record, len(ids))
	errs := make([]error, len(ids))
	par.Do(len(ids), func(i int) error {
		out[i], errs[i] = s.Read(ids[i])
		return nil
	})
	for i, r := range out {
		if errs[i] != nil {
			hi.Unreadable = append(hi.Unreadable, fmt.Sprintf("%v; move it out of %s to go on (keep it: it lists the prior values of what that apply changed)", errs[i], snapDir))
			continue
		}
		r.InProgress = hi.Holder != "" && !r.Committed
		hi.Records = append(hi.Records, r)
	}
	slices.SortStableFunc(hi.Records, func(a, b *Record) int { return strings.Compare(a.ID, b.ID) })
	return hi, nil
}

// Read reads one journal.
func (s *Store) Read(id string) (*Record, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("%q is not an apply id (see ezedge-host history)", id)
	}
	name := s.path(id)
	read := s.h.ReadPrivate
	if !s.locked {
		read = s.h.ReadFileLimit
	}
	b, err := read(name, maxJournal)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("snapshot %s: no such apply", id)
		}
		return nil, fmt.Errorf("snapshot %w", err)
	}
	return parse(name, id, b)
}

// LoadData fills in the bytes of a state kept out of line, checking them
// against their digest.
func (s *Store) LoadData(st *resource.State) error {
	if st.Digest == "" || st.Data != nil {
		return nil
	}
	b, err := s.h.ReadPrivate(blobDir+"/"+st.Digest, maxBlob)
	if err != nil {
		return fmt.Errorf("snapshot contents %s: %w", st.Digest, err)
	}
	if resource.Digest(b) != st.Digest {
		return fmt.Errorf("snapshot contents %s: damaged (digest differs)", st.Digest)
	}
	st.Data = b
	return nil
}

// outOfLine moves large contents into a blob and returns the state as
// journaled.
func (s *Store) outOfLine(st resource.State) (resource.State, error) {
	if len(st.Data) <= inlineMax {
		return st, nil
	}
	d := resource.Digest(st.Data)
	name := blobDir + "/" + d
	if fi, err := s.h.Lstat(name); err != nil || !fi.Mode().IsRegular() || fi.Size() != int64(len(st.Data)) {
		if err := statedir.Ensure(s.h, snapSub, blobSub); err != nil {
			return st, err
		}
		if err := s.h.WriteAtomic(name, st.Data, 0o600, os.Geteuid(), os.Getegid()); err != nil {
			return st, fmt.Errorf("snapshot store: %w", err)
		}
	}
	st.Size, st.Digest, st.Data = int64(len(st.Data)), d, nil
	return st, nil
}

// Journal appends to one apply's journal; every append is durable before it
// returns.
type Journal struct {
	f  *hostroot.File
	ID string
}

// Meta is what a journal's first record says of the apply.
type Meta struct {
	Platform, Board string
}

// Prior is the state of one resource before an apply changes it.
type Prior struct {
	Task     string
	Resource resource.Resource
	State    resource.State
	Then     resource.Then
	// Reboot: the change takes effect at the next boot (Item.Reboot).
	Reboot bool
}

// Begin creates the journal of a new apply with the prior state of every
// item, numbered from 0, in one atomic step: until it returns there is no
// journal at all, after it every prior state is durable, and only then is
// anything changed.
func (s *Store) Begin(m Meta, items []Prior, now time.Time) (*Journal, error) {
	if err := statedir.Ensure(s.h, snapSub); err != nil {
		return nil, err
	}
	base := now.UTC().Format("20060102T150405Z")
	id := base
	for n := 2; ; n++ {
		if _, err := s.h.Lstat(s.path(id)); errors.Is(err, fs.ErrNotExist) {
			break
		}
		id = fmt.Sprintf("%s-%d", base, n)
	}
	ls := []line{{Op: opBegin, FormatVersion: FormatVersion, ID: id, Time: now.UTC().Format(time.RFC3339), Platform: m.Platform, Board: m.Board}}
	for i, it := range items {
		st, err := s.outOfLine(it.State)
		if err != nil {
			return nil, err
		}
		ls = append(ls, line{Op: opBefore, I: i, Task: it.Task, Resource: resource.ID(it.Resource), State: &st, Then: thenJSON(it.Then), Reboot: it.Reboot})
	}
	b, err := encode(ls)
	if err != nil {
		return nil, err
	}
	if err := s.h.WriteAtomic(s.path(id), b, 0o600, os.Geteuid(), os.Getegid()); err != nil {
		return nil, fmt.Errorf("snapshot store: %w", err)
	}
	f, err := s.h.OpenPrivate(s.path(id), os.O_WRONLY|os.O_APPEND)
	if err != nil {
		return nil, fmt.Errorf("snapshot store: %w", err)
	}
	return &Journal{f: f, ID: id}, nil
}

// Discard removes the journal of an apply that changed nothing.
func (s *Store) Discard(id string) error { return s.h.Remove(s.path(id)) }

// Reopen continues an existing journal (rollback progress). A record cut
// short at the end (a crash mid-append) is cut off first, so the next
// record starts on a line of its own.
func (s *Store) Reopen(id string) (*Journal, error) {
	f, err := s.h.OpenPrivate(s.path(id), os.O_RDWR|os.O_APPEND)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", id, err)
	}
	fail := func(err error) (*Journal, error) {
		f.Close()
		return nil, fmt.Errorf("snapshot %s: %w", id, err)
	}
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if st.Size() > maxJournal {
		return fail(fmt.Errorf("%d bytes is larger than a journal can be", st.Size()))
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && st.Size() > 0 {
		return fail(err)
	}
	if keep := int64(bytes.LastIndexByte(b, '\n') + 1); keep < st.Size() {
		if err := f.Truncate(keep); err != nil {
			return fail(err)
		}
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	return &Journal{f: f, ID: id}, nil
}

func encode(ls []line) ([]byte, error) {
	var b []byte
	for _, l := range ls {
		lb, err := json.Marshal(l)
		if err != nil {
			return nil, err
		}
		b = append(append(b, lb...), '\n')
	}
	return b, nil
}

// append writes lines with one write and one fsync.
func (j *Journal) append(ls ...line) error {
	b, err := encode(ls)
	if err != nil {
		return err
	}
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("snapshot %s: %w", j.ID, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("snapshot %s: %w", j.ID, err)
	}
	return nil
}

// After is the outcome of one item: what it held after the write, and
// what was asked.
type After struct {
	State, Desired resource.State
}

// Commit records every item's outcome (numbered as in Begin) and the
// commit, in one durable write. A journal without it is an interrupted
// apply, and rollback restores each item's prior state.
func (j *Journal) Commit(s *Store, afters []After) error {
	ls := make([]line, 0, len(afters)+1)
	for i := range afters {
		st, err := s.outOfLine(afters[i].State)
		if err != nil {
			return err
		}
		want, err := s.outOfLine(afters[i].Desired)
		if err != nil {
			return err
		}
		ls = append(ls, line{Op: opAfter, I: i, State: &st, Desired: &want})
	}
	return j.append(append(ls, line{Op: opCommit})...)
}

// Restoring records that item i is about to be restored.
func (j *Journal) Restoring(i int) error { return j.append(line{Op: opRestoring, I: i}) }

// Restored records that item i holds its prior state again.
func (j *Journal) Restored(i int, forced bool) error {
	return j.append(line{Op: opRestored, I: i, Forced: forced})
}

func (j *Journal) Abort() error      { return j.append(line{Op: opAbort}) }
func (j *Journal) RolledBack() error { return j.append(line{Op: opRolledBack}) }
func (j *Journal) Close() error      { return j.f.Close() }

// closeEmpty ends a journal that holds not even its first record (a crash
// tore it): it is rewritten whole as an apply that changed nothing and is
// rolled back, so that it reads cleanly from then on.
func (s *Store) closeEmpty(id string) error {
	b, err := encode([]line{{Op: opBegin, FormatVersion: FormatVersion, ID: id}, {Op: opRolledBack}})
	if err != nil {
		return err
	}
	return s.h.WriteAtomic(s.path(id), b, 0o600, os.Geteuid(), os.Getegid())
}

// Tidy removes what crashes left in the store: temporary files, and blobs
// no readable journal refers to. It runs under the lock, and removes no
// blob while a journal cannot be read (its blobs could look unreferenced).
func (s *Store) Tidy(hi *History) {
	statedir.Tidy(s.h)
	for _, d := range []string{blobDir} {
		ents, _ := s.h.ReadDir(d)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") && strings.HasSuffix(e.Name(), ".ezedge-tmp") {
				s.h.Remove(d + "/" + e.Name())
			}
		}
	}
	if len(hi.Unreadable) > 0 {
		return
	}
	used := map[string]bool{}
	for _, r := range hi.Records {
		for _, it := range r.Items {
			for _, st := range []*resource.State{&it.Before, it.After, it.Desired} {
				if st != nil && st.Digest != "" {
					used[st.Digest] = true
				}
			}
		}
	}
	ents, _ := s.h.ReadDir(blobDir)
	for _, e := range ents {
		if !used[e.Name()] && !strings.HasPrefix(e.Name(), ".") {
			s.h.Remove(blobDir + "/" + e.Name())
		}
	}
}

// Accepted returns, per resource and desired value, what the kernel actually
// accepted when it differed (a clamp), so the plan does not propose the same
// unreachable value forever.
func Accepted(recs []*Record) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, r := range recs {
		for _, it := range r.Items {
			if it.After == nil || it.Desired == nil || it.Resource.Layer() != resource.Runtime {
				continue
			}
			want, got := resource.Normalize(it.Desired.Data), resource.Normalize(it.After.Data)
			if it.After.Exists && want != got {
				id := it.ID()
				if out[id] == nil {
					out[id] = map[string]string{}
				}
				out[id][want] = got
			}
		}
	}
	return out
}
