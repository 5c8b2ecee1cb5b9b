// Package savedplan is plan --out and apply FILE: a saved plan is the
// approval of exactly one diff, never a recipe.
package savedplan

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/plan"
)

// savedKind marks a file written by plan --out.
const savedKind = "ezedge-host-plan"

// savedVersion is the saved-plan format: version 2 keeps the profile the
// plan was made with, so apply can plan again with it; version 3 also
// where that profile came from (the root's own, --profile, none); version
// 4 keeps each of its layers (the root's profile.yaml and profile.d files,
// the --profile files) with its bytes, and what they set, with where.
const savedVersion = 4

// maxSaved bounds a plan file (it holds the prior contents of files).
const maxSaved = 16 << 20

type savedChange struct {
	Task           string         `json:"task"`
	Resource       string         `json:"resource"`
	Action         plan.Action    `json:"action"`
	Before         resource.State `json:"before"`
	After          resource.State `json:"after"`
	RebootRequired bool           `json:"reboot_required,omitempty"`
}

// Saved is a plan saved by plan --out: the approval of exactly one diff.
// Nothing in it is acted on: apply plans again, under the lock, with the
// profile the plan was made with, and applies that fresh plan only if its
// diff is the one saved here. An edited file (another resource, another
// value, another command) or a host that moved since is refused.
type Saved struct {
	Kind          string    `json:"kind"`
	FormatVersion int       `json:"format_version"`
	Created       time.Time `json:"created"`
	Root          string    `json:"root"`
	Platform      string    `json:"platform"`
	// Profile is the profile the plan was made with: its layers, each
	// with its bytes, and their settings (checked against them when the
	// plan is applied: profile.Saved).
	Profile profile.Record `json:"profile"`
	// Only are the tasks the plan was narrowed to (plan --only).
	Only    []string      `json:"only,omitempty"`
	Changes []savedChange `json:"changes"`

	name string
}

// Save writes the plan's pending changes, with the values they were
// computed from, the profile it was made with (prof: its layers and their
// settings) and the tasks it was narrowed to (nil: all), for a later apply
// of exactly this plan. The file is replaced whole and is 0600 whatever
// was there: it holds the prior contents of files.
func Save(name string, p *plan.Plan, prof profile.Record, only []string, now time.Time) error {
	s := Saved{Kind: savedKind, FormatVersion: savedVersion, Created: now.UTC(), Root: p.Root, Platform: string(p.Facts.Platform), Profile: prof, Only: only, Changes: []savedChange{}}
	for _, c := range p.Pending() {
		s.Changes = append(s.Changes, savedChange{c.Task, resource.ID(c.Resource), c.Action, c.Before, c.After, c.RebootRequired})
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(name, append(b, '\n')); err != nil {
		return fmt.Errorf("plan file %s: %w", name, err)
	}
	return nil
}

// writeFileAtomic replaces name with a new 0600 file holding b.
func writeFileAtomic(name string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".ezedge-plan-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.Write(b); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// File is what a plan file is as a file the operator names: a regular
// file of at most 16 MiB.
var File = hostroot.Named{What: "plan file", Limit: maxSaved}

// Load reads a plan file (hostroot.ReadNamed: a FIFO, a device, a
// directory or a file over the limit is refused naming it; strictly: unknown fields, another kind or a
// newer format are refused).
func Load(name string) (*Saved, error) {
	b, err := hostroot.ReadNamed(name, File)
	if err != nil {
		return nil, err
	}
	var s Saved
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("plan file %s: not a plan written by ezedge-host plan --out (%w)", name, err)
	}
	if s.Kind != savedKind || dec.More() {
		return nil, fmt.Errorf("plan file %s: not a plan written by ezedge-host plan --out", name)
	}
	switch {
	case s.FormatVersion > savedVersion:
		return nil, fmt.Errorf("plan file %s: format version %d is newer than this build reads (%d)", name, s.FormatVersion, savedVersion)
	case s.FormatVersion < savedVersion:
		return nil, fmt.Errorf("plan file %s: format version %d was written by an older ezedge-host; make the plan again", name, s.FormatVersion)
	}
	s.name = name
	return &s, nil
}

// Check compares the saved plan with fresh, the plan made again now with
// the saved profile: nil when fresh's pending changes are exactly the
// saved ones (resource, action, value before, value after, in order).
func (s *Saved) Check(fresh *plan.Plan) error {
	// The approval is of one host's diff: a plan made for an image is not
	// applied to the running system because --root was left out.
	if s.Root != fresh.Root {
		return fmt.Errorf("plan file %s: made for root %q, this is root %q (give --root %q)", s.name, s.Root, fresh.Root, s.Root)
	}
	if s.Platform != string(fresh.Facts.Platform) {
		return fmt.Errorf("plan file %s: made for a %s host, this one is %s", s.name, s.Platform, fresh.Facts.Platform)
	}
	pending := fresh.Pending()
	byID := map[string]plan.Change{}
	for _, c := range pending {
		byID[resource.ID(c.Resource)] = c
	}
	var stale, differ []string
	for _, sc := range s.Changes {
		c, ok := byID[sc.Resource]
		if !ok {
			differ = append(differ, sc.Resource+" (not planned now)")
			continue
		}
		r := c.Resource
		switch {
		case !r.Equal(c.Before, sc.Before):
			stale = append(stale, fmt.Sprintf("%s (planned from %s, now %s)", sc.Resource, r.Show(sc.Before), r.Show(c.Before)))
		case !r.Equal(c.After, sc.After) || sc.Action != c.Action || sc.Task != c.Task || sc.RebootRequired != c.RebootRequired:
			differ = append(differ, fmt.Sprintf("%s (the file says %s, the profile plans %s)", sc.Resource, r.Show(sc.After), r.Show(c.After)))
		}
	}
	if len(stale) > 0 {
		return fmt.Errorf("plan file %s is stale, the host changed since it was made: %s", s.name, strings.Join(stale, "; "))
	}
	if len(differ) == 0 && len(s.Changes) != len(pending) {
		seen := map[string]bool{}
		for _, sc := range s.Changes {
			seen[sc.Resource] = true
		}
		for _, c := range pending {
			if id := resource.ID(c.Resource); !seen[id] {
				differ = append(differ, id+" (planned now, not in the file)")
			}
		}
		if len(differ) == 0 {
			differ = append(differ, fmt.Sprintf("%d changes in the file, %d planned now", len(s.Changes), len(pending)))
		}
	}
	if len(differ) == 0 {
		for i, sc := range s.Changes {
			if sc.Resource != resource.ID(pending[i].Resource) {
				differ = append(differ, "the order of the changes")
				break
			}
		}
	}
	if len(differ) > 0 {
		return fmt.Errorf("plan file %s does not match what its profile plans for this host now: %s; nothing was changed: make the plan again", s.name, strings.Join(differ, "; "))
	}
	return nil
}
