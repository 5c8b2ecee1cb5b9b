package baseline

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/rollback"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func open(t *testing.T) (*hostroot.Root, string) {
	t.Helper()
	dir := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	h, err := hostroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, dir
}

func fig(k measure.Kind, v float64) measure.Figure {
	return measure.Figure{Kind: k, Unit: measure.MBps, Runs: []float64{v}, Median: v, Min: v, Max: v, Method: "m"}
}

// Saved baselines and effects read back as written, oldest first.
func TestSaveList(t *testing.T) {
	t.Parallel()
	h, _ := open(t)
	for i, v := range []float64{300, 100, 200} {
		r := &Record{ID: NewID(t0.Add(time.Duration(i-1) * time.Hour)), Time: t0, Platform: "amd64", Figures: []measure.Figure{fig(measure.Memory, v)}}
		if err := Save(h, r); err != nil {
			t.Fatal(err)
		}
	}
	recs, skipped, err := List(h)
	if err != nil || len(skipped) != 0 || len(recs) != 3 {
		t.Fatalf("%v %v %v", recs, skipped, err)
	}
	if recs[0].ID != "20261129T110000Z" || recs[0].Figures[0].Median != 300 || recs[2].ID != "20261129T130000Z" {
		t.Fatalf("order %s %s %s", recs[0].ID, recs[1].ID, recs[2].ID)
	}
	if l, _ := Latest(h); l.ID != "20261129T130000Z" {
		t.Fatal(l.ID)
	}
	e := &Effect{ID: "20261129T120000Z-2", Op: "apply", Time: t0, Tasks: []string{"nvme-queue"}, Before: []measure.Figure{fig(measure.DiskRead, 800)}, After: []measure.Figure{fig(measure.DiskRead, 1600)}}
	if err := SaveEffect(h, e); err != nil {
		t.Fatal(err)
	}
	effs, skipped, err := Effects(h)
	if err != nil || len(skipped) != 0 || len(effs["20261129T120000Z-2"]) != 1 {
		t.Fatalf("%v %v %v", effs, skipped, err)
	}
	c := Compare(effs["20261129T120000Z-2"][0].Before, effs["20261129T120000Z-2"][0].After)
	if len(c) != 1 || !c[0].HasDiff || c[0].Change != 1 {
		t.Fatalf("%+v", c)
	}
	for _, bad := range []*Effect{{ID: "../x", Op: "apply"}, {ID: "a", Op: "delete"}} {
		if err := SaveEffect(h, bad); err == nil {
			t.Errorf("saved %+v", bad)
		}
	}
	if err := Save(h, &Record{ID: "../../etc/passwd"}); err == nil {
		t.Error("saved a baseline with a path for id")
	}
}

// What is read back is not trusted: every hostile file is left out and
// named, the rest still read; nothing is followed out of the store.
func TestListHostile(t *testing.T) {
	t.Parallel()
	h, dir := open(t)
	good := &Record{ID: "20261129T120000Z", Time: t0, Figures: []measure.Figure{fig(measure.Memory, 1)}}
	if err := Save(h, good); err != nil {
		t.Fatal(err)
	}
	bd := filepath.Join(dir, "var/lib/ezedge-host/baselines")
	outside := filepath.Join(t.TempDir(), "20261129T000000Z.json")
	os.WriteFile(outside, []byte(`{"id":"20261129T000000Z"}`), 0o600)
	for name, content := range map[string]string{
		"20261129T000001Z.json": `not json`,
		"20261129T000002Z.json": `{"id":"20261129T000003Z"}`,
		"20261129T000004Z.json": `{"id":"20261129T000004Z","unknown":1}`,
		"20261129T000005Z.json": `{"id":"20261129T000005Z","figures":[{"kind":"cpu-single","median":-1}]}`,
		"20261129T000006Z.json": `{"id":"20261129T000006Z"} {"id":"x"}`,
		"20261129T000007Z.json": `{"id":"20261129T000007Z","figures":[{"kind":"cpu-single","runs":[1e999]}]}`,
		"20261129T000008Z.json": strings.Repeat(" ", 2<<20),
	} {
		os.WriteFile(filepath.Join(bd, name), []byte(content), 0o600)
	}
	os.Symlink(outside, filepath.Join(bd, "20261129T000009Z.json"))
	os.Mkdir(filepath.Join(bd, "20261129T000010Z.json"), 0o700)
	syscall.Mkfifo(filepath.Join(bd, "20261129T000011Z.json"), 0o600)
	// Written by another user: planted.
	if os.Geteuid() == 0 {
		os.WriteFile(filepath.Join(bd, "20261129T000013Z.json"), []byte(`{"id":"20261129T000013Z"}`), 0o600)
		os.Chown(filepath.Join(bd, "20261129T000013Z.json"), 65534, 65534)
	}
	os.WriteFile(filepath.Join(bd, "README"), []byte("x"), 0o600)
	recs, skipped, err := List(h)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].ID != good.ID {
		t.Fatalf("read %d records: %v %v", len(recs), recs[0].ID, recs[len(recs)-1].ID)
	}
	// Every hostile file but README (not a baseline's name) is named.
	want := 10
	if os.Geteuid() == 0 {
		want++
	}
	if len(skipped) != want {
		t.Fatalf("skipped %d:\n%s", len(skipped), strings.Join(skipped, "\n"))
	}
	for _, s := range skipped {
		if strings.Contains(s, "\n") || !strings.Contains(s, "/var/lib/ezedge-host/baselines/2026") {
			t.Errorf("skipped %q", s)
		}
	}
}

// Live refuses any root but the running system's, before measuring
// anything or writing anything.
func TestLiveRefusesImage(t *testing.T) {
	t.Parallel()
	h, dir := open(t)
	before := fixture.Snapshot(t, dir)
	f, err := platform.Detect(h, platform.Observe{})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Runtime {
		t.Fatal("the fixture has no /proc: pick one that looks live")
	}
	_, err = Live(h, f, rollback.Open(h), Options{}, t0)
	if err == nil || !strings.Contains(err.Error(), "needs a live host") && !strings.Contains(err.Error(), "measurements need a live host") {
		t.Fatalf("%v", err)
	}
	if d := before.Diff(fixture.Snapshot(t, dir)); len(d) != 0 {
		t.Fatalf("changed: %v", d)
	}
}
