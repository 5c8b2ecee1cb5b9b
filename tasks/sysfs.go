package tasks

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/resource"
)

const thpEnabled = "/sys/kernel/mm/transparent_hugepage/enabled"

type thp struct{}

func (thp) Name() string { return "thp" }
func (thp) Default(f *platform.Facts) (bool, string) {
	if f.Platform == platform.AMD64 {
		return true, ""
	}
	return false, "off by default on " + string(f.Platform)
}

func (thp) Plan(c *Context) Result {
	r := Result{Fragments: []Fragment{{File: TmpfilesFile, Lines: []string{tmpfilesWrite(thpEnabled, c.Opt.THP)}}}}
	if c.Facts.Runtime {
		if !c.Host.Exists(thpEnabled) {
			return Result{Skip: "no transparent huge pages in this kernel (" + thpEnabled + " missing)"}
		}
		r.Wants = []Want{{Resource: resource.SysfsAttr(thpEnabled), Desired: resource.Value(c.Opt.THP)}}
	}
	return r
}

type cpuGovernor struct{}

func (cpuGovernor) Name() string { return "cpu-governor" }
func (cpuGovernor) Default(f *platform.Facts) (bool, string) {
	if f.Platform == platform.AMD64 {
		return true, ""
	}
	return false, "off by default on " + string(f.Platform)
}

func (cpuGovernor) Plan(c *Context) Result {
	g := c.Opt.Governor
	var r Result
	var paths []string
	if c.Facts.Runtime {
		if !c.Facts.HasCpufreq() {
			return Result{Skip: "no cpufreq on this host"}
		}
		cpus := c.Facts.CPUsWith(g)
		if len(cpus) == 0 {
			return Result{Skip: fmt.Sprintf("no CPU offers the %q governor (available: %s)", g, strings.Join(c.Facts.CPUs[0].Governors, " "))}
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
			r.Wants = append(r.Wants, w)
		}
		if n := len(c.Facts.CPUs) - len(cpus); n > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("%d CPUs do not offer %q and are left alone", n, g))
		}
	} else {
		paths = []string{"/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor"}
	}
	// A udev rule (Raspberry Pi OS's 60-ondemand-governor.rules) sets the
	// governor as each CPU appears, after tmpfiles.d: only a later rule wins.
	if rule, ok := c.Udev().SetsAttr("cpufreq/scaling_governor", GovRuleFile); ok {
		r.Fragments = []Fragment{{File: GovRuleFile, Lines: []string{
			fmt.Sprintf(`SUBSYSTEM=="cpu", KERNEL=="cpu[0-9]*", ATTR{cpufreq/scaling_governor}="%s"`, g)}}}
		order := "which udev runs after it, so ours wins"
		if path.Base(rule) > path.Base(GovRuleFile) {
			order = "though udev runs that one later (see the warnings)"
		}
		r.Notes = append(r.Notes, fmt.Sprintf("%s sets the governor as udev adds each CPU at boot; persisted as the udev rule %s, %s", rule, path.Base(GovRuleFile), order))
		return r
	}
	var lines []string
	for _, p := range paths {
		lines = append(lines, tmpfilesWrite(p, g))
	}
	r.Fragments = []Fragment{{File: TmpfilesFile, Lines: lines}}
	if b, err := c.Host.ReadFile("/etc/init.d/raspi-config"); err == nil && strings.Contains(string(b), "scaling_governor") {
		// systemd-sysv-generator makes raspi-config.service of the script;
		// a drop-in applies to a generated unit like to any other.
		r.Fragments = append(r.Fragments, Fragment{File: RaspiConfigDropIn, Lines: []string{
			"[Service]", "ExecStartPost=-systemd-tmpfiles --create " + TmpfilesFile}})
		r.Notes = append(r.Notes, "/etc/init.d/raspi-config sets cpu0's governor to ondemand late in every boot, after tmpfiles.d; "+
			path.Base(RaspiConfigDropIn)+" in raspi-config.service.d applies ours again right after it, so ours wins")
	}
	return r
}

type nvmeQueue struct{}

func (nvmeQueue) Name() string { return "nvme-queue" }
func (nvmeQueue) Default(f *platform.Facts) (bool, string) {
	if len(f.NVMe()) > 0 {
		return true, ""
	}
	if !f.Runtime {
		return false, "no /sys/block to find NVMe disks in (image root)"
	}
	return false, "no NVMe disk on this host"
}

func (nvmeQueue) Plan(c *Context) Result {
	n := c.Opt.NVMeNrRequests
	rule := func(v int) []Fragment {
		return []Fragment{{File: NVMeRuleFile, Lines: []string{
			fmt.Sprintf(`ACTION=="add|change", SUBSYSTEM=="block", KERNEL=="nvme[0-9]*n[0-9]*", ENV{DEVTYPE}=="disk", ATTR{queue/nr_requests}="%d"`, v)}}}
	}
	if !c.Facts.Runtime {
		return Result{Fragments: rule(n)}
	}
	// The rule asks every NVMe for the same number: the smallest any
	// present device takes, or udev's write fails at boot and the setting
	// does not survive it.
	var r Result
	ruleN := n
	for _, d := range c.Facts.NVMe() {
		want := n
		// Without an I/O scheduler the kernel refuses more requests than
		// the hardware queue has tags; ask for what the device can take.
		if b, err := c.Host.ReadFile(path.Join("/sys/block", d.Name, "mq/0/nr_tags")); err == nil {
			if tags, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && tags > 0 && tags < want && noScheduler(c, d.Name) {
				want = tags
				r.Notes = append(r.Notes, fmt.Sprintf("%s: set to the device's limit %d (hardware queue has %d tags)", d.Name, tags, tags))
			}
		}
		ruleN = min(ruleN, want)
		r.Wants = append(r.Wants, Want{Resource: resource.SysfsAttr(path.Join("/sys/block", d.Name, "queue/nr_requests")), Desired: resource.Value(strconv.Itoa(want))})
	}
	r.Fragments = rule(ruleN)
	return r
}

func noScheduler(c *Context, dev string) bool {
	b, err := c.Host.ReadFile(path.Join("/sys/block", dev, "queue/scheduler"))
	return err != nil || resource.Normalize(b) == "none"
}
