package tasks

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// TestRegistry: every task is complete (summary, when, documented options
// with YAML keys), names and orders are unique, and its defaults pass its
// own checks.
func TestRegistry(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, tk := range All() {
		if tk.Summary() == "" || tk.When() == "" {
			t.Errorf("%s: no summary or when", tk.Name())
		}
		if seen[tk.Name()] {
			t.Errorf("%s twice", tk.Name())
		}
		seen[tk.Name()] = true
		for _, f := range Fields(tk) {
			if f.Key == "" || f.Doc == "" || f.Kind == "" {
				t.Errorf("%s: option %+v lacks a key, doc or kind", tk.Name(), f)
			}
		}
		if p := tk.Check(tk.NewOptions()); len(p) > 0 {
			t.Errorf("%s: defaults fail its own checks: %v", tk.Name(), p)
		}
		// Defaults are copies: changing one does not change the next.
		a, b := tk.NewOptions(), tk.NewOptions()
		if reflect.TypeOf(a).Elem().Size() > 0 && reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer() {
			t.Errorf("%s: NewOptions shares its value", tk.Name())
		}
	}
	if len(seen) != 18 {
		t.Errorf("%d tasks registered", len(seen))
	}
	nb, _ := ByName("net-buffers")
	o := nb.NewOptions().(*NetBuffersOptions)
	o.TCPRmem[0] = 1
	if nb.NewOptions().(*NetBuffersOptions).TCPRmem[0] != 4096 {
		t.Errorf("a default slice is shared")
	}
}

func plan(t *testing.T, name string, f *Facts, opts any) Intent {
	t.Helper()
	tk, ok := ByName(name)
	if !ok {
		t.Fatalf("no task %s", name)
	}
	if opts == nil {
		opts = tk.NewOptions()
	}
	return tk.Plan(f, opts, nil)
}

func args(in Intent) string {
	var s []string
	for _, a := range in.KernelArgs {
		s = append(s, a.String())
	}
	return strings.Join(s, " ")
}

// TestMemoryCgroup plans memory-cgroup from facts alone: an image gets the
// argument; a live Pi without the controller gets it and is told it is not
// active; a live Pi booted with it and offering the controller keeps it
// and is active; a host offering the controller without it has nothing to
// do.
func TestMemoryCgroup(t *testing.T) {
	t.Parallel()
	pi := func(runtime bool, running string, controllers ...string) *Facts {
		return &Facts{Platform: platform.RPi5, Runtime: runtime, Boot: platform.Boot{Loader: platform.LoaderPiFirmware, Running: running},
			Kernel: platform.Kernel{CgroupControllers: controllers}}
	}
	for _, c := range []struct {
		name          string
		f             *Facts
		args, skip    string
		note          string
		defaultOn     bool
		defaultReason string
	}{
		{"image", pi(false, ""), "cgroup_enable=memory", "", "", true, ""},
		{"inactive", pi(true, "console=tty1 cgroup_disable=memory", "cpuset", "cpu", "io", "pids"), "cgroup_enable=memory", "", "not active yet", true, ""},
		{"active", pi(true, "console=tty1 cgroup_disable=memory cgroup_enable=memory", "cpuset", "cpu", "memory"), "cgroup_enable=memory", "", "is active", true, ""},
		{"already there", &Facts{Platform: platform.AMD64, Runtime: true, Boot: platform.Boot{Loader: platform.LoaderGrub, Running: "ro quiet"},
			Kernel: platform.Kernel{CgroupControllers: []string{"cpu", "memory"}}}, "", "already available", "", false, "opt-in on amd64"},
	} {
		tk, _ := ByName("memory-cgroup")
		if on, why := tk.Default(c.f); on != c.defaultOn || why != c.defaultReason {
			t.Errorf("%s: default %v %q", c.name, on, why)
		}
		in := plan(t, "memory-cgroup", c.f, nil)
		if args(in) != c.args || !strings.Contains(in.Skip, c.skip) || (c.skip == "") != (in.Skip == "") || !strings.Contains(strings.Join(in.Notes, " "), c.note) {
			t.Errorf("%s: args %q skip %q notes %v", c.name, args(in), in.Skip, in.Notes)
		}
	}
}

// TestZswapFromFacts: the compressor falls back to one the kernel has, a
// module counts as having it, and zram swap skips the task unless forced.
func TestZswapFromFacts(t *testing.T) {
	t.Parallel()
	f := &Facts{Platform: platform.RPi4, Runtime: true, Boot: platform.Boot{Loader: platform.LoaderPiFirmware},
		Kernel: platform.Kernel{Zswap: true, Crypto: []string{"zstd", "lzo"}}}
	in := plan(t, "zswap", f, nil)
	if args(in) != "zswap.enabled=1 zswap.compressor=zstd" || len(in.Wants) != 2 {
		t.Errorf("fallback: %q %d wants %v", args(in), len(in.Wants), in.Notes)
	}
	f.Kernel.CryptoModules = []string{"lz4"}
	if in := plan(t, "zswap", f, nil); args(in) != "zswap.enabled=1 zswap.compressor=lz4" {
		t.Errorf("module: %q", args(in))
	}
	f.Swap.Zram = "swap is zram (/dev/zram0 in /proc/swaps)"
	if in := plan(t, "zswap", f, nil); !strings.Contains(in.Skip, "zram") {
		t.Errorf("zram: %+v", in)
	}
	if in := plan(t, "zswap", f, &ZswapOptions{Compressor: "lz4", Force: true}); in.Skip != "" {
		t.Errorf("forced: %+v", in)
	}
}

// TestNetBuffersFromFacts: a higher current value is kept element by
// element; one that is not a number is left alone, with why.
func TestNetBuffersFromFacts(t *testing.T) {
	t.Parallel()
	f := &Facts{Platform: platform.AMD64, Runtime: true, Kernel: platform.Kernel{Sysctl: map[string]string{
		"net.core.rmem_max": "268435456", "net.core.wmem_max": "1234567890123456789012345",
		"net.ipv4.tcp_rmem": "4096 131072 6291456", "net.ipv4.tcp_wmem": "4096 16384 4194304",
	}}}
	in := plan(t, "net-buffers", f, nil)
	got := map[string]string{}
	for _, w := range in.Wants {
		got[w.Resource.Name()] = resource.Normalize(w.Desired.Data)
	}
	want := map[string]string{"net.core.rmem_max": "268435456", "net.ipv4.tcp_rmem": "4096 131072 67108864", "net.ipv4.tcp_wmem": "4096 65536 67108864"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("wants %v, want %v", got, want)
	}
	if !strings.Contains(strings.Join(in.Notes, "\n"), `net.core.wmem_max: left as it is: the current value "1234567890123456789012345" is not a number`) {
		t.Errorf("notes %v", in.Notes)
	}
	if lines := strings.Join(in.Fragments[0].Lines, "\n"); strings.Contains(lines, "wmem_max") {
		t.Errorf("a value that cannot be compared is persisted:\n%s", lines)
	}
}

// TestNVMeFromFacts: a device without a scheduler is asked for its tag
// count, and the udev rule for the smallest any device takes.
func TestNVMeFromFacts(t *testing.T) {
	t.Parallel()
	f := &Facts{Platform: platform.AMD64, Runtime: true, Block: []platform.BlockDevice{
		{Name: "nvme0n1", NVMe: true, Scheduler: "none", Tags: 1023},
		{Name: "nvme1n1", NVMe: true, Scheduler: "mq-deadline", Tags: 63},
	}}
	in := plan(t, "nvme-queue", f, nil)
	var vals []string
	for _, w := range in.Wants {
		vals = append(vals, resource.Normalize(w.Desired.Data))
	}
	if !slices.Equal(vals, []string{"1023", "1024"}) || !strings.Contains(in.Fragments[0].Lines[0], `ATTR{queue/nr_requests}="1023"`) {
		t.Errorf("wants %v rule %v", vals, in.Fragments)
	}
}

// TestWifiGuardFromFacts: a session over WiFi, or no wired carrier, skips
// the task; a wired host blocks the WLAN radio and not a hard-blocked one.
func TestWifiGuardFromFacts(t *testing.T) {
	t.Parallel()
	base := func() *Facts {
		return &Facts{Platform: platform.RPi5, Runtime: true,
			Radios: []platform.Radio{{Name: "rfkill0", Type: "bluetooth"}, {Name: "rfkill1", Type: "wlan"}, {Name: "rfkill2", Type: "wlan", Hard: true}},
			Net:    platform.Net{Links: []platform.Link{{Name: "eth0", Physical: true, Carrier: true}, {Name: "wlan0", Wireless: true, Physical: true}}, DefaultVia: "eth0"}}
	}
	in := plan(t, "wifi", base(), nil)
	if len(in.Wants) != 1 || in.Wants[0].Resource.Name() != "/sys/class/rfkill/rfkill1/soft" || len(in.Notes) != 1 {
		t.Errorf("wired: %+v", in)
	}
	f := base()
	f.Net.SSHVia = []string{"wlan0"}
	if in := plan(t, "wifi", f, nil); !strings.Contains(in.Skip, "guard: an SSH session comes in through wlan0") {
		t.Errorf("ssh over wifi: %+v", in)
	}
	f = base()
	f.Net.Links[0].Carrier = false
	if in := plan(t, "wifi", f, nil); !strings.Contains(in.Skip, "no wired interface has carrier") {
		t.Errorf("no carrier: %+v", in)
	}
	// wired: true does not lift the guard on a live host.
	if in := plan(t, "wifi", f, &WifiOptions{Wired: true}); !strings.Contains(in.Skip, "no wired interface has carrier") {
		t.Errorf("no carrier, wired: true: %+v", in)
	}
	// An image has no network to look at: its WiFi stays unless the
	// profile says the device is wired.
	img := &Facts{Platform: platform.RPi5, RfkillSaved: []string{"platform-fe300000.mmcnr:wlan"}}
	if in := plan(t, "wifi", img, nil); in.Skip != imageWifi {
		t.Errorf("image: %+v", in)
	}
	if in := plan(t, "wifi", img, &WifiOptions{Wired: true}); in.Skip != "" || len(in.Wants) != 1 || !strings.Contains(in.Notes[0], "wired: true") {
		t.Errorf("image, wired: %+v", in)
	}
}

// TestUnitsFromFacts: bluetooth and fstrim act only on installed units,
// with the links their [Install] section makes.
func TestUnitsFromFacts(t *testing.T) {
	t.Parallel()
	f := &Facts{Platform: platform.RPi5, Units: map[string]platform.Unit{}}
	if in := plan(t, "bluetooth", f, nil); in.Skip != "bluetooth.service is not installed" {
		t.Errorf("%+v", in)
	}
	links := map[string]string{"/etc/systemd/system/timers.target.wants/fstrim.timer": "/lib/systemd/system/fstrim.timer"}
	f.Units["fstrim.timer"] = platform.Unit{Installed: true, InstallLinks: links}
	in := plan(t, "fstrim", f, nil)
	if len(in.Wants) != 1 || in.Wants[0].Edit == nil {
		t.Fatalf("%+v", in)
	}
	want := in.Wants[0].Edit(resource.State{Exists: true})
	if !strings.Contains(string(want.Data), "link /etc/systemd/system/timers.target.wants/fstrim.timer /lib/systemd/system/fstrim.timer") {
		t.Errorf("enabled state:\n%s", want.Data)
	}
}

// TestCheckBounds: the tags' bounds and the tasks' own rules name the key.
func TestCheckBounds(t *testing.T) {
	t.Parallel()
	sw, _ := ByName("swappiness")
	if p := sw.Check(&SwappinessOptions{Value: 201}); len(p) != 1 || p[0].Field != "value" || p[0].Msg != "201 out of range 0..200" {
		t.Errorf("%+v", p)
	}
	thp, _ := ByName("thp")
	if p := thp.Check(&THPOptions{Mode: "sometimes"}); len(p) != 1 || !strings.Contains(p[0].Msg, "is not one of always, madvise, never") {
		t.Errorf("%+v", p)
	}
	nb, _ := ByName("net-buffers")
	if p := nb.Check(&NetBuffersOptions{CoreMax: 4096, TCPRmem: []int64{3, 2, 1}, TCPWmem: []int64{1, 2, 3}}); len(p) != 1 || p[0].Field != "tcp_rmem" {
		t.Errorf("%+v", p)
	}
	// The check's unit has a private /tmp: a textfile or profile there
	// would not be the host's, however the path is spelled.
	ct, _ := ByName("check-timer")
	for _, dir := range []string{"/tmp", "/tmp/metrics", "/var/tmp/x", "/var/lib/../../tmp/m", "/tmp/"} {
		for _, o := range []*CheckTimerOptions{{TextfileDir: dir}, {TextfileDir: "/srv/m", Profile: dir + "/p.yaml"}} {
			if p := ct.Check(o); len(p) != 1 || !strings.Contains(p[0].Msg, "PrivateTmp=") {
				t.Errorf("%+v: %+v", o, p)
			}
		}
	}
	for _, dir := range []string{"/var/lib/prometheus/node-exporter", "/srv/tmp", "/tmpfiles", "/var/tmpx"} {
		if p := ct.Check(&CheckTimerOptions{TextfileDir: dir, Profile: dir + "/p.yaml"}); len(p) != 0 {
			t.Errorf("%s: %+v", dir, p)
		}
	}
}

// TestPstateUnknownVendor: an image whose CPU vendor cannot be read says so
// instead of naming an empty vendor.
func TestPstateUnknownVendor(t *testing.T) {
	t.Parallel()
	f := &Facts{Platform: platform.AMD64, Boot: platform.Boot{Loader: platform.LoaderGrub}}
	if in := plan(t, "cpu-pstate", f, nil); in.Skip != "CPU vendor unknown (no /proc/cpuinfo in this root): turn it on for a booted host" {
		t.Errorf("%q", in.Skip)
	}
}

// TestKernelArgsNeedABootLoader: where the command line cannot be managed,
// the tasks that need it say why (u-boot-menu's input is not edited)
// instead of planning arguments nobody writes.
func TestKernelArgsNeedABootLoader(t *testing.T) {
	t.Parallel()
	f := &Facts{Platform: platform.ARM64, Boot: platform.Boot{Loader: platform.LoaderNone, Refused: "u-boot-menu makes /boot/extlinux/extlinux.conf"}}
	for _, name := range []string{"zswap", "memory-cgroup"} {
		if in := plan(t, name, f, nil); !strings.HasPrefix(in.Skip, "u-boot-menu makes") || len(in.KernelArgs) > 0 {
			t.Errorf("%s: %+v", name, in)
		}
	}
	f.Boot.Refused = ""
	if in := plan(t, "memory-cgroup", f, nil); in.Skip != "no boot configuration found (no cmdline.txt, no /etc/default/grub)" {
		t.Errorf("memory-cgroup without a boot loader: %+v", in)
	}
}

// Every task's figures are kinds measure takes, and MeasuresOf gives each
// once, in measure's order.
func TestMeasuresOf(t *testing.T) {
	t.Parallel()
	known := append(slices.Clone(measure.Kinds), measure.HTTP)
	for _, tk := range All() {
		for _, k := range tk.Measures() {
			if !slices.Contains(known, k) {
				t.Errorf("%s: %q is not a kind measure takes", tk.Name(), k)
			}
		}
	}
	got := MeasuresOf([]string{"net-buffers", "nvme-queue", "cpu-governor", "swappiness", "thp", "bluetooth", "nope"})
	want := []measure.Kind{measure.CPUSingle, measure.CPUAll, measure.Memory, measure.DiskRead, measure.HTTP}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := MeasuresOf([]string{"bluetooth", "wifi"}); got != nil {
		t.Fatalf("radios: %v", got)
	}
}

// TestCheckTimerProfile: the timer's check reads the host's own profile as
// every command does, so its unit names --profile only for another file.
func TestCheckTimerProfile(t *testing.T) {
	t.Parallel()
	for opt, want := range map[string]string{
		"":                              "ExecStart=/usr/sbin/ezedge-host check --output prometheus --textfile-dir /var/lib/prometheus/node-exporter\n",
		platform.ProfileFile:            "ExecStart=/usr/sbin/ezedge-host check --output prometheus --textfile-dir /var/lib/prometheus/node-exporter\n",
		"/etc/ezedge-host/monitor.yaml": "ExecStart=/usr/sbin/ezedge-host check --output prometheus --textfile-dir /var/lib/prometheus/node-exporter --profile /etc/ezedge-host/monitor.yaml\n",
	} {
		service, _ := CheckUnitTexts("", platform.PackagedBinary, CheckTimerDefaults().TextfileDir, opt)
		if !strings.Contains(service, "\n"+want) {
			t.Errorf("profile %q: service\n%s\nwant %q", opt, service, want)
		}
	}
}
