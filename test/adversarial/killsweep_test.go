//go:build linux

package adversarial

// The real binary, killed at the system-call level: a sample of the kill
// points. The crash matrix (crashmatrix_test.go) cuts apply and rollback
// at every change they make, in this process, through hostroot's count;
// these sweeps keep the level below it covered: the production binary,
// run under a ptrace tracer (tracer_test.go), killed with SIGKILL on
// entering a write-type system call (between a journal's creation and its
// first record, between a temporary file's write and its rename, between
// two links of one unit, between a mkdir and the file it was made for).
// After each kill the README's promise must hold: every command works, the
// interrupted apply is reported, rollback (without --force) ends
// byte-identical and leaves no trace outside the store.
//
// Which points: for each sweep (apply, rollback, the rollback of an apply
// killed midway), one call of every write-type system call the fixtures'
// runs make, on a fixture that makes it, at a random N, and sweepExtra
// more on each fixture, anywhere: every syscall and every fixture at least
// once. They are picked with the crash seed (crashprobe_test.go), which
// every failure names: `go test ./test/adversarial -run TestKillSweep -crash.seed=S`
// makes the same points again, and -crash.all every point (1 296 kill
// points, each probed with some 8 runs of the binary: 7 minutes on two busy
// cores).

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// sweepExtra is how many points a sweep takes on each fixture beyond those
// that cover every system call.
const sweepExtra = 1

// sweepFixtures is every fixture, or one under -short (the Pi 5: atomic
// files, unit links, a new .wants directory, runtime values).
func sweepFixtures() []string {
	if testing.Short() {
		return []string{"pi5-16gb-nvme-bookworm"}
	}
	return fixture.Names
}

// tally counts a fixture's kill points and those that ended byte-identical.
type tally struct {
	mu              sync.Mutex
	points, intact  int
	firstDifferent  []string
	perSyscallTotal map[string]int
}

func (c *tally) add(where string, identical bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.points++
	if identical {
		c.intact++
	} else if len(c.firstDifferent) < 3 {
		c.firstDifferent = append(c.firstDifferent, where)
	}
}

func (c *tally) log(t *testing.T, what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t.Logf("%s: %d kill points, %d of %d byte-identical after rollback (calls per syscall in a full run: %v)",
		what, c.points, c.intact, c.points, c.perSyscallTotal)
	for _, w := range c.firstDifferent {
		t.Logf("  not byte-identical, e.g. %s", w)
	}
}

// target is one fixture's part of a sweep: the write-type calls its whole
// run made, and what to do at a kill point (point reports whether the run
// was killed).
type target struct {
	fixture string
	counts  map[string]int
	point   func(t *testing.T, k kill) (killed bool)
}

// kp is a kill point of a sweep: a fixture's run, killed at k.
type kp struct {
	fixture string
	k       kill
}

// sampleKills picks a sweep's kill points from the calls the whole runs
// made: each write-type system call any fixture's run makes, at a random
// N on a random fixture among those that make it, then extra more on each
// fixture, anywhere; all different. The generator is seeded by the crash
// seed and the sweep's name, so the same seed picks the same points
// whatever else runs.
func sampleKills(name string, targets []target, extra int) []kp {
	rng := crashRand(name)
	var out []kp
	add := func(p kp) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, s := range writeSyscalls {
		var have []target
		for _, tg := range targets {
			if tg.counts[s] > 0 {
				have = append(have, tg)
			}
		}
		if len(have) > 0 {
			tg := have[rng.IntN(len(have))]
			add(kp{tg.fixture, kill{s, 1 + rng.IntN(tg.counts[s])}})
		}
	}
	for _, tg := range targets {
		total := 0
		for _, s := range writeSyscalls {
			total += tg.counts[s]
		}
		for range extra {
			i := rng.IntN(total)
			for _, s := range writeSyscalls {
				if i < tg.counts[s] {
					add(kp{tg.fixture, kill{s, i + 1}})
					break
				}
				i -= tg.counts[s]
			}
		}
	}
	return out
}

// sweep runs each target's point at the sampled kill points (with
// -crash.all: at N = 1, 2, … of every write-type syscall of every fixture,
// until a run finishes without being killed), each in a parallel subtest.
// A sampled point must be killed (it is within the counted run's calls),
// but for the few writes the Go runtime makes on its own, whose count
// varies by a few.
func sweep(t *testing.T, targets []target) {
	if *crashAll {
		for _, tg := range targets {
			t.Run(tg.fixture, func(t *testing.T) {
				t.Parallel()
				sweepAll(t, tg)
			})
		}
		return
	}
	extra := sweepExtra
	if testing.Short() {
		extra = 0
	}
	ks := sampleKills(t.Name(), targets, extra)
	t.Logf("%d sampled kill points (-crash.seed=%d picks them again): %v", len(ks), crashSeed(), ks)
	for _, p := range ks {
		i := slices.IndexFunc(targets, func(tg target) bool { return tg.fixture == p.fixture })
		tg := targets[i]
		t.Run(fmt.Sprintf("%s/%s/N=%d", p.fixture, p.k.Syscall, p.k.N), func(t *testing.T) {
			t.Parallel()
			if !tg.point(t, p.k) && p.k.Syscall != "write" {
				t.Errorf("%s: not killed at %s, though the whole run made %d such calls (seed %d)", p.fixture, p.k, tg.counts[p.k.Syscall], crashSeed())
			}
		})
	}
}

// sweepAll runs point at every kill point of one fixture.
func sweepAll(t *testing.T, tg target) {
	for _, s := range writeSyscalls {
		count := tg.counts[s]
		if count == 0 {
			continue
		}
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			// The bound (twice the count, plus 10) only stops a sweep that
			// never ends.
			limit := 2*count + 10
			ran, over := false, false
			for n := 1; n <= limit && !over; n++ {
				ran = false
				t.Run(fmt.Sprintf("N=%d", n), func(t *testing.T) {
					ran = true
					over = !tg.point(t, kill{s, n})
				})
			}
			if ran && !over {
				t.Errorf("%s: still killed at N=%d, the full run made %d calls", s, limit, count)
			}
		})
	}
}

// killedWhere names a kill point for failure messages: the sweep, the
// fixture, the call and where it was, and the seed that picked it.
func killedWhere(what string, root string, rep traceReport) string {
	if rep.Killed != nil {
		what += " (" + strings.ReplaceAll(rep.Killed.What, root, "<root>") + ")"
	}
	if !*crashAll {
		what += fmt.Sprintf(" [seed %d]", crashSeed())
	}
	return what
}

// TestKillSweepApply kills apply at sampled write-type syscalls; after each
// kill every command works and reports the interrupted apply, and rollback
// restores the root byte for byte.
func TestKillSweepApply(t *testing.T) {
	requirePtrace(t)
	t.Parallel() // the three sweeps share the machine: no idle tail
	var targets []target
	for _, name := range sweepFixtures() {
		full := fixture.Copy(t, name)
		res, rep := traced(t, kill{}, "apply", "--root", full, "--yes")
		if res.code != 0 || res.killed {
			t.Fatalf("%s: full apply under the tracer: %s", name, res)
		}
		done := fixture.Snapshot(t, full, fixture.StoreDir)
		whole := wholeWrites(t, fixture.Copy(t, name), opApply)
		c := &tally{perSyscallTotal: rep.Counts}
		t.Cleanup(func() { c.log(t, name+": apply kill sweep") })
		targets = append(targets, target{name, rep.Counts, func(t *testing.T, k kill) bool {
			root := fixture.Copy(t, name)
			orig := fixture.Snapshot(t, root)
			res, rep := traced(t, k, "apply", "--root", root, "--yes")
			if !res.killed {
				if res.code != 0 {
					t.Errorf("%s: apply with a kill at %s past its last such call failed: %s", name, k, res)
				}
				return false
			}
			p := newProbe(t, binaryRunner{}, root, killedWhere(fmt.Sprintf("%s: apply killed at %s", name, k), root, rep))
			p.noHalfWritten(orig, done, whole)
			p.usable()
			p.rollback(false)
			identical := p.identical(orig, "after rollback")
			p.secondRollbackNoop()
			p.settled(false)
			p.failed()
			c.add(p.where, identical)
			return true
		}})
	}
	sweep(t, targets)
}

// TestKillSweepRollback kills the rollback of a complete apply at sampled
// write-type syscalls; the next rollback recognises the half-done work as
// its own (no drift, no --force) and ends byte-identical.
func TestKillSweepRollback(t *testing.T) {
	requirePtrace(t)
	t.Parallel() // the three sweeps share the machine: no idle tail
	var targets []target
	for _, name := range sweepFixtures() {
		// The applied root, made once and copied for each point.
		applied := fixture.Copy(t, name)
		orig := fixture.Snapshot(t, applied)
		must(t, ezedge(t, "apply", "--root", applied, "--yes"), 0)
		res, rep := traced(t, kill{}, "rollback", "--root", copyRoot(t, applied), "--yes")
		if res.code != 0 || res.killed {
			t.Fatalf("%s: full rollback under the tracer: %s", name, res)
		}
		c := &tally{perSyscallTotal: rep.Counts}
		t.Cleanup(func() { c.log(t, name+": rollback kill sweep") })
		targets = append(targets, target{name, rep.Counts, func(t *testing.T, k kill) bool {
			root := copyRoot(t, applied)
			res, rep := traced(t, k, "rollback", "--root", root, "--yes")
			if !res.killed {
				if res.code != 0 {
					t.Errorf("%s: rollback with a kill at %s past its last such call failed: %s", name, k, res)
				}
				return false
			}
			p := newProbe(t, binaryRunner{}, root, killedWhere(fmt.Sprintf("%s: rollback of a complete apply killed at %s", name, k), root, rep))
			p.usable()
			p.rollback(true)
			identical := p.identical(orig, "after the rollback was run again")
			p.secondRollbackNoop()
			p.settled(true)
			p.failed()
			c.add(p.where, identical)
			return true
		}})
	}
	sweep(t, targets)
}

// TestKillSweepNested kills an apply in the middle of its write-type calls,
// then its rollback at sampled write-type calls, then rolls back cleanly:
// the root ends byte-identical. (The crash matrix does so for applies
// crashed at other points too.)
func TestKillSweepNested(t *testing.T) {
	requirePtrace(t)
	t.Parallel() // the three sweeps share the machine: no idle tail
	var targets []target
	for _, name := range sweepFixtures() {
		full := fixture.Copy(t, name)
		res, rep := traced(t, kill{}, "apply", "--root", full, "--yes")
		if res.code != 0 || res.killed {
			t.Fatalf("%s: full apply under the tracer: %s", name, res)
		}
		mid := middle(full, rep)
		// The half-applied root, made once and copied for each point.
		half := fixture.Copy(t, name)
		orig := fixture.Snapshot(t, half)
		res, at := traced(t, mid, "apply", "--root", half, "--yes")
		if !res.killed {
			t.Fatalf("%s: apply was not killed at %s: %s", name, mid, res)
		}
		what := strings.ReplaceAll(at.Killed.What, half, "<root>")
		res, rep = traced(t, kill{}, "rollback", "--root", copyRoot(t, half), "--yes")
		if res.code != 0 || res.killed {
			t.Fatalf("%s: rollback of the apply killed at %s (%s) under the tracer: %s", name, mid, what, res)
		}
		c := &tally{perSyscallTotal: rep.Counts}
		t.Cleanup(func() { c.log(t, fmt.Sprintf("%s: apply killed at %s (%s), then its rollback", name, mid, what)) })
		targets = append(targets, target{name, rep.Counts, func(t *testing.T, k kill) bool {
			root := copyRoot(t, half)
			res, rep := traced(t, k, "rollback", "--root", root, "--yes")
			if !res.killed {
				if res.code != 0 {
					t.Errorf("%s: rollback with a kill at %s past its last such call failed: %s", name, k, res)
				}
				return false
			}
			p := newProbe(t, binaryRunner{}, root, killedWhere(fmt.Sprintf("%s: apply killed at %s (%s), its rollback killed at %s", name, mid, what, k), root, rep))
			p.usable()
			p.rollback(true)
			identical := p.identical(orig, "after a clean rollback")
			p.settled(true)
			p.failed()
			c.add(p.where, identical)
			return true
		}})
	}
	sweep(t, targets)
}

// middle picks where the nested sweep cuts the apply: the first fsync of
// a directory from half of its write-type calls on, a point where a file
// has just been put in place. A cut inside an atomic replace would leave a
// temporary file that TestKillSweepApply reports already, and that would
// hide what the nested sweep is for: the rollback of a half-done apply.
func middle(root string, rep traceReport) kill {
	for i := len(rep.Calls) / 2; i < len(rep.Calls); i++ {
		if p, ok := strings.CutPrefix(rep.Calls[i], "fsync "); ok {
			if fi, err := os.Stat(p); err == nil && fi.IsDir() && !strings.HasPrefix(p, filepath.Join(root, fixture.StoreDir)) {
				return kill{"*", i + 1}
			}
		}
	}
	return kill{"*", rep.Total / 2}
}

// copyRoot copies a prepared root (applied, or half-applied) for one kill
// point: cheaper than preparing it again, and the same every time.
func copyRoot(t *testing.T, src string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := fixture.CopyTree(src, root); err != nil {
		t.Fatal(err)
	}
	return root
}

func must(t *testing.T, r result, code int) result {
	t.Helper()
	if r.code != code || r.killed {
		t.Fatalf("%s\nwant exit %d", r, code)
	}
	return r
}
