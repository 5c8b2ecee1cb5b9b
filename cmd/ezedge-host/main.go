// Command ezedge-host plans, applies and rolls back host tuning for edge
// devices. This package is the CLI only: each command's flags into a
// struct, one view chosen once, errors to exit codes; the use cases are
// internal/ops.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// Exit statuses (Terraform's contract for plan --detailed-exitcode, and
// one of ours for a rollback that left drifted resources alone).
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2
	exitDrift   = 3
	// check: the host passed with warnings, or failed a check.
	exitWarn = 4
	exitFail = 5
)

// exitCode carries a non-error exit status out of a command.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

var version = "dev"

func main() {
	// Output is streamed as it is produced, a line at a time: what a
	// command has said is on the terminal (or in the pipe) while it goes
	// on measuring or applying, not when it exits.
	out := &lineWriter{w: os.Stdout}
	code := run(os.Args[1:], os.Stdin, out, os.Stderr)
	out.Flush()
	os.Exit(code)
}

// lineWriter passes whole lines on as they are written, each write that
// ends one or more lines in one write(2), and keeps a line in progress
// until it ends (or until Flush: a prompt, the exit). A line longer than
// lineMax is passed on in pieces rather than held.
type lineWriter struct {
	w   io.Writer
	buf []byte
}

const lineMax = 64 << 10

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	end := bytes.LastIndexByte(l.buf, '\n') + 1
	if end == 0 && len(l.buf) < lineMax {
		return len(p), nil
	}
	if end == 0 {
		end = len(l.buf)
	}
	_, err := l.w.Write(l.buf[:end])
	l.buf = append(l.buf[:0], l.buf[end:]...)
	return len(p), err
}

// Flush passes on what is held.
func (l *lineWriter) Flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	_, err := l.w.Write(l.buf)
	l.buf = l.buf[:0]
	return err
}

// globals are the flags every command takes.
type globals struct {
	root     string
	output   string
	platform string
	quiet    bool
	// stdout and stderr are the program's (stdout nil: os.Stdout).
	stdout, stderr io.Writer
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := rootCmd(g)
	root.SetIn(stdin)
	root.SetErr(stderr)
	root.SetArgs(terraformOut(args))
	err := root.Execute()
	var code exitCode
	var drift ops.DriftError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &code):
		return int(code)
	case errors.As(err, &drift):
		printErr(stderr, err)
		return exitDrift
	}
	printErr(stderr, err)
	return exitError
}

// rootAbout opens the root command's description; the tasks follow.
const rootAbout = "Plan, apply and roll back performance tuning of an edge host.\n\n" +
	"Tasks (each on or off by platform; a profile turns them on or off and sets their options):\n"

// rootCmd is the command tree, its flags bound to g.
func rootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "ezedge-host",
		Short: "Plan, apply and roll back performance tuning of an edge host",
		Long:  rootAbout + tasks.HelpList(),
		Example: `  ezedge-host plan --diff                 # what would change, and why
  sudo ezedge-host apply                  # the same plan, asked, then applied
  sudo ezedge-host rollback --yes         # back to what was there, byte for byte
  ezedge-host plan --root /mnt/img --platform rpi5   # an image`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Before the completion command is made: its shells keep the writer
	// they were made with.
	if g.stdout != nil {
		root.SetOut(g.stdout)
	}
	root.PersistentFlags().StringVar(&g.root, "root", "/", "treat `DIR` as the host's /")
	root.PersistentFlags().StringVarP(&g.output, "output", "o", "text", "output `FORMAT`: text or json (check: also junit, prometheus)")
	root.PersistentFlags().StringVar(&g.platform, "platform", "", "the `PLATFORM` when the root cannot tell (an image): rpi4, rpi5, amd64 or arm64")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "no progress lines on standard error (shown only on a terminal, and never with --output json)")
	root.AddCommand(factsCmd(g), planCmd(g), applyCmd(g), rollbackCmd(g), historyCmd(g), firstbootCmd(g), confirmCmd(g), statusCmd(g), revertCmd(g), revertPendingCmd(g),
		withOutputs(checkCmd(g), view.JUnit, view.Prometheus), resourcesCmd(g), profileCmd(g), baselineCmd(g), manCmd(root), unitsCmd())
	root.InitDefaultCompletionCmd()
	completionExamples(root)
	g.complete(root)
	return root
}

// printErr prints an error one line per problem, each prefixed. An error
// names files and values from the root: each line is shown as
// escape.Text.
func printErr(w io.Writer, err error) {
	for l := range strings.Lines(strings.TrimSpace(err.Error())) {
		escape.Fprintf(w, "ezedge-host: %s\n", strings.TrimSuffix(l, "\n"))
	}
}

// terraformOut accepts Terraform's spelling `-out FILE` / `-out=FILE` for
// --out: pflag would read "-out" as -o "ut" and fail on the file name.
func terraformOut(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if a == "-out" || strings.HasPrefix(a, "-out=") {
			a = "-" + a
		}
		out = append(out, a)
	}
	return out
}

// on runs f with the command's view (--output, checked against what it
// shows beyond text and JSON) and --root opened for the use cases, which
// tell stderr what they do on their own (an overdue try apply reverted
// first).
func (g *globals) on(more []view.Format, f func(x *ops.Host, out view.Format) error) error {
	out, err := view.ParseFormat(g.output, more...)
	if err != nil {
		return err
	}
	x, err := ops.Open(g.root, platform.Kind(g.platform))
	if err != nil {
		return err
	}
	defer x.Close()
	x.Notify = func(msg string) { escape.Fprintf(g.stderr, "ezedge-host: %s\n", msg) }
	if out == view.Text && !g.quiet && isTerminal(g.stderr) {
		x.Progress = func(p ops.Progress) { view.ProgressText(g.stderr, p) }
	}
	return f(x, out)
}

// isTerminal says whether w is a terminal: progress is for a person
// watching, not for a log or a pipe.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// profileFlags are --profile FILE (repeatable) and --no-profile.
type profileFlags struct {
	files []string
	none  bool
}

// add gives c --profile and --no-profile. (firstboot install has its own
// --profile, and no --no-profile: the image's first boot plans with the
// image's profile.)
func (p *profileFlags) add(c *cobra.Command) {
	c.Flags().StringArrayVar(&p.files, "profile", nil, "profile `FILE` (YAML) on this machine, layered over the root's "+profile.DefaultPath+" and "+profile.DropInDir+"/*.yaml (repeatable, later wins)")
	c.Flags().BoolVar(&p.none, "no-profile", false, "plan with the platform defaults, not the root's "+profile.DefaultPath+" and "+profile.DropInDir)
}

// source is where the command takes its profile from (profile.FromFlags):
// the flags' values say it all (an empty --profile is one).
func (p *profileFlags) source(*cobra.Command) (profile.Source, error) {
	return profile.FromFlags(p.files, p.none)
}

// onlyTasks checks the --only tasks.
func onlyTasks(only []string) error {
	for _, n := range only {
		if _, ok := tasks.ByName(n); !ok {
			return fmt.Errorf("--only %s: no such task (tasks: %s)", n, strings.Join(tasks.Names(), ", "))
		}
	}
	return nil
}

// confirm asks on a terminal; without one it needs --yes.
func confirm(cmd *cobra.Command, yes bool, what string) error {
	return view.Confirm(cmd.InOrStdin(), cmd.OutOrStdout(), yes, what)
}
