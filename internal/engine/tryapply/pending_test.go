package tryapply_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/tryapply"
	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/store/statedir"
)

// pendingDir is where the pending records are, in a root.
var pendingDir = strings.TrimPrefix(statedir.Path("pending-confirm"), "/")

// reverter is what the tests schedule as the reverting process: a
// program that does nothing, so that only the pending record matters.
const reverter = "/usr/bin/true"

// applied is a copy of fixture name with one apply made, opened; tree is
// the root before the apply.
func applied(t *testing.T, name string) (x *ops.Host, root, id string, before fixture.Tree) {
	t.Helper()
	root = fixture.Copy(t, name)
	before = fixture.Snapshot(t, root, fixture.StoreDir)
	x, err := ops.Open(root, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.Close)
	p, err := x.Profile(profile.Default())
	if err != nil {
		t.Fatal(err)
	}
	res, err := x.Apply(ops.ApplyRequest{Request: ops.Request{Profile: p}})
	if err != nil || res.Applied.ID == "" {
		t.Fatalf("apply: %v", err)
	}
	return x, root, res.Applied.ID, before
}

// TestListUntrusted: a pending record that cannot be read, is not JSON,
// has fields it should not or a way of reverting there is not, is still
// listed (an apply never confirmed) with no deadline, so that it is
// overdue and reverted rather than kept on a guess; a name that is not an
// apply id, and a hidden temporary file, are not listed; the list is in
// id order.
func TestListUntrusted(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(reverter); err != nil {
		t.Skip(err)
	}
	root := fixture.Copy(t, "pi4-8gb-bullseye")
	h, err := hostroot.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if ps, err := tryapply.List(h); err != nil || ps != nil {
		t.Fatalf("none waiting: %v %v", ps, err)
	}
	now := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	good, err := tryapply.Schedule(h, "20261129T080000Z", 90*time.Second+time.Millisecond, reverter, now)
	if err != nil {
		t.Fatal(err)
	}
	if good.How != tryapply.ByProcess || good.PID <= 0 || !good.Deadline.Equal(now.Add(91*time.Second)) || good.RevertBy() != "process "+strconv.Itoa(good.PID) {
		t.Fatalf("scheduled %+v (%s)", good, good.RevertBy())
	}
	dir := filepath.Join(root, pendingDir)
	for name, body := range map[string]string{
		"20261129T070000Z":   "not json",
		"20261129T070000Z-2": `{"deadline":"2026-11-29T09:00:00Z","how":"timer","extra":1}`,
		"20261129T070000Z-3": `{"deadline":"2026-11-29T09:00:00Z","how":"telepathy"}`,
		"not-an-id":          `{"deadline":"2026-11-29T09:00:00Z","how":"timer"}`,
		".20261129T070000Z":  `{}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "20261129T060000Z"), 0o700); err != nil {
		t.Fatal(err)
	}
	ps, err := tryapply.List(h)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.ID)
		if p.ID == good.ID {
			if p != good {
				t.Errorf("read back %+v, wrote %+v", p, good)
			}
			continue
		}
		if !p.Deadline.IsZero() || p.How != "" || !p.Overdue(now) || p.RevertBy() != "the next ezedge-host command that changes the host" {
			t.Errorf("untrusted %s read as %+v", p.ID, p)
		}
	}
	if want := "20261129T060000Z 20261129T070000Z 20261129T070000Z-2 20261129T070000Z-3 20261129T080000Z"; strings.Join(ids, " ") != want {
		t.Errorf("listed %q, want %q", ids, want)
	}
	if good.Overdue(now.Add(90*time.Second)) || !good.Overdue(now.Add(91*time.Second)) {
		t.Error("overdue before its deadline, or not at it")
	}
	if len(tryapply.Overdue(h, now)) != 4 {
		t.Errorf("overdue now: %v", tryapply.Overdue(h, now))
	}
}

// TestConfirm: confirming keeps the apply (its record goes, nothing is
// restored); an id not waiting is refused, naming it; "" confirms all.
func TestConfirm(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(reverter); err != nil {
		t.Skip(err)
	}
	x, root, id, before := applied(t, "pi5-16gb-nvme-bookworm")
	now := time.Now()
	if _, err := tryapply.Schedule(x.Root, id, time.Hour, reverter, now); err != nil {
		t.Fatal(err)
	}
	if _, err := tryapply.Confirm(x.Root, "20200101T000000Z"); err == nil || !strings.Contains(err.Error(), "apply 20200101T000000Z is not waiting for confirmation") {
		t.Errorf("another id: %v", err)
	}
	if !tryapply.IsPending(x.Root, id) {
		t.Fatal("refusing another id dropped this one")
	}
	done, err := tryapply.Confirm(x.Root, "")
	if err != nil || len(done) != 1 || done[0] != id || tryapply.IsPending(x.Root, id) {
		t.Fatalf("confirm all: %v %v", done, err)
	}
	if d := before.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) == 0 {
		t.Error("confirming undid the apply")
	}
	if ents, _ := os.ReadDir(filepath.Join(root, pendingDir)); len(ents) != 0 {
		t.Errorf("left %v", ents)
	}
}

// TestRevertOverdue: only an apply past its deadline is reverted, the
// root byte-identical to before it, its record gone; one not yet due is
// left waiting; one rolled back by hand meanwhile just loses its record.
func TestRevertOverdue(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(reverter); err != nil {
		t.Skip(err)
	}
	x, root, id, before := applied(t, "amd64-intel-32gb-2nvme")
	now := time.Now()
	if _, err := tryapply.Schedule(x.Root, id, time.Minute, reverter, now); err != nil {
		t.Fatal(err)
	}
	if rv, err := tryapply.RevertOverdue(x.Store, x.Root, now); err != nil || len(rv) != 0 || !tryapply.IsPending(x.Root, id) {
		t.Fatalf("before the deadline: %v %v", rv, err)
	}
	rv, err := tryapply.RevertOverdue(x.Store, x.Root, now.Add(time.Minute+time.Second))
	if err != nil || len(rv) != 1 || rv[0].ID != id || rv[0].Err != nil || len(rv[0].Outcomes) != 1 || !rv[0].Outcomes[0].Complete {
		t.Fatalf("at the deadline: %+v %v", rv, err)
	}
	if d := before.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) != 0 {
		t.Errorf("reverted root differs: %v", d)
	}
	if tryapply.IsPending(x.Root, id) {
		t.Error("the record of a reverted apply is left")
	}
	// Rolled back already: reverting it again only drops the record.
	if _, err := tryapply.Schedule(x.Root, id, 0, reverter, now); err != nil {
		t.Fatal(err)
	}
	if r := tryapply.Revert(x.Store, x.Root, id); r.Err != nil || r.Outcomes != nil || tryapply.IsPending(x.Root, id) {
		t.Errorf("revert of an apply rolled back: %+v", r)
	}
}
