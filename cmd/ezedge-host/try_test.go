package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// TestTryApply: apply --confirm-within reverts by itself when nobody
// confirms, from a process that outlives the command (here a fixture root,
// so a detached process; on a live host a systemd timer), and stays when
// confirmed.
func TestTryApply(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	orig := fixture.Snapshot(t, root)
	_, code, out := runBin(t, "apply", "--root", root, "--yes", "--confirm-within", "2s")
	if code != 0 || !strings.Contains(out, "Confirm within 2s") || !strings.Contains(out, "by process ") {
		t.Fatalf("try apply: exit %d: %s", code, out)
	}
	st := cli("status", "--root", root).must(t, 0)
	if !strings.Contains(st.stdout, "waits for confirmation") {
		t.Errorf("status: %s", st.stdout)
	}
	if readFile(t, root+"/proc/sys/vm/swappiness") != "10\n" {
		t.Fatal("not applied")
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("not reverted after the deadline:\n%s", strings.Join(d, "\n"))
	}
	if st := cli("status", "--root", root).must(t, 0); strings.Contains(st.stdout, "waits for confirmation") || !strings.Contains(st.stdout, "rolled back") {
		t.Errorf("status after the revert: %s", st.stdout)
	}

	// Confirmed in time: it stays.
	_, code, out = runBin(t, "apply", "--root", root, "--yes", "--confirm-within", "2s")
	if code != 0 {
		t.Fatal(out)
	}
	if c := cli("confirm", "--root", root).must(t, 0); !strings.Contains(c.stdout, "it stays") {
		t.Errorf("confirm: %s", c.stdout)
	}
	time.Sleep(3500 * time.Millisecond)
	if readFile(t, root+"/proc/sys/vm/swappiness") != "10\n" {
		t.Fatal("a confirmed apply was reverted")
	}
	cli("confirm", "--root", root).must(t, 1)
}

// TestTryApplyRevertDied: the revert process is killed (or the host
// rebooted) before the deadline. Once the deadline has passed, status and
// plan say the revert did not run, and the next command that changes the
// host reverts it first; confirm then refuses to keep it.
func TestTryApplyRevertDied(t *testing.T) {
	t.Parallel()
	for _, next := range []string{"apply", "rollback", "confirm"} {
		t.Run(next, func(t *testing.T) {
			t.Parallel()
			root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
			orig := fixture.Snapshot(t, root, fixture.StoreDir)
			_, code, out := runBin(t, "apply", "--root", root, "--yes", "--confirm-within", "2s")
			if code != 0 {
				t.Fatal(out)
			}
			m := regexp.MustCompile(`by process (\d+)`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no revert process in %q", out)
			}
			pid, _ := strconv.Atoi(m[1])
			syscall.Kill(pid, syscall.SIGKILL)
			time.Sleep(3 * time.Second)
			if st := cli("status", "--root", root).must(t, 0); !strings.Contains(st.stdout, "its revert has not run") || strings.Contains(st.stdout, "(in -") {
				t.Errorf("status after the deadline: %s", st.stdout)
			}
			if readFile(t, root+"/proc/sys/vm/swappiness") != "10\n" {
				t.Fatal("reverted although the revert process was killed")
			}
			var r result
			switch next {
			case "apply":
				r = cli("apply", "--root", root, "--yes").must(t, 0)
			case "rollback":
				r = cli("rollback", "--root", root, "--yes")
			case "confirm":
				r = cli("confirm", "--root", root).must(t, 1)
				if !strings.Contains(r.stderr, "was not confirmed by its deadline and has been rolled back") {
					t.Errorf("confirm after the deadline: %q", r.stderr)
				}
			}
			if !strings.Contains(r.stderr, "was not confirmed in time and its revert had not run: rolled it back first") {
				t.Errorf("%s did not say it reverted the overdue apply: %q", next, r.stderr)
			}
			if next != "apply" {
				if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
					t.Fatalf("not reverted by %s:\n%s", next, strings.Join(d, "\n"))
				}
			}
			if st := cli("status", "--root", root).must(t, 0); strings.Contains(st.stdout, "confirmation") || strings.Contains(st.stdout, "revert has not run") {
				t.Errorf("status still shows a pending confirmation: %s", st.stdout)
			}
		})
	}
}

// TestTryApplyScheduleFails: when the automatic revert cannot be armed,
// the apply is rolled back at once and the error says so.
func TestTryApplyScheduleFails(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the pending-confirmation directory to another user")
	}
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	orig := fixture.Snapshot(t, root, fixture.StoreDir)
	// The pending-confirmation directory is another user's: the revert
	// cannot be recorded there.
	dir := filepath.Join(root, fixture.StoreDir, "pending-confirm")
	os.MkdirAll(dir, 0o700)
	os.Chmod(filepath.Dir(dir), 0o700)
	os.Chown(dir, 65534, 65534)
	r := cli("apply", "--root", root, "--yes", "--confirm-within", "60s").must(t, 1)
	if !strings.Contains(r.stderr, "could not schedule the automatic revert") || !strings.Contains(r.stderr, "the apply was rolled back") {
		t.Errorf("stderr: %q", r.stderr)
	}
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("not rolled back:\n%s", strings.Join(d, "\n"))
	}
}

// TestConfirmRunsNothingForAnImage: a pending-confirmation file planted in
// an image names a command; confirm on that root runs nothing, and only
// the pending record goes.
func TestConfirmRunsNothingForAnImage(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	dir := filepath.Join(root, fixture.StoreDir, "pending-confirm")
	os.MkdirAll(dir, 0o700)
	os.Chmod(filepath.Join(root, fixture.StoreDir), 0o700)
	stubs := t.TempDir()
	ran := filepath.Join(stubs, "ran")
	for _, c := range []string{"systemctl", "systemd-run", "sh"} {
		os.WriteFile(filepath.Join(stubs, c), []byte("#!/bin/sh\necho "+c+" \"$@\" >> "+ran+"\n"), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "20260101T000000Z"), []byte(`{"deadline":"2099-01-01T00:00:00Z","how":"timer"}`+"\n"), 0o600)
	cmd := execBin("confirm", "--root", root)
	cmd.Env = append(os.Environ(), "PATH="+stubs)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Confirmed apply 20260101T000000Z") {
		t.Fatalf("confirm: %v %s", err, out)
	}
	if b, err := os.ReadFile(ran); err == nil {
		t.Fatalf("confirm ran a command for an image root: %s", b)
	}
}
