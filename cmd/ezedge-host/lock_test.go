package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// holdLock takes the host's lock as another ezedge-host would.
func holdLock(t *testing.T, root string) (release func()) {
	t.Helper()
	dir := filepath.Join(root, fixture.StoreDir)
	os.MkdirAll(dir, 0o700)
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLKW, &unix.Flock_t{Type: unix.F_WRLCK}); err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("4242 ezedge-host apply\n"), 0)
	return func() { f.Close() }
}

func TestLock(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	orig := fixture.Snapshot(t, root, fixture.StoreDir)
	release := holdLock(t, root)
	r := cli("apply", "--root", root, "--yes").must(t, 1)
	if !strings.Contains(r.stderr, "another ezedge-host is changing this host (pid and command: 4242 ezedge-host apply)") {
		t.Errorf("stderr: %q", r.stderr)
	}
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("a locked-out apply changed the root: %v", d)
	}
	cli("rollback", "--root", root, "--yes").must(t, 1)

	// --lock-timeout waits for the holder.
	go func() { time.Sleep(200 * time.Millisecond); release() }()
	start := time.Now()
	cli("apply", "--root", root, "--yes", "--lock-timeout", "5s").must(t, 0)
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("did not wait for the lock (%s)", waited)
	}

	// A lock file left by a dead process (no lock held) never blocks.
	os.WriteFile(filepath.Join(root, fixture.StoreDir, "lock"), []byte(strconv.Itoa(999999)+" ezedge-host apply\n"), 0o600)
	cli("rollback", "--root", root, "--yes").must(t, 0)
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("not byte-identical: %v", d)
	}
}

// TestStaleUnderLock: apply plans, then waits for the lock; meanwhile the
// host changes. Once it has the lock it sees that, names the resource and
// changes nothing.
func TestStaleUnderLock(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	release := holdLock(t, root)
	cmd := execBin("apply", "--root", root, "--yes", "--lock-timeout", "10s")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	os.WriteFile(filepath.Join(root, "proc/sys/vm/swappiness"), []byte("55\n"), 0o644)
	before := fixture.Snapshot(t, root, fixture.StoreDir)
	release()
	err := cmd.Wait()
	if err == nil || !strings.Contains(out.String(), "the host changed since the plan was made (sysctl:vm.swappiness); nothing was changed") {
		t.Fatalf("apply: %v\n%s", err, out.String())
	}
	if d := before.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("a stale apply changed the root: %v", d)
	}
}
