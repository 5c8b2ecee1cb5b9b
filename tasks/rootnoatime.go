package tasks

import (
	"errors"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/hostconf"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
)

func init() {
	// The root's line of fstab, wherever in /etc a link puts the file,
	// never outside it.
	resource.Edit(hostconf.FstabPath, "/etc")
	Register(Def[struct{}]{
		Name: "root-noatime", Order: 140,
		Measures: []measure.Kind{measure.Sync},
		Summary:  "mount / with noatime: the option added to the root's line of /etc/fstab, every other byte kept",
		When:     "on when the root is on an SD card; opt-in elsewhere",
		Default:  onSDRoot("relatime already writes an access time at most once a day per file"),
		Plan: func(f *Facts, _ *struct{}) Intent {
			w := f.Writes
			switch {
			case w.FstabProblem != "":
				return Skip(w.FstabProblem)
			case !w.FstabExists:
				return Skip("no " + hostconf.FstabPath + ": / is mounted as the kernel command line says (rootflags=)")
			}
			ed, err := hostconf.RootNoatime(w.Fstab)
			switch {
			case errors.Is(err, hostconf.ErrNoRootEntry):
				return Skip(hostconf.FstabPath + ": no line mounts / (the kernel command line's rootflags= sets its options)")
			case err != nil:
				return Skip(hostconf.FstabPath + " " + err.Error() + "; not edited")
			}
			in := Intent{Wants: []Want{{
				Resource: resource.File(hostconf.FstabPath),
				// The edit is made again on the bytes the plan reads; if
				// they no longer parse, nothing changes.
				Edit: func(cur resource.State) resource.State {
					e, err := hostconf.RootNoatime(cur.Data)
					if err != nil || !cur.Exists {
						return cur
					}
					cur.Data = e.Apply(cur.Data)
					return cur
				},
				Notes:  []string{ed.Says(), "takes effect at the next boot, or now with `mount -o remount,noatime /`"},
				Reboot: true,
			}}}
			if ed.Noop() && f.Runtime && w.RootOptions != "" && !hasOption(w.RootOptions, "noatime") {
				in.RebootPending = []Pending{{"noatime on /", "in " + hostconf.FstabPath + ", not in /proc/mounts yet (`mount -o remount,noatime /`)"}}
			}
			return in
		},
	})
}

func hasOption(opts, o string) bool {
	for _, x := range strings.Split(opts, ",") {
		if x == o {
			return true
		}
	}
	return false
}
