package rollback

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
)

func init() {
	// The file resources these tests journal, declared as the tasks
	// declare theirs.
	resource.Own("/etc/owned.conf", 1<<20)
	resource.Own("/etc/new.d/created.conf", 1<<20)
	resource.Own("/usr/local/sbin/big", 1<<24)
}

// testRoot is a root with a sysctl-like attribute and an owned file.
func testRoot(t *testing.T) (*hostroot.Root, string) {
	t.Helper()
	dir := t.TempDir()
	for p, s := range map[string]string{"proc/sys/vm/swappiness": "60\n", "etc/owned.conf": "old\n"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h, err := hostroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, dir
}

type item struct {
	res  resource.Resource
	want resource.State
}

// applyItems journals and makes the changes as apply does, and commits.
func applyItems(t *testing.T, s *Store, h *hostroot.Root, items []item, now time.Time, commit bool) string {
	t.Helper()
	var priors []Prior
	for _, it := range items {
		cur, err := it.res.Read(h)
		if err != nil {
			t.Fatal(err)
		}
		priors = append(priors, Prior{Task: "t", Resource: it.res, State: cur})
	}
	j, err := s.Begin(Meta{Platform: "amd64"}, priors, now)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var afters []After
	for _, it := range items {
		if err := it.res.Write(h, it.want); err != nil {
			t.Fatal(err)
		}
		got, _ := it.res.Read(h)
		afters = append(afters, After{got, it.want})
	}
	if commit {
		if err := j.Commit(s, afters); err != nil {
			t.Fatal(err)
		}
	}
	return j.ID
}

func twoItems() []item {
	return []item{
		{resource.Sysctl("vm.swappiness"), resource.Value("10")},
		{resource.File("/etc/owned.conf"), resource.Content([]byte("new\n"))},
		{resource.File("/etc/new.d/created.conf"), resource.Content([]byte("created\n"))},
	}
}

func read(t *testing.T, dir, p string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, p))
	if err != nil {
		return "(absent)"
	}
	return string(b)
}

// TestRestore: a committed apply is restored byte for byte, the directory
// it created goes, and the journal says rolled back.
func TestRestore(t *testing.T) {
	t.Parallel()
	h, dir := testRoot(t)
	s := Open(h)
	id := applyItems(t, s, h, twoItems(), time.Now(), true)
	r, err := s.Read(id)
	if err != nil || r.Status() != Applied || len(r.Items) != 3 {
		t.Fatalf("record %+v %v", r, err)
	}
	o, err := s.Restore(r, false)
	if err != nil || !o.Complete || len(o.Restored) != 3 {
		t.Fatalf("restore %+v %v", o, err)
	}
	if read(t, dir, "proc/sys/vm/swappiness") != "60\n" || read(t, dir, "etc/owned.conf") != "old\n" {
		t.Errorf("not restored")
	}
	if _, err := os.Stat(filepath.Join(dir, "etc/new.d")); !os.IsNotExist(err) {
		t.Errorf("the directory made for a new file stayed: %v", err)
	}
	if r, _ := s.Read(id); r.Status() != RolledBack {
		t.Errorf("status %s", r.Status())
	}
}

// TestRestoreDrift: a resource changed since the apply is left alone and
// named; force restores it.
func TestRestoreDrift(t *testing.T) {
	t.Parallel()
	h, dir := testRoot(t)
	s := Open(h)
	id := applyItems(t, s, h, twoItems(), time.Now(), true)
	os.WriteFile(filepath.Join(dir, "proc/sys/vm/swappiness"), []byte("42\n"), 0o644)
	r, _ := s.Read(id)
	o, err := s.Restore(r, false)
	if err != nil || o.Complete || len(o.LeftAlone) != 1 || !strings.Contains(o.LeftAlone[0], "sysctl:vm.swappiness") {
		t.Fatalf("restore %+v %v", o, err)
	}
	if read(t, dir, "proc/sys/vm/swappiness") != "42\n" {
		t.Errorf("a drifted value was touched")
	}
	if r, _ := s.Read(id); r.Status() != PartlyRolledBack {
		t.Errorf("status %s", r.Status())
	}
	r, _ = s.Read(id)
	if o, err := s.Restore(r, true); err != nil || !o.Complete {
		t.Fatalf("forced restore %+v %v", o, err)
	}
	if read(t, dir, "proc/sys/vm/swappiness") != "60\n" {
		t.Errorf("force did not restore")
	}
}

// TestRestoreResumesItsOwnWork: a rollback cut short after announcing an
// item and changing it halfway is resumed without calling that drift.
func TestRestoreResumesItsOwnWork(t *testing.T) {
	t.Parallel()
	h, dir := testRoot(t)
	s := Open(h)
	id := applyItems(t, s, h, twoItems(), time.Now(), true)
	j, err := s.Reopen(id)
	if err != nil {
		t.Fatal(err)
	}
	j.Restoring(0)
	j.Close()
	// Halfway: neither the applied nor the prior value.
	os.WriteFile(filepath.Join(dir, "proc/sys/vm/swappiness"), []byte("35\n"), 0o644)
	r, _ := s.Read(id)
	o, err := s.Restore(r, false)
	if err != nil || !o.Complete || len(o.LeftAlone) > 0 {
		t.Fatalf("resume %+v %v", o, err)
	}
	if read(t, dir, "proc/sys/vm/swappiness") != "60\n" {
		t.Errorf("not restored")
	}
}

// TestInterruptedApply: an apply that stopped before its commit is
// restored whatever it had done, temporary file included.
func TestInterruptedApply(t *testing.T) {
	t.Parallel()
	h, dir := testRoot(t)
	s := Open(h)
	id := applyItems(t, s, h, twoItems(), time.Now(), false)
	// What a kill during an atomic write leaves.
	os.WriteFile(filepath.Join(dir, "etc/.owned.conf.ezedge-tmp"), []byte("half"), 0o600)
	r, _ := s.Read(id)
	if r.Status() != Interrupted {
		t.Fatalf("status %s", r.Status())
	}
	if o, err := s.Restore(r, false); err != nil || !o.Complete {
		t.Fatalf("restore %+v %v", o, err)
	}
	if read(t, dir, "etc/owned.conf") != "old\n" || read(t, dir, "etc/.owned.conf.ezedge-tmp") != "(absent)" {
		t.Errorf("not restored, or the temporary file stayed")
	}
}

// TestJournalCutAnywhere: a real journal cut at every byte reads, never as
// corrupt; cut before its commit it is an interrupted apply; and appending
// to it (a resumed rollback) first drops the torn record.
func TestJournalCutAnywhere(t *testing.T) {
	t.Parallel()
	h, dir := testRoot(t)
	s := Open(h)
	id := applyItems(t, s, h, twoItems(), time.Now(), true)
	j, _ := s.Reopen(id)
	j.Restoring(2)
	j.Restored(2, false)
	j.Close()
	name := filepath.Join(dir, "var/lib/ezedge-host/snapshots", id+".jsonl")
	whole, _ := os.ReadFile(name)
	commit := bytes.Index(whole, []byte(`{"op":"commit"`))
	for k := 0; k <= len(whole); k++ {
		r, err := parse(name, id, whole[:k])
		if err != nil {
			t.Fatalf("cut at %d of %d: %v", k, len(whole), err)
		}
		if k < commit && r.Status() != Interrupted {
			t.Fatalf("cut at %d before the commit: %s", k, r.Status())
		}
	}
	cut := whole[:len(whole)-5]
	os.WriteFile(name, cut, 0o600)
	j, err := s.Reopen(id)
	if err != nil {
		t.Fatal(err)
	}
	j.RolledBack()
	j.Close()
	if r, err := s.Read(id); err != nil || r.Status() != RolledBack || r.Torn {
		t.Fatalf("after appending to a torn journal: %+v %v", r, err)
	}
}

// TestBlobs: contents over 64 KiB are journaled by digest with the bytes
// kept once in the store; a damaged blob is refused, not restored.
func TestBlobs(t *testing.T) {
	t.Parallel()
	h, dir := testRoot(t)
	s := Open(h)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<13)
	res := resource.File("/usr/local/sbin/big")
	id := applyItems(t, s, h, []item{{res, resource.State{Exists: true, Data: big, Mode: 0o755}}}, time.Now(), true)
	j, _ := os.ReadFile(filepath.Join(dir, "var/lib/ezedge-host/snapshots", id+".jsonl"))
	if len(j) > 4096 {
		t.Errorf("journal is %d bytes: the contents were not kept out of line", len(j))
	}
	r, _ := s.Read(id)
	if r.Items[0].After.Digest != resource.Digest(big) || r.Items[0].After.Data != nil {
		t.Fatalf("after: %+v", r.Items[0].After)
	}
	cur, _ := res.Read(h)
	if !res.Equal(cur, *r.Items[0].After) {
		t.Errorf("a digest does not compare equal to its bytes")
	}
	blob := filepath.Join(dir, "var/lib/ezedge-host/snapshots/blobs", resource.Digest(big))
	os.WriteFile(blob, []byte("damaged"), 0o600)
	st := *r.Items[0].After
	if err := s.LoadData(&st); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("a damaged blob: %v", err)
	}
}

// TestTargets: the newest open apply, or every open one back to --to.
func TestTargets(t *testing.T) {
	t.Parallel()
	recs := []*Record{
		{ID: "20260101T000001Z", Committed: true},
		{ID: "20260101T000002Z", Committed: true, RolledBack: true},
		{ID: "20260101T000003Z", Committed: true},
		{ID: "20260101T000004Z", Aborted: true},
	}
	ids := func(rs []*Record) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return strings.Join(out, " ")
	}
	if got, err := Targets(recs, ""); err != nil || ids(got) != "20260101T000003Z" {
		t.Errorf("latest: %s %v", ids(got), err)
	}
	if got, err := Targets(recs, "20260101T000001Z"); err != nil || ids(got) != "20260101T000003Z 20260101T000001Z" {
		t.Errorf("--to: %s %v", ids(got), err)
	}
	if _, err := Targets(recs, "20260101T000002Z"); err == nil || !strings.Contains(err.Error(), "rolled back already") {
		t.Errorf("--to a rolled-back apply: %v", err)
	}
	if _, err := Targets(recs, "20990101T000000Z"); err == nil || !strings.Contains(err.Error(), "no apply with id") {
		t.Errorf("--to an unknown id: %v", err)
	}
	if _, err := Targets(recs[1:2], ""); err == nil {
		t.Errorf("nothing open: no error")
	}
}
