package profile

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// A profile is decoded by walking the YAML syntax tree against the schema
// (Go structs with yaml tags), not by a YAML library's lenient decoding:
// each value must be of its field's YAML type exactly ("1024" in quotes is
// a string, not a number; yes is a string, not a boolean), every key must
// be known and appear once, a number must fit its field, and a file is one
// document. Anchors, aliases, merge keys and tags have no place in a
// profile and are refused rather than half-supported.

// fieldError is one problem, at a line, naming the key's path.
type fieldError struct {
	line int
	path string
	msg  string
}

func (e fieldError) Error() string { return fmt.Sprintf("%d: %s: %s", e.line, e.path, e.msg) }

var decimal = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// decoder walks one document, collecting errors and the line of each key.
type decoder struct {
	errs  []fieldError
	lines map[string]int
}

// document parses b and returns the body of its one document.
func document(b []byte) (ast.Node, *fieldError) {
	f, err := parser.ParseBytes(b, 0)
	if err != nil {
		e := yamlSyntax(err)
		return nil, &e
	}
	var body ast.Node
	for i, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		if i > 0 && body != nil {
			return nil, &fieldError{line(d.Body), "(file)", "a second YAML document (after ---): a profile is one document"}
		}
		body = d.Body
	}
	if body == nil {
		return nil, &fieldError{1, "(file)", "empty: want at least version: 1"}
	}
	return body, nil
}

func yamlSyntax(err error) fieldError {
	type tokened interface {
		GetToken() *token.Token
		GetMessage() string
	}
	if te, ok := err.(tokened); ok {
		l := 0
		if tk := te.GetToken(); tk != nil && tk.Position != nil {
			l = tk.Position.Line
		}
		return fieldError{l, "(file)", strings.Join(strings.Fields(te.GetMessage()), " ")}
	}
	return fieldError{0, "(file)", strings.Join(strings.Fields(err.Error()), " ")}
}

func line(n ast.Node) int {
	if n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

// yamlKind says what a node is, for "is a …, want a …".
func yamlKind(n ast.Node) string {
	switch n.(type) {
	case *ast.IntegerNode:
		return "number"
	case *ast.FloatNode:
		return "decimal number"
	case *ast.BoolNode:
		return "boolean"
	case *ast.StringNode, *ast.LiteralNode:
		return "string"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "mapping"
	case *ast.SequenceNode:
		return "list"
	case *ast.NullNode:
		return "null"
	}
	return "value"
}

func goKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "number"
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Slice:
		return "list of " + goKind(t.Elem()) + "s"
	case reflect.Struct, reflect.Map:
		return "mapping"
	case reflect.Pointer:
		return goKind(t.Elem())
	}
	return t.Kind().String()
}

// mappingValues lists a mapping's key/value pairs (a single-pair mapping
// may come as a bare MappingValueNode).
func mappingValues(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, true
	}
	return nil, false
}

// fields maps a struct's yaml keys to field indexes (inline structs'
// fields included).
func fields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opt, _ := strings.Cut(tag, ",")
		if opt == "inline" {
			for k, idx := range fields(f.Type) {
				out[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name != "" && name != "-" {
			out[name] = []int{i}
		}
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// node decodes n into v, at path for messages: by v's kind, each refusing
// what does not fit it.
func (d *decoder) node(n ast.Node, v reflect.Value, path string) {
	bad := func(msg string) { d.errs = append(d.errs, fieldError{line(n), path, msg}) }
	switch n.(type) {
	case *ast.AnchorNode, *ast.AliasNode, *ast.TagNode, *ast.MergeKeyNode:
		bad("YAML anchors, aliases, merge keys and tags are not used in a profile")
		return
	}
	if v.Kind() == reflect.Pointer {
		if _, null := n.(*ast.NullNode); null {
			bad("has no value")
			return
		}
		nv := reflect.New(v.Type().Elem())
		d.node(n, nv.Elem(), path)
		v.Set(nv)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.structure(n, v, path, bad)
	case reflect.Map:
		d.entries(n, v, path, bad)
	case reflect.Int, reflect.Int64:
		number(n, v, bad)
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			bad(fmt.Sprintf("%s is a %s, want a boolean (true or false)", quoteValue(n), yamlKind(n)))
			return
		}
		v.SetBool(b.Value)
	case reflect.String:
		s, ok := n.(*ast.StringNode)
		if !ok {
			bad(fmt.Sprintf("%s is a %s, want a string", quoteValue(n), yamlKind(n)))
			return
		}
		v.SetString(s.Value)
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			bad(fmt.Sprintf("is a %s, want a %s", yamlKind(n), goKind(v.Type())))
			return
		}
		out := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
		for i, e := range seq.Values {
			d.node(e, out.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(out)
	default:
		bad("cannot be set in a profile")
	}
}

// structure decodes a mapping into struct v: each key a known field, once.
func (d *decoder) structure(n ast.Node, v reflect.Value, path string, bad func(string)) {
	vals, ok := mappingValues(n)
	if !ok {
		bad(fmt.Sprintf("is a %s, want a mapping", yamlKind(n)))
		return
	}
	known := fields(v.Type())
	seen := map[string]bool{}
	for _, mv := range vals {
		if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
			d.errs = append(d.errs, fieldError{line(mv.Key), path, "YAML merge keys (<<) are not used in a profile"})
			continue
		}
		key := keyName(mv.Key)
		kp := join(path, key)
		if seen[key] {
			d.errs = append(d.errs, fieldError{line(mv.Key), kp, "appears twice"})
			continue
		}
		seen[key] = true
		d.lines[kp] = line(mv.Key)
		idx, ok := known[key]
		if !ok {
			d.errs = append(d.errs, fieldError{line(mv.Key), kp, "unknown key (known: " + strings.Join(sortedKeys(known), ", ") + ")"})
			continue
		}
		d.node(mv.Value, v.FieldByIndex(idx), kp)
	}
}

// entries decodes a mapping of named entries (tasks by name) into map v:
// the caller checks the keys against what exists.
func (d *decoder) entries(n ast.Node, v reflect.Value, path string, bad func(string)) {
	vals, ok := mappingValues(n)
	if !ok {
		bad(fmt.Sprintf("is a %s, want a mapping", yamlKind(n)))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for _, mv := range vals {
		key := keyName(mv.Key)
		kp := join(path, key)
		if v.MapIndex(reflect.ValueOf(key)).IsValid() {
			d.errs = append(d.errs, fieldError{line(mv.Key), kp, "appears twice"})
			continue
		}
		d.lines[kp] = line(mv.Key)
		ev := reflect.New(v.Type().Elem()).Elem()
		d.node(mv.Value, ev, kp)
		v.SetMapIndex(reflect.ValueOf(key), ev)
	}
}

// number decodes a plain decimal integer that fits v.
func number(n ast.Node, v reflect.Value, bad func(string)) {
	s, isInt := scalar(n)
	if !isInt {
		if str, ok := n.(*ast.StringNode); ok && decimal.MatchString(s) && str.Token.Type == token.StringType {
			bad(fmt.Sprintf("%s does not fit in a number", s))
			return
		}
		bad(fmt.Sprintf("%s is a %s, want a number", quoteValue(n), yamlKind(n)))
		return
	}
	if !decimal.MatchString(s) {
		bad(fmt.Sprintf("%s: write numbers in plain decimal", s))
		return
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil || (v.Kind() == reflect.Int && (i > math.MaxInt32 || i < math.MinInt32)) {
		bad(fmt.Sprintf("%s does not fit in a number", s))
		return
	}
	v.SetInt(i)
}

// keyName is a mapping key as YAML means it: a quoted key ("swappiness",
// as JSON writes every key, and JSON is YAML) is its string, not its source
// text with the quotes.
func keyName(k ast.MapKeyNode) string {
	if s, ok := k.(*ast.StringNode); ok {
		return s.Value
	}
	return k.String()
}

// scalar is an integer node's text, and whether it is one.
func scalar(n ast.Node) (string, bool) {
	if i, ok := n.(*ast.IntegerNode); ok {
		return i.Token.Value, true
	}
	if s, ok := n.(*ast.StringNode); ok {
		return s.Value, false
	}
	return "", false
}

func quoteValue(n ast.Node) string {
	switch x := n.(type) {
	case *ast.StringNode:
		return strconv.Quote(x.Value)
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
		return "it"
	case nil:
		return "it"
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return "it"
}

func sortedKeys(m map[string][]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
