package command

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/alloc"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// PlacementFlags mirror container-resources' placement options on
// `resources`; each given replaces the profile's (ops.Placement).
type PlacementFlags struct {
	cmd                          *cobra.Command
	hostNetwork, memlock, device []string
	cpuset                       bool
}

// Add declares the flags on c.
func (p *PlacementFlags) Add(c *cobra.Command) {
	p.cmd = c
	c.Flags().StringSliceVar(&p.hostNetwork, "host-network", nil, "the containers given the host's network, `LIST` of workloads or names (replaces the profile's host_network; default llm,stt,vision; \"\" none)")
	c.Flags().StringSliceVar(&p.memlock, "memlock", nil, "the containers given an unlimited memlock, `LIST` of workloads or names (replaces the profile's memlock; default llm; \"\" none)")
	c.Flags().StringArrayVar(&p.device, "device", nil, "pass device node `PATH` through, or WORKLOAD=PATH / NAME=PATH to those only (repeatable; replaces the profile's devices)")
	c.Flags().BoolVar(&p.cpuset, "cpuset", false, "pin each container to physical cores of its own (--cpuset-cpus); --cpuset=false overrides the profile's cpuset")
}

// flagOf is the flag of each placement option.
var flagOf = map[string]string{"host_network": "host-network", "memlock": "memlock", "devices": "device", "cpuset": "cpuset"}

// Where says where a placement entry refused came from: its flag, or
// the profile's line that set it.
func (p *PlacementFlags) Where(err error, prof *profile.Resolved) error {
	var oe *alloc.OptionError
	if !errors.As(err, &oe) {
		return err
	}
	if fl := flagOf[oe.Key]; p.cmd.Flags().Changed(fl) {
		return fmt.Errorf("--%s: %s", fl, oe.Msg)
	}
	for _, s := range prof.Origin.Settings {
		if s.Task == "container-resources" && s.Key == oe.Key {
			return fmt.Errorf("profile %s: tasks.container-resources.%s: %s", s.At.Text(), oe.Where(), oe.Msg)
		}
	}
	return fmt.Errorf("container-resources %s (its default)", oe)
}

// Set overrides o with the flags given.
func (p *PlacementFlags) Set(o *tasks.ContainerResourcesOptions) {
	f := p.cmd.Flags()
	if f.Changed("host-network") {
		o.HostNetwork = p.hostNetwork
	}
	if f.Changed("memlock") {
		o.Memlock = p.memlock
	}
	if f.Changed("device") {
		o.Devices = p.device
	}
	if f.Changed("cpuset") {
		o.CPUSet = p.cpuset
	}
}
