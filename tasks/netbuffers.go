package tasks

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// NetBuffersOptions are net-buffers' profile options.
type NetBuffersOptions struct {
	CoreMax int64   `yaml:"core_max" doc:"net.core.rmem_max and wmem_max, bytes" min:"4096" max:"2147483647"`
	TCPRmem []int64 `yaml:"tcp_rmem" doc:"net.ipv4.tcp_rmem: min, default, max bytes"`
	TCPWmem []int64 `yaml:"tcp_wmem" doc:"net.ipv4.tcp_wmem: min, default, max bytes"`
}

var netBufferKeys = []string{"net.core.rmem_max", "net.core.wmem_max", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}

func init() {
	Register(Def[NetBuffersOptions]{
		Name: "net-buffers", Order: 20,
		Measures: []measure.Kind{measure.HTTP},
		Summary:  "larger socket buffers (rmem_max/wmem_max 128 MiB, tcp_rmem/tcp_wmem up to 64 MiB); never lowers a value already higher",
		When:     "on amd64",
		Observe:  platform.Observe{Sysctls: netBufferKeys},
		Default:  onAMD64,
		Options:  NetBuffersOptions{CoreMax: 134217728, TCPRmem: []int64{4096, 87380, 67108864}, TCPWmem: []int64{4096, 65536, 67108864}},
		Check: func(o *NetBuffersOptions) []Problem {
			var out []Problem
			for _, tr := range []struct {
				key string
				v   []int64
			}{{"tcp_rmem", o.TCPRmem}, {"tcp_wmem", o.TCPWmem}} {
				v := tr.v
				if len(v) != 3 || v[0] < 1 || v[0] > v[1] || v[1] > v[2] || v[2] > 1<<31-1 {
					out = append(out, Problem{tr.key, fmt.Sprintf("%v must be three sizes min <= default <= max, each 1..2147483647", v)})
				}
			}
			return out
		},
		Plan: planNetBuffers,
	})
}

func planNetBuffers(f *Facts, o *NetBuffersOptions) Intent {
	want := map[string][]int64{
		"net.core.rmem_max": {o.CoreMax}, "net.core.wmem_max": {o.CoreMax},
		"net.ipv4.tcp_rmem": o.TCPRmem, "net.ipv4.tcp_wmem": o.TCPWmem,
	}
	var notes []string
	var kv [][2]string
	for _, key := range netBufferKeys {
		w := append([]int64(nil), want[key]...)
		if cur, ok := f.Kernel.Sysctl[key]; ok && f.Runtime {
			fields := strings.Fields(cur)
			raised, bad := false, ""
			for i := range w {
				if i >= len(fields) {
					continue
				}
				n, err := strconv.ParseInt(fields[i], 10, 64)
				switch {
				case err != nil:
					bad = fields[i]
				case n > w[i]:
					w[i], raised = n, true
				}
			}
			if bad != "" {
				// What cannot be compared is not changed: the guide's
				// value might lower it.
				notes = append(notes, fmt.Sprintf("%s: left as it is: the current value %q is not a number ezedge-host can compare with the guide's %s", key, cur, joinInts(want[key])))
				continue
			}
			if raised {
				notes = append(notes, fmt.Sprintf("%s: the guide's %s would lower the current %s; the higher values are kept", key, joinInts(want[key]), cur))
			}
		}
		kv = append(kv, [2]string{key, joinInts(w)})
	}
	in := sysctls(f, kv...)
	in.Notes = notes
	return in
}

func joinInts(v []int64) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(s, " ")
}
