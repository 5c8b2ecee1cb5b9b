package tasks

import (
	"github.com/ezansiedgeai/ezedge-host/internal/formats/cmdline"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

func init() {
	Register(Def[struct{}]{
		Name: "cpu-pstate", Order: 80,
		Measures: []measure.Kind{measure.CPUSingle, measure.CPUAll},
		Summary:  "intel_pstate=disable or amd_pstate=disable on the kernel command line, by CPU vendor (the guide's \"disable CPU power saving\")",
		When:     "opt-in only, amd64",
		Default: func(f *Facts) (bool, string) {
			if f.Platform != platform.AMD64 {
				return false, "x86 only"
			}
			return false, "opt-in only"
		},
		Plan: func(f *Facts, _ *struct{}) Intent {
			if f.Platform != platform.AMD64 {
				return Skip("x86 only (this is " + string(f.Platform) + ")")
			}
			if f.Boot.Loader != platform.LoaderGrub {
				return Skip("no GRUB configuration to put the kernel argument in")
			}
			switch f.CPUVendor {
			case "Intel":
				return Intent{KernelArgs: []cmdline.Arg{{Key: "intel_pstate", Value: "disable"}}}
			case "AMD":
				return Intent{KernelArgs: []cmdline.Arg{{Key: "amd_pstate", Value: "disable"}}}
			}
			if f.CPUVendor == "" {
				return Skip("CPU vendor unknown (no /proc/cpuinfo in this root): turn it on for a booted host")
			}
			return Skip("CPU vendor " + f.CPUVendor + " has no P-state driver to disable")
		},
	})
}
