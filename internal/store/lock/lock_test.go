package lock

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

func open(t *testing.T) *hostroot.Root {
	t.Helper()
	h, err := hostroot.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// TestTakeRelease: one holder at a time; a second Take fails naming the
// holder, and Holder sees it without taking it; once released the lock is
// free again.
func TestTakeRelease(t *testing.T) {
	t.Parallel()
	h := open(t)
	if _, held, known := Holder(h); held || !known {
		t.Fatalf("before any lock: held %v known %v", held, known)
	}
	l, err := Take(h, 0, "ezedge-host apply")
	if err != nil {
		t.Fatal(err)
	}
	who, held, known := Holder(h)
	if !held || !known || !strings.Contains(who, "ezedge-host apply") || !strings.HasPrefix(who, strconv.Itoa(os.Getpid())) {
		t.Errorf("Holder = %q %v %v", who, held, known)
	}
	if _, err := Take(h, 0, "ezedge-host rollback"); err == nil || !strings.Contains(err.Error(), "ezedge-host apply") {
		t.Errorf("second Take: %v", err)
	}
	l.Release()
	if _, held, _ := Holder(h); held {
		t.Error("held after Release")
	}
	l2, err := Take(h, 0, "again")
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	l2.Release()
}

// TestWaitForRelease: with a timeout, Take waits for the holder to let go.
func TestWaitForRelease(t *testing.T) {
	t.Parallel()
	h := open(t)
	l, err := Take(h, 0, "first")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		l.Release()
	}()
	l2, err := Take(h, 10*time.Second, "second")
	if err != nil {
		t.Fatalf("waiting Take: %v", err)
	}
	l2.Release()
}

// TestDiesWithHolder: the kernel releases an open file description lock
// when its holder dies; a lock file left behind blocks nobody.
func TestDiesWithHolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h, err := hostroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	// The holder is another process: this test binary run again.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldInChild$")
	cmd.Env = append(os.Environ(), "EZEDGE_LOCK_ROOT="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := out.Read(buf); err != nil || string(buf) != "held\n" {
		t.Fatalf("child: %q %v", buf, err)
	}
	if _, held, _ := Holder(h); !held {
		t.Error("the child's lock is not seen")
	}
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(dir, File)); err != nil {
		t.Fatalf("lock file: %v", err)
	}
	l, err := Take(h, 0, "after the holder died")
	if err != nil {
		t.Fatalf("lock of a dead holder: %v", err)
	}
	l.Release()
}

// TestHoldInChild is TestDiesWithHolder's child: it takes the lock and
// waits to be killed.
func TestHoldInChild(t *testing.T) {
	dir := os.Getenv("EZEDGE_LOCK_ROOT")
	if dir == "" {
		t.Skip("run by TestDiesWithHolder")
	}
	h, err := hostroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Take(h, 0, "child")
	if err != nil {
		t.Fatal(err)
	}
	// Kept reachable: an unreachable Lock's file is closed by its
	// finalizer at the next GC, and the kernel then drops the lock.
	childLock = l
	os.Stdout.WriteString("held\n")
	select {}
}

// childLock keeps TestHoldInChild's lock alive until the process dies.
var childLock *Lock
