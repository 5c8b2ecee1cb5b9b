package tasks

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/resource"
)

type swappiness struct{}

func (swappiness) Name() string                           { return "swappiness" }
func (swappiness) Default(*platform.Facts) (bool, string) { return true, "" }
func (swappiness) Plan(c *Context) Result {
	v := strconv.Itoa(c.Opt.Swappiness)
	return Result{
		Wants:     sysctlWant(c, "vm.swappiness", v),
		Fragments: []Fragment{{File: SysctlFile, Lines: []string{sysctlLine("vm.swappiness", v)}}},
	}
}

type netBuffers struct{}

func (netBuffers) Name() string { return "net-buffers" }
func (netBuffers) Default(f *platform.Facts) (bool, string) {
	if f.Platform == platform.AMD64 {
		return true, ""
	}
	return false, "off by default on " + string(f.Platform)
}

func (netBuffers) Plan(c *Context) Result {
	var r Result
	keys := []struct {
		key  string
		want []int64
	}{
		{"net.core.rmem_max", []int64{c.Opt.NetCoreMax}},
		{"net.core.wmem_max", []int64{c.Opt.NetCoreMax}},
		{"net.ipv4.tcp_rmem", c.Opt.TCPRmem[:]},
		{"net.ipv4.tcp_wmem", c.Opt.TCPWmem[:]},
	}
	var lines []string
	for _, k := range keys {
		want := append([]int64(nil), k.want...)
		if c.Facts.Runtime {
			cur, err := resource.Sysctl(k.key).Read(c.Host)
			if err == nil && cur.Exists {
				f := strings.Fields(string(cur.Data))
				raised := false
				orig := joinInts(want)
				var bad string
				for i := range want {
					if i >= len(f) {
						continue
					}
					n, err := strconv.ParseInt(f[i], 10, 64)
					switch {
					case err != nil:
						bad = f[i]
					case n > want[i]:
						want[i], raised = n, true
					}
				}
				if bad != "" {
					// What cannot be compared is not changed: the guide's
					// value might lower it.
					r.Notes = append(r.Notes, fmt.Sprintf("%s: left as it is: the current value %q is not a number ezedge-host can compare with the guide's %s", k.key, resource.Normalize(cur.Data), orig))
					continue
				}
				if raised {
					r.Notes = append(r.Notes, fmt.Sprintf("%s: the guide's %s would lower the current %s; the higher values are kept", k.key, orig, resource.Normalize(cur.Data)))
				}
			}
		}
		v := joinInts(want)
		r.Wants = append(r.Wants, sysctlWant(c, k.key, v)...)
		lines = append(lines, sysctlLine(k.key, v))
	}
	r.Fragments = []Fragment{{File: SysctlFile, Lines: lines}}
	return r
}

func joinInts(v []int64) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(s, " ")
}

type hugepages struct{}

// hugepagesMinRAM is the guide's threshold for reserving huge pages.
const hugepagesMinRAM = 24 << 30

func (hugepages) Name() string { return "hugepages" }
func (hugepages) Default(f *platform.Facts) (bool, string) {
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
}

func (hugepages) Plan(c *Context) Result {
	f := c.Facts
	if f.MemTotal == 0 || f.HugePageSize == 0 {
		return Result{Skip: "RAM or huge page size unknown (no /proc/meminfo): cannot check the 25 % limit"}
	}
	reserve := uint64(c.Opt.HugePages) * f.HugePageSize
	if reserve*4 > f.MemTotal {
		return Result{Skip: fmt.Sprintf("%d × %s = %s would reserve more than 25 %% of RAM (%s)",
			c.Opt.HugePages, platform.HumanBytes(f.HugePageSize), platform.HumanBytes(reserve), platform.HumanBytes(f.MemTotal))}
	}
	v := strconv.FormatInt(c.Opt.HugePages, 10)
	return Result{
		Wants:     sysctlWant(c, "vm.nr_hugepages", v),
		Fragments: []Fragment{{File: SysctlFile, Lines: []string{sysctlLine("vm.nr_hugepages", v)}}},
		Notes:     []string{fmt.Sprintf("reserves %s of %s RAM", platform.HumanBytes(reserve), platform.HumanBytes(f.MemTotal))},
	}
}
