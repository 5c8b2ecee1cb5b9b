package measure

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident counts the pages of file held in the page cache (mincore).
func resident(t *testing.T, file string) int {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	m, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, (len(m)+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// uncachedFile is a file of size bytes on disk, none of it in the page
// cache; it skips where the temp directory's filesystem takes no direct
// I/O (tmpfs before Linux 6.6).
func uncachedFile(t *testing.T, size int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dev")
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i * 7)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(b)
	f.Sync()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECT, 0); errors.Is(err, unix.EINVAL) {
		t.Skipf("%s takes no direct I/O", filepath.Dir(p))
	} else if err == nil {
		unix.Close(fd)
	}
	if n := resident(t, p); n != 0 {
		t.Fatalf("%d pages still cached after fsync + FADV_DONTNEED", n)
	}
	return p
}

// The device read bypasses the page cache: after ReadDevice has read the
// whole file several times, none of it is cached; a buffered read of the
// same file caches it (so the probe can tell).
func TestReadDeviceBypassesPageCache(t *testing.T) {
	t.Parallel()
	p := uncachedFile(t, 8<<20)
	f := ReadDevice(p, NewDeadline(600*time.Millisecond), true)
	if f.Error != "" || len(f.Runs) != Runs || f.Median <= 0 || f.Min > f.Median || f.Max < f.Median {
		t.Fatalf("figure %+v", f)
	}
	if n := resident(t, p); n != 0 {
		t.Fatalf("ReadDevice left %d pages of the file in the page cache", n)
	}
	if _, err := os.ReadFile(p); err != nil {
		t.Fatal(err)
	}
	if resident(t, p) == 0 {
		t.Fatal("a buffered read cached nothing: mincore cannot tell here")
	}
}

// Only a block device is read (a regular file only when a test says so),
// and nothing is written to it.
func TestReadDeviceRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, make([]byte, 4<<20), 0o644)
	fifo := filepath.Join(dir, "fifo")
	unix.Mkfifo(fifo, 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(file, link)
	for _, c := range []struct{ path, err string }{
		{file, "is not a block device"},
		{fifo, "not a block device"},
		{link, "is not a block device"},
		{dir, "not a block device"},
		{filepath.Join(dir, "absent"), "no such file"},
	} {
		f := ReadDevice(c.path, NewDeadline(100*time.Millisecond), false)
		if !strings.Contains(f.Error, c.err) || len(f.Runs) != 0 {
			t.Errorf("%s: %+v, want error %q", c.path, f, c.err)
		}
	}
	before, _ := os.ReadFile(file)
	ReadDevice(file, NewDeadline(100*time.Millisecond), true)
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Fatal("the file changed")
	}
}

// SyncWrite leaves nothing behind, removes what a crashed run left, and
// never follows a planted link.
func TestSyncWriteCleansUp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "keep"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, TempPrefix+"0123456789abcdef"), []byte("crash"), 0o600)
	f := SyncWrite(dir, NewDeadline(300*time.Millisecond))
	if f.Error != "" || len(f.Runs) != Runs || !f.Lower || f.Median <= 0 {
		t.Fatalf("figure %+v", f)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "keep" {
		t.Fatalf("left in the directory: %v", ents)
	}
	if f := SyncWrite(filepath.Join(dir, "absent"), NewDeadline(100*time.Millisecond)); !strings.Contains(f.Error, "no such file") {
		t.Fatalf("absent directory: %+v", f)
	}
}

// The CPU's clock and temperature come from cpufreq and the thermal zones.
func TestCPUClockAndTemperature(t *testing.T) {
	t.Parallel()
	sys := t.TempDir()
	for i, khz := range []string{"1500000", "1800000"} {
		d := filepath.Join(sys, fmt.Sprintf("devices/system/cpu/cpu%d/cpufreq", i))
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "scaling_cur_freq"), []byte(khz+"\n"), 0o644)
	}
	for i, m := range []string{"45000", "51500"} {
		d := filepath.Join(sys, fmt.Sprintf("class/thermal/thermal_zone%d", i))
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "temp"), []byte(m+"\n"), 0o644)
	}
	// A window wide enough that a loaded machine (CI runs suites side by
	// side) still gives each of the Runs its share: with 300 ms one was
	// seen squeezed out.
	f := CPU(false, sys, NewDeadline(1500*time.Millisecond))
	if f.Error != "" || len(f.Runs) != Runs || f.Kind != CPUSingle {
		t.Fatalf("figure %+v", f)
	}
	if f.Clock == nil || *f.Clock != (Span{1500, 1800}) || f.Celsius == nil || *f.Celsius != (Span{51.5, 51.5}) {
		t.Fatalf("clock %+v, celsius %+v", f.Clock, f.Celsius)
	}
	// No cpufreq (a VM): no clock, said by its absence.
	if f := CPU(true, t.TempDir(), NewDeadline(200*time.Millisecond)); f.Clock != nil || f.Celsius != nil || f.Kind != CPUAll || len(f.Runs) == 0 {
		t.Fatalf("figure %+v", f)
	}
}

// A capability stand-in on a loopback port, bounded in requests and time:
// measured alone and at 10 at once, judged against the guide's range.
func TestGetLatency(t *testing.T) {
	t.Parallel()
	var served, inFlight, most atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) > 200 {
			http.Error(w, "too many", http.StatusServiceUnavailable)
			return
		}
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		fmt.Fprintln(w, "ok")
	}))
	defer srv.Close()
	e, err := ParseEndpoint(srv.URL + "/health")
	if err != nil || e.Class != Health {
		t.Fatal(e, err)
	}
	start := time.Now()
	alone, loaded := GetLatency(e, NewDeadline(3*time.Second))
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("took %s of a 3 s budget", el)
	}
	for _, f := range []Figure{alone, loaded} {
		if f.Error != "" || len(f.Runs) != Runs || f.Min < 20 || !f.Lower {
			t.Fatalf("figure %+v", f)
		}
	}
	if most.Load() != Concurrency {
		t.Fatalf("at most %d requests at once, want %d", most.Load(), Concurrency)
	}
	if n := served.Load(); n > 2*Runs*Concurrency {
		t.Fatalf("%d requests, more than %d", n, 2*Runs*Concurrency)
	}
	alone.Judge(Expected("amd64", Health))
	if alone.Expected == nil || *alone.Expected != (Span{10, 50}) || alone.Verdict != "within the guide's range" {
		t.Fatalf("judged %+v %q", alone.Expected, alone.Verdict)
	}
	alone.Judge(Expected("pi", Health))
	if alone.Verdict != "faster than the guide's range" {
		t.Fatalf("judged %q", alone.Verdict)
	}
	// A failing capability is an error, not a figure.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", 500) }))
	defer bad.Close()
	if a, l := GetLatency(Endpoint{Health, bad.URL}, NewDeadline(time.Second)); !strings.Contains(a.Error, "500") || l.Error == "" || len(a.Runs) != 0 {
		t.Fatalf("%+v %+v", a, l)
	}
}

func TestParseEndpoint(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Endpoint{
		"http://127.0.0.1:8080/health": {Health, "http://127.0.0.1:8080/health"},
		"simple=http://h/infer?x=1":    {Simple, "http://h/infer?x=1"},
		"complex=https://h:1/a=b":      {Complex, "https://h:1/a=b"},
		"http://h/q?a=b":               {Health, "http://h/q?a=b"},
		"health=http://[::1]:9/ready":  {Health, "http://[::1]:9/ready"},
	} {
		if got, err := ParseEndpoint(in); err != nil || got != want {
			t.Errorf("%q: %+v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "h:80", "ftp://h/", "fast=http://h/", "http://", "simple="} {
		if _, err := ParseEndpoint(in); err == nil || !strings.Contains(err.Error(), "--http") {
			t.Errorf("%q: %v", in, err)
		}
	}
}

// Every measurement of a set fits the budget together, and each has its
// runs.
func TestTakeRespectsBudget(t *testing.T) {
	t.Parallel()
	dev := uncachedFile(t, 4<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { time.Sleep(5 * time.Millisecond) }))
	defer srv.Close()
	tg := Targets{Sys: t.TempDir(), Devices: []string{dev}, Dirs: []string{t.TempDir()}, HTTP: []Endpoint{{Simple, srv.URL}}, Family: "pi", Regular: true}
	items := tg.Items(nil)
	var kinds []Kind
	for _, it := range items {
		kinds = append(kinds, it.Kind)
	}
	if !slices.Equal(kinds, []Kind{CPUSingle, CPUAll, Memory, DiskRead, Sync, HTTP}) {
		t.Fatalf("items %v", kinds)
	}
	const budget = 2 * time.Second
	start := time.Now()
	var started []Item
	figs := Take(tg, items, budget, func(i int, it Item, share time.Duration) {
		// Told in order, as each starts, with a share of what is left.
		if i != len(started) || share <= 0 || share > budget {
			t.Errorf("item %d told as %d, share %s", i, len(started), share)
		}
		started = append(started, it)
	})
	if !slices.EqualFunc(started, items, func(a, b Item) bool { return a.Kind == b.Kind && a.Target == b.Target }) {
		t.Errorf("told of %v, took %v", started, items)
	}
	for _, f := range figs {
		t.Logf("%s %s", f.ID(), f.Value())
	}
	// Each loop checks its deadline between bounded steps (a 1 MiB read,
	// 4 MiB copied, 64 KiB hashed, one fdatasync): the overrun is that of
	// one step, far below the margin even on a loaded machine.
	if el := time.Since(start); el > 2*budget {
		t.Fatalf("took %s of a %s budget", el, budget)
	}
	if len(figs) != 7 {
		t.Fatalf("%d figures", len(figs))
	}
	// What the budget leaves an item depends on how the machine runs the
	// ones before it: on a loaded one (CI runs suites side by side) an
	// item may run out of its share, and must then say so; this test is
	// about the budget, not the figures (each method's own test checks
	// its figure).
	outOfTime := func(f Figure) bool {
		return strings.Contains(f.Error, "setting up") || strings.Contains(f.Error, "deadline exceeded") || strings.Contains(f.Error, "time allowed")
	}
	for _, f := range figs {
		if (f.Error != "" || len(f.Runs) == 0) && !outOfTime(f) || f.Method == "" {
			t.Errorf("%s: %+v", f.ID(), f)
		}
	}
	if figs[5].Kind != HTTP || figs[6].Kind != HTTP10 || figs[5].Error == "" && figs[5].Verdict != "faster than the guide's range" {
		t.Errorf("http figures %+v %+v", figs[5], figs[6])
	}
	if got := tg.Items([]Kind{DiskRead}); len(got) != 1 || got[0].Target != dev {
		t.Errorf("items %v", got)
	}
}

// A deadline already passed: every method returns at once, with no run
// and nothing left behind.
func TestPassedDeadline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dev := filepath.Join(dir, "dev")
	os.WriteFile(dev, make([]byte, 2<<20), 0o644)
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("a request after the deadline") }))
	defer srv.Close()
	gone := NewDeadline(0)
	a, l := GetLatency(Endpoint{Health, srv.URL}, gone)
	for _, f := range []Figure{CPU(false, dir, gone), CPU(true, dir, gone), MemoryCopy(gone), ReadDevice(dev, gone, true), SyncWrite(dir, gone), a, l} {
		if len(f.Runs) != 0 || f.Error == "" {
			t.Errorf("%s: %+v", f.ID(), f)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left %v", ents)
	}
}

func TestChangeAndValue(t *testing.T) {
	t.Parallel()
	a := Figure{Kind: DiskRead, Unit: MBps, Runs: []float64{100, 90, 110}}
	a.finish()
	b := Figure{Kind: DiskRead, Unit: MBps, Runs: []float64{200}}
	b.finish()
	if d, ok := Change(a, b); !ok || d != 1 {
		t.Fatalf("change %v %v", d, ok)
	}
	if got := a.Value(); got != "100 MB/s (min 90, max 110, 3 runs)" {
		t.Fatalf("value %q", got)
	}
	l1, l2 := Figure{Lower: true, Runs: []float64{2}}, Figure{Lower: true, Runs: []float64{1}}
	l1.finish()
	l2.finish()
	if d, ok := Change(l1, l2); !ok || d != 0.5 {
		t.Fatalf("latency halved: %v", d)
	}
	if _, ok := Change(Figure{Error: "x"}, b); ok {
		t.Fatal("change from a missing figure")
	}
	if round(1234.5678) != 1235 || round(0.0123456) != 0.01235 {
		t.Fatal(round(1234.5678), round(0.0123456))
	}
}

// WholeDisk finds the disk under a directory of this machine (read-only:
// stat and sysfs), or says the filesystem has none.
func TestWholeDisk(t *testing.T) {
	t.Parallel()
	d, err := WholeDisk("/sys", t.TempDir())
	if err != nil {
		if !strings.Contains(err.Error(), "not on a block device") {
			t.Fatal(err)
		}
		return
	}
	var st unix.Stat_t
	if err := unix.Stat(d, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK {
		t.Fatalf("%s: %v %o", d, err, st.Mode)
	}
	if _, err := os.Stat(filepath.Join("/sys/class/block", filepath.Base(d), "partition")); err == nil {
		t.Fatalf("%s is a partition", d)
	}
}
