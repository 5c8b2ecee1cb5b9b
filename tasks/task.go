// Package tasks holds the tuning items of the performance guide, one file
// each. A task registers itself (Register, in its file's init) with
// everything about it: its name, a summary, when it runs by default, its
// options (a struct with YAML tags, its defaults and their bounds), the
// facts it needs read, and its Plan: a pure function of the host's facts
// and its options that says which resources should hold which values, its
// lines in the owned files and the warnings of its precedence checks. The
// profile schema, the task list in --help and the documentation's task
// table derive from the registry.
package tasks

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/alloc"
	"github.com/ezansiedgeai/ezedge-host/internal/formats/cmdline"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// Want is a resource a task wants to hold a value.
type Want struct {
	Resource resource.Resource
	Desired  resource.State
	// Edit, when set, makes the desired state from the current one
	// instead: a file another program writes too (one line changes), a
	// unit whose links come from its [Install] section.
	Edit  func(cur resource.State) resource.State
	Notes []string
	// Current is the resource's state where the facts have just read it;
	// nil has the plan read it.
	Current *resource.State
	// Reboot: a change of the resource takes effect only at the next boot
	// (a unit's configuration read when it starts, a mount's options).
	Reboot bool
}

// Pending is a setting that is in its file already but not in force yet:
// What names it, Why says where it is and what makes it take effect.
type Pending struct{ What, Why string }

// Fragment is a task's lines in one of the owned files.
type Fragment struct {
	File  string
	Lines []string
}

// Intent is what a task plans: its wants, or why it is skipped.
type Intent struct {
	Wants     []Want
	Fragments []Fragment
	// KernelArgs go on the kernel command line; the planner puts those of
	// every task into the boot loader's configuration together.
	KernelArgs []cmdline.Arg
	Skip       string
	// Refuse stops the plan with this reason: the task is on but doing it
	// would destroy something (a populated container store) or edit a
	// file it cannot edit safely. RefuseFile names what it is about.
	Refuse, RefuseFile string
	Notes              []string
	// Warnings come from the task's precedence checks: another file that
	// undoes what it persists.
	Warnings []string
	// RebootPending lists what the task's files hold already that the
	// running host does not have yet (the plan's "Reboot pending").
	RebootPending []Pending
}

// Skip is the intent of a task that does not run, and why.
func Skip(why string) Intent { return Intent{Skip: why} }

// Refuse is the intent of a task that is on but must not run here.
func Refuse(file, why string) Intent { return Intent{Refuse: why, RefuseFile: file} }

// Problem is an option value a task refuses, by its YAML key.
type Problem struct {
	Field, Msg string
}

// Task is one registered tuning item.
type Task interface {
	Name() string
	// Summary says in one line what the task sets.
	Summary() string
	// When says in words when it runs without a profile.
	When() string
	// Default says whether it runs on this host without a profile, and
	// why not when it does not.
	Default(f *platform.Facts) (bool, string)
	// NewOptions is a new *O holding the task's default options.
	NewOptions() any
	// Check validates decoded options (bounds in the struct tags, then the
	// task's own rules).
	Check(opts any) []Problem
	// Plan is what the task wants on the host with facts f; c are the
	// profile's choices of every task, for a plan that rests on what the
	// others plan (container-resources: the memory they keep).
	Plan(f *platform.Facts, opts any, c Choices) Intent
	// Reserves is the memory the task, planned with opts, keeps from
	// containers (nil: none); see Reserved.
	Reserves(f *platform.Facts, opts any) *alloc.Reserve
	// Observe is what the task needs read into the facts.
	Observe() platform.Observe
	// Measures are the figures its changes bear on, taken before and
	// after a measured apply (`apply --measure`).
	Measures() []measure.Kind
}

// Def defines a task with options of type O, a struct whose fields have a
// yaml tag and may have doc, min, max and enum tags (the profile's bounds;
// enum is comma-separated).
type Def[O any] struct {
	Name, Summary, When string
	// Order places the task in the plan (and so in every output); no two
	// tasks share one.
	Order   int
	Observe platform.Observe
	Default func(f *platform.Facts) (bool, string)
	Options O
	// Check, when set, adds rules the tags cannot say.
	Check func(o *O) []Problem
	Plan  func(f *platform.Facts, o *O) Intent
	// PlanAmong, when set, plans instead of Plan, with every task's
	// choices (Task.Plan).
	PlanAmong func(f *platform.Facts, o *O, c Choices) Intent
	// Reserves, when set, is the memory the task keeps from containers
	// when it runs with o: the container budget subtracts it.
	Reserves func(f *platform.Facts, o *O) *alloc.Reserve
	// Measures are the figures its changes bear on (none: nothing a
	// short measurement shows, like a radio switched off).
	Measures []measure.Kind
}

type task[O any] struct{ d Def[O] }

func (t task[O]) Name() string                             { return t.d.Name }
func (t task[O]) Summary() string                          { return t.d.Summary }
func (t task[O]) When() string                             { return t.d.When }
func (t task[O]) Default(f *platform.Facts) (bool, string) { return t.d.Default(f) }
func (t task[O]) Observe() platform.Observe                { return t.d.Observe }
func (t task[O]) Measures() []measure.Kind                 { return t.d.Measures }
func (t task[O]) NewOptions() any                          { o := t.d.Options; return clone(&o) }
func (t task[O]) Plan(f *platform.Facts, opts any, c Choices) Intent {
	if t.d.PlanAmong != nil {
		return t.d.PlanAmong(f, opts.(*O), c)
	}
	return t.d.Plan(f, opts.(*O))
}
func (t task[O]) Reserves(f *platform.Facts, opts any) *alloc.Reserve {
	if t.d.Reserves == nil {
		return nil
	}
	return t.d.Reserves(f, opts.(*O))
}
func (t task[O]) Check(opts any) []Problem { return t.check(opts.(*O)) }
func (t task[O]) check(o *O) []Problem     { return append(tagProblems(o), t.custom(o)...) }
func (t task[O]) custom(o *O) []Problem    { return orNone(t.d.Check, o) }
func orNone[O any](f func(*O) []Problem, o *O) []Problem {
	if f == nil {
		return nil
	}
	return f(o)
}

// clone copies o deeply enough that slices in defaults are not shared.
func clone[O any](o *O) *O {
	v := reflect.ValueOf(o).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Slice && !f.IsNil() {
			c := reflect.MakeSlice(f.Type(), f.Len(), f.Len())
			reflect.Copy(c, f)
			f.Set(c)
		}
	}
	return o
}

var registry []struct {
	order int
	t     Task
}

// Register adds a task; every task file calls it from init.
func Register[O any](d Def[O]) {
	if d.Name == "" || (d.Plan == nil) == (d.PlanAmong == nil) || d.Default == nil {
		panic("tasks: incomplete definition of " + d.Name)
	}
	if _, dup := ByName(d.Name); dup {
		panic("tasks: " + d.Name + " registered twice")
	}
	for _, r := range registry {
		// The plan's order, and so every output's, must not depend on
		// the order Go runs the files' init functions in.
		if r.order == d.Order {
			panic(fmt.Sprintf("tasks: %s and %s share Order %d", r.t.Name(), d.Name, d.Order))
		}
	}
	if reflect.TypeFor[O]().Kind() != reflect.Struct {
		panic("tasks: options of " + d.Name + " are not a struct")
	}
	registry = append(registry, struct {
		order int
		t     Task
	}{d.Order, task[O]{d}})
	slices.SortStableFunc(registry, func(a, b struct {
		order int
		t     Task
	}) int {
		return a.order - b.order
	})
}

// All is every task, in plan order.
func All() []Task {
	out := make([]Task, len(registry))
	for i, r := range registry {
		out[i] = r.t
	}
	return out
}

// ByName finds a task.
func ByName(name string) (Task, bool) {
	for _, r := range registry {
		if r.t.Name() == name {
			return r.t, true
		}
	}
	return nil, false
}

// Names lists the tasks' names in plan order.
func Names() []string {
	var out []string
	for _, t := range All() {
		out = append(out, t.Name())
	}
	return out
}

// Observations is what every task needs read into the facts.
func Observations() platform.Observe {
	var ob platform.Observe
	for _, t := range All() {
		ob = ob.Merge(t.Observe())
	}
	return ob
}

// Settings is a task's entry in a profile: on or off (nil: the platform's
// default) and its options (nil: the defaults).
type Settings struct {
	Enabled *bool
	Options any
}

// Choices are a profile's settings by task name; a task without an entry
// takes its defaults.
type Choices map[string]Settings

// Options are t's options under c.
func (c Choices) Options(t Task) any {
	if s, ok := c[t.Name()]; ok && s.Options != nil {
		return s.Options
	}
	return t.NewOptions()
}

// Enabled says whether c turns t on or off, and whether it says at all.
func (c Choices) Enabled(t Task) (on, set bool) {
	if s, ok := c[t.Name()]; ok && s.Enabled != nil {
		return *s.Enabled, true
	}
	return false, false
}

// Field describes one option, for the profile schema and the docs.
type Field struct {
	Key, Doc string
	// Kind is "integer", "boolean", "string", or "integers" or "strings"
	// (a list).
	Kind     string
	Default  any
	Min, Max *int64
	Enum     []string
}

// Fields describes t's options.
func Fields(t Task) []Field {
	v := reflect.ValueOf(t.NewOptions()).Elem()
	var out []Field
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		key, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		f := Field{Key: key, Doc: sf.Tag.Get("doc"), Default: v.Field(i).Interface()}
		switch sf.Type.Kind() {
		case reflect.Int, reflect.Int64:
			f.Kind = "integer"
		case reflect.Bool:
			f.Kind = "boolean"
		case reflect.String:
			f.Kind = "string"
		case reflect.Slice:
			f.Kind = "integers"
			if sf.Type.Elem().Kind() == reflect.String {
				f.Kind = "strings"
			}
		}
		if s, ok := sf.Tag.Lookup("min"); ok {
			n, _ := strconv.ParseInt(s, 10, 64)
			f.Min = &n
		}
		if s, ok := sf.Tag.Lookup("max"); ok {
			n, _ := strconv.ParseInt(s, 10, 64)
			f.Max = &n
		}
		if s, ok := sf.Tag.Lookup("enum"); ok {
			f.Enum = strings.Split(s, ",")
		}
		out = append(out, f)
	}
	return out
}

// CheckBounds checks only the bounds of opts' fields (their min, max and
// enum tags): each problem is about one field's own value, so a file that
// sets some options is checked with it on its own, where Check's rules
// between values need the options a profile's layers make together.
func CheckBounds(opts any) []Problem { return tagProblems(opts) }

// tagProblems checks the min, max and enum tags of o's fields.
func tagProblems(o any) []Problem {
	v := reflect.ValueOf(o).Elem()
	var out []Problem
	for i := range v.NumField() {
		sf, fv := v.Type().Field(i), v.Field(i)
		key, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		check := func(n int64) string {
			lo, hasLo := sf.Tag.Lookup("min")
			hi, hasHi := sf.Tag.Lookup("max")
			l, _ := strconv.ParseInt(lo, 10, 64)
			h, _ := strconv.ParseInt(hi, 10, 64)
			if hasLo && n < l || hasHi && n > h {
				return fmt.Sprintf("out of range %s..%s", lo, hi)
			}
			return ""
		}
		switch fv.Kind() {
		case reflect.Int, reflect.Int64:
			if msg := check(fv.Int()); msg != "" {
				out = append(out, Problem{key, fmt.Sprintf("%d %s", fv.Int(), msg)})
			}
		case reflect.String:
			if e, ok := sf.Tag.Lookup("enum"); ok && !slices.Contains(strings.Split(e, ","), fv.String()) {
				out = append(out, Problem{key, fmt.Sprintf("%q is not one of %s", fv.String(), strings.ReplaceAll(e, ",", ", "))})
			}
		}
	}
	return out
}

// Facts are a host's facts, as the tasks plan from them.
type Facts = platform.Facts

// MeasuresOf is the figures the named tasks' changes bear on, each once,
// in the order measure takes them.
func MeasuresOf(names []string) []measure.Kind {
	want := map[measure.Kind]bool{}
	for _, n := range names {
		if t, ok := ByName(n); ok {
			for _, k := range t.Measures() {
				want[k] = true
			}
		}
	}
	var out []measure.Kind
	for _, k := range append(slices.Clone(measure.Kinds), measure.HTTP) {
		if want[k] {
			out = append(out, k)
		}
	}
	return out
}
