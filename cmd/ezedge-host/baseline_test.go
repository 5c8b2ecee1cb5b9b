package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/health/baseline"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// On a fixture root (an image, a copy) nothing can be measured: baseline,
// apply --measure, rollback --measure and check --measure say so in one
// line, exit 1 and change nothing. Bad flags are named first.
func TestMeasureNeedsLiveHost(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	before := fixture.Snapshot(t, root)
	for _, args := range [][]string{
		{"baseline"},
		{"baseline", "--http", "http://127.0.0.1:1/health"},
		{"apply", "--yes", "--measure"},
		{"check", "--measure"},
	} {
		r := cli(append(args, "--root", root)...).must(t, 1)
		if !strings.Contains(r.stderr, "measurements need a live host") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: %q", args, r.stderr)
		}
		if d := before.Diff(fixture.Snapshot(t, root)); len(d) != 0 {
			t.Fatalf("%v changed the root: %v", args, d)
		}
	}
	for args, want := range map[string]string{
		"baseline --budget 0s":                 "--budget 0s: want 1s to 10m",
		"baseline --budget 11m":                "--budget 11m0s: want 1s to 10m",
		"baseline --http ftp://x/":             `--http "ftp://x/"`,
		"baseline --http fast=http://x/":       `class "fast"`,
		"apply --yes --measure --budget 100ms": "--budget 100ms",
	} {
		r := cli(append(strings.Fields(args), "--root", root)...).must(t, 1)
		if !strings.Contains(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%s: %q, want %q", args, r.stderr, want)
		}
	}
	// rollback --measure of an apply: refused before anything is restored.
	cli("apply", "--yes", "--root", root).must(t, 0)
	applied := fixture.Snapshot(t, root)
	r := cli("rollback", "--yes", "--measure", "--root", root).must(t, 1)
	if !strings.Contains(r.stderr, "measurements need a live host") {
		t.Fatal(r.stderr)
	}
	if d := applied.Diff(fixture.Snapshot(t, root)); len(d) != 0 {
		t.Fatalf("rollback --measure changed the root: %v", d)
	}
}

// Stored baselines and measured applies are listed and shown in history,
// text and JSON, from the files a live host would have written.
func TestBaselineListAndHistory(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	cli("baseline", "--list", "--root", root).must(t, 0)
	if r := cli("baseline", "--list", "--root", root); !strings.Contains(r.stdout, "No baselines recorded") {
		t.Fatal(r.stdout)
	}
	r := cli("apply", "--yes", "--root", root).must(t, 0)
	id := strings.Fields(r.stdout[strings.Index(r.stdout, "Snapshot ")+len("Snapshot "):])[0]
	id = strings.TrimSuffix(id, ".")
	h, err := hostroot.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	fig := func(k measure.Kind, target string, v float64) measure.Figure {
		return measure.Figure{Kind: k, Target: target, Unit: measure.MBps, Runs: []float64{v}, Median: v, Min: v, Max: v, Method: "m"}
	}
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	if err := baseline.Save(h, &baseline.Record{ID: baseline.NewID(t0), Time: t0, Platform: "amd64", Snapshot: id, Emulated: "a virtual machine (x)",
		Figures: []measure.Figure{fig(measure.Memory, "", 5000), fig(measure.DiskRead, "/dev/nvme0n1", 1600)}}); err != nil {
		t.Fatal(err)
	}
	if err := baseline.SaveEffect(h, &baseline.Effect{ID: id, Op: "apply", Time: t0, Tasks: []string{"nvme-queue"},
		Before: []measure.Figure{fig(measure.DiskRead, "/dev/nvme0n1", 800)}, After: []measure.Figure{fig(measure.DiskRead, "/dev/nvme0n1", 1600)}}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "var/lib/ezedge-host/measured", id+".rollback.json"), []byte("{"), 0o600)
	r = cli("baseline", "--list", "--root", root).must(t, 0)
	if !regexp.MustCompile(`20261129T120000Z +amd64 +`+id+` +yes `).MatchString(r.stdout) || !strings.Contains(r.stdout, "memory-copy 5000 MB/s, disk-read /dev/nvme0n1 1600 MB/s") {
		t.Fatalf("list:\n%s", r.stdout)
	}
	r = cli("history", "--root", root).must(t, 0)
	if !strings.Contains(r.stdout, "    measured apply: disk-read /dev/nvme0n1 800 → 1600 MB/s (+100%)") {
		t.Fatalf("history:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "warning: /var/lib/ezedge-host/measured/"+id+".rollback.json: unexpected EOF") {
		t.Fatalf("history stderr: %q", r.stderr)
	}
	r = cli("history", "--root", root, "--output", "json").must(t, 0)
	var hj struct {
		Applies []struct {
			ID       string
			Measured []struct {
				Op       string
				Compared []struct {
					ID          string
					Now, Before *float64
					Change      *float64
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &hj); err != nil {
		t.Fatal(err)
	}
	m := hj.Applies[0].Measured
	if len(m) != 1 || m[0].Op != "apply" || len(m[0].Compared) != 1 || *m[0].Compared[0].Before != 800 || *m[0].Compared[0].Now != 1600 || *m[0].Compared[0].Change != 1 {
		t.Fatalf("json: %s", r.stdout)
	}
	r = cli("baseline", "--list", "--root", root, "--output", "json").must(t, 0)
	var bl view_BaselineList
	if err := json.Unmarshal([]byte(r.stdout), &bl); err != nil || len(bl.Baselines) != 1 || bl.Baselines[0].Figures[1].Median != 1600 {
		t.Fatalf("%v %s", err, r.stdout)
	}
}

type view_BaselineList struct {
	Baselines []*baseline.Record `json:"baselines"`
}
