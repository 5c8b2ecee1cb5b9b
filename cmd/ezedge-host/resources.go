package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/alloc"
	"github.com/ezansiedgeai/ezedge-host/internal/command"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/view"
)

type resourcesFlags struct {
	workloads, forms []string
	ram, write       string
	profile          command.ProfileFlags
	yes, strict      bool
	lockTimeout      time.Duration
	place            command.PlacementFlags
}

func resourcesCmd(g *globals) *cobra.Command {
	var fl resourcesFlags
	c := &cobra.Command{Use: "resources", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reqs, fs, size, err := alloc.ParseFlags(fl.workloads, fl.forms, fl.ram)
			var write ops.Request
			if err == nil && fl.write != "" {
				// The container-resources task for this mix, cut down to
				// the one file --write names, planned and applied.
				write, err = ops.ResourcesWrite(reqs, fs, size, fl.write, fl.strict, &fl.place)
			}
			if err != nil {
				return err
			}
			// The profile says which tasks keep memory from containers
			// (huge pages, a tmpfs /tmp, a volatile journal).
			src, err := fl.profile.Source()
			switch {
			case err != nil:
				return err
			case fl.write != "":
				return g.apply(cmd, src, ops.ApplyRequest{Request: write, LockTimeout: fl.lockTimeout}, fl.yes)
			}
			return g.on(nil, func(x *ops.Host, v *view.View) error {
				return v.Resources(x.Resources(ops.ResourcesRequest{Profile: src, Options: alloc.Options{RAM: size, Strict: fl.strict}, Mix: reqs, Forms: fs, Placement: &fl.place}))
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
	fl.profile.Add(c)
	fl.place.Add(c)
	return c
}
