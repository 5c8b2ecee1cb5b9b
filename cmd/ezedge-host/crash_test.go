package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// runDie runs the production binary, asking it to SIGKILL itself after its
// k-th durable step (0: never). It reports whether it was killed.
func runDie(t *testing.T, k int, args ...string) (killed bool, code int, out string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "EZEDGE_TEST_DIE_AT="+strconv.Itoa(k))
	b, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true, -1, string(b)
		}
		return false, ee.ExitCode(), string(b)
	}
	if err != nil {
		t.Fatal(err)
	}
	return false, 0, string(b)
}

// TestCrashAtEveryStep kills apply right after each of its durable steps,
// on every fixture. After each kill: no file is half-written (each is as it
// was or as the full apply leaves it; a kernel command line, where each
// argument is a resource of its own, holds each argument as it was or as
// applied), plan reports the interrupted apply,
// a rollback that is itself killed midway and run again restores the root
// byte for byte, and a further rollback changes nothing.
func TestCrashAtEveryStep(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the binary a few hundred times")
	}
	total := 0
	for _, name := range fixture.Names {
		t.Run(name, func(t *testing.T) {
			full := fixture.Copy(t, name)
			if killed, code, out := runDie(t, 0, "apply", "--root", full, "--yes"); killed || code != 0 {
				t.Fatalf("full apply: %s", out)
			}
			done := fixture.Snapshot(t, full, fixture.StoreDir)
			points := 0
			for k := 1; ; k++ {
				root := fixture.Copy(t, name)
				orig := fixture.Snapshot(t, root)
				killed, code, out := runDie(t, k, "apply", "--root", root, "--yes")
				if !killed {
					if code != 0 {
						t.Fatalf("apply (k=%d): exit %d: %s", k, code, out)
					}
					break
				}
				points++
				for p, v := range fixture.Snapshot(t, root, fixture.StoreDir) {
					if v != orig[p] && v != done[p] && !argsBetween(orig[p], done[p], v) {
						t.Errorf("k=%d: %s is neither as before nor as applied: %.100s", k, p, v)
					}
				}
				plan := cli("plan", "--root", root).must(t, 0)
				if !strings.Contains(plan.stdout, "was interrupted") && !strings.Contains(plan.stdout, "No changes") {
					t.Errorf("k=%d: plan does not report the interrupted apply:\n%s", k, plan.stdout)
				}
				if killed, code, out := runDie(t, 2, "rollback", "--root", root, "--yes"); !killed && code != 0 {
					t.Fatalf("k=%d: first rollback: exit %d: %s", k, code, out)
				} else if killed {
					if _, code, out := runDie(t, 0, "rollback", "--root", root, "--yes"); code != 0 {
						t.Fatalf("k=%d: rollback after a killed rollback: exit %d: %s", k, code, out)
					}
				}
				if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
					t.Fatalf("k=%d: not byte-identical after rollback:\n%s", k, strings.Join(d, "\n"))
				}
				runDie(t, 0, "rollback", "--root", root, "--yes")
				if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
					t.Fatalf("k=%d: a second rollback changed the root:\n%s", k, strings.Join(d, "\n"))
				}
			}
			if points < 3 {
				t.Fatalf("only %d kill points", points)
			}
			t.Logf("%d kill points, each restored byte-identical", points)
			total += points
		})
	}
	t.Logf("%d kill points in all", total)
}

// argsBetween reports whether the pictured file now, a command line cut
// between two of the apply's per-argument writes, is made of words that were
// there before or are there after, keeping every word both have. Quotes are
// dropped from words so that GRUB's "..." value compares word by word.
func argsBetween(before, after, now string) bool {
	words := func(pic string) (map[string]bool, bool) {
		mode, q, ok := strings.Cut(strings.TrimPrefix(pic, "file "), " ")
		if !ok || !strings.HasPrefix(pic, "file ") || mode == "" {
			return nil, false
		}
		s, err := strconv.Unquote(q)
		if err != nil {
			return nil, false
		}
		m := map[string]bool{"mode " + mode: true}
		for _, w := range strings.Fields(s) {
			m[strings.Trim(w, `"'`)] = true
		}
		return m, true
	}
	b, ok1 := words(before)
	a, ok2 := words(after)
	n, ok3 := words(now)
	if !ok1 || !ok2 || !ok3 {
		return false
	}
	for w := range n {
		if !b[w] && !a[w] {
			return false
		}
	}
	for w := range b {
		if a[w] && !n[w] {
			return false
		}
	}
	return true
}

// TestCrashDuringRollback kills the rollback of a complete apply after each
// of its durable steps; the next rollback finishes the job byte-identical.
func TestCrashDuringRollback(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"pi5-16gb-nvme-bookworm", "amd64-intel-32gb-2nvme"} {
		points := 0
		for j := 1; ; j++ {
			root := fixture.Copy(t, name)
			orig := fixture.Snapshot(t, root)
			applyYes(t, root)
			killed, code, out := runDie(t, j, "rollback", "--root", root, "--yes")
			if !killed {
				if code != 0 {
					t.Fatalf("%s j=%d: rollback: %s", name, j, out)
				}
				break
			}
			points++
			if h := cli("history", "--root", root).must(t, 0); strings.Contains(h.stdout, "rolled back") && !strings.Contains(h.stdout, "partly") {
				t.Errorf("%s j=%d: a killed rollback is recorded as complete:\n%s", name, j, h.stdout)
			}
			if _, code, out := runDie(t, 0, "rollback", "--root", root, "--yes"); code != 0 {
				t.Fatalf("%s j=%d: second rollback: %s", name, j, out)
			}
			if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
				t.Fatalf("%s j=%d: not byte-identical:\n%s", name, j, strings.Join(d, "\n"))
			}
		}
		if points < 10 {
			t.Fatalf("%s: only %d rollback kill points", name, points)
		}
		t.Logf("%s: %d rollback kill points, each finished byte-identical", name, points)
	}
}

func execBin(args ...string) *exec.Cmd { return exec.Command(bin, args...) }

// TestArgsBetween: the crash oracle accepts a command line part-way between
// before and after, and nothing else.
func TestArgsBetween(t *testing.T) {
	t.Parallel()
	pic := func(s string) string { return fmt.Sprintf("file 0644 %q", s) }
	before := pic("console=tty1 root=/dev/sda2 rootwait\n")
	after := pic("console=tty1 root=/dev/sda2 rootwait zswap.enabled=1 cgroup_enable=memory\n")
	for now, want := range map[string]bool{
		pic("console=tty1 root=/dev/sda2 rootwait zswap.enabled=1\n"):          true,
		pic("console=tty1 root=/dev/sda2 rootwait cgroup_enable=memory\n"):     true,
		pic("console=tty1 rootwait zswap.enabled=1\n"):                         false,
		pic("console=tty1 root=/dev/sda2 rootwait zswap.enabled=0\n"):          false,
		pic("console=tty1 root=/dev/sda2 rootwait quiet\n"):                    false,
		"file 0600 " + strconv.Quote("console=tty1 root=/dev/sda2 rootwait\n"): false,
		"link -> elsewhere": false,
	} {
		if got := argsBetween(before, after, now); got != want {
			t.Errorf("argsBetween(%s) = %v, want %v", now, got, want)
		}
	}
}
