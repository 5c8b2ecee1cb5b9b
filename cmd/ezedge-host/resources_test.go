package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ezansiedgeai/ezedge-host/internal/alloc"
	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// resourceMixes are the workload mixes the golden files hold, on every
// fixture: each workload alone, the platform's general container, and all
// three AI workloads sharing one host (refused where they do not fit).
var resourceMixes = []struct {
	name string
	args []string
}{
	{"general", nil},
	{"llm", []string{"--workload", "llm=chat"}},
	{"stt", []string{"--workload", "stt"}},
	{"vision", []string{"--workload", "vision"}},
	{"llm-stt", []string{"--workload", "llm=chat", "--workload", "stt=ears"}},
	{"all", []string{"--workload", "llm=chat", "--workload", "stt=ears", "--workload", "vision=eyes"}},
}

// TestGoldenResources: every fixture × workload mix, in text (every form)
// and JSON (every form), with the exit status and error.
func TestGoldenResources(t *testing.T) {
	t.Parallel()
	for _, name := range fixture.Names {
		root := filepath.Join(fixture.Testdata(), name)
		for _, m := range resourceMixes {
			for _, out := range []string{"text", "json"} {
				r := cli(append([]string{"resources", "--root", root, "--output", out}, m.args...)...)
				got := fmt.Sprintf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
				if out == "json" && r.code == 0 {
					var v map[string]any
					if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v["format_version"] != float64(1) {
						t.Errorf("%s %s: not JSON with format_version 1: %v", name, m.name, err)
					}
				}
				ext := map[string]string{"text": "txt", "json": "json"}[out]
				goldenFile(t, "resources/"+name+"."+m.name+"."+ext, normalize(got, root))
			}
		}
	}
}

// TestResourcesWrite: --write goes through plan and apply like any
// change: shown, snapshotted, idempotent, undone byte for byte; in both
// forms, on every fixture (refused where the installed Podman cannot read
// a drop-in, with its reason).
func TestResourcesWrite(t *testing.T) {
	t.Parallel()
	for _, name := range fixture.Names {
		for _, form := range []string{"quadlet", "compose"} {
			t.Run(name+"/"+form, func(t *testing.T) {
				t.Parallel()
				root := fixture.Copy(t, name)
				orig := fixture.Snapshot(t, root)
				args := []string{"resources", "--root", root, "--workload", "stt=ears", "--form", form, "--write", "ears", "--yes"}
				file := filepath.Join(root, "etc/containers/systemd/ears.container.d/90-ezedge-host.conf")
				if form == "compose" {
					file = filepath.Join(root, "etc/ezedge-host/compose.override.yaml")
				}
				r := cli(args...)
				if name == "pi5-16gb-nvme-bookworm" && form == "quadlet" {
					r.must(t, 1)
					if !strings.Contains(r.stderr, "Podman 4.3.1+ds1-8+deb12u1 has no Quadlet") {
						t.Errorf("quadlet on Podman 4.3: %s", r.stderr)
					}
					if d := orig.Diff(fixture.Snapshot(t, root)); len(d) > 0 {
						t.Fatalf("a refused --write changed the root: %v", d)
					}
					return
				}
				r.must(t, 0)
				if !strings.Contains(r.stdout, "+ file /"+strings.TrimPrefix(file, root+"/")) || !strings.Contains(r.stdout, "Snapshot ") {
					t.Fatalf("--write did not plan and apply the file:\n%s", r.stdout)
				}
				// Only that file, and the store, changed.
				d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir))
				for _, l := range d {
					if !strings.Contains(l, ": etc/containers") && !strings.Contains(l, ": etc/ezedge-host") {
						t.Errorf("--write changed more than its file: %s", l)
					}
				}
				body := readFile(t, file)
				if !strings.HasPrefix(body, "# Written by ezedge-host.") || !strings.Contains(body, "WORKERS") {
					t.Errorf("%s:\n%s", file, body)
				}
				if cli(args...).must(t, 0); !strings.Contains(cli(args...).stdout, "Nothing to apply.") {
					t.Errorf("a second --write did something")
				}
				cli("rollback", "--root", root, "--yes").must(t, 0)
				if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
					t.Fatalf("root not byte-identical after rollback:\n%s", strings.Join(d, "\n"))
				}
			})
		}
	}
}

// TestResourcesBadInput: every bad flag is one line naming it, exit 1,
// and nothing written.
func TestResourcesBadInput(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-8gb-trixie-zram")
	orig := fixture.Snapshot(t, root)
	floor90 := filepath.Join(t.TempDir(), "floor.yaml")
	if err := os.WriteFile(floor90, []byte("version: 1\ntasks:\n  container-resources: {floor_percent: 90}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--workload", "gpu"}, `--workload workload "gpu": want llm, stt, vision, general`},
		{[]string{"--workload", "llm=../x"}, `name "../x"`},
		{[]string{"--workload", "llm=a", "--workload", "stt=a"}, `the name "a" is given twice`},
		{[]string{"--form", "helm"}, `--form "helm"`},
		{[]string{"--ram", "lots"}, `--ram size "lots"`},
		{[]string{"--workload", "llm", "--workload", "stt", "--workload", "vision", "--strict"}, "memory limits sum to 9g (llm 4g + stt 2g + vision 3g), more than this host's 7182m: 7.9 GiB RAM less 64 MiB volatile journal less 10 % for the OS (--strict: not scaled)"},
		// The profile's floor: 9g into 7182m is 77.9 %, below 90 %.
		{[]string{"--workload", "llm", "--workload", "stt", "--workload", "vision", "--profile", floor90}, "; scaled to fit, llm would get 3192m, below its floor of 3686m (90 % of 4g)"},
		// --write plans the task: --strict is its floor_percent 100, and
		// the profile's floor is kept (90 % refuses 77.9 %).
		{[]string{"--workload", "llm", "--workload", "stt", "--workload", "vision", "--write", "llm", "--strict", "--yes"}, "--write llm: "},
		{[]string{"--workload", "llm", "--workload", "stt", "--workload", "vision", "--write", "llm", "--profile", floor90, "--yes"}, "below its floor of 3686m (90 % of 4g)"},
		{[]string{"--workload", "llm", "--write", "other", "--yes"}, `--write "other": no container of that name`},
		{[]string{"--workload", "llm", "--write", "llm", "--form", "run", "--yes"}, "--write writes one file"},
		{[]string{"--workload", "llm", "--write", "llm", "--ram", "8g", "--yes"}, "--ram with --write"},
		// Placement flags: each names itself; with --write nothing is
		// written either.
		{[]string{"--workload", "llm=chat", "--host-network", "chat,eyes"}, `--host-network: "eyes" is neither a workload`},
		{[]string{"--workload", "llm=chat", "--memlock", "../x"}, `--memlock: "../x" is neither a workload`},
		{[]string{"--workload", "llm=chat", "--device", "/dev/null:/dev/null"}, `--device: "/dev/null:/dev/null": a device path of letters, digits and _ . + @ -`},
		{[]string{"--workload", "llm=chat", "--device", "/dev/hailo0"}, `--device: "/dev/hailo0": this root has no character device there`},
		{[]string{"--workload", "llm=chat", "--device", "/dev/hailo0", "--write", "chat", "--yes"}, `--device: "/dev/hailo0": this root has no character device there`},
		{[]string{"--workload", "stt", "--workload", "vision", "--workload", "llm", "--workload", "general", "--workload", "general=g2", "--cpuset"}, "cpuset: 5 containers and 4 physical cores: each needs a core of its own"},
	} {
		r := cli(append([]string{"resources", "--root", root}, c.args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q; want one line with %q", c.args, r.code, r.stderr, c.want)
		}
	}
	if d := orig.Diff(fixture.Snapshot(t, root)); len(d) > 0 {
		t.Fatalf("bad input changed the root: %v", d)
	}
	// An image shows no RAM: --ram stands in for it.
	img := t.TempDir()
	if err := fixture.CopyTree(filepath.Join(fixture.Testdata(), "pi5-8gb-trixie-zram", "etc"), filepath.Join(img, "etc")); err != nil {
		t.Fatal(err)
	}
	if r := cli("resources", "--root", img, "--platform", "rpi5"); r.code != 1 || !strings.Contains(r.stderr, "--ram") {
		t.Errorf("image without --ram: %d %s", r.code, r.stderr)
	}
	// With it, a Pi image is sized as its board: 4 cores.
	r := cli("resources", "--root", img, "--platform", "rpi5", "--ram", "16g", "--workload", "llm").must(t, 0)
	if !strings.Contains(r.stdout, "16 GiB RAM (16 GiB installed), 4 CPUs (4 physical cores)") || !strings.Contains(r.stdout, "llm        llm       4g") {
		t.Errorf("Pi image with --ram 16g:\n%s", r.stdout)
	}
}

// TestResourcesProfile: the container-resources task from a profile is
// the whole list: a container dropped from it loses its drop-in, a form
// switched leaves no file of the other, and rollback undoes each step.
func TestResourcesProfile(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-8gb-trixie-zram")
	orig := fixture.Snapshot(t, root)
	prof := func(list, form string) string {
		p := filepath.Join(t.TempDir(), "p.yaml")
		body := fmt.Sprintf("version: 1\ntasks:\n  container-resources: {enabled: true, containers: [%s], form: %s}\n", list, form)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	exists := func(p string) bool { _, err := os.Stat(filepath.Join(root, p)); return err == nil }
	cli("apply", "--root", root, "--yes", "--profile", prof("llm=chat, stt=ears", "quadlet")).must(t, 0)
	if !exists("etc/containers/systemd/chat.container.d/90-ezedge-host.conf") || !exists("etc/containers/systemd/ears.container.d/90-ezedge-host.conf") {
		t.Fatalf("drop-ins not written")
	}
	cli("plan", "--root", root, "--detailed-exitcode", "--profile", prof("llm=chat, stt=ears", "quadlet")).must(t, 0)
	p := cli("plan", "--root", root, "--profile", prof("llm=chat", "quadlet")).must(t, 0)
	if !strings.Contains(p.stdout, "- file /etc/containers/systemd/ears.container.d/90-ezedge-host.conf") {
		t.Errorf("a container dropped from the profile keeps its drop-in:\n%s", p.stdout)
	}
	cli("apply", "--root", root, "--yes", "--profile", prof("llm=chat", "quadlet")).must(t, 0)
	if exists("etc/containers/systemd/ears.container.d") {
		t.Errorf("ears' drop-in directory left behind")
	}
	cli("apply", "--root", root, "--yes", "--profile", prof("llm=chat", "compose")).must(t, 0)
	if exists("etc/containers/systemd/chat.container.d") || !exists("etc/ezedge-host/compose.override.yaml") {
		t.Errorf("switching to compose: quadlet drop-in kept or override missing")
	}
	// A bad entry in the profile is refused before anything is planned.
	r := cli("plan", "--root", root, "--profile", prof("llm=chat, gpu", "quadlet"))
	if r.code != 1 || !strings.Contains(r.stderr, "containers[1]") {
		t.Errorf("bad profile entry: %d %s", r.code, r.stderr)
	}
	cli("rollback", "--root", root, "--yes", "--to", firstApply(t, root)).must(t, 0)
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("root not byte-identical after rollback:\n%s", strings.Join(d, "\n"))
	}
}

var historyID = regexp.MustCompile(`(?m)^([0-9]{8}T[0-9]{6}Z(-[0-9]+)?) `)

// firstApply is the oldest apply in root's history.
func firstApply(t *testing.T, root string) string {
	t.Helper()
	ids := historyID.FindAllStringSubmatch(cli("history", "--root", root).must(t, 0).stdout, -1)
	if len(ids) == 0 {
		t.Fatal("no apply in history")
	}
	first := ids[0][1]
	for _, m := range ids {
		first = min(first, m[1])
	}
	return first
}

// TestComposeOverrideInPodmanCompose: Debian's podman-compose (1.0.3)
// merges the emitted override over a compose file and turns it into the
// podman flags the guide means. 1.0.3 has no `config` command; --dry-run
// prints the merged file and every podman command instead of running it
// (podman itself is a stand-in that only answers --version).
func TestComposeOverrideInPodmanCompose(t *testing.T) {
	t.Parallel()
	pc, err := exec.LookPath("podman-compose")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and podman-compose is missing (make test-deps installs it): %v", err)
		}
		t.Skip("podman-compose is not installed (make test-deps installs it)")
	}
	dir := t.TempDir()
	// Without huge pages the guide's rows fit the budget as written.
	prof := filepath.Join(dir, "profile.yaml")
	if err := os.WriteFile(prof, []byte("version: 1\ntasks:\n  hugepages: {enabled: false}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := cli("resources", "--root", filepath.Join(fixture.Testdata(), "amd64-intel-32gb-2nvme"), "--profile", prof, "--workload", "llm=chat", "--workload", "stt=ears", "--output", "json").must(t, 0)
	var v struct {
		Forms struct{ Compose string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"compose.yaml":  "services:\n  chat:\n    image: localhost/llm:latest\n  ears:\n    image: localhost/stt:latest\n",
		"override.yaml": v.Forms.Compose,
		// What the override leaves out on purpose, tried: 1.0.3 drops it.
		"cpures.yaml": "services:\n  chat:\n    deploy:\n      resources:\n        reservations:\n          cpus: \"2\"\n",
		"podman":      "#!/bin/sh\necho podman version 4.3.1\n",
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(b), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(pc, "--podman-path", filepath.Join(dir, "podman"), "--dry-run", "-f", "compose.yaml", "-f", "override.yaml", "-f", "cpures.yaml", "up", "-d")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("podman-compose refused the override: %v\n%s", err, out)
	}
	runs := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if i := strings.Index(l, " run --name=dir_"); i >= 0 || strings.Contains(l, "podman run --name=") {
			for _, n := range []string{"chat", "ears"} {
				if strings.Contains(l, "_"+n+"_1 ") {
					runs[n] = l
				}
			}
		}
	}
	for n, want := range map[string][]string{
		"chat": {"--cpus 8.0", "-m 20g", "--memory-reservation 14628m", "-e NUM_THREADS=8", "-e MAX_CONCURRENT_REQUESTS=5"},
		"ears": {"--cpus 6.0", "-m 8g", "--memory-reservation 5851m", "-e WORKERS=4", "-e BATCH_SIZE=4"},
	} {
		l, ok := runs[n]
		if !ok {
			t.Fatalf("no podman run for %s in:\n%s", n, out)
		}
		for _, w := range want {
			if !strings.Contains(l+" ", w+" ") {
				t.Errorf("%s: %q not in %s", n, w, l)
			}
		}
		if strings.Count(l, "--cpu") != 1 {
			t.Errorf("%s: reservations.cpus became a flag: %s", n, l)
		}
	}
}

// TestResourcesPhysicalCores: an 8-core/16-thread amd64 (the 32 GB
// fixture given SMT topology in a copy) is sized from its 8 cores: the
// 6–8 row's 6 CPUs for a general container, not the 12–16 row's 12, and
// the facts' evidence says where the count came from.
func TestResourcesPhysicalCores(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	for i := range 16 {
		dir := filepath.Join(root, fmt.Sprintf("sys/devices/system/cpu/cpu%d/topology", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]int{"core_id": i % 8, "physical_package_id": 0} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(fmt.Sprintf("%d\n", v)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := cli("resources", "--root", root, "--form", "run").must(t, 0)
	if !strings.Contains(r.stdout, "16 CPUs (8 physical cores)") || !strings.Contains(r.stdout, "--cpus=6 IMAGE") || !strings.Contains(r.stdout, "CPU table: amd64 with 6–8 cores → 6") {
		t.Errorf("general on 8c/16t:\n%s", r.stdout)
	}
	r = cli("resources", "--root", root, "--form", "run", "--workload", "llm=chat", "--workload", "stt=ears").must(t, 0)
	if !strings.Contains(r.stdout, "--cpus=8 --network=host --ulimit=memlock=-1:-1 --env=NUM_THREADS=8") || !strings.Contains(r.stdout, "warning: CPUs sum to 14 (chat 8 + ears 6) and threads to 12 on 8 physical cores (16 logical CPUs)") {
		t.Errorf("llm+stt on 8c/16t:\n%s", r.stdout)
	}
	// --cpuset: the 8 cores shared 5 + 3 (8·8/14 and 8·6/14, the
	// largest remainder to chat), each core's two threads together, and
	// CPUs and threads cut to the cores: no overcommit left to warn of.
	r = cli("resources", "--root", root, "--form", "run", "--workload", "llm=chat", "--workload", "stt=ears", "--cpuset").must(t, 0)
	for _, w := range []string{
		"--name chat --memory=19112m --memory-reservation=13651m --cpus=5 --cpuset-cpus=0-4,8-12 --network=host --ulimit=memlock=-1:-1 --env=NUM_THREADS=5 ",
		"--name ears --memory=7645m --memory-reservation=5460m --cpus=3 --cpuset-cpus=5-7,13-15 --network=host --env=WORKERS=3 ",
		"cpuset 0-4,8-12: physical cores 1–5 of 8 physical cores (16 logical CPUs), its own (its 8 of the mix's 14 CPUs)",
		"WORKERS 4 → 3: never more threads than the cores of its cpuset",
	} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("llm+stt --cpuset on 8c/16t: no %q in\n%s", w, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "overcommit") {
		t.Errorf("llm+stt --cpuset on 8c/16t still warns of overcommit:\n%s", r.stdout)
	}
	f := cli("facts", "--root", root, "--output", "json").must(t, 0)
	if !strings.Contains(f.stdout, `"physical_cores": 8`) || !strings.Contains(f.stdout, "physical cores: 8 of 16 logical CPUs, from /sys/devices/system/cpu/cpuN/topology") {
		t.Errorf("facts on 8c/16t:\n%s", f.stdout)
	}
}

// podmanCompose is Debian's podman-compose, or the test is skipped (a
// failure under CI: make test-deps installs it).
func podmanCompose(t *testing.T) string {
	t.Helper()
	pc, err := exec.LookPath("podman-compose")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and podman-compose is missing (make test-deps installs it): %v", err)
		}
		t.Skip("podman-compose is not installed (make test-deps installs it)")
	}
	return pc
}

// composeRuns is the podman run line podman-compose --dry-run up would
// run for each service of compose and override, by service.
func composeRuns(t *testing.T, pc, compose, override string, services ...string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	for n, b := range map[string]string{"compose.yaml": compose, "override.yaml": override, "podman": "#!/bin/sh\necho podman version 4.3.1\n"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(b), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(pc, "--podman-path", filepath.Join(dir, "podman"), "--dry-run", "-f", "compose.yaml", "-f", "override.yaml", "up", "-d")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("podman-compose refused the override: %v\n%s", err, out)
	}
	runs := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		for _, n := range services {
			if strings.Contains(l, " run --name=") && strings.Contains(l, "_"+n+"_1 ") {
				runs[n] = l
			}
		}
	}
	for _, n := range services {
		if runs[n] == "" {
			t.Fatalf("no podman run for %s in:\n%s", n, out)
		}
	}
	return runs
}

// TestComposePlacementInPodmanCompose: the placement's Compose keys, as
// Debian's podman-compose (1.0.3) turns them into podman flags: host
// networking, an unlimited memlock and each device, to the containers
// named; and the cpuset, which 1.0.3 ignores as the override's note says
// (when a podman-compose maps it, this fails and the note is out of date).
func TestComposePlacementInPodmanCompose(t *testing.T) {
	t.Parallel()
	pc := podmanCompose(t)
	f := &platform.Facts{Platform: platform.AMD64, MemTotal: 64 << 30, Cores: 16, PhysicalCores: 8, Runtime: true,
		CharDevices: []string{"/dev/accel/accel0", "/dev/hailo0"}}
	a, err := alloc.Compute(f, alloc.Options{Placement: alloc.Placement{HostNetwork: []string{"chat"}, Memlock: alloc.DefaultMemlock,
		Devices: []string{"eyes=/dev/hailo0", "/dev/accel/accel0"}, CPUSet: true}}, []alloc.Request{{Name: "chat", Workload: alloc.LLM}, {Name: "eyes", Workload: alloc.Vision}})
	if err != nil {
		t.Fatal(err)
	}
	compose := "services:\n  chat:\n    image: localhost/llm:latest\n  eyes:\n    image: localhost/vision:latest\n"
	runs := composeRuns(t, pc, compose, string(alloc.ComposeOverride(a)), "chat", "eyes")
	for n, want := range map[string][]string{
		"chat": {"--ulimit memlock=-1:-1", "--device /dev/accel/accel0", "--cpus 4.0"},
		"eyes": {"--device /dev/hailo0", "--device /dev/accel/accel0", "--cpus 4.0"},
	} {
		for _, w := range want {
			if !strings.Contains(runs[n]+" ", " "+w+" ") {
				t.Errorf("%s: %q not in %s", n, w, runs[n])
			}
		}
	}
	if strings.Contains(runs["eyes"], "--ulimit") {
		t.Errorf("eyes: --ulimit, not asked for: %s", runs["eyes"])
	}
	// What the override leaves out on purpose, tried: 1.0.3 drops a
	// cpuset, and puts a network_mode: host service on the project's
	// network after it (two networks: Podman refuses to run it).
	tried := composeRuns(t, pc, compose, "services:\n  chat:\n    network_mode: host\n    cpuset: \"0-3\"\n", "chat")
	if l := tried["chat"]; strings.Contains(l, "cpuset") || !strings.Contains(l, " --network host ") || !strings.Contains(l, " --net ") {
		t.Errorf("podman-compose now maps cpuset or network_mode: host alone (%s): ComposeNote and the compose-form warning are out of date", l)
	}
}

// TestResourcesDevice: --device and the profile's devices take a
// character device the root has, and refuse anything else with the flag,
// or the profile's file, line and key; an accelerator the root has is
// offered. The device node is made with mknod (skipped where the test
// may not).
func TestResourcesDevice(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-8gb-trixie-zram")
	if err := os.MkdirAll(filepath.Join(root, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(root, "dev/hailo0"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))); err != nil {
		t.Skipf("mknod: %v", err)
	}
	// A regular file and a link to the device are not device nodes.
	os.WriteFile(filepath.Join(root, "dev/fake0"), nil, 0o644)
	os.Symlink("hailo0", filepath.Join(root, "dev/link0"))
	r := cli("resources", "--root", root, "--form", "run", "--workload", "vision=eyes").must(t, 0)
	if !strings.Contains(r.stdout, "note: accelerator /dev/hailo0 found: pass it to a container with devices: [NAME=/dev/hailo0]") || strings.Contains(r.stdout, "--device=") {
		t.Errorf("offered:\n%s", r.stdout)
	}
	r = cli("resources", "--root", root, "--form", "quadlet", "--workload", "vision=eyes", "--device", "eyes=/dev/hailo0").must(t, 0)
	if !strings.Contains(r.stdout, "\n    AddDevice=/dev/hailo0\n") || strings.Contains(r.stdout, "note: accelerator") {
		t.Errorf("--device:\n%s", r.stdout)
	}
	for _, bad := range []string{"/dev/fake0", "/dev/link0", "/dev/hailo1", "/dev/../dev/hailo0", "/etc/passwd", "ears=/dev/hailo0"} {
		r := cli("resources", "--root", root, "--workload", "vision=eyes", "--device", bad)
		if r.code == 0 || !strings.HasPrefix(r.stderr, "ezedge-host: --device: ") {
			t.Errorf("--device %s: exit %d %s", bad, r.code, r.stderr)
		}
	}
	prof := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(prof, []byte("version: 1\ntasks:\n  container-resources:\n    devices: [/dev/fake0]\n"), 0o644)
	r = cli("resources", "--root", root, "--workload", "vision=eyes", "--profile", prof)
	if r.code == 0 || !strings.Contains(r.stderr, "profile "+prof+":4: tasks.container-resources.devices[0]: \"/dev/fake0\": this root has no character device there") {
		t.Errorf("profile devices: exit %d %s", r.code, r.stderr)
	}
	os.WriteFile(prof, []byte("version: 1\ntasks:\n  container-resources:\n    devices: [\"/dev/x:/dev/y\"]\n"), 0o644)
	r = cli("resources", "--root", root, "--workload", "vision=eyes", "--profile", prof)
	if r.code == 0 || !strings.Contains(r.stderr, ":4") || !strings.Contains(r.stderr, "devices[0]") {
		t.Errorf("profile devices syntax: exit %d %s", r.code, r.stderr)
	}
}

// TestResourcesWritePlacement: --write writes what the placement flags
// say, over the profile's: a cpuset and memlock given, host networking
// taken away; and rollback undoes it.
func TestResourcesWritePlacement(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-8gb-trixie-zram")
	orig := fixture.Snapshot(t, root)
	prof := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(prof, []byte("version: 1\ntasks:\n  container-resources: {cpuset: false, host_network: [stt]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cli("resources", "--root", root, "--profile", prof, "--workload", "llm=chat", "--workload", "stt=ears", "--write", "ears",
		"--cpuset", "--host-network", "", "--memlock", "ears", "--yes").must(t, 0)
	body := readFile(t, filepath.Join(root, "etc/containers/systemd/ears.container.d/90-ezedge-host.conf"))
	if !strings.Contains(body, " --cpus=2 --cpuset-cpus=2-3\n") || !strings.Contains(body, "\nUlimit=memlock=-1:-1\n") || strings.Contains(body, "Network=") {
		t.Errorf("ears's drop-in:\n%s", body)
	}
	cli("rollback", "--root", root, "--yes").must(t, 0)
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("root not byte-identical after rollback:\n%s", strings.Join(d, "\n"))
	}
}

// TestResourcesBusAccelerator: the accelerators found on the buses feed
// the list resources offers, once the root has their node: the Pi 5
// fixture's Hailo-8 (its driver names /dev/hailo0) and a Coral USB
// Accelerator (/dev/bus/usb/001/002, a name only the bus walk knows is
// an accelerator's), each passed with --device (Quadlet's AddDevice=).
// Without the nodes nothing is offered. mknod: skipped where the test
// may not.
func TestResourcesBusAccelerator(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	fixture.PutAll(t, root, map[string]fixture.Entry{
		"sys/bus/usb/devices/1-1": fixture.Link("../../../devices/platform/axi/1000120000.pcie/xhci-hcd.0/usb1/1-1"),
		"sys/devices/platform/axi/1000120000.pcie/xhci-hcd.0/usb1/1-1/idVendor":  fixture.File("18d1\n"),
		"sys/devices/platform/axi/1000120000.pcie/xhci-hcd.0/usb1/1-1/idProduct": fixture.File("9302\n"),
		"sys/devices/platform/axi/1000120000.pcie/xhci-hcd.0/usb1/1-1/uevent":    fixture.File("MAJOR=189\nMINOR=1\nDEVNAME=bus/usb/001/002\nDEVTYPE=usb_device\n"),
	})
	r := cli("resources", "--root", root, "--form", "run", "--workload", "vision=eyes").must(t, 0)
	if strings.Contains(r.stdout, "note: accelerator") {
		t.Errorf("offered without the nodes:\n%s", r.stdout)
	}
	for _, n := range []string{"dev/hailo0", "dev/bus/usb/001/002"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, n)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mknod(filepath.Join(root, n), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))); err != nil {
			t.Skipf("mknod: %v", err)
		}
	}
	r = cli("resources", "--root", root, "--form", "run", "--workload", "vision=eyes").must(t, 0)
	for _, n := range []string{"/dev/hailo0", "/dev/bus/usb/001/002"} {
		if !strings.Contains(r.stdout, "note: accelerator "+n+" found: pass it to a container with devices: [NAME="+n+"]") {
			t.Errorf("%s not offered:\n%s", n, r.stdout)
		}
	}
	r = cli("resources", "--root", root, "--form", "quadlet", "--workload", "vision=eyes", "--device", "eyes=/dev/hailo0", "--device", "eyes=/dev/bus/usb/001/002").must(t, 0)
	if !strings.Contains(r.stdout, "\n    AddDevice=/dev/hailo0\n") || !strings.Contains(r.stdout, "\n    AddDevice=/dev/bus/usb/001/002\n") || strings.Contains(r.stdout, "note: accelerator") {
		t.Errorf("--device:\n%s", r.stdout)
	}
}

// TestFactsPCIe: facts names the Pi 5 fixture's Hailo-8 and NVMe in a
// line each, with the link and the port's maximum; the Hailo's node is
// evidence, the root lacking it.
func TestFactsPCIe(t *testing.T) {
	t.Parallel()
	r := cli("facts", "--root", fixture.Copy(t, "pi5-16gb-nvme-bookworm")).must(t, 0)
	for _, want := range []string{
		"\ndevice:     pci 0000:04:00.0: Hailo-8 or 8L (0x1e60:0x2864 class 0x0b4000, driver hailo), link 5.0 GT/s x1 of max 8.0 GT/s x4 (port 0000:02:01.0 max 8.0 GT/s x1), node /dev/hailo0\n",
		"\ndevice:     pci 0000:03:00.0: NVMe (0x144d:0xa809 class 0x010802, driver nvme), link 8.0 GT/s x1 of max 8.0 GT/s x4 (port 0000:02:00.0 max 8.0 GT/s x1)\n",
		"\n  accelerator 0000:04:00.0: its driver names /dev/hailo0, which this root has no character device at\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("no %q in\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "device:     pci 0000:00:00.0") {
		t.Errorf("a bridge listed:\n%s", r.stdout)
	}
}
