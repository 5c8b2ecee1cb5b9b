package check

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// TestContainerChecksFixture: the four test containers in a copy of the
// amd64 fixture, named as Podman names them, checked from their cgroups:
// the OOM-killed one fails, the one at 99.6 % of its limit and the
// throttled one warn, the healthy one is ok throughout.
func TestContainerChecksFixture(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	names := map[string]string{}
	for i, c := range fixture.ContainerKinds {
		c.Put(t, root)
		names[c.ID] = []string{"llm", "stt", "vision", "web"}[i]
	}
	h, err := hostroot.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	f, err := platform.Detect(h, platform.Observe{})
	if err != nil {
		t.Fatal(err)
	}
	r := Run(Input{Facts: f, Health: platform.ReadHealth(h, f, platform.HealthOptions{Names: names}), Plan: &plan.Plan{}, Now: now})
	want := map[string]Status{
		"containers.llm.memory": OK, "containers.llm.oom-kills": Fail, "containers.llm.cpu-throttling": OK,
		"containers.llm.memory-pressure": Warn, "containers.llm.cpu-pressure": OK,
		"containers.stt.memory": Warn, "containers.stt.oom-kills": OK, "containers.stt.cpu-throttling": OK,
		"containers.stt.memory-pressure": OK, "containers.stt.cpu-pressure": OK,
		"containers.vision.memory": OK, "containers.vision.oom-kills": OK, "containers.vision.cpu-throttling": Warn,
		"containers.vision.memory-pressure": OK, "containers.vision.cpu-pressure": Warn,
		"containers.web.memory": OK, "containers.web.oom-kills": OK, "containers.web.cpu-throttling": OK,
		"containers.web.memory-pressure": OK, "containers.web.cpu-pressure": OK,
		"memory.container.llm": OK, "memory.container.web": OK,
	}
	for id, st := range want {
		if res := find(t, r, id); res.Status != st || res.ByID {
			t.Errorf("%s: %s (%s — %s), want %s", id, res.Status, res.Value, res.Detail, st)
		}
	}
	oom := find(t, r, "containers.llm.oom-kills")
	if oom.Value != "2 since the container started" || oom.Evidence != fixture.OOMKilled.Scope()+"/memory.events" || oom.Fix == "" {
		t.Errorf("oom: %+v", oom)
	}
	if v := find(t, r, "containers.stt.memory").Value; v != "2.0 GiB working set (memory.current 2.0 GiB less inactive_file 40 MiB) of 2 GiB (97.7 %)" {
		t.Errorf("near limit: %q", v)
	}
	if v := find(t, r, "containers.vision.cpu-throttling").Value; v != "60.0 % of 20000 periods throttled (900.0 s)" {
		t.Errorf("throttled: %q", v)
	}
	if r.Worst() != Fail {
		t.Errorf("worst %s", r.Worst())
	}
	if len(r.Figures.Containers) != 4 {
		t.Fatalf("figures %+v", r.Figures.Containers)
	}
	fig := r.Figures.Containers[0]
	if fig.Name != "llm" || *fig.OOMKills != 2 || *fig.MemoryRatio != 0.625 || *fig.ThrottledRatio != 0.1 || *fig.MemoryPressure != 0.125 || *fig.CPUPressure != 0.031 {
		t.Errorf("llm figures %+v", fig)
	}
}

// TestContainerChecksQuadlet: a container Quadlet runs (its cgroup
// <unit>.service/libpod-payload-<id>) has its limits and its usage
// checked as any other.
func TestContainerChecksQuadlet(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	fixture.Quadlet.Put(t, root)
	h, err := hostroot.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	f, err := platform.Detect(h, platform.Observe{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{fixture.Quadlet.ID: "whisper"}
	r := Run(Input{Facts: f, Health: platform.ReadHealth(h, f, platform.HealthOptions{Names: names}), Plan: &plan.Plan{}, Now: now})
	for _, id := range []string{"memory.container.whisper", "containers.whisper.memory", "containers.whisper.oom-kills", "containers.whisper.cpu-throttling",
		"containers.whisper.memory-pressure", "containers.whisper.cpu-pressure"} {
		if res := find(t, r, id); res.Status != OK || !strings.HasPrefix(res.Evidence, fixture.Quadlet.Scope()) {
			t.Errorf("%s: %+v", id, res)
		}
	}
	if v := find(t, r, "containers.whisper.cpu-throttling").Value; v != "1.0 % of 800 periods throttled (0.1 s)" {
		t.Errorf("cpu-throttling %q", v)
	}
}

// TestContainersUnnamedOthers: the containers known by their ID beyond
// the ones shown give each its worst state (fail, warn, unknown, ok) in
// Figures.UnnamedOthers, for the textfile's count; the named ones beyond
// do not; every result carries its container's full ID.
func TestContainersUnnamedOthers(t *testing.T) {
	t.Parallel()
	var cts []platform.ContainerLimit
	for i := range MaxContainers + 4 {
		ct := usage(fmt.Sprintf("c%02d", i), platform.MemoryUse{Current: 1, Max: 1 << 30, Limited: true}, 0, platform.CPUStat{NrPeriods: 1}, 0, 0)
		ct.ID = fmt.Sprintf("%064x", i)
		cts = append(cts, ct)
	}
	// Four warn, and are shown first; the other 20 are known by their ID
	// (named 040000000000… 170000000000) but one, "named", so the rest
	// are the last four by name: 15…, 16…, 17… and "named".
	for i := range 4 {
		cts[i].Usage.CPUPressure.Value = 90
	}
	for i := 4; i < MaxContainers+4; i++ {
		cts[i].Name = ""
		cts[i].ID = fmt.Sprintf("%02x", i) + strings.Repeat("0", 62)
	}
	cts[7].Name = "named" // beyond, but named: not counted as unnamed
	cts[0x16].Usage.CPU.Err = "/c: unreadable"
	r := runContainers(cts...)
	got := append([]Status(nil), r.Figures.UnnamedOthers...)
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	if want := []Status{OK, OK, Unknown}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("unnamed others %v, want %v", got, want)
	}
	for _, x := range r.Results {
		if x.Container != "" && len(x.ContainerID) != 64 {
			t.Errorf("%s: container ID %q", x.ID(), x.ContainerID)
		}
	}
}

// usage is a container whose every figure was read.
func usage(name string, m platform.MemoryUse, oom uint64, cpu platform.CPUStat, memP, cpuP float64) platform.ContainerLimit {
	return platform.ContainerLimit{ID: strings.Repeat("a", 64), Name: name, MemoryMax: m.Max, CPUs: 1, Usage: platform.ContainerUsage{
		Memory: platform.CgroupValue[platform.MemoryUse]{Value: m, File: "/m"}, OOMKills: platform.CgroupValue[uint64]{Value: oom, File: "/e"},
		CPU: platform.CgroupValue[platform.CPUStat]{Value: cpu, File: "/c"}, MemoryPressure: platform.CgroupValue[float64]{Value: memP, File: "/mp"},
		CPUPressure: platform.CgroupValue[float64]{Value: cpuP, File: "/cp"}}}
}

func runContainers(cts ...platform.ContainerLimit) *Report {
	f := &platform.Facts{Platform: platform.AMD64, MemTotal: 64 << 30, Cores: 8, Kernel: platform.Kernel{CgroupControllers: []string{"cpu", "memory"}}}
	return run(f, &platform.Health{Containers: cts}, nil)
}

// TestContainerThresholds: each threshold at its edge.
func TestContainerThresholds(t *testing.T) {
	t.Parallel()
	const g = 1 << 30
	cpu := platform.CPUStat{UsageUsec: 1, NrPeriods: 100}
	for _, c := range []struct {
		ct   platform.ContainerLimit
		id   string
		want Status
	}{
		{usage("x", platform.MemoryUse{Current: 9 * g / 10, Max: g, Limited: true}, 0, cpu, 0, 0), "memory", OK},
		{usage("x", platform.MemoryUse{Current: 9*g/10 + 1, Max: g, Limited: true}, 0, cpu, 0, 0), "memory", Warn},
		{usage("x", platform.MemoryUse{Current: 5 * g, Max: 0}, 0, cpu, 0, 0), "memory", OK},
		// The working set is compared: page cache the kernel reclaims
		// before an OOM kill is not near one.
		{usage("x", platform.MemoryUse{Current: g, InactiveFile: g - 9*g/10, Max: g, Limited: true}, 0, cpu, 0, 0), "memory", OK},
		{usage("x", platform.MemoryUse{Current: g, InactiveFile: g - 9*g/10 - 1, Max: g, Limited: true}, 0, cpu, 0, 0), "memory", Warn},
		{usage("x", platform.MemoryUse{Current: g, InactiveFile: 2 * g, Max: g, Limited: true}, 0, cpu, 0, 0), "memory", OK},
		{usage("x", platform.MemoryUse{Current: g, Max: g, Limited: true}, 0, cpu, 0, 0), "oom-kills", OK},
		{usage("x", platform.MemoryUse{Current: g, Max: g, Limited: true}, 1, cpu, 0, 0), "oom-kills", Fail},
		{usage("x", platform.MemoryUse{Max: g, Limited: true}, 0, platform.CPUStat{NrPeriods: 100, NrThrottled: 25}, 0, 0), "cpu-throttling", OK},
		{usage("x", platform.MemoryUse{Max: g, Limited: true}, 0, platform.CPUStat{NrPeriods: 100, NrThrottled: 26}, 0, 0), "cpu-throttling", Warn},
		{usage("x", platform.MemoryUse{Max: g, Limited: true}, 0, platform.CPUStat{}, 0, 0), "cpu-throttling", OK},
		{usage("x", platform.MemoryUse{Max: g, Limited: true}, 0, cpu, 9.99, 0), "memory-pressure", OK},
		{usage("x", platform.MemoryUse{Max: g, Limited: true}, 0, cpu, 10, 0), "memory-pressure", Warn},
		{usage("x", platform.MemoryUse{Max: g, Limited: true}, 0, cpu, 59.99, 0), "memory-pressure", Warn},
		{usage("x", platform.MemoryUse{Max: g, Limited: true}, 0, cpu, 60, 0), "memory-pressure", Fail},
		{usage("x", platform.MemoryUse{Max: g, Limited: true}, 0, cpu, 0, 24.99), "cpu-pressure", OK},
		{usage("x", platform.MemoryUse{Max: g, Limited: true}, 0, cpu, 0, 25), "cpu-pressure", Warn},
	} {
		res := find(t, runContainers(c.ct), "containers.x."+c.id)
		if res.Status != c.want || (c.want != OK) != (res.Fix != "") {
			t.Errorf("%+v: %s: %s %q %q, want %s", c.ct.Usage, c.id, res.Status, res.Value, res.Fix, c.want)
		}
	}
	// memory.max 0 is the tightest limit, not none and not 1 byte: at or
	// over it whatever the use, so it warns, with a figure of 1.
	for _, cur := range []uint64{0, 5 << 30} {
		r := runContainers(usage("x", platform.MemoryUse{Current: cur, Max: 0, Limited: true}, 0, cpu, 0, 0))
		res := find(t, r, "containers.x.memory")
		if res.Status != Warn || !strings.HasSuffix(res.Value, ", memory.max 0") || strings.Contains(res.Value, "1 B") || res.Fix == "" ||
			r.Figures.Containers[0].MemoryRatio == nil || *r.Figures.Containers[0].MemoryRatio != 1 {
			t.Errorf("memory.max 0, current %d: %+v %+v", cur, res, r.Figures.Containers[0])
		}
	}
	// Both figures are shown, the working set's share is the figure.
	r0 := runContainers(usage("x", platform.MemoryUse{Current: 3 << 30, InactiveFile: 1 << 30, Max: 4 << 30, Limited: true}, 0, cpu, 0, 0))
	if res := find(t, r0, "containers.x.memory"); res.Value != "2 GiB working set (memory.current 3 GiB less inactive_file 1 GiB) of 4 GiB (50.0 %)" ||
		*r0.Figures.Containers[0].MemoryRatio != 0.5 {
		t.Errorf("working set: %+v %+v", res, r0.Figures.Containers[0])
	}
	// No limit: no share of one, no figure.
	r := runContainers(usage("x", platform.MemoryUse{Current: 5 << 30}, 0, cpu, 0, 0))
	if res := find(t, r, "containers.x.memory"); res.Value != "5 GiB working set (memory.current 5 GiB less inactive_file 0 MiB), no limit" || r.Figures.Containers[0].MemoryRatio != nil {
		t.Errorf("unlimited: %+v %+v", res, r.Figures.Containers[0])
	}
}

// TestContainerUnreadable: a figure that could not be read is an unknown
// naming its file, never a value, and no figure.
func TestContainerUnreadable(t *testing.T) {
	t.Parallel()
	ct := usage("x", platform.MemoryUse{}, 0, platform.CPUStat{}, 0, 0)
	u := &ct.Usage
	u.Memory.Err, u.OOMKills.Err, u.CPU.Err = "/m: missing", "/e: no oom_kill line", "/c: usage_usec \"x\" is not a count"
	u.MemoryPressure.Err, u.CPUPressure.Err = "/mp: full avg10 \"101\" is not a percentage", "/cp: is a FIFO, not a regular file"
	r := runContainers(ct)
	for id, file := range map[string]string{"memory": "/m", "oom-kills": "/e", "cpu-throttling": "/c", "memory-pressure": "/mp", "cpu-pressure": "/cp"} {
		res := find(t, r, "containers.x."+id)
		if res.Status != Unknown || res.Evidence != file || !strings.HasPrefix(res.Detail, file+": ") || res.Value != "unreadable" {
			t.Errorf("%s: %+v", id, res)
		}
	}
	fig := r.Figures.Containers[0]
	if fig.MemoryRatio != nil || fig.OOMKills != nil || fig.ThrottledRatio != nil || fig.MemoryPressure != nil || fig.CPUPressure != nil {
		t.Errorf("figures from unreadable files: %+v", fig)
	}
}

// TestContainersBounded: at most MaxContainers containers have results
// of their own, the worst ones whatever their names; the rest are one
// result naming them, as bad as the worst of them. A container known by
// its ID is marked, so the textfile counts it instead of naming it.
func TestContainersBounded(t *testing.T) {
	t.Parallel()
	var cts []platform.ContainerLimit
	for i := range MaxContainers + 5 {
		ct := usage(fmt.Sprintf("c%02d", i), platform.MemoryUse{Current: 1, Max: 1 << 30, Limited: true}, 0, platform.CPUStat{NrPeriods: 1}, 0, 0)
		ct.ID = fmt.Sprintf("%064x", i)
		cts = append(cts, ct)
	}
	// The last one by name was OOM-killed; one more warns: both shown.
	cts[len(cts)-1].Usage.OOMKills.Value = 1
	cts[len(cts)-2].Usage.CPUPressure.Value = 90
	cts[len(cts)-3].Name = ""
	r := runContainers(cts...)
	perContainer := map[string]bool{}
	for _, x := range r.Results {
		if x.Group == Containers && x.Name != "others" {
			perContainer[strings.Split(x.Name, ".")[0]] = true
		}
	}
	if len(perContainer) != MaxContainers || len(r.Figures.Containers) != MaxContainers {
		t.Errorf("%d containers with results, %d figures; want %d", len(perContainer), len(r.Figures.Containers), MaxContainers)
	}
	if find(t, r, "containers.c24.oom-kills").Status != Fail || find(t, r, "containers.c23.cpu-pressure").Status != Warn {
		t.Errorf("the worst containers are not shown")
	}
	others := find(t, r, "containers.others")
	if others.Status != OK || !strings.HasPrefix(others.Value, "5 more containers: 30 checks ok") || !strings.HasSuffix(others.Detail, "the rest: c17, c18, c19, c20, c21") {
		t.Errorf("others: %+v", others)
	}
	// Shown by name, so a container keeps its place.
	var shown []string
	for _, x := range r.Results {
		if x.Group == Memory && strings.HasPrefix(x.Name, "container.") {
			shown = append(shown, x.Name)
		}
	}
	if len(shown) != MaxContainers || shown[0] != "container.000000000000" || shown[1] != "container.c00" || shown[len(shown)-1] != "container.c24" {
		t.Errorf("limits results %v", shown)
	}
	// One over the bound and failing: others fails too.
	cts[0].Usage.OOMKills.Value = 3
	for i := 1; i < MaxContainers+1; i++ {
		cts[i].Usage.MemoryPressure.Value = 70
	}
	r = runContainers(cts...)
	if o := find(t, r, "containers.others"); o.Status != Fail || o.Fix == "" {
		t.Errorf("others with a failure: %+v", o)
	}
	if find(t, r, "containers.c00.oom-kills").Status != Fail {
		t.Errorf("c00 failed and is shown")
	}
	// The rest's names are bounded too.
	var many []platform.ContainerLimit
	for i := range MaxContainers + maxOthersNamed + 3 {
		ct := usage(fmt.Sprintf("m%03d", i), platform.MemoryUse{Max: 1 << 30, Limited: true}, 0, platform.CPUStat{}, 0, 0)
		ct.ID = fmt.Sprintf("%064x", i)
		many = append(many, ct)
	}
	if o := find(t, runContainers(many...), "containers.others"); !strings.HasSuffix(o.Detail, "m059 and 3 more") || !strings.HasPrefix(o.Value, "43 more containers") {
		t.Errorf("many others: %+v", o)
	}
	// The unnamed one is marked in each of its results.
	r = runContainers(cts[len(cts)-3])
	for _, x := range r.Results {
		if (x.Group == Containers || strings.HasPrefix(x.Name, "container.")) && !x.ByID {
			t.Errorf("unnamed container's %s not marked", x.ID())
		}
	}
}
