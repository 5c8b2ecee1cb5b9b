package view

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"

	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
)

// ProfileSettingsText is the profile's provenance, under the plan's
// Profile line: every key its layers set, the value in force, the file and
// line that set it and the earlier settings it overrides (their values and
// places). Nothing when no layer sets a key.
func ProfileSettingsText(w io.Writer, o profile.Origin) {
	if len(o.Settings) == 0 {
		return
	}
	escape.Fprintf(w, "Profile settings (each from the last layer to set it):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range o.Settings {
		escape.Fprintf(tw, "  %s.%s\t%s\t%s", s.Task, s.Key, SettingValue(s.Value), s.At.Text())
		if len(s.Overrides) > 0 {
			var over []string
			for _, o := range s.Overrides {
				over = append(over, SettingValue(o.Value)+" at "+o.At.Text())
			}
			escape.Fprintf(tw, " (over %s)", strings.Join(over, ", "))
		}
		escape.Fprintf(tw, "\n")
	}
	tw.Flush()
}

// SettingValue is a profile setting's value for a person: a list as
// [a, b, c].
func SettingValue(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return fmt.Sprint(v)
	}
	parts := make([]string, rv.Len())
	for i := range parts {
		parts[i] = fmt.Sprint(rv.Index(i).Interface())
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// ProfileText is `ezedge-host profile`: the merged profile as one profile
// file, its provenance in comments (profile.Resolved.YAML).
func ProfileText(w io.Writer, r *profile.Resolved) error {
	b, err := r.YAML()
	if err != nil {
		return err
	}
	return escape.Lines(w, "", string(b))
}

// JSONProfile is the profile a plan was made with: kind layers (each file
// read, in the order merged: path and where, root for a file in the root,
// file for --profile, install for firstboot install --profile), absent
// (the root has no layer: the platform defaults) or none (--no-profile);
// and settings, every key the layers set with the value in force and the
// layer, file and line that set it, over the earlier settings it
// overrides.
type JSONProfile struct {
	Kind     string        `json:"kind"`
	Layers   []JSONLayer   `json:"layers"`
	Settings []JSONSetting `json:"settings"`
}

// JSONLayer is one file of a profile.
type JSONLayer struct {
	Path  string `json:"path"`
	Where string `json:"where"`
}

// JSONPlace is where a setting was made: its layer's index, file and line.
type JSONPlace struct {
	Layer int    `json:"layer"`
	File  string `json:"file"`
	Line  int    `json:"line"`
}

// JSONSetting is one key a profile sets: key is enabled or an option's;
// default is the option's default (null for enabled: the platform's);
// overrides are the earlier layers' settings of it, the earliest first.
type JSONSetting struct {
	Task    string `json:"task"`
	Key     string `json:"key"`
	Value   any    `json:"value"`
	Default any    `json:"default"`
	JSONPlace
	Overrides []JSONOverride `json:"overrides"`
}

// JSONOverride is an earlier layer's setting of a key: its value, and
// where.
type JSONOverride struct {
	Value any `json:"value"`
	JSONPlace
}

// NewProfile is the JSON of o; nil when the plan does not say.
func NewProfile(o profile.Origin) *JSONProfile {
	if o.Kind == "" {
		return nil
	}
	j := &JSONProfile{Kind: string(o.Kind), Layers: []JSONLayer{}, Settings: []JSONSetting{}}
	for _, l := range o.Layers {
		j.Layers = append(j.Layers, JSONLayer{l.Path, string(l.Where)})
	}
	place := func(p profile.Place) JSONPlace { return JSONPlace{p.Layer, p.File, p.Line} }
	for _, s := range o.Settings {
		js := JSONSetting{Task: s.Task, Key: s.Key, Value: s.Value, Default: s.Default, JSONPlace: place(s.At), Overrides: []JSONOverride{}}
		for _, o := range s.Overrides {
			js.Overrides = append(js.Overrides, JSONOverride{o.Value, place(o.At)})
		}
		j.Settings = append(j.Settings, js)
	}
	return j
}

// JSONProfileResult is `ezedge-host profile --output json`: the profile
// every command plans with on root, and the names in its profile.d that
// are not read, with why.
type JSONProfileResult struct {
	FormatVersion int           `json:"format_version"`
	Root          string        `json:"root"`
	Profile       *JSONProfile  `json:"profile"`
	Ignored       []JSONIgnored `json:"ignored"`
}

// JSONIgnored is a name in profile.d that is not a layer.
type JSONIgnored struct {
	Path string `json:"path"`
	Why  string `json:"why"`
}

// NewProfileResult is the JSON of r, resolved for root.
func NewProfileResult(root string, r *profile.Resolved) JSONProfileResult {
	j := JSONProfileResult{FormatVersion: FormatVersion, Root: root, Profile: NewProfile(r.Origin), Ignored: []JSONIgnored{}}
	for _, ig := range r.Ignored {
		j.Ignored = append(j.Ignored, JSONIgnored{ig.Path, ig.Why})
	}
	return j
}
