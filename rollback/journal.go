package rollback

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/resource"
)

// FormatVersion is the journal format this build writes. It reads version
// 1 too (whose records named the follow-up command itself).
const FormatVersion = 2

// op is a journal record's kind.
type op string

// The records of a journal, in the order they appear.
const (
	// opBegin and one opBefore per item are written together, atomically,
	// before anything is changed.
	opBegin  op = "begin"
	opBefore op = "before"
	// opAfter per item and opCommit, in one write, once every change is
	// made; a journal without opCommit is an interrupted apply.
	opAfter  op = "after"
	opCommit op = "commit"
	// opAbort: the apply failed and restored what it had changed.
	opAbort op = "abort"
	// opRestoring is written before item i is restored and opRestored
	// after: a rollback resumed after a crash knows which item it was in
	// the middle of, and does not take its own half-done work for drift.
	opRestoring  op = "restoring"
	opRestored   op = "restored"
	opRolledBack op = "rolled_back"
)

type line struct {
	Op            op              `json:"op"`
	FormatVersion int             `json:"format_version,omitempty"`
	ID            string          `json:"id,omitempty"`
	Time          string          `json:"time,omitempty"`
	Platform      string          `json:"platform,omitempty"`
	Board         string          `json:"board,omitempty"`
	I             int             `json:"i"`
	Task          string          `json:"task,omitempty"`
	Resource      string          `json:"resource,omitempty"`
	State         *resource.State `json:"state,omitempty"`
	Desired       *resource.State `json:"desired,omitempty"`
	Forced        bool            `json:"forced,omitempty"`
	// Then is a follow-up's name (version 2) or, in version 1, the command
	// itself, accepted only when it is one ezedge-host itself runs.
	Then json.RawMessage `json:"then,omitempty"`
	// Reboot: the change takes effect at the next boot (the plan's mark),
	// so restoring it does too. Absent in journals written before it.
	Reboot bool `json:"reboot,omitempty"`
}

// Item is one resource an apply changed.
type Item struct {
	Task     string
	Resource resource.Resource
	Before   resource.State
	// After is what the resource held once written; nil when the apply
	// stopped before it finished.
	After   *resource.State
	Desired *resource.State
	// Restoring: a rollback began restoring it (and may have been cut
	// short); Restored: it holds its prior state again.
	Restoring bool
	Restored  bool
	// Then must run after the item is restored, as after it was applied.
	Then resource.Then
	// Reboot: the change, and so its restore, takes effect at the next
	// boot (the plan marked it so).
	Reboot bool
}

// ID is the item's resource ID.
func (it *Item) ID() string { return resource.ID(it.Resource) }

// Status says where an apply stands.
type Status string

const (
	Applied          Status = "applied"
	RolledBack       Status = "rolled back"
	PartlyRolledBack Status = "partly rolled back"
	FailedRestored   Status = "failed, restored"
	Interrupted      Status = "interrupted"
	// InProgress is an uncommitted apply while another process holds the
	// host lock: it is running, not interrupted.
	InProgress Status = "in progress"
)

// Record is one apply as read back from its journal.
type Record struct {
	ID       string
	Time     time.Time
	Platform string
	Board    string
	Items    []*Item
	// Committed, Aborted, RolledBack: the journal's closing records.
	Committed, Aborted, RolledBack bool
	// Torn: the journal ends in a record cut short (a crash or power cut
	// mid-write); that record is left out, and what it would have said is
	// done again by rollback.
	Torn bool
	// NoBegin: not even the first record is whole. Such a journal lists no
	// change, so nothing was changed under it.
	NoBegin bool
	// InProgress: not committed, and another process holds the lock.
	InProgress bool
}

// Status says where the record stands.
func (r *Record) Status() Status {
	switch {
	case r.Aborted:
		return FailedRestored
	case r.RolledBack:
		return RolledBack
	case !r.Committed && r.InProgress:
		return InProgress
	case !r.Committed:
		return Interrupted
	}
	for _, it := range r.Items {
		if it.Restored {
			return PartlyRolledBack
		}
	}
	return Applied
}

// Open reports whether the apply still has effects a rollback can undo.
func (r *Record) Open() bool { return !r.RolledBack && !r.Aborted }

var idPattern = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z(-[0-9]{1,6})?$`)

// ValidID reports whether id has the shape of an apply's ID (its UTC time,
// and a counter when two applies share a second).
func ValidID(id string) bool { return idPattern.MatchString(id) }

// parse reads a journal. A journal cut short at any byte reads as an
// interrupted apply (the cut record is dropped: whatever it would have
// recorded is redone by rollback); only a damaged record that is not the
// last one, or one that breaks the journal's rules, is corrupt.
func parse(name, id string, b []byte) (*Record, error) {
	r := &Record{ID: id}
	whole := b
	if i := bytes.LastIndexByte(b, '\n'); i < len(b)-1 {
		r.Torn = true
		whole = b[:i+1]
	}
	if len(whole) == 0 {
		r.NoBegin = true
		return r, nil
	}
	// One decoder for the whole journal: a decoder per line cost more than
	// the decoding on a long history.
	dec := json.NewDecoder(bytes.NewReader(whole))
	dec.DisallowUnknownFields()
	n, lines, prev := 0, 0, int64(0)
	version := 0
	for {
		n++
		var l line
		if err := dec.Decode(&l); err == io.EOF {
			n--
			break
		} else if err != nil {
			return nil, corrupt(name, n, err.Error())
		}
		// Each record is one line of its own.
		off := dec.InputOffset()
		lines += bytes.Count(whole[prev:off], []byte("\n"))
		prev = off
		if off >= int64(len(whole)) || whole[off] != '\n' || lines != n-1 {
			return nil, corrupt(name, n, "not one record per line")
		}
		bad := func(why string) error { return corrupt(name, n, why) }
		if n == 1 && l.Op != opBegin {
			return nil, bad("does not start with a begin record")
		}
		switch l.Op {
		case opBegin:
			if n != 1 {
				return nil, bad("second begin record")
			}
			if l.FormatVersion > FormatVersion {
				return nil, fmt.Errorf("snapshot %s: format version %d is newer than this build reads (%d); use a newer ezedge-host", name, l.FormatVersion, FormatVersion)
			}
			if l.ID != "" && l.ID != id {
				return nil, bad(fmt.Sprintf("begin record names apply %q", l.ID))
			}
			version = l.FormatVersion
			r.Time, _ = time.Parse(time.RFC3339, l.Time)
			r.Platform, r.Board = l.Platform, l.Board
		case opBefore:
			if l.I != len(r.Items) || l.State == nil || r.Committed || r.Aborted || r.RolledBack {
				return nil, bad("out-of-order before record")
			}
			res, err := resource.FromID(l.Resource)
			if err != nil {
				return nil, bad(err.Error())
			}
			if err := validState(res, *l.State); err != nil {
				return nil, bad(err.Error())
			}
			then, err := parseThen(l.Then, version)
			if err != nil {
				return nil, bad(err.Error())
			}
			r.Items = append(r.Items, &Item{Task: l.Task, Resource: res, Before: *l.State, Then: then, Reboot: l.Reboot})
		case opAfter, opRestoring, opRestored:
			if l.I < 0 || l.I >= len(r.Items) {
				return nil, bad("record for unknown item")
			}
			it := r.Items[l.I]
			switch l.Op {
			case opAfter:
				if l.State == nil || l.Desired == nil {
					return nil, bad("after record without states")
				}
				for _, s := range []*resource.State{l.State, l.Desired} {
					if err := validState(it.Resource, *s); err != nil {
						return nil, bad(err.Error())
					}
				}
				it.After, it.Desired = l.State, l.Desired
			case opRestoring:
				it.Restoring = true
			default:
				it.Restored = true
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
	return r, nil
}

func corrupt(name string, n int, why string) error {
	return fmt.Errorf("snapshot %s:%d: corrupt: %s", name, n, why)
}

// validState checks a journaled state for what ezedge-host itself could
// have recorded: plain permission bits, digests of the right shape, and
// missing directories that are parents of the resource's own path.
func validState(res resource.Resource, s resource.State) error {
	if s.Mode&^0o777 != 0 {
		return fmt.Errorf("mode %o has bits beyond rwx", s.Mode)
	}
	if s.UID < 0 || s.GID < 0 {
		return errors.New("negative owner")
	}
	if s.Digest != "" && (len(s.Digest) != 64 || strings.Trim(s.Digest, "0123456789abcdef") != "" || s.Data != nil || s.Size < 0) {
		return errors.New("bad out-of-line contents")
	}
	if len(s.MissingDirs) > 0 {
		if res.Kind() != resource.KindFile {
			return errors.New("missing directories on a resource that is not a file")
		}
		p := res.Name()
		for i := len(s.MissingDirs) - 1; i >= 0; i-- {
			if s.MissingDirs[i] != path.Dir(p) || s.MissingDirs[i] == "/" {
				return fmt.Errorf("missing directory %q is not a parent of %s", s.MissingDirs[i], res.Name())
			}
			p = s.MissingDirs[i]
		}
	}
	return nil
}

// parseThen reads a follow-up: a name in version 2; in version 1 the
// command line, accepted only when it is exactly one ezedge-host runs.
func parseThen(raw json.RawMessage, version int) (resource.Then, error) {
	if len(raw) == 0 {
		return "", nil
	}
	if version >= 2 {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return resource.ParseThen(s)
	}
	var cmd []string
	if err := json.Unmarshal(raw, &cmd); err != nil {
		return "", err
	}
	if len(cmd) == 0 {
		return "", nil
	}
	if resource.IsGrubGenerator(cmd) {
		return resource.RegenerateGrub, nil
	}
	return "", fmt.Errorf("follow-up command %q is not one ezedge-host runs", strings.Join(cmd, " "))
}

func thenJSON(t resource.Then) json.RawMessage {
	if t == "" {
		return nil
	}
	b, _ := json.Marshal(string(t))
	return b
}
