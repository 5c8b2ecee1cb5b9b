// Package baseline keeps the measured figures of a host beside its
// snapshots: baselines (`ezedge-host baseline`), and the before and after
// of each measured apply or rollback. It stores and compares; package
// measure takes the figures.
//
// What is read back is not trusted: a file over its size limit, one that
// does not decode strictly, whose name is not its id, or holding a number
// that is not finite is left out and reported, never acted on.
package baseline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/store/statedir"
)

const (
	baseSub  = "baselines"
	effSub   = "measured"
	maxFile  = 1 << 20
	maxFiles = 1000
)

// Record is one baseline.
type Record struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Platform string    `json:"platform"`
	Kernel   string    `json:"kernel"`
	Cmdline  string    `json:"cmdline"`
	// Snapshot is the newest apply in force when it was taken ("" none).
	Snapshot string `json:"snapshot,omitempty"`
	// Emulated says why the figures are a virtual machine's, not the
	// hardware's ("" when no hypervisor was seen).
	Emulated string `json:"emulated,omitempty"`
	// Load is the 1-minute load average when it started.
	Load float64 `json:"load"`
	// Notes say what could not be measured and why.
	Notes   []string         `json:"notes,omitempty"`
	Budget  string           `json:"budget"`
	Took    string           `json:"took"`
	Figures []measure.Figure `json:"figures"`
}

// Effect is a measured apply or rollback: the figures its changes bear on,
// before and after.
type Effect struct {
	// ID is the apply's snapshot id; Op "apply" or "rollback".
	ID     string           `json:"id"`
	Op     string           `json:"op"`
	Time   time.Time        `json:"time"`
	Tasks  []string         `json:"tasks"`
	Before []measure.Figure `json:"before"`
	After  []measure.Figure `json:"after"`
	// Note says what the after figures cannot show (a change that takes
	// effect at the next boot).
	Note     string `json:"note,omitempty"`
	Emulated string `json:"emulated,omitempty"`
}

// NewID is a baseline id for time t (UTC, to the second).
func NewID(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

var (
	idRe = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z$`)
	// Snapshot ids are the rollback store's; an effect file is ID.OP.json.
	effRe = regexp.MustCompile(`^([A-Za-z0-9-]{1,64})\.(apply|rollback)\.json$`)
)

// Save stores r (a second one in the same second replaces the first).
func Save(h *hostroot.Root, r *Record) error {
	if !idRe.MatchString(r.ID) {
		return fmt.Errorf("baseline id %q", r.ID)
	}
	return write(h, baseSub, r.ID+".json", r)
}

// SaveEffect stores e.
func SaveEffect(h *hostroot.Root, e *Effect) error {
	name := e.ID + "." + e.Op + ".json"
	if !effRe.MatchString(name) {
		return fmt.Errorf("measured %s of %q", e.Op, e.ID)
	}
	return write(h, effSub, name, e)
}

func write(h *hostroot.Root, sub, name string, v any) error {
	if err := statedir.Ensure(h, sub); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return h.WriteAtomic(statedir.Path(sub+"/"+name), append(b, '\n'), 0o600, os.Geteuid(), os.Getegid())
}

// read decodes one stored file strictly into v.
func read(h *hostroot.Root, name string, v any) error {
	b, err := h.ReadPrivate(name, maxFile)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if dec.More() {
		return fmt.Errorf("%s: data after the JSON value", name)
	}
	return nil
}

// checkFigures refuses figures that could not have been measured.
func checkFigures(name string, fs ...[]measure.Figure) error {
	for _, figs := range fs {
		for _, f := range figs {
			for _, v := range append([]float64{f.Median, f.Min, f.Max}, f.Runs...) {
				if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					return fmt.Errorf("%s: %s holds %v", name, f.ID(), v)
				}
			}
			if len(f.Runs) > 1000 || len(f.Method) > 1000 || len(f.Target) > 4096 {
				return fmt.Errorf("%s: %s is larger than any measurement writes", name, f.ID())
			}
		}
	}
	return nil
}

// listDir lists one of the store's directories (none: nil), refusing one
// holding more files than ezedge-host ever writes there.
func listDir(h *hostroot.Root, sub string) ([]fs.DirEntry, error) {
	ents, err := h.ReadDir(statedir.Path(sub))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(ents) > maxFiles {
		return nil, fmt.Errorf("%s holds %d files, more than ezedge-host writes", statedir.Path(sub), len(ents))
	}
	return ents, nil
}

// List reads every baseline, oldest first; what cannot be read is named in
// skipped.
func List(h *hostroot.Root) (recs []*Record, skipped []string, err error) {
	ents, err := listDir(h, baseSub)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !idRe.MatchString(id) {
			continue
		}
		name := statedir.Path(baseSub + "/" + e.Name())
		r := &Record{}
		if err := read(h, name, r); err != nil {
			skipped = append(skipped, err.Error())
			continue
		}
		if r.ID != id {
			skipped = append(skipped, fmt.Sprintf("%s: holds id %q", name, r.ID))
			continue
		}
		if err := checkFigures(name, r.Figures); err != nil {
			skipped = append(skipped, err.Error())
			continue
		}
		recs = append(recs, r)
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
	return recs, skipped, nil
}

// Effects reads the measured applies and rollbacks by snapshot id.
func Effects(h *hostroot.Root) (map[string][]*Effect, []string, error) {
	ents, err := listDir(h, effSub)
	if err != nil || ents == nil {
		return nil, nil, err
	}
	out := map[string][]*Effect{}
	var skipped []string
	for _, e := range ents {
		m := effRe.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		name := statedir.Path(effSub + "/" + e.Name())
		ef := &Effect{}
		if err := read(h, name, ef); err != nil {
			skipped = append(skipped, err.Error())
			continue
		}
		if ef.ID != m[1] || ef.Op != m[2] {
			skipped = append(skipped, fmt.Sprintf("%s: holds %s of %q", name, ef.Op, ef.ID))
			continue
		}
		if err := checkFigures(name, ef.Before, ef.After); err != nil {
			skipped = append(skipped, err.Error())
			continue
		}
		out[ef.ID] = append(out[ef.ID], ef)
	}
	for _, l := range out {
		sort.Slice(l, func(i, j int) bool { return l[i].Time.Before(l[j].Time) })
	}
	return out, skipped, nil
}

// Compared is a figure beside the same figure of an earlier set.
type Compared struct {
	Now     measure.Figure
	Before  *measure.Figure
	Change  float64
	HasDiff bool
}

// Compare pairs each figure of now with the one of before with the same id.
func Compare(before, now []measure.Figure) []Compared {
	idx := map[string]measure.Figure{}
	for _, f := range before {
		idx[f.ID()] = f
	}
	out := make([]Compared, 0, len(now))
	for _, f := range now {
		c := Compared{Now: f}
		if b, ok := idx[f.ID()]; ok {
			c.Before = &b
			c.Change, c.HasDiff = measure.Change(b, f)
		}
		out = append(out, c)
	}
	return out
}

// Worse is the share a figure may fall below its baseline before check
// warns: runs on a quiet host spread by a few percent, throttling or a
// worn SD card by far more.
const Worse = 0.25
