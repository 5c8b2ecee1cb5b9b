package tasks

import (
	"strconv"

	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
)

// SwappinessOptions are swappiness's profile options.
type SwappinessOptions struct {
	Value int `yaml:"value" doc:"vm.swappiness: how readily the kernel swaps" min:"0" max:"200"`
}

func init() {
	Register(Def[SwappinessOptions]{
		Name: "swappiness", Order: 10,
		Measures: []measure.Kind{measure.Memory},
		Summary:  "vm.swappiness=10: keep model and cache pages in RAM rather than swap",
		When:     "on everywhere",
		Default:  always,
		Options:  SwappinessOptions{Value: 10},
		Plan: func(f *Facts, o *SwappinessOptions) Intent {
			return sysctls(f, [2]string{"vm.swappiness", strconv.Itoa(o.Value)})
		},
	})
}
