// Command ezedge-host plans, applies and rolls back host tuning for edge
// devices. This package is the cobra command tree only: each command's
// flags into a struct, one view chosen once, the use case of
// internal/ops called, errors to exit codes. What each command says of
// itself is internal/command/help's.
package main

import (
	"errors"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command"
	"github.com/ezansiedgeai/ezedge-host/internal/command/complete"
	"github.com/ezansiedgeai/ezedge-host/internal/command/help"
	"github.com/ezansiedgeai/ezedge-host/internal/command/man"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

var version = "dev"

func main() {
	out := command.NewLineWriter(os.Stdout)
	code := run(os.Args[1:], os.Stdin, out, os.Stderr)
	out.Flush()
	os.Exit(code)
}

// globals are the flags every command takes.
type globals struct {
	root, output, platform string
	quiet                  bool
	// stdout and stderr are the program's (stdout nil: cobra's, os.Stdout).
	stdout, stderr io.Writer
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := rootCmd(g)
	root.SetIn(stdin)
	root.SetErr(stderr)
	root.SetArgs(command.TerraformOut(args))
	err := root.Execute()
	var code command.Code
	var drift ops.DriftError
	switch {
	case err == nil:
		return int(command.OK)
	case errors.As(err, &code):
		return int(code)
	case errors.As(err, &drift):
		command.ShowError(stderr, err)
		return int(command.Drift)
	}
	command.ShowError(stderr, err)
	return int(command.Error)
}

// rootCmd is the command tree, its flags bound to g.
func rootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{Use: "ezedge-host", Version: version, SilenceUsage: true, SilenceErrors: true}
	// Before the completion command is made: its shells keep the writer
	// they were made with.
	if g.stdout != nil {
		root.SetOut(g.stdout)
	}
	g.stdout = root.OutOrStdout()
	root.PersistentFlags().StringVar(&g.root, "root", "/", "treat `DIR` as the host's /")
	root.PersistentFlags().StringVarP(&g.output, "output", "o", "text", "output `FORMAT`: text or json (check: also junit, prometheus)")
	root.PersistentFlags().StringVar(&g.platform, "platform", "", "the `PLATFORM` when the root cannot tell (an image): rpi4, rpi5, amd64 or arm64")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "no progress lines on standard error (shown only on a terminal, and never with --output json)")
	root.AddCommand(factsCmd(g), planCmd(g), applyCmd(g), rollbackCmd(g), historyCmd(g), firstbootCmd(g), confirmCmd(g), statusCmd(g), revertCmd(g), revertPendingCmd(g),
		complete.WithOutputs(checkCmd(g), view.JUnit, view.Prometheus), resourcesCmd(g), profileCmd(g), baselineCmd(g), man.Command(root, version), unitsCmd())
	root.InitDefaultCompletionCmd()
	help.Describe(root)
	complete.Register(root, func() string { return g.root })
	return root
}

// on runs f with the command's view (--output, checked against what it
// shows beyond text and JSON, chosen once) and --root opened for the use
// cases, which tell stderr what they do on their own.
func (g *globals) on(more []view.Format, f func(x *ops.Host, v *view.View) error) error {
	out, err := view.ParseFormat(g.output, more...)
	if err != nil {
		return err
	}
	x, err := ops.Open(g.root, platform.Kind(g.platform))
	if err != nil {
		return err
	}
	defer x.Close()
	v := &view.View{Format: out, W: g.stdout, Err: g.stderr, Root: x.Root.Dir()}
	v.Attach(x, g.quiet)
	return f(x, v)
}

// shows is the RunE of a command with no flags of its own: f on the host
// with the command's view.
func (g *globals) shows(f func(x *ops.Host, v *view.View) error) func(*cobra.Command, []string) error {
	return func(*cobra.Command, []string) error { return g.on(nil, f) }
}

// confirm asks on a terminal; without one it needs --yes.
func confirm(cmd *cobra.Command, yes bool, what string) error {
	return view.Confirm(cmd.InOrStdin(), cmd.OutOrStdout(), yes, what)
}

// unitsCmd writes the systemd units the Debian package ships (disabled),
// from the same source as the ones ezedge-host writes itself, running the
// packaged binary.
func unitsCmd() *cobra.Command {
	return &cobra.Command{Use: "gen-units DIR", Hidden: true, Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error { return ops.WritePackagedUnits(args[0]) },
	}
}
