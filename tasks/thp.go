package tasks

import (
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
)

const thpEnabled = "/sys/kernel/mm/transparent_hugepage/enabled"

// THPOptions are thp's profile options.
type THPOptions struct {
	Mode string `yaml:"mode" doc:"transparent huge pages mode" enum:"always,madvise,never"`
}

func init() {
	Register(Def[THPOptions]{
		Name: "thp", Order: 40,
		Measures: []measure.Kind{measure.Memory},
		Summary:  "transparent huge pages always (fewer TLB misses for large models)",
		When:     "on amd64",
		Default:  onAMD64,
		Options:  THPOptions{Mode: "always"},
		Plan: func(f *Facts, o *THPOptions) Intent {
			var in Intent
			if f.Runtime {
				if f.Kernel.THP == "" {
					return Skip("no transparent huge pages in this kernel (" + thpEnabled + " missing)")
				}
				in.Wants = []Want{{Resource: resource.SysfsAttr(thpEnabled), Desired: resource.Value(o.Mode)}}
			}
			in.tmpfiles(f, tmpfilesWrite(thpEnabled, o.Mode))
			return in
		},
	})
}
