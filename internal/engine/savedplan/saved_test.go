package savedplan

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/rollback"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

func fresh(t *testing.T, root string) *plan.Plan {
	t.Helper()
	h, err := hostroot.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	f, err := platform.Detect(h, tasks.Observations())
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(h, rollback.Open(h), f, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSaveLoadCheck: a saved plan loads back (0600, its profile kept) and
// matches the host it was made for; a host that moved since is stale,
// naming the resource; another root is refused.
func TestSaveLoadCheck(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	p := fresh(t, root)
	file := filepath.Join(t.TempDir(), "p.plan")
	prof := profile.Record{Kind: profile.KindLayers, Layers: []profile.RecordLayer{{Layer: profile.Layer{Path: profile.DefaultPath, Where: profile.InRoot}, Data: "version: 1\n"}}, Settings: json.RawMessage("[]")}
	if err := Save(file, p, prof, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("plan file mode: %v %v", st, err)
	}
	s, err := Load(file)
	if err != nil || len(s.Profile.Layers) != 1 || s.Profile.Layers[0] != prof.Layers[0] || string(s.Profile.Settings) != "[]" || len(s.Changes) != len(p.Pending()) {
		t.Fatalf("Load: %v %+v", err, s)
	}
	if err := s.Check(fresh(t, root)); err != nil {
		t.Fatalf("Check on the same host: %v", err)
	}
	os.WriteFile(filepath.Join(root, "proc/sys/vm/swappiness"), []byte("33\n"), 0o644)
	if err := s.Check(fresh(t, root)); err == nil || !strings.Contains(err.Error(), "stale") || !strings.Contains(err.Error(), "sysctl:vm.swappiness (planned from 60, now 33)") {
		t.Errorf("stale: %v", err)
	}
	other := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	if err := s.Check(fresh(t, other)); err == nil || !strings.Contains(err.Error(), "made for root") {
		t.Errorf("another root: %v", err)
	}
}

// TestLoadRefuses: what is not a plan file this build wrote is refused in
// one line naming it: another kind, a newer or older format, an unknown
// field, a second document, a changed value.
func TestLoadRefuses(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi4-8gb-bullseye")
	p := fresh(t, root)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.plan")
	if err := Save(good, p, profile.Record{Kind: profile.KindAbsent, Layers: []profile.RecordLayer{}, Settings: json.RawMessage("[]")}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	var m map[string]any
	json.Unmarshal(b, &m)
	edit := func(f func(map[string]any)) string {
		c := map[string]any{}
		for k, v := range m {
			c[k] = v
		}
		f(c)
		out, _ := json.Marshal(c)
		return string(out)
	}
	for name, body := range map[string]string{
		"kind":    edit(func(c map[string]any) { c["kind"] = "terraform" }),
		"newer":   edit(func(c map[string]any) { c["format_version"] = savedVersion + 1 }),
		"older":   edit(func(c map[string]any) { c["format_version"] = 1 }),
		"unknown": edit(func(c map[string]any) { c["extra"] = true }),
		"two":     string(b) + string(b),
		"junk":    "not json",
	} {
		f := filepath.Join(dir, name)
		os.WriteFile(f, []byte(body), 0o600)
		if _, err := Load(f); err == nil || !strings.Contains(err.Error(), f) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v", name, err)
		}
	}
	s, _ := Load(good)
	s.Changes[0].After.Data = []byte("99\n")
	if err := s.Check(fresh(t, root)); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("an edited value: %v", err)
	}
}
