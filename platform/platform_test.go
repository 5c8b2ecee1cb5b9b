package platform

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

func detect(t *testing.T, dir string) *Facts {
	t.Helper()
	h, err := hostroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	f, err := Detect(h, Observe{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFixtureFacts(t *testing.T) {
	t.Parallel()
	type want struct {
		platform       Kind
		board, vendor  string
		cores          int
		memGiB         float64
		hugeKiB        uint64
		nvme           string
		rootDisk       string
		cpufreq        bool
		govs           string
		sharedPolicies bool
	}
	cases := map[string]want{
		"pi4-8gb-bullseye":         {RPi4, "Raspberry Pi 4 Model B Rev 1.4", "ARM", 4, 7.6, 0, "", "mmcblk0", true, "conservative ondemand userspace powersave performance schedutil", true},
		"pi5-16gb-nvme-bookworm":   {RPi5, "Raspberry Pi 5 Model B Rev 1.0", "ARM", 4, 15.8, 32768, "nvme0n1", "nvme0n1", true, "conservative ondemand userspace powersave performance schedutil", true},
		"amd64-intel-32gb-2nvme":   {AMD64, "", "Intel", 8, 31.3, 2048, "nvme0n1,nvme1n1", "nvme0n1", true, "performance powersave", false},
		"amd64-amd-16gb-nocpufreq": {AMD64, "", "AMD", 6, 15.5, 2048, "", "sda", false, "", false},
	}
	for name, w := range cases {
		t.Run(name, func(t *testing.T) {
			f := detect(t, filepath.Join(fixture.Testdata(), name))
			if f.Platform != w.platform || f.Board != w.board || f.CPUVendor != w.vendor || f.Cores != w.cores {
				t.Errorf("got %s %q %s %d cores, want %s %q %s %d", f.Platform, f.Board, f.CPUVendor, f.Cores, w.platform, w.board, w.vendor, w.cores)
			}
			if got := fmt.Sprintf("%.1f", float64(f.MemTotal)/(1<<30)); got != fmt.Sprintf("%.1f", w.memGiB) {
				t.Errorf("memory %s GiB, want %.1f GiB", got, w.memGiB)
			}
			if f.HugePageSize != w.hugeKiB*1024 {
				t.Errorf("huge page %d, want %d KiB", f.HugePageSize, w.hugeKiB)
			}
			var nv []string
			for _, b := range f.NVMe() {
				nv = append(nv, b.Name)
			}
			if strings.Join(nv, ",") != w.nvme {
				t.Errorf("nvme %v, want %s", nv, w.nvme)
			}
			root := ""
			for _, b := range f.Block {
				if b.Root {
					root = b.Name
				}
				if b.SDCard != strings.HasPrefix(b.Name, "mmcblk") {
					t.Errorf("%s sd card = %v", b.Name, b.SDCard)
				}
			}
			if root != w.rootDisk {
				t.Errorf("root disk %q, want %q", root, w.rootDisk)
			}
			if f.HasCpufreq() != w.cpufreq || (w.cpufreq && strings.Join(f.CPUs[0].Governors, " ") != w.govs) {
				t.Errorf("cpufreq %v %v, want %v %q", f.HasCpufreq(), f.CPUs, w.cpufreq, w.govs)
			}
			if !f.Runtime || f.Arch == "" || len(f.Evidence) < 4 {
				t.Errorf("runtime %v arch %q evidence %v", f.Runtime, f.Arch, f.Evidence)
			}
		})
	}
}

func root(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for p, b := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const armCPU = "processor\t: 0\nCPU architecture: 8\n"

// TestCorpusModels reads every real device-tree model string.
func TestCorpusModels(t *testing.T) {
	t.Parallel()
	want := map[string]Kind{"cm4": RPi4, "cm5": RPi5, "pi3": ARM64, "pi400": RPi4, "pi4b": RPi4, "pi5b": RPi5, "zero2w": ARM64}
	for _, p := range fixture.CorpusFiles(t, "devicetree") {
		base := filepath.Base(p)
		if !strings.HasPrefix(base, "model-") {
			continue
		}
		b, _ := os.ReadFile(p)
		f := detect(t, root(t, map[string][]byte{"proc/device-tree/model": b, "proc/cpuinfo": []byte(armCPU)}))
		if strings.ContainsRune(f.Board, 0) || !strings.HasPrefix(f.Board, "Raspberry Pi") {
			t.Errorf("%s: board %q", base, f.Board)
		}
		key := strings.SplitN(strings.TrimPrefix(base, "model-"), "-", 2)[0]
		for prefix, k := range want {
			if strings.HasPrefix(key, prefix) && f.Platform != k {
				t.Errorf("%s: platform %s, want %s", base, f.Platform, k)
			}
		}
	}
}

// TestCorpusCpuinfo reads every real cpuinfo, with and without the Model
// line (older kernels lack it; the Revision code must then decide).
func TestCorpusCpuinfo(t *testing.T) {
	t.Parallel()
	want := map[string]Kind{"cpuinfo-cm5": RPi5, "cpuinfo-pi3bplus": ARM64, "cpuinfo-pi4b": RPi4, "rpi4b": RPi4, "x86_64": AMD64}
	n := 0
	for _, p := range fixture.CorpusFiles(t, "devicetree") {
		base := filepath.Base(p)
		if !strings.Contains(base, "cpuinfo") {
			continue
		}
		n++
		b, _ := os.ReadFile(p)
		var noModel []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(l, "Model") {
				noModel = append(noModel, l)
			}
		}
		for _, variant := range [][]byte{b, []byte(strings.Join(noModel, "\n"))} {
			f := detect(t, root(t, map[string][]byte{"proc/cpuinfo": variant}))
			if f.Cores == 0 || f.Arch == "unknown" {
				t.Errorf("%s: %d cores, arch %s", base, f.Cores, f.Arch)
			}
			for prefix, k := range want {
				if strings.HasPrefix(base, prefix) && f.Platform != k {
					t.Errorf("%s: platform %s (board %q), want %s", base, f.Platform, f.Board, k)
				}
			}
		}
	}
	if n < 4 {
		t.Fatalf("read %d cpuinfo files", n)
	}
}

func TestCorpusGovernors(t *testing.T) {
	t.Parallel()
	for _, p := range fixture.CorpusFiles(t, "devicetree") {
		if !strings.Contains(filepath.Base(p), "scaling_available_governors") {
			continue
		}
		b, _ := os.ReadFile(p)
		f := detect(t, root(t, map[string][]byte{
			"proc/cpuinfo": []byte(armCPU),
			"sys/devices/system/cpu/cpu0/cpufreq/scaling_available_governors": b,
			"sys/devices/system/cpu/cpu0/cpufreq/scaling_governor":            []byte("powersave\n"),
		}))
		if !f.HasCpufreq() || len(f.CPUsWith("performance")) != 1 {
			t.Errorf("%s: governors %q", filepath.Base(p), f.CPUs[0].Governors)
		}
		for _, g := range f.CPUs[0].Governors {
			if g == "" || strings.TrimSpace(g) != g {
				t.Errorf("%s: governor %q", filepath.Base(p), g)
			}
		}
	}
}

// TestImageRoot: no /proc, so the architecture comes from the image's own
// shell binary and nothing runtime is claimed.
func TestImageRoot(t *testing.T) {
	t.Parallel()
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Skip("no /proc/self/exe to use as an ELF binary")
	}
	f := detect(t, root(t, map[string][]byte{"usr/bin/sh": self, "etc/os-release": []byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n")}))
	if f.Runtime || f.Arch != runtime.GOARCH || f.OS != "Debian GNU/Linux 12 (bookworm)" {
		t.Errorf("image root: runtime %v arch %s os %q", f.Runtime, f.Arch, f.OS)
	}
}
