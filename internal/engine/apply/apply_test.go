package apply

import (
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/rollback"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

func build(tb testing.TB, root string) (*hostroot.Root, *plan.Plan) {
	tb.Helper()
	h, err := hostroot.Open(root)
	if err != nil {
		tb.Fatal(err)
	}
	f, err := platform.Detect(h, tasks.Observations())
	if err != nil {
		tb.Fatal(err)
	}
	p, err := plan.Build(h, rollback.Open(h), f, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return h, p
}

// applyAndRollBack plans and applies on root, then rolls back untimed.
func applyAndRollBack(b *testing.B, root string, now time.Time) {
	h, p := build(b, root)
	defer h.Close()
	res, err := Apply(h, rollback.Open(h), p, now)
	if err != nil || res.ID == "" {
		b.Fatal(err)
	}
	b.StopTimer()
	defer b.StartTimer()
	store := rollback.Open(h)
	rec, err := store.Read(res.ID)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := store.Restore(rec, false); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkApply measures apply, with a rollback in each iteration (not
// timed) so every apply has the same work to do.
func BenchmarkApply(b *testing.B) {
	hosts := map[string]string{}
	for _, n := range fixture.Names {
		hosts[n] = fixture.Copy(b, n)
	}
	hosts["generated-256cpu-32nvme"] = fixture.Large(b, 256, 32)
	for name, root := range hosts {
		b.Run(name, func(b *testing.B) {
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for b.Loop() {
				now = now.Add(time.Second)
				applyAndRollBack(b, root, now)
			}
		})
	}
}

// BenchmarkPlanHistory measures plan on the Intel fixture after 100 applies,
// each rolled back: plan reads every journal.
func BenchmarkPlanHistory(b *testing.B) {
	root := fixture.Copy(b, "amd64-intel-32gb-2nvme")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 100 {
		now = now.Add(time.Second)
		applyAndRollBack(b, root, now)
	}
	b.ResetTimer()
	for b.Loop() {
		h, p := build(b, root)
		if len(p.Pending()) == 0 {
			b.Fatal("nothing pending after 100 rollbacks")
		}
		h.Close()
	}
}
