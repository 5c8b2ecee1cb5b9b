package escape

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// The code that writes outputs: every view, and the CLI (its tree, and
// what it does below it).
var outputDirs = []string{"internal/view", "cmd/ezedge-host", "internal/command"}

// writers are the calls that would write a string to an output as it is.
// Text goes through Fprintf and Lines; JSON through view.WriteJSON; XML
// and the Prometheus format through their renderers in view/check.go.
var writers = map[string]string{
	"fmt.Print": "text", "fmt.Printf": "text", "fmt.Println": "text",
	"fmt.Fprint": "text", "fmt.Fprintf": "text", "fmt.Fprintln": "text",
	"io.WriteString": "text", "io.Copy": "text", "os.Stdout": "text", "os.Stderr": "text",
	"json.NewEncoder": "JSON", "json.Marshal": "JSON", "json.MarshalIndent": "JSON",
	"xml.NewEncoder": "XML", "xml.Marshal": "XML", "xml.MarshalIndent": "XML",
}

// allowed are the one place of each output (file: function), and main,
// which hands os.Stdout and os.Stderr to run.
var allowed = map[string]bool{
	"internal/view/plan.go:WriteJSON":   true,
	"internal/view/check.go:CheckJUnit": true,
	"cmd/ezedge-host/main.go:main":      true,
}

var charVerb = regexp.MustCompile(`%[-+# 0-9.*]*c`)

// TestOutputsWriteOnlyThroughEscape: no view and no command writes to an
// output but through this package's text functions or its format's one
// renderer, so a new output cannot forget to escape what a host said.
func TestOutputsWriteOnlyThroughEscape(t *testing.T) {
	t.Parallel()
	_, self, _, _ := runtime.Caller(0)
	mod := filepath.Join(filepath.Dir(self), "..", "..", "..")
	n := 0
	for _, dir := range outputDirs {
		err := filepath.WalkDir(filepath.Join(mod, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "escape" || d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			rel, _ := filepath.Rel(mod, p)
			f, err := parser.ParseFile(token.NewFileSet(), p, nil, 0)
			if err != nil {
				return err
			}
			n++
			for _, decl := range f.Decls {
				fn, ok := decl.(*ast.FuncDecl)
				if !ok {
					continue
				}
				ast.Inspect(fn, func(x ast.Node) bool {
					if call, ok := x.(*ast.CallExpr); ok && len(call.Args) > 1 {
						// Fprintf passes numbers as they are: %c would
						// print one as a raw character.
						if lit, ok := call.Args[1].(*ast.BasicLit); ok && lit.Kind == token.STRING && charVerb.MatchString(lit.Value) {
							t.Errorf("%s: %s formats a character with %%c: %s", rel, fn.Name.Name, lit.Value)
						}
					}
					sel, ok := x.(*ast.SelectorExpr)
					if !ok {
						return true
					}
					if id, ok := sel.X.(*ast.Ident); ok {
						if what, bad := writers[id.Name+"."+sel.Sel.Name]; bad && !allowed[rel+":"+fn.Name.Name] {
							t.Errorf("%s: %s writes %s output with %s.%s; write through internal/view/escape (or the format's renderer)", rel, fn.Name.Name, what, id.Name, sel.Sel.Name)
						}
					}
					switch sel.Sel.Name {
					case "Print", "Printf", "Println", "PrintErr", "PrintErrf", "PrintErrln":
						// cobra's Command.Print*: unescaped.
						t.Errorf("%s: %s prints with .%s; write through internal/view/escape", rel, fn.Name.Name, sel.Sel.Name)
					}
					return true
				})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n < 10 {
		t.Fatalf("only %d files looked at", n)
	}
}
