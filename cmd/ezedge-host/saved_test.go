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
	t.Parallel()
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
	applyYes(t, plain)
	r = cli("apply", file, "--root", root).must(t, 0)
	if !strings.Contains(r.stdout, "Applied 15 changes") {
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

// TestSavedPlanIsOnlyAnApproval: a plan file edited after it was saved (a
// resource the task set never plans, an out-of-range value, another
// value) approves nothing: apply plans again with the saved profile and
// refuses the difference, changing nothing. plan --out over an existing
// world-readable file leaves it 0600.
func TestSavedPlanIsOnlyAnApproval(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	orig := fixture.Snapshot(t, root)
	file := filepath.Join(t.TempDir(), "pi5.plan")
	os.WriteFile(file, []byte("old"), 0o644)
	cli("plan", "--root", root, "--out", file).must(t, 0)
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("plan --out over a 0644 file left it %v", fi.Mode())
	}
	saved := readFile(t, file)
	edits := map[string]func(string) string{
		"extra resource": func(s string) string {
			return strings.Replace(s, `"changes": [`, `"changes": [{"task":"swappiness","resource":"file:/../../etc/passwd","action":"create","before":{"exists":false},"after":{"exists":true,"data":"cm9vdDo6MDowOjo6L2Jpbi9zaAo=","mode":420}},`, 1)
		},
		"out of range": func(s string) string {
			return strings.Replace(s, `"data": "MTAK"`, `"data": "OTk5OTkK"`, 1)
		},
		"a then command": func(s string) string {
			return strings.Replace(s, `"action": "update",`, `"action": "update", "then": ["/bin/touch", "/tmp/pwned"],`, 1)
		},
		"other profile": func(s string) string {
			return strings.Replace(s, `"kind": "absent",
    "layers": [],`, `"kind": "layers",
    "layers": [{"path": "/etc/ezedge-host/profile.yaml", "where": "root", "data": "version: 1\ntasks:\n  swappiness: {value: 99999}\n"}],`, 1)
		},
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			changed := edit(saved)
			if changed == saved {
				t.Fatal("the edit did not apply")
			}
			f := filepath.Join(t.TempDir(), "edited.plan")
			os.WriteFile(f, []byte(changed), 0o600)
			r := cli("apply", f, "--root", root).must(t, 1)
			if strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("want one line: %q", r.stderr)
			}
			if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
				t.Fatalf("an edited plan changed the root: %v", d)
			}
			if _, err := os.Stat("/tmp/pwned"); err == nil {
				t.Fatal("a command from the plan file ran")
			}
		})
	}
	// An interrupted apply blocks apply FILE as it blocks plain apply.
	dir := filepath.Join(root, fixture.StoreDir, "snapshots")
	os.MkdirAll(dir, 0o700)
	os.Chmod(filepath.Join(root, fixture.StoreDir), 0o700)
	os.WriteFile(filepath.Join(dir, "20260101T000000Z.jsonl"), []byte(`{"op":"begin","format_version":2,"id":"20260101T000000Z","i":0}`+"\n"), 0o600)
	if r := cli("apply", file, "--root", root).must(t, 1); !strings.Contains(r.stderr, "interrupted") {
		t.Errorf("apply FILE over an interrupted apply: %q", r.stderr)
	}
}
