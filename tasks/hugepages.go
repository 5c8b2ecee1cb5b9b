package tasks

import (
	"fmt"
	"strconv"

	"github.com/ezansiedgeai/ezedge-host/internal/alloc"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// HugePagesOptions are hugepages' profile options.
type HugePagesOptions struct {
	Pages int64 `yaml:"pages" doc:"vm.nr_hugepages; refused when it would reserve more than 25 % of RAM" min:"0" max:"1073741824"`
}

// hugepagesMinRAM is the guide's threshold for reserving huge pages.
const hugepagesMinRAM = 24 << 30

func init() {
	Register(Def[HugePagesOptions]{
		Name: "hugepages", Order: 30,
		Measures: []measure.Kind{measure.Memory},
		Summary:  "vm.nr_hugepages=1024 (never more than 25 % of RAM)",
		When:     "on amd64 with 24 GiB of RAM or more",
		Default: func(f *Facts) (bool, string) {
			if f.Platform != platform.AMD64 {
				return false, "off by default on " + string(f.Platform)
			}
			if f.MemTotal == 0 {
				return false, "RAM unknown (no /proc/meminfo)"
			}
			if f.MemTotal < hugepagesMinRAM {
				return false, fmt.Sprintf("RAM %s < 24 GiB", platform.HumanBytes(f.MemTotal))
			}
			return true, ""
		},
		Options: HugePagesOptions{Pages: 1024},
		Reserves: func(f *Facts, o *HugePagesOptions) *alloc.Reserve {
			return &alloc.Reserve{What: "huge pages", Size: alloc.Bytes(uint64(o.Pages) * f.HugePageSize),
				Why: fmt.Sprintf("the hugepages task plans vm.nr_hugepages=%d × %s", o.Pages, platform.HumanBytes(f.HugePageSize))}
		},
		Plan: func(f *Facts, o *HugePagesOptions) Intent {
			if f.MemTotal == 0 || f.HugePageSize == 0 {
				return Skip("RAM or huge page size unknown (no /proc/meminfo): cannot check the 25 % limit")
			}
			reserve := uint64(o.Pages) * f.HugePageSize
			// reserve·4 > MemTotal, in a form no Hugepagesize read from
			// the root can overflow (the budget subtracts reserve).
			if uint64(o.Pages) > f.MemTotal/4/f.HugePageSize {
				return Skip(fmt.Sprintf("%d × %s = %s would reserve more than 25 %% of RAM (%s)",
					o.Pages, platform.HumanBytes(f.HugePageSize), platform.HumanBytes(reserve), platform.HumanBytes(f.MemTotal)))
			}
			in := sysctls(f, [2]string{"vm.nr_hugepages", strconv.FormatInt(o.Pages, 10)})
			in.Notes = []string{fmt.Sprintf("reserves %s of %s RAM", platform.HumanBytes(reserve), platform.HumanBytes(f.MemTotal))}
			return in
		},
	})
}
