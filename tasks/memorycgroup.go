package tasks

import (
	"slices"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/cmdline"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
)

// cgroupEnableMemory undoes the cgroup_disable=memory that Raspberry Pi
// device trees put on the kernel command line; a later argument wins.
var cgroupEnableMemory = cmdline.Arg{Key: "cgroup_enable", Value: "memory"}

func init() {
	Register(Def[struct{}]{
		Name: "memory-cgroup", Order: 75,
		Measures: []measure.Kind{measure.Memory},
		Summary:  "cgroup_enable=memory on the kernel command line, so container memory limits and reservations take effect",
		When:     "on Raspberry Pi; opt-in elsewhere (a no-op where the memory controller is already available)",
		Default:  onPi,
		Plan: func(f *Facts, _ *struct{}) Intent {
			// Active means the kernel offers the controller; on 6.12
			// kernels /proc/cgroups no longer lists it, cgroup.controllers
			// does.
			active := slices.Contains(f.Kernel.CgroupControllers, "memory")
			if f.Runtime && active && !cmdline.Holds(f.Boot.Running, cgroupEnableMemory) {
				return Skip("the memory controller is already available (/sys/fs/cgroup/cgroup.controllers lists memory)")
			}
			if why := noCmdline(f); why != "" {
				return Skip(why)
			}
			in := Intent{KernelArgs: []cmdline.Arg{cgroupEnableMemory}}
			switch {
			case !f.Runtime:
			case active:
				in.Notes = []string{"the memory controller is active (/sys/fs/cgroup/cgroup.controllers lists memory)"}
			default:
				in.Notes = []string{"the memory controller is not active yet: container memory limits are ignored until the host boots with cgroup_enable=memory"}
			}
			return in
		},
	})
}
