package tasks

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/alloc"
	"github.com/ezansiedgeai/ezedge-host/internal/formats/unitfile"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// ContainerResourcesOptions are container-resources' profile options.
type ContainerResourcesOptions struct {
	Containers []string `yaml:"containers" doc:"the containers to size, each WORKLOAD or WORKLOAD=NAME (llm, stt, vision, general); they share the host"`
	Form       string   `yaml:"form" enum:"quadlet,compose" doc:"quadlet: a drop-in per container in /etc/containers/systemd/NAME.container.d/; compose: one override file, /etc/ezedge-host/compose.override.yaml"`
	// FloorPercent is alloc.Options.FloorPercent; `resources` takes it
	// from the profile too.
	FloorPercent int `yaml:"floor_percent" min:"10" max:"100" doc:"when the guide's figures exceed the memory budget every container is scaled down by one factor; the mix is refused when that leaves a container less than this percent of its figure (100: never scale)"`
	// The placement (alloc.Placement); `resources` takes it from the
	// profile too, its flags overriding each.
	HostNetwork []string `yaml:"host_network" doc:"the containers given the host's network (--network=host, the guide's advice for latency), each a workload or a container name; [] none"`
	Memlock     []string `yaml:"memlock" doc:"the containers given an unlimited memlock (--ulimit=memlock=-1:-1, for runtimes that mlock their model weights), each a workload or a container name; [] none"`
	Devices     []string `yaml:"devices" doc:"device nodes passed through (--device), each PATH (every container) or WORKLOAD=PATH / NAME=PATH; each must be a character device under /dev in the root (the accelerators facts find are offered: /dev/hailoN, /dev/apex_N, /dev/accel/accelN)"`
	CPUSet      bool     `yaml:"cpuset" doc:"pin each container to physical cores of its own (--cpuset-cpus), the cores shared out in proportion to the containers' CPUs, a core's SMT threads together"`
}

// Placement is o's alloc.Placement.
func (o *ContainerResourcesOptions) Placement() alloc.Placement {
	return alloc.Placement{HostNetwork: o.HostNetwork, Memlock: o.Memlock, Devices: o.Devices, CPUSet: o.CPUSet}
}

// ComposeOverrideFile is where the compose form is written, for
// podman-compose -f compose.yaml -f /etc/ezedge-host/compose.override.yaml.
const ComposeOverrideFile = "/etc/ezedge-host/compose.override.yaml"

// quadletDropIns is every drop-in this task may write: one per container
// name (alloc.Name's alphabet, so never "..").
var quadletDropIns = regexp.MustCompile(`^/etc/containers/systemd/[a-z0-9][a-z0-9_.-]{0,62}\.container\.d/90-ezedge-host\.conf$`)

const quadletGlob = "/etc/containers/systemd/*.container.d/90-ezedge-host.conf"

func init() {
	resource.Own(ComposeOverrideFile, 64<<10)
	resource.OwnMatching(quadletDropIns, 64<<10)
	Register(Def[ContainerResourcesOptions]{
		Name: "container-resources", Order: 190,
		Measures: []measure.Kind{measure.HTTP},
		Summary:  "the guide's memory limits and reservations, CPUs and environment for each AI container, as Quadlet drop-ins or a Compose override",
		When:     "opt-in: name the containers in the profile",
		Observe:  platform.Observe{Packages: []string{"podman"}, Globs: []string{quadletGlob}},
		Default:  func(*Facts) (bool, string) { return false, "opt-in: name the containers in the profile" },
		Options: ContainerResourcesOptions{Containers: []string{}, Form: string(alloc.Quadlet), FloorPercent: alloc.DefaultFloorPercent,
			HostNetwork: slices.Clone(alloc.DefaultHostNetwork), Memlock: slices.Clone(alloc.DefaultMemlock), Devices: []string{}},
		Check: func(o *ContainerResourcesOptions) []Problem {
			var out []Problem
			seen := map[string]bool{}
			for i, c := range o.Containers {
				r, err := alloc.ParseRequest(c)
				if err != nil {
					out = append(out, Problem{fmt.Sprintf("containers[%d]", i), err.Error()})
					continue
				}
				if seen[r.Name] {
					out = append(out, Problem{fmt.Sprintf("containers[%d]", i), fmt.Sprintf("the name %q is given twice", r.Name)})
				}
				seen[r.Name] = true
			}
			for _, l := range []struct {
				key  string
				list []string
			}{{"host_network", o.HostNetwork}, {"memlock", o.Memlock}} {
				for i, s := range l.list {
					if !alloc.Name.MatchString(s) {
						out = append(out, Problem{fmt.Sprintf("%s[%d]", l.key, i), fmt.Sprintf("%q: want a workload (llm, stt, vision, general) or a container name", s)})
					}
				}
			}
			for i, d := range o.Devices {
				if _, err := alloc.ParseDevice(d); err != nil {
					out = append(out, Problem{fmt.Sprintf("devices[%d]", i), err.Error()})
				}
			}
			return out
		},
		// The budget is what the other tasks, as the profile has them,
		// leave (Reserved).
		PlanAmong: func(f *Facts, o *ContainerResourcesOptions, choices Choices) Intent {
			if len(o.Containers) == 0 {
				return Skip("no containers named in the profile (containers: [llm=chat, …])")
			}
			var reqs []alloc.Request
			for _, c := range o.Containers {
				r, err := alloc.ParseRequest(c)
				if err != nil {
					return Skip(err.Error())
				}
				reqs = append(reqs, r)
			}
			a, err := Allocate(f, choices, alloc.Options{FloorPercent: o.FloorPercent, Placement: o.Placement()}, reqs)
			var oe *alloc.OptionError
			switch {
			case errors.As(err, &oe):
				// The profile asks for what this host cannot give (a
				// device it lacks, a name not in the mix, more
				// containers than cores to pin): an error naming the
				// key, not a skip that would drop the memory limits too.
				return Refuse("tasks.container-resources."+oe.Where(), oe.Msg)
			case err != nil:
				return Skip(err.Error())
			}
			return ContainerIntent(f, a, alloc.Form(o.Form))
		},
	})
}

// ContainerIntent is what writing allocation a in form wants: its files,
// and the removal of the ones this task wrote for containers, or in a
// form, no longer asked for. `ezedge-host resources --write` plans the
// same intent.
func ContainerIntent(f *Facts, a *alloc.Allocation, form alloc.Form) Intent {
	in := Intent{Warnings: a.Warnings}
	want := map[string]bool{}
	switch form {
	case alloc.Quadlet:
		p := alloc.ParsePodman(f.Packages["podman"])
		dropIns, _, why := p.QuadletSupport()
		if !dropIns {
			return Skip(why)
		}
		in.Notes = append(in.Notes, why, "Quadlet reads drop-ins when systemd reloads: systemctl daemon-reload, then restart each container's unit")
		for _, c := range a.Containers {
			file := alloc.QuadletPath(c.Name)
			q := f.Containers.Quadlets[c.Name+".container"]
			switch why := wrongQuadlet(q); {
			case why != "":
				at := q.Fragment
				if at == "" && len(q.Passed) > 0 {
					at = q.Passed[0].File
				}
				return Refuse(at, why+"; "+file+" is planned only onto a Quadlet container unit")
			case !q.Exists():
				in.Notes = append(in.Notes, fmt.Sprintf("no %s.container yet (in %s): Quadlet applies %s once the unit is installed", c.Name, strings.Join(unitfile.QuadletDirs, ", "), file))
			}
			want[file] = true
			in.Wants = append(in.Wants, Want{Resource: resource.File(file), Desired: resource.Content(append([]byte(Header), alloc.QuadletDropIn(c, p)...))})
		}
		in.Wants = append(in.Wants, Want{Resource: resource.File(ComposeOverrideFile), Desired: gone(ComposeOverrideFile)})
	case alloc.Compose:
		var left []string
		for _, c := range a.Containers {
			if c.HostNetwork {
				left = append(left, c.Name+"'s host networking")
			}
			if c.CPUSet != "" {
				left = append(left, c.Name+"'s cpuset")
			}
		}
		if len(left) > 0 {
			in.Warnings = append(in.Warnings, "the compose form leaves out "+strings.Join(left, ", ")+" (Debian 12's podman-compose ignores a cpuset, and runs a network_mode: host service on the project's network too, which Podman refuses): use form: quadlet for them, or set host_network: [] to silence this")
		}
		in.Notes = append(in.Notes, alloc.ComposeNote, "podman-compose reads it on the next `podman-compose -f compose.yaml -f "+ComposeOverrideFile+" up`")
		want[ComposeOverrideFile] = true
		in.Wants = append(in.Wants, Want{Resource: resource.File(ComposeOverrideFile), Desired: resource.Content(append([]byte(Header), alloc.ComposeOverride(a)...))})
	default:
		return Skip(fmt.Sprintf("form %q: want quadlet or compose", form))
	}
	// Drop-ins of ours for names no longer listed go: the profile is the
	// whole list.
	for _, p := range f.Globbed[quadletGlob] {
		if !want[p] && quadletDropIns.MatchString(p) && !slices.ContainsFunc(in.Wants, func(w Want) bool { return w.Resource.Name() == p }) {
			in.Wants = append(in.Wants, Want{Resource: resource.File(p), Desired: gone(p)})
		}
	}
	var names []string
	for _, c := range a.Containers {
		names = append(names, fmt.Sprintf("%s (%s): %s limit, %s reserved, %d CPUs", c.Name, c.Workload, c.Memory, c.Reservation, c.CPUs))
	}
	in.Notes = append(append([]string{strings.Join(names, "; ")}, in.Notes...), a.Notes...)
	return in
}

// wrongQuadlet says why q, a container's unit as Quadlet finds it, is not
// one a [Container] drop-in extends: a file Quadlet cannot read where the
// unit should be, an empty one (Quadlet makes no service of it), one it
// refuses, or a unit without [Container]. "" when it is one, or when
// there is none yet.
func wrongQuadlet(q unitfile.Unit) string {
	switch {
	case len(q.Passed) > 0 && !q.Exists():
		return q.Passed[0].String()
	case q.Masked != "":
		return q.Masked + " is empty: Quadlet makes no container of it"
	case q.Problem != "":
		return q.Problem
	case q.Fragment != "" && !slices.Contains(q.Sections, "Container"):
		return q.From() + " has no [Container] section: it is not a container unit"
	}
	return ""
}

// gone is the desired state of a file of ours that should not exist: its
// directory goes with it when nothing else is left in it (a drop-in
// directory of someone else's drop-ins stays).
func gone(p string) resource.State {
	return resource.State{MissingDirs: []string{path.Dir(p)}}
}
