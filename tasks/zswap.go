package tasks

import (
	"fmt"
	"slices"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/cmdline"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
)

const zswapParams = "/sys/module/zswap/parameters"

// zswapCompressors are tried in order when the wanted one is not in the
// kernel's crypto list.
var zswapCompressors = []string{"lz4", "zstd", "lzo-rle", "lzo"}

// ZswapOptions are zswap's profile options.
type ZswapOptions struct {
	Compressor string `yaml:"compressor" doc:"zswap's compressor" enum:"lz4,lz4hc,zstd,lzo,lzo-rle,deflate,842"`
	Force      bool   `yaml:"force" doc:"run zswap even in front of zram swap (compresses every page twice)"`
}

func init() {
	Register(Def[ZswapOptions]{
		Name: "zswap", Order: 70,
		Measures:  []measure.Kind{measure.Memory},
		Summary:   "zswap.enabled=1 zswap.compressor=lz4 on the kernel command line, and now through /sys/module/zswap",
		When:      "on Raspberry Pi; opt-in elsewhere",
		Default:   onPi,
		Options:   ZswapOptions{Compressor: "lz4"},
		PlanAmong: planZswap,
	})
}

func planZswap(f *Facts, o *ZswapOptions, c Choices) Intent {
	if why := noCmdline(f); why != "" {
		return Skip(why)
	}
	z := f.Swap.Zram
	if by := SwapPlansZram(f, c); z == "" && by != "" {
		z = "the swap task puts swap on zram (" + by + ")"
	}
	if z != "" && !o.Force {
		return Skip(z + ": zswap in front of zram compresses every page twice (set force: true in the profile to do it anyway)")
	}
	var in Intent
	comp := o.Compressor
	if len(f.Kernel.Crypto) > 0 && !f.Kernel.HasCrypto(comp) {
		for _, alt := range zswapCompressors {
			if slices.Contains(f.Kernel.Crypto, alt) {
				in.Notes = append(in.Notes, fmt.Sprintf("the kernel has no %s compressor; using %s", comp, alt))
				comp = alt
				break
			}
		}
	}
	in.KernelArgs = []cmdline.Arg{{Key: "zswap.enabled", Value: "1"}, {Key: "zswap.compressor", Value: comp}}
	// The command line alone is not enough where the compressor is a module
	// (Debian's lz4): zswap starts before modules load and falls back to its
	// built-in default. tmpfiles.d sets it again once they can load.
	in.tmpfiles(f, tmpfilesWrite(zswapParams+"/compressor", comp), tmpfilesWrite(zswapParams+"/enabled", "Y"))
	if f.Runtime && f.Kernel.Zswap {
		in.Wants = []Want{
			{Resource: resource.SysfsAttr(zswapParams + "/compressor"), Desired: resource.Value(comp)},
			{Resource: resource.SysfsAttr(zswapParams + "/enabled"), Desired: resource.Value("Y")},
		}
	}
	return in
}
