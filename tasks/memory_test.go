package tasks

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/alloc"
	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// fixtureFacts reads a fixture root in place (detection only reads).
func fixtureFacts(t *testing.T, name string) *Facts {
	t.Helper()
	h, err := hostroot.Open(filepath.Join(fixture.Testdata(), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	f, err := platform.Detect(h, Observations())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func reserveString(rs []alloc.Reserve) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.What+"="+r.Size.String())
	}
	return strings.Join(s, " ")
}

// Reserved keeps what each task that is on and plans keeps, and the huge
// pages held now where more than planned; the budget subtracts each.
func TestReserved(t *testing.T) {
	t.Parallel()
	on, off := true, false
	amd := fixtureFacts(t, "amd64-intel-32gb-2nvme")
	// hugepages is on by default on a 32 GB amd64: 1024 × 2 MiB.
	if got := reserveString(Reserved(amd, nil)); got != "huge pages=2g" {
		t.Errorf("amd64 32 GB defaults: %q", got)
	}
	rs := Reserved(amd, Choices{"hugepages": {Options: &HugePagesOptions{Pages: 512}}})
	if got := reserveString(rs); got != "huge pages=1g" || !strings.Contains(rs[0].Why, "vm.nr_hugepages=512 × 2 MiB") || !strings.Contains(rs[0].Why, "HugePages_Total 0") {
		t.Errorf("512 pages: %q %q", got, rs)
	}
	// Off: nothing planned, nothing held now.
	if got := reserveString(Reserved(amd, Choices{"hugepages": {Enabled: &off}})); got != "" {
		t.Errorf("hugepages off: %q", got)
	}
	// Held now, more than planned: the larger counts.
	now := *amd
	now.HugePages = 2048
	if rs := Reserved(&now, nil); reserveString(rs) != "huge pages=4g" || !strings.Contains(rs[0].Why, "more than the hugepages task plans") {
		t.Errorf("2048 held now, 1024 planned: %+v", rs)
	}
	if got := reserveString(Reserved(&now, Choices{"hugepages": {Enabled: &off}})); got != "huge pages=4g" {
		t.Errorf("2048 held now, task off: %q", got)
	}
	// A Hugepagesize that would overflow 1024 pages is over 25 % of RAM:
	// skipped, nothing planned.
	big := *amd
	big.HugePageSize = 1 << 54
	if got := reserveString(Reserved(&big, nil)); got != "" {
		t.Errorf("1024 pages of 2^54 bytes: %q", got)
	}
	// A HugePages_Total whose bytes overflow keeps everything: refused,
	// not wrapped to a small reserve.
	now.HugePages = 1 << 60
	if rs := Reserved(&now, nil); len(rs) != 1 || rs[0].Size != alloc.Bytes(math.MaxUint64) {
		t.Errorf("2^60 huge pages: %+v", rs)
	}
	if _, err := Allocate(&now, nil, alloc.Options{}, nil); err == nil || !strings.Contains(err.Error(), "no memory is left for containers") {
		t.Errorf("2^60 huge pages: %v", err)
	}
	// A plan the task skips (more than 25 % of RAM) keeps nothing.
	if got := reserveString(Reserved(amd, Choices{"hugepages": {Options: &HugePagesOptions{Pages: 8192}}})); got != "" {
		t.Errorf("a skipped hugepages plan: %q", got)
	}
	// A tmpfs /tmp and a volatile journal, on: their caps.
	pi := fixtureFacts(t, "pi4-8gb-bullseye")
	c := Choices{"tmp-tmpfs": {Enabled: &on}, "journald": {Enabled: &on}}
	want := "tmpfs /tmp=1952m volatile journal=64m" // 25 % of 7997184 kB
	if got := reserveString(Reserved(pi, c)); got != want {
		t.Errorf("pi4 tmp-tmpfs and journald on: %q, want %q", got, want)
	}
	c["journald"] = Settings{Enabled: &on, Options: &JournaldOptions{Mode: "capped", RuntimeMaxMiB: 64, SystemMaxMiB: 256}}
	c["tmp-tmpfs"] = Settings{Enabled: &on, Options: &TmpTmpfsOptions{SizePercent: 50, MaxMiB: 1024}}
	if got := reserveString(Reserved(pi, c)); got != "tmpfs /tmp=1g" {
		t.Errorf("capped journal, /tmp at 1 GiB: %q", got)
	}
	c = Choices{"tmp-tmpfs": {Enabled: &off}, "journald": {Enabled: &off}}
	if got := reserveString(Reserved(pi, c)); got != "" {
		t.Errorf("both off: %q", got)
	}
	// Standing down (an fstab line mounts /tmp), with the drop-in an
	// earlier apply left to remove: no tmpfs is made, none is kept.
	root := fixture.Copy(t, "pi4-8gb-bullseye")
	fstab := filepath.Join(root, "etc/fstab")
	old, err := os.ReadFile(fstab)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fstab, append(old, "/dev/sda1 //tmp/ ext4 defaults 0 2\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	dropIn := filepath.Join(root, TmpMountDropIn)
	if err := os.MkdirAll(filepath.Dir(dropIn), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dropIn, []byte("[Mount]\nOptions=size=25%\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := hostroot.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	down, err := platform.Detect(h, Observations())
	if err != nil {
		t.Fatal(err)
	}
	c = Choices{"tmp-tmpfs": {Enabled: &on}, "journald": {Enabled: &off}}
	if in := mustTask(t, "tmp-tmpfs").Plan(down, c.Options(mustTask(t, "tmp-tmpfs")), c); in.Skip != "" || len(in.Wants) == 0 {
		t.Fatalf("tmp-tmpfs under an fstab /tmp with its old drop-in: %+v, want it removed", in)
	}
	if got := reserveString(Reserved(down, c)); got != "" {
		t.Errorf("tmp-tmpfs standing down: %q kept", got)
	}
}

func mustTask(t *testing.T, name string) Task {
	t.Helper()
	tk, ok := ByName(name)
	if !ok {
		t.Fatalf("no task %s", name)
	}
	return tk
}

// Allocate: the budget is RAM less what is kept less 10 % for the OS, the
// general container's limit stops there, and each line is in BudgetWhy.
func TestAllocateBudget(t *testing.T) {
	t.Parallel()
	amd := fixtureFacts(t, "amd64-intel-32gb-2nvme")
	a, err := Allocate(amd, nil, alloc.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 32775564 kB / 100 × 90 − 2 GiB, floored to a MiB.
	if a.Budget != 26758*alloc.MiB || a.Containers[0].Memory != 26758*alloc.MiB {
		t.Errorf("amd64 32 GB with 2 GiB huge pages: budget %s, general %s", a.Budget, a.Containers[0].Memory)
	}
	want := []string{
		"31.3 GiB RAM (MemTotal, /proc/meminfo)",
		"− 2 GiB huge pages: the hugepages task plans vm.nr_hugepages=1024 × 2 MiB; HugePages_Total 0 × 2 MiB now (/proc/meminfo)",
		"− 3.1 GiB for the OS: 10 % of RAM (the guide's least headroom)",
		"= 26758m for the containers' limits",
	}
	if strings.Join(a.BudgetWhy, "\n") != strings.Join(want, "\n") {
		t.Errorf("budget lines:\n%s\nwant:\n%s", strings.Join(a.BudgetWhy, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(strings.Join(a.Containers[0].Why, "\n"), "limit cut to the budget, 26758m: 31.3 GiB RAM less 2 GiB huge pages less 10 % for the OS") {
		t.Errorf("general's why: %q", a.Containers[0].Why)
	}
	// --ram sizes the tasks' shares from the RAM given, not the root's.
	on, off := true, false
	pi := fixtureFacts(t, "pi4-8gb-bullseye")
	a, err = Allocate(pi, Choices{"tmp-tmpfs": {Enabled: &on}, "journald": {Enabled: &off}}, alloc.Options{RAM: 4 * alloc.GiB}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if reserveString(a.Reserved) != "tmpfs /tmp=1g" || a.Budget != 4*alloc.GiB/100*90/alloc.MiB*alloc.MiB-alloc.GiB {
		t.Errorf("--ram 4g with a tmpfs /tmp: %q, budget %s", reserveString(a.Reserved), a.Budget)
	}
}

// container-resources plans the same budget and scaling: on a Pi 4 8 GB
// with its SD-card defaults (a tmpfs /tmp, a volatile journal) llm+stt's
// 6g is scaled into 5012m, in the drop-ins written and a warning; its
// floor_percent refuses what scales below it.
func TestContainerResourcesScaled(t *testing.T) {
	t.Parallel()
	pi := fixtureFacts(t, "pi4-8gb-bullseye")
	in := plan(t, "container-resources", pi, &ContainerResourcesOptions{Containers: []string{"llm=chat", "stt=ears"}, Form: "quadlet", FloorPercent: 50})
	if in.Skip != "" || len(in.Wants) < 2 {
		t.Fatalf("llm+stt on pi4: %+v", in)
	}
	body := map[string]string{}
	for _, w := range in.Wants {
		body[w.Resource.Name()] = string(w.Desired.Data)
	}
	for name, want := range map[string]string{"chat": "--memory=3341m --memory-reservation=2004m", "ears": "--memory=1670m --memory-reservation=1001m"} {
		if b := body["/etc/containers/systemd/"+name+".container.d/90-ezedge-host.conf"]; !strings.Contains(b, "PodmanArgs="+want+" ") {
			t.Errorf("%s's drop-in lacks %q:\n%s", name, want, b)
		}
	}
	if !strings.Contains(strings.Join(in.Warnings, "\n"), "more than this host's 5012m: 7.6 GiB RAM less 1.9 GiB tmpfs /tmp less 64 MiB volatile journal less 10 % for the OS; every container is scaled by 81.5 % to fit") {
		t.Errorf("no scaling warning: %q", in.Warnings)
	}
	in = plan(t, "container-resources", pi, &ContainerResourcesOptions{Containers: []string{"llm=chat", "stt=ears"}, Form: "quadlet", FloorPercent: 90})
	if !strings.Contains(in.Skip, "chat would get 3341m, below its floor of 3686m (90 % of 4g)") {
		t.Errorf("floor 90 %%: %q", in.Skip)
	}
}

func TestPercentOf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		n    uint64
		pct  int
		want uint64
	}{{8188596224, 25, 2047149056}, {199, 50, 99}, {math.MaxUint64, 50, math.MaxUint64 / 2}, {math.MaxUint64, 25, math.MaxUint64 / 4}} {
		if got := percentOf(c.n, c.pct); got != c.want {
			t.Errorf("percentOf(%d, %d) = %d, want %d", c.n, c.pct, got, c.want)
		}
	}
}

// container-resources writes the profile's placement: the guide's
// defaults (host networking for the AI workloads, memlock for the LLM),
// a cpuset partition when asked; the compose form warns of what it leaves
// out; a device the root has not is skipped with its key; the profile's
// rules refuse a bad entry with its key and index.
func TestContainerResourcesPlacement(t *testing.T) {
	t.Parallel()
	pi := fixtureFacts(t, "pi5-8gb-trixie-zram")
	o := ContainerResourcesOptions{Containers: []string{"llm=chat", "stt=ears"}, Form: "quadlet", FloorPercent: 50,
		HostNetwork: slices.Clone(alloc.DefaultHostNetwork), Memlock: slices.Clone(alloc.DefaultMemlock), Devices: []string{}, CPUSet: true}
	in := plan(t, "container-resources", pi, &o)
	body := map[string]string{}
	for _, w := range in.Wants {
		body[w.Resource.Name()] = string(w.Desired.Data)
	}
	for name, want := range map[string][]string{
		"chat": {" --cpus=2 --cpuset-cpus=0-1\n", "\nNetwork=host\n", "\nUlimit=memlock=-1:-1\n", "\nEnvironment=NUM_THREADS=2\n"},
		"ears": {" --cpus=2 --cpuset-cpus=2-3\n", "\nNetwork=host\n", "\nEnvironment=WORKERS=2\n"},
	} {
		b := body["/etc/containers/systemd/"+name+".container.d/90-ezedge-host.conf"]
		for _, w := range want {
			if !strings.Contains(b, w) {
				t.Errorf("%s's drop-in lacks %q:\n%s", name, w, b)
			}
		}
		if name == "ears" && strings.Contains(b, "Ulimit") {
			t.Errorf("ears has a memlock:\n%s", b)
		}
	}
	o.Form = "compose"
	in = plan(t, "container-resources", pi, &o)
	if w := strings.Join(in.Warnings, "\n"); !strings.Contains(w, "the compose form leaves out chat's host networking, chat's cpuset, ears's host networking, ears's cpuset") {
		t.Errorf("compose warnings: %q", in.Warnings)
	}
	o.Devices = []string{"/dev/hailo0"}
	// Refused, naming the key: a skip would drop the memory limits too.
	if in = plan(t, "container-resources", pi, &o); in.Skip != "" || in.RefuseFile != "tasks.container-resources.devices[0]" || !strings.Contains(in.Refuse, `"/dev/hailo0": this root has no character device there`) {
		t.Errorf("device missing: skip %q, refused %q: %q", in.Skip, in.RefuseFile, in.Refuse)
	}
	tk, _ := ByName("container-resources")
	bad := ContainerResourcesOptions{Containers: []string{"llm"}, Form: "quadlet", FloorPercent: 50, HostNetwork: []string{"llm", "Bad Name"}, Memlock: []string{}, Devices: []string{"/dev/ok", "/dev/x:/dev/y"}}
	var got []string
	for _, p := range tk.Check(&bad) {
		got = append(got, p.Field)
	}
	if !slices.Equal(got, []string{"host_network[1]", "devices[1]"}) {
		t.Errorf("problems: %q", got)
	}
}
