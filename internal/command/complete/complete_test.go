package complete

import (
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// tree is a command tree with one flag of each kind of rule, a command
// that takes no argument, one that takes one, and cobra's completion.
func tree(root *string) *cobra.Command {
	run := func(*cobra.Command, []string) error { return nil }
	top := &cobra.Command{Use: "ezedge-host"}
	top.PersistentFlags().StringVar(root, "root", "/", "")
	top.PersistentFlags().String("output", "text", "")
	plan := &cobra.Command{Use: "plan", Args: cobra.NoArgs, RunE: run}
	plan.Flags().StringArray("only", nil, "")
	plan.Flags().String("profile", "", "")
	plan.Flags().Bool("diff", false, "")
	plan.Flags().String("unruled", "", "")
	apply := &cobra.Command{Use: "apply [PLANFILE]", Args: cobra.MaximumNArgs(1), RunE: run}
	apply.Flags().String("lock-timeout", "", "")
	apply.Flags().StringArray("http", nil, "")
	rollback := &cobra.Command{Use: "rollback", Args: cobra.NoArgs, RunE: run}
	rollback.Flags().String("to", "", "")
	res := &cobra.Command{Use: "resources", Args: cobra.NoArgs, RunE: run}
	res.Flags().StringArray("workload", nil, "")
	res.Flags().String("write", "", "")
	res.Flags().StringArray("form", nil, "")
	check := WithOutputs(&cobra.Command{Use: "check", Args: cobra.NoArgs, RunE: run}, view.JUnit, view.Prometheus)
	check.AddCommand(&cobra.Command{Use: "sub", RunE: run})
	top.AddCommand(plan, apply, rollback, res, check)
	top.InitDefaultCompletionCmd()
	Register(top, func() string { return *root })
	return top
}

// complete is what completing cmd's --flag offers, and the directive.
func complete(t *testing.T, top *cobra.Command, args []string, flag string) ([]string, cobra.ShellCompDirective) {
	t.Helper()
	c, rest, err := top.Find(args)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ParseFlags(rest); err != nil {
		t.Fatal(err)
	}
	f, ok := c.GetFlagCompletionFunc(flag)
	if !ok {
		t.Fatalf("%v --%s: no rule", args, flag)
	}
	got, d := f(c, nil, "")
	return got, d
}

// TestRules: each kind of flag value completes by its rule wherever the
// flag is: a finite set to its members, a path to files (of a kind) or
// directories, a free value to nothing; a flag without a rule and a
// switch get none.
func TestRules(t *testing.T) {
	t.Parallel()
	var root string
	top := tree(&root)
	var names []string
	for _, tk := range tasks.All() {
		names = append(names, tk.Name()+"\t"+tk.Summary())
	}
	no := cobra.ShellCompDirectiveNoFileComp
	for _, c := range []struct {
		args []string
		flag string
		want []string
		d    cobra.ShellCompDirective
	}{
		{[]string{"plan"}, "only", names, no},
		{[]string{"plan"}, "profile", []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt},
		{[]string{"plan"}, "root", nil, cobra.ShellCompDirectiveFilterDirs},
		{[]string{"plan"}, "output", []string{"text", "json"}, no},
		{[]string{"check"}, "output", []string{"text", "json", "junit", "prometheus"}, no},
		{[]string{"check", "sub"}, "output", []string{"text", "json", "junit", "prometheus"}, no},
		{[]string{"apply"}, "lock-timeout", nil, no},
		{[]string{"apply"}, "http", []string{"health=", "simple=", "complex="}, no | cobra.ShellCompDirectiveNoSpace},
		{[]string{"resources"}, "workload", []string{"llm", "stt", "vision", "general"}, no},
		{[]string{"resources"}, "form", []string{"compose", "quadlet", "run"}, no},
		{[]string{"resources", "--workload", "llm=ollama", "--workload", "stt", "--workload", "llm=ollama"}, "write", []string{"ollama\tllm", "stt\tstt"}, no},
		{[]string{"resources", "--workload", "bogus"}, "write", nil, no},
	} {
		got, d := complete(t, top, c.args, c.flag)
		if !slices.Equal(got, c.want) || d != c.d {
			t.Errorf("%v --%s: %q %v, want %q %v", c.args, c.flag, got, d, c.want, c.d)
		}
	}
	plan, _, _ := top.Find([]string{"plan"})
	for _, f := range []string{"diff", "unruled"} {
		if _, ok := plan.GetFlagCompletionFunc(f); ok {
			t.Errorf("--%s has a rule", f)
		}
	}
}

// TestArguments: a command that takes no argument offers no file names
// for one; one that takes an argument is left to its own.
func TestArguments(t *testing.T) {
	t.Parallel()
	var root string
	top := tree(&root)
	for _, c := range top.Commands() {
		switch c.Name() {
		case "plan", "rollback", "resources", "check":
			if c.ValidArgsFunction == nil {
				t.Errorf("%s: file names offered for no argument", c.Name())
			}
		case "apply":
			if c.ValidArgsFunction != nil {
				t.Errorf("%s: arguments not completed as files", c.Name())
			}
		}
	}
}

// TestDiscovered: --to completes to the open applies of the root
// --root names (newest first, with their changes), confirm's argument to
// its try applies waiting; a root that is not one offers nothing.
func TestDiscovered(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-8gb-trixie-zram")
	x, err := ops.Open(root, "")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, only := range [][]string{{"swappiness"}, nil} {
		p, err := x.Profile(profile.Default())
		if err != nil {
			t.Fatal(err)
		}
		res, err := x.Apply(ops.ApplyRequest{Request: ops.Request{Profile: p, Only: only}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Applied.ID)
	}
	x.Close()
	top := tree(new(string))
	got, d := complete(t, top, []string{"rollback", "--root", root}, "to")
	if len(got) != 2 || !strings.HasPrefix(got[0], ids[1]+"\t") || !strings.HasPrefix(got[1], ids[0]+"\t") || !strings.HasSuffix(got[1], " changes, applied") || d&cobra.ShellCompDirectiveKeepOrder == 0 {
		t.Errorf("--to: %q %v (applies %v)", got, d, ids)
	}
	pending := PendingIDs(func() string { return root })
	if got, _ := pending(nil, nil, ""); len(got) != 0 {
		t.Errorf("no try apply, offered %q", got)
	}
	if got, _ := pending(nil, []string{"x"}, ""); got != nil {
		t.Errorf("a second argument offered %q", got)
	}
	none := tree(new(string))
	if got, d := complete(t, none, []string{"rollback", "--root", "/nonexistent/root"}, "to"); got != nil || d != cobra.ShellCompDirectiveNoFileComp {
		t.Errorf("no root: %q %v", got, d)
	}
}
