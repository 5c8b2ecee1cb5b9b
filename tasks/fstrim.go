package tasks

import (
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

func init() {
	Register(Def[struct{}]{
		Name: "fstrim", Order: 110,
		Measures: []measure.Kind{measure.Sync},
		Summary:  "enable and start fstrim.timer (weekly TRIM of SSDs)",
		When:     "on when the root disk is an SSD or NVMe; off on SD cards and rotational disks",
		Observe:  platform.Observe{Units: []string{"fstrim.timer"}},
		Default: func(f *Facts) (bool, string) {
			for _, b := range f.Block {
				if !b.Root {
					continue
				}
				switch {
				case b.SDCard:
					return false, "root is on an SD card (" + b.Name + ")"
				case b.Rotational:
					return false, "root disk " + b.Name + " is rotational"
				}
				return true, ""
			}
			return false, "root disk unknown (no /proc/mounts): enable it in the profile for an SSD image"
		},
		Plan: func(f *Facts, _ *struct{}) Intent {
			u := f.Units["fstrim.timer"]
			switch {
			case !u.Installed:
				return Skip("fstrim.timer is not installed (util-linux)")
			case u.Problem != "":
				return Skip(u.Problem)
			}
			return Intent{Wants: []Want{{Resource: resource.Unit("fstrim.timer"), Edit: func(cur resource.State) resource.State {
				return resource.UnitEnabled(cur, u.InstallLinks)
			}}}}
		},
	})
}
