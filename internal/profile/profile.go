// Package profile reads the YAML profile that turns tasks on or off and
// overrides their options, decoded against the task registry: each task's
// entry into its own options, checked by the task. It is strict: an unknown
// key, a value of another YAML type, a duplicate key, a value out of range
// or a second document is an error naming file, line and key.
package profile

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/tasks"
	"github.com/goccy/go-yaml/ast"
)

// MaxSize bounds a profile; a real one is a few hundred bytes.
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

// Parse reads profile bytes; name is used in errors. Each task's entry is
// decoded into that task's own options (tasks.Register) and checked by it.
func Parse(name string, b []byte) (c tasks.Choices, err error) {
	// go-yaml v1.19.2 panics on some malformed input (a tag on an empty
	// sequence item, found by FuzzParse): that is a bad profile, not a
	// crash.
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("profile %s: not a valid profile (the YAML parser failed: %s)", name, printable(fmt.Sprint(r)))
		}
	}()
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return nil, fmt.Errorf("profile %s:%d: binary data (NUL byte), not YAML", name, bytes.Count(b[:i], []byte("\n"))+1)
	}
	body, ferr := document(b)
	if ferr != nil {
		return nil, lineErrors(name, []fieldError{*ferr})
	}
	d := &decoder{lines: map[string]int{}}
	c = tasks.Choices{}
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
			d.tasks(mv.Value, c)
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
	return c, nil
}

// tasks decodes the tasks mapping: each entry into its task's options,
// then checked by the task.
func (d *decoder) tasks(n ast.Node, c tasks.Choices) {
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
		if _, dup := c[name]; dup {
			d.errs = append(d.errs, fieldError{line(mv.Key), path, "appears twice"})
			continue
		}
		opts := reflect.ValueOf(t.NewOptions())
		entry := reflect.New(reflect.StructOf([]reflect.StructField{
			{Name: "Enabled", Type: reflect.TypeFor[*bool](), Tag: `yaml:"enabled"`},
			{Name: "Options", Type: opts.Type().Elem(), Tag: `yaml:",inline"`},
		})).Elem()
		entry.Field(1).Set(opts.Elem())
		before := len(d.errs)
		if _, null := mv.Value.(*ast.NullNode); !null {
			d.node(mv.Value, entry, path)
		}
		if len(d.errs) > before {
			continue
		}
		opts.Elem().Set(entry.Field(1))
		for _, p := range t.Check(opts.Interface()) {
			fp := path + "." + p.Field
			l, ok := d.lines[fp]
			if !ok {
				l = d.lines[path]
			}
			d.errs = append(d.errs, fieldError{l, fp, p.Msg})
		}
		c[name] = tasks.Settings{Enabled: entry.Field(0).Interface().(*bool), Options: opts.Interface()}
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
// quoted YAML key may hold a newline or an escape sequence.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) < 0 {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}
