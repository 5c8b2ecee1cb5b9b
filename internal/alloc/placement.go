package alloc

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/platform"
)

// Placement is how the containers meet the host beyond their sizes: the
// guide's container advice (host networking for latency, the
// accelerator's device node, an unlimited memlock for runtimes that
// mlock their model weights) and pinning to physical cores. Each list
// names containers by workload or by name.
type Placement struct {
	// HostNetwork: these containers share the host's network stack
	// (podman --network=host): no NAT or bridge between client and
	// model.
	HostNetwork []string
	// Memlock: these containers may lock any amount of memory (ulimit
	// memlock=-1:-1), so a runtime that mlocks its weights (llama.cpp
	// --mlock) is not refused or swapped out (llama.cpp #4072).
	Memlock []string
	// Devices are device nodes passed through: PATH to every container,
	// or WORKLOAD=PATH / NAME=PATH to those only (ParseDevice).
	Devices []string
	// CPUSet partitions the physical cores between the containers
	// (podman --cpuset-cpus), in proportion to their CPUs, a core's SMT
	// threads together, never two containers on one core.
	CPUSet bool
}

// The guide's defaults: host networking for the AI workloads, which
// serve requests where latency is what the user feels (a general
// container keeps Podman's own network); an unlimited memlock for LLM
// runtimes, which mlock their weights.
var (
	DefaultHostNetwork = []string{string(LLM), string(STT), string(Vision)}
	DefaultMemlock     = []string{string(LLM)}
)

// Device is one device pass-through: Path to the containers Select
// names (a workload or a container name; "" every container).
type Device struct {
	Select string
	Path   string
}

// devicePath is the device paths ParseDevice takes: /dev/ and names of
// letters, digits and _ . + @ - (hailo0, apex_0, accel/accel0,
// bus/usb/001/002, dri/renderD128, nvidia-uvm). An allow-list, not a
// deny-list: the path is written into a podman run line a shell reads,
// a Quadlet AddDevice= (split by systemd's quoting rules, then put
// unescaped in ExecStart=, where systemd expands % and $) and Compose
// YAML; none of those may see a character it gives a meaning to.
var devicePath = regexp.MustCompile(`^/dev(/[A-Za-z0-9_.+@-]+)+$`)

// ParseDevice reads PATH, WORKLOAD=PATH or NAME=PATH. PATH is a clean
// absolute path under /dev of the characters devicePath allows.
func ParseDevice(s string) (Device, error) {
	d := Device{Path: s}
	if sel, p, ok := strings.Cut(s, "="); ok {
		d = Device{Select: sel, Path: p}
		if !Name.MatchString(sel) {
			return Device{}, fmt.Errorf("%q: %q is not a workload or container name", s, sel)
		}
	}
	p := d.Path
	switch {
	case !strings.HasPrefix(p, "/dev/") || path.Clean(p) != p:
		return Device{}, fmt.Errorf("%q: want a clean absolute path under /dev (e.g. /dev/hailo0), optionally WORKLOAD=PATH or NAME=PATH", s)
	case len(p) > 255 || !devicePath.MatchString(p):
		return Device{}, fmt.Errorf("%q: a device path of letters, digits and _ . + @ - between its slashes, at most 255 bytes", s)
	}
	return d, nil
}

// OptionError is a placement entry refused: the option's key (the
// profile's: host_network, memlock, devices, cpuset), the entry's index
// (-1 for cpuset, one value) and why.
// The caller says where the value came from (a flag, a profile line).
type OptionError struct {
	Key   string
	Index int
	Msg   string
}

func (e *OptionError) Error() string { return e.Where() + ": " + e.Msg }

// Where is the option's key, with the entry's index in a list option's
// (Index -1: an option of one value, cpuset).
func (e *OptionError) Where() string {
	if e.Index < 0 {
		return e.Key
	}
	return fmt.Sprintf("%s[%d]", e.Key, e.Index)
}

// selects says whether the entry sel (a workload or a container name)
// names container c.
func selects(sel string, c *Container) bool {
	return sel == c.Name || sel == string(c.Workload)
}

// checkNames refuses an entry of key that names neither a workload nor
// a container of the mix.
func (a *Allocation) checkNames(key string, sels []string) error {
	for i, s := range sels {
		if err := a.checkName(key, i, s); err != nil {
			return err
		}
	}
	return nil
}

func (a *Allocation) checkName(key string, i int, s string) error {
	if slices.Contains(Workloads, Workload(s)) || slices.ContainsFunc(a.Containers, func(c Container) bool { return c.Name == s }) {
		return nil
	}
	return &OptionError{key, i, fmt.Sprintf("%q is neither a workload (%s) nor a container of the mix", s, joinWorkloads())}
}

// place applies p to the containers: each option said in its Why.
func (a *Allocation) place(f *platform.Facts, p Placement) error {
	if err := a.checkNames("host_network", p.HostNetwork); err != nil {
		return err
	}
	if err := a.checkNames("memlock", p.Memlock); err != nil {
		return err
	}
	var devs []Device
	for i, s := range p.Devices {
		d, err := ParseDevice(s)
		if err != nil {
			return &OptionError{"devices", i, err.Error()}
		}
		if d.Select != "" {
			if err := a.checkName("devices", i, d.Select); err != nil {
				return err
			}
		}
		if !f.IsCharDevice(d.Path) {
			why := "this root has no character device there"
			if !f.Runtime {
				why += " (an image has no device nodes: size it on the device)"
			}
			return &OptionError{"devices", i, fmt.Sprintf("%q: %s", s, why)}
		}
		devs = append(devs, d)
	}
	for i := range a.Containers {
		c := &a.Containers[i]
		c.Devices = []string{}
		if slices.ContainsFunc(p.HostNetwork, func(s string) bool { return selects(s, c) }) {
			c.HostNetwork = true
			c.Why = append(c.Why, "host networking (the guide: network_mode: host for latency; no bridge or NAT between client and model)")
		}
		if slices.ContainsFunc(p.Memlock, func(s string) bool { return selects(s, c) }) {
			c.Memlock = true
			c.Why = append(c.Why, "memlock unlimited (a runtime that mlocks its model weights, llama.cpp --mlock, is otherwise refused or swapped: llama.cpp #4072)")
		}
		for _, d := range devs {
			if (d.Select == "" || selects(d.Select, c)) && !slices.Contains(c.Devices, d.Path) {
				c.Devices = append(c.Devices, d.Path)
				c.Why = append(c.Why, fmt.Sprintf("device %s passed through (devices)", d.Path))
			}
		}
	}
	for _, acc := range f.Accelerators {
		if !slices.ContainsFunc(devs, func(d Device) bool { return d.Path == acc }) {
			a.Notes = append(a.Notes, fmt.Sprintf("accelerator %s found: pass it to a container with devices: [NAME=%s] in the profile, or --device NAME=%s", acc, acc, acc))
		}
	}
	if p.CPUSet {
		return a.partition(f)
	}
	return nil
}

// coreGroups are the physical cores, each its online logical CPUs (a
// core's SMT threads together), in the order of their first CPU. CPUs
// any topology line puts on one core are on one core, however the lines
// disagree (a sibling list naming a CPU whose own list does not name it
// back): two containers never share a core the kernel says is one. A CPU
// without topology is a core of its own, as PhysicalCores counts it;
// with no CPUs listed (an image), CPUs 0 to cores−1 are.
func coreGroups(f *platform.Facts, cores int) [][]int {
	parent := map[int]int{}
	find := func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	union := func(a, b int) {
		if ra, rb := find(a), find(b); ra != rb {
			parent[max(ra, rb)] = min(ra, rb)
		}
	}
	var ids []int
	for _, c := range f.CPUs {
		if _, dup := parent[c.ID]; !c.Offline && !dup && c.ID >= 0 {
			parent[c.ID] = c.ID
			ids = append(ids, c.ID)
		}
	}
	if len(ids) == 0 {
		for i := range cores {
			ids = append(ids, i)
			parent[i] = i
		}
	}
	byKey := map[string]int{}
	for _, c := range f.CPUs {
		if _, ok := parent[c.ID]; !ok || c.Offline || c.Core == "" {
			continue
		}
		if list, ok := strings.CutPrefix(c.Core, "siblings "); ok {
			for _, id := range parseCPUList(list) {
				if _, known := parent[id]; known {
					union(c.ID, id)
				}
			}
		}
		if first, ok := byKey[c.Core]; ok {
			union(c.ID, first)
		} else {
			byKey[c.Core] = c.ID
		}
	}
	slices.Sort(ids)
	at := map[int]int{}
	var groups [][]int
	for _, id := range ids {
		r := find(id)
		if i, ok := at[r]; ok {
			groups[i] = append(groups[i], id)
			continue
		}
		at[r] = len(groups)
		groups = append(groups, []int{id})
	}
	return groups
}

// parseCPUList reads a kernel CPU list ("0-3,8-11"); what it cannot
// read, or a range over 4096 CPUs (a hostile root), it leaves out.
func parseCPUList(s string) []int {
	var out []int
	for _, p := range strings.Split(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(p, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b-a > 4096 {
				continue
			}
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out
}

// partition gives each container whole physical cores of its own, in
// proportion to its CPUs (largest remainder, at least one), the cores
// the mix does not need left to the OS from core 0 up; a container given
// fewer cores than its CPUs has its CPUs and thread counts cut to them.
func (a *Allocation) partition(f *platform.Facts) error {
	groups := coreGroups(f, a.PhysicalCores)
	n, p := len(a.Containers), len(groups)
	if n > p {
		return &OptionError{"cpuset", -1, fmt.Sprintf("%d containers and %s: each needs a core of its own; run fewer on this host, or leave cpuset off", n, a.coresWords())}
	}
	sum := 0
	for _, c := range a.Containers {
		sum += c.CPUs
	}
	k := make([]int, n)
	if sum <= p {
		for i, c := range a.Containers {
			k[i] = c.CPUs
		}
	} else {
		// Largest remainder: each its floor of p·CPUs/sum, the cores
		// left to the largest remainders (the first on a tie).
		given := 0
		rem := make([]int, n)
		for i, c := range a.Containers {
			k[i], rem[i] = p*c.CPUs/sum, p*c.CPUs%sum
			given += k[i]
		}
		for ; given < p; given++ {
			best := 0
			for i := range rem {
				if rem[i] > rem[best] {
					best = i
				}
			}
			k[best]++
			rem[best] = -1
		}
		// At least one each, taken from the largest share.
		for i := range k {
			if k[i] == 0 {
				big := 0
				for j := range k {
					if k[j] > k[big] {
						big = j
					}
				}
				k[big]--
				k[i] = 1
			}
		}
	}
	used := 0
	for _, x := range k {
		used += x
	}
	next := p - used
	for i := range a.Containers {
		c := &a.Containers[i]
		var cpus []int
		for _, g := range groups[next : next+k[i]] {
			cpus = append(cpus, g...)
		}
		slices.Sort(cpus)
		c.CPUSet = cpuList(cpus)
		c.Why = append(c.Why, fmt.Sprintf("cpuset %s: %s of %s, its own (its %d of the mix's %d CPUs%s)",
			c.CPUSet, span("physical core", next+1, next+k[i]), a.coresWords(), c.CPUs, sum, osCores(p-used)))
		next += k[i]
		if k[i] < c.CPUs {
			c.Why = append(c.Why, fmt.Sprintf("CPUs %d → %d: the cores of its cpuset", c.CPUs, k[i]))
			c.CPUs = k[i]
			for j, e := range c.Env {
				if n, err := strconv.Atoi(e.Value); err == nil && slices.Contains(ThreadVars, e.Name) && n > k[i] {
					c.Env[j].Value = strconv.Itoa(k[i])
					c.Why = append(c.Why, fmt.Sprintf("%s %d → %d: never more threads than the cores of its cpuset", e.Name, n, k[i]))
				}
			}
		}
	}
	return nil
}

// span is "physical core 3" or "physical cores 3–4".
func span(what string, from, to int) string {
	if from == to {
		return fmt.Sprintf("%s %d", what, from)
	}
	return fmt.Sprintf("%ss %d–%d", what, from, to)
}

// osCores says which cores the partition leaves to the OS.
func osCores(n int) string {
	if n == 0 {
		return ""
	}
	return "; " + span("core", 1, n) + " left to the OS"
}

// cpuList is ids (sorted) the way the kernel and Podman write a CPU
// list: "0-3,8-11".
func cpuList(ids []int) string {
	var parts []string
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(ids[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", ids[i], ids[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
