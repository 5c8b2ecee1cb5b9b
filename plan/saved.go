package plan

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ezansiedgeai/ezedge-host/hostroot"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// savedKind marks a file written by plan --out.
const savedKind = "ezedge-host-plan"

type savedChange struct {
	Task           string      `json:"task"`
	Resource       string      `json:"resource"`
	Action         Action      `json:"action"`
	Before         tasks.State `json:"before"`
	After          tasks.State `json:"after"`
	RebootRequired bool        `json:"reboot_required,omitempty"`
	Then           []string    `json:"then,omitempty"`
}

type savedPlan struct {
	Kind          string        `json:"kind"`
	FormatVersion int           `json:"format_version"`
	Created       time.Time     `json:"created"`
	Root          string        `json:"root"`
	Platform      string        `json:"platform"`
	Changes       []savedChange `json:"changes"`
}

// Save writes the plan's pending changes, with the values they were
// computed from, for a later apply of exactly this plan.
func (p *Plan) Save(name string, now time.Time) error {
	s := savedPlan{Kind: savedKind, FormatVersion: FormatVersion, Created: now.UTC(), Root: p.Root, Platform: string(p.Facts.Platform), Changes: []savedChange{}}
	for _, c := range p.Pending() {
		s.Changes = append(s.Changes, savedChange{c.Task, tasks.ID(c.Resource), c.Action, c.Before, c.After, c.RebootRequired, c.Then})
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(name, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("plan file %s: %v", name, err)
	}
	return nil
}

// Load reads a saved plan and checks it against the host as it is now: any
// resource whose current value differs from the value the plan was computed
// from makes the plan stale, and every such resource is named.
func Load(name string, h *hostroot.Root, facts *platform.Facts) (*Plan, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("plan file %s: %v", name, err)
	}
	var s savedPlan
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil || s.Kind != savedKind {
		return nil, fmt.Errorf("plan file %s: not a plan written by ezedge-host plan --out", name)
	}
	if s.FormatVersion > FormatVersion {
		return nil, fmt.Errorf("plan file %s: format version %d is newer than this build reads (%d)", name, s.FormatVersion, FormatVersion)
	}
	if s.Platform != string(facts.Platform) {
		return nil, fmt.Errorf("plan file %s: made for a %s host, this one is %s", name, s.Platform, facts.Platform)
	}
	p := &Plan{Root: h.Dir(), Facts: facts}
	var stale []string
	for _, sc := range s.Changes {
		r, err := tasks.FromID(sc.Resource)
		if err != nil {
			return nil, fmt.Errorf("plan file %s: %v", name, err)
		}
		cur, err := r.Read(h)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", r.Name(), err)
		}
		if !r.Equal(cur, sc.Before) {
			stale = append(stale, fmt.Sprintf("%s (planned from %s, now %s)", sc.Resource, r.Show(sc.Before), r.Show(cur)))
		}
		p.Changes = append(p.Changes, Change{Task: sc.Task, Resource: r, Before: cur, After: sc.After, Action: sc.Action, RebootRequired: sc.RebootRequired, Then: sc.Then})
	}
	if len(stale) > 0 {
		return nil, fmt.Errorf("plan file %s is stale, the host changed since it was made: %s", name, strings.Join(stale, "; "))
	}
	return p, nil
}
