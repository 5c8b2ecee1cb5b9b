package platform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

func health(t *testing.T, dir string, o HealthOptions) (*Facts, *Health) {
	t.Helper()
	f := detect(t, dir)
	h, err := hostroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	return f, ReadHealth(h, f, o)
}

// TestHealthFixtures reads the kernel's own formats in the fixtures: the
// Pi 5's fan, NVMe sensor, history bits and containers; the Pi 4's
// under-voltage alarm; the get_throttled word only when asked.
func TestHealthFixtures(t *testing.T) {
	t.Parallel()
	_, hl := health(t, filepath.Join(fixture.Testdata(), "pi5-16gb-nvme-bookworm"), HealthOptions{Firmware: true})
	if hl.Throttled == nil || hl.Throttled.Value != 0x50000 || !strings.HasSuffix(hl.Throttled.Evidence, "soc@107c000000:firmware/get_throttled") {
		t.Errorf("throttled %+v", hl.Throttled)
	}
	if hl.UnderVoltage == nil || hl.UnderVoltage.Value {
		t.Errorf("under-voltage %+v", hl.UnderVoltage)
	}
	if len(hl.Fans) != 1 || hl.Fans[0].RPM != 2843 || hl.Fans[0].PWM != 77 {
		t.Errorf("fans %+v", hl.Fans)
	}
	if len(hl.Thermal) != 1 || hl.Thermal[0].Temp != 58350 || hl.Thermal[0].Passive != 0 || hl.Thermal[0].Critical != 110000 {
		t.Errorf("thermal %+v", hl.Thermal)
	}
	// cpu_thermal mirrors the zone: only the NVMe sensor is extra.
	if len(hl.Sensors) != 1 || hl.Sensors[0].Chip != "nvme" || hl.Sensors[0].Label != "Composite" || hl.Sensors[0].Crit != 84850 {
		t.Errorf("sensors %+v", hl.Sensors)
	}
	if len(hl.Containers) != 2 || hl.Containers[0].MemoryMax != 2<<30 || hl.Containers[0].MemoryLow != 1<<30 || hl.Containers[0].CPUs != 2 ||
		hl.Containers[1].MemoryMax != 0 || hl.Containers[1].CPUs != 0 {
		t.Errorf("containers %+v", hl.Containers)
	}
	if len(hl.Swaps) != 1 || hl.Swaps[0].Name != "/var/swap" || hl.Swaps[0].Size != 204796<<10 {
		t.Errorf("swaps %+v", hl.Swaps)
	}
	_, hl = health(t, filepath.Join(fixture.Testdata(), "pi4-8gb-bullseye"), HealthOptions{})
	if hl.Throttled != nil || hl.ThrottledPath != "/sys/devices/platform/soc/soc:firmware/get_throttled" {
		t.Errorf("get_throttled read without being asked: %+v %q", hl.Throttled, hl.ThrottledPath)
	}
	if hl.UnderVoltage == nil || !hl.UnderVoltage.Value {
		t.Errorf("under-voltage %+v", hl.UnderVoltage)
	}
	for _, d := range hl.Disks {
		if d.Name == "mmcblk0" && d.MMCType != "SD" {
			t.Errorf("mmc type %q", d.MMCType)
		}
	}
	// An image has no live state at all.
	root := fixture.Copy(t, "pi4-8gb-bullseye")
	os.RemoveAll(filepath.Join(root, "proc"))
	if _, hl := health(t, root, HealthOptions{Firmware: true}); hl.Throttled != nil || len(hl.Thermal) != 0 || len(hl.Swaps) != 0 {
		t.Errorf("image root read live values: %+v", hl)
	}
}

// TestHealthHostile: whatever the files hold (garbage, huge numbers,
// negative values, a directory or FIFO where a file should be, a cgroup
// name that only looks like a container's), reading never fails or
// panics, and a value that does not parse is not reported.
func TestHealthHostile(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	w := func(p, s string) {
		full := filepath.Join(root, p)
		os.RemoveAll(full)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tp := "sys/devices/platform/soc@107c000000/soc@107c000000:firmware/get_throttled"
	for _, v := range []string{"", "zz\n", "0x\n", "1ffffffff\n", "-1\n", strings.Repeat("f", 4096)} {
		w(tp, v)
		if _, hl := health(t, root, HealthOptions{Firmware: true}); hl.Throttled != nil {
			t.Errorf("get_throttled %q read as %#x", v, hl.Throttled.Value)
		}
	}
	w(tp, "0x50005\n")
	if _, hl := health(t, root, HealthOptions{Firmware: true}); hl.Throttled == nil || hl.Throttled.Value != 0x50005 {
		t.Errorf("0x-prefixed word: %+v", hl.Throttled)
	}
	w("sys/class/thermal/thermal_zone0/temp", "hot\n")
	w("sys/class/hwmon/hwmon2/fan1_input", "99999999999999999999999\n")
	w("sys/class/hwmon/hwmon4/temp1_input", "-40000\n")
	os.RemoveAll(filepath.Join(root, "sys/class/hwmon/hwmon3/in0_lcrit_alarm"))
	os.MkdirAll(filepath.Join(root, "sys/class/hwmon/hwmon3/in0_lcrit_alarm"), 0o755)
	w("sys/fs/cgroup/machine.slice/libpod-"+strings.Repeat("g", 64)+".scope/memory.max", "1\n")
	w("sys/fs/cgroup/machine.slice/libpod-"+strings.Repeat("a", 64)+".scope/cpu.max", "100000 0\n")
	// A limit on the scope tighter than its container child's is the
	// one the kernel enforces.
	w("sys/fs/cgroup/machine.slice/libpod-0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0.scope/memory.max", "1073741824\n")
	_, hl := health(t, root, HealthOptions{})
	for _, c := range hl.Containers {
		if strings.HasPrefix(c.ID, "0f1e") && (c.MemoryMax != 1<<30 || c.CPUs != 2 || !strings.HasSuffix(c.Cgroup, ".scope/container")) {
			t.Errorf("scope and container limits: %+v", c)
		}
	}
	if len(hl.Thermal) != 0 || len(hl.Fans) != 0 || hl.UnderVoltage != nil {
		t.Errorf("garbage read as values: thermal %+v fans %+v uv %+v", hl.Thermal, hl.Fans, hl.UnderVoltage)
	}
	// With the zone unreadable, its hwmon mirror (cpu_thermal) is the
	// one reading of the SoC left, so it is kept.
	if len(hl.Sensors) != 2 || hl.Sensors[0].Chip != "cpu_thermal" || hl.Sensors[1].Temp != -40000 {
		t.Errorf("a negative temperature is a temperature: %+v", hl.Sensors)
	}
	for _, c := range hl.Containers {
		if strings.HasPrefix(c.ID, "g") || (strings.HasPrefix(c.ID, "a") && c.CPUs != 0) {
			t.Errorf("container %+v", c)
		}
	}
	if n := PodmanNames([]byte(`[{"Id":"` + strings.Repeat("a", 64) + `","Names":["llm"]},{"Id":"../x","Names":["evil"]}]`)); len(n) != 1 || n[strings.Repeat("a", 64)] != "llm" {
		t.Errorf("podman names %v", n)
	}
	if n := PodmanNames([]byte("not json")); n != nil {
		t.Errorf("podman garbage: %v", n)
	}
}

// TestHealthLiveFilesystems reads the free space of the machine running
// the test (read only): every disk file system it reports has a size and
// no more available than that.
func TestHealthLiveFilesystems(t *testing.T) {
	t.Parallel()
	h, err := hostroot.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	hl := &Health{}
	hl.readFilesystems(h)
	mounts, _ := os.ReadFile("/proc/mounts")
	if !strings.Contains(string(mounts), "\n/dev/") && !strings.HasPrefix(string(mounts), "/dev/") {
		t.Skip("no disk file system mounted here (a container's overlay root)")
	}
	if len(hl.Filesystems) == 0 {
		t.Fatalf("no file system read from\n%s", mounts)
	}
	for _, fs := range hl.Filesystems {
		if fs.Size == 0 || fs.Avail > fs.Size || !strings.HasPrefix(fs.Device, "/dev/") {
			t.Errorf("%+v", fs)
		}
	}
}
