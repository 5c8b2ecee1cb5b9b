package tasks

import (
	"fmt"
	"path"
	"strconv"

	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
)

// NVMeQueueOptions are nvme-queue's profile options.
type NVMeQueueOptions struct {
	NrRequests int `yaml:"nr_requests" doc:"queue/nr_requests of each NVMe disk" min:"4" max:"65536"`
}

func init() {
	Register(Def[NVMeQueueOptions]{
		Name: "nvme-queue", Order: 60,
		Measures: []measure.Kind{measure.DiskRead},
		Summary:  "queue/nr_requests 1024 on each NVMe disk (its tag count where it has no I/O scheduler)",
		When:     "on when an NVMe disk is present",
		Default: func(f *Facts) (bool, string) {
			if len(f.NVMe()) > 0 {
				return true, ""
			}
			if !f.Runtime {
				return false, "no /sys/block to find NVMe disks in (image root)"
			}
			return false, "no NVMe disk on this host"
		},
		Options: NVMeQueueOptions{NrRequests: 1024},
		Plan:    planNVMe,
	})
}

func planNVMe(f *Facts, o *NVMeQueueOptions) Intent {
	n := o.NrRequests
	var in Intent
	ruleN := n
	devices := []string{"nvme0n1"}
	if f.Runtime {
		// The rule asks every NVMe for the same number: the smallest any
		// present device takes, or udev's write fails at boot and the
		// setting does not survive it.
		for _, d := range f.NVMe() {
			devices = append(devices, d.Name)
			want := n
			// Without an I/O scheduler the kernel refuses more requests
			// than the hardware queue has tags; ask for what it can take.
			if d.Tags > 0 && d.Tags < want && (d.Scheduler == "none" || d.Scheduler == "") {
				want = d.Tags
				in.Notes = append(in.Notes, fmt.Sprintf("%s: set to the device's limit %d (hardware queue has %d tags)", d.Name, d.Tags, d.Tags))
			}
			ruleN = min(ruleN, want)
			in.Wants = append(in.Wants, Want{Resource: resource.SysfsAttr(path.Join("/sys/block", d.Name, "queue/nr_requests")), Desired: resource.Value(strconv.Itoa(want))})
		}
	}
	in.udevRule(f, NVMeRuleFile, devices,
		fmt.Sprintf(`ACTION=="add|change", SUBSYSTEM=="block", KERNEL=="nvme[0-9]*n[0-9]*", ENV{DEVTYPE}=="disk", ATTR{queue/nr_requests}="%d"`, ruleN))
	return in
}
