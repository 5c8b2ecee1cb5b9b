//go:build linux

package adversarial

// The checks made after every crash, shared by the in-process crash matrix
// (crashmatrix_test.go) and the real binary's kill sweeps
// (killsweep_test.go): a probe runs plan, status, history and rollback on
// the crashed root through a runner (the binary, or the library in this
// process: inprocess_test.go) and holds what they say against what the
// journals on disk hold, read by the test itself.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

var (
	crashSeedFlag = flag.Uint64("crash.seed", 0, "crash suites: the seed of every sampled choice (0: a new one, printed)")
	crashAll      = flag.Bool("crash.all", false, "crash suites: every point, not a sample (the binary's kill sweeps and the nested crash matrix in full: some 12 minutes on 2 busy cores)")
)

// crashSeed is the seed of the crash suites' sampled choices: the kill
// points of the binary's sweeps and the crashed applies of the nested
// crash matrix. -crash.seed sets it; otherwise it is new each run, and
// every failure and the suites' logs name it.
var crashSeed = sync.OnceValue(func() uint64 {
	if *crashSeedFlag != 0 {
		return *crashSeedFlag
	}
	return uint64(time.Now().UnixNano())%1_000_000_000 + 1
})

// runner runs one ezedge-host command on a root: the binary
// (binaryRunner), or its in-process equivalent (libRunner).
type runner interface {
	// run runs args (without --root) on root.
	run(t *testing.T, root string, args ...string) result
	// runAll runs read-only commands (they take no lock) on root, side by
	// side.
	runAll(t *testing.T, root string, cmds [][]string) []result
}

// binaryRunner runs the production binary.
type binaryRunner struct{}

func (binaryRunner) run(t *testing.T, root string, args ...string) result {
	return ezedge(t, append(args, "--root", root)...)
}

func (b binaryRunner) runAll(t *testing.T, root string, cmds [][]string) []result {
	rs := make([]result, len(cmds))
	var wg sync.WaitGroup
	for i, args := range cmds {
		wg.Go(func() { rs[i] = b.run(t, root, args...) })
	}
	wg.Wait()
	return rs
}

// probe checks the promise on one root after one crash, collecting every
// problem into one failure message that names the fixture, the command,
// the crash point, and where the process was cut.
type probe struct {
	t        *testing.T
	cmd      runner
	root     string
	where    string
	problems []string
	// tree pictures the root since the last command that may change it
	// (nil: not pictured yet).
	tree fixture.Tree
}

func newProbe(t *testing.T, cmd runner, root, where string) *probe {
	return &probe{t: t, cmd: cmd, root: root, where: where}
}

func (p *probe) problem(format string, args ...any) {
	p.problems = append(p.problems, strings.ReplaceAll(fmt.Sprintf(format, args...), p.root, "<root>"))
}

// failed reports the problems found, if any, as one test failure.
func (p *probe) failed() bool {
	p.t.Helper()
	if len(p.problems) > 0 {
		p.t.Errorf("%s:\n- %s", p.where, strings.Join(p.problems, "\n- "))
		return true
	}
	return false
}

// run runs a command on the root. An exit code not in codes, a death by
// signal or the word "corrupt" anywhere in its output is one problem; ok
// says there was none.
func (p *probe) run(codes []int, args ...string) (r result, ok bool) {
	p.tree = nil
	return p.check(p.cmd.run(p.t, p.root, args...), codes)
}

// picture is the whole root as it is now, store included (without store:
// as it is outside the store).
func (p *probe) picture(store bool) fixture.Tree {
	if p.tree == nil {
		p.tree = fixture.Snapshot(p.t, p.root)
	}
	if store {
		return p.tree
	}
	out := fixture.Tree{}
	for path, v := range p.tree {
		if path != fixture.StoreDir && !strings.HasPrefix(path, fixture.StoreDir+"/") {
			out[path] = v
		}
	}
	return out
}

// runAll runs read-only commands side by side (they take no lock), then
// checks them in order, each against codes.
func (p *probe) runAll(codes [][]int, cmds ...[]string) (rs []result, oks []bool) {
	rs = p.cmd.runAll(p.t, p.root, cmds)
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

// statuses are what history may call the apply: the journal's closing
// records decide (a rollback cut short leaves it applied, or partly rolled
// back once an item is restored).
func (j journal) statuses() []string {
	switch {
	case j.aborted:
		return []string{"failed, restored"}
	case j.rolledBk:
		return []string{"rolled back"}
	case !j.committed:
		return []string{"interrupted"}
	}
	return []string{"applied", "partly rolled back"}
}

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
	Applies []historyApply `json:"applies"`
}

type historyApply struct {
	ID     string `json:"id"`
	Status string `json:"status"`
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

// usable: plan, status and history (text and JSON) all work, report every
// unfinished journal as an interrupted apply, and history gives each apply
// the status its journal's records make.
func (p *probe) usable() {
	rs, oks := p.runAll([][]int{exit0, exit0or2, exit0, exit0, exit0, exit0},
		[]string{"plan"}, []string{"plan", "--detailed-exitcode"}, []string{"status"}, []string{"history"},
		[]string{"status", "--output", "json"}, []string{"history", "--output", "json"})
	plan, planOK, sj, hj := rs[0], oks[0], rs[4], rs[5]
	var st statusJSON
	stOK := oks[4] && p.json(sj, &st)
	var hi historyJSON
	hiOK := oks[5] && p.json(hj, &hi)
	for _, j := range p.journals() {
		if hiOK {
			i := slices.IndexFunc(hi.Applies, func(a historyApply) bool { return a.ID == j.id })
			switch {
			case i < 0:
				p.problem("journal %s (%d bytes) is not in history: %s", j.id, j.size, hj)
			case !slices.Contains(j.statuses(), hi.Applies[i].Status):
				p.problem("history calls apply %s %q, its journal (%d bytes; committed %v, aborted %v, rolled back %v) makes it %q: %s",
					j.id, hi.Applies[i].Status, j.size, j.committed, j.aborted, j.rolledBk, j.statuses(), hj)
			}
		}
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
	if d := orig.Diff(p.picture(false)); len(d) > 0 {
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
	before := p.picture(true)
	r, ok := p.run(exit0or1, "rollback", "--yes")
	if ok && r.code == 1 && !strings.Contains(r.stderr, nothingToDo) {
		p.problem("a second rollback fails: %s", r)
	}
	if strings.Contains(r.out(), "--force") {
		p.problem("a second rollback asks for --force: %s", r)
	}
	if d := before.Diff(p.picture(true)); len(d) > 0 {
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

// noHalfWritten: after a crashed apply (before any recovery), every path
// outside the store is as before the apply, as the whole apply leaves it,
// or as one of its atomic replaces left it (whole, when known: a file the
// apply writes more than once, such as cmdline.txt with one kernel
// argument at a time), but for two things a cut leaves on purpose: the
// temporary file of an atomic replace (named by the journal, removed by
// rollback), and a kernel attribute under /proc or /sys emptied by its
// in-place write's O_TRUNC (on a real kernel the write is one step; in a
// fixture the attribute is a file).
func (p *probe) noHalfWritten(orig, done fixture.Tree, whole map[string][]string) {
	now := p.picture(false)
	for path, v := range now {
		if v == orig[path] || v == done[path] || slices.Contains(whole[path], v) {
			continue
		}
		base := filepath.Base(path)
		if strings.HasPrefix(base, ".") && strings.HasSuffix(base, ".ezedge-tmp") {
			continue
		}
		if (strings.HasPrefix(path, "proc/") || strings.HasPrefix(path, "sys/")) && strings.HasSuffix(v, ` ""`) && strings.HasPrefix(v, "file ") {
			continue
		}
		p.problem("%s is neither as before the apply nor as the apply leaves it: %.120s", path, v)
	}
	for path := range orig {
		_, there := now[path]
		if _, kept := done[path]; kept && !there {
			p.problem("%s is gone, and the apply does not remove it", path)
		}
	}
}
