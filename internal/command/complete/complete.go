// Package complete is the shell completion of ezedge-host's flag values
// and arguments.
package complete

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ezansiedgeai/ezedge-host/internal/alloc"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/tryapply"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// Shell completion of flag values: one rule per flag name, whatever
// command has the flag, so that a flag means and completes the same
// everywhere. A finite set completes to its members (tasks, formats,
// platforms, workloads, forms, measurement classes), a discoverable one
// to what the root holds (apply ids, try applies waiting for
// confirmation) or the command line says (the containers of --write), a
// path to files or directories, and a free value (a duration, a URL, a
// size) to nothing, not to the file names a shell would offer.
// TestEveryFlagCompletes holds every flag to a rule.

// completion is the rule for a flag's values; root is --root as given so
// far, for the rules that look in it.
type completion func(root func() string) cobra.CompletionFunc

var completions = map[string]completion{
	"root":     dirs,
	"platform": fixed(kinds(platform.Kinds)...),
	"output":   outputs,
	"only": func(func() string) cobra.CompletionFunc {
		var out []cobra.Completion
		for _, t := range tasks.All() {
			out = append(out, cobra.CompletionWithDesc(t.Name(), t.Summary()))
		}
		return cobra.FixedCompletions(out, cobra.ShellCompDirectiveNoFileComp)
	},
	"workload": fixed(kinds(alloc.Workloads)...),
	"form":     fixed(kinds(alloc.Forms)...),
	"http": func(func() string) cobra.CompletionFunc {
		// The class is the finite part; the URL follows it.
		var out []cobra.Completion
		for _, c := range []measure.Class{measure.Health, measure.Simple, measure.Complex} {
			out = append(out, string(c)+"=")
		}
		return cobra.FixedCompletions(out, cobra.ShellCompDirectiveNoSpace|cobra.ShellCompDirectiveNoFileComp)
	},
	"to":             applyIDs,
	"write":          containerNames,
	"host-network":   selectors,
	"memlock":        selectors,
	"device":         files(),
	"profile":        files("yaml", "yml"),
	"out":            files(),
	"binary":         files(),
	"data-dir":       dirs,
	"textfile-dir":   dirs,
	"lock-timeout":   none,
	"confirm-within": none,
	"budget":         none,
	"ram":            none,
	"at":             none,
}

// outputsKey annotates a command with the formats it shows beyond text
// and JSON, space-separated (outputs).
const outputsKey = "ezedge-host.outputs"

// WithOutputs says c shows more formats than text and JSON.
func WithOutputs(c *cobra.Command, more ...view.Format) *cobra.Command {
	c.Annotations = map[string]string{outputsKey: strings.Join(kinds(more), " ")}
	return c
}

// Register gives every flag of c and of its subcommands its rule, and
// every command that takes no argument no file names for one; root is
// --root as given so far.
func Register(c *cobra.Command, root func() string) {
	add := func(fs *pflag.FlagSet) {
		fs.VisitAll(func(f *pflag.Flag) {
			rule, ok := completions[f.Name]
			if !ok || f.Value.Type() == "bool" {
				return
			}
			if _, done := c.GetFlagCompletionFunc(f.Name); done {
				return
			}
			if err := c.RegisterFlagCompletionFunc(f.Name, rule(root)); err != nil {
				panic(err) // a flag defined twice
			}
		})
	}
	add(c.PersistentFlags())
	add(c.LocalNonPersistentFlags())
	if c.Args != nil && c.ValidArgsFunction == nil && c.ValidArgs == nil && c.Name() != "completion" {
		if err := c.Args(c, []string{"x"}); err != nil {
			c.ValidArgsFunction = cobra.NoFileCompletions
		}
	}
	for _, s := range c.Commands() {
		Register(s, root)
	}
}

func kinds[T ~string](ks []T) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}

func fixed(values ...string) completion {
	return func(func() string) cobra.CompletionFunc {
		return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
	}
}

func none(func() string) cobra.CompletionFunc { return cobra.NoFileCompletions }

func dirs(func() string) cobra.CompletionFunc {
	return cobra.FixedCompletions(nil, cobra.ShellCompDirectiveFilterDirs)
}

func files(exts ...string) completion {
	return func(func() string) cobra.CompletionFunc {
		if len(exts) == 0 {
			return cobra.FixedCompletions(nil, cobra.ShellCompDirectiveDefault)
		}
		return cobra.FixedCompletions(exts, cobra.ShellCompDirectiveFilterFileExt)
	}
}

// outputs are the formats of the command completed.
func outputs(func() string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		out := []cobra.Completion{string(view.Text), string(view.JSON)}
		for c := cmd; c != nil; c = c.Parent() {
			if more := c.Annotations[outputsKey]; more != "" {
				out = append(out, strings.Fields(more)...)
				break
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// applyIDs are the applies of the root (--root as given so far) that a
// rollback --to can name: those not rolled back, newest first, each with
// its time, changes and status.
func applyIDs(root func() string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		x, err := ops.Open(root(), "")
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer x.Close()
		hi, err := x.Store.History()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, r := range slices.Backward(hi.Records) {
			if r.Open() {
				out = append(out, cobra.CompletionWithDesc(r.ID, fmt.Sprintf("%s, %d changes, %s", r.Time.Local().Format(time.DateTime), len(r.Items), r.Status())))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
	}
}

// PendingIDs are the try applies of the root waiting for confirmation,
// each with its deadline (confirm's argument).
func PendingIDs(root func() string) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		x, err := ops.Open(root(), "")
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer x.Close()
		ps, _ := tryapply.List(x.Root)
		var out []cobra.Completion
		for _, p := range ps {
			out = append(out, cobra.CompletionWithDesc(p.ID, "rolled back at "+p.Deadline.Local().Format(time.DateTime)))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// containerNames are the containers of the mix the command line gives so
// far (--workload WORKLOAD[=NAME]): what --write can write.
func containerNames(func() string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		ws, _ := cmd.Flags().GetStringArray("workload")
		reqs, _, _, err := alloc.ParseFlags(ws, nil, "")
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, r := range reqs {
			// (cobra may have parsed the command line twice by now, each
			// --workload counted twice.)
			if c := cobra.CompletionWithDesc(r.Name, string(r.Workload)); !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// selectors are what a placement list names: a workload, or a container
// of the mix the command line gives so far.
func selectors(root func() string) cobra.CompletionFunc {
	names := containerNames(root)
	return func(cmd *cobra.Command, args []string, s string) ([]cobra.Completion, cobra.ShellCompDirective) {
		out, d := names(cmd, args, s)
		for _, w := range alloc.Workloads {
			out = append(out, string(w))
		}
		return out, d
	}
}
