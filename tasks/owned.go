package tasks

import (
	"fmt"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/hostconf"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// Files ezedge-host owns. Tasks contribute lines to them; the planner
// composes each one whole, in this order, so turning a task off removes
// its lines (and the file, when nothing is left).
const (
	SysctlFile   = "/etc/sysctl.d/90-ezedge-host.conf"
	TmpfilesFile = "/etc/tmpfiles.d/90-ezedge-host.conf"
	NVMeRuleFile = "/etc/udev/rules.d/60-nvme.rules"
	GovRuleFile  = "/etc/udev/rules.d/99-ezedge-host-cpu-governor.rules"
	// RaspiConfigDropIn runs after Raspberry Pi OS Bullseye's raspi-config
	// boot script, which sets cpu0's governor after tmpfiles.d has run.
	RaspiConfigDropIn = "/etc/systemd/system/raspi-config.service.d/90-ezedge-host.conf"
	// GrubDropInFile holds our kernel arguments where GRUB reads grub.d.
	GrubDropInFile = "/etc/default/grub.d/90-ezedge-host.cfg"
)

// OwnedFiles lists every file the tasks compose, in plan order.
var OwnedFiles = []string{SysctlFile, TmpfilesFile, GovRuleFile, RaspiConfigDropIn, NVMeRuleFile}

// Header starts every owned file so a person reading it knows who wrote it.
const Header = "# Written by ezedge-host. Changes here are replaced by the next apply;\n# set values in the ezedge-host profile instead.\n"

// The files composed from several tasks' lines. Each task declares the
// other files it owns or edits in its own file; the planner declares the
// boot configuration it writes (plan/kernelargs.go).
func init() {
	for _, p := range OwnedFiles {
		resource.Own(p, hostroot.MaxRead)
	}
}

func always(*platform.Facts) (bool, string) { return true, "" }

// onAMD64 is on for amd64 hosts only.
func onAMD64(f *platform.Facts) (bool, string) {
	if f.Platform == platform.AMD64 {
		return true, ""
	}
	return false, "off by default on " + string(f.Platform)
}

// onPi is on for Raspberry Pis, opt-in elsewhere.
func onPi(f *platform.Facts) (bool, string) {
	if f.Platform.IsRaspberryPi() {
		return true, ""
	}
	return false, "opt-in on " + string(f.Platform)
}

// onSDRoot is on when the root file system is on an SD card, whose flash
// wears out with writes and is slow at small ones; opt-in elsewhere, where
// what the task trades for fewer writes (RAM, the journal across boots,
// access times) buys less. why says what that is, for the skip reason.
func onSDRoot(why string) func(*platform.Facts) (bool, string) {
	return func(f *platform.Facts) (bool, string) {
		for _, b := range f.Block {
			if b.Root && b.SDCard {
				return true, ""
			}
			if b.Root {
				return false, "opt-in: root disk " + b.Name + " is not an SD card; " + why
			}
		}
		return false, "opt-in: root disk unknown (no /proc/mounts); " + why
	}
}

func sysctlLine(key, value string) string { return fmt.Sprintf("%s = %s", key, value) }

func tmpfilesWrite(p, value string) string { return fmt.Sprintf("w %s - - - - %s", p, value) }

// sysctls is the intent of setting each key to its value: now through
// /proc/sys on a live host, at boot through the owned sysctl.d file; with
// the warnings of the files and udev rules that would win over it.
func sysctls(f *platform.Facts, kv ...[2]string) Intent {
	var in Intent
	var lines []string
	want := map[string]string{}
	for _, p := range kv {
		if f.Runtime {
			in.Wants = append(in.Wants, Want{Resource: resource.Sysctl(p[0]), Desired: resource.Value(p[1])})
		}
		lines = append(lines, sysctlLine(p[0], p[1]))
		want[p[0]] = p[1]
	}
	in.Fragments = []Fragment{{File: SysctlFile, Lines: lines}}
	if f.Conf != nil {
		in.Warnings = append(f.Conf.SysctlOverrides(SysctlFile, want), f.Conf.UdevSysctlOverrides(want)...)
	}
	return in
}

// tmpfiles adds lines to the owned tmpfiles.d file, with the warnings of
// the tmpfiles.d files and udev rules that would win over them.
func (in *Intent) tmpfiles(f *platform.Facts, lines ...string) {
	in.Fragments = append(in.Fragments, Fragment{File: TmpfilesFile, Lines: lines})
	if f.Conf == nil {
		return
	}
	parsed, _ := hostconf.ParseTmpfiles([]byte(strings.Join(lines, "\n")))
	in.Warnings = append(in.Warnings, f.Conf.TmpfilesOverrides(TmpfilesFile, parsed)...)
	in.Warnings = append(in.Warnings, f.Conf.UdevRunWrites(hostconf.TmpfilesPaths(parsed))...)
}

// udevRule adds lines to an owned udev rules file, with the warnings of
// rules udev reads later that set the same attribute for one of devices.
func (in *Intent) udevRule(f *platform.Facts, file string, devices []string, lines ...string) {
	in.Fragments = append(in.Fragments, Fragment{File: file, Lines: lines})
	if f.Conf == nil {
		return
	}
	rules, _ := hostconf.ParseUdevRules([]byte(strings.Join(lines, "\n")))
	in.Warnings = append(in.Warnings, f.Conf.UdevOverrides(file, rules, devices)...)
}

// noCmdline says why the kernel command line cannot take a task's
// arguments on this host, or "" when it can (a refusal of an edit that is
// attempted is the planner's, naming the file).
func noCmdline(f *Facts) string {
	if f.Boot.Loader != platform.LoaderNone {
		return ""
	}
	if f.Boot.Refused != "" {
		return f.Boot.Refused
	}
	return "no boot configuration found (no cmdline.txt, no /etc/default/grub)"
}
