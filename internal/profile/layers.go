package profile

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// layer is one profile file, decoded and checked on its own: what each
// task's entry sets, key by key, with its lines.
type layer struct {
	entries []*entry
}

func (l *layer) entry(task string) *entry {
	for _, e := range l.entries {
		if e.task.Name() == task {
			return e
		}
	}
	return nil
}

// entry is a task's entry in one layer.
type entry struct {
	task tasks.Task
	// line is the task's key.
	line int
	// enabled is nil when the entry does not say; enabledLine is its key.
	enabled     *bool
	enabledLine int
	// opts is *O: the task's default options with this layer's values.
	opts any
	// set are the options this layer sets, in the options' field order.
	set []setField
}

// setField is an option a layer sets: its YAML key, its field in the
// options struct and the line of its key.
type setField struct {
	key   string
	index []int
	line  int
}

// sets finds the option a problem's field names ("tcp_rmem",
// "containers[1]") among those e sets.
func (e *entry) sets(field string) (setField, bool) {
	key := optionKey(field)
	for _, f := range e.set {
		if f.key == key {
			return f, true
		}
	}
	return setField{}, false
}

// optionKey is the option a tasks.Problem's field is about: "containers"
// for "containers[1]".
func optionKey(field string) string {
	if i := strings.IndexAny(field, "[."); i >= 0 {
		return field[:i]
	}
	return field
}

// Place is where a value was set: a layer (its index in Origin.Layers,
// and its path) and the line of the key.
type Place struct {
	Layer int    `json:"layer"`
	File  string `json:"file"`
	Line  int    `json:"line"`
}

// Text is "FILE:LINE", printable.
func (p Place) Text() string { return printable(p.File) + ":" + strconv.Itoa(p.Line) }

// EnabledKey is the Key of a Setting that turns a task on or off.
const EnabledKey = "enabled"

// Setting is one key the profile's layers set: a task's EnabledKey or one
// of its options, the value in force (the last layer's), where that was
// set, and the earlier layers' settings of it that it overrides. Every key
// a layer sets is one (an option set to its default value too: it may
// override an earlier layer); what no layer sets is the platform's or the
// task's default.
type Setting struct {
	Task string `json:"task"`
	Key  string `json:"key"`
	// Value is the option's type (int64, int, bool, string, []int64,
	// []string); a bool for EnabledKey.
	Value any `json:"value"`
	// Default is the option's default; nil for EnabledKey, whose default
	// is the platform's (tasks.Task.Default).
	Default any   `json:"default"`
	At      Place `json:"at"`
	// Overrides are the earlier layers' settings of the same key, the
	// earliest first.
	Overrides []Override `json:"overrides"`
}

// Override is an earlier layer's setting of a key, overridden by a later
// one: its value and where it was set.
type Override struct {
	Value any   `json:"value"`
	At    Place `json:"at"`
}

// merge makes the profile of layers (files names each, in the same order):
// for each task any layer names, `enabled` and each option from the last
// layer that sets it; then each task's own rules on its merged options. An
// error names the file and line of the value refused, and the files that
// set the task's other options when they played a part.
func merge(files []Layer, layers []*layer) (tasks.Choices, []Setting, error) {
	c := tasks.Choices{}
	settings := []Setting{}
	var errs []mergeError
	for _, t := range tasks.All() {
		named := false
		var enabled *bool
		var enabledAt []Override
		merged := reflect.ValueOf(t.NewOptions())
		defaults := reflect.ValueOf(t.NewOptions()).Elem()
		at := map[string][]Override{}
		var keys []setField // each option set, once, in field order
		var last Place      // the task's key in the last layer naming it
		for i, l := range layers {
			e := l.entry(t.Name())
			if e == nil {
				continue
			}
			named = true
			last = Place{i, files[i].Path, e.line}
			if e.enabled != nil {
				on := *e.enabled
				enabled = &on
				enabledAt = append(enabledAt, Override{on, Place{i, files[i].Path, e.enabledLine}})
			}
			for _, f := range e.set {
				v := reflect.ValueOf(e.opts).Elem().FieldByIndex(f.index)
				merged.Elem().FieldByIndex(f.index).Set(cloneValue(v))
				if _, seen := at[f.key]; !seen {
					keys = append(keys, f)
				}
				at[f.key] = append(at[f.key], Override{cloneValue(v).Interface(), Place{i, files[i].Path, f.line}})
			}
		}
		if !named {
			continue
		}
		for _, p := range t.Check(merged.Interface()) {
			errs = append(errs, problemAt(t.Name(), p, at, last))
		}
		c[t.Name()] = tasks.Settings{Enabled: enabled, Options: merged.Interface()}
		if enabled != nil {
			n := len(enabledAt)
			settings = append(settings, Setting{Task: t.Name(), Key: EnabledKey, Value: *enabled, At: enabledAt[n-1].At, Overrides: slices.Clone(enabledAt[:n-1])})
		}
		slices.SortFunc(keys, func(a, b setField) int { return slices.Compare(a.index, b.index) })
		for _, f := range keys {
			ps := at[f.key]
			settings = append(settings, Setting{
				Task: t.Name(), Key: f.key,
				Value:   cloneValue(merged.Elem().FieldByIndex(f.index)).Interface(),
				Default: defaults.FieldByIndex(f.index).Interface(),
				At:      ps[len(ps)-1].At, Overrides: slices.Clone(ps[:len(ps)-1]),
			})
		}
	}
	for i := range settings {
		if settings[i].Overrides == nil {
			settings[i].Overrides = []Override{}
		}
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b mergeError) int {
			return cmp.Or(cmp.Compare(a.at.Layer, b.at.Layer), cmp.Compare(a.at.Line, b.at.Line))
		})
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.String()
		}
		return nil, nil, errors.New(strings.Join(msgs, "\n"))
	}
	return c, settings, nil
}

// mergeError is a task's rule refusing its merged options.
type mergeError struct {
	at   Place
	path string
	msg  string
	// with are the other files' settings of the task's options.
	with []string
}

func (e mergeError) String() string {
	s := fmt.Sprintf("profile %s: %s: %s", e.at.Text(), printable(e.path), printable(e.msg))
	if len(e.with) > 0 {
		s += " (merged with " + strings.Join(e.with, ", ") + ")"
	}
	return s
}

// problemAt places a problem the task's rules found in its merged options:
// at the last setting of the option it names; where no layer sets that
// option (a rule between values, the other one set), at the latest setting
// of the task's options; where none is set, at the task's key in the last
// layer naming it. The settings of the task's other options from other
// files are named with it: the value refused is what they make together.
func problemAt(task string, p tasks.Problem, at map[string][]Override, last Place) mergeError {
	e := mergeError{at: last, path: "tasks." + task + "." + p.Field, msg: p.Msg}
	key := optionKey(p.Field)
	if ps, ok := at[key]; ok {
		e.at = ps[len(ps)-1].At
	} else {
		latest := Place{Layer: -1}
		for _, ps := range at {
			if l := ps[len(ps)-1].At; l.Layer > latest.Layer || l.Layer == latest.Layer && l.Line > latest.Line {
				latest = l
			}
		}
		if latest.Layer >= 0 {
			e.at = latest
		}
	}
	var others []string
	for k, ps := range at {
		if l := ps[len(ps)-1].At; k != key && l.Layer != e.at.Layer {
			others = append(others, k+" from "+l.Text())
		}
	}
	slices.Sort(others)
	e.with = others
	return e
}

// cloneValue copies v so that a slice is not shared between the layers
// and the merge.
func cloneValue(v reflect.Value) reflect.Value {
	if v.Kind() != reflect.Slice || v.IsNil() {
		return v
	}
	c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
	reflect.Copy(c, v)
	return c
}
