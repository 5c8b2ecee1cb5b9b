package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// TestSavedPlan: plan --out, then apply FILE applies exactly that plan
// without a prompt (no --yes, no terminal); a plan made before the host
// changed is refused, naming each changed resource, and changes nothing.
func TestSavedPlan(t *testing.T) {
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	orig := fixture.Snapshot(t, root)
	file := filepath.Join(t.TempDir(), "pi5.plan")
	r := cli("plan", "--root", root, "--out", file).must(t, 0)
	if !strings.Contains(r.stdout, "Saved to "+file) {
		t.Errorf("plan --out: %s", r.stdout)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("plan file: %v %v", fi, err)
	}
	// Terraform's spelling writes the same plan.
	for _, args := range [][]string{{"-out", file + ".tf"}, {"-out=" + file + ".tf"}} {
		os.Remove(file + ".tf")
		cli(append([]string{"plan", "--root", root}, args...)...).must(t, 0)
		created := regexp.MustCompile(`"created": "[^"]*"`)
		if a, b := created.ReplaceAllString(readFile(t, file), ""), created.ReplaceAllString(readFile(t, file+".tf"), ""); a != b {
			t.Errorf("plan %v wrote another plan:\n%s\n%s", args, a, b)
		}
	}
	// Applying the saved plan on a copy gives the same tree as a plain apply.
	plain := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	apply(t, plain)
	r = cli("apply", file, "--root", root).must(t, 0)
	if !strings.Contains(r.stdout, "Applied 13 changes") {
		t.Errorf("apply FILE: %s", r.stdout)
	}
	if d := fixture.Snapshot(t, plain, fixture.StoreDir).Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Errorf("apply FILE differs from apply: %v", d)
	}
	cli("rollback", "--root", root, "--yes").must(t, 0)
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("not byte-identical: %v", d)
	}

	// Stale: two resources changed since the plan was made.
	os.WriteFile(filepath.Join(root, "proc/sys/vm/swappiness"), []byte("30\n"), 0o644)
	os.WriteFile(filepath.Join(root, "sys/block/nvme0n1/queue/nr_requests"), []byte("64\n"), 0o644)
	before := fixture.Snapshot(t, root, fixture.StoreDir)
	r = cli("apply", file, "--root", root).must(t, 1)
	if !strings.Contains(r.stderr, "is stale") || !strings.Contains(r.stderr, "sysctl:vm.swappiness (planned from 60, now 30)") || !strings.Contains(r.stderr, "sysfs:/sys/block/nvme0n1/queue/nr_requests (planned from 256, now 64)") {
		t.Errorf("stale plan: %q", r.stderr)
	}
	if d := before.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("a stale plan changed the root: %v", d)
	}
	os.WriteFile(file, []byte("{}"), 0o600)
	if r := cli("apply", file, "--root", root).must(t, 1); !strings.Contains(r.stderr, "not a plan written by ezedge-host plan --out") {
		t.Errorf("junk plan file: %q", r.stderr)
	}
}
