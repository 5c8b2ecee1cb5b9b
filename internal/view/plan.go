// Package view renders what the commands print: text for a person, and
// JSON (typed, versioned by FormatVersion) for programs.
package view

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// FormatVersion versions every JSON object ezedge-host prints.
const FormatVersion = 1

var symbols = map[plan.Action]string{plan.Create: "+", plan.Update: "~", plan.Delete: "-", plan.None: "="}

// Text writes the plan for a person. With diff, every file change is
// followed by its unified diff.
func PlanText(w io.Writer, p *plan.Plan, diff bool) {
	f := p.Facts
	board := f.Board
	if board == "" {
		board = f.Arch
	}
	fmt.Fprintf(w, "Host %s: %s (%s), %d cores, %s RAM\n", p.Root, f.Platform, board, f.Cores, platform.HumanBytes(f.MemTotal))
	if p.Profile.Kind != "" {
		fmt.Fprintf(w, "Profile: %s\n", p.Profile)
	}
	fmt.Fprintln(w)
	pending := p.Pending()
	if len(pending) == 0 {
		fmt.Fprintln(w, "No changes. The host matches the profile.")
	} else {
		fmt.Fprintln(w, "Changes (+ create, ~ update, - delete):")
	}
	for _, c := range pending {
		fmt.Fprintf(w, "  %s %-60s [%s, %s]\n", symbols[c.Action], Describe(c.Resource), c.Task, c.Resource.Layer())
		fmt.Fprintf(w, "      %s -> %s\n", c.Resource.Show(c.Before), c.Resource.Show(c.After))
		for _, n := range c.Notes {
			fmt.Fprintf(w, "      note: %s\n", n)
		}
		if c.RebootRequired {
			fmt.Fprintln(w, "      reboot required: takes effect at the next boot")
		}
		if cmd := thenCommand(p, c); len(cmd) > 0 {
			fmt.Fprintf(w, "      then runs: %s\n", strings.Join(cmd, " "))
		}
		if diff && c.Resource.Kind() == resource.KindFile {
			fmt.Fprint(w, indent(FileDiff(c), "      "))
		}
	}
	var inPlace []plan.Change
	for _, c := range p.Changes {
		if c.Action == plan.None {
			inPlace = append(inPlace, c)
		}
	}
	if len(inPlace) > 0 {
		fmt.Fprintln(w, "\nAlready in place:")
		for _, c := range inPlace {
			fmt.Fprintf(w, "  = %-60s [%s, %s]\n      %s\n", Describe(c.Resource), c.Task, c.Resource.Layer(), c.Resource.Show(c.After))
			for _, n := range c.Notes {
				fmt.Fprintf(w, "      note: %s\n", n)
			}
		}
	}
	if len(p.Skipped) > 0 {
		fmt.Fprintln(w, "\nSkipped:")
		for _, s := range p.Skipped {
			fmt.Fprintf(w, "  %-15s %s\n", s.Task, s.Reason)
		}
	}
	section(w, "Notes:", "", p.Notes)
	section(w, "Drift (changed since ezedge-host applied it):", "", p.Drift)
	section(w, "Reboot pending (configured, not active until the next boot; not a change):", "", p.RebootPending)
	section(w, "Warnings:", "! ", p.Warnings)
	fmt.Fprintf(w, "\nPlan: %s\n", p.Summary())
}

// section writes a titled list of lines, when there are any.
func section(w io.Writer, title, mark string, lines []string) {
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, "\n"+title)
	for _, l := range lines {
		fmt.Fprintf(w, "  %s%s\n", mark, l)
	}
}

// thenCommand is the command c's follow-up runs on this host, for display.
func thenCommand(p *plan.Plan, c plan.Change) []string {
	if c.Then != "" {
		return p.Facts.Boot.Generator
	}
	return nil
}

// Describe names a resource the way the plan shows it.
func Describe(r resource.Resource) string {
	return string(r.Kind()) + " " + r.Name()
}

func indent(s, pre string) string {
	if s == "" {
		return ""
	}
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(pre + l)
		}
	}
	return b.String()
}

// FileDiff is the unified diff of a file change.
func FileDiff(c plan.Change) string {
	from, to := c.Resource.Name(), c.Resource.Name()
	if !c.Before.Exists {
		from = "/dev/null"
	}
	if !c.After.Exists {
		to = "/dev/null"
	}
	lines := func(b []byte) []string {
		ls := strings.SplitAfter(string(b), "\n")
		if ls[len(ls)-1] == "" {
			return ls[:len(ls)-1]
		}
		// difflib needs every line terminated; the missing newline shows
		// in the before/after summary.
		ls[len(ls)-1] += "\n"
		return ls
	}
	d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        lines(c.Before.Data),
		B:        lines(c.After.Data),
		FromFile: from,
		ToFile:   to,
		Context:  3,
	})
	return d
}

// JSONChange is one change in the JSON plan.
type JSONChange struct {
	Task           string   `json:"task"`
	Resource       string   `json:"resource"`
	Kind           string   `json:"kind"`
	Layer          string   `json:"layer"`
	Action         string   `json:"action"`
	Before         *string  `json:"before"`
	After          *string  `json:"after"`
	RebootRequired bool     `json:"reboot_required"`
	Then           []string `json:"then,omitempty"`
	Notes          []string `json:"notes,omitempty"`
}

// JSONPlan is the versioned JSON form of a plan.
type JSONPlan struct {
	FormatVersion int              `json:"format_version"`
	Root          string           `json:"root"`
	Profile       *JSONProfile     `json:"profile"`
	Facts         *platform.Facts  `json:"facts"`
	Changes       []JSONChange     `json:"changes"`
	InPlace       []JSONChange     `json:"in_place"`
	Skipped       []map[string]any `json:"skipped"`
	Notes         []string         `json:"notes"`
	Warnings      []string         `json:"warnings"`
	RebootPending []string         `json:"reboot_pending"`
	Drift         []string         `json:"drift"`
	Interrupted   []string         `json:"interrupted"`
	InProgress    []string         `json:"in_progress"`
	Summary       map[string]int   `json:"summary"`
}

// JSONProfile is which profile a plan was made with: kind root (path read
// inside the root), file (--profile, path as named), absent (the root has
// no path: the platform defaults) or none (--no-profile: the platform
// defaults, path null).
type JSONProfile struct {
	Kind string  `json:"kind"`
	Path *string `json:"path"`
}

// NewProfile is the JSON of o; nil when the plan does not say.
func NewProfile(o profile.Origin) *JSONProfile {
	if o.Kind == "" {
		return nil
	}
	j := &JSONProfile{Kind: string(o.Kind)}
	if o.Path != "" {
		j.Path = &o.Path
	}
	return j
}

// JSONChanges renders changes for JSON output. Kernel values are shown
// normalised; file contents whole; an absent value is null.
func JSONChanges(p *plan.Plan, cs []plan.Change) []JSONChange {
	out := []JSONChange{}
	for _, c := range cs {
		val := func(s resource.State) *string {
			if !s.Exists {
				return nil
			}
			v := string(s.Data)
			if c.Resource.Layer() == resource.Runtime {
				v = resource.Normalize(s.Data)
			}
			return &v
		}
		out = append(out, JSONChange{
			Task: c.Task, Resource: c.Resource.Name(), Kind: string(c.Resource.Kind()), Layer: string(c.Resource.Layer()),
			Action: string(c.Action), Before: val(c.Before), After: val(c.After),
			RebootRequired: c.RebootRequired, Then: thenCommand(p, c), Notes: c.Notes,
		})
	}
	return out
}

// JSON writes the plan as a versioned object.
func PlanJSON(w io.Writer, p *plan.Plan) error {
	var inPlace []plan.Change
	for _, c := range p.Changes {
		if c.Action == plan.None {
			inPlace = append(inPlace, c)
		}
	}
	j := JSONPlan{
		FormatVersion: FormatVersion, Root: p.Root, Profile: NewProfile(p.Profile), Facts: p.Facts,
		Changes: JSONChanges(p, p.Pending()), InPlace: JSONChanges(p, inPlace),
		Skipped: []map[string]any{}, Notes: NonNil(p.Notes), Warnings: NonNil(p.Warnings), RebootPending: NonNil(p.RebootPending), Drift: NonNil(p.Drift),
		Interrupted: NonNil(p.Interrupted), InProgress: NonNil(p.InProgress),
		Summary: map[string]int{"change": len(p.Pending()), "in_place": len(inPlace), "skipped": len(p.Skipped)},
	}
	for _, s := range p.Skipped {
		j.Skipped = append(j.Skipped, map[string]any{"task": s.Task, "reason": s.Reason})
	}
	return WriteJSON(w, j)
}

// WriteJSON writes v indented, as every command's --output json does.
func WriteJSON(w io.Writer, v any) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(v)
}

// NonNil makes an absent list print as [] in JSON.
func NonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
