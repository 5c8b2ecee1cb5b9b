package plan

import (
	"strings"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/rollback"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

func build(tb testing.TB, root string) (*hostroot.Root, *Plan) {
	tb.Helper()
	h, err := hostroot.Open(root)
	if err != nil {
		tb.Fatal(err)
	}
	f, err := platform.Detect(h, tasks.Observations())
	if err != nil {
		tb.Fatal(err)
	}
	p, err := Build(h, rollback.Open(h), f, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return h, p
}

// TestClampReportedOnce: when the kernel accepted less than asked, the next
// plan shows it in place with the device's limit, not as a change forever.
func TestClampReportedOnce(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	h, _ := build(t, root)
	defer h.Close()
	const attr = "/sys/block/nvme1n1/queue/nr_requests"
	store := rollback.Open(h)
	j, err := store.Begin(rollback.Meta{Platform: "amd64"}, []rollback.Prior{{Task: "nvme-queue", Resource: resource.SysfsAttr(attr), State: resource.Value("256")}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Commit(store, []rollback.After{{State: resource.Value("1000"), Desired: resource.Value("1024")}}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if err := h.WriteInPlace(attr, []byte("1000\n")); err != nil {
		t.Fatal(err)
	}
	_, p := build(t, root)
	for _, c := range p.Changes {
		if c.Resource.Name() == attr {
			if c.Action != None || !strings.Contains(strings.Join(c.Notes, " "), "device's limit 1000") {
				t.Fatalf("clamped value: action %s, notes %v", c.Action, c.Notes)
			}
			return
		}
	}
	t.Fatal("no change for " + attr)
}

func TestLargeHostScales(t *testing.T) {
	t.Parallel()
	root := fixture.Large(t, 256, 32)
	h, p := build(t, root)
	defer h.Close()
	gov, nvme := 0, 0
	for _, c := range p.Pending() {
		if c.Resource.Layer() != resource.Runtime {
			continue
		}
		switch c.Task {
		case "cpu-governor":
			gov++
		case "nvme-queue":
			nvme++
		}
	}
	// nvme0n1 is already at its limit; the 31 others change.
	if gov != 256 || nvme != 31 {
		t.Fatalf("%d governor and %d nvme changes, want 256 and 31", gov, nvme)
	}
}

func BenchmarkPlan(b *testing.B) {
	hosts := map[string]string{}
	for _, n := range fixture.Names {
		hosts[n] = fixture.Copy(b, n)
	}
	hosts["generated-256cpu-32nvme"] = fixture.Large(b, 256, 32)
	hosts["generated-4cpu-2nvme"] = fixture.Large(b, 4, 2)
	for name, root := range hosts {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				h, _ := build(b, root)
				h.Close()
			}
		})
	}
}
