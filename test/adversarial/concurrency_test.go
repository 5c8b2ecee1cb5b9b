//go:build linux

package adversarial

// Concurrency. apply and rollback hold an flock(2) while they change the
// host; plan, status and history take no lock and may run at any moment,
// so they read a journal that is being written. They must never fail or
// call the store corrupt because of that, and a second apply must be
// turned away at once, naming the holder.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// fsyncDelay slows every fsync of the apply under strace, so that it holds
// the lock for seconds (the Pi 5 apply makes 22 fsyncs) and the readers run
// at every stage of it: journal begun, prior states recorded, each
// resource written, commit.
const fsyncDelay = "200ms"

func TestConcurrentReadersAndSecondApply(t *testing.T) {
	requireStrace(t)
	name := "pi5-16gb-nvme-bookworm"
	root := fixture.Copy(t, name)
	orig := fixture.Snapshot(t, root)

	slow := exec.Command("strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync",
		"-e", "inject=fsync:delay_enter="+fsyncDelay, bin, "apply", "--root", root, "--yes")
	var slowOut strings.Builder
	slow.Stdout, slow.Stderr = &slowOut, &slowOut
	if err := slow.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- slow.Wait() }()
	finished := func() bool {
		select {
		case err := <-done:
			done <- err
			return true
		default:
			return false
		}
	}
	t.Cleanup(func() {
		if !finished() {
			slow.Process.Kill()
			<-done
		}
	})

	// The holder is strace's child; it writes "PID ezedge-host apply" into
	// the lock file once it has the lock. (strace forks a short-lived
	// child of its own first, to probe ptrace: so any child will do.)
	lockFile := filepath.Join(root, fixture.StoreDir, "lock")
	var holder int
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(lockFile)
		pid, cmd, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		if n, err := strconv.Atoi(pid); err == nil && cmd == "ezedge-host apply" && slices.Contains(childrenOf(slow.Process.Pid), n) {
			holder = n
			break
		}
		if finished() || time.Now().After(deadline) {
			t.Fatalf("the slowed apply never showed as the lock holder (lock file %q); it printed:\n%s", b, slowOut.String())
		}
		time.Sleep(5 * time.Millisecond)
	}

	// A second apply while the first holds the lock: exit 1 at once,
	// naming the holder's pid, while the first is still running.
	start := time.Now()
	second := ezedge(t, "apply", "--root", root, "--yes")
	took := time.Since(start)
	if second.code != 1 || !strings.Contains(second.stderr, strconv.Itoa(holder)) {
		t.Errorf("a second apply while pid %d holds the lock: want exit 1 naming pid %d: %s", holder, holder, second)
	}
	if finished() {
		t.Errorf("the second apply returned only after the first had finished (%s): it waited for the lock instead of failing at once: %s", took, second)
	}
	t.Logf("second apply: exit %d after %s: %s", second.code, took.Round(time.Millisecond), strings.TrimSpace(second.stderr))

	// Readers, over and over, until the apply is done.
	readers := [][]string{
		{"plan", "--detailed-exitcode"},
		{"plan", "--output", "json"},
		{"status"},
		{"status", "--output", "json"},
		{"history"},
		{"history", "--output", "json"},
	}
	said := map[string]int{}
	rounds, interrupted := 0, 0
	for !finished() {
		rounds++
		for _, args := range readers {
			r := ezedge(t, append(args, "--root", root)...)
			ok := r.code == 0 || (args[0] == "plan" && args[1] == "--detailed-exitcode" && r.code == 2)
			if !ok || strings.Contains(strings.ToLower(r.out()), "corrupt") {
				t.Errorf("while pid %d applies (round %d): %s", holder, rounds, strings.ReplaceAll(r.String(), root, "<root>"))
			}
			if r.code == 0 && slices.Contains(args, "json") && !json.Valid([]byte(r.stdout)) {
				t.Errorf("while pid %d applies (round %d): not valid JSON: %s", holder, rounds, r)
			}
			if args[0] == "status" && len(args) == 1 {
				for _, l := range strings.Split(strings.TrimSpace(r.out()), "\n") {
					said[strings.ReplaceAll(l, root, "<root>")]++
					if strings.Contains(l, "interrupted") {
						interrupted++
					}
				}
			}
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("the slowed apply failed: %v\n%s", err, slowOut.String())
	}
	done <- nil
	t.Logf("%d rounds of %d readers while pid %d applied; status said (lines, times):", rounds, len(readers), holder)
	var lines []string
	for l := range said {
		lines = append(lines, l)
	}
	sort.Strings(lines)
	for _, l := range lines {
		t.Logf("  %4d× %s", said[l], l)
	}
	// Calling a running apply interrupted would tell an operator to roll
	// back an apply that is running (docs/reliability.md, Concurrency).
	if interrupted > 0 {
		t.Errorf("status called the running apply interrupted %d times instead of in progress (holder pid %d)", interrupted, holder)
	}

	// And the apply the readers watched rolls back byte-identical.
	if r := ezedge(t, "rollback", "--root", root, "--yes"); r.code != 0 {
		t.Fatalf("rollback after the slowed apply: %s", r)
	}
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Errorf("not byte-identical after the slowed apply's rollback:\n%s", strings.Join(d, "\n"))
	}
}

// childrenOf lists the child processes of pid.
func childrenOf(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, so split after ")".
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}
