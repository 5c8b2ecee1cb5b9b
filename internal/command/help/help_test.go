package help

import (
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// TestDescribe: every command with an entry gets its summary,
// description and examples (the root's description ends with the task
// table); what an entry leaves empty, and a command without one, keep
// their own.
func TestDescribe(t *testing.T) {
	t.Parallel()
	root := &cobra.Command{Use: "ezedge-host"}
	plan := &cobra.Command{Use: "plan"}
	other := &cobra.Command{Use: "other", Short: "its own"}
	root.AddCommand(plan, other)
	root.InitDefaultCompletionCmd()
	bash, _, _ := root.Find([]string{"completion", "bash"})
	cobraShort := bash.Short
	Describe(root)
	if root.Long != RootAbout+tasks.HelpList() || root.Short != commands["ezedge-host"].Short || root.Example == "" {
		t.Errorf("root: %q %q", root.Short, root.Long)
	}
	if plan.Short != "Show what apply would change; changes nothing" || !strings.Contains(plan.Example, "plan --diff") || plan.Long != "" {
		t.Errorf("plan: %+v", plan)
	}
	if bash.Short != cobraShort || bash.Short == "" || !strings.HasPrefix(bash.Example, "  ezedge-host completion bash") {
		t.Errorf("completion bash: %q %q", bash.Short, bash.Example)
	}
	if other.Short != "its own" || other.Example != "" {
		t.Errorf("a command without an entry: %+v", other)
	}
}

// TestEntries: every entry is a path under ezedge-host; one with a man
// page (EXIT STATUS) says when it exits 0 and 1, has examples that each
// run ezedge-host, and a summary unless cobra gives it one; each file is
// an absolute path with what it is.
func TestEntries(t *testing.T) {
	t.Parallel()
	paths := Paths()
	if len(paths) < 20 || !slices.IsSorted(paths) {
		t.Fatalf("paths %v", paths)
	}
	for _, p := range paths {
		e := commands[p]
		if p != "ezedge-host" && !strings.HasPrefix(p, "ezedge-host ") {
			t.Errorf("%s: not a command of ezedge-host", p)
		}
		if e.Short == "" && !strings.HasPrefix(p, "ezedge-host completion") {
			t.Errorf("%s: no summary", p)
		}
		if len(e.Exits) == 0 {
			if e.Example != "" || e.Files != nil {
				t.Errorf("%s: examples or files without a page", p)
			}
			continue
		}
		var codes []int
		for _, x := range e.Exits {
			codes = append(codes, int(x.Code))
			if x.When == "" {
				t.Errorf("%s: exit %d without when", p, x.Code)
			}
		}
		if !slices.Contains(codes, 0) || !slices.Contains(codes, 1) {
			t.Errorf("%s: exits %v", p, codes)
		}
		for l := range strings.Lines(e.Example) {
			if !strings.Contains(l, "ezedge-host ") {
				t.Errorf("%s: example %q runs no ezedge-host", p, l)
			}
		}
		if e.Example == "" {
			t.Errorf("%s: no example", p)
		}
		for _, f := range e.Files {
			if !strings.HasPrefix(f.Path, "/") || f.What == "" {
				t.Errorf("%s: file %+v", p, f)
			}
		}
	}
}
