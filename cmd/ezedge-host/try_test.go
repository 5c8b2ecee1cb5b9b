package main

import (
	"strings"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// TestTryApply: apply --confirm-within reverts by itself when nobody
// confirms, from a process that outlives the command (here a fixture root,
// so a detached process; on a live host a systemd timer), and stays when
// confirmed.
func TestTryApply(t *testing.T) {
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	orig := fixture.Snapshot(t, root)
	_, code, out := runDie(t, 0, "apply", "--root", root, "--yes", "--confirm-within", "2s")
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
	_, code, out = runDie(t, 0, "apply", "--root", root, "--yes", "--confirm-within", "2s")
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
