package check

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/alloc"
	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/rollback"
)

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// run checks a live host made of f and hl with an empty plan.
func run(f *platform.Facts, hl *platform.Health, p *plan.Plan) *Report {
	f.Runtime = true
	if p == nil {
		p = &plan.Plan{}
	}
	return Run(Input{Facts: f, Health: hl, Plan: p, Now: now})
}

func find(t *testing.T, r *Report, id string) Result {
	t.Helper()
	for _, x := range r.Results {
		if x.ID() == id {
			return x
		}
	}
	t.Fatalf("no result %s in %v", id, r.Results)
	return Result{}
}

// TestThrottlingBits decodes the firmware's word bit by bit: each of the
// four conditions now (bits 0–3) fails, only since boot (bits 16–19)
// warns, and the figures carry every bit.
func TestThrottlingBits(t *testing.T) {
	t.Parallel()
	for _, b := range throttleBits {
		for _, tc := range []struct {
			word uint32
			want Status
		}{{1 << b.bit, Fail}, {1 << (b.bit + 16), Warn}, {0, OK}} {
			hl := &platform.Health{Throttled: &platform.Reading[uint32]{Value: tc.word, Evidence: "get_throttled"}}
			r := run(&platform.Facts{Platform: platform.RPi4}, hl, nil)
			res := find(t, r, "power.throttling")
			if res.Status != tc.want {
				t.Errorf("0x%x: %s, want %s (%s)", tc.word, res.Status, tc.want, res.Detail)
			}
			if tc.word != 0 && !strings.Contains(res.Detail, b.say) {
				t.Errorf("0x%x: detail %q does not name %s", tc.word, res.Detail, b.say)
			}
			for _, fb := range r.Figures.Throttling {
				if fb.Now == nil || fb.SinceBoot == nil {
					t.Fatalf("0x%x: bit %s unknown though the word was read", tc.word, fb.Name)
				}
				wantNow := fb.Name == b.name && tc.word == 1<<b.bit
				wantPast := fb.Name == b.name && tc.word == 1<<(b.bit+16)
				if *fb.Now != wantNow || *fb.SinceBoot != wantPast {
					t.Errorf("0x%x: bit %s now=%v since=%v", tc.word, fb.Name, *fb.Now, *fb.SinceBoot)
				}
			}
		}
	}
	// Without the word: under-voltage from hwmon, the rest unknown, never
	// guessed.
	hl := &platform.Health{UnderVoltage: &platform.Reading[bool]{Value: true, Evidence: "in0_lcrit_alarm"}, ThrottledPath: "/sys/x/get_throttled"}
	r := run(&platform.Facts{Platform: platform.RPi5}, hl, nil)
	if res := find(t, r, "power.under-voltage"); res.Status != Fail {
		t.Errorf("under-voltage alarm: %s", res.Status)
	}
	if res := find(t, r, "power.throttling"); res.Status != Unknown || res.Evidence != "/sys/x/get_throttled" {
		t.Errorf("throttling without --firmware: %+v", res)
	}
	for _, fb := range r.Figures.Throttling[1:] {
		if fb.Now != nil || fb.SinceBoot != nil {
			t.Errorf("bit %s guessed", fb.Name)
		}
	}
	// Not a Pi: no power checks at all.
	if r := run(&platform.Facts{Platform: platform.AMD64}, &platform.Health{}, nil); len(r.Figures.Throttling) != 0 {
		t.Errorf("amd64 has throttling figures")
	}
}

// TestThermal: a passive trip point wins over the board's throttle
// point, which wins over a critical trip; 10 °C below is a warning.
func TestThermal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind     platform.Kind
		z        platform.ThermalZone
		want     Status
		limitSay string
	}{
		{platform.RPi4, platform.ThermalZone{Type: "cpu-thermal", Temp: 80000}, Fail, "80.0"},
		{platform.RPi4, platform.ThermalZone{Type: "cpu-thermal", Temp: 70000}, Warn, "80.0"},
		{platform.RPi4, platform.ThermalZone{Type: "cpu-thermal", Temp: 69999}, OK, "80.0"},
		{platform.RPi5, platform.ThermalZone{Type: "cpu-thermal", Temp: 84000, Critical: 110000}, Warn, "85.0"},
		{platform.RPi5, platform.ThermalZone{Type: "cpu-thermal", Temp: 84000, Passive: 90000}, Warn, "90.0"},
		{platform.AMD64, platform.ThermalZone{Type: "acpitz", Temp: 50000, Critical: 105000}, OK, "105.0"},
		{platform.AMD64, platform.ThermalZone{Type: "acpitz", Temp: 50000}, Unknown, ""},
	} {
		r := run(&platform.Facts{Platform: tc.kind}, &platform.Health{Thermal: []platform.ThermalZone{tc.z}}, nil)
		res := find(t, r, "thermal.temperature."+tc.z.Type)
		if res.Status != tc.want || !strings.Contains(res.Detail, tc.limitSay) {
			t.Errorf("%s %+v: %s %q, want %s naming %s", tc.kind, tc.z, res.Status, res.Detail, tc.want, tc.limitSay)
		}
	}
	// Cooling on a Pi: a fan, else a fan cooling device, else a warning.
	for _, tc := range []struct {
		hl   platform.Health
		want Status
	}{
		{platform.Health{Fans: []platform.Fan{{Chip: "pwmfan", RPM: 3000, PWM: 100}}}, OK},
		{platform.Health{Cooling: []platform.CoolingDevice{{Type: "pwm-fan", Max: 4}}}, OK},
		{platform.Health{Cooling: []platform.CoolingDevice{{Type: "thermal-cpufreq-0", Max: 4}}}, Warn},
		{platform.Health{}, Warn},
	} {
		if res := find(t, run(&platform.Facts{Platform: platform.RPi5}, &tc.hl, nil), "thermal.cooling"); res.Status != tc.want {
			t.Errorf("%+v: cooling %s, want %s", tc.hl, res.Status, tc.want)
		}
	}
}

// TestStorageSwapMemory covers the disk kinds, swap on an SD card, and
// container limits against RAM and cores.
func TestStorageSwapMemory(t *testing.T) {
	t.Parallel()
	f := &platform.Facts{Platform: platform.RPi4, MemTotal: 8 << 30, Cores: 4,
		Block:  []platform.BlockDevice{{Name: "mmcblk0", SDCard: true, Root: true}, {Name: "sda"}},
		Kernel: platform.Kernel{CgroupControllers: []string{"cpu", "memory"}}}
	hl := &platform.Health{Disks: []platform.DiskKind{{Name: "mmcblk0", MMCType: "SD"}, {Name: "sda", USB: true}},
		Swaps: []platform.SwapArea{{Name: "/var/swap", Type: "file", Size: 100 << 20}},
		Containers: []platform.ContainerLimit{
			{ID: strings.Repeat("a", 64), Name: "llm", MemoryMax: 6 << 30, CPUs: 3},
			{ID: strings.Repeat("b", 64), Name: "vision", MemoryMax: 2 << 30, CPUs: 2},
		}}
	r := run(f, hl, nil)
	for id, want := range map[string]Status{
		"storage.disk.mmcblk0": Warn, "storage.disk.sda": OK, "storage.trim": Warn,
		"swap.use": Warn, "memory.controller": OK, "memory.container.llm": OK, "memory.limits-fit": Fail,
	} {
		if res := find(t, r, id); res.Status != want {
			t.Errorf("%s: %s (%s %s), want %s", id, res.Status, res.Value, res.Detail, want)
		}
	}
	if v := find(t, r, "storage.disk.sda").Value; v != "USB SSD" {
		t.Errorf("sda is %q", v)
	}
	// 6.5 GiB of 8: more than 75 % is a warning.
	hl.Containers[0].MemoryMax = 9 << 29
	if res := find(t, run(f, hl, nil), "memory.limits-fit"); res.Status != Warn {
		t.Errorf("6.5 of 8 GiB: %s", res.Status)
	}
	hl.Containers[0].MemoryMax, hl.Containers[1].MemoryMax = 1<<30, 0
	r = run(f, hl, nil)
	if res := find(t, r, "memory.container.vision"); res.Status != Warn || !strings.Contains(res.Detail, "no memory limit") {
		t.Errorf("unlimited container: %+v", res)
	}
	if res := find(t, r, "memory.limits-fit"); res.Status != Warn || !strings.Contains(res.Detail, "CPU") {
		t.Errorf("5 CPUs on 4 cores: %+v", res)
	}
	// A container Podman named is its name; one it did not, its ID's
	// first 12 digits, marked so that metrics count it instead.
	hl.Containers[1].Name = ""
	r = run(f, hl, nil)
	if res := find(t, r, "memory.container.llm"); res.ByID {
		t.Errorf("a named container marked by ID: %+v", res)
	}
	if res := find(t, r, "memory.container.bbbbbbbbbbbb"); !res.ByID {
		t.Errorf("a container known by its ID not marked: %+v", res)
	}
	f.Kernel.CgroupControllers = []string{"cpu"}
	if res := find(t, run(f, hl, nil), "memory.controller"); res.Status != Fail || res.Fix == "" {
		t.Errorf("no memory controller: %+v", res)
	}
}

// TestTuning maps the plan onto its tasks: a change of a resource two
// tasks share counts for both; a pending reboot warns; drift and warnings
// have their own checks.
func TestTuning(t *testing.T) {
	t.Parallel()
	p := &plan.Plan{
		Changes: []plan.Change{
			{Task: "swappiness", Action: plan.None},
			{Task: "zswap,memory-cgroup", Action: plan.Update},
			{Task: "thp", Action: plan.None},
		},
		Skipped:       []plan.Skipped{{Task: "wifi", Reason: "guard"}},
		RebootPending: []string{"transparent_hugepage=always (thp): in /etc/default/grub, not in /proc/cmdline yet"},
		Drift:         []string{"sysctl:vm.swappiness"},
	}
	r := run(&platform.Facts{Platform: platform.AMD64}, &platform.Health{}, p)
	for id, want := range map[string]Status{"tuning.swappiness": OK, "tuning.zswap": Fail, "tuning.memory-cgroup": Fail,
		"tuning.thp": Warn, "tuning.wifi": OK, "tuning.drift": Warn} {
		if res := find(t, r, id); res.Status != want {
			t.Errorf("%s: %s, want %s", id, res.Status, want)
		}
	}
	if r.Figures.PendingChanges != 1 || !r.Figures.PendingReboot || r.Figures.Drift != 1 {
		t.Errorf("figures %+v", r.Figures)
	}
	if r.Worst() != Fail {
		t.Errorf("worst %s", r.Worst())
	}
}

// TestImageRoot: on an image every runtime check is unknown, and unknown
// does not make the check fail.
func TestImageRoot(t *testing.T) {
	t.Parallel()
	f := &platform.Facts{Platform: platform.RPi5, Units: map[string]platform.Unit{
		NodeExporter: {Installed: true, Enabled: true}, Timer: {Installed: true, Enabled: true}}}
	r := Run(Input{Facts: f, Health: &platform.Health{}, Plan: &plan.Plan{}, Now: now, TextfileTime: now.Add(-time.Hour)})
	for _, id := range []string{"power.throttling", "thermal.temperature", "thermal.cooling", "swap.use", "memory.controller", "monitoring.textfile"} {
		if res := find(t, r, id); res.Status != Unknown {
			t.Errorf("%s on an image: %s", id, res.Status)
		}
	}
	if r.Worst() != OK {
		t.Errorf("worst on an image with only unknowns: %s", r.Worst())
	}
}

// TestMonitoringFreshness: the textfile is fresh for five minutes.
func TestMonitoringFreshness(t *testing.T) {
	t.Parallel()
	f := &platform.Facts{Platform: platform.AMD64, Runtime: true, Units: map[string]platform.Unit{Timer: {Installed: true, Enabled: true}}}
	for age, want := range map[time.Duration]Status{time.Minute: OK, 5*time.Minute + time.Second: Warn} {
		r := Run(Input{Facts: f, Health: &platform.Health{}, Plan: &plan.Plan{}, Now: now, TextfileTime: now.Add(-age)})
		if res := find(t, r, "monitoring.textfile"); res.Status != want {
			t.Errorf("age %s: %s", age, res.Status)
		}
	}
}

// BenchmarkCheck is a whole check (facts, health, plan, evaluation) of each
// fixture, beside BenchmarkPlan: the timer runs it every minute.
func BenchmarkCheck(b *testing.B) {
	for _, n := range fixture.Names {
		root := fixture.Copy(b, n)
		b.Run(n, func(b *testing.B) {
			for b.Loop() {
				h, err := hostroot.Open(root)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Host(h, rollback.Open(h), Options{Firmware: true}, now); err != nil {
					b.Fatal(err)
				}
				h.Close()
			}
		})
	}
}

// TestFreeSpace: under 10 % free warns, under 5 % fails.
func TestFreeSpace(t *testing.T) {
	t.Parallel()
	for avail, want := range map[uint64]Status{50: OK, 8: Warn, 4: Fail} {
		hl := &platform.Health{Filesystems: []platform.Filesystem{{Mount: "/", Device: "/dev/nvme0n1p2", Size: 100 << 30, Avail: avail << 30}}}
		r := run(&platform.Facts{Platform: platform.AMD64, Block: []platform.BlockDevice{{Name: "nvme0n1", NVMe: true, Root: true}}}, hl, nil)
		if res := find(t, r, "storage.free./"); res.Status != want {
			t.Errorf("%d %% free: %s, want %s", avail, res.Status, want)
		}
	}
}

// TestPlanRefused: a plan that cannot be made (a task refused) is one
// failing tuning check naming why, not a check that does not run.
func TestPlanRefused(t *testing.T) {
	t.Parallel()
	in := Input{Facts: &platform.Facts{Platform: platform.AMD64}, Health: &platform.Health{}, Plan: &plan.Plan{},
		PlanError: errors.New("/var/lib/containers/storage: refused: the store holds 2 images"), Now: time.Unix(0, 0)}
	r := Run(in)
	res := find(t, r, "tuning.plan")
	if res.Status != Fail || !strings.Contains(res.Detail, "holds 2 images") || r.Worst() != Fail {
		t.Errorf("refused plan: %+v", res)
	}
}

// TestReboot: on the running system a needed reboot is a warning naming
// ezedge-host's changes and the other packages Debian's notice lists; no
// reason is ok; on another root there is no such check.
func TestReboot(t *testing.T) {
	t.Parallel()
	f := &platform.Facts{Platform: platform.RPi5, Runtime: true}
	for _, c := range []struct {
		rb             *Reboot
		status         Status
		detail, absent string
	}{
		{&Reboot{}, OK, "", ""},
		{&Reboot{Changes: []string{"kernel-arg /boot/firmware/cmdline.txt:cgroup_enable (memory-cgroup)"}, Notice: true, Packages: []string{"ezedge-host"}},
			Warn, "kernel-arg /boot/firmware/cmdline.txt:cgroup_enable (memory-cgroup) take effect only at the next boot", "packages"},
		{&Reboot{Notice: true, Packages: []string{"linux-image-6.1.0-28-arm64", "ezedge-host"}}, Warn, "packages: linux-image-6.1.0-28-arm64", "ezedge-host"},
		{&Reboot{Notice: true}, Warn, "/run/reboot-required exists", ""},
		{&Reboot{Err: errors.New("/run/reboot-required.pkgs: is a named pipe")}, Unknown, "named pipe", ""},
	} {
		r := Run(Input{Facts: f, Health: &platform.Health{}, Plan: &plan.Plan{}, Reboot: c.rb, Now: now})
		res := find(t, r, "tuning.reboot")
		if res.Status != c.status || !strings.Contains(res.Detail, c.detail) || c.absent != "" && strings.Contains(res.Detail, c.absent) {
			t.Errorf("%+v: %+v", c.rb, res)
		}
	}
	r := Run(Input{Facts: f, Health: &platform.Health{}, Plan: &plan.Plan{}, Now: now})
	for _, x := range r.Results {
		if x.Name == "reboot" {
			t.Errorf("a reboot check on a root that is not the running system: %+v", x)
		}
	}
}

// limits-fit's budget is resources': RAM less what the host keeps (huge
// pages, a tmpfs /tmp, a volatile journal) less 10 % for the OS.
func TestLimitsFitBudget(t *testing.T) {
	t.Parallel()
	f := &platform.Facts{Platform: platform.AMD64, MemTotal: 8 << 30, Cores: 4, Runtime: true,
		Kernel: platform.Kernel{CgroupControllers: []string{"cpu", "memory"}}}
	hl := &platform.Health{Containers: []platform.ContainerLimit{{ID: strings.Repeat("a", 64), Name: "llm", MemoryMax: 6 << 30, CPUs: 2}}}
	for _, c := range []struct {
		kept  alloc.Bytes
		want  Status
		value string
	}{
		{0, OK, "memory limits 6 GiB of a 7.2 GiB budget (8 GiB RAM less 10 % for the OS)"},
		{alloc.GiB, Warn, "memory limits 6 GiB of a 6.2 GiB budget (8 GiB RAM less 1 GiB huge pages less 10 % for the OS)"},
		{2 * alloc.GiB, Fail, "memory limits 6 GiB of a 5.2 GiB budget (8 GiB RAM less 2 GiB huge pages less 10 % for the OS)"},
	} {
		in := Input{Facts: f, Health: hl, Plan: &plan.Plan{}, Now: now, Reserved: []alloc.Reserve{{What: "huge pages", Size: c.kept, Why: "test"}}}
		if c.kept == 0 {
			in.Reserved = nil
		}
		res := find(t, Run(in), "memory.limits-fit")
		if res.Status != c.want || !strings.HasPrefix(res.Value, c.value) {
			t.Errorf("%s kept: %s %q, want %s %q", c.kept, res.Status, res.Value, c.want, c.value)
		}
	}
}

// CPU limits are weighed against physical cores: 8 CPUs fit 8 logical
// CPUs but not 4 cores of two threads each.
func TestLimitsFitPhysicalCores(t *testing.T) {
	t.Parallel()
	hl := &platform.Health{Containers: []platform.ContainerLimit{{ID: strings.Repeat("a", 64), Name: "llm", MemoryMax: 1 << 30, CPUs: 6}}}
	for phys, want := range map[int]Status{8: OK, 4: Warn, 0: OK} {
		f := &platform.Facts{Platform: platform.AMD64, MemTotal: 8 << 30, Cores: 8, PhysicalCores: phys,
			Kernel: platform.Kernel{CgroupControllers: []string{"cpu", "memory"}}}
		res := find(t, run(f, hl, nil), "memory.limits-fit")
		n := phys
		if phys == 0 {
			n = 8
		}
		if res.Status != want || !strings.Contains(res.Value, fmt.Sprintf("CPU limits 6.00 of %d physical cores", n)) {
			t.Errorf("%d physical of 8: %s %q", phys, res.Status, res.Value)
		}
	}
}
