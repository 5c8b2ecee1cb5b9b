package tasks

import (
	"fmt"
	"path"

	"github.com/ezansiedgeai/ezedge-host/cmdline"
	"github.com/ezansiedgeai/ezedge-host/hostroot"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/resource"
)

// Files ezedge-host owns. Tasks contribute lines to them; the planner
// composes each one whole, so turning a task off removes its lines.
const (
	SysctlFile   = "/etc/sysctl.d/90-ezedge-host.conf"
	TmpfilesFile = "/etc/tmpfiles.d/90-ezedge-host.conf"
	NVMeRuleFile = "/etc/udev/rules.d/60-nvme.rules"
	GovRuleFile  = "/etc/udev/rules.d/99-ezedge-host-cpu-governor.rules"
	// RaspiConfigDropIn runs after Raspberry Pi OS Bullseye's raspi-config
	// boot script, which sets cpu0's governor after tmpfiles.d has run.
	RaspiConfigDropIn = "/etc/systemd/system/raspi-config.service.d/90-ezedge-host.conf"
)

// GrubDropInFile holds our kernel arguments where GRUB reads grub.d.
const GrubDropInFile = "/etc/default/grub.d/90-ezedge-host.cfg"

// OwnedFiles lists every file the tasks may compose, in plan order.
var OwnedFiles = []string{SysctlFile, TmpfilesFile, GovRuleFile, RaspiConfigDropIn, NVMeRuleFile}

// The files the tasks own, and the other programs' files they edit (each
// confined to where it must be once resolved).
func init() {
	for _, p := range append([]string{GrubDropInFile}, OwnedFiles...) {
		resource.Own(p, hostroot.MaxRead)
	}
	resource.Edit("/boot/firmware/", "/boot/firmware")
	resource.Edit("/boot/", "/boot")
	resource.Edit("/etc/default/grub", "/etc/default")
	resource.Edit(rfkillSaved+"/", rfkillSaved)
	resource.Edit(NMState, path.Dir(NMState))
}

// Header starts every owned file so a person reading it knows who wrote it.
const Header = "# Written by ezedge-host. Changes here are replaced by the next apply;\n# set values in the ezedge-host profile instead.\n"

// Options are the tunable values; the profile overrides them.
type Options struct {
	// Enabled holds explicit on/off choices from the profile by task name.
	Enabled        map[string]bool
	Swappiness     int
	NetCoreMax     int64
	TCPRmem        [3]int64
	TCPWmem        [3]int64
	THP            string
	HugePages      int64
	Governor       string
	NVMeNrRequests int
	// ZswapCompressor is the zswap compressor; ZswapForce runs zswap even
	// in front of zram swap.
	ZswapCompressor string
	ZswapForce      bool
}

// DefaultOptions are the seed guide's values.
func DefaultOptions() Options {
	return Options{
		Enabled:        map[string]bool{},
		Swappiness:     10,
		NetCoreMax:     134217728,
		TCPRmem:        [3]int64{4096, 87380, 67108864},
		TCPWmem:        [3]int64{4096, 65536, 67108864},
		THP:            "always",
		HugePages:      1024,
		Governor:       "performance",
		NVMeNrRequests: 1024,

		ZswapCompressor: "lz4",
	}
}

// Context is what a task plans from.
type Context struct {
	Host  *hostroot.Root
	Facts *platform.Facts
	Opt   Options
	udev  *Udev
}

// Udev is the host's udev rules, read on first use.
func (c *Context) Udev() *Udev {
	if c.udev == nil {
		c.udev = ReadUdev(c.Host)
	}
	return c.udev
}

// Want is a resource a task wants to hold a value.
type Want struct {
	Resource resource.Resource
	Desired  resource.State
	Notes    []string
	// Current is the resource's state where the facts have just read it;
	// nil has the plan read it.
	Current *resource.State
}

// Fragment is a task's lines in one of the owned files.
type Fragment struct {
	File  string
	Lines []string
}

// Result is what a task plans: its wants, or why it is skipped.
type Result struct {
	Wants     []Want
	Fragments []Fragment
	// KernelArgs go on the kernel command line; the planner puts those of
	// every task into the boot loader's configuration together.
	KernelArgs []cmdline.Arg
	Skip       string
	Notes      []string
}

// Task is one tuning item of the guide.
type Task interface {
	Name() string
	// Default says whether the task runs on this platform without a
	// profile, and why not when it does not.
	Default(f *platform.Facts) (bool, string)
	Plan(c *Context) Result
}

// All is every task in plan order.
var All = []Task{swappiness{}, netBuffers{}, hugepages{}, thp{}, cpuGovernor{}, nvmeQueue{}, zswap{}, cpuPstate{}, bluetooth{}, wifi{}, fstrim{}}

// sysctlWant is the runtime want for key=value, or nothing on an image root.
func sysctlWant(c *Context, key, value string) []Want {
	if !c.Facts.Runtime {
		return nil
	}
	return []Want{{Resource: resource.Sysctl(key), Desired: resource.Value(value)}}
}

func sysctlLine(key, value string) string { return fmt.Sprintf("%s = %s", key, value) }

func tmpfilesWrite(p, value string) string { return fmt.Sprintf("w %s - - - - %s", p, value) }
