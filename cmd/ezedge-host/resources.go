package main

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/alloc"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

func resourcesCmd(g *globals) *cobra.Command {
	var workloads, forms []string
	var ram, write string
	c := &cobra.Command{
		Use:   "resources",
		Short: "Size each AI container's memory, CPUs and environment for this host from the guide's tables",
		Long: "Size the containers of a mix of workloads (--workload llm|stt|vision|general, repeatable, each\n" +
			"WORKLOAD or WORKLOAD=NAME) for this host from the guide's tables: memory limit and reservation,\n" +
			"CPUs and environment, with the row or rule behind each figure. A mix whose limits exceed the\n" +
			"host's RAM less 10 % for the OS is refused with the sums. Shown as `podman run` flags, a\n" +
			"podman-compose override and Quadlet drop-ins (--form narrows).\n\n" +
			"--write NAME writes NAME's Quadlet drop-in (--form compose: the Compose override) the way apply\n" +
			"writes: planned with a diff, confirmed, snapshotted, undone by rollback. The container-resources\n" +
			"task does the same from a profile.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var reqs []alloc.Request
			for _, w := range workloads {
				r, err := alloc.ParseRequest(w)
				if err != nil {
					return fmt.Errorf("--workload %s", err)
				}
				reqs = append(reqs, r)
			}
			var fs []alloc.Form
			for _, f := range forms {
				if !slices.Contains(alloc.Forms, alloc.Form(f)) {
					return fmt.Errorf("--form %q: want compose, quadlet or run", f)
				}
				fs = append(fs, alloc.Form(f))
			}
			var size alloc.Bytes
			if ram != "" {
				var err error
				if size, err = alloc.ParseBytes(ram); err != nil {
					return fmt.Errorf("--ram %s", err)
				}
			}
			if write != "" {
				var err error
				if g.src, err = g.profileSource(cmd); err != nil {
					return err
				}
				return g.writeResources(cmd, reqs, fs, size, write)
			}
			// Only --write plans: without it a profile would be ignored.
			for _, n := range []string{"profile", "no-profile"} {
				if cmd.Flags().Changed(n) {
					return fmt.Errorf("--%s: only with --write (resources without it plans nothing)", n)
				}
			}
			h, f, err := g.open()
			if err != nil {
				return err
			}
			defer h.Close()
			a, err := alloc.Compute(f, size, reqs)
			if err != nil {
				return err
			}
			r := view.NewResources(h.Dir(), a, alloc.ParsePodman(f.Packages["podman"]), fs)
			if g.output == "json" {
				return view.WriteJSON(cmd.OutOrStdout(), r)
			}
			view.ResourcesText(cmd.OutOrStdout(), r)
			return nil
		},
	}
	c.Flags().StringArrayVar(&workloads, "workload", nil, "a container to size: `WORKLOAD[=NAME]`, llm, stt, vision or general (repeatable; default general)")
	c.Flags().StringArrayVar(&forms, "form", nil, "show only this `FORM`: run, compose or quadlet (repeatable)")
	c.Flags().StringVar(&ram, "ram", "", "the device's RAM when the root cannot show it (an image), e.g. 8g")
	c.Flags().StringVar(&write, "write", "", "write container `NAME`'s drop-in (or, with --form compose, the override) through plan and apply")
	c.Flags().BoolVarP(&g.yes, "yes", "y", false, "with --write: do not ask for confirmation")
	c.Flags().DurationVar(&g.lockTimeout, "lock-timeout", 0, "with --write: wait this long for another ezedge-host changing the host")
	g.addProfileFlags(c)
	return c
}

// writeResources plans and applies the container-resources task for this
// mix, cut down to the one file --write names: the same intent, plan,
// snapshot and rollback as the task from a profile.
func (g *globals) writeResources(cmd *cobra.Command, reqs []alloc.Request, forms []alloc.Form, ram alloc.Bytes, name string) error {
	if ram != 0 {
		return fmt.Errorf("--ram with --write: a file written for a host is sized from the host itself")
	}
	form := alloc.Quadlet
	switch {
	case len(forms) > 1, len(forms) == 1 && forms[0] == alloc.Run:
		return fmt.Errorf("--write writes one file: --form quadlet (NAME's drop-in) or --form compose (the override)")
	case len(forms) == 1:
		form = forms[0]
	}
	if !slices.ContainsFunc(reqs, func(r alloc.Request) bool { return r.Name == name }) {
		return fmt.Errorf("--write %q: no container of that name in the mix (give --workload WORKLOAD=%s)", name, name)
	}
	var list []string
	for _, r := range reqs {
		list = append(list, string(r.Workload)+"="+r.Name)
	}
	on := true
	t, _ := tasks.ByName("container-resources")
	// Over the profile's choices (apply resolves it): the rest of the
	// plan is cut away below, but an invalid profile is refused as by
	// every command that plans.
	g.extra = tasks.Choices{t.Name(): {Enabled: &on, Options: &tasks.ContainerResourcesOptions{Containers: list, Form: string(form)}}}
	file := tasks.ComposeOverrideFile
	if form == alloc.Quadlet {
		file = alloc.QuadletPath(name)
	}
	g.narrow = func(p *plan.Plan) error {
		p.Narrow(t.Name(), []string{resource.ID(resource.File(file))})
		if len(p.Skipped) > 0 {
			return fmt.Errorf("--write %s: %s", name, p.Skipped[0].Reason)
		}
		return nil
	}
	return g.apply(cmd, nil)
}
