// Package profile reads the YAML profile that turns tasks on or off and
// overrides their options, decoded against the task registry: each task's
// entry into its own options. It is strict: an unknown key, a value of
// another YAML type, a duplicate key, a value out of range or a second
// document is an error naming file, line and key.
//
// A host's profile is layered (Resolve): its /etc/ezedge-host/profile.yaml,
// then /etc/ezedge-host/profile.d/*.yaml in lexical order, then the files
// --profile names, in the order given. Each layer is a whole profile, read
// and checked on its own; a later layer's `enabled` and each option it sets
// override an earlier one's, key by key (a list is replaced, not appended
// to); the tasks' rules between values are checked on the merge; and every
// key the layers set is kept with the file and line that set it last (its
// provenance, Setting).
package profile

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/tasks"
	"github.com/goccy/go-yaml/ast"
)

// MaxSize bounds a profile file; a real one is a few hundred bytes.
const MaxSize = 64 << 10

// Version is the profile format this build reads.
const Version = 1

// NamedFile is what a profile is as a file the operator names: at most
// MaxSize bytes, a regular file or a pipe (--profile <(generate)).
var NamedFile = hostroot.Named{What: "profile", Limit: MaxSize, Pipe: true}

// Read reads the profile file name (hostroot.ReadNamed): a FIFO, a device,
// a directory or a file over MaxSize is refused in one line naming it.
func Read(name string) ([]byte, error) {
	return hostroot.ReadNamed(name, NamedFile)
}

// Parse reads one profile file, alone; name is used in errors. Each task's
// entry is decoded into that task's own options (tasks.Register) and
// checked by it.
func Parse(name string, b []byte) (tasks.Choices, error) {
	l, err := decodeLayer(name, b)
	if err != nil {
		return nil, err
	}
	c, _, err := merge([]Layer{{Path: name}}, []*layer{l})
	return c, err
}

// decodeLayer decodes one profile file and checks what it sets on its own:
// its keys, their YAML types and each value's bounds. The tasks' rules
// between values wait for the merge (merge), where the values of every
// layer are known.
func decodeLayer(name string, b []byte) (l *layer, err error) {
	// go-yaml v1.19.2 panics on some malformed input (a tag on an empty
	// sequence item, found by FuzzParse): that is a bad profile, not a
	// crash.
	defer func() {
		if r := recover(); r != nil {
			l, err = nil, fmt.Errorf("profile %s: not a valid profile (the YAML parser failed: %s)", printable(name), printable(fmt.Sprint(r)))
		}
	}()
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return nil, fmt.Errorf("profile %s:%d: binary data (NUL byte), not YAML", printable(name), bytes.Count(b[:i], []byte("\n"))+1)
	}
	// YAML is Unicode; a saved plan keeps a layer's bytes in JSON, which
	// would replace an invalid byte and no longer match them.
	if !utf8.Valid(b) {
		n := 0
		for len(b[n:]) > 0 {
			r, size := utf8.DecodeRune(b[n:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			n += size
		}
		return nil, fmt.Errorf("profile %s:%d: not UTF-8 (a YAML file is Unicode text)", printable(name), bytes.Count(b[:n], []byte("\n"))+1)
	}
	body, ferr := document(b)
	if ferr != nil {
		return nil, lineErrors(name, []fieldError{*ferr})
	}
	d := &decoder{lines: map[string]int{}}
	l = &layer{}
	var version *int
	vals, ok := mappingValues(body)
	if !ok {
		return nil, lineErrors(name, []fieldError{{line(body), "(file)", "is a " + yamlKind(body) + ", want a mapping (version: 1, tasks: …)"}})
	}
	seen := map[string]bool{}
	for _, mv := range vals {
		key := keyName(mv.Key)
		if seen[key] {
			d.errs = append(d.errs, fieldError{line(mv.Key), key, "appears twice"})
			continue
		}
		seen[key] = true
		d.lines[key] = line(mv.Key)
		switch key {
		case "version":
			d.node(mv.Value, reflect.ValueOf(&version).Elem(), key)
		case "tasks":
			d.tasks(mv.Value, l)
		default:
			d.errs = append(d.errs, fieldError{line(mv.Key), key, "unknown key (known: version, tasks)"})
		}
	}
	if len(d.errs) == 0 {
		switch {
		case version == nil:
			d.errs = append(d.errs, fieldError{1, "version", fmt.Sprintf("missing (want version: %d)", Version)})
		case *version != Version:
			d.errs = append(d.errs, fieldError{d.lines["version"], "version", fmt.Sprintf("%d is not supported (this build reads version %d)", *version, Version)})
		}
	}
	if len(d.errs) > 0 {
		return nil, lineErrors(name, d.errs)
	}
	return l, nil
}

// tasks decodes the tasks mapping: each entry into its task's options,
// noting which keys it sets and where, each value checked against its
// bounds.
func (d *decoder) tasks(n ast.Node, l *layer) {
	vals, ok := mappingValues(n)
	if !ok {
		if _, null := n.(*ast.NullNode); !null {
			d.errs = append(d.errs, fieldError{line(n), "tasks", "is a " + yamlKind(n) + ", want a mapping of task names"})
		}
		return
	}
	for _, mv := range vals {
		name := keyName(mv.Key)
		path := "tasks." + name
		d.lines[path] = line(mv.Key)
		t, ok := tasks.ByName(name)
		if !ok {
			d.errs = append(d.errs, fieldError{line(mv.Key), path, "unknown task (known: " + strings.Join(tasks.Names(), ", ") + ")"})
			continue
		}
		if l.entry(name) != nil {
			d.errs = append(d.errs, fieldError{line(mv.Key), path, "appears twice"})
			continue
		}
		opts := reflect.ValueOf(t.NewOptions())
		ev := reflect.New(reflect.StructOf([]reflect.StructField{
			{Name: "Enabled", Type: reflect.TypeFor[*bool](), Tag: `yaml:"enabled"`},
			{Name: "Options", Type: opts.Type().Elem(), Tag: `yaml:",inline"`},
		})).Elem()
		ev.Field(1).Set(opts.Elem())
		before := len(d.errs)
		if _, null := mv.Value.(*ast.NullNode); !null {
			d.node(mv.Value, ev, path)
		}
		if len(d.errs) > before {
			continue
		}
		opts.Elem().Set(ev.Field(1))
		e := &entry{task: t, line: d.lines[path], opts: opts.Interface()}
		if on := ev.Field(0).Interface().(*bool); on != nil {
			e.enabled, e.enabledLine = on, d.lines[path+".enabled"]
		}
		for key, idx := range fields(opts.Type().Elem()) {
			if ln, ok := d.lines[path+"."+key]; ok {
				e.set = append(e.set, setField{key, idx, ln})
			}
		}
		slices.SortFunc(e.set, func(a, b setField) int { return slices.Compare(a.index, b.index) })
		// Bounds are each value's own: checked here, in the file that
		// sets the value, even where a later layer overrides it.
		for _, p := range tasks.CheckBounds(e.opts) {
			if f, ok := e.sets(p.Field); ok {
				d.errs = append(d.errs, fieldError{f.line, path + "." + p.Field, p.Msg})
			}
		}
		l.entries = append(l.entries, e)
	}
}

// lineErrors is one line per problem, in line order.
func lineErrors(name string, errs []fieldError) error {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].line < errs[j].line })
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = fmt.Sprintf("profile %s:%d: %s: %s", printable(name), e.line, printable(e.path), printable(e.msg))
	}
	return errors.New(strings.Join(msgs, "\n"))
}

// printable escapes what would break an error onto a second line or hide
// in a terminal: a key or value in a profile is text from a file, and a
// quoted YAML key may hold a newline or an escape sequence; so may the
// name of a file in a root.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) < 0 {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}
