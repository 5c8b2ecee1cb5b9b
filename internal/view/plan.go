// Package view renders what the commands print: text for a person, and
// JSON (typed, versioned by FormatVersion) for programs.
package view

import (
	"encoding/json"
	"io"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// FormatVersion versions every JSON object ezedge-host prints.
const FormatVersion = 1

var symbols = map[plan.Action]string{plan.Create: "+", plan.Update: "~", plan.Delete: "-", plan.None: "="}

// PlanText writes the plan for a person. With diff, every file change is
// followed by its unified diff. Like every text view it writes only
// through escape: paths, values and file contents from the root are
// shown as escape.Text.
func PlanText(w io.Writer, p *plan.Plan, diff bool) {
	f := p.Facts
	board := f.Board
	if board == "" {
		board = f.Arch
	}
	escape.Fprintf(w, "Host %s: %s (%s), %d cores, %s RAM\n", p.Root, f.Platform, board, f.Cores, platform.HumanBytes(f.MemTotal))
	if p.Profile.Kind != "" {
		escape.Fprintf(w, "Profile: %s\n", p.Profile)
		ProfileSettingsText(w, p.Profile)
	}
	escape.Fprintf(w, "\n")
	pending := p.Pending()
	if len(pending) == 0 {
		escape.Fprintf(w, "No changes. The host matches the profile.\n")
	} else {
		escape.Fprintf(w, "Changes (+ create, ~ update, - delete):\n")
	}
	// The changes are a table: the resource, then the task and layer in
	// a column as wide as the longest resource needs; what each change
	// does is under it.
	changes := escape.Table{Indent: "  "}
	for i, c := range pending {
		changes.Row("%s %s\t[%s, %s]", symbols[c.Action], Describe(c.Resource), c.Task, c.Resource.Layer())
		changes.Under("      %s -> %s", c.Resource.Show(c.Before), c.Resource.Show(c.After))
		for _, n := range c.Notes {
			changes.Under("      note: %s", n)
		}
		if c.RebootRequired {
			changes.Under("      reboot required: takes effect at the next boot")
		}
		if cmd := thenCommand(p, c); len(cmd) > 0 {
			changes.Under("      then runs: %s", strings.Join(cmd, " "))
		}
		if diff && c.Resource.Kind() == resource.KindFile {
			changes.Below(func(w io.Writer) { DiffText(w, c, "      ") })
		}
		if k, ok := c.Resource.(*resource.KernelArg); ok && diff && lastArgOf(pending, i, k.File()) {
			for _, af := range p.ArgFiles {
				if af.Path == k.File() {
					changes.Under("      %s as apply leaves it:", af.Path)
					changes.Below(func(w io.Writer) { writeDiff(w, unifiedDiff(af.Path, af.Before, af.After, true, true), "      ") })
				}
			}
		}
	}
	changes.Write(w)
	var inPlace []plan.Change
	for _, c := range p.Changes {
		if c.Action == plan.None {
			inPlace = append(inPlace, c)
		}
	}
	if len(inPlace) > 0 {
		escape.Fprintf(w, "\nAlready in place:\n")
		t := escape.Table{Indent: "  "}
		for _, c := range inPlace {
			t.Row("= %s\t[%s, %s]", Describe(c.Resource), c.Task, c.Resource.Layer())
			t.Under("      %s", c.Resource.Show(c.After))
			for _, n := range c.Notes {
				t.Under("      note: %s", n)
			}
		}
		t.Write(w)
	}
	if len(p.Skipped) > 0 {
		escape.Fprintf(w, "\nSkipped:\n")
		t := escape.Table{Indent: "  ", Gap: 1}
		for _, s := range p.Skipped {
			t.Row("%s\t%s", s.Task, s.Reason)
		}
		t.Write(w)
	}
	section(w, "Notes:", "", p.Notes)
	section(w, "Drift (changed since ezedge-host applied it):", "", p.Drift)
	section(w, "Reboot pending (configured, not active until the next boot; not a change):", "", p.RebootPending)
	section(w, "Warnings:", "! ", p.Warnings)
	escape.Fprintf(w, "\nPlan: %s\n", p.Summary())
}

// section writes a titled list of lines, when there are any.
func section(w io.Writer, title, mark string, lines []string) {
	if len(lines) == 0 {
		return
	}
	escape.Fprintf(w, "\n%s\n", title)
	for _, l := range lines {
		escape.Fprintf(w, "  %s%s\n", mark, l)
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

// DiffText writes the unified diff of a file change, each line after pre.
// The diff's own marks are written as they are; the paths and the content
// of each line (a file in the root may hold escape sequences, CR, NUL or
// bytes that are not UTF-8) are shown as escape.Text, one diff line per
// line of the file, so the diff keeps its shape.
func DiffText(w io.Writer, c plan.Change, pre string) {
	writeDiff(w, FileDiff(c), pre)
}

// writeDiff writes a unified diff as DiffText does.
func writeDiff(w io.Writer, diff, pre string) {
	i := 0
	for l := range strings.Lines(diff) {
		l = strings.TrimSuffix(l, "\n")
		switch {
		case i < 2 && (strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "+++ ")):
			// The header: the file's path.
			escape.Fprintf(w, "%s%s%s\n", pre, l[:4], l[4:])
		case strings.HasPrefix(l, "@@"):
			// A hunk header: line numbers only.
			escape.Fprintf(w, "%s%s\n", pre, l)
		case l != "":
			// A line of the file after its mark (' ', '-', '+').
			escape.Fprintf(w, "%s%s%s\n", pre, l[:1], l[1:])
		}
		i++
	}
}

// FileDiff is the unified diff of a file change, as difflib makes it (the
// bytes of the file, unescaped: DiffText shows it).
func FileDiff(c plan.Change) string {
	return unifiedDiff(c.Resource.Name(), c.Before.Data, c.After.Data, c.Before.Exists, c.After.Exists)
}

// lastArgOf reports whether pending[i] is the last kernel-argument change
// of file.
func lastArgOf(pending []plan.Change, i int, file string) bool {
	for _, c := range pending[i+1:] {
		if k, ok := c.Resource.(*resource.KernelArg); ok && k.File() == file {
			return false
		}
	}
	return true
}

// unifiedDiff is the unified diff of a file's bytes, from and to (absent
// on either side is /dev/null).
func unifiedDiff(name string, a, b []byte, aExists, bExists bool) string {
	from, to := name, name
	if !aExists {
		from = "/dev/null"
	}
	if !bExists {
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
		A:        lines(a),
		B:        lines(b),
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
func NonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
