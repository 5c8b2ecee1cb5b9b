package alloc

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/ezansiedgeai/ezedge-host/platform"
)

// smtHost is an amd64 of cores physical cores with threads threads each,
// numbered as Linux numbers them (core k's threads are k, k+cores, …),
// its topology by sibling lists; offline CPUs are left out.
func smtHost(mem Bytes, cores, threads int, offline ...int) *platform.Facts {
	f := host(platform.AMD64, mem, cores*threads)
	for id := range cores * threads {
		c := platform.CPU{ID: id, Offline: slices.Contains(offline, id)}
		if !c.Offline {
			var sib []string
			for t := range threads {
				sib = append(sib, strconv.Itoa(id%cores+t*cores))
			}
			c.Core = "siblings " + strings.Join(sib, ",")
		}
		f.CPUs = append(f.CPUs, c)
	}
	f.PhysicalCores = cores
	return f
}

// parseList reads a CPU list as cpuList writes one.
func parseList(t *testing.T, s string) []int {
	t.Helper()
	var out []int
	for _, p := range strings.Split(s, ",") {
		lo, hi, ok := strings.Cut(p, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := a, error(nil)
		if ok {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || b < a {
			t.Fatalf("cpuset %q: bad part %q", s, p)
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out
}

// The cpuset partition, on random topologies and mixes: every container
// gets whole physical cores (all of a core's online threads, no offline
// CPU), never a CPU another has, never more cores than the host has or
// fewer than one, as many as its CPUs when they fit and in proportion to
// them when not; CPUs and thread counts are within its cores; the
// containers then never overcommit the cores.
func TestCPUSetPartition(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	n := 5000
	if testing.Short() {
		n = 500
	}
	for range n {
		cores, threads := 1+r.IntN(24), 1+r.IntN(2)
		var offline []int
		if threads == 2 && r.IntN(3) == 0 {
			// SMT off: every second thread offline.
			for id := cores; id < 2*cores; id++ {
				offline = append(offline, id)
			}
		}
		f := smtHost(64*GiB, cores, threads, offline...)
		var reqs []Request
		for i := range 1 + r.IntN(5) {
			reqs = append(reqs, Request{Name: fmt.Sprintf("c%d", i), Workload: Workloads[r.IntN(len(Workloads))]})
		}
		a, err := Compute(f, Options{FloorPercent: 10, Placement: Placement{CPUSet: true}}, reqs)
		if len(reqs) > cores {
			if err == nil || !strings.Contains(err.Error(), "each needs a core of its own") {
				t.Fatalf("%d containers on %d cores: %v", len(reqs), cores, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%d cores×%d %v: %v", cores, threads, reqs, err)
		}
		owner := map[int]string{}
		wantSum := 0
		for _, c := range Compute2(t, f, reqs) {
			wantSum += c.CPUs
		}
		used := 0
		for i, c := range a.Containers {
			ids := parseList(t, c.CPUSet)
			coresOf := map[int]bool{}
			for _, id := range ids {
				if id >= cores*threads || slices.Contains(offline, id) {
					t.Fatalf("%s: CPU %d is not an online CPU of the host (%s)", c.Name, id, c.CPUSet)
				}
				if o, ok := owner[id]; ok {
					t.Fatalf("CPU %d in %s's and %s's cpusets", id, o, c.Name)
				}
				owner[id] = c.Name
				coresOf[id%cores] = true
			}
			// Whole cores: each core's every online thread.
			online := threads
			if len(offline) > 0 {
				online = 1
			}
			if len(ids) != len(coresOf)*online {
				t.Fatalf("%s: cpuset %s splits a core (%d cores × %d threads)", c.Name, c.CPUSet, cores, threads)
			}
			k := len(coresOf)
			used += k
			if k < 1 || c.CPUs != min(k, c.CPUs) || c.CPUs > k {
				t.Fatalf("%s: %d cores, %d CPUs", c.Name, k, c.CPUs)
			}
			orig := Compute2(t, f, reqs)[i].CPUs
			if wantSum <= cores && k != orig {
				t.Fatalf("%s: %d cores for %d CPUs, which fit (%d of %d)", c.Name, k, orig, wantSum, cores)
			}
			for _, e := range c.Env {
				if v, err := strconv.Atoi(e.Value); err == nil && slices.Contains(ThreadVars, e.Name) && v > k {
					t.Fatalf("%s: %s=%d on %d cores", c.Name, e.Name, v, k)
				}
			}
			if !strings.Contains(strings.Join(c.Why, "\n"), "cpuset "+c.CPUSet+": ") {
				t.Fatalf("%s: no cpuset in Why: %q", c.Name, c.Why)
			}
		}
		if used > cores || (wantSum > cores && used != cores) {
			t.Fatalf("%d of %d cores used, the mix's CPUs %d", used, cores, wantSum)
		}
		if slices.ContainsFunc(a.Warnings, func(w string) bool { return strings.Contains(w, "overcommit") }) {
			t.Fatalf("partitioned and still overcommitted: %q", a.Warnings)
		}
	}
}

// Compute2 is the mix without a cpuset: the CPUs the partition starts from.
func Compute2(t *testing.T, f *platform.Facts, reqs []Request) []Container {
	t.Helper()
	a, err := Compute(f, Options{FloorPercent: 10}, reqs)
	if err != nil {
		t.Fatal(err)
	}
	return a.Containers
}

// A Pi 5 with all three workloads: one core each and the fourth to chat
// (the largest remainder, the first on a tie); on a 6-core host an LLM
// alone gets its 8 CPUs' worth, all 6 cores.
func TestCPUSetExamples(t *testing.T) {
	t.Parallel()
	pi := host(platform.RPi5, 8*GiB, 4)
	pi.PhysicalCores = 4
	a, err := Compute(pi, Options{Placement: Placement{CPUSet: true}}, []Request{{"chat", LLM}, {"ears", STT}, {"eyes", Vision}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range a.Containers {
		got = append(got, fmt.Sprintf("%s %s %d %s", c.Name, c.CPUSet, c.CPUs, envString(c.Env)))
	}
	if want := []string{"chat 0-1 2 NUM_THREADS=2 MAX_CONCURRENT_REQUESTS=2", "ears 2 1 WORKERS=1 BATCH_SIZE=1", "eyes 3 1 INFERENCE_THREADS=1 IMAGE_CACHE_SIZE=100"}; !slices.Equal(got, want) {
		t.Errorf("Pi 5, all three:\n got %q\nwant %q", got, want)
	}
	// 6 cores, 12 threads; stt's 6 CPUs fit: cores 1–6 are its, and
	// none is left to the OS. With a general container (75 %: 4 of 6)
	// beside, cores 1–2 are left.
	f := smtHost(32*GiB, 6, 2)
	a, err = Compute(f, Options{Placement: Placement{CPUSet: true}}, []Request{{"ears", STT}})
	if err != nil || a.Containers[0].CPUSet != "0-11" {
		t.Errorf("stt on 6c/12t: %+v %v", a, err)
	}
	f = smtHost(32*GiB, 8, 2)
	a, err = Compute(f, Options{Placement: Placement{CPUSet: true}}, []Request{{"g", General}})
	if c := a.Containers[0]; err != nil || c.CPUSet != "2-7,10-15" || c.CPUs != 6 || !strings.Contains(strings.Join(c.Why, "\n"), "cpuset 2-7,10-15: physical cores 3–8 of 8 physical cores (16 logical CPUs), its own (its 6 of the mix's 6 CPUs; cores 1–2 left to the OS)") {
		t.Errorf("general on 8c/16t: %+v %v", a.Containers, err)
	}
	// More containers than cores: refused, with the counts.
	one := host(platform.AMD64, 32*GiB, 1)
	if _, err := Compute(one, Options{Placement: Placement{CPUSet: true}}, []Request{{"a", STT}, {"b", Vision}}); err == nil || !strings.Contains(err.Error(), "cpuset: 2 containers and 1 physical cores") {
		t.Errorf("2 on 1 core: %v", err)
	}
}

// Host networking and memlock go to the containers their lists name, by
// workload or by name; a name neither a workload nor in the mix is
// refused with its key and index.
func TestPlacementSelect(t *testing.T) {
	t.Parallel()
	f := host(platform.AMD64, 64*GiB, 16)
	reqs := []Request{{"chat", LLM}, {"ears", STT}, {"box", General}}
	a, err := Compute(f, Options{Placement: Placement{HostNetwork: DefaultHostNetwork, Memlock: DefaultMemlock}}, reqs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range a.Containers {
		got = append(got, fmt.Sprintf("%s net=%v memlock=%v", c.Name, c.HostNetwork, c.Memlock))
	}
	if want := []string{"chat net=true memlock=true", "ears net=true memlock=false", "box net=false memlock=false"}; !slices.Equal(got, want) {
		t.Errorf("defaults: %q", got)
	}
	a, err = Compute(f, Options{Placement: Placement{HostNetwork: []string{"box"}, Memlock: []string{"ears", "general"}}}, reqs)
	if err != nil || a.Containers[0].HostNetwork || !a.Containers[2].HostNetwork || a.Containers[0].Memlock || !a.Containers[1].Memlock || !a.Containers[2].Memlock {
		t.Errorf("by name: %+v %v", a.Containers, err)
	}
	for _, p := range []Placement{{HostNetwork: []string{"chat", "nope"}}, {Memlock: []string{"llm", "Chat"}}, {Devices: []string{"nope=/dev/null"}}} {
		var oe *OptionError
		if _, err := Compute(f, Options{Placement: p}, reqs); !errors.As(err, &oe) || oe.Index != 1 && oe.Key != "devices" || !strings.Contains(oe.Msg, "is neither a workload") {
			t.Errorf("%+v: %v", p, err)
		}
	}
}

// Device paths, by class: only a clean absolute path under /dev of
// plain characters is taken; then only a character device the root has.
func TestDevices(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"/dev/hailo0", "/dev/accel/accel0", "/dev/bus/usb/001/002", "chat=/dev/apex_0", "llm=/dev/dri/renderD128"} {
		if _, err := ParseDevice(ok); err != nil {
			t.Errorf("ParseDevice(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "dev/hailo0", "/dev", "/dev/", "/dev/../etc/shadow", "/dev//hailo0", "/dev/./hailo0", "/dev/hailo0/", "/etc/passwd",
		"/dev/hailo0:/dev/x", "/dev/hailo0:rwm", "/dev/a,b", "/dev/a b", "/dev/a\tb", "/dev/a\nb", "/dev/a\x00", "/dev/\"a", "/dev/a\\b", "/dev/é", "/dev/\u202ea",
		"=/dev/hailo0", "Chat=/dev/hailo0", "../x=/dev/hailo0", "a b=/dev/hailo0", "chat=", "chat=/dev/x=y", "/dev/" + strings.Repeat("x", 251)} {
		if d, err := ParseDevice(bad); err == nil {
			t.Errorf("ParseDevice(%q) accepted: %+v", bad, d)
		}
	}
	// Every printable ASCII character outside the allow-list, in a name:
	// each means something to a shell, systemd (% and $ in ExecStart=,
	// quotes in AddDevice=) or YAML.
	for r := rune(0x21); r < 0x7f; r++ {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("_.+@-/", r) {
			continue
		}
		for _, p := range []string{"/dev/a" + string(r) + "b", "/dev/" + string(r), "/dev/x/" + string(r) + "n"} {
			if d, err := ParseDevice(p); err == nil {
				t.Errorf("ParseDevice(%q) accepted: %+v", p, d)
			}
		}
	}
	f := host(platform.AMD64, 64*GiB, 16)
	f.CharDevices = []string{"/dev/accel/accel0", "/dev/hailo0", "/dev/null"}
	f.Accelerators = []string{"/dev/accel/accel0", "/dev/hailo0"}
	reqs := []Request{{"chat", LLM}, {"eyes", Vision}}
	a, err := Compute(f, Options{Placement: Placement{Devices: []string{"eyes=/dev/hailo0", "/dev/null", "vision=/dev/hailo0"}}}, reqs)
	if err != nil || !slices.Equal(a.Containers[0].Devices, []string{"/dev/null"}) || !slices.Equal(a.Containers[1].Devices, []string{"/dev/hailo0", "/dev/null"}) {
		t.Fatalf("devices: %+v %v", a, err)
	}
	// The accelerator not given is offered; the one given is not.
	if len(a.Notes) != 1 || !strings.HasPrefix(a.Notes[0], "accelerator /dev/accel/accel0 found: pass it") {
		t.Errorf("notes: %q", a.Notes)
	}
	for _, missing := range []string{"/dev/hailo1", "/dev/accel", "/dev/sda"} {
		var oe *OptionError
		if _, err := Compute(f, Options{Placement: Placement{Devices: []string{"/dev/null", missing}}}, reqs); !errors.As(err, &oe) || oe.Key != "devices" || oe.Index != 1 || !strings.Contains(oe.Msg, "no character device there") {
			t.Errorf("%s: %v", missing, err)
		}
	}
	img := host(platform.AMD64, 64*GiB, 16)
	img.Runtime = false
	if _, err := Compute(img, Options{Placement: Placement{Devices: []string{"/dev/hailo0"}}}, reqs); err == nil || !strings.Contains(err.Error(), "an image has no device nodes") {
		t.Errorf("image: %v", err)
	}
}

// Every form carries the placement: podman run flags, Compose keys,
// Quadlet keys (the cpuset in PodmanArgs=, Quadlet having no key).
func TestPlacementForms(t *testing.T) {
	t.Parallel()
	c := Container{Name: "chat", Workload: LLM, Memory: 4 * GiB, Reservation: 2 * GiB, CPUs: 2, Env: []Env{},
		HostNetwork: true, Memlock: true, Devices: []string{"/dev/hailo0", "/dev/accel/accel0"}, CPUSet: "0-1,4-5"}
	if got, want := strings.Join(RunFlags(c), " "), "--memory=4g --memory-reservation=2g --cpus=2 --cpuset-cpus=0-1,4-5 --network=host --ulimit=memlock=-1:-1 --device=/dev/hailo0 --device=/dev/accel/accel0"; got != want {
		t.Errorf("run:\n got %s\nwant %s", got, want)
	}
	q := string(QuadletDropIn(c, ParsePodman("5.4.2+ds1-2")))
	for _, w := range []string{"\nPodmanArgs=--memory=4g --memory-reservation=2g --cpus=2 --cpuset-cpus=0-1,4-5\n", "\nNetwork=host\n", "\nUlimit=memlock=-1:-1\n", "\nAddDevice=/dev/hailo0\n", "\nAddDevice=/dev/accel/accel0\n"} {
		if !strings.Contains(q, w) {
			t.Errorf("quadlet: no %q in\n%s", w, q)
		}
	}
	y := string(ComposeOverride(&Allocation{Containers: []Container{c}}))
	// Compose: no cpuset or network_mode (ComposeNote says why).
	if y := strings.ReplaceAll(y, ComposeNote, ""); strings.Contains(y, "cpuset") || strings.Contains(y, "network_mode") {
		t.Errorf("compose has a key Debian's podman-compose ignores or breaks on:\n%s", y)
	}
	for _, w := range []string{"\n    ulimits:\n      memlock:\n        soft: -1\n        hard: -1\n", "\n    devices:\n      - \"/dev/hailo0\"\n      - \"/dev/accel/accel0\"\n"} {
		if !strings.Contains(y, w) {
			t.Errorf("compose: no %q in\n%s", w, y)
		}
	}
	// Off: none of them.
	c.HostNetwork, c.Memlock, c.Devices, c.CPUSet = false, false, nil, ""
	all := strings.Join(RunFlags(c), " ") + string(QuadletDropIn(c, Podman{})) + string(ComposeOverride(&Allocation{Containers: []Container{c}}))
	for _, w := range []string{"cpuset", "network", "Network", "ulimit", "Ulimit", "memlock", "device", "Device"} {
		if strings.Contains(strings.ReplaceAll(all, ComposeNote, ""), w) {
			t.Errorf("placement off, yet %q in:\n%s", w, all)
		}
	}
}

// Topology lines that disagree never let two containers share a core:
// CPUs any line puts together stay together; a CPU without topology, an
// offline one, a duplicate or a hostile list are handled as the kernel's
// count would.
func TestCoreGroups(t *testing.T) {
	t.Parallel()
	f := &platform.Facts{CPUs: []platform.CPU{
		{ID: 0, Core: "siblings 0-1"}, {ID: 1, Core: "siblings 1-2"}, {ID: 2, Core: "siblings 2"},
		{ID: 3}, {ID: 4, Core: "0/7"}, {ID: 5, Core: "0/7"}, {ID: 6, Offline: true}, {ID: 7, Core: "siblings 7,6,99,-1,x,3-999999"},
		{ID: 4, Core: "siblings 4"}, // a duplicate: the first counts
	}}
	got := fmt.Sprint(coreGroups(f, 6))
	if want := "[[0 1 2] [3] [4 5] [7]]"; got != want {
		t.Errorf("groups %s, want %s", got, want)
	}
	// An image: no CPUs listed.
	if got := fmt.Sprint(coreGroups(&platform.Facts{}, 4)); got != "[[0] [1] [2] [3]]" {
		t.Errorf("image: %s", got)
	}
	for in, want := range map[string]string{"0-3,8-11": "[0 1 2 3 8 9 10 11]", "5": "[5]", "": "[]", "3-1,x,-2,0-5000": "[]"} {
		if got := fmt.Sprint(parseCPUList(in)); got != want {
			t.Errorf("parseCPUList(%q) = %s, want %s", in, got, want)
		}
	}
}
