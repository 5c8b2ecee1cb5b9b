package profile

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
)

// YAML is r's merged profile as one profile file: every key the layers
// set, each with a comment naming the file and line that set it (and the
// earlier ones it overrides), after a header listing the layers in order
// and the DropInDir names left unread. It is itself a valid profile that
// plans exactly as r does. Every name from a root or a flag in it is
// printable: no line can be broken or hidden by a file's name.
//
// The layout (two levels of keys, a value and its comment on one line) is
// written here; each value is written by go-yaml, which quotes what YAML
// would read as another type ("true", "1024"). (go-yaml's own comments
// land inside the key of a flow list.)
func (r *Resolved) YAML() ([]byte, error) {
	var b bytes.Buffer
	o := r.Origin
	switch o.Kind {
	case KindLayers:
		fmt.Fprintf(&b, "# The profile merged from %d layers, each overriding the ones before it key by key\n", len(o.Layers))
		b.WriteString("# (a list is replaced whole). An option no layer sets keeps its default; a task no\n")
		b.WriteString("# layer turns on or off runs where its platform's default says. The layers, in order:\n")
		for i, l := range o.Layers {
			fmt.Fprintf(&b, "#   %d. %s%s\n", i+1, printable(l.Path), l.Where.suffix())
		}
	default:
		fmt.Fprintf(&b, "# %s: every task as its platform's default, every option its default.\n", o)
	}
	for _, ig := range r.Ignored {
		fmt.Fprintf(&b, "# Not read: %s: %s\n", printable(ig.Path), ig.Why)
	}
	fmt.Fprintf(&b, "version: %d\n", Version)
	task := ""
	for _, s := range o.Settings {
		if task == "" {
			b.WriteString("tasks:\n")
		}
		if s.Task != task {
			fmt.Fprintf(&b, "  %s:\n", s.Task)
			task = s.Task
		}
		v, err := yamlValue(s.Value)
		if err != nil {
			return nil, fmt.Errorf("profile: %s.%s: %w", s.Task, s.Key, err)
		}
		fmt.Fprintf(&b, "    %s: %s # %s", s.Key, v, s.At.Text())
		if len(s.Overrides) > 0 {
			var over []string
			for _, o := range s.Overrides {
				ov, err := yamlValue(o.Value)
				if err != nil {
					return nil, fmt.Errorf("profile: %s.%s: %w", s.Task, s.Key, err)
				}
				over = append(over, ov+" at "+o.At.Text())
			}
			fmt.Fprintf(&b, ", over %s", strings.Join(over, ", "))
		}
		b.WriteString("\n")
	}
	return b.Bytes(), nil
}

// yamlValue is v as a YAML flow value, on one line.
func yamlValue(v any) (string, error) {
	b, err := yaml.MarshalWithOptions(v, yaml.Flow(true))
	return strings.TrimSuffix(string(b), "\n"), err
}
