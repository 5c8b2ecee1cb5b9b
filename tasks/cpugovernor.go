package tasks

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/hostpath"
	"github.com/ezansiedgeai/ezedge-host/internal/formats/unitfile"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
)

// CPUGovernorOptions are cpu-governor's profile options.
type CPUGovernorOptions struct {
	Governor string `yaml:"governor" doc:"the cpufreq governor every CPU that offers it gets"`
}

var governorName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func init() {
	Register(Def[CPUGovernorOptions]{
		Name: "cpu-governor", Order: 50,
		Measures: []measure.Kind{measure.CPUSingle, measure.CPUAll},
		Summary:  "cpufreq governor performance on every CPU that offers it (one write per cpufreq policy)",
		When:     "on amd64",
		Default:  onAMD64,
		Options:  CPUGovernorOptions{Governor: "performance"},
		Check: func(o *CPUGovernorOptions) []Problem {
			if !governorName.MatchString(o.Governor) {
				return []Problem{{"governor", fmt.Sprintf("%q is not a governor name", o.Governor)}}
			}
			return nil
		},
		Plan: planGovernor,
	})
}

func planGovernor(f *Facts, o *CPUGovernorOptions) Intent {
	g := o.Governor
	var in Intent
	var paths []string
	if f.Runtime {
		if !f.HasCpufreq() {
			return Skip("no cpufreq on this host")
		}
		cpus := f.CPUsWith(g)
		if len(cpus) == 0 {
			return Skip(fmt.Sprintf("no CPU offers the %q governor (available: %s)", g, strings.Join(f.CPUs[0].Governors, " ")))
		}
		// CPUs sharing a cpufreq policy share one attribute file.
		seen := map[string]bool{}
		for _, cpu := range cpus {
			p := fmt.Sprintf("/sys/devices/system/cpu/cpu%d/cpufreq/scaling_governor", cpu.ID)
			if cpu.Policy != "" && seen[cpu.Policy] {
				continue
			}
			seen[cpu.Policy] = true
			paths = append(paths, p)
			w := Want{Resource: resource.SysfsAttr(p), Desired: resource.Value(g)}
			if cpu.GovernorRaw != nil {
				w.Current = &resource.State{Exists: true, Data: cpu.GovernorRaw}
			}
			in.Wants = append(in.Wants, w)
		}
		if n := len(f.CPUs) - len(cpus); n > 0 {
			in.Notes = append(in.Notes, fmt.Sprintf("%d CPUs do not offer %q and are left alone", n, g))
		}
	} else {
		paths = []string{"/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor"}
	}
	// A udev rule (Raspberry Pi OS's 60-ondemand-governor.rules) sets the
	// governor as each CPU appears, after tmpfiles.d: only a later rule wins.
	if f.Conf != nil {
		if rule, ok := f.Conf.UdevSetsAttr("cpufreq/scaling_governor", GovRuleFile); ok {
			cpus := []string{"cpu0"}
			for _, c := range f.CPUs {
				cpus = append(cpus, fmt.Sprintf("cpu%d", c.ID))
			}
			in.udevRule(f, GovRuleFile, cpus, fmt.Sprintf(`SUBSYSTEM=="cpu", KERNEL=="cpu[0-9]*", ATTR{cpufreq/scaling_governor}="%s"`, g))
			order := "which udev runs after it, so ours wins"
			if path.Base(rule) > path.Base(GovRuleFile) {
				order = "though udev runs that one later (see the warnings)"
			}
			in.Notes = append(in.Notes, fmt.Sprintf("%s sets the governor as udev adds each CPU at boot; persisted as the udev rule %s, %s", rule, path.Base(GovRuleFile), order))
			return in
		}
	}
	var lines []string
	for _, p := range paths {
		lines = append(lines, tmpfilesWrite(p, g))
	}
	in.tmpfiles(f, lines...)
	if f.RaspiConfigGovernor {
		switch fit, why, note := raspiConfigRunsScript(f.RaspiConfigUnit); {
		case note != "":
			in.Notes = append(in.Notes, note)
		case fit:
			// systemd-sysv-generator makes raspi-config.service of the
			// script; a drop-in applies to a generated unit like to any
			// other.
			in.Fragments = append(in.Fragments, Fragment{File: RaspiConfigDropIn, Lines: []string{
				"[Service]", "ExecStartPost=-systemd-tmpfiles --create " + TmpfilesFile}})
			in.Notes = append(in.Notes, raspiConfigScript+" sets cpu0's governor to ondemand late in every boot, after tmpfiles.d; "+
				path.Base(RaspiConfigDropIn)+" in raspi-config.service.d applies ours again right after it, so ours wins")
		case why != "":
			in.Warnings = append(in.Warnings, why)
		}
	}
	return in
}

// raspiConfigScript is Raspberry Pi OS Bullseye's boot script that sets
// cpu0's governor.
const raspiConfigScript = "/etc/init.d/raspi-config"

// raspiConfigRunsScript says whether u, raspi-config.service as systemd
// loads it at the next boot, is the unit the drop-in is written for: a
// service that runs the script (systemd-sysv-generator's, or a unit of
// the same name whose ExecStart= runs it). When it is not, a warning says
// what the drop-in would meet (the script may still reset the governor),
// or a note says the script does not run at boot (nothing to re-apply
// after).
func raspiConfigRunsScript(u unitfile.Unit) (fit bool, warning, note string) {
	notPlanned := RaspiConfigDropIn + " is not planned"
	if p := passedOver(u); p != "" {
		return false, p + ": which raspi-config.service runs at boot is unclear, so " + notPlanned + "; " + raspiConfigScript + " may reset cpu0's governor after tmpfiles.d", ""
	}
	switch {
	case u.Masked != "":
		return false, "", "raspi-config.service is masked (" + u.Masked + "): " + raspiConfigScript + " does not run at boot, tmpfiles.d's governor holds; " + notPlanned
	case u.Problem != "":
		return false, u.Problem + ": whether " + raspiConfigScript + " runs at boot is unknown, so " + notPlanned + "; it may reset cpu0's governor after tmpfiles.d", ""
	case !u.Exists():
		return false, "", "no raspi-config.service at boot (systemd-sysv-generator is not installed or " + raspiConfigScript + " is not executable): the script does not run at boot; " + notPlanned
	case u.Generated != nil:
		return true, "", ""
	}
	starts := u.All("Service", "ExecStart")
	for _, s := range starts {
		if prog, _, _ := strings.Cut(strings.TrimLeft(s.Value, "-@:+!"), " "); hostpath.Read(hostpath.Exec, prog).Is(raspiConfigScript) {
			return true, "", ""
		}
	}
	runs := "no ExecStart="
	if len(starts) > 0 {
		s := starts[len(starts)-1]
		runs = fmt.Sprintf("%s line %d: ExecStart=%s", s.File, s.Line, s.Value)
	}
	return false, fmt.Sprintf("raspi-config.service is %s (%s), not the unit of %s: %s is planned only onto that unit; if the script still runs at boot it resets cpu0's governor after tmpfiles.d", u.From(), runs, raspiConfigScript, RaspiConfigDropIn), ""
}
