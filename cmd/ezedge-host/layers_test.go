package main

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
)

// The three-file layered profile of docs/profile.md: a site profile (the
// root's profile.yaml), a per-model override (profile.d) and a per-host
// exception (--profile), on the Pi 5 fixture (swappiness 60 there).
const (
	siteProfile = `# Site profile: every device of the fleet.
version: 1
tasks:
  swappiness: {enabled: true, value: 20}
  zswap: {compressor: zstd}
  net-buffers:
    enabled: true
    tcp_rmem: [4096, 87380, 33554432]
`
	modelProfile = `# Raspberry Pi 5, 16 GB: huge pages, and less swapping.
version: 1
tasks:
  swappiness:
    value: 10
  hugepages: {enabled: true, pages: 256}
`
	hostProfile = `# edge-7 serves the LLM: larger receive buffers, swapping only to avoid the OOM killer.
version: 1
tasks:
  swappiness: {value: 5}
  net-buffers: {tcp_rmem: [4096, 131072, 67108864]}
`
	modelDropIn = "etc/ezedge-host/profile.d/10-pi5-16gb.yaml"
)

// layeredRoot is the Pi 5 fixture with the site and model layers (and a
// dpkg backup beside the model's, which is not read), and the host's file
// beside it, outside the root.
func layeredRoot(t *testing.T) (root, host string) {
	t.Helper()
	root = fixture.Copy(t, profileFixture)
	fixture.PutAll(t, root, map[string]fixture.Entry{
		"/" + profileInRoot:             fixture.File(siteProfile),
		"/" + modelDropIn:               fixture.File(modelProfile),
		"/" + modelDropIn + ".dpkg-old": fixture.File("version: 1\ntasks:\n  swappiness: {value: 99}\n"),
	})
	host = filepath.Join(filepath.Dir(root), "host-7.yaml")
	if err := os.WriteFile(host, []byte(hostProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, host
}

// normalizeLayered is normalize, with the host file's path as it is
// written in docs/profile.md (`--profile host-7.yaml`).
func normalizeLayered(out, root, host string) string {
	return normalize(strings.ReplaceAll(out, host, "host-7.yaml"), root)
}

// wantProvenance is what the three layers set, and where: the last layer
// to set a key wins, over the earlier ones.
var wantProvenance = []string{
	"swappiness.enabled=true /etc/ezedge-host/profile.yaml:4",
	"swappiness.value=5 host-7.yaml:4 over 20 at /etc/ezedge-host/profile.yaml:4, 10 at /etc/ezedge-host/profile.d/10-pi5-16gb.yaml:5",
	"net-buffers.enabled=true /etc/ezedge-host/profile.yaml:7",
	"net-buffers.tcp_rmem=[4096 131072 67108864] host-7.yaml:5 over [4096 87380 33554432] at /etc/ezedge-host/profile.yaml:8",
	"hugepages.enabled=true /etc/ezedge-host/profile.d/10-pi5-16gb.yaml:6",
	"hugepages.pages=256 /etc/ezedge-host/profile.d/10-pi5-16gb.yaml:6",
	"zswap.compressor=zstd /etc/ezedge-host/profile.yaml:5",
}

type jsonSettings struct {
	Profile struct {
		Kind   string
		Layers []struct{ Path, Where string }
		// Settings in the JSON of plan and profile.
		Settings []struct {
			Task, Key, File string
			Value, Default  any
			Layer, Line     int
			Overrides       []struct {
				Value any
				Layer int
				File  string
				Line  int
			}
		}
	}
}

// decodeSettings reads the profile of a plan's or profile's JSON, numbers
// as written.
func decodeSettings(t *testing.T, out string) jsonSettings {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(out))
	d.UseNumber()
	var j jsonSettings
	if err := d.Decode(&j); err != nil {
		t.Fatal(err)
	}
	return j
}

func (j jsonSettings) provenance(host string) []string {
	var out []string
	for _, s := range j.Profile.Settings {
		l := fmt.Sprintf("%s.%s=%v %s:%d", s.Task, s.Key, s.Value, strings.ReplaceAll(s.File, host, "host-7.yaml"), s.Line)
		var over []string
		for _, o := range s.Overrides {
			over = append(over, fmt.Sprintf("%v at %s:%d", o.Value, strings.ReplaceAll(o.File, host, "host-7.yaml"), o.Line))
		}
		if len(over) > 0 {
			l += " over " + strings.Join(over, ", ")
		}
		if j.Profile.Layers[s.Layer].Path != s.File {
			l += " (layer index wrong)"
		}
		out = append(out, l)
	}
	return out
}

// TestLayeredProfile is the example of docs/profile.md on a fixture: the
// `profile` command shows the merged result with its provenance (golden,
// text and JSON, in the doc verbatim); plan says it in text and JSON and
// plans with it; apply applies it, check checks against it, a saved plan
// keeps exactly it; rollback leaves the root byte-identical.
func TestLayeredProfile(t *testing.T) {
	t.Parallel()
	root, host := layeredRoot(t)
	orig := fixture.Snapshot(t, root)

	r := cli("profile", "--root", root, "--profile", host).must(t, 0)
	if err := escape.CheckText([]byte(r.stdout)); err != nil {
		t.Error(err)
	}
	text := normalizeLayered(r.stdout, root, host)
	goldenFile(t, "profile/layered.txt", text)
	doc := readFile(t, filepath.Join(fixture.Testdata(), "..", "docs", "profile.md"))
	for name, want := range map[string]string{"site": siteProfile, "model": modelProfile, "host": hostProfile, "output": text} {
		if !strings.Contains(doc, "\n"+want+"```\n") {
			t.Errorf("docs/profile.md does not show the example's %s verbatim:\n%s", name, want)
		}
	}
	// The output is itself a profile, which plans as the three do.
	merged := filepath.Join(t.TempDir(), "merged.yaml")
	os.WriteFile(merged, []byte(r.stdout), 0o644)

	j := cli("profile", "--root", root, "--profile", host, "--output", "json").must(t, 0)
	goldenFile(t, "profile/layered.json", normalizeLayered(j.stdout, root, host))
	js := decodeSettings(t, j.stdout)
	if got := js.provenance(host); !slices.Equal(got, wantProvenance) {
		t.Errorf("profile --output json:\n got %q\nwant %q", got, wantProvenance)
	}

	// plan: the layers on its Profile line, every setting with its
	// provenance under it, and the plan made with the merge.
	p := cli("plan", "--root", root, "--profile", host).must(t, 0).stdout
	if want := "\nProfile: /etc/ezedge-host/profile.yaml, /etc/ezedge-host/profile.d/10-pi5-16gb.yaml in the root, then " + host + " (--profile)\nProfile settings (each from the last layer to set it):\n"; !strings.Contains(p, want) {
		t.Errorf("plan does not say %q:\n%s", want, p)
	}
	for _, want := range [][]string{
		{"swappiness.value", "5", host + ":4 (over 20 at /etc/ezedge-host/profile.yaml:4, 10 at /etc/ezedge-host/profile.d/10-pi5-16gb.yaml:5)"},
		{"net-buffers.tcp_rmem", "[4096, 131072, 67108864]", host + ":5 (over [4096, 87380, 33554432] at /etc/ezedge-host/profile.yaml:8)"},
		{"hugepages.pages", "256", "/etc/ezedge-host/profile.d/10-pi5-16gb.yaml:6"},
		{"zswap.compressor", "zstd", "/etc/ezedge-host/profile.yaml:5"},
	} {
		if !regexp.MustCompile(`\n  ` + regexp.QuoteMeta(want[0]) + ` +` + regexp.QuoteMeta(want[1]) + ` +` + regexp.QuoteMeta(want[2]) + `\n`).MatchString(p) {
			t.Errorf("plan does not show %q:\n%s", want, p)
		}
	}
	if got := plannedSwappiness(t, p); got != "60 -> 5" {
		t.Errorf("plan: swappiness %s, want 60 -> 5", got)
	}
	if !strings.Contains(p, "4096 131072 67108864") {
		t.Errorf("plan does not use the host's tcp_rmem:\n%s", p)
	}
	pj := cli("plan", "--root", root, "--profile", host, "--output", "json").must(t, 0)
	pjs := decodeSettings(t, pj.stdout)
	if got := pjs.provenance(host); !slices.Equal(got, wantProvenance) || pjs.Profile.Kind != "layers" || len(pjs.Profile.Layers) != 3 {
		t.Errorf("plan --output json: %+v\n got %q\nwant %q", pjs.Profile, got, wantProvenance)
	}
	// The merged YAML, as the only --profile over an empty root, plans
	// the same changes.
	bare := fixture.Copy(t, profileFixture)
	if a, b := changesOf(t, cli("plan", "--root", bare, "--profile", merged, "--output", "json").must(t, 0).stdout), changesOf(t, pj.stdout); a != b {
		t.Errorf("the merged YAML plans otherwise than its layers:\n%s\n---\n%s", a, b)
	}

	// A saved plan keeps the three layers, their bytes and what they set;
	// applied after the model's file changed, it applies what it saved.
	file := filepath.Join(t.TempDir(), "p.plan")
	cli("plan", "--root", root, "--profile", host, "--out", file).must(t, 0)
	var saved struct {
		Profile struct {
			Kind   string
			Layers []struct{ Path, Where, Data string }
		}
	}
	if err := json.Unmarshal([]byte(readFile(t, file)), &saved); err != nil {
		t.Fatal(err)
	}
	var layers []string
	for _, l := range saved.Profile.Layers {
		layers = append(layers, l.Path+" "+l.Where+" "+l.Data)
	}
	if want := []string{"/etc/ezedge-host/profile.yaml root " + siteProfile, "/etc/ezedge-host/profile.d/10-pi5-16gb.yaml root " + modelProfile, host + " file " + hostProfile}; !slices.Equal(layers, want) {
		t.Errorf("saved layers %q", layers)
	}
	for name, edit := range map[string][2]string{
		"an overridden value": {`swappiness:\n    value: 10`, `swappiness:\n    value: 11`},
		"a value in force":    {`{value: 5}`, `{value: 4}`},
		"a layer's line":      {`"data": "# Raspberry Pi 5`, `"data": "\n# Raspberry Pi 5`},
		"a setting's line":    {`"line": 6`, `"line": 7`},
		"the layers' order":   {`"path": "/etc/ezedge-host/profile.d/10-pi5-16gb.yaml"`, `"path": "/etc/ezedge-host/profile.d/.10-pi5-16gb.yaml"`},
		"a setting's origin":  {`"file": "/etc/ezedge-host/profile.d/10-pi5-16gb.yaml",`, `"file": "/etc/ezedge-host/profile.yaml",`},
	} {
		s := readFile(t, file)
		changed := strings.Replace(s, edit[0], edit[1], 1)
		if changed == s {
			t.Fatalf("%s: the edit did not apply", name)
		}
		f := filepath.Join(t.TempDir(), "edited.plan")
		os.WriteFile(f, []byte(changed), 0o600)
		if r := cli("apply", f, "--root", root); r.code != 1 || !strings.HasPrefix(r.stderr, "ezedge-host: plan file "+f+": ") || strings.Count(r.stderr, "\n") != 1 {
			t.Fatalf("%s: exit %d: %q", name, r.code, r.stderr)
		}
		identical(t, orig, root)
	}
	os.WriteFile(filepath.Join(root, modelDropIn), []byte(strings.Replace(modelProfile, "value: 10", "value: 12", 1)), 0o644)
	os.WriteFile(host, []byte(strings.Replace(hostProfile, "value: 5", "value: 6", 1)), 0o644)
	cli("apply", file, "--root", root).must(t, 0)
	if got := readFile(t, filepath.Join(root, "proc/sys/vm/swappiness")); got != "5\n" {
		t.Errorf("apply PLANFILE: swappiness %q, want the saved 5", got)
	}
	os.WriteFile(host, []byte(hostProfile), 0o644)
	os.WriteFile(filepath.Join(root, modelDropIn), []byte(modelProfile), 0o644)

	// check plans as apply did: with the same layers the tuning is in
	// place; without the host's file, the model's swappiness is wanted.
	for _, tc := range []struct {
		args []string
		want string
	}{{[]string{"--profile", host}, "ok"}, {nil, "fail"}} {
		r := cli(append([]string{"check", "--root", root, "--output", "json"}, tc.args...)...)
		if got := tuningStatus(t, r, "swappiness"); got != tc.want {
			t.Errorf("check %v: tuning.swappiness %q, want %q", tc.args, got, tc.want)
		}
	}
	cli("rollback", "--root", root, "--yes").must(t, 0)
	identical(t, orig, root)
}

// changesOf is a plan JSON's changes, as JSON.
func changesOf(t *testing.T, planJSON string) string {
	t.Helper()
	var p struct{ Changes json.RawMessage }
	if err := json.Unmarshal([]byte(planJSON), &p); err != nil {
		t.Fatal(err)
	}
	return string(p.Changes)
}

// tuningStatus is check's status of tuning.<task>.
func tuningStatus(t *testing.T, r result, task string) string {
	t.Helper()
	if r.code == 1 {
		t.Fatalf("check: %s", r.stderr)
	}
	var c struct {
		Results []struct{ Group, Name, Status string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
		t.Fatal(err)
	}
	for _, ch := range c.Results {
		if ch.Group == "tuning" && ch.Name == task {
			return ch.Status
		}
	}
	return ""
}

// TestLayeredFirstboot: an image's first boot applies its layers as every
// command reads them; firstboot install --profile FILE puts FILE as the
// image's profile.yaml, under the image's profile.d (which then wins where
// both set a key), and says so with the settings the first boot applies.
func TestLayeredFirstboot(t *testing.T) {
	t.Parallel()
	arm64 := filepath.Join(t.TempDir(), "ezedge-host-arm64")
	os.WriteFile(arm64, elfHeader(elf.EM_AARCH64), 0o755)
	for _, tc := range []struct {
		name    string
		args    func(host string) []string
		line    func(host string) string
		applied string
	}{
		{"the image's layers", func(string) []string { return nil },
			func(string) string {
				return "Profile: /etc/ezedge-host/profile.yaml, /etc/ezedge-host/profile.d/10-pi5-16gb.yaml in the root\n"
			}, "vm.swappiness = 10\n"},
		{"--profile as the image's profile.yaml", func(host string) []string { return []string{"--profile", host} },
			func(host string) string {
				return "Profile: " + host + " (--profile, to be the image's /etc/ezedge-host/profile.yaml), then /etc/ezedge-host/profile.d/10-pi5-16gb.yaml in the root\n"
			}, "vm.swappiness = 10\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root, host := layeredRoot(t)
			r := cli(append([]string{"firstboot", "install", "--root", root, "--binary", arm64}, tc.args(host)...)...).must(t, 0)
			if !strings.Contains(r.stdout, tc.line(host)+"Profile settings (each from the last layer to set it):\n") {
				t.Errorf("install does not say %q:\n%s", tc.line(host), r.stdout)
			}
			if !regexp.MustCompile(`\n  swappiness\.value +10 +/etc/ezedge-host/profile\.d/10-pi5-16gb\.yaml:5 \(over [0-9]+ at `).MatchString(r.stdout) {
				t.Errorf("install does not say where swappiness comes from:\n%s", r.stdout)
			}
			cli("firstboot", "run", "--root", root).must(t, 0)
			if s := readFile(t, filepath.Join(root, "etc/sysctl.d/90-ezedge-host.conf")); !strings.Contains(s, tc.applied) {
				t.Errorf("the first boot did not apply %q:\n%s", tc.applied, s)
			}
		})
	}
}

// dropInSnap is the root's tree but for skip, with /etc/ezedge-host and
// what is under it described by what each entry is (never read: a FIFO
// would block).
func dropInSnap(t *testing.T, root string, skip ...string) fixture.Tree {
	t.Helper()
	tree := fixture.Snapshot(t, root, append(skip, "etc/ezedge-host")...)
	filepath.WalkDir(filepath.Join(root, "etc/ezedge-host"), func(p string, _ os.DirEntry, _ error) error {
		rel, _ := filepath.Rel(root, p)
		st, err := os.Lstat(p)
		if err != nil {
			tree[rel] = err.Error()
			return nil
		}
		target, _ := os.Readlink(p)
		tree[rel] = fmt.Sprintf("%v %d %v %q", st.Mode(), st.Size(), st.ModTime().UnixNano(), target)
		return nil
	})
	return tree
}

// TestHostileDropInsEveryCommand: whatever is at profile.d or in it, every
// command that plans (and `profile`) fails with one line naming it and
// changes nothing; --no-profile does not look. (Every kind of file is
// tried on Resolve itself in internal/profile; here each entry point.)
func TestHostileDropInsEveryCommand(t *testing.T) {
	t.Parallel()
	arm64 := filepath.Join(t.TempDir(), "ezedge-host-arm64")
	os.WriteFile(arm64, elfHeader(elf.EM_AARCH64), 0o755)
	other := writeProfile(t, otherProfile)
	dropIns := "etc/ezedge-host/profile.d"
	kinds := map[string]func(t *testing.T, root, outside string) error{
		"profile.d-fifo": func(_ *testing.T, root, _ string) error { return unix.Mkfifo(filepath.Join(root, dropIns), 0o644) },
		"profile.d-link-outside": func(_ *testing.T, root, outside string) error {
			return os.Symlink(outside, filepath.Join(root, dropIns))
		},
		"fifo": func(_ *testing.T, root, _ string) error {
			os.MkdirAll(filepath.Join(root, dropIns), 0o755)
			return unix.Mkfifo(filepath.Join(root, dropIns, "10-x.yaml"), 0o644)
		},
		"link-outside": func(_ *testing.T, root, outside string) error {
			os.MkdirAll(filepath.Join(root, dropIns), 0o755)
			return os.Symlink(filepath.Join(outside, "10-x.yaml"), filepath.Join(root, dropIns, "10-x.yaml"))
		},
		"directory": func(_ *testing.T, root, _ string) error {
			return os.MkdirAll(filepath.Join(root, dropIns, "10-x.yaml"), 0o755)
		},
		"invalid": func(_ *testing.T, root, _ string) error {
			os.MkdirAll(filepath.Join(root, dropIns), 0o755)
			return os.WriteFile(filepath.Join(root, dropIns, "10-x.yaml"), []byte("version: 1\ntasks:\n  swappiness: {value: 500}\n"), 0o644)
		},
	}
	for name, plant := range kinds {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if testing.Short() && name != "fifo" && name != "invalid" {
				t.Skip("-short: a FIFO and an invalid layer")
			}
			base := t.TempDir()
			root := filepath.Join(base, "a", "root")
			if err := fixture.CopyTree(filepath.Join(fixture.Testdata(), profileFixture), root); err != nil {
				t.Fatal(err)
			}
			outside := filepath.Join(base, "outside")
			os.MkdirAll(outside, 0o755)
			os.WriteFile(filepath.Join(outside, "10-x.yaml"), []byte(otherProfile), 0o644)
			putProfile(t, root, rootProfile)
			if err := plant(t, root, outside); err != nil {
				t.Fatalf("planting: %v", err)
			}
			orig := dropInSnap(t, root)
			outsideOrig := fixture.Snapshot(t, outside)
			planFile := filepath.Join(base, "p.plan")
			for _, args := range [][]string{
				{"plan"},
				{"plan", "--profile", other, "--output", "json"},
				{"plan", "--out", planFile},
				{"profile"},
				{"profile", "--output", "json"},
				{"apply", "--yes"},
				{"check", "--output", "prometheus", "--textfile-dir", "-"},
				{"resources", "--workload", "llm=chat", "--form", "compose", "--write", "chat", "--yes"},
				{"firstboot", "install", "--binary", arm64},
				{"firstboot", "install", "--binary", arm64, "--profile", other},
				{"firstboot", "run"},
			} {
				r := cli(append(args, "--root", root)...)
				where := strings.Join(args, " ")
				if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "/etc/ezedge-host/profile.d") {
					t.Errorf("%s: exit %d, want 1 with one line naming profile.d: %q", where, r.code, r.stderr)
				}
				if (args[0] == "plan" || args[0] == "profile") && r.stdout != "" {
					t.Errorf("%s: printed:\n%s", where, r.stdout)
				}
				if _, err := os.Stat(planFile); err == nil {
					t.Errorf("%s: wrote the plan file", where)
				}
				skip := []string{fixture.StoreDir + "/firstboot.json", fixture.StoreDir + "/firstboot.done"}
				if where == "firstboot run" {
					skip = []string{fixture.StoreDir}
				}
				if d := orig.Diff(dropInSnap(t, root, skip...)); len(d) > 0 {
					t.Errorf("%s changed the root: %v", where, d)
				}
			}
			if d := outsideOrig.Diff(fixture.Snapshot(t, outside)); len(d) > 0 {
				t.Errorf("changed outside the root: %v", d)
			}
			if r := cli("plan", "--no-profile", "--root", root); r.code != 0 {
				t.Errorf("plan --no-profile: exit %d: %s", r.code, r.stderr)
			}
		})
	}
}
