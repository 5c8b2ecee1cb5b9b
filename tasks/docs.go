package tasks

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
)

// The task table of the documentation, the list in --help and the profile's
// JSON Schema are made from the registry, so they cannot drift from the
// code (a test compares docs/ with them).

// Table is the Markdown table of every task: name, what it sets, when it
// runs by default, its options.
func Table() string {
	var b strings.Builder
	b.WriteString("| task | what it sets | by default | options (default) |\n|---|---|---|---|\n")
	for _, t := range All() {
		var opts []string
		for _, f := range Fields(t) {
			o := fmt.Sprintf("`%s` (%s", f.Key, showDefault(f.Default))
			switch {
			case f.Min != nil && f.Max != nil:
				o += fmt.Sprintf("; %d..%d", *f.Min, *f.Max)
			case f.Enum != nil:
				o += "; " + strings.Join(f.Enum, ", ")
			}
			opts = append(opts, o+"): "+f.Doc)
		}
		if len(opts) == 0 {
			opts = []string{"—"}
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", t.Name(), t.Summary(), t.When(), strings.Join(opts, "<br>"))
	}
	return b.String()
}

func showDefault(v any) string {
	if s, ok := v.([]int64); ok {
		return strings.Trim(strings.Join(strings.Fields(fmt.Sprint(s)), ", "), "[]")
	}
	return fmt.Sprint(v)
}

// HelpList is the task list of --help: name and summary, one a line, the
// summaries in a column as wide as the longest name needs.
func HelpList() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, t := range All() {
		fmt.Fprintf(w, "  %s\t%s\n", t.Name(), t.Summary())
	}
	w.Flush()
	return b.String()
}

// Schema is the JSON Schema of the profile.
func Schema() ([]byte, error) {
	props := map[string]any{}
	for _, t := range All() {
		p := map[string]any{
			"enabled": map[string]any{"type": "boolean", "description": "turn " + t.Name() + " on or off; without it: " + t.When()},
		}
		for _, f := range Fields(t) {
			s := map[string]any{"description": f.Doc, "default": f.Default}
			switch f.Kind {
			case "integers":
				s["type"] = "array"
				s["items"] = map[string]any{"type": "integer"}
			case "strings":
				s["type"] = "array"
				s["items"] = map[string]any{"type": "string"}
			default:
				s["type"] = f.Kind
			}
			if f.Min != nil {
				s["minimum"] = *f.Min
			}
			if f.Max != nil {
				s["maximum"] = *f.Max
			}
			if f.Enum != nil {
				s["enum"] = f.Enum
			}
			p[f.Key] = s
		}
		props[t.Name()] = map[string]any{"type": "object", "description": t.Summary(), "additionalProperties": false, "properties": p}
	}
	schema := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"title":                "ezedge-host profile",
		"type":                 "object",
		"required":             []string{"version"},
		"additionalProperties": false,
		"properties": map[string]any{
			"version": map[string]any{"const": 1},
			"tasks":   map[string]any{"type": "object", "additionalProperties": false, "properties": props},
		},
	}
	b, err := json.MarshalIndent(schema, "", "  ")
	return append(b, '\n'), err
}
