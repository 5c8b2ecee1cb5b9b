package alloc

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/platform"
)

// host is a live host of kind k with MemTotal mem and cores CPUs, its
// memory and cpu controllers available.
func host(k platform.Kind, mem Bytes, cores int) *platform.Facts {
	f := &platform.Facts{Platform: k, MemTotal: uint64(mem), Cores: cores, Runtime: true}
	f.Kernel.CgroupControllers = []string{"cpuset", "cpu", "io", "memory", "pids"}
	return f
}

// The guide's memory table, row by row, on hosts as the kernel reports
// them (MemTotal below the module size) and at the exact size.
func TestMemoryTableRows(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name         string
		k            platform.Kind
		mem          Bytes
		limit, reser Bytes
	}{
		{"Pi 4 8 GB", platform.RPi4, 7997184 << 10, 5 * GiB, 3 * GiB},
		{"Pi 4 8 GB exact", platform.RPi4, 8 * GiB, 5 * GiB, 3 * GiB},
		{"Pi 5 16 GB", platform.RPi5, 16608528 << 10, 12 * GiB, 8 * GiB},
		{"amd64 24 GB", platform.AMD64, 24*GiB - 600*MiB, 18 * GiB, 12 * GiB},
		{"amd64 32 GB", platform.AMD64, 32775564 << 10, 28 * GiB, 20 * GiB},
	} {
		a, err := Compute(host(c.k, c.mem, 4), Options{}, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		g := a.Containers[0]
		if g.Workload != General || g.Memory != c.limit || g.Reservation != c.reser {
			t.Errorf("%s: general gets %s / %s, want %s / %s (row %q)", c.name, g.Memory, g.Reservation, c.limit, c.reser, a.Row)
		}
	}
}

// Between and beyond the rows: the nearest row at or below takes its
// percentages to the host's size; below the smallest, the smallest's.
func TestMemoryDerived(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name         string
		k            platform.Kind
		mem          Bytes
		row          string
		limit, reser Bytes
	}{
		// 62.5 % / 37.5 % of 4 GiB.
		{"Pi 4 4 GB", platform.RPi4, 3884 * MiB, "Pi 4 8 GB", 2560 * MiB, 1536 * MiB},
		{"Pi 5 8 GB", platform.RPi5, 8245168 << 10, "Pi 4 8 GB", 5 * GiB, 3 * GiB},
		// 75 % / 50 % of 16 GiB (the amd64 24 GB row's rates).
		{"amd64 16 GB", platform.AMD64, 16303340 << 10, "amd64 24 GB", 12 * GiB, 8 * GiB},
		// 87.5 % / 62.5 % of 64 GiB.
		{"amd64 64 GB", platform.AMD64, 63 * GiB, "amd64 32 GB+", 56 * GiB, 40 * GiB},
		// 48 GiB is a module size: the 32 GB+ row's rates.
		{"amd64 48 GB", platform.AMD64, 47 * GiB, "amd64 32 GB+", 42 * GiB, 30 * GiB},
		// A VM given 20 GiB is 20 GiB, not a 24 GiB module: 75 % / 50 %
		// of what it has.
		{"amd64 VM 20 GiB", platform.AMD64, 20 * GiB, "amd64 24 GB", 15 * GiB, 10 * GiB},
		{"arm64 server 32 GB", platform.ARM64, 31*GiB + 512*MiB, "amd64 32 GB+", 28 * GiB, 20 * GiB},
		// A 32 GB host whose kernel keeps more: the limit stops at RAM
		// less 10 %.
		{"amd64 32 GB, 31 GiB seen", platform.AMD64, 31 * GiB, "amd64 32 GB+", 28569 * MiB, 20 * GiB},
	} {
		a, err := Compute(host(c.k, c.mem, 4), Options{}, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		g := a.Containers[0]
		if a.Row != c.row || g.Memory != c.limit || g.Reservation != c.reser {
			t.Errorf("%s: row %q, %s / %s; want row %q, %s / %s", c.name, a.Row, g.Memory, g.Reservation, c.row, c.limit, c.reser)
		}
		if g.Memory > a.Budget {
			t.Errorf("%s: limit %s over the budget %s", c.name, g.Memory, a.Budget)
		}
	}
}

func TestPhysical(t *testing.T) {
	t.Parallel()
	for mem, want := range map[Bytes]Bytes{
		7997184 << 10:  8 * GiB,
		16303340 << 10: 16 * GiB,
		32775564 << 10: 32 * GiB,
		23 * GiB:       24 * GiB,
		20 * GiB:       20 * GiB,
		5 * GiB:        5 * GiB, // neither 4 nor 6 GiB within 10 %
		6 * GiB:        6 * GiB,
		950 * MiB:      GiB,
		900 * MiB:      900 * MiB,
	} {
		if got := Physical(mem); got != want {
			t.Errorf("Physical(%s) = %s, want %s", mem, got, want)
		}
	}
}

// The guide's CPU table, row by row, and the rules around it.
func TestCPUTable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		class Class
		cores int
		want  int
	}{
		{Pi, 4, 4}, {AMD64, 6, 6}, {AMD64, 8, 6}, {AMD64, 12, 12}, {AMD64, 16, 12},
		// Around the rows: 75 %, at least one, never more than present.
		{AMD64, 1, 1}, {AMD64, 2, 1}, {AMD64, 4, 3}, {AMD64, 10, 7}, {AMD64, 32, 24},
		{Pi, 2, 2}, {Pi, 1, 1},
	} {
		got, why := GeneralCPUs(c.class, c.cores)
		if got != c.want || why == "" {
			t.Errorf("%s with %d cores: %d CPUs (%q), want %d", c.class, c.cores, got, why, c.want)
		}
	}
}

// The guide's workload table, cell by cell.
func TestWorkloadTable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		k    platform.Kind
		mem  Bytes
		w    Workload
		mb   Bytes
		cpus int
		env  string
	}{
		{platform.RPi5, 16 * GiB, LLM, 4 * GiB, 4, "NUM_THREADS=4 MAX_CONCURRENT_REQUESTS=2"},
		{platform.AMD64, 32 * GiB, LLM, 20 * GiB, 8, "NUM_THREADS=8 MAX_CONCURRENT_REQUESTS=5"},
		{platform.RPi5, 16 * GiB, STT, 2 * GiB, 4, "WORKERS=2 BATCH_SIZE=1"},
		{platform.AMD64, 32 * GiB, STT, 8 * GiB, 6, "WORKERS=4 BATCH_SIZE=4"},
		{platform.RPi5, 16 * GiB, Vision, 3 * GiB, 4, "INFERENCE_THREADS=4 IMAGE_CACHE_SIZE=100"},
		{platform.AMD64, 32 * GiB, Vision, 12 * GiB, 8, "INFERENCE_THREADS=8 IMAGE_CACHE_SIZE=500"},
	} {
		cores := 4
		if c.k == platform.AMD64 {
			cores = 16
		}
		a, err := Compute(host(c.k, c.mem, cores), Options{}, []Request{{Name: "x", Workload: c.w}})
		if err != nil {
			t.Fatalf("%s on %s: %v", c.w, c.k, err)
		}
		got := a.Containers[0]
		if got.Memory != c.mb || got.CPUs != c.cpus || envString(got.Env) != c.env || got.Reservation >= got.Memory || got.Reservation == 0 {
			t.Errorf("%s on %s: %s (reserved %s), %d CPUs, %q; want %s, %d, %q", c.w, c.k, got.Memory, got.Reservation, got.CPUs, envString(got.Env), c.mb, c.cpus, c.env)
		}
	}
}

func envString(env []Env) string {
	var s []string
	for _, e := range env {
		s = append(s, e.Name+"="+e.Value)
	}
	return strings.Join(s, " ")
}

// CPUs are clamped to the cores present, and the thread counts with them.
func TestClampToCores(t *testing.T) {
	t.Parallel()
	a, err := Compute(host(platform.AMD64, 32*GiB, 6), Options{Strict: true}, []Request{{"chat", LLM}, {"eyes", Vision}, {"ears", STT}})
	if err == nil {
		t.Fatalf("llm+vision+stt (40g) fit a 32 GiB host: %+v", a)
	}
	a, err = Compute(host(platform.AMD64, 32*GiB, 6), Options{}, []Request{{"chat", LLM}, {"ears", STT}})
	if err != nil {
		t.Fatal(err)
	}
	if c := a.Containers[0]; c.CPUs != 6 || envString(c.Env) != "NUM_THREADS=6 MAX_CONCURRENT_REQUESTS=5" {
		t.Errorf("llm on 6 cores: %d CPUs, %s", c.CPUs, envString(c.Env))
	}
	if c := a.Containers[1]; c.CPUs != 6 || envString(c.Env) != "WORKERS=4 BATCH_SIZE=4" {
		t.Errorf("stt on 6 cores: %d CPUs, %s", c.CPUs, envString(c.Env))
	}
}

// With --strict, a mix over the host's RAM less 10 % is refused, with
// the sums.
func TestRefusedWithSums(t *testing.T) {
	t.Parallel()
	_, err := Compute(host(platform.AMD64, 16303340<<10, 6), Options{Strict: true}, []Request{{"chat", LLM}})
	if err == nil || !strings.Contains(err.Error(), "20g (chat 20g)") || !strings.Contains(err.Error(), "15.5 GiB RAM less 10 % for the OS (--strict: not scaled)") {
		t.Errorf("llm (20g) on 16 GB amd64: %v", err)
	}
	_, err = Compute(host(platform.RPi4, 7997184<<10, 4), Options{Strict: true}, []Request{{"chat", LLM}, {"ears", STT}, {"eyes", Vision}})
	if err == nil || !strings.Contains(err.Error(), "9g (chat 4g + ears 2g + eyes 3g)") {
		t.Errorf("llm+stt+vision on a Pi 4 8 GB: %v", err)
	}
	// Over the guide's own total but under the hard line: a warning.
	a, err := Compute(host(platform.RPi4, 7997184<<10, 4), Options{}, []Request{{"chat", LLM}, {"ears", STT}})
	if err != nil || len(a.Warnings) != 2 || !strings.Contains(a.Warnings[1], "more than the 5g the guide gives") {
		t.Errorf("llm+stt on a Pi 4 8 GB: %v %q", err, a.Warnings)
	}
	if _, err := Compute(host(platform.RPi4, 0, 4), Options{}, nil); err == nil || !strings.Contains(err.Error(), "--ram") {
		t.Errorf("no RAM: %v", err)
	}
	if a, err := Compute(host(platform.RPi4, 0, 4), Options{RAM: 8 * GiB}, nil); err != nil || a.Containers[0].Memory != 5*GiB {
		t.Errorf("--ram 8g: %v", err)
	}
	if _, err := Compute(host(platform.RPi4, 8*GiB, 4), Options{}, []Request{{"a", LLM}, {"a", STT}}); err == nil {
		t.Errorf("a name given twice is accepted")
	}
}

// The rules hold for any host and mix: limits within the budget, CPUs
// within the cores, reservations below limits, and a refusal otherwise.
func TestInvariants(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	kinds := []platform.Kind{platform.RPi4, platform.RPi5, platform.AMD64, platform.ARM64}
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for range n {
		mem := Bytes(r.Uint64N(uint64(256*GiB))) + 256*MiB
		cores := 1 + r.IntN(128)
		var reqs []Request
		for i := range r.IntN(4) {
			reqs = append(reqs, Request{Name: string(rune('a' + i)), Workload: Workloads[r.IntN(len(Workloads))]})
		}
		f := host(kinds[r.IntN(len(kinds))], mem, cores)
		f.PhysicalCores = 1 + r.IntN(cores)
		a, err := Compute(f, Options{}, reqs)
		if err != nil {
			if !strings.Contains(err.Error(), "more than this host's") {
				t.Fatalf("mem %d cores %d %v: %v", mem, cores, reqs, err)
			}
			continue
		}
		var sum Bytes
		for _, c := range a.Containers {
			sum += c.Memory
			if c.CPUs < 1 || c.CPUs > f.PhysicalCores || c.Reservation > c.Memory || c.Memory == 0 || c.Memory%MiB != 0 || c.Reservation%MiB != 0 {
				t.Fatalf("mem %d cores %d/%d: %+v", mem, f.PhysicalCores, cores, c)
			}
			for _, e := range c.Env {
				if n, _ := strconv.Atoi(e.Value); slices.Contains(ThreadVars, e.Name) && (n < 1 || n > f.PhysicalCores) {
					t.Fatalf("%d physical cores: %s=%s", f.PhysicalCores, e.Name, e.Value)
				}
			}
		}
		if sum != a.SumLimit || sum > a.Budget || a.Budget > mem {
			t.Fatalf("mem %d: sum %s, budget %s", mem, sum, a.Budget)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Request{"llm": {"llm", LLM}, "stt=ears": {"ears", STT}, "general=box-1.a_b": {"box-1.a_b", General}} {
		if got, err := ParseRequest(in); err != nil || got != want {
			t.Errorf("ParseRequest(%q) = %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "gpu", "llm=", "llm=../x", "llm=A", "llm=a b", "llm=.x", "llm=" + strings.Repeat("x", 64), "llm=x\n"} {
		if _, err := ParseRequest(bad); err == nil {
			t.Errorf("ParseRequest(%q) accepted", bad)
		}
	}
	for in, want := range map[string]Bytes{"8g": 8 * GiB, "8G": 8 * GiB, "8GiB": 8 * GiB, "8 GB": 8 * GiB, "512m": 512 * MiB, "1024": 1024, "1t": 1 << 40} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "0", "-1g", "1.5g", "g", "8x", "99999999999t"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted", bad)
		}
	}
}

func TestQuadletSupport(t *testing.T) {
	t.Parallel()
	for v, want := range map[string][2]bool{
		"":                      {true, false},
		"4.3.1+ds1-8+deb12u1":   {false, false},
		"4.4.0-1":               {false, false},
		"4.9.4+ds1-1":           {false, false},
		"5.0.0-1":               {true, false},
		"5.4.2+ds1-2":           {true, false},
		"5.5.0-1":               {true, true},
		"1:5.10.1-1":            {true, true},
		"6.0.1-1":               {true, true},
		"garbage":               {true, false},
		"5.4.2+ds1-2\nVersion:": {true, false},
	} {
		d, m, why := ParsePodman(v).QuadletSupport()
		if d != want[0] || m != want[1] || why == "" {
			t.Errorf("%q: drop-ins %v memory %v (%s)", v, d, m, why)
		}
	}
}

// The budget subtracts each reserve and the OS's 10 %, line by line; a
// host that keeps it all refuses with the lines.
func TestBudgetReserves(t *testing.T) {
	t.Parallel()
	o := Options{Reserved: []Reserve{{"huge pages", 2 * GiB, "planned"}, {"tmpfs /tmp", 512 * MiB, "cap"}}}
	a, err := Compute(host(platform.AMD64, 16*GiB, 8), o, []Request{{"x", STT}})
	if err != nil {
		t.Fatal(err)
	}
	// 16 GiB / 100 × 90 − 2.5 GiB, floored to a MiB.
	if a.Budget != 12185*MiB || a.Headroom != 16*GiB-16*GiB/100*90 || len(a.BudgetWhy) != 5 || a.BudgetWhy[1] != "− 2 GiB huge pages: planned" || a.BudgetWhy[4] != "= 12185m for the containers' limits" {
		t.Errorf("budget %s headroom %d: %q", a.Budget, a.Headroom, a.BudgetWhy)
	}
	o.Reserved[0].Size = 15 * GiB
	if _, err := Compute(host(platform.AMD64, 16*GiB, 8), o, nil); err == nil || !strings.Contains(err.Error(), "no memory is left for containers: 16 GiB RAM") {
		t.Errorf("all RAM kept: %v", err)
	}
}

// CPUs and threads are sized from physical cores: the rows as written,
// never above the physical cores, thread counts with them, and a mix
// whose CPUs or threads sum over them is warned of.
func TestPhysicalCoresSizing(t *testing.T) {
	t.Parallel()
	smt := func(k platform.Kind, mem Bytes, logical, physical int) *platform.Facts {
		f := host(k, mem, logical)
		f.PhysicalCores = physical
		return f
	}
	// 6 cores, 12 threads: the 6–8 row, not the 12–16 one.
	a, err := Compute(smt(platform.AMD64, 32*GiB, 12, 6), Options{}, nil)
	if err != nil || a.Containers[0].CPUs != 6 || a.PhysicalCores != 6 || a.Cores != 12 || !strings.Contains(a.Containers[0].Why[len(a.Containers[0].Why)-1], "6–8 cores → 6") {
		t.Fatalf("general on 6c/12t: %v %+v", err, a)
	}
	a, err = Compute(smt(platform.AMD64, 32*GiB, 12, 6), Options{}, []Request{{"chat", LLM}})
	if err != nil {
		t.Fatal(err)
	}
	c := a.Containers[0]
	if c.CPUs != 6 || envString(c.Env) != "NUM_THREADS=6 MAX_CONCURRENT_REQUESTS=5" || !strings.Contains(strings.Join(c.Why, "\n"), "CPUs clamped to the 6 physical cores (12 logical CPUs)") || len(a.Warnings) != 0 {
		t.Errorf("llm on 6c/12t: %d CPUs, %s, %q, warnings %q", c.CPUs, envString(c.Env), c.Why, a.Warnings)
	}
	// WORKERS is a thread count too: 4 → 2 on two cores.
	a, err = Compute(smt(platform.AMD64, 16*GiB, 4, 2), Options{}, []Request{{"ears", STT}})
	if err != nil {
		t.Fatal(err)
	}
	if c := a.Containers[0]; c.CPUs != 2 || envString(c.Env) != "WORKERS=2 BATCH_SIZE=4" || !strings.Contains(strings.Join(c.Why, "\n"), "WORKERS 4 → 2: never more threads than the 2 physical cores (4 logical CPUs)") {
		t.Errorf("stt on 2c/4t: %d CPUs, %s, %q", c.CPUs, envString(c.Env), c.Why)
	}
	// Overcommit: a Pi 5 16 GB with all three, amd64 with llm+stt.
	a, err = Compute(host(platform.RPi5, 16*GiB, 4), Options{}, []Request{{"chat", LLM}, {"ears", STT}, {"eyes", Vision}})
	if err != nil || len(a.Warnings) != 1 || !strings.HasPrefix(a.Warnings[0], "CPUs sum to 12 (chat 4 + ears 4 + eyes 4) and threads to 10 on 4 physical cores: the containers overcommit") {
		t.Errorf("pi5 all three: %v %q", err, a.Warnings)
	}
	a, err = Compute(host(platform.AMD64, 32*GiB, 8), Options{}, []Request{{"chat", LLM}, {"ears", STT}})
	if err != nil || len(a.Warnings) != 1 || !strings.HasPrefix(a.Warnings[0], "CPUs sum to 14 (chat 8 + ears 6) and threads to 12 on 8 physical cores") {
		t.Errorf("amd64 llm+stt: %v %q", err, a.Warnings)
	}
	// Within the cores: no warning.
	a, err = Compute(host(platform.AMD64, 32*GiB, 16), Options{}, []Request{{"chat", LLM}, {"ears", STT}})
	if err != nil || len(a.Warnings) != 0 {
		t.Errorf("amd64 llm+stt on 16 cores: %v %q", err, a.Warnings)
	}
}

// Over the budget, every container is scaled by one factor down to it,
// said in each Why and a warning; below the floor it is refused.
func TestScaledToBudget(t *testing.T) {
	t.Parallel()
	// Pi 5 8 GB, all three: 9g into 7246m (7.9 GiB less 10 %).
	a, err := Compute(host(platform.RPi5, 8245168<<10, 4), Options{}, []Request{{"chat", LLM}, {"ears", STT}, {"eyes", Vision}})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, c := range a.Containers {
		got = append(got, fmt.Sprintf("%s %s/%s", c.Name, c.Memory, c.Reservation))
	}
	// 7246/9216 of each, floored to a MiB: 4096 → 3220, 2048 → 1610,
	// 3072 → 2415; reservations 2457 → 1931, 1228 → 965, 1843 → 1449.
	if want := "chat 3220m/1931m ears 1610m/965m eyes 2415m/1449m"; strings.Join(got, " ") != want || !a.Scaled || a.SumLimit != 7245*MiB || a.SumLimit > a.Budget {
		t.Errorf("pi5 8 GB all three: %s (sum %s, budget %s), want %s", strings.Join(got, " "), a.SumLimit, a.Budget, want)
	}
	if w := a.Containers[0].Why[len(a.Containers[0].Why)-1]; w != "scaled by 78.6 % to fit the budget: limit 4g → 3220m, reservation 2457m → 1931m (the mix's 9g over 7246m)" {
		t.Errorf("chat's why: %q", w)
	}
	if !slices.ContainsFunc(a.Warnings, func(w string) bool {
		return strings.HasPrefix(w, "memory limits sum to 9g (chat 4g + ears 2g + eyes 3g), more than this host's 7246m: 7.9 GiB RAM less 10 % for the OS; every container is scaled by 78.6 % to fit")
	}) {
		t.Errorf("no scaling warning: %q", a.Warnings)
	}
	// amd64 16 GB, one LLM: 20g into 14329m.
	a, err = Compute(host(platform.AMD64, 16303340<<10, 6), Options{}, []Request{{"chat", LLM}})
	if err != nil || a.Containers[0].Memory != 14329*MiB || a.Containers[0].Reservation != 9552*MiB {
		t.Errorf("amd64 16 GB llm: %v %+v", err, a)
	}
	// Pi 4 4 GB, all three: 9g into 3495m is 37.9 %, below the 50 %
	// floor: refused, naming the first container below it.
	_, err = Compute(host(platform.RPi4, 3884*MiB, 4), Options{}, []Request{{"chat", LLM}, {"ears", STT}, {"eyes", Vision}})
	if err == nil || !strings.HasSuffix(err.Error(), "; scaled to fit, chat would get 1553m, below its floor of 2g (50 % of 4g)") {
		t.Errorf("pi4 4 GB all three: %v", err)
	}
	// The profile's floor lets it through.
	a, err = Compute(host(platform.RPi4, 3884*MiB, 4), Options{FloorPercent: 30}, []Request{{"chat", LLM}, {"ears", STT}, {"eyes", Vision}})
	if err != nil || a.Containers[0].Memory != 1553*MiB || a.SumLimit > a.Budget {
		t.Errorf("pi4 4 GB all three, floor 30 %%: %v %+v", err, a)
	}
	// Within the budget nothing is scaled.
	a, err = Compute(host(platform.RPi5, 16*GiB, 4), Options{}, []Request{{"chat", LLM}})
	if err != nil || a.Scaled || a.Containers[0].Memory != 4*GiB {
		t.Errorf("pi5 16 GB llm: %v %+v", err, a)
	}
}
