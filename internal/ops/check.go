package ops

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/alloc"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/firstboot"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/tryapply"
	"github.com/ezansiedgeai/ezedge-host/internal/health/check"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// CheckRequest is a check of the host against the guide's checklists.
type CheckRequest struct {
	Profile *profile.Resolved
	// Firmware reads the Pi firmware's throttling word too.
	Firmware bool
	// Probe, when set, measures briefly to compare with the newest
	// baseline.
	Probe *Measure
	// TextfileDir is the node exporter's textfile directory ("" none).
	TextfileDir string
	Now         time.Time
	// Names, when set, names the containers instead of the running
	// system's Podman (check.Options.Names).
	Names func() map[string]string
}

// Check evaluates the host; it changes nothing.
func (x *Host) Check(req CheckRequest) (*check.Report, error) {
	o := check.Options{As: x.As, Choices: req.Profile.Choices, Firmware: req.Firmware, TextfileDir: req.TextfileDir, Reboot: x.checkReboot(), Names: req.Names}
	if req.Probe != nil {
		var err error
		if o.Probe, err = x.Probe(*req.Probe, check.ProbeKinds); err != nil {
			return nil, err
		}
	}
	return check.Host(x.Root, x.Store, o, req.Now)
}

// ResourcesWrite is what `resources --write NAME` plans: the
// container-resources task for the mix reqs, over the profile's choices,
// cut down to the one file it names (NAME's Quadlet drop-in, or with the
// compose form the override): the same intent, plan, snapshot and
// rollback as the task from a profile.
//
// The profile's other container-resources options stay (floor_percent);
// strict sets floor_percent to 100, so that a mix over the budget is
// refused rather than scaled, as `resources --strict` does.
// set, when not nil, overrides the profile's options as resources' flags
// do (host networking, memlock, devices, cpuset).
func ResourcesWrite(reqs []alloc.Request, forms []alloc.Form, ram alloc.Bytes, name string, strict bool, place Placement) (Request, error) {
	if ram != 0 {
		return Request{}, fmt.Errorf("--ram with --write: a file written for a host is sized from the host itself")
	}
	form := alloc.Quadlet
	switch {
	case len(forms) > 1, len(forms) == 1 && forms[0] == alloc.Run:
		return Request{}, fmt.Errorf("--write writes one file: --form quadlet (NAME's drop-in) or --form compose (the override)")
	case len(forms) == 1:
		form = forms[0]
	}
	if !slices.ContainsFunc(reqs, func(r alloc.Request) bool { return r.Name == name }) {
		return Request{}, fmt.Errorf("--write %q: no container of that name in the mix (give --workload WORKLOAD=%s)", name, name)
	}
	var list []string
	for _, r := range reqs {
		list = append(list, string(r.Workload)+"="+r.Name)
	}
	on := true
	t, _ := tasks.ByName("container-resources")
	file := tasks.ComposeOverrideFile
	if form == alloc.Quadlet {
		file = alloc.QuadletPath(name)
	}
	return Request{
		Extra: func(c tasks.Choices) tasks.Choices {
			o := *c.Options(t).(*tasks.ContainerResourcesOptions)
			o.Containers, o.Form = list, string(form)
			if strict {
				o.FloorPercent = 100
			}
			if place != nil {
				place.Set(&o)
			}
			c[t.Name()] = tasks.Settings{Enabled: &on, Options: &o}
			return c
		},
		// A placement entry refused is named by its flag or profile line
		// (the task's own refusal can name only its key).
		Check: func(f *platform.Facts, c tasks.Choices, prof *profile.Resolved) error {
			if place == nil || prof == nil {
				return nil
			}
			o := c.Options(t).(*tasks.ContainerResourcesOptions)
			_, err := tasks.Allocate(f, c, alloc.Options{FloorPercent: o.FloorPercent, Placement: o.Placement()}, reqs)
			if oe := (*alloc.OptionError)(nil); errors.As(err, &oe) {
				return place.Where(err, prof)
			}
			return nil
		},
		Narrow: func(p *plan.Plan) error {
			p.Narrow(t.Name(), []string{resource.ID(resource.File(file))})
			if len(p.Skipped) > 0 {
				return fmt.Errorf("--write %s: %s", name, p.Skipped[0].Reason)
			}
			return nil
		},
	}, nil
}

// PackagedUnits are the Debian package's units by name (shipped
// disabled), from the same source as the ones ezedge-host writes itself,
// running the packaged binary.
func PackagedUnits() map[string]string {
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
