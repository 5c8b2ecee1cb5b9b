// Package platform gathers every observation of a host that a plan rests
// on, read from its root, each with an evidence line: architecture, board,
// CPUs and cpufreq, memory, disks, the boot loader and kernel command line,
// network and SSH sessions, kernel features and tunables, swap, systemd
// units, radios, boot scripts, and the sysctl.d, tmpfiles.d and udev
// configuration. It only reads; tasks plan from its Facts alone.
package platform

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/hostconf"
	"github.com/ezansiedgeai/ezedge-host/internal/formats/unitfile"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/par"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
)

// Kind names the platform families that decide task defaults.
type Kind string

const (
	RPi4  Kind = "rpi4"
	RPi5  Kind = "rpi5"
	ARM64 Kind = "arm64"
	AMD64 Kind = "amd64"
)

// IsRaspberryPi reports whether k is a Raspberry Pi the guide tunes.
func (k Kind) IsRaspberryPi() bool { return k == RPi4 || k == RPi5 }

// CPU is one logical CPU's cpufreq state.
type CPU struct {
	ID         int      `json:"id"`
	Governors  []string `json:"governors,omitempty"`
	Governor   string   `json:"governor,omitempty"`
	HasCpufreq bool     `json:"cpufreq"`
	// Policy is the cpufreq policy the CPU belongs to: the directory its
	// cpufreq link resolves to (CPUs of one policy share one
	// scaling_governor file).
	Policy string `json:"policy,omitempty"`
	// GovernorRaw is scaling_governor's bytes as read, so the plan need not
	// read the file a second time on a host of hundreds of CPUs.
	GovernorRaw []byte `json:"-"`
	// Core names the physical core the CPU is a thread of, from its
	// topology: "siblings LIST" (core_cpus_list or thread_siblings_list:
	// the logical CPUs of one core, whatever the architecture), else
	// "PACKAGE/CORE" (physical_package_id, core_id: not unique on every
	// platform, so only a fallback); "" unknown.
	Core string `json:"-"`
	// Offline: cpuN/online reads 0. The kernel removes an offline CPU's
	// topology (SMT turned off takes the sibling threads offline), so
	// it is left out of the physical cores, not a reason to give up.
	Offline bool `json:"-"`
}

// BlockDevice is one whole disk under /sys/block.
type BlockDevice struct {
	Name       string `json:"name"`
	NVMe       bool   `json:"nvme"`
	SDCard     bool   `json:"sd_card"`
	Rotational bool   `json:"rotational"`
	Removable  bool   `json:"removable"`
	Root       bool   `json:"root"`
	// Scheduler is the I/O scheduler in use ("none" without one).
	Scheduler string `json:"scheduler,omitempty"`
	// Tags is the hardware queue's tag count (mq/0/nr_tags), 0 unknown.
	Tags int `json:"tags,omitempty"`
}

// Facts is what ezedge-host knows about a host.
type Facts struct {
	// Arch is the machine's (the kernel's) architecture: amd64 or arm64.
	Arch string `json:"arch"`
	// Userland is the Debian architecture of the root's programs (dpkg's
	// own, or the ELF machine of /bin/sh) when it is known: "armhf" on
	// Raspberry Pi OS's 32-bit userland, often on a 64-bit (arm64) kernel.
	Userland string `json:"userland,omitempty"`
	// Binary is the ezedge-host units in the root run: the Debian
	// package's when installed, else where `firstboot install` copies one.
	Binary    string `json:"-"`
	Platform  Kind   `json:"platform"`
	Board     string `json:"board,omitempty"`
	CPUVendor string `json:"cpu_vendor,omitempty"`
	Cores     int    `json:"cores"`
	// PhysicalCores is the cores the logical CPUs are threads of (SMT
	// makes two of one), from sysfs topology; Cores where it does not
	// say (the evidence line says which).
	PhysicalCores int    `json:"physical_cores"`
	MemTotal      uint64 `json:"mem_total_bytes"`
	HugePageSize  uint64 `json:"huge_page_size_bytes,omitempty"`
	// HugePages is the huge pages the kernel holds now (HugePages_Total):
	// memory counted in MemTotal that no container can take.
	HugePages  uint64        `json:"huge_pages,omitempty"`
	CPUs       []CPU         `json:"cpus,omitempty"`
	Block      []BlockDevice `json:"block_devices,omitempty"`
	RootDevice string        `json:"root_device,omitempty"`
	// Runtime is true when the root has a live kernel's /proc: runtime
	// values can be read and set. An image root has only files.
	Runtime bool `json:"runtime"`
	// OS is PRETTY_NAME from os-release.
	OS     string `json:"os,omitempty"`
	Boot   Boot   `json:"boot"`
	Net    Net    `json:"network"`
	Kernel Kernel `json:"kernel"`
	Swap   Swap   `json:"swap"`
	// Containers is Podman's rootful storage, read when Podman is
	// installed.
	Containers Containers `json:"containers,omitzero"`
	// CharDevices are the character device nodes under /dev (sorted;
	// none in an image); Accelerators those of them an AI accelerator
	// appears as (/dev/hailoN, /dev/apex_N, /dev/accel/accelN), which
	// containers may be given (container-resources' devices).
	CharDevices  []string `json:"-"`
	Accelerators []string `json:"accelerators,omitempty"`
	// BusDevices are the PCI functions, and the USB devices that are
	// known accelerators, from sysfs: IDs, driver, node and PCIe link.
	BusDevices []BusDevice `json:"bus_devices,omitempty"`
	// Units are the systemd units the tasks reason about, by name.
	Units map[string]Unit `json:"units,omitempty"`
	// Packages are the installed versions of the Debian packages the
	// tasks asked about (absent: not installed, or no dpkg database).
	Packages map[string]string `json:"packages,omitempty"`
	// Globbed are the files matching each pattern a task asked for.
	Globbed map[string][]string `json:"-"`
	// Radios are the rfkill switches; RfkillSaved the files systemd-rfkill
	// keeps their state in across boots.
	Radios      []Radio  `json:"radios,omitempty"`
	RfkillSaved []string `json:"rfkill_saved,omitempty"`
	// RaspiConfigGovernor: Raspberry Pi OS Bullseye's raspi-config boot
	// script sets cpu0's governor late in every boot.
	RaspiConfigGovernor bool `json:"raspi_config_governor,omitempty"`
	// RaspiConfigUnit is raspi-config.service as systemd loads it at the
	// next boot (systemd-sysv-generator's unit of the script, unless a
	// unit on disk or a mask takes its place), when RaspiConfigGovernor.
	RaspiConfigUnit unitfile.Unit `json:"-"`
	// Writes are the facts of the tasks that spare an SD card writes.
	Writes Writes `json:"writes"`
	// Conf is the host's sysctl.d, tmpfiles.d and udev configuration, for
	// the tasks' precedence checks (summed up in Evidence).
	Conf *hostconf.Conf `json:"-"`
	// Evidence says, in order, how each fact was decided.
	Evidence []string `json:"evidence"`
}

// NVMe lists the NVMe disks.
func (f *Facts) NVMe() []BlockDevice {
	var out []BlockDevice
	for _, b := range f.Block {
		if b.NVMe {
			out = append(out, b)
		}
	}
	return out
}

// CPUsWith lists the CPUs whose cpufreq offers governor g.
func (f *Facts) CPUsWith(g string) []CPU {
	var out []CPU
	for _, c := range f.CPUs {
		for _, have := range c.Governors {
			if have == g {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// HasCpufreq reports whether any CPU has cpufreq.
func (f *Facts) HasCpufreq() bool {
	for _, c := range f.CPUs {
		if c.HasCpufreq {
			return true
		}
	}
	return false
}

// Detect reads the facts of the host at h.
func Detect(h *hostroot.Root, ob Observe) (*Facts, error) { return DetectAs(h, "", ob) }

// Kinds are the values --platform takes.
var Kinds = []Kind{RPi4, RPi5, AMD64, ARM64}

// DetectAs reads the facts of the host at h; as, when set, says what
// platform it is where the root cannot (an arm64 image does not know
// whether it will boot on a Pi 4 or a Pi 5). It must agree with the
// architecture the root shows. ob says what else the tasks want read.
func DetectAs(h *hostroot.Root, as Kind, ob Observe) (*Facts, error) {
	f := &Facts{}
	cpuinfo, _ := h.ReadFile("/proc/cpuinfo")
	meminfo, merr := h.ReadFile("/proc/meminfo")
	f.Runtime = merr == nil && h.Exists("/proc/sys")
	if f.Runtime {
		f.Evidence = append(f.Evidence, "runtime: /proc/meminfo and /proc/sys present, live values are read and set")
	} else {
		f.Evidence = append(f.Evidence, "runtime: no /proc/meminfo or /proc/sys, only persistent files are planned (image root)")
	}
	ci := parseColonFile(cpuinfo)

	f.detectArch(h, ci)
	status := readDpkgStatus(h)
	f.detectUserland(h, status)
	f.Binary = InstalledBinary(h)
	f.detectBoard(h, ci)
	if as != "" {
		want := "arm64"
		if as == AMD64 {
			want = "amd64"
		}
		if !slices.Contains(Kinds, as) {
			return nil, fmt.Errorf("--platform %q: want one of rpi4, rpi5, amd64, arm64", as)
		}
		if f.Arch != want && f.Arch != "unknown" {
			return nil, fmt.Errorf("--platform %s: the root is %s", as, f.Arch)
		}
		if f.Platform != as {
			f.Evidence = append(f.Evidence, fmt.Sprintf("platform: %s from --platform (detected: %s)", as, f.Platform))
		}
		f.Platform, f.Arch = as, want
	}
	f.detectCPU(h, ci, cpuinfo)
	if merr == nil {
		mi := parseColonFile(meminfo)
		f.MemTotal = kbField(mi, "MemTotal")
		f.HugePageSize = kbField(mi, "Hugepagesize")
		f.HugePages, _ = strconv.ParseUint(strings.TrimSpace(mi["HugePages_Total"]), 10, 64)
		f.Evidence = append(f.Evidence, fmt.Sprintf("memory: MemTotal %s from /proc/meminfo", HumanBytes(f.MemTotal)))
	}
	f.detectBlock(h)
	f.detectBoot(h)
	f.detectNet(h)
	f.detectKernel(h, ob)
	f.detectSwap(h)
	f.detectContainers(h)
	f.detectRadios(h)
	f.detectUnits(h, ob.Units)
	f.detectPackages(status, ob.Packages)
	f.detectGlobs(h, ob.Globs)
	f.detectInit(h)
	f.detectConf(h)
	f.detectWrites(h)
	f.detectDevices(h)
	f.detectBusDevices(h)
	if osr, err := h.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(osr), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				f.OS = strings.Trim(v, `"'`)
			}
		}
	}
	return f, nil
}

func (f *Facts) detectArch(h *hostroot.Root, ci map[string]string) {
	switch {
	case ci["vendor_id"] != "":
		f.Arch = "amd64"
		f.Evidence = append(f.Evidence, "arch: amd64 (/proc/cpuinfo has vendor_id)")
		return
	case ci["CPU architecture"] == "8":
		f.Arch = "arm64"
		f.Evidence = append(f.Evidence, "arch: arm64 (/proc/cpuinfo CPU architecture: 8)")
		return
	}
	// An image root has no /proc: ask its own shell binary.
	for _, bin := range []string{"/bin/sh", "/usr/bin/sh", "/sbin/init"} {
		if m, ok := elfMachine(h, bin); ok {
			switch m {
			case elf.EM_X86_64:
				f.Arch = "amd64"
			case elf.EM_AARCH64:
				f.Arch = "arm64"
			default:
				continue
			}
			f.Evidence = append(f.Evidence, fmt.Sprintf("arch: %s (ELF machine of %s)", f.Arch, bin))
			return
		}
	}
	f.Arch = "unknown"
	f.Evidence = append(f.Evidence, "arch: unknown (no /proc/cpuinfo, no ELF /bin/sh)")
}

// elfMachine reads the machine field of an ELF header: the first 20 bytes
// are enough, whatever the size of the binary.
func elfMachine(h *hostroot.Root, name string) (elf.Machine, bool) {
	b, err := h.ReadPrefix(name, 20)
	if err != nil {
		return 0, false
	}
	return ELFMachine(b)
}

// ELFMachine is the machine field of the ELF header b starts with.
func ELFMachine(b []byte) (elf.Machine, bool) {
	if len(b) < 20 || string(b[:4]) != elf.ELFMAG {
		return 0, false
	}
	var bo binary.ByteOrder = binary.LittleEndian
	switch elf.Data(b[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
	case elf.ELFDATA2MSB:
		bo = binary.BigEndian
	default:
		return 0, false
	}
	return elf.Machine(bo.Uint16(b[18:20])), true
}

// piTypes maps the board type field (bits 4-11) of a new-style Raspberry Pi
// revision code to a model name, for kernels without a device-tree model.
var piTypes = map[uint64]string{
	0x11: "Raspberry Pi 4 Model B",
	0x13: "Raspberry Pi 400",
	0x14: "Raspberry Pi Compute Module 4",
	0x17: "Raspberry Pi 5 Model B",
	0x18: "Raspberry Pi Compute Module 5",
	0x19: "Raspberry Pi 500",
	0x1a: "Raspberry Pi Compute Module 5 Lite",
	0x12: "Raspberry Pi Zero 2 W",
	0x0d: "Raspberry Pi 3 Model B+",
	0x08: "Raspberry Pi 3 Model B",
}

func (f *Facts) detectBoard(h *hostroot.Root, ci map[string]string) {
	if b, err := h.ReadFile("/proc/device-tree/model"); err == nil {
		f.Board = strings.TrimSpace(strings.TrimRight(string(b), "\x00"))
		f.Evidence = append(f.Evidence, fmt.Sprintf("board: %q from /proc/device-tree/model", f.Board))
	} else if m := ci["Model"]; m != "" {
		f.Board = m
		f.Evidence = append(f.Evidence, fmt.Sprintf("board: %q from /proc/cpuinfo Model", f.Board))
	} else if rev := ci["Revision"]; rev != "" {
		if code, err := strconv.ParseUint(rev, 16, 32); err == nil && code&(1<<23) != 0 {
			if name, ok := piTypes[(code>>4)&0xff]; ok {
				f.Board = name
				f.Evidence = append(f.Evidence, fmt.Sprintf("board: %q from /proc/cpuinfo Revision %s", name, rev))
			}
		}
	}
	b := f.Board
	switch {
	case f.Arch == "amd64":
		f.Platform = AMD64
	case strings.Contains(b, "Raspberry Pi 4") || strings.Contains(b, "Raspberry Pi 400") || strings.Contains(b, "Compute Module 4"):
		f.Platform = RPi4
	case strings.Contains(b, "Raspberry Pi 5") || strings.Contains(b, "Raspberry Pi 500") || strings.Contains(b, "Compute Module 5"):
		f.Platform = RPi5
	case f.Arch == "arm64":
		f.Platform = ARM64
	default:
		f.Platform = Kind(f.Arch)
	}
	f.Evidence = append(f.Evidence, fmt.Sprintf("platform: %s", f.Platform))
}

func (f *Facts) detectCPU(h *hostroot.Root, ci map[string]string, cpuinfo []byte) {
	switch ci["vendor_id"] {
	case "GenuineIntel":
		f.CPUVendor = "Intel"
	case "AuthenticAMD":
		f.CPUVendor = "AMD"
	case "":
		if f.Arch == "arm64" {
			f.CPUVendor = "ARM"
		}
	default:
		f.CPUVendor = ci["vendor_id"]
	}
	ents, _ := h.ReadDir("/sys/devices/system/cpu")
	for _, e := range ents {
		n, ok := strings.CutPrefix(e.Name(), "cpu")
		if id, err := strconv.Atoi(n); ok && err == nil {
			f.CPUs = append(f.CPUs, CPU{ID: id})
		}
	}
	par.Do(len(f.CPUs), func(i int) error {
		c := &f.CPUs[i]
		dir := fmt.Sprintf("/sys/devices/system/cpu/cpu%d/cpufreq", c.ID)
		if g, err := h.ReadFile(dir + "/scaling_available_governors"); err == nil {
			c.HasCpufreq = true
			c.Governors = strings.Fields(string(g))
			cur, _ := h.ReadFile(dir + "/scaling_governor")
			c.Governor = strings.TrimSpace(string(cur))
			// cpuN/cpufreq is a link to its policy's directory (one
			// readlink, where resolving the path would stat each part).
			c.Policy = dir
			if t, err := h.Readlink(dir); err == nil {
				if !path.IsAbs(t) {
					t = path.Join(path.Dir(dir), t)
				}
				c.Policy = path.Clean(t)
			}
			c.GovernorRaw = cur
		}
		c.Core, c.Offline = coreOf(h, c.ID)
		return nil
	})
	sort.Slice(f.CPUs, func(i, j int) bool { return f.CPUs[i].ID < f.CPUs[j].ID })
	f.Cores = len(f.CPUs)
	src := "/sys/devices/system/cpu"
	if f.Cores == 0 {
		f.Cores = bytes.Count(cpuinfo, []byte("\nprocessor\t"))
		if bytes.HasPrefix(cpuinfo, []byte("processor\t")) {
			f.Cores++
		}
		src = "/proc/cpuinfo"
	}
	if f.Cores > 0 {
		f.Evidence = append(f.Evidence, fmt.Sprintf("cores: %d from %s", f.Cores, src))
	}
	f.physicalCores()
	if f.HasCpufreq() {
		f.Evidence = append(f.Evidence, "cpufreq: scaling_available_governors present")
	}
}

// coreOf is the physical core CPU id is a thread of (CPU.Core), from
// its sysfs topology, and whether the CPU is offline; "" when the kernel
// does not say (no topology directory: an image, a kernel without it).
func coreOf(h *hostroot.Root, id int) (string, bool) {
	cpu := fmt.Sprintf("/sys/devices/system/cpu/cpu%d/", id)
	if readTrim(h, cpu+"online") == "0" {
		return "", true
	}
	dir := cpu + "topology/"
	for _, list := range []string{"core_cpus_list", "thread_siblings_list"} {
		if sib := readTrim(h, dir+list); sib != "" && len(sib) < 4096 {
			return "siblings " + sib, false
		}
	}
	pkg, core := readTrim(h, dir+"physical_package_id"), readTrim(h, dir+"core_id")
	if _, err := strconv.Atoi(core); err == nil {
		if _, err := strconv.Atoi(pkg); err != nil {
			pkg = "0"
		}
		return pkg + "/" + core, false
	}
	return "", false
}

// physicalCores counts the distinct physical cores of the CPUs, with
// its evidence; where a CPU's topology is unknown the count is the
// logical CPUs', and the evidence says so.
func (f *Facts) physicalCores() {
	f.PhysicalCores = f.Cores
	if f.Cores == 0 {
		return
	}
	cores := map[string]bool{}
	online := 0
	for _, c := range f.CPUs {
		if c.Offline {
			continue
		}
		online++
		if c.Core == "" {
			f.Evidence = append(f.Evidence, fmt.Sprintf("physical cores: %d, taken as the logical CPUs (no core_id or thread_siblings_list in /sys/devices/system/cpu/cpu%d/topology)", f.Cores, c.ID))
			return
		}
		cores[c.Core] = true
	}
	if online == 0 {
		f.Evidence = append(f.Evidence, fmt.Sprintf("physical cores: %d, taken as the logical CPUs (no online /sys/devices/system/cpu/cpuN)", f.Cores))
		return
	}
	f.PhysicalCores = len(cores)
	ev := fmt.Sprintf("physical cores: %d of %d logical CPUs, from /sys/devices/system/cpu/cpuN/topology", f.PhysicalCores, f.Cores)
	if online < len(f.CPUs) {
		ev += fmt.Sprintf(" (%d offline, left out)", len(f.CPUs)-online)
	}
	f.Evidence = append(f.Evidence, ev)
}

func (f *Facts) detectBlock(h *hostroot.Root) {
	mounts, _ := h.ReadFile("/proc/mounts")
	for _, m := range ProcMounts(mounts) {
		if m.Dir == "/" && strings.HasPrefix(m.Source, "/dev/") {
			f.RootDevice = strings.TrimPrefix(m.Source, "/dev/")
		}
	}
	ents, _ := h.ReadDir("/sys/block")
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, "loop") || strings.HasPrefix(n, "ram") || strings.HasPrefix(n, "zram") {
			continue
		}
		dir := "/sys/block/" + n
		b := BlockDevice{
			Name:       n,
			NVMe:       strings.HasPrefix(n, "nvme"),
			SDCard:     strings.HasPrefix(n, "mmcblk"),
			Rotational: readTrim(h, dir+"/queue/rotational") == "1",
			Removable:  readTrim(h, dir+"/removable") == "1",
		}
		if sch, err := h.ReadFile(dir + "/queue/scheduler"); err == nil {
			b.Scheduler = resource.Normalize(sch)
		}
		b.Tags, _ = strconv.Atoi(readTrim(h, dir+"/mq/0/nr_tags"))
		if f.RootDevice != "" && (f.RootDevice == n || (strings.HasPrefix(f.RootDevice, n) && h.Exists(dir+"/"+f.RootDevice))) {
			b.Root = true
			f.Evidence = append(f.Evidence, fmt.Sprintf("root device: /dev/%s on disk %s (/proc/mounts)", f.RootDevice, n))
		}
		f.Block = append(f.Block, b)
	}
}

func readTrim(h *hostroot.Root, name string) string {
	b, _ := h.ReadFile(name)
	return strings.TrimSpace(string(b))
}

// parseColonFile reads "key : value" lines (cpuinfo, meminfo); the first
// occurrence of a key wins, which for cpuinfo is CPU 0.
func parseColonFile(b []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if _, seen := out[k]; !seen {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

func kbField(m map[string]string, k string) uint64 {
	v := strings.TrimSuffix(m[k], " kB")
	n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	return n * 1024
}

// HumanBytes renders a byte count the way the plan explains thresholds.
func HumanBytes(n uint64) string {
	const gib = 1 << 30
	if n >= gib {
		v := float64(n) / gib
		if v == float64(uint64(v)) {
			return fmt.Sprintf("%d GiB", uint64(v))
		}
		return fmt.Sprintf("%.1f GiB", v)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}
