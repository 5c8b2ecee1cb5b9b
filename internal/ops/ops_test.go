package ops

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/rollback"
)

// host opens a copy of fixture name; notes collects what it says on its
// own.
func host(t *testing.T, name string) (*Host, string, *[]string) {
	t.Helper()
	root := fixture.Copy(t, name)
	x, err := Open(root, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.Close)
	var notes []string
	x.Notify = func(m string) { notes = append(notes, m) }
	return x, root, &notes
}

// defaults is a request with the root's own profile (none in fixtures:
// the platform defaults).
func defaults(t *testing.T, x *Host) Request {
	t.Helper()
	p, err := x.Profile(profile.Default())
	if err != nil {
		t.Fatal(err)
	}
	return Request{Profile: p}
}

// TestApplyPlansAgainUnderLock: what is applied is what was reviewed; a
// host that changed between the review and the lock is refused, nothing
// changed.
func TestApplyPlansAgainUnderLock(t *testing.T) {
	t.Parallel()
	x, root, _ := host(t, "pi5-16gb-nvme-bookworm")
	reviewed := 0
	req := ApplyRequest{Request: defaults(t, x), Review: func(p *plan.Plan) error {
		reviewed = len(p.Pending())
		// Someone else is quicker, meanwhile.
		return os.WriteFile(filepath.Join(root, "proc/sys/vm/swappiness"), []byte("30\n"), 0o644)
	}}
	before := fixture.Snapshot(t, root, fixture.StoreDir)
	res, err := x.Apply(req)
	if err == nil || res != nil || !strings.Contains(err.Error(), "the host changed since the plan was made (sysctl:vm.swappiness)") || reviewed == 0 {
		t.Fatalf("apply over a changed host: %v %v (reviewed %d)", res, err, reviewed)
	}
	d := before.Diff(fixture.Snapshot(t, root, fixture.StoreDir))
	if len(d) != 1 || !strings.Contains(d[0], "proc/sys/vm/swappiness") {
		t.Errorf("changed besides the operator's write: %v", d)
	}
	// Refused at review: nothing locked, nothing changed.
	req.Review = func(*plan.Plan) error { return errors.New("no") }
	if _, err := x.Apply(req); err == nil || err.Error() != "no" {
		t.Errorf("review refused: %v", err)
	}
}

// TestApplyWaitsForNobody: another holder of the lock makes apply fail at
// once, naming it, with nothing changed; with a timeout it waits.
func TestApplyWaitsForNobody(t *testing.T) {
	t.Parallel()
	x, root, _ := host(t, "pi4-8gb-bullseye")
	unlock, err := x.Store.Lock(0, "someone else")
	if err != nil {
		t.Fatal(err)
	}
	before := fixture.Snapshot(t, root, fixture.StoreDir)
	if _, err := x.Apply(ApplyRequest{Request: defaults(t, x)}); err == nil || !strings.Contains(err.Error(), "someone else") {
		t.Fatalf("apply under another's lock: %v", err)
	}
	if d := before.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("changed: %v", d)
	}
	go func() { time.Sleep(300 * time.Millisecond); unlock() }()
	res, err := x.Apply(ApplyRequest{Request: defaults(t, x), LockTimeout: time.Minute})
	if err != nil || res.Applied.ID == "" {
		t.Fatalf("apply after waiting: %v", err)
	}
}

// TestTryApplyArmOrUndo: a try apply whose revert cannot be armed is not
// kept: it is rolled back at once, and the root is as before.
func TestTryApplyArmOrUndo(t *testing.T) {
	t.Parallel()
	x, root, _ := host(t, "amd64-amd-16gb-nocpufreq")
	orig := fixture.Snapshot(t, root)
	res, err := x.Apply(ApplyRequest{Request: defaults(t, x), Within: time.Minute, Self: ""})
	if !errors.As(err, new(NotArmedError)) || !strings.Contains(err.Error(), "the apply was rolled back") || res == nil || res.Pending != nil {
		t.Fatalf("unarmed try apply: %v %+v", err, res)
	}
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Errorf("not rolled back: %v", d)
	}
}

// TestTryApplyOverdue: a try apply whose revert never ran (its process
// died) is rolled back by the next command that takes the lock, which
// says so; confirm then finds nothing to keep, and says why.
func TestTryApplyOverdue(t *testing.T) {
	t.Parallel()
	x, root, notes := host(t, "pi5-8gb-trixie-zram")
	orig := fixture.Snapshot(t, root)
	// /bin/true stands in for the revert process: it exits at once, as
	// one killed would.
	res, err := x.Apply(ApplyRequest{Request: defaults(t, x), Within: 30 * time.Second, Self: "/bin/true"})
	if err != nil || res.Pending == nil {
		t.Fatalf("try apply: %v", err)
	}
	id := res.Applied.ID
	x.Now = func() time.Time { return time.Now().Add(time.Minute) }
	if _, err := x.Confirm(id, 0); err == nil || !strings.Contains(err.Error(), "was not confirmed by its deadline and has been rolled back") {
		t.Fatalf("confirm after the deadline: %v", err)
	}
	if len(*notes) != 1 || !strings.Contains((*notes)[0], "apply "+id+" was not confirmed in time and its revert had not run: rolled it back first") {
		t.Errorf("notes: %q", *notes)
	}
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Errorf("not rolled back: %v", d)
	}
	if _, err := x.Confirm("", 0); err == nil || !strings.Contains(err.Error(), "no apply is waiting") {
		t.Errorf("confirm with none waiting: %v", err)
	}
}

// TestConfirmKeeps: a try apply confirmed in time stays through its
// deadline.
func TestConfirmKeeps(t *testing.T) {
	t.Parallel()
	x, root, _ := host(t, "pi4-8gb-bullseye")
	res, err := x.Apply(ApplyRequest{Request: defaults(t, x), Within: 30 * time.Second, Self: "/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	applied := fixture.Snapshot(t, root, fixture.StoreDir)
	done, err := x.Confirm(res.Applied.ID, 0)
	if err != nil || len(done.Confirmed) != 1 || done.Confirmed[0] != res.Applied.ID {
		t.Fatalf("confirm: %v %v", done, err)
	}
	x.Now = func() time.Time { return time.Now().Add(time.Hour) }
	if ids, err := x.RevertIfUnconfirmed(res.Applied.ID, time.Time{}); err != nil || len(ids) > 0 {
		t.Fatalf("revert of a confirmed apply: %v %v", ids, err)
	}
	if d := applied.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Errorf("a confirmed apply changed: %v", d)
	}
}

// TestRollbackDrift: a resource changed since the apply is left alone and
// the rollback says so (DriftError); Force restores it; the root ends as
// before.
func TestRollbackDrift(t *testing.T) {
	t.Parallel()
	x, root, _ := host(t, "pi5-16gb-nvme-bookworm")
	orig := fixture.Snapshot(t, root)
	if _, err := x.Apply(ApplyRequest{Request: defaults(t, x)}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "proc/sys/vm/swappiness"), []byte("33\n"), 0o644)
	var reviewed []*rollback.Record
	res, err := x.Rollback(RollbackRequest{Review: func(r []*rollback.Record) error { reviewed = r; return nil }})
	if !errors.As(err, new(DriftError)) || len(reviewed) != 1 || res == nil || len(res.Outcomes[0].LeftAlone) != 1 {
		t.Fatalf("rollback over drift: %v %+v", err, res)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "proc/sys/vm/swappiness")); string(b) != "33\n" {
		t.Errorf("drifted value touched: %q", b)
	}
	if _, err := x.Rollback(RollbackRequest{Force: true}); err != nil {
		t.Fatal(err)
	}
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Errorf("not byte-identical: %v", d)
	}
	if _, err := x.Rollback(RollbackRequest{}); err == nil || !strings.Contains(err.Error(), "nothing to roll back") {
		t.Errorf("second rollback: %v", err)
	}
}
