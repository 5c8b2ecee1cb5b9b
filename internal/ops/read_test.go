package ops

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/alloc"
	"github.com/ezansiedgeai/ezedge-host/internal/health/check"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/store/statedir"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// TestHistoryAndStatus: an apply is in the history and the status; a
// stored effect that cannot be read is a warning of the history, not a
// failure; a fresh root has nothing waiting and no first boot.
func TestHistoryAndStatus(t *testing.T) {
	t.Parallel()
	x, root, _ := host(t, "pi5-16gb-nvme-bookworm")
	if s, err := x.Status(); err != nil || len(s.Pending) != 0 || len(s.History.Records) != 0 {
		t.Fatalf("fresh status: %+v %v", s, err)
	}
	if fb, err := x.FirstbootStatus(); err != nil || fb.Ran || fb.Installed {
		t.Fatalf("fresh first boot: %+v %v", fb, err)
	}
	res, err := x.Apply(ApplyRequest{Request: defaults(t, x)})
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(root, statedir.Path("measured"), res.Applied.ID+".apply.json")
	if err := os.MkdirAll(filepath.Dir(bad), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bad, []byte("{not json"), 0o600)
	h, err := x.History()
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Records) != 1 || h.Records[0].ID != res.Applied.ID || len(h.Effects) != 0 {
		t.Errorf("history %+v", h)
	}
	if len(h.Warnings) != 1 || !strings.Contains(h.Warnings[0], res.Applied.ID+".apply.json") {
		t.Errorf("the unreadable effect: warnings %q", h.Warnings)
	}
	s, err := x.Status()
	if err != nil || len(s.History.Records) != 1 || len(s.Pending) != 0 {
		t.Errorf("status after apply: %+v %v", s, err)
	}
	if recs, skipped, err := x.Baselines(); err != nil || recs != nil || skipped != nil {
		t.Errorf("baselines: %v %v %v", recs, skipped, err)
	}
}

// TestSavePlanLoadPlan: a plan saved with its profile and tasks loads
// with both, the profile as the saved layer; a file that is not a plan
// is refused, naming it.
func TestSavePlanLoadPlan(t *testing.T) {
	t.Parallel()
	x, _, _ := host(t, "pi4-8gb-bullseye")
	req := defaults(t, x)
	req.Only = []string{"swappiness"}
	p, err := x.Plan(req)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "tuning.plan")
	if err := x.SavePlan(file, p, req.Profile, req.Only); err != nil {
		t.Fatal(err)
	}
	saved, src, err := LoadPlan(file)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(saved.Only, req.Only) || len(saved.Changes) != len(p.Pending()) {
		t.Errorf("saved %+v", saved)
	}
	if prof, err := x.Profile(src); err != nil || prof.Origin.Kind != req.Profile.Origin.Kind {
		t.Errorf("the saved profile: %+v %v", prof, err)
	}
	b, _ := os.ReadFile(file)
	os.WriteFile(file, []byte(strings.Replace(string(b), `"swappiness"`, `"no-such"`, 1)), 0o600)
	if _, _, err := LoadPlan(file); err == nil || !strings.HasPrefix(err.Error(), "plan file "+file+": --only no-such: no such task") {
		t.Errorf("a task this program does not have: %v", err)
	}
	os.WriteFile(file, []byte("not a plan"), 0o600)
	if _, _, err := LoadPlan(file); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("not a plan: %v", err)
	}
}

// TestResources: a mix is sized from the host and its profile; a
// profile that cannot be read is refused.
func TestResources(t *testing.T) {
	t.Parallel()
	x, root, _ := host(t, "pi5-16gb-nvme-bookworm")
	mix := []alloc.Request{{Workload: alloc.LLM, Name: "ollama"}}
	res, err := x.Resources(ResourcesRequest{Profile: profile.Default(), Mix: mix})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Allocation.Containers) != 1 || res.Allocation.Containers[0].Name != "ollama" {
		t.Errorf("allocation %+v", res.Allocation)
	}
	if _, err := x.Resources(ResourcesRequest{Profile: profile.Files(filepath.Join(root, "none.yaml")), Mix: mix}); err == nil {
		t.Error("a missing profile was not refused")
	}
}

// TestTextfile: check's Prometheus form goes to standard output for no
// directory or "-", else to the textfile in the root's directory; the
// age is checked in the one named, else Debian's.
func TestTextfile(t *testing.T) {
	t.Parallel()
	x, root, _ := host(t, "pi4-8gb-bullseye")
	if x.Textfile("") != nil || x.Textfile("-") != nil {
		t.Error("standard output is a textfile")
	}
	dir := "/var/lib/node-exporter-here"
	os.MkdirAll(filepath.Join(root, dir), 0o755)
	if err := x.Textfile(dir)([]byte("m 1\n")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, dir, check.TextfileName)); err != nil || string(b) != "m 1\n" {
		t.Errorf("textfile %q %v", b, err)
	}
	if TextfileDir("") != check.DefaultTextfileDir || TextfileDir("-") != check.DefaultTextfileDir || TextfileDir(dir) != dir {
		t.Error("TextfileDir")
	}
}

// TestReadBinary: the binary named is read as a file the operator names
// (a directory refused, naming it); none named is this program.
func TestReadBinary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "ezedge-host-arm64")
	os.WriteFile(bin, []byte("\x7fELF..."), 0o755)
	if name, b, err := ReadBinary(bin)(); err != nil || name != bin || string(b) != "\x7fELF..." {
		t.Errorf("read %q %q %v", name, b, err)
	}
	if _, _, err := ReadBinary(dir)(); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("a directory: %v", err)
	}
	self, _ := os.Executable()
	if name, _, _ := ReadBinary("")(); name != self {
		t.Errorf("none named: %q, want %q", name, self)
	}
}

// TestWritePackagedUnits: every packaged unit is written, as it is.
func TestWritePackagedUnits(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "units")
	if err := WritePackagedUnits(dir); err != nil {
		t.Fatal(err)
	}
	units := PackagedUnits()
	ents, _ := os.ReadDir(dir)
	if len(ents) != len(units) || len(units) < 4 {
		t.Fatalf("%d files for %d units", len(ents), len(units))
	}
	for name, text := range units {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != text {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestOnlyTasks: a task the registry has passes; any other is refused
// naming it and the tasks there are.
func TestOnlyTasks(t *testing.T) {
	t.Parallel()
	if err := OnlyTasks(tasks.Names()); err != nil {
		t.Fatal(err)
	}
	err := OnlyTasks([]string{tasks.Names()[0], "no-such"})
	if err == nil || !strings.HasPrefix(err.Error(), "--only no-such: no such task (tasks: "+tasks.Names()[0]) {
		t.Errorf("got %v", err)
	}
}
