package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/command"
	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

var snapRe = regexp.MustCompile(`Snapshot (\S+)\.`)

func applyYes(t *testing.T, root string, args ...string) string {
	t.Helper()
	r := cli(append([]string{"apply", "--root", root, "--yes"}, args...)...).must(t, 0)
	m := snapRe.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no snapshot id in:\n%s", r.stdout)
	}
	return m[1]
}

func writeProfile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "profile.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func identical(t *testing.T, orig fixture.Tree, root string) {
	t.Helper()
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("root not byte-identical:\n%s", strings.Join(d, "\n"))
	}
}

// TestDrift: an operator and a package upgrade change two resources after
// apply. Rollback restores the rest, leaves those two alone and says so,
// exit 3 (drift, not an error); --force restores them too and the root is
// byte-identical.
func TestDrift(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	orig := fixture.Snapshot(t, root)
	applyYes(t, root)
	os.WriteFile(filepath.Join(root, "proc/sys/vm/swappiness"), []byte("42\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/udev/rules.d/60-nvme.rules"), []byte("# rewritten by a package\n"), 0o644)

	p := cli("plan", "--root", root).must(t, 0)
	if !strings.Contains(p.stdout, "Drift (changed since ezedge-host applied it") || !strings.Contains(p.stdout, "sysctl:vm.swappiness: apply ") || !strings.Contains(p.stdout, "now 42") || !strings.Contains(p.stdout, "file:/etc/udev/rules.d/60-nvme.rules: apply") {
		t.Errorf("plan does not report the drift:\n%s", p.stdout)
	}
	r := cli("rollback", "--root", root, "--yes").must(t, int(command.Drift))
	if strings.Count(r.stdout, "left alone") != 2 || !strings.Contains(r.stdout, "sysctl:vm.swappiness") || !strings.Contains(r.stdout, "60-nvme.rules") {
		t.Fatalf("drift not reported:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "incomplete") || !strings.Contains(r.stderr, "--force") {
		t.Errorf("stderr: %q", r.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "proc/sys/vm/swappiness")); string(b) != "42\n" {
		t.Errorf("drifted value touched: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "sys/block/nvme0n1/queue/nr_requests")); string(b) != "256\n" {
		t.Errorf("undrifted value not restored: %q", b)
	}
	if h := cli("history", "--root", root).must(t, 0); !strings.Contains(h.stdout, "partly rolled back") {
		t.Errorf("history:\n%s", h.stdout)
	}
	cli("rollback", "--root", root, "--yes", "--force").must(t, 0)
	identical(t, orig, root)
}

// TestRollbackTo: two applies; --to the first undoes both, newest first.
func TestRollbackTo(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	orig := fixture.Snapshot(t, root)
	first := applyYes(t, root)
	prof := writeProfile(t, "version: 1\ntasks:\n  swappiness: {value: 5}\n  thp: {enabled: true, mode: never}\n  cpu-governor: {enabled: true}\n")
	second := applyYes(t, root, "--profile", prof)
	if first == second {
		t.Fatalf("two applies share id %s", first)
	}
	r := cli("rollback", "--root", root, "--yes", "--to", first, "--output", "json").must(t, 0)
	var out struct {
		FormatVersion int `json:"format_version"`
		Rollbacks     []struct {
			ID       string
			Complete bool
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if out.FormatVersion != 1 || len(out.Rollbacks) != 2 || out.Rollbacks[0].ID != second || out.Rollbacks[1].ID != first || !out.Rollbacks[1].Complete {
		t.Fatalf("rollback json: %+v", out)
	}
	identical(t, orig, root)
	cli("rollback", "--root", root, "--yes", "--to", first).must(t, 1)
}

// TestCorruptSnapshot: a truncated, garbled or newer-format journal is
// refused with a message naming it, and nothing is restored.
func TestCorruptSnapshot(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		mangle func(b []byte) []byte
		want   string
	}{
		"garbled": {func(b []byte) []byte { return append(b, []byte("{not json\n")...) }, "corrupt"},
		"garbled inside": {func(b []byte) []byte {
			i := bytes.IndexByte(b, '\n')
			return append(append(append([]byte{}, b[:i+1]...), "{not json\n"...), b[i+1:]...)
		}, "corrupt"},
		"newer": {func(b []byte) []byte {
			return []byte(strings.Replace(string(b), `"format_version":2`, `"format_version":9`, 1))
		}, "newer"},
		"not ours": {func(b []byte) []byte {
			return []byte(strings.Replace(string(b), `"resource":"sysctl:vm.swappiness"`, `"resource":"file:/etc/shadow"`, 1))
		}, "not a file ezedge-host manages"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
			id := applyYes(t, root)
			journal := filepath.Join(root, fixture.StoreDir, "snapshots", id+".jsonl")
			b, err := os.ReadFile(journal)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(journal, c.mangle(b), 0o600)
			applied := fixture.Snapshot(t, root)
			r := cli("rollback", "--root", root, "--yes").must(t, 1)
			if !strings.Contains(r.stderr, id+".jsonl") || !strings.Contains(r.stderr, c.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("stderr %q, want one line naming the journal and %q", r.stderr, c.want)
			}
			if d := applied.Diff(fixture.Snapshot(t, root)); len(d) > 0 {
				t.Errorf("a refused rollback changed the root: %v", d)
			}
		})
	}
}

func TestStorePermissions(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi4-8gb-bullseye")
	id := applyYes(t, root)
	for p, want := range map[string]os.FileMode{
		fixture.StoreDir:                                 0o700 | os.ModeDir,
		fixture.StoreDir + "/snapshots":                  0o700 | os.ModeDir,
		fixture.StoreDir + "/snapshots/" + id + ".jsonl": 0o600,
	} {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: %v %v, want %v", p, fi.Mode(), err, want)
		}
	}
}

// TestInterrupted: a journal without its commit record (a crash during the
// apply) is detected by plan and apply, and rollback restores the host.
func TestInterrupted(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	orig := fixture.Snapshot(t, root)
	id := applyYes(t, root)
	journal := filepath.Join(root, fixture.StoreDir, "snapshots", id+".jsonl")
	b, _ := os.ReadFile(journal)
	// The apply was killed after every change was made but before its
	// outcome and commit record were written.
	var kept []string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l != "" && !strings.Contains(l, `"op":"after"`) && !strings.Contains(l, `"op":"commit"`) {
			kept = append(kept, l)
		}
	}
	if len(kept) < 3 || len(kept) == strings.Count(string(b), "\n") {
		t.Fatalf("journal has %d begin/before lines:\n%s", len(kept), b)
	}
	os.WriteFile(journal, []byte(strings.Join(kept, "")), 0o600)

	p := cli("plan", "--root", root).must(t, 0)
	if !strings.Contains(p.stdout, "apply "+id+" was interrupted") {
		t.Errorf("plan does not warn:\n%s", p.stdout)
	}
	a := cli("apply", "--root", root, "--yes").must(t, 1)
	if !strings.Contains(a.stderr, "interrupted") {
		t.Errorf("apply: %q", a.stderr)
	}
	cli("rollback", "--root", root, "--yes").must(t, 0)
	identical(t, orig, root)
}

// TestPlanJSON checks the documented JSON plan object.
func TestPlanJSON(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	r := cli("plan", "--root", root, "--output", "json").must(t, 0)
	var p struct {
		FormatVersion int `json:"format_version"`
		Changes       []map[string]any
		InPlace       []map[string]any `json:"in_place"`
		Skipped       []map[string]string
		Summary       map[string]int
	}
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatal(err)
	}
	if p.FormatVersion != 1 || p.Summary["change"] != len(p.Changes) || p.Summary["in_place"] != len(p.InPlace) || len(p.Changes) != 19 {
		t.Fatalf("summary %v, %d changes", p.Summary, len(p.Changes))
	}
	for _, c := range p.Changes {
		for _, k := range []string{"task", "resource", "layer", "before", "after", "reboot_required"} {
			if _, ok := c[k]; !ok {
				t.Errorf("change lacks %q: %v", k, c)
			}
		}
	}
	first := p.Changes[0]
	if first["resource"] != "vm.swappiness" || first["before"] != "60" || first["after"] != "10" || first["layer"] != "runtime" {
		t.Errorf("first change %v", first)
	}
}

// TestProfileChoices: the 25 % rule, the governor on Raspberry Pi OS, and
// turning a task off removes its lines from the owned file.
func TestProfileChoices(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	big := writeProfile(t, "version: 1\ntasks:\n  hugepages: {pages: 5000}\n")
	r := cli("plan", "--root", root, "--profile", big).must(t, 0)
	if !regexp.MustCompile(`hugepages\s+5000 × 2 MiB = 9.8 GiB would reserve more than 25 % of RAM \(31.3 GiB\)`).MatchString(r.stdout) {
		t.Errorf("hugepages not refused:\n%s", r.stdout)
	}

	pi := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	gov := writeProfile(t, "version: 1\ntasks:\n  cpu-governor: {enabled: true}\n")
	r = cli("plan", "--root", pi, "--profile", gov).must(t, 0)
	if strings.Count(r.stdout, "scaling_governor") != 1 || !strings.Contains(r.stdout, "99-ezedge-host-cpu-governor.rules") || !strings.Contains(r.stdout, "60-ondemand-governor.rules sets the governor as udev adds each CPU") {
		t.Errorf("Pi governor plan:\n%s", r.stdout)
	}

	applyYes(t, root)
	off := writeProfile(t, "version: 1\ntasks:\n  thp: {enabled: false}\n  nvme-queue: {enabled: false}\n")
	r = cli("plan", "--root", root, "--profile", off, "--diff").must(t, 0)
	if !strings.Contains(r.stdout, "-w /sys/kernel/mm/transparent_hugepage/enabled - - - - always") || !strings.Contains(r.stdout, "- file /etc/udev/rules.d/60-nvme.rules") {
		t.Errorf("turning tasks off does not remove their lines:\n%s", r.stdout)
	}
}

// TestDriftBackToPrior: a resource set back to its value from before the
// apply is reported as such, not as something rollback will leave alone;
// rollback then completes without --force.
func TestDriftBackToPrior(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	orig := fixture.Snapshot(t, root)
	applyYes(t, root)
	os.WriteFile(filepath.Join(root, "proc/sys/vm/swappiness"), []byte("60\n"), 0o644)
	p := cli("plan", "--root", root).must(t, 0)
	if !strings.Contains(p.stdout, "sysctl:vm.swappiness: apply ") || !strings.Contains(p.stdout, "now 60 again, its value before the apply") || strings.Contains(p.stdout, "leaves it alone") {
		t.Errorf("plan:\n%s", p.stdout)
	}
	cli("rollback", "--root", root, "--yes").must(t, 0)
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("not byte-identical: %v", d)
	}
}
