package apply

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/rollback"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// planned is a copy of fixture name, planned with the platform defaults
// (with m as its systemd, when set).
func planned(t *testing.T, name string, m resource.Manager) (string, *hostroot.Root, *rollback.Store, *plan.Plan) {
	t.Helper()
	root := fixture.Copy(t, name)
	if m != nil {
		resource.UseManager(root, m)
		t.Cleanup(func() { resource.UseManager(root, nil) })
	}
	h, err := hostroot.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	store := rollback.Open(h)
	f, err := platform.Detect(h, tasks.Observations())
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(h, store, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	return root, h, store, p
}

// TestApplyJournalsFirst: every pending change is made, and the journal
// holds each one's prior value exactly as the root had it, and its value
// after; a second apply of the same plan changes nothing.
func TestApplyJournalsFirst(t *testing.T) {
	t.Parallel()
	_, h, store, p := planned(t, "pi5-16gb-nvme-bookworm", nil)
	res, err := Apply(h, store, p, time.Now())
	if err != nil || res.ID == "" || len(res.Changed) != len(p.Pending()) {
		t.Fatalf("apply: %v %+v", err, res)
	}
	rec, err := store.Read(res.ID)
	if err != nil || rec.Status() != rollback.Applied || len(rec.Items) != len(p.Pending()) {
		t.Fatalf("journal: %v %+v", err, rec)
	}
	for i, it := range rec.Items {
		c := p.Pending()[i]
		if it.ID() != resource.ID(c.Resource) || !c.Resource.Equal(it.Before, c.Before) || it.After == nil || !c.Resource.Equal(*it.After, c.After) {
			t.Errorf("item %d %s: before %s after %v, planned %s -> %s", i, it.ID(), c.Resource.Show(it.Before), it.After, c.Resource.Show(c.Before), c.Resource.Show(c.After))
		}
	}
	again, err := Apply(h, store, p, time.Now())
	if err != nil || again.ID != "" {
		t.Errorf("second apply of the same plan: %v %q", err, again.ID)
	}
}

// failStop is a systemd whose units cannot be stopped.
type failStop struct{}

func (failStop) ActiveState(string) (string, error) { return "active", nil }
func (failStop) Start(string) error                 { return nil }
func (failStop) Stop(u string) error                { return errors.New("stop " + u + ": refused") }
func (failStop) Reload() error                      { return nil }

// TestApplyFailureRestores: a change that fails midway (a unit that will
// not stop) undoes every change made before it; the journal says the apply
// failed and was restored; the root is byte for byte as before, the error
// names the resource.
func TestApplyFailureRestores(t *testing.T) {
	t.Parallel()
	root, h, store, p := planned(t, "pi5-16gb-nvme-bookworm", failStop{})
	orig := fixture.Snapshot(t, root)
	res, err := Apply(h, store, p, time.Now())
	if err == nil || !strings.Contains(err.Error(), "bluetooth.service") || !strings.Contains(err.Error(), "every change it made was restored") {
		t.Fatalf("apply with a unit that will not stop: %v", err)
	}
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Errorf("not restored: %v", d)
	}
	rec, err := store.Read(res.ID)
	if err != nil || rec.Status() != rollback.FailedRestored {
		t.Errorf("journal: %v %v", err, rec.Status())
	}
}

// TestApplyRefuses: nothing is changed while an apply is interrupted or a
// journal cannot be read.
func TestApplyRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		edit func(*plan.Plan)
		want string
	}{
		{func(p *plan.Plan) { p.Interrupted = []string{"20261207T000000Z"} }, "was interrupted"},
		{func(p *plan.Plan) { p.Unreadable = []string{"snapshot x: corrupt"} }, "corrupt; nothing was changed"},
	} {
		root, h, store, p := planned(t, "pi4-8gb-bullseye", nil)
		orig := fixture.Snapshot(t, root)
		c.edit(p)
		if _, err := Apply(h, store, p, time.Now()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("apply: %v, want %q", err, c.want)
		}
		if d := orig.Diff(fixture.Snapshot(t, root)); len(d) > 0 {
			t.Errorf("changed: %v", d)
		}
	}
}
