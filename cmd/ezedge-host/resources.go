package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/alloc"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// resourcesFlags are resources' flags.
type resourcesFlags struct {
	workloads, forms []string
	ram, write       string
	profile          profileFlags
	yes, strict      bool
	lockTimeout      time.Duration
}

func resourcesCmd(g *globals) *cobra.Command {
	var fl resourcesFlags
	c := &cobra.Command{
		Use:   "resources",
		Short: "Size each AI container's memory, CPUs and environment for this host from the guide's tables",
		Long: "Size the containers of a mix of workloads (--workload llm|stt|vision|general, repeatable, each\n" +
			"WORKLOAD or WORKLOAD=NAME) for this host from the guide's tables: memory limit and reservation,\n" +
			"CPUs and environment, with the row or rule behind each figure. The limits share a budget: RAM\n" +
			"less what the profile's tasks keep (huge pages, a tmpfs /tmp, a volatile journal) less 10 % for\n" +
			"the OS. A mix over it is scaled down by one factor, with a warning, and refused (with the sums)\n" +
			"only where a container would keep less than the profile's floor_percent (50 %) of its figure;\n" +
			"--strict refuses any mix over it. Shown as `podman run` flags, a\n" +
			"podman-compose override and Quadlet drop-ins (--form narrows).\n\n" +
			"--write NAME writes NAME's Quadlet drop-in (--form compose: the Compose override) the way apply\n" +
			"writes: planned with a diff, confirmed, snapshotted, undone by rollback. The container-resources\n" +
			"task does the same from a profile.",
		Example: `  ezedge-host resources --workload llm --workload stt=whisper
  ezedge-host resources --workload vision --form compose
  ezedge-host resources --root /mnt/img --ram 8g --workload general
  sudo ezedge-host resources --workload llm=ollama --write ollama --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reqs, fs, size, err := alloc.ParseFlags(fl.workloads, fl.forms, fl.ram)
			if err != nil {
				return err
			}
			if fl.write != "" {
				return g.writeResources(cmd, &fl, reqs, fs, size)
			}
			// The profile says which tasks keep memory from containers
			// (huge pages, a tmpfs /tmp, a volatile journal).
			src, err := fl.profile.source(cmd)
			if err != nil {
				return err
			}
			return g.on(nil, func(x *ops.Host, out view.Format) error {
				f, err := x.Facts()
				if err != nil {
					return err
				}
				p, err := x.Profile(src)
				if err != nil {
					return err
				}
				a, err := tasks.Allocate(f, p.Choices, alloc.Options{RAM: size, Strict: fl.strict}, reqs)
				if err != nil {
					return err
				}
				r := view.NewResources(x.Root.Dir(), a, alloc.ParsePodman(f.Packages["podman"]), fs)
				return view.Show(cmd.OutOrStdout(), out, r, func() { view.ResourcesText(cmd.OutOrStdout(), r) })
			})
		},
	}
	c.Flags().StringArrayVar(&fl.workloads, "workload", nil, "a container to size: `WORKLOAD[=NAME]`, llm, stt, vision or general (repeatable; default general)")
	c.Flags().StringArrayVar(&fl.forms, "form", nil, "show only this `FORM`: run, compose or quadlet (repeatable)")
	c.Flags().StringVar(&fl.ram, "ram", "", "the device's RAM, `SIZE` (e.g. 8g), when the root cannot show it (an image)")
	c.Flags().StringVar(&fl.write, "write", "", "write container `NAME`'s drop-in (or, with --form compose, the override) through plan and apply")
	c.Flags().BoolVarP(&fl.yes, "yes", "y", false, "with --write: do not ask for confirmation")
	c.Flags().BoolVar(&fl.strict, "strict", false, "refuse a mix over the memory budget instead of scaling it down (for CI)")
	c.Flags().DurationVar(&fl.lockTimeout, "lock-timeout", 0, "with --write: wait up to `D` for another ezedge-host changing the host")
	fl.profile.add(c)
	return c
}

// writeResources plans and applies the container-resources task for this
// mix, cut down to the one file --write names (ops.ResourcesWrite).
func (g *globals) writeResources(cmd *cobra.Command, fl *resourcesFlags, reqs []alloc.Request, forms []alloc.Form, ram alloc.Bytes) error {
	r, err := ops.ResourcesWrite(reqs, forms, ram, fl.write, fl.strict)
	if err != nil {
		return err
	}
	src, err := fl.profile.source(cmd)
	if err != nil {
		return err
	}
	return g.apply(cmd, src, ops.ApplyRequest{Request: r, LockTimeout: fl.lockTimeout}, fl.yes)
}
