package adversarial

// Class 4: what the binary reads back from disk is input too. A saved plan
// can be edited between plan --out and apply FILE, a store made before the
// first apply can be writable by anyone, and a journal can be cut at any
// byte by a crash. None of these may make the binary write something no
// plan of its own would, act on another user's file, or call a torn
// journal corrupt.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

func hostileB64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestHostileUntrustedPlan: each edit of a saved plan is refused (exit 1,
// one line naming the problem) and changes nothing, inside the root or out.
func TestHostileUntrustedPlan(t *testing.T) {
	t.Parallel()
	const name = "pi5-16gb-nvme-bookworm"
	const passwd = "root:x:0:0:root:/root:/bin/bash\n"
	const pwned = "pwned::0:0::/:/bin/sh\n"
	cases := []struct {
		edit string
		// names are what the one error line must name.
		names []string
		apply func(changes []map[string]any, touched string) []map[string]any
	}{
		{"add a change for file:/../../etc/passwd", []string{"etc/passwd"}, func(cs []map[string]any, _ string) []map[string]any {
			return append(cs, map[string]any{
				"task": "swappiness", "resource": "file:/../../etc/passwd", "action": "update",
				"before": map[string]any{"exists": true, "data": hostileB64(passwd), "mode": 0o644},
				"after":  map[string]any{"exists": true, "data": hostileB64(pwned), "mode": 0o644},
			})
		}},
		{"set vm.swappiness after to 99999", []string{"vm.swappiness", "99999"}, func(cs []map[string]any, _ string) []map[string]any {
			hostileChange(t, cs, "sysctl:vm.swappiness")["after"] = map[string]any{"exists": true, "data": hostileB64("99999\n")}
			return cs
		}},
		// A saved plan has no then field at all (follow-ups are never read
		// from one): the refusal names the field.
		{"add a then command", []string{`"then"`}, func(cs []map[string]any, touched string) []map[string]any {
			cs[0]["then"] = []string{"/bin/touch", touched}
			return cs
		}},
		{"change vm.swappiness before", []string{"vm.swappiness"}, func(cs []map[string]any, _ string) []map[string]any {
			hostileChange(t, cs, "sysctl:vm.swappiness")["before"] = map[string]any{"exists": true, "data": hostileB64("30\n")}
			return cs
		}},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.edit, "/", "_"), func(t *testing.T) {
			t.Parallel()
			// The root is three levels down, so that a path joined
			// naively (root + "/../../etc/passwd") lands on a sentinel
			// of this test rather than anywhere else.
			base := t.TempDir()
			root := hostileCopy(t, filepath.Join(base, "a", "b"), name)
			outsidePasswd := filepath.Join(base, "a", "etc", "passwd")
			hostileWrite(t, outsidePasswd, passwd, 0o644)
			hostileWrite(t, filepath.Join(root, "etc/passwd"), passwd, 0o644)
			touched := filepath.Join(base, "then-ran")
			planFile := filepath.Join(base, "edited.plan")
			if r := hostileRun(hostileOpts{}, "plan", "--root", root, "--out", planFile); r.code != 0 {
				t.Fatalf("fixture %s, command plan --out: %s", name, r)
			}
			hostileEditPlan(t, planFile, func(cs []map[string]any) []map[string]any { return c.apply(cs, touched) })
			before := hostileMustSnap(t, root)
			outBefore := hostileMustSnap(t, filepath.Join(base, "a", "etc"))
			where := fmt.Sprintf("fixture %s, saved plan edited to %s, command apply FILE", name, c.edit)

			r := hostileRun(hostileOpts{}, "apply", planFile, "--root", root)
			for _, m := range hostileRunFailures(r, 1) {
				t.Errorf("%s: %s\n%s", where, m, r)
			}
			if n := strings.Count(r.stderr, "\n"); n != 1 {
				t.Errorf("%s: want one error line, got %d: %q", where, n, hostileClip(r.stderr, 600))
			}
			for _, m := range hostileErrLines(r.stderr, c.names...) {
				t.Errorf("%s: %s", where, m)
			}
			if d := hostileDiff(before, hostileMustSnap(t, root)); len(d) > 0 {
				t.Errorf("%s: changed the root: %s", where, strings.Join(d, "; "))
			}
			if j, _ := filepath.Glob(filepath.Join(root, fixture.StoreDir, "snapshots", "*.jsonl")); len(j) > 0 {
				t.Errorf("%s: recorded an apply (%s)", where, strings.Join(j, ", "))
			}
			if d := outBefore.Diff(hostileMustSnap(t, filepath.Join(base, "a", "etc"))); len(d) > 0 {
				t.Errorf("%s: wrote outside the root (%s): %s", where, outsidePasswd, strings.Join(d, "; "))
			}
			if _, err := os.Stat(touched); err == nil {
				t.Errorf("%s: ran the plan's then command (%s exists)", where, touched)
			}
		})
	}
}

// hostileChange finds a saved plan's change by resource.
func hostileChange(t *testing.T, cs []map[string]any, resource string) map[string]any {
	t.Helper()
	for _, c := range cs {
		if c["resource"] == resource {
			return c
		}
	}
	t.Fatalf("saved plan has no change for %s", resource)
	return nil
}

// TestHostilePlanOutMode: plan --out over an existing world-readable file
// leaves it 0600, as the README promises for a saved plan (it holds whole
// file contents).
func TestHostilePlanOutMode(t *testing.T) {
	t.Parallel()
	const name = "pi5-16gb-nvme-bookworm"
	base := t.TempDir()
	root := hostileCopy(t, base, name)
	planFile := filepath.Join(base, "existing.plan")
	hostileWrite(t, planFile, "an older file\n", 0o644)
	r := hostileRun(hostileOpts{}, "plan", "--root", root, "--out", planFile)
	for _, m := range hostileRunFailures(r, 0) {
		t.Errorf("fixture %s, command plan --out over an existing 0644 file: %s", name, m)
	}
	if st, err := os.Stat(planFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("fixture %s, command plan --out over an existing 0644 file: mode %v (%v), want 0600", name, st.Mode().Perm(), err)
	}
}

// hostileOpenStore makes the store's directories before any apply, mode
// 0777 (as a careless image build or another user could leave them).
func hostileOpenStore(t *testing.T, root string) {
	t.Helper()
	for _, d := range []string{fixture.StoreDir, fixture.StoreDir + "/snapshots"} {
		p := filepath.Join(root, d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o777); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHostileOpenStore: a store whose directories already exist with mode
// 0777 ends 0700 after apply (files 0600), or apply refuses naming it.
func TestHostileOpenStore(t *testing.T) {
	t.Parallel()
	for _, name := range fixture.Names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			root := hostileCopy(t, base, name)
			hostileOpenStore(t, root)
			where := fmt.Sprintf("fixture %s, store made 0777 before the first apply, command apply", name)
			r := hostileRun(hostileOpts{}, "apply", "--root", root, "--yes")
			for _, m := range hostileRunFailures(r, 0, 1) {
				t.Errorf("%s: %s", where, m)
			}
			if r.code == 1 {
				for _, m := range hostileErrLines(r.stderr, "/"+fixture.StoreDir) {
					t.Errorf("%s: %s", where, m)
				}
				return
			}
			filepath.WalkDir(filepath.Join(root, fixture.StoreDir), func(p string, d os.DirEntry, err error) error {
				if err != nil {
					return err
				}
				st, err := os.Lstat(p)
				if err != nil {
					return err
				}
				want := os.FileMode(0o600)
				if d.IsDir() {
					want = 0o700
				}
				if st.Mode().Perm() != want {
					rel, _ := filepath.Rel(root, p)
					t.Errorf("%s: /%s is %04o after apply, want %04o", where, rel, st.Mode().Perm(), want)
				}
				return nil
			})
		})
	}
}

// TestHostileForeignJournal: a journal another user (uid 65534) planted in
// a store left 0777, claiming a later apply whose "prior" content for an
// owned file is the attacker's. rollback must not act on it: that content
// never lands in the root, and a successful rollback undoes the real apply
// byte for byte.
func TestHostileForeignJournal(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to plant a file owned by another user (uid 65534)")
	}
	const name = "pi5-16gb-nvme-bookworm"
	const marker = "hostile-foreign-journal"
	evil := "kernel.core_pattern = |/tmp/" + marker + " %p\n"
	base := t.TempDir()

	// What apply writes to the sysctl.d file, learnt on a scratch copy, so
	// that the forged journal's "after" matches the host (no drift).
	scratch := hostileCopy(t, filepath.Join(base, "scratch"), name)
	if r := hostileRun(hostileOpts{}, "apply", "--root", scratch, "--yes"); r.code != 0 {
		t.Fatalf("fixture %s, command apply (scratch): %s", name, r)
	}
	written, err := os.ReadFile(filepath.Join(scratch, "etc/sysctl.d/90-ezedge-host.conf"))
	if err != nil {
		t.Fatal(err)
	}

	root := hostileCopy(t, base, name)
	orig := hostileMustSnap(t, root)
	hostileOpenStore(t, root)
	const id = "20991231T235959Z"
	lines := []map[string]any{
		{"op": "begin", "format_version": 1, "id": id, "time": "2099-12-31T23:59:59Z", "platform": "rpi5", "board": "Raspberry Pi 5 Model B Rev 1.0", "i": 0},
		{"op": "before", "i": 0, "task": "swappiness", "resource": "file:/etc/sysctl.d/90-ezedge-host.conf", "state": map[string]any{"exists": true, "data": hostileB64(evil), "mode": 0o644}},
		{"op": "after", "i": 0, "state": map[string]any{"exists": true, "data": base64.StdEncoding.EncodeToString(written), "mode": 0o644}, "desired": map[string]any{"exists": true, "data": base64.StdEncoding.EncodeToString(written), "mode": 0o644}},
		{"op": "commit", "i": 0},
	}
	var j bytes.Buffer
	for _, l := range lines {
		b, _ := json.Marshal(l)
		j.Write(append(b, '\n'))
	}
	planted := filepath.Join(root, fixture.StoreDir, "snapshots", id+".jsonl")
	hostileWrite(t, planted, j.String(), 0o644)
	if err := os.Chown(planted, 65534, 65534); err != nil {
		t.Fatal(err)
	}

	noEvil := func(cmd string) {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			rel, _ := filepath.Rel(root, p)
			if err != nil || d.IsDir() || rel == fixture.StoreDir || strings.HasPrefix(rel, fixture.StoreDir+"/") || !d.Type().IsRegular() {
				return nil
			}
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(marker)) {
				t.Errorf("fixture %s, journal %s planted by uid 65534, command %s: acted on it: /%s now holds the planted content %q", name, id, cmd, rel, b)
			}
			return nil
		})
	}
	r := hostileRun(hostileOpts{}, "apply", "--root", root, "--yes")
	for _, m := range hostileRunFailures(r, 0, 1) {
		t.Errorf("fixture %s, planted journal, command apply: %s", name, m)
	}
	noEvil("apply")
	r = hostileRun(hostileOpts{}, "rollback", "--root", root, "--yes")
	for _, m := range hostileRunFailures(r, 0, 1) {
		t.Errorf("fixture %s, planted journal, command rollback: %s", name, m)
	}
	noEvil("rollback")
	switch r.code {
	case 0:
		if d := hostileDiff(orig, hostileMustSnap(t, root)); len(d) > 0 {
			t.Errorf("fixture %s, planted journal, command rollback: root not byte-identical to before apply: %s", name, strings.Join(d, "; "))
		}
	case 1:
		for _, m := range hostileErrLines(r.stderr) {
			t.Errorf("fixture %s, planted journal, command rollback: %s", name, m)
		}
	}
}

// TestHostileTruncatedJournal: a real journal cut at every byte offset (a
// crash tears the last write) reads as an interrupted apply in plan,
// status and history, never as corrupt, and rollback ends byte-identical.
// The root is put in the state the cut implies: before the prior states
// are complete on disk nothing was changed yet; after, every change may
// have been made.
func TestHostileTruncatedJournal(t *testing.T) {
	t.Parallel()
	const name = "pi4-8gb-bullseye"
	base := t.TempDir()
	// Only swappiness: a short journal (one sysctl, one owned file) keeps
	// every-offset affordable while covering both kinds of prior state.
	prof := filepath.Join(base, "swappiness.yaml")
	var pb strings.Builder
	pb.WriteString("version: 1\ntasks:\n  swappiness: {enabled: true, value: 10}\n")
	// Every other task off, from the registry: a task added later (one
	// on by default for this SD-card fixture) must not lengthen the
	// journal, whose every offset is cut.
	for _, task := range tasks.All() {
		if task.Name() != "swappiness" {
			pb.WriteString("  " + task.Name() + ": {enabled: false}\n")
		}
	}
	hostileWrite(t, prof, pb.String(), 0o644)

	ref := hostileCopy(t, filepath.Join(base, "ref"), name)
	orig := hostileMustSnap(t, ref)
	if r := hostileRun(hostileOpts{}, "apply", "--root", ref, "--yes", "--profile", prof); r.code != 0 {
		t.Fatalf("fixture %s, command apply: %s", name, r)
	}
	jpath := hostileJournals(t, ref)[0]
	journal, err := os.ReadFile(jpath)
	if err != nil {
		t.Fatal(err)
	}
	jname := filepath.Base(jpath)
	// The applied tree without its store, to copy for the later cuts.
	applied := filepath.Join(base, "applied")
	if err := fixture.CopyTree(ref, applied); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(applied, fixture.StoreDir))
	beforesEnd := 0
	off := 0
	for _, l := range bytes.SplitAfter(journal, []byte("\n")) {
		off += len(l)
		if bytes.Contains(l, []byte(`"op":"before"`)) {
			beforesEnd = off
		}
	}
	if beforesEnd == 0 {
		t.Fatalf("journal %s has no before record:\n%s", jname, journal)
	}

	var ks []int
	for k := 0; k < len(journal); k++ {
		// -short: the record boundaries, either side of the point where
		// the prior states are complete, and a spread in between.
		if !testing.Short() || k%61 == 0 || k == beforesEnd || k == beforesEnd-1 || (k > 0 && journal[k-1] == '\n') {
			ks = append(ks, k)
		}
	}
	t.Logf("journal %s: %d bytes, prior states complete at %d; %d cuts", jname, len(journal), beforesEnd, len(ks))

	// Failures are gathered per command and kind, with the offsets, so an
	// every-offset run reports a few lines rather than thousands.
	type key struct{ cmd, what string }
	var mu sync.Mutex
	fails := map[key][]int{}
	example := map[key]string{}
	report := func(k int, cmd, what, detail string) {
		mu.Lock()
		defer mu.Unlock()
		kk := key{cmd, what}
		fails[kk] = append(fails[kk], k)
		if _, ok := example[kk]; !ok {
			example[kk] = fmt.Sprintf("k=%d: %s", k, detail)
		}
	}
	one := func(k int) {
		dir, err := os.MkdirTemp(base, "cut")
		if err != nil {
			report(k, "setup", err.Error(), "")
			return
		}
		defer os.RemoveAll(dir)
		root := filepath.Join(dir, "root")
		src := filepath.Join(fixture.Testdata(), name)
		if k >= beforesEnd {
			src = applied
		}
		if err := fixture.CopyTree(src, root); err != nil {
			report(k, "setup", err.Error(), "")
			return
		}
		snaps := filepath.Join(root, fixture.StoreDir, "snapshots")
		if err := os.MkdirAll(snaps, 0o700); err != nil {
			report(k, "setup", err.Error(), "")
			return
		}
		os.Chmod(filepath.Join(root, fixture.StoreDir), 0o700)
		if err := os.WriteFile(filepath.Join(snaps, jname), journal[:k], 0o600); err != nil {
			report(k, "setup", err.Error(), "")
			return
		}
		for _, c := range []struct {
			cmd  string
			args []string
			want string
		}{
			{"plan", []string{"plan", "--root", root, "--profile", prof}, "was interrupted"},
			{"status", []string{"status", "--root", root}, "interrupted"},
			{"history", []string{"history", "--root", root}, "interrupted"},
		} {
			r := hostileRun(hostileOpts{}, c.args...)
			for _, m := range hostileRunFailures(r, 0) {
				report(k, c.cmd, m, hostileClip(r.stderr, 300))
			}
			if out := r.stdout + r.stderr; strings.Contains(strings.ToLower(out), "corrupt") {
				report(k, c.cmd, "reads the torn journal as corrupt", hostileClip(r.stderr+r.stdout, 300))
			}
			if !strings.Contains(r.stdout, c.want) {
				report(k, c.cmd, fmt.Sprintf("does not report the apply as interrupted (no %q)", c.want), hostileClip(r.stdout+r.stderr, 300))
			}
		}
		r := hostileRun(hostileOpts{}, "rollback", "--root", root, "--yes")
		for _, m := range hostileRunFailures(r, 0) {
			report(k, "rollback", m, hostileClip(r.stderr, 300))
		}
		after, err := hostileSnap(root)
		if err != nil {
			report(k, "rollback", err.Error(), "")
			return
		}
		if d := hostileDiff(orig, after); len(d) > 0 {
			report(k, "rollback", "root not byte-identical to before the apply", strings.Join(d, "; "))
		}
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for range 2 * runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				one(k)
			}
		}()
	}
	for _, k := range ks {
		work <- k
	}
	close(work)
	wg.Wait()

	keys := make([]key, 0, len(fails))
	for k := range fails {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return strings.Compare(a.cmd+a.what, b.cmd+b.what) })
	for _, kk := range keys {
		offs := fails[kk]
		slices.Sort(offs)
		t.Errorf("fixture %s, journal %s cut to k bytes, command %s: %s at %d of %d offsets (%s); first: %s",
			name, jname, kk.cmd, kk.what, len(offs), len(ks), hostileRanges(offs), example[kk])
	}
}

// hostileRanges prints sorted offsets as ranges: "0-5, 9, 12-40".
func hostileRanges(xs []int) string {
	var parts []string
	for i := 0; i < len(xs); {
		j := i
		for j+1 < len(xs) && xs[j+1] == xs[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, fmt.Sprint(xs[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", xs[i], xs[j]))
		}
		i = j + 1
	}
	s := strings.Join(parts, ", ")
	return hostileClip(s, 400)
}
