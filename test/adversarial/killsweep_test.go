//go:build linux

package adversarial

// Crashes between declared steps. The crash tests in cmd/ezedge-host kill
// the binary only after the steps it declares durable (crashpoint.Step);
// these kill it on entering every write-type system call it makes, which
// is every point at which a power cut leaves a different disk: between a
// journal's creation and its first record, between a temporary file's
// write and its rename, between two links of one unit, between a mkdir and
// the file it was made for. After each kill the README's promise must hold:
// every command works, the interrupted apply is reported, rollback (without
// --force) ends byte-identical and leaves no trace outside the store.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// sweepFixtures is every fixture, or one under -short (the Pi 5: atomic
// files, unit links, a new .wants directory, runtime values).
func sweepFixtures() []string {
	if testing.Short() {
		return []string{"pi5-16gb-nvme-bookworm"}
	}
	return fixture.Names
}

// sweepStep: every N, or every 5th under -short.
func sweepStep() int {
	if testing.Short() {
		return 5
	}
	return 1
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

// sweep runs point for N = 1, 2, … (every sweepStep-th) of every
// write-type syscall the counted run made, each syscall in a parallel
// subtest, until a run finishes without being killed. point reports
// whether the run was killed. The bound (twice the count, plus 10) only
// stops a sweep that never ends; counts vary by a few between runs because
// the Go runtime writes on its own.
func sweep(t *testing.T, counts map[string]int, point func(t *testing.T, k kill) (killed bool)) {
	for _, s := range writeSyscalls {
		count := counts[s]
		if count == 0 {
			continue
		}
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			limit := 2*count + 10
			// ran: the last N was run (go test -run may pick some N only).
			ran, over := false, false
			for n := 1; n <= limit && !over; n += sweepStep() {
				ran = false
				t.Run(fmt.Sprintf("N=%d", n), func(t *testing.T) {
					ran = true
					over = !point(t, kill{s, n})
				})
			}
			if ran && !over {
				t.Errorf("%s: still killed at N=%d, the full run made %d calls", s, limit, count)
			}
		})
	}
}

// TestKillSweepApply kills apply at every write-type syscall on every
// fixture; after each kill every command works and reports the interrupted
// apply, and rollback restores the root byte for byte.
func TestKillSweepApply(t *testing.T) {
	requirePtrace(t)
	t.Parallel() // the three sweeps share the machine: no idle tail
	for _, name := range sweepFixtures() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			full := fixture.Copy(t, name)
			res, rep := traced(t, kill{}, "apply", "--root", full, "--yes")
			if res.code != 0 || res.killed {
				t.Fatalf("%s: full apply under the tracer: %s", name, res)
			}
			c := &tally{perSyscallTotal: rep.Counts}
			t.Cleanup(func() { c.log(t, name+": apply kill sweep") })
			sweep(t, rep.Counts, func(t *testing.T, k kill) bool {
				root := fixture.Copy(t, name)
				orig := fixture.Snapshot(t, root)
				res, rep := traced(t, k, "apply", "--root", root, "--yes")
				if !res.killed {
					if res.code != 0 {
						t.Errorf("%s: apply with a kill at %s past its last such call failed: %s", name, k, res)
					}
					return false
				}
				p := newProbe(t, root, fmt.Sprintf("%s: apply killed at %s", name, k), rep)
				p.usable()
				p.rollback(false)
				identical := p.identical(orig, "after rollback")
				p.secondRollbackNoop()
				p.settled(false)
				p.report()
				c.add(p.where, identical)
				return true
			})
		})
	}
}

// TestKillSweepRollback kills the rollback of a complete apply at every
// write-type syscall; the next rollback recognises the half-done work as
// its own (no drift, no --force) and ends byte-identical.
func TestKillSweepRollback(t *testing.T) {
	requirePtrace(t)
	t.Parallel() // the three sweeps share the machine: no idle tail
	for _, name := range sweepFixtures() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
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
			sweep(t, rep.Counts, func(t *testing.T, k kill) bool {
				root := copyRoot(t, applied)
				res, rep := traced(t, k, "rollback", "--root", root, "--yes")
				if !res.killed {
					if res.code != 0 {
						t.Errorf("%s: rollback with a kill at %s past its last such call failed: %s", name, k, res)
					}
					return false
				}
				p := newProbe(t, root, fmt.Sprintf("%s: rollback of a complete apply killed at %s", name, k), rep)
				p.usable()
				p.rollback(true)
				identical := p.identical(orig, "after the rollback was run again")
				p.settled(true)
				p.report()
				c.add(p.where, identical)
				return true
			})
		})
	}
}

// TestKillSweepNested kills an apply in the middle of its write-type calls,
// then its rollback at every write-type call, then rolls back cleanly: the
// root ends byte-identical.
func TestKillSweepNested(t *testing.T) {
	requirePtrace(t)
	t.Parallel() // the three sweeps share the machine: no idle tail
	for _, name := range sweepFixtures() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
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
			sweep(t, rep.Counts, func(t *testing.T, k kill) bool {
				root := copyRoot(t, half)
				res, rep := traced(t, k, "rollback", "--root", root, "--yes")
				if !res.killed {
					if res.code != 0 {
						t.Errorf("%s: rollback with a kill at %s past its last such call failed: %s", name, k, res)
					}
					return false
				}
				p := newProbe(t, root, fmt.Sprintf("%s: apply killed at %s (%s), its rollback killed at %s", name, mid, what, k), rep)
				p.usable()
				p.rollback(true)
				identical := p.identical(orig, "after a clean rollback")
				p.settled(true)
				p.report()
				c.add(p.where, identical)
				return true
			})
		})
	}
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

// probe checks the promise on one root after one kill, collecting every
// problem into one failure message that names the fixture, the command,
// the syscall and N, and where the process was cut.
type probe struct {
	t        *testing.T
	root     string
	where    string
	problems []string
}

func newProbe(t *testing.T, root, where string, rep traceReport) *probe {
	if rep.Killed != nil {
		where += " (" + strings.ReplaceAll(rep.Killed.What, root, "<root>") + ")"
	}
	return &probe{t: t, root: root, where: where}
}

func (p *probe) problem(format string, args ...any) {
	p.problems = append(p.problems, strings.ReplaceAll(fmt.Sprintf(format, args...), p.root, "<root>"))
}

func (p *probe) report() {
	p.t.Helper()
	if len(p.problems) > 0 {
		p.t.Errorf("%s:\n- %s", p.where, strings.Join(p.problems, "\n- "))
	}
}

// run runs a command on the root. An exit code not in codes, a death by
// signal or the word "corrupt" anywhere in its output is one problem; ok
// says there was none.
func (p *probe) run(codes []int, args ...string) (r result, ok bool) {
	return p.check(ezedge(p.t, append(args, "--root", p.root)...), codes)
}

// runAll runs read-only commands side by side (they take no lock), then
// checks them in order, each against codes.
func (p *probe) runAll(codes [][]int, cmds ...[]string) (rs []result, oks []bool) {
	rs = make([]result, len(cmds))
	var wg sync.WaitGroup
	for i, args := range cmds {
		wg.Go(func() { rs[i] = ezedge(p.t, append(args, "--root", p.root)...) })
	}
	wg.Wait()
	for i := range rs {
		_, ok := p.check(rs[i], codes[i])
		oks = append(oks, ok)
	}
	return rs, oks
}

func (p *probe) check(r result, codes []int) (result, bool) {
	var why []string
	if !slices.Contains(codes, r.code) {
		why = append(why, fmt.Sprintf("exit %d, want %v", r.code, codes))
	}
	if strings.Contains(strings.ToLower(r.out()), "corrupt") {
		why = append(why, `says "corrupt"`)
	}
	if len(why) > 0 {
		p.problem("%s: %s", strings.Join(why, ", "), r)
	}
	return r, len(why) == 0
}

var (
	exit0       = []int{0}
	exit0or1    = []int{0, 1}
	exit0or2    = []int{0, 2}
	nothingToDo = "nothing to roll back"
)

// journal is what a journal file holds, read by the test itself: the
// oracle for what plan, status and rollback must say.
type journal struct {
	id                                  string
	size                                int
	begun, committed, aborted, rolledBk bool
}

// pending: not finished, not undone: an interrupted apply.
func (j journal) pending() bool { return !j.committed && !j.aborted && !j.rolledBk }

func (p *probe) journals() []journal {
	files, _ := filepath.Glob(filepath.Join(p.root, fixture.StoreDir, "snapshots", "*.jsonl"))
	var out []journal
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			p.t.Fatal(err)
		}
		j := journal{id: strings.TrimSuffix(filepath.Base(f), ".jsonl"), size: len(b)}
		for i, l := range bytes.Split(b, []byte("\n")) {
			var rec struct {
				Op string `json:"op"`
			}
			if json.Unmarshal(l, &rec) != nil {
				continue // a torn or empty line
			}
			switch {
			case i == 0 && rec.Op == "begin":
				j.begun = true
			case rec.Op == "commit":
				j.committed = true
			case rec.Op == "abort":
				j.aborted = true
			case rec.Op == "rolled_back":
				j.rolledBk = true
			}
		}
		out = append(out, j)
	}
	return out
}

type statusJSON struct {
	Interrupted []string `json:"interrupted"`
}

type historyJSON struct {
	Applies []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"applies"`
}

func (p *probe) json(r result, v any) bool {
	if !json.Valid([]byte(r.stdout)) {
		p.problem("not valid JSON: %s", r)
		return false
	}
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		p.problem("JSON of an unexpected shape (%v): %s", err, r)
		return false
	}
	return true
}

// usable: plan, status and history (text and JSON) all work, and report
// every unfinished journal as an interrupted apply.
func (p *probe) usable() {
	rs, oks := p.runAll([][]int{exit0, exit0or2, exit0, exit0, exit0, exit0},
		[]string{"plan"}, []string{"plan", "--detailed-exitcode"}, []string{"status"}, []string{"history"},
		[]string{"status", "--output", "json"}, []string{"history", "--output", "json"})
	plan, planOK, sj, hj := rs[0], oks[0], rs[4], rs[5]
	var st statusJSON
	stOK := oks[4] && p.json(sj, &st)
	if oks[5] {
		p.json(hj, &historyJSON{})
	}
	for _, j := range p.journals() {
		if j.pending() {
			if stOK && !slices.Contains(st.Interrupted, j.id) {
				p.problem("journal %s (%d bytes) is unfinished but status --output json does not list it as interrupted: %s", j.id, j.size, sj)
			}
			if planOK && (!strings.Contains(plan.out(), "interrupted") || !strings.Contains(plan.out(), j.id)) {
				p.problem("journal %s (%d bytes) is unfinished but plan does not say apply %s was interrupted: %s", j.id, j.size, j.id, plan)
			}
		} else if stOK && slices.Contains(st.Interrupted, j.id) {
			p.problem("journal %s is finished (committed %v, rolled back %v) but status lists it as interrupted: %s", j.id, j.committed, j.rolledBk, sj)
		}
	}
}

// rollback runs `rollback --yes`: it must exit 0, and never ask for
// --force. It may say there is nothing to roll back only when no journal
// holds an apply left to undo (afterKilledRollback: the killed rollback
// may have recorded its end already).
func (p *probe) rollback(afterKilledRollback bool) {
	js := p.journals()
	open := false
	for _, j := range js {
		if j.begun && !j.aborted && !j.rolledBk {
			open = true
		}
	}
	r, ok := p.run(exit0or1, "rollback", "--yes")
	nothing := r.code == 1 && strings.Contains(r.stderr, nothingToDo)
	drift := strings.Contains(r.out(), "--force") || strings.Contains(r.out(), "left alone")
	switch {
	case !ok:
	case drift && afterKilledRollback:
		p.problem("rollback resumed after a killed rollback calls its own half-done work drift and asks for --force: %s", r)
	case drift:
		p.problem("rollback after a killed apply calls something drift and asks for --force: %s", r)
	case r.code == 0:
	case nothing && !open:
	case nothing:
		p.problem("rollback says there is nothing to roll back, but a journal holds an apply not rolled back (%+v): %s", js, r)
	default:
		p.problem("rollback fails: %s", r)
	}
}

// identical: the root is as before the apply, the store aside: contents,
// modes, links, no temporary file, no directory apply made.
func (p *probe) identical(orig fixture.Tree, when string) bool {
	if d := orig.Diff(fixture.Snapshot(p.t, p.root, fixture.StoreDir)); len(d) > 0 {
		if len(d) > 20 {
			d = append(d[:20], fmt.Sprintf("… %d more", len(d)-20))
		}
		p.problem("root not byte-identical %s:\n    %s", when, strings.Join(d, "\n    "))
		return false
	}
	return true
}

// secondRollbackNoop: another rollback changes nothing at all, store
// included.
func (p *probe) secondRollbackNoop() {
	before := fixture.Snapshot(p.t, p.root)
	r, ok := p.run(exit0or1, "rollback", "--yes")
	if ok && r.code == 1 && !strings.Contains(r.stderr, nothingToDo) {
		p.problem("a second rollback fails: %s", r)
	}
	if strings.Contains(r.out(), "--force") {
		p.problem("a second rollback asks for --force: %s", r)
	}
	if d := before.Diff(fixture.Snapshot(p.t, p.root)); len(d) > 0 {
		p.problem("a second rollback changed the root: %s", strings.Join(d, "; "))
	}
}

// settled: once rolled back, neither history nor status shows an
// interrupted apply; with allRolledBack, history shows every recorded
// apply as "rolled back".
func (p *probe) settled(allRolledBack bool) {
	rs, oks := p.runAll([][]int{exit0, exit0}, []string{"history", "--output", "json"}, []string{"status", "--output", "json"})
	var h historyJSON
	if hj := rs[0]; oks[0] && p.json(hj, &h) {
		if allRolledBack && len(h.Applies) == 0 {
			p.problem("history lists no apply: %s", hj)
		}
		for _, a := range h.Applies {
			switch {
			case a.Status == "interrupted":
				p.problem("after rollback history still shows apply %s as interrupted: %s", a.ID, hj)
			case allRolledBack && a.Status != "rolled back":
				p.problem("history shows apply %s as %q, want \"rolled back\": %s", a.ID, a.Status, hj)
			}
		}
	}
	var st statusJSON
	if sj := rs[1]; oks[1] && p.json(sj, &st) && len(st.Interrupted) > 0 {
		p.problem("after rollback status still lists interrupted applies %v: %s", st.Interrupted, sj)
	}
}
