package platform

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// containersRoot is a copy of the amd64 fixture (memory controller on)
// with the four test containers running.
func containersRoot(t *testing.T) string {
	root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	for _, c := range fixture.ContainerKinds {
		c.Put(t, root)
	}
	return root
}

func findContainer(t *testing.T, hl *Health, id string) ContainerLimit {
	t.Helper()
	for _, c := range hl.Containers {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no container %s in %+v", id, hl.Containers)
	return ContainerLimit{}
}

// TestContainerUsage reads the kernel's formats: memory.current against
// memory.max at the level nearest its limit (the crun child, not the
// unlimited scope), memory.events' oom_kill of the scope (counting the
// child's), cpu.stat of the level with the quota, PSI avg10 of the scope.
func TestContainerUsage(t *testing.T) {
	t.Parallel()
	_, hl := health(t, containersRoot(t), HealthOptions{})
	for _, fc := range fixture.ContainerKinds {
		c := findContainer(t, hl, fc.ID)
		u := c.Usage
		for what, v := range map[string]string{"memory": u.Memory.Err, "oom": u.OOMKills.Err, "cpu": u.CPU.Err, "mem psi": u.MemoryPressure.Err, "cpu psi": u.CPUPressure.Err} {
			if v != "" {
				t.Errorf("%s: %s: %s", fc.ID[:6], what, v)
			}
		}
		if u.Memory.Value != (MemoryUse{Current: fc.MemoryCurrent, InactiveFile: fc.InactiveFile, Max: fc.MemoryMax, Limited: fc.MemoryMax != 0}) || u.Memory.File != fc.Limited()+"/memory.current" {
			t.Errorf("%s: memory %+v", fc.ID[:6], u.Memory)
		}
		if u.OOMKills.Value != fc.OOMKills || u.OOMKills.File != fc.Scope()+"/memory.events" {
			t.Errorf("%s: oom %+v", fc.ID[:6], u.OOMKills)
		}
		want := CPUStat{fc.UsageUsec, fc.NrPeriods, fc.NrThrottled, fc.ThrottledUsec}
		if u.CPU.Value != want || u.CPU.File != fc.Limited()+"/cpu.stat" {
			t.Errorf("%s: cpu %+v, want %+v", fc.ID[:6], u.CPU, want)
		}
		if u.MemoryPressure.Value != fc.MemoryFull10 || u.CPUPressure.Value != fc.CPUSome10 {
			t.Errorf("%s: pressure %+v %+v", fc.ID[:6], u.MemoryPressure, u.CPUPressure)
		}
	}
	// memory.max 0 on the child: the tightest limit, kept as 0 (not 1
	// byte, not "max"), chosen over the unlimited scope.
	root0 := containersRoot(t)
	c0 := fixture.OOMKilled
	os.WriteFile(filepath.Join(root0, c0.Limited(), "memory.max"), []byte("0\n"), 0o644)
	_, hl = health(t, root0, HealthOptions{})
	if m := findContainer(t, hl, c0.ID).Usage.Memory; !m.OK() || m.Value != (MemoryUse{Current: c0.MemoryCurrent, InactiveFile: c0.InactiveFile, Limited: true}) || m.File != c0.Limited()+"/memory.current" {
		t.Errorf("memory.max 0: %+v", m)
	}
	// memory.max "max" everywhere: no limit, the scope's use.
	root := containersRoot(t)
	c := fixture.OOMKilled
	os.WriteFile(filepath.Join(root, c.Limited(), "memory.max"), []byte("max\n"), 0o644)
	_, hl = health(t, root, HealthOptions{})
	if m := findContainer(t, hl, c.ID).Usage.Memory; !m.OK() || m.Value.Max != 0 || m.Value.Limited || m.Value.Current != c.MemoryCurrent+(1<<20) || m.File != c.Scope()+"/memory.current" {
		t.Errorf("unlimited: %+v", m)
	}
}

// TestContainerWorkingSet: the memory compared with the limit is the
// working set, memory.current less memory.stat's inactive_file (page
// cache the kernel reclaims before an OOM kill), floored at 0; the level
// chosen is the one whose working set is nearest its limit.
func TestContainerWorkingSet(t *testing.T) {
	t.Parallel()
	const m = 1 << 20
	for _, c := range []struct {
		current, inactive, max uint64
		ws                     uint64
		ratio                  float64
	}{
		{1000 * m, 600 * m, 1024 * m, 400 * m, 400.0 / 1024},
		{1000 * m, 0, 1024 * m, 1000 * m, 1000.0 / 1024},
		// Read at two instants, inactive_file can pass memory.current.
		{10 * m, 11 * m, 1024 * m, 0, 0},
	} {
		fc := fixture.Throttled
		fc.MemoryCurrent, fc.InactiveFile, fc.MemoryMax = c.current, c.inactive, c.max
		root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
		fc.Put(t, root)
		_, hl := health(t, root, HealthOptions{})
		u := findContainer(t, hl, fc.ID).Usage.Memory
		ratio, limited := u.Value.Ratio()
		if !u.OK() || u.Value.Current != c.current || u.Value.InactiveFile != c.inactive || u.Value.WorkingSet() != c.ws || !limited || ratio != c.ratio {
			t.Errorf("%+v: %+v, working set %d, ratio %v", c, u, u.Value.WorkingSet(), ratio)
		}
	}
	// Two levels: the child's memory.current is nearer its limit, but most
	// of it is page cache; the scope's working set is nearer the scope's.
	fc := fixture.OOMKilled
	root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	fc.Put(t, root)
	for p, s := range map[string]string{
		fc.Scope() + "/memory.max": fmt.Sprint(8<<30, "\n"), fc.Scope() + "/memory.current": fmt.Sprint(4<<30, "\n"),
		fc.Scope() + "/memory.stat": "anon 4294967296\ninactive_file 0\n", fc.Limited() + "/memory.stat": "inactive_file 3221225472\n",
	} {
		os.WriteFile(filepath.Join(root, p), []byte(s), 0o644)
	}
	_, hl := health(t, root, HealthOptions{})
	if u := findContainer(t, hl, fc.ID).Usage.Memory; u.File != fc.Scope()+"/memory.current" || u.Value.WorkingSet() != 4<<30 {
		t.Errorf("two levels: %+v", u)
	}
}

// TestContainerQuadlet: a container Quadlet runs (--cgroups=split) is
// found at <unit>.service/libpod-payload-<id>, rootful under system.slice
// and rootless under a user's app.slice, named by its ID, and read as one
// level (a "container" directory in it is not a second one); names that
// only look like it are not containers.
func TestContainerQuadlet(t *testing.T) {
	t.Parallel()
	rootless := fixture.Quadlet
	rootless.ID = "10c1e5" + strings.Repeat("0", 58)
	rootless.Unit = "user.slice/user-1000.slice/user@1000.service/app.slice/ollama.service"
	root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	not := []string{
		"system.slice/whisper.service/libpod-payload-" + strings.Repeat("a", 63),
		"system.slice/whisper.service/libpod-payload-" + strings.Repeat("a", 65),
		"system.slice/whisper.service/libpod-payload-" + strings.Repeat("A", 64),
		"system.slice/whisper.service/libpod-payload-" + strings.Repeat("a", 64) + ".scope",
		"system.slice/whisper.service/libpod-payload-conmon-" + strings.Repeat("a", 64),
		"system.slice/whisper.service/xlibpod-payload-" + strings.Repeat("a", 64),
	}
	for _, d := range not {
		fixture.File("max\n").Put(t, root, "/sys/fs/cgroup/"+d+"/memory.max")
	}
	for _, fc := range []fixture.Container{fixture.Quadlet, rootless} {
		fc.Put(t, root)
		// A directory named "container" in the payload is not a level.
		fixture.File("1\n").Put(t, root, fc.Scope()+"/container/memory.max")
	}
	names := map[string]string{fixture.Quadlet.ID: "whisper"}
	_, hl := health(t, root, HealthOptions{Names: names})
	if len(hl.Containers) != 2 {
		t.Fatalf("containers %+v, want the two Quadlet ones", hl.Containers)
	}
	for _, fc := range []fixture.Container{fixture.Quadlet, rootless} {
		c := findContainer(t, hl, fc.ID)
		if c.Name != names[fc.ID] || c.Cgroup != fc.Scope() || c.MemoryMax != fc.MemoryMax || c.CPUs != 1.5 {
			t.Errorf("%s: %+v", fc.Unit, c)
		}
		u := c.Usage
		if u.Memory.Value != (MemoryUse{Current: fc.MemoryCurrent, InactiveFile: fc.InactiveFile, Max: fc.MemoryMax, Limited: true}) || u.Memory.File != fc.Scope()+"/memory.current" {
			t.Errorf("%s: memory %+v", fc.Unit, u.Memory)
		}
		if u.CPU.Value != (CPUStat{fc.UsageUsec, fc.NrPeriods, fc.NrThrottled, fc.ThrottledUsec}) || u.CPU.File != fc.Scope()+"/cpu.stat" {
			t.Errorf("%s: cpu %+v", fc.Unit, u.CPU)
		}
		if u.OOMKills.File != fc.Scope()+"/memory.events" || u.MemoryPressure.Value != fc.MemoryFull10 || u.CPUPressure.Value != fc.CPUSome10 {
			t.Errorf("%s: %+v", fc.Unit, u)
		}
	}
}

// TestContainerCPULevel: the kernel writes "nr_periods 0" and
// "nr_throttled 0" in the cpu.stat of the scope without a quota too, so a
// never-throttled container whose quota is on crun's child is read from
// the child (its periods), not from the scope (none, as if no quota).
func TestContainerCPULevel(t *testing.T) {
	t.Parallel()
	c := fixture.OOMKilled
	c.NrThrottled, c.ThrottledUsec = 0, 0
	root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	c.Put(t, root)
	if b, err := os.ReadFile(filepath.Join(root, c.Scope(), "cpu.stat")); err != nil || !strings.Contains(string(b), "\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n") {
		t.Fatalf("the fixture's scope cpu.stat is not the kernel's: %q %v", b, err)
	}
	_, hl := health(t, root, HealthOptions{})
	u := findContainer(t, hl, c.ID).Usage.CPU
	if want := (CPUStat{c.UsageUsec, c.NrPeriods, 0, 0}); !u.OK() || u.Value != want || u.File != c.Limited()+"/cpu.stat" {
		t.Errorf("cpu %+v, want %+v from %s", u, want, c.Limited())
	}
	// Throttled at both levels: the more throttled one, whichever it is.
	os.WriteFile(filepath.Join(root, c.Scope(), "cpu.stat"), []byte("usage_usec 5\nnr_periods 10\nnr_throttled 9\nthrottled_usec 7\n"), 0o644)
	_, hl = health(t, root, HealthOptions{})
	if u := findContainer(t, hl, c.ID).Usage.CPU; u.Value != (CPUStat{5, 10, 9, 7}) || u.File != c.Scope()+"/cpu.stat" {
		t.Errorf("scope more throttled: %+v", u)
	}
}

// TestContainerUsageHostile: every file the usage is read from, as every
// kind of file and with malformed, negative, huge and out-of-range
// values: the one figure it gives is an error naming that file, the other
// figures are read as before, and nothing panics or hangs.
func TestContainerUsageHostile(t *testing.T) {
	t.Parallel()
	c := fixture.OOMKilled
	s, l := c.Scope(), c.Limited()
	count := []string{"", "x\n", "-1\n", "18446744073709551616\n", "1.5\n", "\x00\xff\n", "1 2\n"}
	files := []struct {
		path, figure string
		bad          []string
	}{
		{s + "/memory.current", "memory", count},
		{l + "/memory.current", "memory", count},
		{s + "/memory.max", "memory", count},
		{s + "/memory.stat", "memory", []string{"", "anon 1\n", "inactive_file\n", "inactive_file x\n", "inactive_file -1\n", "inactive_file 1.5\n",
			"inactive_file 18446744073709551616\n", "inactive_file 1\ninactive_file 2\n", "inactive_file 1 2\n", "\x00\xff\n"}},
		{l + "/memory.stat", "memory", []string{"", "anon 1\nfile 2\n", "inactive_file 0x10\n", "inactive_file 1\n\nanon 2\n"}},
		{l + "/memory.max", "memory", count},
		{s + "/memory.events", "oom", []string{"", "oom_kill\n", "oom_kill -1\n", "oom_kill 18446744073709551616\n", "oom_kill 1\noom_kill 2\n",
			"low 0\nmax 3\n", "\x00\xff\n", "oom_kill 1 2\n"}},
		{s + "/cpu.stat", "cpu", []string{"", "nr_periods 5\n", "usage_usec x\n", "usage_usec -5\n"}},
		{l + "/cpu.stat", "cpu", []string{"usage_usec 1\nnr_periods 1\nnr_throttled 5\n", "usage_usec 1\nnr_periods 18446744073709551616\n", "usage_usec 1\n\nx\n"}},
		{s + "/memory.pressure", "mem psi", []string{"", "some avg10=1.00 avg60=0 avg300=0 total=0\n", "full avg10=101.00 avg60=0 avg300=0 total=0\n",
			"full avg10=-1 avg60=0\n", "full avg10=NaN\n", "full avg10=1e400\n", "full avg60=1.00 total=0\n", "full avg10=\n",
			// Only the kernel's "%lu.%02lu": forms ParseFloat takes are refused,
			// and so is a line or an avg10 given twice.
			"full avg10=0x1p3 avg60=0.00\n", "full avg10=1e1\n", "full avg10=1_0.00\n", "full avg10=+1.00\n", "full avg10=1.0\n",
			"full avg10=1\n", "full avg10=1.000\n", "full avg10=0100.00\n", "full avg10=.50\n", "full avg10=1.00 avg10=2.00\n",
			"some avg10=0.00\nfull avg10=1.00\nfull avg10=2.00\n"}},
		{s + "/cpu.pressure", "cpu psi", []string{"", "full avg10=1.00\n", "some avg10=100.01\n", "some avg10=-0.5\n", "some avg10=Inf\n", "some total=1\n",
			"some avg10=1e1\n", "some avg10=0x1p3\n", "some avg10=1_0.00\n", "some avg10=2.00 avg10=3.00\n", "some avg10=1.00\nsome avg10=1.00\n"}},
	}
	kinds := map[string]fixture.Entry{
		"missing":       {},
		"a directory":   fixture.Dir(),
		"a FIFO":        fixture.FIFO(),
		"a link out":    fixture.Link("../../../../../../../etc/hostname"),
		"dangling link": fixture.Link("/nothing/here"),
		"too large":     fixture.File(strings.Repeat("1", cgroupFileLimit+1)),
	}
	for _, f := range files {
		cases := map[string]fixture.Entry{}
		for k, e := range kinds {
			cases[k] = e
		}
		for _, b := range f.bad {
			cases["holding "+b] = fixture.File(b)
		}
		for name, e := range cases {
			t.Run(path.Base(path.Dir(f.path))+"/"+path.Base(f.path)+" "+name, func(t *testing.T) {
				t.Parallel()
				root := containersRoot(t)
				full := filepath.Join(root, f.path)
				if err := os.Remove(full); err != nil {
					t.Fatal(err)
				}
				if name != "missing" {
					e.Put(t, root, f.path)
				}
				_, hl := health(t, root, HealthOptions{})
				u := findContainer(t, hl, c.ID).Usage
				errs := map[string]string{"memory": u.Memory.Err, "oom": u.OOMKills.Err, "cpu": u.CPU.Err, "mem psi": u.MemoryPressure.Err, "cpu psi": u.CPUPressure.Err}
				for fig, err := range errs {
					switch {
					case fig == f.figure && !strings.Contains(err, f.path):
						t.Errorf("%s: error %q does not name %s", fig, err, f.path)
					case fig == f.figure && name == "missing" && !strings.Contains(err, f.path+": missing"):
						t.Errorf("%s: error %q does not say the file is missing", fig, err)
					case fig == f.figure && name == "missing" && strings.HasSuffix(f.path, ".pressure") && !strings.Contains(err, "no PSI"):
						t.Errorf("%s: error %q does not say why a pressure file would be missing", fig, err)
					case fig != f.figure && err != "":
						t.Errorf("%s broke %s: %s", f.path, fig, err)
					}
				}
				// The other containers are read as before.
				if o := findContainer(t, hl, fixture.Healthy.ID).Usage; !o.Memory.OK() || !o.CPU.OK() {
					t.Errorf("another container: %+v", o)
				}
			})
		}
	}
}
