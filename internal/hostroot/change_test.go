package hostroot

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/crashpoint"
)

// mutating names the calls that change a file system: methods of os.Root
// and os.File, functions of os and x/sys/unix. Outside a closure handed to
// change, the package may call them only on the Root itself (h.Remove…,
// which go through change in turn).
var mutating = map[string]bool{
	"Remove": true, "RemoveAll": true, "Mkdir": true, "MkdirAll": true, "Chmod": true, "Chown": true, "Lchown": true,
	"Symlink": true, "Link": true, "Rename": true, "Write": true, "WriteAt": true, "WriteString": true, "Sync": true,
	"Truncate": true, "WriteFile": true, "Create": true, "Chtimes": true,
	"Unlink": true, "Unlinkat": true, "Rmdir": true, "Mkdirat": true, "Renameat": true, "Renameat2": true, "Fchmod": true,
	"Fchmodat": true, "Fchown": true, "Fchownat": true, "Ftruncate": true, "Fsync": true, "Fdatasync": true,
	"Pwrite": true, "Symlinkat": true, "Linkat": true, "Fallocate": true, "Utimes": true, "UtimesNanoAt": true,
}

// TestEveryChangeIsCounted reads the package's own source: every call that
// changes the file system, and every open that creates or truncates, is
// made inside a closure passed to change, so a crash test can cut it and
// no new path can forget to be counted. (Opens whose flags are a variable
// are checked at run time instead: the adversarial suite compares what
// change counts with the system calls a real apply makes.)
func TestEveryChangeIsCounted(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	files, _ := filepath.Glob("*.go")
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		var stack []ast.Node
		ast.Inspect(f, func(n ast.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			stack = append(stack, n)
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			fname, recv := callee(call)
			changes := mutating[fname] && recv != "h"
			if !changes && (strings.HasPrefix(fname, "Open") || fname == "openChecked" || fname == "reopen") {
				changes = createsOrTruncates(call)
			}
			if !changes {
				return true
			}
			checked++
			if !insideChange(stack) {
				t.Errorf("%s: %s changes the file system outside change(): a crash test could not cut it", fset.Position(call.Pos()), render(call))
			}
			return true
		})
	}
	if checked < 15 {
		t.Fatalf("found only %d changing calls: the check no longer sees them", checked)
	}
}

// callee is the called name and, for a method or package function, the
// identifier before the dot ("d" in d.Remove, "unix" in unix.Fsync).
func callee(call *ast.CallExpr) (name, recv string) {
	switch fn := call.Fun.(type) {
	case *ast.Ident:
		return fn.Name, ""
	case *ast.SelectorExpr:
		if id, ok := fn.X.(*ast.Ident); ok {
			return fn.Sel.Name, id.Name
		}
		return fn.Sel.Name, "?"
	}
	return "", ""
}

// createsOrTruncates: an argument names O_CREAT(E) or O_TRUNC, other than
// as bits being cleared (flag &^ O_CREATE).
func createsOrTruncates(call *ast.CallExpr) bool {
	found := false
	for _, a := range call.Args {
		ast.Inspect(a, func(n ast.Node) bool {
			if b, ok := n.(*ast.BinaryExpr); ok && b.Op == token.AND_NOT {
				ast.Inspect(b.X, func(n ast.Node) bool { found = found || flagIdent(n); return true })
				return false
			}
			found = found || flagIdent(n)
			return true
		})
	}
	return found
}

func flagIdent(n ast.Node) bool {
	id, ok := n.(*ast.Ident)
	return ok && slices.Contains([]string{"O_CREAT", "O_CREATE", "O_TRUNC"}, id.Name)
}

// insideChange: the innermost function around the call is a closure passed
// to change (h.change, f.h.change).
func insideChange(stack []ast.Node) bool {
	for i := len(stack) - 1; i > 0; i-- {
		switch stack[i].(type) {
		case *ast.FuncDecl:
			return false
		case *ast.FuncLit:
			if call, ok := stack[i-1].(*ast.CallExpr); ok {
				if name, _ := callee(call); name == "change" {
					return true
				}
			}
			return false
		}
	}
	return false
}

func render(call *ast.CallExpr) string {
	name, recv := callee(call)
	if recv != "" {
		return recv + "." + name
	}
	return name
}

// TestCutterCutsEveryChange cuts one atomic replace and one in-place write
// at each of their changes, before and after: the file is only ever the old
// or the new contents (an atomic replace) or whatever a cut write left of
// it (in place, like a kernel attribute), nothing changes after the cut,
// deferred clean-ups included.
func TestCutterCutsEveryChange(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, c *crashpoint.Cutter) (root string, h *Root, err error) {
		root = t.TempDir()
		os.MkdirAll(filepath.Join(root, "etc"), 0o755)
		os.WriteFile(filepath.Join(root, "etc/x"), []byte("old\n"), 0o644)
		os.WriteFile(filepath.Join(root, "attr"), []byte("1\n"), 0o644)
		h, err = Open(root)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		h.SetCutter(c)
		if err := h.WriteAtomic("/etc/x", []byte("new\n"), 0o640, os.Geteuid(), os.Getegid()); err != nil {
			return root, h, err
		}
		if err := h.WriteInPlace("/attr", []byte("2\n")); err != nil {
			return root, h, err
		}
		f, err := h.OpenPrivate("/lock", os.O_RDWR|os.O_CREATE)
		if err != nil {
			return root, h, err
		}
		defer f.Close()
		if _, err := f.Write([]byte("pid\n")); err != nil {
			return root, h, err
		}
		return root, h, f.Sync()
	}
	full := crashpoint.New(0, crashpoint.Before).Record()
	if _, _, err := run(t, full); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, op := range full.Ops() {
		kinds = append(kinds, op.String())
	}
	want := []string{"create /etc/.x.ezedge-tmp", "write /etc/.x.ezedge-tmp"}
	if os.Geteuid() == 0 {
		want = append(want, "chown /etc/.x.ezedge-tmp")
	}
	want = append(want, "chmod /etc/.x.ezedge-tmp", "fsync /etc/.x.ezedge-tmp", "rename /etc/x", "fsync-dir /etc",
		"open-trunc /attr", "write /attr", "create /lock", "write /lock", "fsync /lock")
	if !slices.Equal(kinds, want) {
		t.Fatalf("changes counted:\n %q\nwant\n %q", kinds, want)
	}
	for k := 1; k <= full.Count(); k++ {
		for _, when := range []crashpoint.When{crashpoint.Before, crashpoint.After} {
			c := crashpoint.New(k, when)
			root, h, err := run(t, c)
			if !errors.Is(err, crashpoint.ErrCut) {
				t.Fatalf("cut %s change %d: err %v, want ErrCut", when, k, err)
			}
			if op, ok := c.Cut(); !ok || op.String() != want[k-1] {
				t.Errorf("cut %s change %d: cut %v, want %s", when, k, op, want[k-1])
			}
			// Dead: nothing more reaches the disk.
			if err := h.Mkdir("/later", 0o755); !errors.Is(err, crashpoint.ErrCut) {
				t.Errorf("cut %s change %d: a change after the cut: %v", when, k, err)
			}
			c.Kill()
			x, _ := os.ReadFile(filepath.Join(root, "etc/x"))
			tmp, tmpErr := os.ReadFile(filepath.Join(root, "etc/.x.ezedge-tmp"))
			rename := slices.Index(want, "rename /etc/x") + 1
			renamed := k > rename || k == rename && when == crashpoint.After
			switch {
			case renamed && string(x) != "new\n", !renamed && string(x) != "old\n":
				t.Errorf("cut %s change %d (%s): /etc/x holds %q", when, k, want[k-1], x)
			case renamed && tmpErr == nil:
				t.Errorf("cut %s change %d: a temporary file after the rename", when, k)
			case tmpErr == nil && string(tmp) != "" && string(tmp) != "new\n":
				t.Errorf("cut %s change %d: temporary file %q", when, k, tmp)
			}
			if _, err := os.Stat(filepath.Join(root, "later")); err == nil {
				t.Errorf("cut %s change %d: a change after the cut reached the disk", when, k)
			}
		}
	}
}
