package tasks

import (
	"fmt"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/cmdline"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/resource"
)

const zswapParams = "/sys/module/zswap/parameters"

// zswapCompressors are tried in order when the wanted one is not in the
// kernel's crypto list.
var zswapCompressors = []string{"lz4", "zstd", "lzo-rle", "lzo"}

type zswap struct{}

func (zswap) Name() string { return "zswap" }
func (zswap) Default(f *platform.Facts) (bool, string) {
	if f.Platform.IsRaspberryPi() {
		return true, ""
	}
	return false, "opt-in on " + string(f.Platform)
}

func (zswap) Plan(c *Context) Result {
	if c.Facts.Boot.Loader == "none" {
		return Result{Skip: "no boot configuration found (no cmdline.txt, no /etc/default/grub)"}
	}
	if z := zramSwap(c); z != "" && !c.Opt.ZswapForce {
		return Result{Skip: z + ": zswap in front of zram compresses every page twice (set force: true in the profile to do it anyway)"}
	}
	var r Result
	comp := c.Opt.ZswapCompressor
	if crypto, err := c.Host.ReadFile("/proc/crypto"); err == nil {
		have := map[string]bool{}
		for _, l := range strings.Split(string(crypto), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "name" {
				have[strings.TrimSpace(v)] = true
			}
		}
		if !have[comp] && !kernelModule(c, "crypto/"+comp+".ko") {
			for _, alt := range zswapCompressors {
				if have[alt] {
					r.Notes = append(r.Notes, fmt.Sprintf("the kernel has no %s compressor; using %s", comp, alt))
					comp = alt
					break
				}
			}
		}
	}
	r.KernelArgs = []cmdline.Arg{{Key: "zswap.enabled", Value: "1"}, {Key: "zswap.compressor", Value: comp}}
	// The command line alone is not enough where the compressor is a module
	// (Debian's lz4): zswap starts before modules load and falls back to its
	// built-in default. tmpfiles.d sets it again once they can load.
	r.Fragments = []Fragment{{File: TmpfilesFile, Lines: []string{
		tmpfilesWrite(zswapParams+"/compressor", comp),
		tmpfilesWrite(zswapParams+"/enabled", "Y"),
	}}}
	if c.Facts.Runtime && c.Host.Exists(zswapParams+"/enabled") {
		r.Wants = []Want{
			{Resource: resource.SysfsAttr(zswapParams + "/compressor"), Desired: resource.Value(comp)},
			{Resource: resource.SysfsAttr(zswapParams + "/enabled"), Desired: resource.Value("Y")},
		}
	}
	return r
}

// kernelModule reports whether the running kernel ships a module (or has
// it built in) whose path contains rel, e.g. "crypto/lz4.ko".
func kernelModule(c *Context, rel string) bool {
	release, err := c.Host.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return false
	}
	dir := "/lib/modules/" + strings.TrimSpace(string(release))
	for _, f := range []string{"/modules.dep", "/modules.builtin"} {
		if b, err := c.Host.ReadFile(dir + f); err == nil && strings.Contains(string(b), rel) {
			return true
		}
	}
	return false
}

// zramSwap names the zram swap of the host, if any: in use (/proc/swaps)
// or configured (systemd's zram-generator, Raspberry Pi OS's rpi-swap).
func zramSwap(c *Context) string {
	if b, err := c.Host.ReadFile("/proc/swaps"); err == nil {
		for _, l := range strings.Split(string(b), "\n")[1:] {
			if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(f[0], "/dev/zram") {
				return "swap is zram (" + f[0] + " in /proc/swaps)"
			}
		}
	}
	for _, p := range []string{"/etc/systemd/zram-generator.conf", "/usr/lib/systemd/zram-generator.conf", "/etc/rpi/swap.conf"} {
		if b, err := c.Host.ReadFile(p); err == nil && strings.Contains(strings.ToLower(string(b)), "zram") {
			return "swap is zram (" + p + ")"
		}
	}
	return ""
}

type cpuPstate struct{}

func (cpuPstate) Name() string { return "cpu-pstate" }
func (cpuPstate) Default(f *platform.Facts) (bool, string) {
	if f.Platform != platform.AMD64 {
		return false, "x86 only"
	}
	return false, "opt-in only"
}

func (cpuPstate) Plan(c *Context) Result {
	if c.Facts.Platform != platform.AMD64 {
		return Result{Skip: "x86 only (this is " + string(c.Facts.Platform) + ")"}
	}
	if c.Facts.Boot.Loader != "grub" {
		return Result{Skip: "no GRUB configuration to put the kernel argument in"}
	}
	switch c.Facts.CPUVendor {
	case "Intel":
		return Result{KernelArgs: []cmdline.Arg{{Key: "intel_pstate", Value: "disable"}}}
	case "AMD":
		return Result{KernelArgs: []cmdline.Arg{{Key: "amd_pstate", Value: "disable"}}}
	}
	return Result{Skip: "CPU vendor " + c.Facts.CPUVendor + " has no P-state driver to disable"}
}
