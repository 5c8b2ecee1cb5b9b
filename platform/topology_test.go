package platform

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// topologyRoot is a copy of the 6-CPU amd64 fixture with n logical CPUs,
// each given the topology files topo(i) returns (name → content; nil:
// no topology directory; "online" is cpuN/online).
func topologyRoot(t *testing.T, n int, topo func(i int) map[string]string) string {
	t.Helper()
	root := fixture.Copy(t, "amd64-amd-16gb-nocpufreq")
	for i := range n {
		dir := filepath.Join(root, fmt.Sprintf("sys/devices/system/cpu/cpu%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, body := range topo(i) {
			file := filepath.Join(dir, "topology", name)
			if name == "online" {
				file = filepath.Join(dir, name)
			}
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(body+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

// Physical cores come from sysfs topology: a 6-core/12-thread host is 6,
// two packages of the same core ids are twice as many, siblings lists
// serve where core_id is missing, and any CPU without topology makes the
// count the logical CPUs', the evidence saying so.
func TestPhysicalCores(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		n        int
		topo     func(i int) map[string]string
		phys     int
		evidence string
	}{
		{"6c/12t", 12, func(i int) map[string]string {
			return map[string]string{"core_id": fmt.Sprint(i % 6), "physical_package_id": "0", "thread_siblings_list": fmt.Sprintf("%d,%d", i%6, i%6+6)}
		}, 6, "physical cores: 6 of 12 logical CPUs, from /sys/devices/system/cpu/cpuN/topology"},
		{"2 packages × 4 cores, no SMT", 8, func(i int) map[string]string {
			return map[string]string{"core_id": fmt.Sprint(i % 4), "physical_package_id": fmt.Sprint(i / 4)}
		}, 8, "physical cores: 8 of 8 logical CPUs"},
		{"siblings only", 8, func(i int) map[string]string {
			return map[string]string{"thread_siblings_list": fmt.Sprintf("%d-%d", i/2*2, i/2*2+1)}
		}, 4, "physical cores: 4 of 8 logical CPUs"},
		// SMT turned off: the kernel takes the sibling threads offline and
		// removes their topology; they are left out, not a reason to
		// count logical CPUs.
		{"6c/12t with SMT off", 12, func(i int) map[string]string {
			if i >= 6 {
				return map[string]string{"online": "0"}
			}
			return map[string]string{"online": "1", "core_id": fmt.Sprint(i), "thread_siblings_list": fmt.Sprint(i)}
		}, 6, "physical cores: 6 of 12 logical CPUs, from /sys/devices/system/cpu/cpuN/topology (6 offline, left out)"},
		// An arm64 board of two clusters whose core_id restarts in each,
		// in one package: the siblings lists tell the cores apart.
		{"two clusters, core_id per cluster", 8, func(i int) map[string]string {
			return map[string]string{"core_id": fmt.Sprint(i % 4), "physical_package_id": "0", "core_cpus_list": fmt.Sprint(i), "thread_siblings_list": fmt.Sprint(i)}
		}, 8, "physical cores: 8 of 8 logical CPUs"},
		{"core_id not a number", 6, func(i int) map[string]string {
			return map[string]string{"core_id": "x"}
		}, 6, "physical cores: 6, taken as the logical CPUs (no core_id or thread_siblings_list in /sys/devices/system/cpu/cpu0/topology)"},
		{"one CPU without topology", 12, func(i int) map[string]string {
			if i == 7 {
				return nil
			}
			return map[string]string{"core_id": fmt.Sprint(i % 6)}
		}, 12, "physical cores: 12, taken as the logical CPUs (no core_id or thread_siblings_list in /sys/devices/system/cpu/cpu7/topology)"},
	} {
		f := detect(t, topologyRoot(t, c.n, c.topo))
		ev := strings.Join(f.Evidence, "\n")
		if f.Cores != c.n || f.PhysicalCores != c.phys || !strings.Contains(ev, c.evidence) {
			t.Errorf("%s: %d logical, %d physical, want %d, %d with %q in:\n%s", c.name, f.Cores, f.PhysicalCores, c.n, c.phys, c.evidence, ev)
		}
	}
	// The fixtures have no topology: their logical CPUs, said so.
	f := detect(t, filepath.Join(fixture.Testdata(), "pi5-8gb-trixie-zram"))
	if f.PhysicalCores != 4 || !strings.Contains(strings.Join(f.Evidence, "\n"), "physical cores: 4, taken as the logical CPUs") {
		t.Errorf("pi5 fixture: %d physical: %q", f.PhysicalCores, f.Evidence)
	}
}
