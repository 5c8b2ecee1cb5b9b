package measure

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// work is one step of CPU work: SHA-256 of 64 KiB, short enough to check
// the deadline between steps, long enough that the check costs nothing.
const work = 64 << 10

// CPU measures SHA-256 throughput on one core (all false) or on every
// core at once, in Runs runs, sampling the CPU clock (cpufreq) every
// 100 ms meanwhile so throttling shows, and the hottest thermal zone
// before and after. sys is the sysfs mount (/sys).
func CPU(all bool, sys string, d Deadline) (f Figure) {
	f = Figure{Kind: CPUSingle, Unit: HashMBps}
	n := 1
	if all {
		f.Kind, n = CPUAll, runtime.NumCPU()
	}
	f.Method = fmt.Sprintf("SHA-256 of 64 KiB blocks on %d thread(s) pinned to their OS threads, %d runs", n, Runs)
	defer f.finish()
	before, okb := hottest(sys)
	stop := make(chan struct{})
	clock := make(chan *Span, 1)
	go func() { clock <- sampleClock(sys, stop) }()
	for _, run := range d.Split(Runs) {
		var wg sync.WaitGroup
		bytes := make([]int64, n)
		start := time.Now()
		for i := range n {
			wg.Go(func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				buf := make([]byte, work)
				for !run.Passed() {
					s := sha256.Sum256(buf)
					buf[0] ^= s[0]
					bytes[i] += work
				}
			})
		}
		wg.Wait()
		var sum int64
		for _, b := range bytes {
			sum += b
		}
		if el := time.Since(start); sum > 0 {
			f.Runs = append(f.Runs, float64(sum)/1e6/el.Seconds())
		}
	}
	close(stop)
	f.Clock = <-clock
	if after, oka := hottest(sys); okb && oka {
		f.Celsius = &Span{Low: before, High: after}
	}
	return f
}

// sampleClock reads every CPU's scaling_cur_freq each 100 ms until stop,
// and returns the lowest and highest seen in MHz (nil without cpufreq).
func sampleClock(sys string, stop <-chan struct{}) *Span {
	files, _ := filepath.Glob(filepath.Join(sys, "devices/system/cpu/cpu[0-9]*/cpufreq/scaling_cur_freq"))
	if len(files) == 0 {
		<-stop
		return nil
	}
	var s *Span
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, p := range files {
			if khz, ok := readInt(p); ok {
				mhz := float64(khz) / 1000
				if s == nil {
					s = &Span{Low: mhz, High: mhz}
				}
				s.Low, s.High = min(s.Low, mhz), max(s.High, mhz)
			}
		}
		select {
		case <-stop:
			return s
		case <-tick.C:
		}
	}
}

// hottest is the highest thermal zone temperature in °C.
func hottest(sys string) (float64, bool) {
	files, _ := filepath.Glob(filepath.Join(sys, "class/thermal/thermal_zone*/temp"))
	best, ok := 0.0, false
	for _, p := range files {
		if m, k := readInt(p); k {
			c := float64(m) / 1000
			if !ok || c > best {
				best, ok = c, true
			}
		}
	}
	return best, ok
}

func readInt(p string) (int64, bool) {
	b, err := os.ReadFile(p)
	if err != nil || len(b) > 64 {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v, err == nil
}

// memBlock is the size of each of the two buffers copied between: larger
// than the last-level cache of the boards this runs on (2 MiB on a Pi 5,
// up to 32 MiB on desktop-class amd64), small enough to page in quickly.
const memBlock = 32 << 20

// MemoryCopy measures memory bandwidth as the bytes per second copy()
// moves between two 64 MiB buffers (each byte read once and written
// once), in Runs runs.
func MemoryCopy(d Deadline) (f Figure) {
	f = Figure{Kind: Memory, Unit: MBps,
		Method: fmt.Sprintf("copy between two %d MiB buffers, bytes copied per second, %d runs", memBlock>>20, Runs)}
	defer f.finish()
	// Fresh anonymous mappings: the kernel zeroes each page when it is
	// first touched (make would clear the whole buffer in one go, which
	// on a loaded VM takes seconds no deadline can stop). Touching them
	// first keeps page faults out of the figure, and counts against the
	// deadline: page by page, stopped when it passes.
	a, err := unix.Mmap(-1, 0, memBlock, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		f.Error = err.Error()
		return f
	}
	defer unix.Munmap(a)
	b, err := unix.Mmap(-1, 0, memBlock, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		f.Error = err.Error()
		return f
	}
	defer unix.Munmap(b)
	for i := 0; i < memBlock; i += 4096 {
		if i%(64<<10) == 0 && d.Passed() {
			f.Error = "setting up the buffers took the whole time allowed"
			return f
		}
		a[i], b[i] = 1, 1
	}
	for _, run := range d.Split(Runs) {
		var n int64
		start := time.Now()
		for !run.Passed() {
			// In 4 MiB steps, so the deadline is checked often.
			for off := 0; off < memBlock && !run.Passed(); off += 4 << 20 {
				n += int64(copy(b[off:off+4<<20], a[off:off+4<<20]))
			}
			a, b = b, a
		}
		if el := time.Since(start); n > 0 {
			f.Runs = append(f.Runs, float64(n)/1e6/el.Seconds())
		}
	}
	return f
}
