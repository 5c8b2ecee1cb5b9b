package platform

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/hostconf"
	"github.com/ezansiedgeai/ezedge-host/internal/formats/unitfile"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
)

// Observe names what, beyond the facts every plan needs, the tasks want
// read: sysctl keys whose current value they compare with, and systemd
// units they enable or disable. Each task declares its own.
type Observe struct {
	Sysctls []string
	Units   []string
	// Packages are Debian packages whose installed version a task needs
	// (the Podman version decides which Quadlet keys work).
	Packages []string
	// Globs are path patterns (path.Match, one level per component) whose
	// matches a task needs listed: the drop-ins it wrote for names no
	// longer in its profile.
	Globs []string
}

// Merge adds o's names to the set.
func (ob Observe) Merge(o Observe) Observe {
	ob.Sysctls = union(ob.Sysctls, o.Sysctls)
	ob.Units = union(ob.Units, o.Units)
	ob.Packages = union(ob.Packages, o.Packages)
	ob.Globs = union(ob.Globs, o.Globs)
	return ob
}

// union is a with the names of b it lacks, in order.
func union(a, b []string) []string {
	for _, x := range b {
		if !slices.Contains(a, x) {
			a = append(a, x)
		}
	}
	return a
}

// Kernel is what the running kernel offers and holds now. An image root has
// no running kernel: it is empty there.
type Kernel struct {
	Release string `json:"release,omitempty"`
	// THP is transparent huge pages' selected mode; "" when the kernel has
	// none.
	THP string `json:"thp,omitempty"`
	// Zswap: the kernel has zswap (/sys/module/zswap/parameters).
	Zswap bool `json:"zswap"`
	// Crypto lists the algorithms of /proc/crypto; CryptoModules the
	// crypto modules the kernel ships (modules.dep, modules.builtin).
	Crypto        []string `json:"crypto,omitempty"`
	CryptoModules []string `json:"crypto_modules,omitempty"`
	// Sysctl is the current value of each key a task reads.
	Sysctl map[string]string `json:"sysctl,omitempty"`
	// CgroupControllers lists the cgroup v2 controllers the kernel makes
	// available (/sys/fs/cgroup/cgroup.controllers); nil without cgroup v2.
	CgroupControllers []string `json:"cgroup_controllers,omitempty"`
}

// HasCrypto reports whether the kernel has compressor c, loaded or as a
// module it can load.
func (k Kernel) HasCrypto(c string) bool {
	return slices.Contains(k.Crypto, c) || slices.Contains(k.CryptoModules, c)
}

// Swap is how the host swaps.
type Swap struct {
	// Zram says why swap is zram; "" when it is not.
	Zram string `json:"zram,omitempty"`
	// Areas are the swap areas in use (/proc/swaps, a live host).
	Areas []SwapArea `json:"areas,omitempty"`
	// DPhys is dphys-swapfile's configuration, where it is installed.
	DPhys *DPhysSwapfile `json:"dphys_swapfile,omitempty"`
	// RpiSwap is Raspberry Pi OS's rpi-swap configuration, where it is
	// installed.
	RpiSwap *RpiSwap `json:"rpi_swap,omitempty"`
	// ZramGenerator: systemd's zram-generator is installed.
	ZramGenerator bool `json:"zram_generator,omitempty"`
	// ZramLater are the settings of [zram0] zram-size= in zram-generator
	// drop-ins read after ZramGeneratorOurs: they win over it.
	ZramLater []string `json:"zram_generator_later,omitempty"`
}

// DPhysSwapfile is what /etc/dphys-swapfile sets (the shell variables
// dphys-swapfile sources; "" where a line does not set one).
type DPhysSwapfile struct {
	// File is CONF_SWAPFILE, /var/swap where unset.
	File string `json:"swapfile"`
	// Size is CONF_SWAPSIZE in MiB ("": twice RAM, up to MaxSwap).
	Size    string `json:"swapsize,omitempty"`
	MaxSwap string `json:"maxswap,omitempty"`
}

// RpiSwapConf is rpi-swap's configuration file, RpiSwapDropIns its
// drop-in directory (read after it, by name).
const (
	RpiSwapConf    = "/etc/rpi/swap.conf"
	RpiSwapDropIns = "/etc/rpi/swap.conf.d"
	DPhysConf      = "/etc/dphys-swapfile"
)

// RpiSwap is rpi-swap's [Main] Mechanism= as its files set it (the last
// one read wins), without the drop-in named Ours: what the host does on
// its own. Mechanism is "auto" where no file sets one.
type RpiSwap struct {
	Mechanism string `json:"mechanism"`
	// From is the file and line that set it ("" for auto).
	From string `json:"from,omitempty"`
	// Later are the settings of Mechanism= in drop-ins read after
	// RpiSwapOurs: they win over it.
	Later []string `json:"later,omitempty"`
}

// RpiSwapOurs and ZramGeneratorOurs are the drop-ins the swap task
// writes. The facts leave them out of the host's own swap (its mechanism,
// its zram): a plan must not read its own earlier change back as the
// host's, or turning the task off would take two applies to settle (zswap
// stands aside for the zram the swap task plans, and for the host's own).
const (
	RpiSwapOurs       = RpiSwapDropIns + "/90-ezedge-host.conf"
	ZramGeneratorOurs = "/etc/systemd/zram-generator.conf.d/90-ezedge-host.conf"
)

// Unit is what the root holds of a systemd unit.
type Unit struct {
	Installed bool `json:"installed"`
	// Problem says why its [Install] links cannot be known (masked).
	Problem string `json:"problem,omitempty"`
	// InstallLinks are the symlinks enabling it makes, path to target.
	InstallLinks map[string]string `json:"install_links,omitempty"`
	// Enabled: every one of its install links is in place.
	Enabled bool `json:"enabled"`
}

// Radio is one rfkill switch.
type Radio struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Device string `json:"device,omitempty"`
	Soft   bool   `json:"soft_blocked"`
	Hard   bool   `json:"hard_blocked"`
}

const rfkillClass = "/sys/class/rfkill"

// RfkillSaved is where systemd-rfkill keeps each switch's state across
// boots.
const RfkillSaved = "/var/lib/systemd/rfkill"

func (f *Facts) detectKernel(h *hostroot.Root, ob Observe) {
	k := &f.Kernel
	if !f.Runtime {
		return
	}
	k.Release = readTrim(h, "/proc/sys/kernel/osrelease")
	if b, err := h.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); err == nil {
		k.THP = resource.Normalize(b)
		f.Evidence = append(f.Evidence, fmt.Sprintf("kernel: transparent huge pages %s (/sys/kernel/mm/transparent_hugepage/enabled)", k.THP))
	}
	k.Zswap = h.Exists("/sys/module/zswap/parameters/enabled")
	if crypto, err := h.ReadFile("/proc/crypto"); err == nil {
		for _, l := range strings.Split(string(crypto), "\n") {
			if key, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(key) == "name" {
				if n := strings.TrimSpace(v); !slices.Contains(k.Crypto, n) {
					k.Crypto = append(k.Crypto, n)
				}
			}
		}
	}
	if k.Release != "" {
		dir := "/lib/modules/" + k.Release
		for _, file := range []string{"/modules.dep", "/modules.builtin"} {
			// modules.dep of a distribution kernel is a few hundred KiB.
			b, err := h.ReadFileLimit(dir+file, 32<<20)
			if err != nil {
				continue
			}
			for _, l := range strings.Split(string(b), "\n") {
				p, _, _ := strings.Cut(l, ":")
				if i := strings.Index(p, "/crypto/"); i >= 0 && !strings.Contains(p[i+8:], "/") {
					name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(path.Base(p), ".xz"), ".zst"), ".ko")
					if !slices.Contains(k.CryptoModules, name) {
						k.CryptoModules = append(k.CryptoModules, name)
					}
				}
			}
		}
		slices.Sort(k.CryptoModules)
	}
	for _, key := range ob.Sysctls {
		if b, err := h.ReadFile("/proc/sys/" + strings.ReplaceAll(key, ".", "/")); err == nil {
			if k.Sysctl == nil {
				k.Sysctl = map[string]string{}
			}
			k.Sysctl[key] = resource.Normalize(b)
		}
	}
	if b, err := h.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		k.CgroupControllers = strings.Fields(string(b))
		if k.CgroupControllers == nil {
			k.CgroupControllers = []string{}
		}
		f.Evidence = append(f.Evidence, fmt.Sprintf("cgroup v2 controllers: %s (/sys/fs/cgroup/cgroup.controllers)", strings.Join(k.CgroupControllers, " ")))
	}
}

// detectSwap finds zram swap: in use (/proc/swaps), or configured for the
// next boot by systemd's zram-generator or Raspberry Pi OS's rpi-swap, read
// as those read their configuration.
func (f *Facts) detectSwap(h *hostroot.Root) {
	if b, err := h.ReadFile("/proc/swaps"); err == nil {
		f.Swap.Areas = SwapAreas(b)
	}
	for _, a := range f.Swap.Areas {
		f.Evidence = append(f.Evidence, fmt.Sprintf("swap: %s (%s, %s) in use (/proc/swaps)", a.Name, a.Type, HumanBytes(a.Size)))
		if a.Zram() && f.Swap.Zram == "" {
			f.Swap.Zram = "swap is zram (" + a.Name + " in /proc/swaps)"
		}
	}
	f.Swap.ZramGenerator = hasZramGenerator(h)
	if f.Swap.ZramGenerator {
		f.Swap.ZramLater = zramLater(h)
	}
	f.Swap.DPhys = readDPhys(h)
	f.Swap.RpiSwap = readRpiSwap(h)
	if d := f.Swap.DPhys; d != nil {
		f.Evidence = append(f.Evidence, fmt.Sprintf("swap: dphys-swapfile's CONF_SWAPFILE=%s CONF_SWAPSIZE=%s (%s)", d.File, d.Size, DPhysConf))
	}
	if r := f.Swap.RpiSwap; r != nil {
		from := r.From
		if from == "" {
			from = "no file sets it"
		}
		f.Evidence = append(f.Evidence, fmt.Sprintf("swap: rpi-swap's Mechanism=%s (%s)", r.Mechanism, from))
	}
	if f.Swap.Zram == "" {
		f.Swap.Zram = zramGenerator(h)
	}
	if f.Swap.Zram == "" {
		f.Swap.Zram = rpiSwap(h)
	}
	if f.Swap.Zram != "" {
		f.Evidence = append(f.Evidence, "swap: "+f.Swap.Zram)
	}
}

// zramDirs are zram-generator's configuration directories, highest
// precedence first (its locate_fragments(): /run, then /etc, then
// /usr/local/lib, then /usr/lib).
var zramDirs = []string{"/run/systemd", "/etc/systemd", "/usr/local/lib/systemd", "/usr/lib/systemd"}

// zramGenerator says which zram swap device zram-generator makes at boot,
// or "". The main file is the first of zramDirs that exists (through a
// link: a dangling one does not); drop-ins in zram-generator.conf.d are
// read after it, by name, a name in an earlier directory masking the same
// name in later ones, hidden files left out. A file that is /dev/null
// (however the link to it is spelled), another character device or empty
// adds nothing: that is how one is masked. A [zramN] section makes a swap
// device unless it sets a mount point (then it is a file system).
func zramGenerator(h *hostroot.Root) string {
	if !hasZramGenerator(h) {
		return ""
	}
	files := zramFiles(h)
	devices := map[string]string{}
	mounted := map[string]bool{}
	for _, p := range files {
		if isDevNull(h, p) {
			continue
		}
		b, err := h.ReadFile(p)
		if err != nil {
			continue
		}
		section := ""
		for _, raw := range strings.Split(string(b), "\n") {
			l := strings.TrimSpace(raw)
			switch {
			case l == "" || l[0] == '#' || l[0] == ';':
			case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
				section = l[1 : len(l)-1]
				if strings.HasPrefix(section, "zram") {
					if _, ok := devices[section]; !ok {
						devices[section] = p
					}
				}
			default:
				if k, _, ok := strings.Cut(l, "="); ok && strings.HasPrefix(section, "zram") && strings.TrimSpace(k) == "mount-point" {
					mounted[section] = true
				}
			}
		}
	}
	var swap []string
	for dev := range devices {
		if !mounted[dev] {
			swap = append(swap, dev)
		}
	}
	if len(swap) == 0 {
		return ""
	}
	slices.Sort(swap)
	return fmt.Sprintf("swap is zram ([%s] in %s, for systemd's zram-generator)", swap[0], devices[swap[0]])
}

func hasZramGenerator(h *hostroot.Root) bool {
	return h.Exists(zramGeneratorBin) || h.Exists("/lib/systemd/system-generators/zram-generator")
}

// zramFiles are zram-generator's configuration files in the order it
// reads them (see zramGenerator), ZramGeneratorOurs left out.
func zramFiles(h *hostroot.Root) []string {
	var files []string
	for _, d := range zramDirs {
		p := d + "/zram-generator.conf"
		if h.Exists(p) || isDevNull(h, p) {
			files = append(files, p)
			break
		}
	}
	drop := map[string]string{}
	for _, d := range zramDirs {
		ents, _ := h.ReadDir(d + "/zram-generator.conf.d")
		for _, e := range ents {
			if _, masked := drop[e.Name()]; !masked && strings.HasSuffix(e.Name(), ".conf") && !strings.HasPrefix(e.Name(), ".") {
				drop[e.Name()] = d + "/zram-generator.conf.d/" + e.Name()
			}
		}
		// Ours masks the same name in later directories, as any file
		// does, and adds nothing of the host's own.
		if drop[path.Base(ZramGeneratorOurs)] == ZramGeneratorOurs {
			drop[path.Base(ZramGeneratorOurs)] = ""
		}
	}
	for _, n := range slices.Sorted(maps.Keys(drop)) {
		if drop[n] != "" {
			files = append(files, drop[n])
		}
	}
	return files
}

// zramLater lists the settings of [zram0] zram-size= in zram-generator
// drop-ins read after ZramGeneratorOurs (by name): they win over it.
func zramLater(h *hostroot.Root) []string {
	var out []string
	for _, p := range zramFiles(h) {
		if !strings.Contains(p, ".conf.d/") || path.Base(p) <= path.Base(ZramGeneratorOurs) || isDevNull(h, p) {
			continue
		}
		out = append(out, iniSettings(h, p, "zram0", "zram-size")...)
	}
	return out
}

// iniSettings lists where file p (systemd-style INI) sets key in section,
// as "p line N sets [section] key=value".
func iniSettings(h *hostroot.Root, p, section, key string) []string {
	b, err := h.ReadFile(p)
	if err != nil {
		return nil
	}
	var out []string
	cur := ""
	for i, raw := range strings.Split(string(b), "\n") {
		l := strings.TrimSpace(raw)
		switch {
		case l == "" || l[0] == '#' || l[0] == ';':
		case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
			cur = l[1 : len(l)-1]
		case cur == section:
			if k, v, ok := strings.Cut(l, "="); ok && strings.TrimSpace(k) == key {
				out = append(out, fmt.Sprintf("%s line %d sets [%s] %s=%s", p, i+1, section, key, strings.TrimSpace(v)))
			}
		}
	}
	return out
}

// isDevNull reports whether p is a link to /dev/null however spelled
// ("//dev/null", "../../dev/null": /dev at boot is the kernel's, so ".."
// in it is lexical), or a character device.
func isDevNull(h *hostroot.Root, p string) bool {
	if t, err := h.Readlink(p); err == nil {
		if !path.IsAbs(t) {
			t = path.Dir(p) + "/" + t
		}
		if path.Clean(t) == "/dev/null" {
			return true
		}
	}
	st, err := h.Stat(p)
	return err == nil && st.Mode()&fs.ModeCharDevice != 0
}

const zramGeneratorBin = "/usr/lib/systemd/system-generators/zram-generator"

// readDPhys reads /etc/dphys-swapfile as dphys-swapfile's shell does for
// the three variables it sets: NAME=value lines, the last one winning, a
// value's quotes taken off; nil where the file is not there.
func readDPhys(h *hostroot.Root) *DPhysSwapfile {
	b, err := h.ReadFile(DPhysConf)
	if err != nil {
		return nil
	}
	d := &DPhysSwapfile{File: "/var/swap"}
	for _, raw := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(raw), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		if i := strings.Index(v, " #"); i >= 0 {
			v = v[:i]
		}
		v = strings.Trim(strings.TrimSpace(v), `"'`)
		switch k {
		case "CONF_SWAPFILE":
			d.File = v
		case "CONF_SWAPSIZE":
			d.Size = v
		case "CONF_MAXSWAP":
			d.MaxSwap = v
		}
	}
	return d
}

// readRpiSwap reads rpi-swap's Mechanism= from its configuration and
// drop-ins (systemd-style: sections, the last assignment wins), leaving
// out RpiSwapOurs; nil where rpi-swap is not installed (neither its
// generator nor its configuration file).
func readRpiSwap(h *hostroot.Root) *RpiSwap {
	if !h.Exists(RpiSwapConf) && !h.Exists("/usr/lib/systemd/system-generators/rpi-swap-generator") && !h.Exists("/lib/systemd/system-generators/rpi-swap-generator") {
		return nil
	}
	return rpiSwapMechanism(h)
}

// rpiSwapMechanism is the Mechanism= rpi-swap's files set, RpiSwapOurs
// left out.
func rpiSwapMechanism(h *hostroot.Root) *RpiSwap {
	r := &RpiSwap{Mechanism: "auto"}
	files := []string{RpiSwapConf}
	ents, _ := h.ReadDir(RpiSwapDropIns)
	for _, e := range ents {
		if p := RpiSwapDropIns + "/" + e.Name(); strings.HasSuffix(e.Name(), ".conf") && !strings.HasPrefix(e.Name(), ".") && p != RpiSwapOurs {
			files = append(files, p)
		}
	}
	for _, p := range files {
		b, err := h.ReadFile(p)
		if err != nil {
			continue
		}
		section := ""
		for i, raw := range strings.Split(string(b), "\n") {
			l := strings.TrimSpace(raw)
			switch {
			case l == "" || l[0] == '#' || l[0] == ';':
			case strings.HasPrefix(l, "["):
				section = l
			case section == "[Main]":
				if k, v, ok := strings.Cut(l, "="); ok && strings.TrimSpace(k) == "Mechanism" {
					r.Mechanism, r.From = strings.TrimSpace(v), fmt.Sprintf("%s line %d", p, i+1)
					if p != RpiSwapConf && path.Base(p) > path.Base(RpiSwapOurs) {
						r.Later = append(r.Later, fmt.Sprintf("%s sets Mechanism=%s", r.From, r.Mechanism))
					}
				}
			}
		}
	}
	return r
}

// rpiSwap says whether Raspberry Pi OS's rpi-swap puts swap on zram: its
// Mechanism= (zram, or zram+file) as its files set it, ezedge-host's
// drop-in left out.
func rpiSwap(h *hostroot.Root) string {
	if !h.Exists(RpiSwapConf) {
		return ""
	}
	if r := rpiSwapMechanism(h); strings.Contains(r.Mechanism, "zram") {
		return "swap is zram (Mechanism=" + r.Mechanism + " in " + strings.TrimSuffix(r.From, r.From[strings.LastIndex(r.From, " line "):]) + ")"
	}
	return ""
}

func (f *Facts) detectRadios(h *hostroot.Root) {
	if f.Runtime {
		ents, _ := h.ReadDir(rfkillClass)
		for _, e := range ents {
			d := path.Join(rfkillClass, e.Name())
			r := Radio{
				Name:   e.Name(),
				Type:   readTrim(h, d+"/type"),
				Device: readTrim(h, d+"/name"),
				Soft:   readTrim(h, d+"/soft") == "1",
				Hard:   readTrim(h, d+"/hard") == "1",
			}
			f.Radios = append(f.Radios, r)
			f.Evidence = append(f.Evidence, fmt.Sprintf("radio: %s %s (%s), soft blocked %v, hard blocked %v (%s)", r.Name, r.Type, r.Device, r.Soft, r.Hard, d))
		}
	}
	ents, _ := h.ReadDir(RfkillSaved)
	for _, e := range ents {
		if e.Type().IsRegular() {
			f.RfkillSaved = append(f.RfkillSaved, e.Name())
		}
	}
}

func (f *Facts) detectUnits(h *hostroot.Root, names []string) {
	for _, n := range names {
		u := Unit{}
		links, err := resource.InstallLinks(h, n)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			u.Installed, u.Problem = true, err.Error()
		default:
			u.Installed, u.InstallLinks = true, links
			u.Enabled = len(links) > 0
			for l := range links {
				if _, err := h.Lstat(l); err != nil {
					u.Enabled = false
				}
			}
		}
		if f.Units == nil {
			f.Units = map[string]Unit{}
		}
		f.Units[n] = u
		state := "not installed"
		if u.Installed {
			state = fmt.Sprintf("installed, enabling makes %d links", len(u.InstallLinks))
			if u.Enabled {
				state = "installed and enabled"
			}
			if u.Problem != "" {
				state = "installed, " + u.Problem
			}
		}
		f.Evidence = append(f.Evidence, fmt.Sprintf("unit %s: %s", n, state))
	}
}

// detectInit reads what boot scripts do to settings a task persists:
// Raspberry Pi OS Bullseye's /etc/init.d/raspi-config sets cpu0's governor
// late in every boot.
func (f *Facts) detectInit(h *hostroot.Root) {
	const script = "/etc/init.d/raspi-config"
	if b, err := h.ReadFile(script); err == nil && strings.Contains(string(b), "scaling_governor") {
		f.RaspiConfigGovernor = true
		f.Evidence = append(f.Evidence, "boot scripts: "+script+" sets the CPU governor late in boot")
		f.RaspiConfigUnit = unitfile.Load(h, "raspi-config.service", sysvUnits(h, script)...)
	}
}

// sysvGenerators are where systemd-sysv-generator is installed.
var sysvGenerators = []string{"/usr/lib/systemd/system-generators/systemd-sysv-generator", "/lib/systemd/system-generators/systemd-sysv-generator"}

// sysvUnits is the service systemd-sysv-generator makes at boot of the
// init script at script, when the generator is installed and the script
// executable (it passes over others): NAME.service running `script
// start`. A unit of that name on disk wins over it (Load's order).
func sysvUnits(h *hostroot.Root, script string) []unitfile.Generated {
	installed := false
	for _, g := range sysvGenerators {
		installed = installed || h.Exists(g)
	}
	st, err := h.Stat(script)
	if !installed || err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o100 == 0 {
		return nil
	}
	name := path.Base(script) + ".service"
	by := "systemd-sysv-generator, from " + script
	set := func(k, v string) unitfile.Setting {
		return unitfile.Setting{File: script, Section: "Service", Key: k, Value: v}
	}
	return []unitfile.Generated{{Name: name, By: by, Late: true, Settings: []unitfile.Setting{
		set("Type", "forking"), set("ExecStart", script+" start"), set("ExecStop", script+" stop"),
	}}}
}

func (f *Facts) detectConf(h *hostroot.Root) {
	f.Conf = hostconf.Read(h)
	rules := map[string]bool{}
	for _, r := range f.Conf.Udev {
		rules[r.File] = true
	}
	f.Evidence = append(f.Evidence, fmt.Sprintf("configuration: %d sysctl.d, %d tmpfiles.d and %d udev rules files read for precedence", len(f.Conf.Sysctl), len(f.Conf.Tmpfiles), len(rules)))
}
