//go:build linux

package adversarial

// The crash matrix, in this process. Every change ezedge-host makes to a
// root goes through hostroot, which counts it on a crash test's cutter
// (package crashpoint). A run cut at the k-th change, before or after it
// runs, changes nothing after it: its error paths and deferred clean-ups
// run, but every later change fails, as after a power cut; the disk it
// leaves is the disk as it was at that change. So one run, watched, gives
// every disk a crash can leave: the matrix copies the root just before and
// just after each change, then probes each copy it has not seen yet from a
// fresh process state (the root and the store opened anew from disk, the
// library's commands: inprocess_test.go), as the kill sweeps probe the
// binary (crashprobe_test.go). Real cuts at sampled points check that a
// cut leaves exactly the disk watched there.
//
// For every fixture: apply, the rollback of a complete apply, the revert
// of an overdue try apply, each at every change before and after it; and
// the rollback of an apply crashed at sampled points (nested), at every
// change of that rollback. Two points that leave the same disk (before
// change k+1 is after change k) are probed once: a fresh process sees only
// the disk. That they are the same is checked too: it catches a change
// made behind hostroot's back.

import (
	"crypto/sha256"
	"fmt"
	"hash/fnv"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/crashpoint"
	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"

	"golang.org/x/sys/unix"
)

// operation is what the matrix cuts: a command's work on an open root.
type operation func(h *hostroot.Root) error

var (
	opApply    operation = func(h *hostroot.Root) error { _, err := libApply(h); return err }
	opRollback operation = func(h *hostroot.Root) error { _, err := libRollback(h, false); return err }
	opRevert   operation = func(h *hostroot.Root) error { return libRevert(h) }
)

// stateKey is a digest of a whole root, store included: types, modes,
// contents, link targets.
type stateKey [32]byte

// journalMtime is the modification time a journal records with a file's
// prior or written state: when a copy of the fixture was made, or the
// write done, so it differs between two runs that leave the same disk. It
// is not part of the value (Equal ignores it; it only saves re-reading a
// large file known by digest), and is left out of the digest.
var journalMtime = regexp.MustCompile(`(mtime_ns\\":)[0-9]+`)

func stateOf(t *testing.T, root string) (fixture.Tree, stateKey) {
	tree := fixture.Snapshot(t, root)
	return tree, keyOf(tree)
}

func keyOf(tree fixture.Tree) stateKey {
	paths := make([]string, 0, len(tree))
	for p := range tree {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		v := tree[p]
		if strings.HasPrefix(p, fixture.StoreDir+"/") {
			v = journalMtime.ReplaceAllString(v, "${1}_")
		}
		fmt.Fprintf(h, "%q %q\n", p, v)
	}
	var k stateKey
	h.Sum(k[:0])
	return k
}

// snapper pictures one root again and again as fixture.Snapshot does, but
// reads a file again only when its inode, size, times or mode changed since
// it last did: a watched run pictures its root at every change, and most
// of the root never changes. A file changed in the same clock tick as it
// was read could keep its times, so one changed less than racyMargin
// before it was read is read every time (as git does with its index).
type snapper struct {
	root  string
	cache map[string]snapEntry
}

type snapEntry struct {
	st    unix.Stat_t
	value string
	read  time.Time
}

const racyMargin = 50 * time.Millisecond

func newSnapper(root string) *snapper { return &snapper{root: root, cache: map[string]snapEntry{}} }

func (s *snapper) state(t *testing.T) (fixture.Tree, stateKey) {
	tree := fixture.Tree{}
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		perm := fs.FileMode(st.Mode).Perm()
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			target, _ := os.Readlink(p)
			tree[rel] = "link -> " + target
		case unix.S_IFDIR:
			tree[rel] = fmt.Sprintf("dir %04o", perm)
		default:
			if e, ok := s.cache[rel]; ok && e.st.Ino == st.Ino && e.st.Size == st.Size && e.st.Mode == st.Mode &&
				e.st.Mtim == st.Mtim && e.st.Ctim == st.Ctim && time.Unix(st.Ctim.Unix()).Before(e.read.Add(-racyMargin)) {
				tree[rel] = e.value
				return nil
			}
			read := time.Now()
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			tree[rel] = fmt.Sprintf("file %04o %q", perm, b)
			s.cache[rel] = snapEntry{st, tree[rel], read}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree, keyOf(tree)
}

// scratchDir is where the matrix copies roots: a tmpfs when there is one,
// where an fsync costs nothing (a fresh process sees the same files either
// way), or else the test's temporary folder.
func scratchDir(t *testing.T) string {
	if d, err := os.MkdirTemp("/dev/shm", "ezedge-crashmatrix-"); err == nil {
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	return t.TempDir()
}

// copyTo copies root to a new folder under scratch.
func copyTo(t *testing.T, scratch, root string) string {
	t.Helper()
	d, err := os.MkdirTemp(scratch, "root")
	if err != nil {
		t.Fatal(err)
	}
	d = filepath.Join(d, "root")
	if err := fixture.CopyTree(root, d); err != nil {
		t.Fatal(err)
	}
	return d
}

func removeCopy(root string) { os.RemoveAll(filepath.Dir(root)) }

// point names one crash: before or after the k-th change.
type point struct {
	K    int
	When crashpoint.When
}

func (p point) String() string { return fmt.Sprintf("%s change %d", p.When, p.K) }

// cutRun runs op on a copy of start with a cutter attached: cut at p (K 0:
// never), watched by watch if not nil. The run's root is closed and its
// descriptors released before it returns, as if the process had died.
func cutRun(t *testing.T, scratch, start string, op operation, p point, watch func(root string, op crashpoint.Op, when crashpoint.When)) (root string, c *crashpoint.Cutter, err error) {
	t.Helper()
	root = copyTo(t, scratch, start)
	h, err := hostroot.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	c = crashpoint.New(p.K, p.When).Record()
	if watch != nil {
		c.Watch(func(op crashpoint.Op, when crashpoint.When) { watch(root, op, when) })
	}
	h.SetCutter(c)
	err = op(h)
	c.Kill()
	h.Close()
	return root, c, err
}

// sweepResult counts what cutting one operation at every point found.
type sweepResult struct {
	changes int // changes a whole run makes
	points  int // crash points (before and after each change)
	probed  int // distinct disks probed
	cuts    int // real cuts checked against the watched disks
}

func (r *sweepResult) add(o sweepResult) {
	r.changes += o.changes
	r.points += o.points
	r.probed += o.probed
	r.cuts += o.cuts
}

// crashed is the disk one crash point leaves, for a check.
type crashed struct {
	root, where string
	// whole holds, for each file (a path relative to the root), the
	// contents the run's atomic replaces had put in place by then: whole
	// writes, never half ones.
	whole map[string][]string
}

// check probes one crashed disk and reports whether it found a problem.
type check func(t *testing.T, c crashed) (failed bool)

// maxFailures is how many failing points a sweep reports before it stops:
// enough to act on.
const maxFailures = 5

// probeEvery: each distinct disk is probed; under -short every fifth (the
// watched run still pictures every point).
func probeEvery() int {
	if testing.Short() {
		return 5
	}
	return 1
}

// sweepCuts is how many points each sweep also cuts for real, picked with
// the crash seed, to check each leaves the disk watched there.
func sweepCuts() int {
	if testing.Short() {
		return 2
	}
	return 6
}

// crashSweep runs op once on a copy of start, watched: at each change it
// takes the disk just before and just after it (the disks a crash there
// leaves), checks nothing changed it between two counted changes, and
// keeps a copy of each disk seen for the first time (seen is shared by the
// sweeps whose points need the same checks). Then it runs check on each
// copy, and cuts the operation for real at sampled points: each must leave
// exactly the disk watched there.
func crashSweep(t *testing.T, name, start string, op operation, seen map[stateKey]bool, chk check) sweepResult {
	t.Helper()
	scratch := scratchDir(t)
	_, startKey := stateOf(t, start)
	var (
		res      sweepResult
		prev     = startKey // the disk after the change before
		prevOp   = "none"
		keys     = map[point]stateKey{}
		whole    = map[string][]string{}
		pending  []crashed
		failures int
	)
	n := 0 // the change watched
	var snap *snapper
	watch := func(root string, op crashpoint.Op, when crashpoint.When) {
		if when == crashpoint.Before {
			n++
		}
		p := point{n, when}
		if snap == nil {
			snap = newSnapper(root)
			if tree, _ := snap.state(t); fixture.Snapshot(t, root).Diff(tree) != nil {
				t.Errorf("the snapper pictures %s otherwise than fixture.Snapshot: %v", root, fixture.Snapshot(t, root).Diff(tree))
			}
		}
		tree, key := snap.state(t)
		keys[p] = key
		where := fmt.Sprintf("crashed %s (%s)", p, op)
		if when == crashpoint.Before && key != prev {
			t.Errorf("%s: the disk differs from the one after the change before (%s): something changed it without going through hostroot", where, prevOp)
		}
		if when == crashpoint.After {
			prev, prevOp = key, op.String()
			if op.Kind == crashpoint.Rename {
				if rel, err := resolveIn(root, op.Path); err == nil && !slices.Contains(whole[rel], tree[rel]) {
					whole[rel] = append(whole[rel], tree[rel])
				}
			}
		}
		res.points++
		if !seen[key] {
			seen[key] = true
			pending = append(pending, crashed{root: copyTo(t, scratch, root), where: where, whole: maps.Clone(whole)})
		}
	}
	full, c, err := cutRun(t, scratch, start, op, point{}, watch)
	if err != nil {
		t.Fatalf("the whole run: %v", err)
	}
	_, fullKey := stateOf(t, full)
	removeCopy(full)
	ops := c.Ops()
	res.changes = len(ops)
	if prev != fullKey {
		t.Errorf("after the last change (%s) the disk differs from the one the run left", prevOp)
	}
	rng := crashRand(t.Name() + "/" + name)
	every := probeEvery()
	skip := rng.IntN(every)
	for i, s := range pending {
		if failures < maxFailures && i%every == skip {
			res.probed++
			if chk(t, s) {
				failures++
			}
		}
		removeCopy(s.root)
	}
	if failures >= maxFailures {
		t.Errorf("stopped probing after %d failing points", failures)
	}
	// Real cuts: each leaves the disk watched at its point, whatever the
	// run did after it (error paths, deferred clean-ups).
	for range min(sweepCuts(), len(keys)) {
		p := point{1 + rng.IntN(len(ops)), crashpoint.When(rng.IntN(2))}
		root, c, _ := cutRun(t, scratch, start, op, p, nil)
		cut, ok := c.Cut()
		_, key := stateOf(t, root)
		removeCopy(root)
		res.cuts++
		switch {
		case !ok || cut != ops[p.K-1]:
			t.Errorf("cut %s: cut %v, the watched run made %s there: runs differ (seed %d)", p, cut, ops[p.K-1], crashSeed())
		case key != keys[p]:
			t.Errorf("cut %s (%s): the disk differs from the one watched there: something reached the disk after the cut (seed %d)", p, cut, crashSeed())
		}
	}
	return res
}

// crashRand is a generator for the sampled choices of one test, seeded by
// the crash seed and its name: the same seed makes the same choices
// whatever else runs.
func crashRand(name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(crashSeed(), h.Sum64()))
}

// wholeWrites runs op once on a copy of start and returns, for each file
// (a path relative to the root), every content one of its atomic replaces
// put in place: what a file may hold after a crash besides its contents
// before and after the whole run (a file written more than once, such as
// cmdline.txt with one kernel argument at a time). The binary's kill sweep
// takes them from here: the library and the binary make the same changes
// (TestChangesCountedLikeTraced).
func wholeWrites(t *testing.T, start string, op operation) map[string][]string {
	whole := map[string][]string{}
	full, _, err := cutRun(t, scratchDir(t), start, op, point{}, func(root string, op crashpoint.Op, when crashpoint.When) {
		if when != crashpoint.After || op.Kind != crashpoint.Rename {
			return
		}
		rel, err := resolveIn(root, op.Path)
		if err != nil {
			t.Errorf("%s: %v", op, err)
			return
		}
		if v := fixture.Snapshot(t, filepath.Join(root, rel))["."]; !slices.Contains(whole[rel], v) {
			whole[rel] = append(whole[rel], v)
		}
	})
	if err != nil {
		t.Fatalf("the whole run: %v", err)
	}
	removeCopy(full)
	return whole
}

// resolveIn is host path name inside root, as a path relative to it, its
// links resolved inside the root.
func resolveIn(root, name string) (string, error) {
	h, err := hostroot.Open(root)
	if err != nil {
		return "", err
	}
	defer h.Close()
	return h.Resolve(name)
}

// matrixFixtures: every fixture; -short the Pi 5 (atomic files, unit
// links, a new .wants directory, runtime values).
func matrixFixtures() []string {
	if testing.Short() {
		return []string{"pi5-16gb-nvme-bookworm"}
	}
	return fixture.Names
}

// TestCrashMatrix crashes apply, rollback, the rollback of a crashed apply
// and the revert of an overdue try apply at every change they make,
// before and after it, on every fixture; after each crash a fresh process
// finds every command working, the interrupted apply reported, and
// rollback (without --force) ending byte-identical, with no temporary file
// left.
func TestCrashMatrix(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	total := map[string]*sweepResult{}
	add := func(what string, r sweepResult) {
		mu.Lock()
		defer mu.Unlock()
		if total[what] == nil {
			total[what] = &sweepResult{}
		}
		total[what].add(r)
	}
	t.Cleanup(func() {
		var all sweepResult
		for _, n := range slices.Sorted(maps.Keys(total)) {
			s := total[n]
			t.Logf("%-8s %6d crash points of %5d changes, %5d distinct disks probed, %3d real cuts", n, s.points, s.changes, s.probed, s.cuts)
			all.add(*s)
		}
		t.Logf("in all   %6d crash points of %5d changes, %5d distinct disks probed, %3d real cuts (seed %d)", all.points, all.changes, all.probed, all.cuts, crashSeed())
	})
	for _, name := range matrixFixtures() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := prepareMatrix(t, name)
			sweeps := []struct {
				what  string
				start string
				op    operation
				check check
			}{
				{"apply", m.orig, opApply, m.checkApply},
				{"rollback", m.applied, opRollback, m.checkRollback},
				{"revert", m.pending, opRevert, m.checkRevert},
			}
			for _, sw := range sweeps {
				t.Run(sw.what, func(t *testing.T) {
					t.Parallel()
					r := crashSweep(t, "", sw.start, sw.op, map[stateKey]bool{}, sw.check)
					add(sw.what, r)
					t.Logf("%s: %s: %d changes, %d crash points, %d distinct disks probed", name, sw.what, r.changes, r.points, r.probed)
				})
			}
			t.Run("nested", func(t *testing.T) {
				t.Parallel()
				add("nested", m.nested(t))
			})
		})
	}
}

// matrix holds one fixture's starting roots and what they look like.
type matrix struct {
	name string
	// orig is the fixture; applied, the fixture after a complete apply;
	// pending, the same apply made a try apply whose deadline has passed
	// and whose revert never ran.
	orig, applied, pending string
	// before and done picture the root (store aside) before and after a
	// complete apply.
	before, done fixture.Tree
}

func prepareMatrix(t *testing.T, name string) *matrix {
	m := &matrix{name: name, orig: fixture.Copy(t, name)}
	m.before = fixture.Snapshot(t, m.orig, fixture.StoreDir)
	m.applied = filepath.Join(t.TempDir(), name)
	if err := fixture.CopyTree(m.orig, m.applied); err != nil {
		t.Fatal(err)
	}
	h, err := hostroot.Open(m.applied)
	if err != nil {
		t.Fatal(err)
	}
	res, err := libApply(h)
	h.Close()
	if err != nil || res.ID == "" {
		t.Fatalf("%s: apply: %v (%+v)", name, err, res)
	}
	m.done = fixture.Snapshot(t, m.applied, fixture.StoreDir)
	m.pending = filepath.Join(t.TempDir(), name)
	if err := fixture.CopyTree(m.applied, m.pending); err != nil {
		t.Fatal(err)
	}
	// What `apply --confirm-within` leaves on a root that is not a live
	// systemd host: a pending record, reverted by a detached process that
	// died before its deadline.
	dir := filepath.Join(m.pending, fixture.StoreDir, "pending-confirm")
	rec := fmt.Sprintf(`{"deadline":%q,"how":"process","pid":1}`+"\n", libNow.Add(-10*time.Minute).Format(time.RFC3339))
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, res.ID), []byte(rec), 0o600); err != nil {
		t.Fatal(err)
	}
	return m
}

// checkApply: after an apply crashed anywhere, no file is half-written,
// every command works and reports the interrupted apply, rollback needs no
// --force and ends byte-identical, and a second rollback changes nothing.
func (m *matrix) checkApply(t *testing.T, c crashed) bool {
	p := newProbe(t, libRunner{}, c.root, m.name+": apply "+c.where)
	p.noHalfWritten(m.before, m.done, c.whole)
	p.usable()
	p.rollback(false)
	p.identical(m.before, "after rollback")
	p.secondRollbackNoop()
	p.settled(false)
	return p.failed()
}

// checkRollback: after a rollback crashed anywhere, the next rollback
// takes the half-done work for its own (no drift, no --force) and ends
// byte-identical.
func (m *matrix) checkRollback(t *testing.T, c crashed) bool {
	return m.afterRollback(t, c, m.name+": rollback of a complete apply "+c.where)
}

func (m *matrix) afterRollback(t *testing.T, c crashed, where string) bool {
	p := newProbe(t, libRunner{}, c.root, where)
	p.usable()
	p.rollback(true)
	p.identical(m.before, "after the rollback was run again")
	p.secondRollbackNoop()
	p.settled(true)
	return p.failed()
}

// checkRevert: after the revert of an overdue try apply crashed anywhere,
// the next command that changes the host (revert-pending, which a boot
// runs) finishes it: byte-identical, nothing left pending.
func (m *matrix) checkRevert(t *testing.T, c crashed) bool {
	p := newProbe(t, libRunner{}, c.root, m.name+": revert of an overdue try apply "+c.where)
	p.usable()
	p.run(exit0, "revert-pending")
	p.identical(m.before, "after revert-pending")
	if left, _ := filepath.Glob(filepath.Join(c.root, fixture.StoreDir, "pending-confirm", "*")); len(left) > 0 {
		p.problem("still pending after revert-pending: %v", left)
	}
	p.secondRollbackNoop()
	p.settled(true)
	return p.failed()
}

// nestedStarts is how many crashed applies, beyond the middle one, each
// fixture's nested sweep picks with the crash seed (-crash.all: all).
func nestedStarts() int {
	switch {
	case *crashAll:
		return 1 << 30
	case testing.Short():
		return 0
	}
	return 3
}

// nested crashes the rollback of a crashed apply at every change of that
// rollback. The crashed applies: the one crashed midway (the first
// directory fsync from half of its changes on, where a file has just been
// put in place, as the binary's nested sweep picks) and nestedStarts more
// of the distinct disks an apply crash leaves, picked with the crash seed.
func (m *matrix) nested(t *testing.T) sweepResult {
	scratch := scratchDir(t)
	type start struct {
		root, where string
	}
	var starts []start
	startOf := map[stateKey]int{} // the start a disk is, by its key
	after := map[int]stateKey{}   // the disk after each change
	n := 0
	journals := filepath.Join(fixture.StoreDir, "snapshots", "*.jsonl")
	var snap *snapper
	full, c, err := cutRun(t, scratch, m.orig, opApply, point{}, func(root string, op crashpoint.Op, when crashpoint.When) {
		if when == crashpoint.Before {
			n++
		}
		if snap == nil {
			snap = newSnapper(root)
		}
		// Before its journal is in place a crashed apply has changed
		// nothing, and once it is committed the apply is complete (the
		// rollback sweep): neither is a crashed apply to roll back.
		js, _ := filepath.Glob(filepath.Join(root, journals))
		if len(js) != 1 {
			return
		}
		if b, _ := os.ReadFile(js[0]); strings.Contains(string(b), `"op":"commit"`) {
			return
		}
		_, key := snap.state(t)
		if when == crashpoint.After {
			after[n] = key
		}
		if _, ok := startOf[key]; !ok {
			startOf[key] = len(starts)
			starts = append(starts, start{copyTo(t, scratch, root), fmt.Sprintf("crashed %s (%s)", point{n, when}, op)})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	removeCopy(full)
	ops := c.Ops()
	var chosen []int
	for k := len(ops) / 2; k < len(ops); k++ {
		if ops[k].Kind == crashpoint.SyncDir && !strings.HasPrefix(ops[k].Path, "/"+fixture.StoreDir) {
			if i, ok := startOf[after[k+1]]; ok {
				chosen = append(chosen, i)
			}
			break
		}
	}
	rng := crashRand(t.Name())
	for _, i := range rng.Perm(len(starts)) {
		if len(chosen) >= 1+nestedStarts() {
			break
		}
		if !slices.Contains(chosen, i) {
			chosen = append(chosen, i)
		}
	}
	var sum sweepResult
	seenRollback := map[stateKey]bool{}
	for _, i := range chosen {
		s := starts[i]
		what := fmt.Sprintf("%s: apply %s, its rollback ", m.name, s.where)
		sum.add(crashSweep(t, s.where, s.root, opRollback, seenRollback, func(t *testing.T, c crashed) bool {
			return m.afterRollback(t, c, what+c.where)
		}))
		if t.Failed() {
			break
		}
	}
	// Every other crashed apply (not under -short): its rollback crashed
	// at one point, picked with the seed, and rolled back again.
	one := 0
	for i, s := range starts {
		if slices.Contains(chosen, i) || t.Failed() || testing.Short() {
			continue
		}
		whole, c, err := cutRun(t, scratch, s.root, opRollback, point{}, nil)
		removeCopy(whole)
		if err != nil {
			t.Fatalf("%s: the rollback of the apply %s: %v", m.name, s.where, err)
		}
		p := point{1 + rng.IntN(c.Count()), crashpoint.When(rng.IntN(2))}
		root, c, _ := cutRun(t, scratch, s.root, opRollback, p, nil)
		op, _ := c.Cut()
		sum.points++
		sum.cuts++
		one++
		if _, key := stateOf(t, root); !seenRollback[key] {
			seenRollback[key] = true
			sum.probed++
			m.afterRollback(t, crashed{root: root}, fmt.Sprintf("%s: apply %s, its rollback cut %s (%s) [seed %d]", m.name, s.where, p, op, crashSeed()))
		}
		removeCopy(root)
	}
	for _, s := range starts {
		removeCopy(s.root)
	}
	var names []string
	for _, i := range chosen {
		names = append(names, starts[i].where)
	}
	t.Logf("%s: the rollbacks of %d of %d distinct crashed applies crashed at every change, of %d more at one (seed %d): %d crash points, %d distinct disks probed; the %d: %s",
		m.name, len(chosen), len(starts), one, crashSeed(), sum.points, sum.probed, len(chosen), strings.Join(names, "; "))
	return sum
}
