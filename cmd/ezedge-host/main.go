// Command ezedge-host plans, applies and rolls back host tuning for edge
// devices. This file is the CLI only: flags, output and exit codes.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/apply"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/firstboot"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/savedplan"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/tryapply"
	"github.com/ezansiedgeai/ezedge-host/internal/health/baseline"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/rollback"
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

// driftError is a rollback left incomplete on purpose: resources changed
// since the apply were left alone. It exits exitDrift, so a wrapper can
// tell it from a failure.
type driftError struct{ msg string }

func (e driftError) Error() string { return e.msg }

// exitCode carries a non-error exit status out of a command.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

var version = "dev"

func main() {
	// A 256-CPU plan prints hundreds of lines: one write, not one each.
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	code := run(os.Args[1:], os.Stdin, out, os.Stderr)
	out.Flush()
	os.Exit(code)
}

type globals struct {
	root   string
	output string
	// profile and noProfile are --profile FILE and --no-profile, read by
	// profileSource.
	profile   string
	noProfile bool
	// src is where the command takes its profile from (profileSource, or
	// a saved plan's); prof is what it resolved to for the root, and
	// choices its choices, with extra (resources --write) over them.
	src         profile.Source
	prof        *profile.Resolved
	choices     tasks.Choices
	extra       tasks.Choices
	yes         bool
	lockTimeout time.Duration
	platform    string
	within      time.Duration
	stderr      io.Writer
	// formats are the --output formats a command takes beyond text and
	// json (check: junit, prometheus).
	formats []string
	// narrow, when set, cuts every plan made down to what one command
	// writes (resources --write).
	narrow func(*plan.Plan) error
	// measure: apply or rollback --measure, with its flags.
	measure  bool
	measured measureFlags
	// only: apply or plan --only, the tasks named.
	only []string
}

// onlyTasks narrows every plan to the --only tasks.
func (g *globals) onlyTasks() error {
	if len(g.only) == 0 {
		return nil
	}
	for _, n := range g.only {
		if _, ok := tasks.ByName(n); !ok {
			return fmt.Errorf("--only %s: no such task (tasks: %s)", n, strings.Join(tasks.Names(), ", "))
		}
	}
	return nil
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stderr: stderr}
	root := rootCmd(g)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(terraformOut(args))
	err := root.Execute()
	var code exitCode
	var drift driftError
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

// rootCmd is the command tree, its flags bound to g.
func rootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "ezedge-host",
		Short: "Plan, apply and roll back performance tuning of an edge host",
		Long: "Plan, apply and roll back performance tuning of an edge host.\n\n" +
			"Tasks (each on or off by platform; a profile turns them on or off and sets their options):\n" + tasks.HelpList(),
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.root, "root", "/", "treat `DIR` as the host's /")
	root.PersistentFlags().StringVarP(&g.output, "output", "o", "text", "output format: text or json (check: also junit, prometheus)")
	root.PersistentFlags().StringVar(&g.platform, "platform", "", "the platform when the root cannot tell (an image): rpi4, rpi5, amd64 or arm64")
	root.AddCommand(factsCmd(g), planCmd(g), applyCmd(g), rollbackCmd(g), historyCmd(g), firstbootCmd(g), confirmCmd(g), statusCmd(g), revertCmd(g), revertPendingCmd(g), checkCmd(g), resourcesCmd(g), baselineCmd(g), manCmd(root), unitsCmd())
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

func (g *globals) openRoot() (*hostroot.Root, error) {
	if g.output != "text" && g.output != "json" && !slices.Contains(g.formats, g.output) {
		return nil, fmt.Errorf("--output %q: want %s", g.output, strings.Join(append([]string{"text", "json"}, g.formats...), ", "))
	}
	return hostroot.Open(g.root)
}

func (g *globals) open() (*hostroot.Root, *platform.Facts, error) {
	h, err := g.openRoot()
	if err != nil {
		return nil, nil, err
	}
	f, err := platform.DetectAs(h, platform.Kind(g.platform), tasks.Observations())
	if err != nil {
		h.Close()
		return nil, nil, err
	}
	return h, f, nil
}

// addProfileFlags gives c --profile FILE and --no-profile, read by
// profileSource. (firstboot install has its own --profile, and no
// --no-profile: the image's first boot plans with the image's profile.)
func (g *globals) addProfileFlags(c *cobra.Command) {
	c.Flags().StringVar(&g.profile, "profile", "", "profile `FILE` (YAML) on this machine, instead of the root's "+profile.DefaultPath)
	c.Flags().BoolVar(&g.noProfile, "no-profile", false, "plan with the platform defaults, not the root's "+profile.DefaultPath)
}

// profileSource is where cmd takes its profile from: --profile FILE, a file
// on this machine; --no-profile, the platform defaults; else the root's own
// /etc/ezedge-host/profile.yaml (the Debian package's conffile), read
// inside --root.
func (g *globals) profileSource(cmd *cobra.Command) (profile.Source, error) {
	switch {
	case g.noProfile && cmd.Flags().Changed("profile"):
		return profile.Source{}, fmt.Errorf("--profile and --no-profile: give one (--profile FILE instead of the root's %s, --no-profile for the platform defaults)", profile.DefaultPath)
	case g.noProfile:
		return profile.None(), nil
	case cmd.Flags().Changed("profile"):
		if g.profile == "" {
			return profile.Source{}, fmt.Errorf("--profile: no file named (leave --profile out for the root's %s, or give --no-profile for the platform defaults)", profile.DefaultPath)
		}
		return profile.File(g.profile), nil
	}
	return profile.Default(), nil
}

// resolveProfile reads g.src for the root at h: the one place a command
// that plans gets its profile.
func (g *globals) resolveProfile(h *hostroot.Root) error {
	p, err := g.src.Resolve(h)
	if err != nil {
		return err
	}
	g.prof, g.choices = p, p.Choices
	if g.extra != nil {
		g.choices = tasks.Choices{}
		maps.Copy(g.choices, p.Choices)
		maps.Copy(g.choices, g.extra)
	}
	return nil
}

func (g *globals) plan() (*hostroot.Root, *plan.Plan, error) {
	h, err := g.openRoot()
	if err != nil {
		return nil, nil, err
	}
	if err := g.resolveProfile(h); err != nil {
		h.Close()
		return nil, nil, err
	}
	p, err := g.replan(h, rollback.Open(h))
	if err != nil {
		h.Close()
		return nil, nil, err
	}
	return h, p, nil
}

// replan reads the host afresh and plans it with the profile loaded.
func (g *globals) replan(h *hostroot.Root, store *rollback.Store) (*plan.Plan, error) {
	f, err := platform.DetectAs(h, platform.Kind(g.platform), tasks.Observations())
	if err != nil {
		return nil, err
	}
	p, err := plan.BuildOnly(h, store, f, g.choices, g.only)
	if err == nil && g.prof != nil {
		p.Profile = g.prof.Origin
	}
	if err == nil && g.narrow != nil {
		err = g.narrow(p)
	}
	return p, err
}

// lockHost takes the host lock for what, the first step of every command
// that changes the host, and then reverts any try apply whose deadline has
// passed without its revert having run (the process died, the device
// rebooted), and clears what crashes left in the state directory.
func (g *globals) lockHost(h *hostroot.Root, store *rollback.Store, what string) (func(), []tryapply.Reverted, error) {
	unlock, err := store.Lock(g.lockTimeout, what)
	if err != nil {
		return nil, nil, err
	}
	revs, err := tryapply.RevertOverdue(store, h, time.Now())
	if err != nil {
		unlock()
		return nil, nil, err
	}
	for _, rv := range revs {
		if rv.Err != nil {
			unlock()
			return nil, revs, fmt.Errorf("apply %s was not confirmed in time and its revert had not run; reverting it now failed: %w", rv.ID, rv.Err)
		}
		n := 0
		for _, o := range rv.Outcomes {
			n += len(o.Restored)
		}
		escape.Fprintf(g.stderr, "ezedge-host: apply %s was not confirmed in time and its revert had not run: rolled it back first (%d resources restored)\n", rv.ID, n)
	}
	if hi, err := store.History(); err == nil {
		store.Tidy(hi)
	}
	return unlock, revs, nil
}

func factsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "facts",
		Short: "Show what platform this host is, and why",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, f, err := g.open()
			if err != nil {
				return err
			}
			defer h.Close()
			if g.output == "json" {
				return view.WriteJSON(cmd.OutOrStdout(), view.NewFacts(h.Dir(), f))
			}
			view.FactsText(cmd.OutOrStdout(), f)
			return nil
		},
	}
}

func planCmd(g *globals) *cobra.Command {
	var diff, detailed bool
	var out string
	c := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would change; changes nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if g.src, err = g.profileSource(cmd); err != nil {
				return err
			}
			if err := g.onlyTasks(); err != nil {
				return err
			}
			h, p, err := g.plan()
			if err != nil {
				return err
			}
			defer h.Close()
			if g.output == "json" {
				err = view.PlanJSON(cmd.OutOrStdout(), p)
			} else {
				view.PlanText(cmd.OutOrStdout(), p, diff)
			}
			if err == nil && out != "" {
				if err = savedplan.Save(out, p, g.prof.Data, g.only, time.Now()); err == nil && g.output == "text" {
					escape.Fprintf(cmd.OutOrStdout(), "Saved to %s: `ezedge-host apply %s` applies exactly this plan.\n", out, out)
				}
			}
			if err == nil && detailed && len(p.Pending()) > 0 {
				return exitCode(exitChanges)
			}
			return err
		},
	}
	g.addProfileFlags(c)
	c.Flags().BoolVar(&diff, "diff", false, "show a unified diff for every file")
	c.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 0 when there is nothing to change, 2 when changes are pending, 1 on error")
	c.Flags().StringVar(&out, "out", "", "save the plan to `FILE` for `ezedge-host apply FILE`")
	c.Flags().StringArrayVar(&g.only, "only", nil, "plan only `TASK`'s changes (repeatable)")
	return c
}

// confirm asks on a terminal; without one it needs --yes.
func confirm(cmd *cobra.Command, yes bool, what string) error {
	if yes {
		return nil
	}
	f, ok := cmd.InOrStdin().(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return fmt.Errorf("%s needs --yes when not run on a terminal", what)
	}
	escape.Fprintf(cmd.OutOrStdout(), "\nDo you want to %s? Only 'yes' will be accepted: ", what)
	if fl, ok := cmd.OutOrStdout().(interface{ Flush() error }); ok {
		fl.Flush()
	}
	ans, _ := bufio.NewReader(f).ReadString('\n')
	if strings.TrimSpace(ans) != "yes" {
		return fmt.Errorf("cancelled at the prompt; nothing was changed")
	}
	return nil
}

func applyCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "apply [PLANFILE]",
		Short: "Make the planned changes (or exactly those of a saved plan), snapshotting every prior value first",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// A saved plan is the approval of one diff, not a recipe: the
			// host is planned again with the profile saved in it, and only
			// that fresh plan, if its diff is the saved one, is applied.
			var saved *savedplan.Saved
			var err error
			if len(args) == 1 {
				if err := refuseWithPlanFile(cmd); err != nil {
					return err
				}
				if saved, err = savedplan.Load(args[0]); err != nil {
					return err
				}
				g.src = profile.Saved(args[0], saved.Profile, saved.ProfileOrigin)
				g.only = saved.Only
			} else if g.src, err = g.profileSource(cmd); err != nil {
				return err
			}
			if err := g.onlyTasks(); err != nil {
				if saved != nil {
					return fmt.Errorf("plan file %s: %w", args[0], err)
				}
				return err
			}
			return g.apply(cmd, saved)
		},
	}
	g.addProfileFlags(c)
	c.Flags().BoolVarP(&g.yes, "yes", "y", false, "do not ask for confirmation")
	c.Flags().DurationVar(&g.lockTimeout, "lock-timeout", 0, "wait this long for another ezedge-host changing the host (0: fail at once)")
	c.Flags().DurationVar(&g.within, "confirm-within", 0, "roll the apply back automatically unless `ezedge-host confirm` runs within this time (e.g. 120s)")
	c.Flags().BoolVar(&g.measure, "measure", false, "measure what the changed tasks bear on (disk, CPU, memory, --http URLs) before and after, and keep the figures with the snapshot")
	c.Flags().StringArrayVar(&g.only, "only", nil, "apply only `TASK`'s changes, the others left pending (repeatable): one change at a time")
	g.measured.add(c, 20*time.Second, "before and after together")
	// What a saved plan fixes itself, the flags that would choose it are
	// refused with PLANFILE. The others still mean something there: --root
	// and --platform say which host (and must be the plan's), --yes is what
	// a plan file does anyway (nothing is asked), --output, --lock-timeout,
	// --confirm-within and --measure with its flags act on the apply.
	savedPlanFixes(c, "a saved plan is applied with the profile it was made with; make the plan again with plan --profile or --no-profile", "profile", "no-profile")
	savedPlanFixes(c, "a saved plan is applied as saved; make it with plan --only instead", "only")
	return c
}

// withPlanFile marks a flag of apply that a saved plan makes meaningless;
// its value says why.
const withPlanFile = "ezedge-host.refused-with-plan-file"

// savedPlanFixes marks c's flags names as fixed by a saved plan, for why.
func savedPlanFixes(c *cobra.Command, why string, names ...string) {
	for _, n := range names {
		if err := c.Flags().SetAnnotation(n, withPlanFile, []string{why}); err != nil {
			panic(err) // a flag renamed without its mark
		}
	}
}

// refuseWithPlanFile refuses, one line each, the flags given to cmd that a
// saved plan makes meaningless (savedPlanFixes): apply PLANFILE would
// otherwise apply the plan and silently ignore them.
func refuseWithPlanFile(cmd *cobra.Command) error {
	var errs []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if why := f.Annotations[withPlanFile]; len(why) > 0 {
			errs = append(errs, fmt.Sprintf("--%s: %s", f.Name, why[0]))
		}
	})
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// apply plans the host with the choices loaded (or checks the fresh plan
// against saved), shows it, asks, and applies it under the host lock.
func (g *globals) apply(cmd *cobra.Command, saved *savedplan.Saved) error {
	h, err := g.openRoot()
	if err != nil {
		return err
	}
	defer h.Close()
	if err := g.resolveProfile(h); err != nil {
		return err
	}
	if err := h.RequirePrivilege("apply"); err != nil {
		return err
	}
	store := rollback.Open(h)
	// An overdue try apply is reverted before the plan is made, so
	// the plan shown is the one applied.
	if len(tryapply.Overdue(h, time.Now())) > 0 {
		unlock, _, err := g.lockHost(h, store, "ezedge-host apply")
		if err != nil {
			return err
		}
		unlock()
	}
	p, err := g.replan(h, store)
	if err != nil {
		return err
	}
	if saved != nil {
		if err := saved.Check(p); err != nil {
			return err
		}
	}
	// --measure on a host that cannot be measured fails before anything
	// is locked, asked or changed.
	var me *measured
	if len(p.Pending()) > 0 {
		if me, err = g.measured.prepare(g.measure, h, p.Facts, store); err != nil {
			return err
		}
	}
	w := cmd.OutOrStdout()
	if g.output == "text" && saved == nil {
		view.PlanText(w, p, false)
	}
	if len(p.Pending()) > 0 {
		if err := confirm(cmd, g.yes || saved != nil, "apply these changes"); err != nil {
			return err
		}
	}
	unlock, _, err := g.lockHost(h, store, "ezedge-host apply")
	if err != nil {
		return err
	}
	defer unlock()
	// Under the lock, the host must still be what was shown and
	// confirmed: another apply, or an operator, may have been
	// quicker.
	again, err := g.replan(h, store)
	if err != nil {
		return err
	}
	if saved != nil {
		err = saved.Check(again)
	} else if id := plan.Same(p, again); id != "" {
		err = fmt.Errorf("the host changed since the plan was made (%s); nothing was changed: run apply again", id)
	}
	if err != nil {
		return err
	}
	if me != nil && len(again.Pending()) > 0 {
		var names []string
		for _, c := range again.Pending() {
			names = addTasks(names, c.Task)
		}
		me.takeBefore(names)
	} else {
		me = nil
	}
	res, err := apply.Apply(h, store, again, time.Now())
	var effect *baseline.Effect
	if me != nil && err == nil && res.ID != "" {
		note := ""
		for _, c := range again.Pending() {
			if c.RebootRequired {
				note = "some changes take effect at the next boot: the after figures do not show them yet"
			}
		}
		if effect, err = me.after(h, "apply", res.ID, note); err != nil {
			err = fmt.Errorf("the apply is done (snapshot %s), but its figures were not saved: %w", res.ID, err)
		}
	}
	var pending *tryapply.Pending
	if err == nil && res.ID != "" && g.within > 0 {
		pd, serr := g.scheduleRevert(h, store, res.ID)
		if serr != nil {
			return serr
		}
		pending = &pd
	}
	if g.output == "json" {
		var pj *view.Pending
		if pending != nil {
			v := view.NewPending(*pending, time.Now())
			pj = &v
		}
		a := view.NewApply(again, res, err, pj)
		if effect != nil {
			e := view.NewEffect(effect)
			a.Measured = &e
		}
		if jerr := view.WriteJSON(w, a); err == nil {
			err = jerr
		}
		return err
	}
	if err != nil {
		return fmt.Errorf("apply failed: %w", err)
	}
	if res.ID == "" {
		escape.Fprintf(w, "\nNothing to apply.\n")
		return nil
	}
	escape.Fprintf(w, "\nApplied %d changes. Snapshot %s.\n", len(res.Changed), res.ID)
	for _, n := range res.Notes {
		escape.Fprintf(w, "  note: %s\n", n)
	}
	if effect != nil {
		view.EffectText(w, effect)
	}
	if pending != nil {
		escape.Fprintf(w, "Confirm within %s (by %s) with: ezedge-host confirm\nOtherwise it is rolled back then, by %s, even if this session is gone.\n",
			g.within, pending.Deadline.Local().Format(time.TimeOnly), pending.RevertBy())
		return nil
	}
	escape.Fprintf(w, "Undo with: ezedge-host rollback --to %s\n", res.ID)
	return nil
}

// scheduleRevert arms the automatic revert of try apply id. Without it a
// try apply is not safe: if it cannot be armed, the apply is rolled back
// now, and a failure of that rollback is said too.
func (g *globals) scheduleRevert(h *hostroot.Root, store *rollback.Store, id string) (tryapply.Pending, error) {
	self, err := os.Executable()
	if err == nil {
		var p tryapply.Pending
		if p, err = tryapply.Schedule(h, id, g.within, self, time.Now()); err == nil {
			return p, nil
		}
	}
	rv := tryapply.Revert(store, h, id)
	if rv.Err != nil {
		return tryapply.Pending{}, fmt.Errorf("could not schedule the automatic revert (%v), and rolling the apply back failed too: %v; run `ezedge-host rollback --to %s`", err, rv.Err, id)
	}
	return tryapply.Pending{}, fmt.Errorf("could not schedule the automatic revert (%v); the apply was rolled back", err)
}

func rollbackCmd(g *globals) *cobra.Command {
	var to string
	var force bool
	c := &cobra.Command{
		Use:   "rollback",
		Short: "Restore the prior state of the most recent apply (or back to --to ID)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := g.openRoot()
			if err != nil {
				return err
			}
			defer h.Close()
			if err := h.RequirePrivilege("rollback"); err != nil {
				return err
			}
			store := rollback.Open(h)
			hi, err := store.History()
			if err != nil {
				return err
			}
			if err := hi.Err(); err != nil {
				return err
			}
			targets, err := rollback.Targets(hi.Records, to)
			if err != nil {
				return err
			}
			me, err := g.measured.prepare(g.measure, h, nil, store)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if g.output == "text" {
				for _, r := range targets {
					escape.Fprintf(w, "Roll back apply %s (%s, %d changes, %s)\n", r.ID, r.Time.Local().Format(time.DateTime), len(r.Items), r.Status())
				}
			}
			if err := confirm(cmd, g.yes, "roll back"); err != nil {
				return err
			}
			unlock, _, err := g.lockHost(h, store, "ezedge-host rollback")
			if err != nil {
				return err
			}
			defer unlock()
			// Another apply or rollback (or the revert of an overdue try
			// apply) may have finished while we waited.
			if hi, err = store.History(); err != nil {
				return err
			}
			if err := hi.Err(); err != nil {
				return err
			}
			if targets, err = rollback.Targets(hi.Records, to); err != nil {
				return err
			}
			var names []string
			for _, r := range targets {
				for _, it := range r.Items {
					names = addTasks(names, it.Task)
				}
			}
			if me != nil {
				me.takeBefore(names)
			}
			var outs []*rollback.Outcome
			var failed error
			for _, r := range targets {
				o, err := store.Restore(r, force)
				outs = append(outs, o)
				if err != nil {
					failed = fmt.Errorf("rollback of %s: %w", r.ID, err)
					break
				}
				if !o.Complete {
					failed = driftError{fmt.Sprintf("rollback of %s incomplete: %d resources changed since the apply were left alone (--force restores them)", r.ID, len(o.LeftAlone))}
					break
				}
				// A rolled-back try apply no longer waits for confirmation.
				if tryapply.IsPending(h, r.ID) {
					if err := tryapply.Done(h, r.ID); err != nil {
						failed = err
						break
					}
				}
			}
			var effect *baseline.Effect
			if me != nil && failed == nil && len(targets) > 0 {
				last := targets[len(targets)-1]
				note := ""
				if len(targets) > 1 {
					note = fmt.Sprintf("figures for rolling back %d applies together, back to %s", len(targets), last.ID)
				}
				if effect, err = me.after(h, "rollback", last.ID, note); err != nil {
					failed = fmt.Errorf("the rollback is done, but its figures were not saved: %w", err)
				}
			}
			if g.output == "json" {
				rj := view.NewRollback(outs, failed)
				if effect != nil {
					e := view.NewEffect(effect)
					rj.Measured = &e
				}
				if jerr := view.WriteJSON(w, rj); failed == nil {
					failed = jerr
				}
				return failed
			}
			view.RollbackText(w, outs)
			if effect != nil {
				view.EffectText(w, effect)
			}
			return failed
		},
	}
	c.Flags().StringVar(&to, "to", "", "roll back every apply back to and including `ID`")
	c.Flags().BoolVar(&force, "force", false, "also restore resources changed by someone else since the apply")
	c.Flags().BoolVar(&g.measure, "measure", false, "measure what the restored tasks bear on before and after, and keep the figures with the snapshot")
	g.measured.add(c, 20*time.Second, "before and after together")
	c.Flags().BoolVarP(&g.yes, "yes", "y", false, "do not ask for confirmation")
	c.Flags().DurationVar(&g.lockTimeout, "lock-timeout", 0, "wait this long for another ezedge-host changing the host (0: fail at once)")
	return c
}

// manCmd writes the man pages (make man).
func manCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:    "gen-man DIR",
		Short:  "Write man pages for every command into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			root.DisableAutoGenTag = true
			return doc.GenManTree(root, &doc.GenManHeader{Title: "EZEDGE-HOST", Section: "8", Source: "ezedge-host " + version}, args[0])
		},
	}
}

// unitsCmd writes the systemd units the Debian package ships (disabled),
// from the same source as the ones ezedge-host writes itself, running the
// packaged binary.
func unitsCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "gen-units DIR",
		Short:  "Write the units the Debian package ships into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			for name, text := range packagedUnits() {
				if err := os.WriteFile(filepath.Join(args[0], name), []byte(text), 0o644); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// packagedUnits are the Debian package's units by name.
func packagedUnits() map[string]string {
	const header = "# Shipped disabled by the ezedge-host package; see ezedge-host(8) and\n# /usr/share/doc/ezedge-host. Override in /etc/systemd/system.\n"
	bin := platform.PackagedBinary
	service, timer := tasks.CheckUnitTexts(header, bin, tasks.CheckTimerDefaults().TextfileDir, "")
	return map[string]string{
		firstboot.UnitName:          firstboot.UnitText(header, bin, false),
		tryapply.BootUnitName:       tryapply.BootUnitText(header, bin),
		"ezedge-host-check.service": service,
		"ezedge-host-check.timer":   timer,
	}
}

func historyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "history",
		Short: "List applies: id, time, platform, changes, status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := g.openRoot()
			if err != nil {
				return err
			}
			defer h.Close()
			hi, err := rollback.Open(h).History()
			if err != nil {
				return err
			}
			effects, skipped, err := baseline.Effects(h)
			if err != nil {
				return err
			}
			hi.Warnings = append(hi.Warnings, skipped...)
			w := cmd.OutOrStdout()
			if g.output == "json" {
				return view.WriteJSON(w, view.NewHistory(hi, effects))
			}
			for _, u := range append(hi.Unreadable, hi.Warnings...) {
				escape.Fprintf(g.stderr, "ezedge-host: warning: %s\n", u)
			}
			view.HistoryText(w, hi, effects)
			return nil
		},
	}
}
