package main

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// The root's own profile, /etc/ezedge-host/profile.yaml (the Debian
// package's conffile), is every command's profile; --profile FILE is
// layered over it, --no-profile sets it aside. Each sets swappiness to its
// own value, so which one a command used shows in what it plans.
const (
	profileInRoot  = "etc/ezedge-host/profile.yaml"
	rootProfile    = "version: 1\ntasks:\n  swappiness: {enabled: true, value: 5}\n"
	otherProfile   = "version: 1\ntasks:\n  swappiness: {enabled: true, value: 7}\n"
	profileFixture = "pi5-16gb-nvme-bookworm" // swappiness 60, platform default 10
)

// putProfile writes body as the root's own profile.
func putProfile(t *testing.T, root, body string) {
	t.Helper()
	p := filepath.Join(root, profileInRoot)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

var swappinessChange = regexp.MustCompile(`sysctl vm\.swappiness +\[swappiness, runtime\]\n +(\S+ -> \S+)\n`)

// plannedSwappiness is the vm.swappiness change a text plan shows.
func plannedSwappiness(t *testing.T, plan string) string {
	t.Helper()
	m := swappinessChange.FindStringSubmatch(plan)
	if m == nil {
		t.Fatalf("no vm.swappiness change in:\n%s", plan)
	}
	return m[1]
}

type planProfile struct {
	Profile *struct {
		Kind   string
		Layers []struct{ Path, Where string }
	}
}

// TestRootProfileEveryEntryPoint: plan (text, JSON, --out), apply, apply
// PLANFILE, check and resources --write all plan with the root's own
// profile; --profile is layered over it (its value wins) and --no-profile
// gives the platform defaults; the plan says which it used.
func TestRootProfileEveryEntryPoint(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, profileFixture)
	putProfile(t, root, rootProfile)
	orig := fixture.Snapshot(t, root)
	other := writeProfile(t, otherProfile)

	for _, tc := range []struct {
		args       []string
		line, kind string
		layers     []string // path where
		change     string
	}{
		{nil, "Profile: /etc/ezedge-host/profile.yaml in the root\n", "layers", []string{"/etc/ezedge-host/profile.yaml root"}, "60 -> 5"},
		{[]string{"--profile", other}, "Profile: /etc/ezedge-host/profile.yaml in the root, then " + other + " (--profile)\n", "layers", []string{"/etc/ezedge-host/profile.yaml root", other + " file"}, "60 -> 7"},
		{[]string{"--no-profile"}, "Profile: platform defaults (--no-profile)\n", "none", nil, "60 -> 10"},
	} {
		r := cli(append([]string{"plan", "--root", root}, tc.args...)...).must(t, 0)
		if !strings.Contains(r.stdout, "\n"+tc.line) {
			t.Errorf("plan %v does not say %q:\n%s", tc.args, tc.line, r.stdout)
		}
		if got := plannedSwappiness(t, r.stdout); got != tc.change {
			t.Errorf("plan %v: swappiness %s, want %s", tc.args, got, tc.change)
		}
		j := cli(append([]string{"plan", "--root", root, "--output", "json"}, tc.args...)...).must(t, 0)
		var pp planProfile
		if err := json.Unmarshal([]byte(j.stdout), &pp); err != nil || pp.Profile == nil {
			t.Fatalf("plan %v --output json: %v\n%s", tc.args, err, j.stdout)
		}
		var layers []string
		for _, l := range pp.Profile.Layers {
			layers = append(layers, l.Path+" "+l.Where)
		}
		if pp.Profile.Kind != tc.kind || !slices.Equal(layers, tc.layers) {
			t.Errorf("plan %v --output json: profile %+v, want kind %s layers %q", tc.args, *pp.Profile, tc.kind, tc.layers)
		}
	}

	// apply, with each source: the value it set, then rolled back.
	for _, tc := range []struct {
		args []string
		want string
	}{{nil, "5\n"}, {[]string{"--profile", other}, "7\n"}, {[]string{"--no-profile"}, "10\n"}} {
		applyYes(t, root, tc.args...)
		if got := readFile(t, filepath.Join(root, "proc/sys/vm/swappiness")); got != tc.want {
			t.Errorf("apply %v: swappiness %q, want %q", tc.args, got, tc.want)
		}
		cli("rollback", "--root", root, "--yes").must(t, 0)
		identical(t, orig, root)
	}

	// check plans as apply did: after an apply with the root's profile
	// its tuning is in place; the platform defaults would change it.
	applyYes(t, root)
	for _, tc := range []struct {
		args []string
		want string
	}{{nil, "ok"}, {[]string{"--no-profile"}, "fail"}, {[]string{"--profile", other}, "fail"}} {
		r := cli(append([]string{"check", "--root", root, "--output", "json"}, tc.args...)...)
		if r.code == 1 {
			t.Fatalf("check %v: %s", tc.args, r.stderr)
		}
		var c struct {
			Results []struct{ Group, Name, Status string }
		}
		if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, ch := range c.Results {
			if ch.Group == "tuning" && ch.Name == "swappiness" {
				got = ch.Status
			}
		}
		if got != tc.want {
			t.Errorf("check %v: tuning.swappiness %q, want %q", tc.args, got, tc.want)
		}
	}
	cli("rollback", "--root", root, "--yes").must(t, 0)
	identical(t, orig, root)

	// resources --write plans through apply, with the root's profile.
	r := cli("resources", "--root", root, "--workload", "llm=chat", "--form", "compose", "--write", "chat", "--yes").must(t, 0)
	if !strings.Contains(r.stdout, "\nProfile: /etc/ezedge-host/profile.yaml in the root\n") {
		t.Errorf("resources --write does not say the root's profile:\n%s", r.stdout)
	}
	cli("rollback", "--root", root, "--yes").must(t, 0)
	identical(t, orig, root)
	// Without --write too, the profile says what the host keeps from
	// containers: a volatile journal's cap comes off the budget.
	journal := writeProfile(t, "version: 1\ntasks:\n  journald: {enabled: true, mode: volatile, runtime_max_mib: 128}\n")
	for _, tc := range []struct {
		args []string
		kept bool
	}{{[]string{"--profile", journal}, true}, {[]string{"--no-profile"}, false}} {
		r := cli(append([]string{"resources", "--root", root, "--workload", "llm=chat"}, tc.args...)...).must(t, 0)
		if got := strings.Contains(r.stdout, "\n  − 128 MiB volatile journal: the journald task keeps the journal in RAM, RuntimeMaxUse=128M\n"); got != tc.kept {
			t.Errorf("resources %v: journal kept %v, want %v:\n%s", tc.args, got, tc.kept, r.stdout)
		}
	}

	// An empty --profile, or both flags, are refused: one way each.
	for _, args := range [][]string{{"--profile", ""}, {"--profile="}, {"--profile", other, "--no-profile"}} {
		for _, cmd := range [][]string{{"plan"}, {"apply", "--yes"}, {"check"}, {"resources", "--workload", "llm=chat", "--form", "compose", "--write", "chat", "--yes"}} {
			r := cli(slices.Concat(cmd, []string{"--root", root}, args)...).must(t, 1)
			if !strings.Contains(r.stderr, "--profile") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("%s %v: %q", cmd, args, r.stderr)
			}
		}
	}
	identical(t, orig, root)
}

// TestSavedPlanKeepsItsProfile: plan --out records the profile and where it
// came from; apply PLANFILE plans again with exactly that, not with
// whatever the root's profile says by then; an edited profile is refused.
func TestSavedPlanKeepsItsProfile(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, profileFixture)
	putProfile(t, root, rootProfile)
	file := filepath.Join(t.TempDir(), "p.plan")
	cli("plan", "--root", root, "--out", file).must(t, 0)
	var saved struct {
		Profile struct {
			Kind   string
			Layers []struct{ Path, Where, Data string }
		}
	}
	if err := json.Unmarshal([]byte(readFile(t, file)), &saved); err != nil {
		t.Fatal(err)
	}
	if p := saved.Profile; p.Kind != "layers" || len(p.Layers) != 1 || p.Layers[0].Data != rootProfile || p.Layers[0].Path != "/etc/ezedge-host/profile.yaml" || p.Layers[0].Where != "root" {
		t.Fatalf("saved profile %+v", p)
	}
	// Without a profile in the root: the platform defaults, said so.
	bare := fixture.Copy(t, profileFixture)
	bareFile := filepath.Join(t.TempDir(), "bare.plan")
	cli("plan", "--root", bare, "--out", bareFile).must(t, 0)
	if s := readFile(t, bareFile); !strings.Contains(s, `"profile": {
    "kind": "absent",
    "layers": [],
    "settings": []
  }`) {
		t.Errorf("plan file without a profile in the root:\n%s", s)
	}

	// An edited profile approves nothing.
	orig := fixture.Snapshot(t, root)
	for name, edit := range map[string][2]string{
		"unknown kind":      {`"kind": "layers"`, `"kind": "elsewhere"`},
		"none with layers":  {`"kind": "layers",`, `"kind": "none",`},
		"another root path": {`"path": "/etc/ezedge-host/profile.yaml"`, `"path": "/etc/shadow"`},
		"another value":     {`{enabled: true, value: 5}`, `{enabled: true, value: 6}`},
		"another line":      {`"data": "version: 1\ntasks:`, `"data": "version: 1\n\ntasks:`},
	} {
		s := readFile(t, file)
		changed := strings.Replace(s, edit[0], edit[1], 1)
		if changed == s {
			t.Fatalf("%s: the edit did not apply", name)
		}
		f := filepath.Join(t.TempDir(), "edited.plan")
		os.WriteFile(f, []byte(changed), 0o600)
		r := cli("apply", f, "--root", root).must(t, 1)
		if !strings.Contains(r.stderr, "ezedge-host: plan file "+f+": profile: ") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%s: %q", name, r.stderr)
		}
		identical(t, orig, root)
	}

	// The root's profile edited since: the plan file applies what it
	// approved (swappiness 5).
	putProfile(t, root, otherProfile)
	cli("apply", file, "--root", root).must(t, 0)
	if got := readFile(t, filepath.Join(root, "proc/sys/vm/swappiness")); got != "5\n" {
		t.Errorf("apply PLANFILE: swappiness %q, want the saved profile's 5", got)
	}
}

// TestSavedPlanRefusesMeaninglessFlags goes through every flag apply takes
// with a plan file: the ones a saved plan fixes itself (its profile, its
// --only) are refused, one line each naming the flag, and change nothing;
// the others still act (or fail for their own reason, never ignored). A
// flag added to apply without being classed here fails the test.
func TestSavedPlanRefusesMeaninglessFlags(t *testing.T) {
	t.Parallel()
	base := fixture.Copy(t, profileFixture)
	prof := writeProfile(t, otherProfile)
	refused := map[string][]string{
		"profile":    {"--profile", prof},
		"no-profile": {"--no-profile"},
		"only":       {"--only", "thp"},
	}
	// Each accepted flag, and what it does with a plan file: code is the
	// exit status (a fixture root is not a host --measure can measure).
	accepted := map[string]struct {
		args []string
		code int
	}{
		"root":           {nil, 0}, // given to every run below
		"output":         {[]string{"--output", "json"}, 0},
		"platform":       {[]string{"--platform", "rpi5"}, 0},
		"yes":            {[]string{"--yes"}, 0},
		"quiet":          {[]string{"--quiet"}, 0},
		"lock-timeout":   {[]string{"--lock-timeout", "2s"}, 0},
		"confirm-within": {[]string{"--confirm-within", "2s"}, 0},
		"measure":        {[]string{"--measure"}, 1},
		"budget":         {[]string{"--measure", "--budget", "5s"}, 1},
		"http":           {[]string{"--measure", "--http", "http://127.0.0.1:9/"}, 1},
		"data-dir":       {[]string{"--measure", "--data-dir", "/var"}, 1},
		"busy":           {[]string{"--measure", "--busy"}, 1},
		"help":           {[]string{"--help"}, 0},
	}
	c, _, err := rootCmd(&globals{}).Find([]string{"apply"})
	if err != nil {
		t.Fatal(err)
	}
	c.InitDefaultHelpFlag()
	all := pflag.NewFlagSet("apply", pflag.ContinueOnError)
	all.AddFlagSet(c.Flags())
	all.AddFlagSet(c.InheritedFlags())
	all.VisitAll(func(f *pflag.Flag) {
		_, r := refused[f.Name]
		_, a := accepted[f.Name]
		if r == a {
			t.Errorf("apply --%s: class it here as refused with a plan file or accepted (refused %v, accepted %v)", f.Name, r, a)
		}
	})

	for name, args := range refused {
		t.Run("refused/"+name, func(t *testing.T) {
			t.Parallel()
			root := fixture.Copy(t, profileFixture)
			file := filepath.Join(t.TempDir(), "p.plan")
			cli("plan", "--root", root, "--out", file).must(t, 0)
			orig := fixture.Snapshot(t, root)
			r := cli(append([]string{"apply", file, "--root", root, "--yes"}, args...)...).must(t, 1)
			if !strings.HasPrefix(r.stderr, "ezedge-host: --"+name+": a saved plan is applied") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("apply PLANFILE --%s: want one line naming it, got %q", name, r.stderr)
			}
			identical(t, orig, root)
		})
	}
	// Two at once: a line each.
	file := filepath.Join(t.TempDir(), "p.plan")
	cli("plan", "--root", base, "--out", file).must(t, 0)
	r := cli("apply", file, "--root", base, "--only", "thp", "--profile", prof).must(t, 1)
	if !strings.Contains(r.stderr, "--only: ") || !strings.Contains(r.stderr, "--profile: ") || strings.Count(r.stderr, "\n") != 2 {
		t.Errorf("two refused flags: %q", r.stderr)
	}

	for name, tc := range accepted {
		t.Run("accepted/"+name, func(t *testing.T) {
			t.Parallel()
			root := fixture.Copy(t, profileFixture)
			file := filepath.Join(t.TempDir(), "p.plan")
			cli("plan", "--root", root, "--out", file).must(t, 0)
			// The real binary: a try apply's revert outlives the command.
			_, code, out := runBin(t, append([]string{"apply", file, "--root", root}, tc.args...)...)
			if code != tc.code || strings.Contains(out, "a saved plan is applied") {
				t.Errorf("apply PLANFILE %v: exit %d, want %d: %s", tc.args, code, tc.code, out)
			}
			if name == "confirm-within" && code == 0 {
				// Its revert runs at the deadline, from a process of its
				// own: wait for that process to end, so that it does not
				// outlive the test's root (on a busy machine, long after
				// the deadline).
				m := regexp.MustCompile(`by process ([0-9]+)`).FindStringSubmatch(out)
				if m == nil {
					t.Fatalf("no revert process in: %s", out)
				}
				pid, _ := strconv.Atoi(m[1])
				for deadline := time.Now().Add(2 * time.Minute); syscall.Kill(pid, 0) == nil && time.Now().Before(deadline); {
					time.Sleep(200 * time.Millisecond)
				}
				if st := cli("status", "--root", root).must(t, 0).stdout; strings.Contains(st, "waits for confirmation") {
					t.Errorf("the try apply was not reverted: %s", st)
				}
			}
		})
	}

	// --root is the host the plan was made for: another one is refused.
	other := fixture.Copy(t, profileFixture)
	orig := fixture.Snapshot(t, other)
	r = cli("apply", file, "--root", other).must(t, 1)
	if !strings.Contains(r.stderr, "made for root") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("apply PLANFILE --root another: %q", r.stderr)
	}
	identical(t, orig, other)
}

// hostileProfile is a hostile entry at (or on the way to) the root's
// profile; outside is a folder outside the root holding a valid profile
// (swappiness 7), which no command may use.
type hostileProfile struct {
	name     string
	needRoot bool
	plant    func(t *testing.T, root, outside string) error
}

var hostileProfiles = []hostileProfile{
	{name: "fifo", plant: func(_ *testing.T, root, _ string) error {
		return unix.Mkfifo(filepath.Join(root, profileInRoot), 0o644)
	}},
	{name: "socket", plant: func(_ *testing.T, root, _ string) error {
		return unix.Mknod(filepath.Join(root, profileInRoot), unix.S_IFSOCK|0o644, 0)
	}},
	{name: "chardev-zero", needRoot: true, plant: func(_ *testing.T, root, _ string) error {
		return unix.Mknod(filepath.Join(root, profileInRoot), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 5)))
	}},
	{name: "directory", plant: func(_ *testing.T, root, _ string) error { return os.Mkdir(filepath.Join(root, profileInRoot), 0o755) }},
	{name: "symlink-outside-abs", plant: func(_ *testing.T, root, outside string) error {
		return os.Symlink(filepath.Join(outside, "profile.yaml"), filepath.Join(root, profileInRoot))
	}},
	{name: "symlink-outside-rel", plant: func(_ *testing.T, root, outside string) error {
		rel, err := filepath.Rel(filepath.Join(root, "etc/ezedge-host"), filepath.Join(outside, "profile.yaml"))
		if err != nil {
			return err
		}
		return os.Symlink(rel, filepath.Join(root, profileInRoot))
	}},
	{name: "symlink-dev-zero", plant: func(_ *testing.T, root, _ string) error {
		return os.Symlink("/dev/zero", filepath.Join(root, profileInRoot))
	}},
	{name: "symlink-loop", plant: func(_ *testing.T, root, _ string) error {
		return os.Symlink("profile.yaml", filepath.Join(root, profileInRoot))
	}},
	{name: "directory-symlink-outside", plant: func(_ *testing.T, root, outside string) error {
		d := filepath.Join(root, "etc/ezedge-host")
		if err := os.Remove(d); err != nil {
			return err
		}
		return os.Symlink(outside, d)
	}},
	{name: "directory-is-a-file", plant: func(_ *testing.T, root, _ string) error {
		d := filepath.Join(root, "etc/ezedge-host")
		if err := os.Remove(d); err != nil {
			return err
		}
		return os.WriteFile(d, []byte(rootProfile), 0o644)
	}},
	{name: "sparse-8g", plant: func(_ *testing.T, root, _ string) error {
		f, err := os.Create(filepath.Join(root, profileInRoot))
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Truncate(8 << 30)
	}},
	{name: "over-64k", plant: func(_ *testing.T, root, _ string) error {
		return os.WriteFile(filepath.Join(root, profileInRoot), []byte(rootProfile+strings.Repeat("# padding\n", 7000)), 0o644)
	}},
	{name: "invalid-value", plant: func(_ *testing.T, root, _ string) error {
		return os.WriteFile(filepath.Join(root, profileInRoot), []byte("version: 1\ntasks:\n  swappiness: {value: 500}\n"), 0o644)
	}},
	{name: "invalid-yaml", plant: func(_ *testing.T, root, _ string) error {
		return os.WriteFile(filepath.Join(root, profileInRoot), []byte("version: 1\ntasks: [\n"), 0o644)
	}},
	{name: "unknown-task", plant: func(_ *testing.T, root, _ string) error {
		return os.WriteFile(filepath.Join(root, profileInRoot), []byte("version: 1\ntasks:\n  swapiness: {value: 5}\n"), 0o644)
	}},
	{name: "nul-byte", plant: func(_ *testing.T, root, _ string) error {
		return os.WriteFile(filepath.Join(root, profileInRoot), []byte("version: 1\n\x00\n"), 0o644)
	}},
	{name: "empty", plant: func(_ *testing.T, root, _ string) error {
		return os.WriteFile(filepath.Join(root, profileInRoot), nil, 0o644)
	}},
	{name: "unreadable", needRoot: false, plant: func(t *testing.T, root, _ string) error {
		if os.Geteuid() == 0 {
			t.Skip("root reads a 0000 file")
		}
		return os.WriteFile(filepath.Join(root, profileInRoot), []byte(rootProfile), 0)
	}},
}

// hostileProfileSnap is the root's tree but for skip, with the hostile
// entries under /etc/ezedge-host described by what they are (never read:
// a FIFO would block, an 8 GB file fill the memory).
func hostileProfileSnap(t *testing.T, root string, skip ...string) fixture.Tree {
	t.Helper()
	tree := fixture.Snapshot(t, root, append(skip, "etc/ezedge-host")...)
	for _, rel := range []string{"etc/ezedge-host", profileInRoot} {
		st, err := os.Lstat(filepath.Join(root, rel))
		if err != nil {
			tree[rel] = err.Error()
			continue
		}
		target, _ := os.Readlink(filepath.Join(root, rel))
		tree[rel] = fmt.Sprintf("%v %d %v %q", st.Mode(), st.Size(), st.ModTime().UnixNano(), target)
	}
	return tree
}

// TestHostileRootProfile: whatever is at the root's profile, every command
// that plans with it (plan, plan --out, apply, check, resources --write,
// firstboot install and run) fails with one line naming it and changes
// nothing, never reads a file outside the root, and never falls back to the
// platform defaults; --profile and --no-profile do not read it at all.
func TestHostileRootProfile(t *testing.T) {
	t.Parallel()
	arm64 := filepath.Join(t.TempDir(), "ezedge-host-arm64")
	os.WriteFile(arm64, elfHeader(elf.EM_AARCH64), 0o755)
	other := writeProfile(t, otherProfile)
	for _, k := range hostileProfiles {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			if k.needRoot && os.Geteuid() != 0 {
				t.Skip("mknod of a device needs root")
			}
			base := t.TempDir()
			root := filepath.Join(base, "a", "root")
			if err := fixture.CopyTree(filepath.Join(fixture.Testdata(), profileFixture), root); err != nil {
				t.Fatal(err)
			}
			outside := filepath.Join(base, "outside")
			os.MkdirAll(outside, 0o755)
			os.WriteFile(filepath.Join(outside, "profile.yaml"), []byte(otherProfile), 0o644)
			os.MkdirAll(filepath.Join(root, "etc/ezedge-host"), 0o755)
			if err := k.plant(t, root, outside); err != nil {
				t.Fatalf("planting: %v", err)
			}
			orig := hostileProfileSnap(t, root)
			outsideOrig := fixture.Snapshot(t, outside)
			planFile := filepath.Join(base, "p.plan")
			for _, args := range [][]string{
				{"plan"},
				{"plan", "--output", "json"},
				{"plan", "--out", planFile},
				{"apply", "--yes"},
				{"check", "--output", "prometheus", "--textfile-dir", "-"},
				{"resources", "--workload", "llm=chat", "--form", "compose", "--write", "chat", "--yes"},
				{"firstboot", "install", "--binary", arm64},
				{"firstboot", "run"},
			} {
				r := cli(append(args, "--root", root)...)
				where := strings.Join(args, " ")
				if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "/etc/ezedge-host") {
					t.Errorf("%s: exit %d, want 1 with one line naming the profile: %q", where, r.code, r.stderr)
				}
				if args[0] == "plan" && r.stdout != "" {
					t.Errorf("%s: printed a plan:\n%s", where, r.stdout)
				}
				if _, err := os.Stat(planFile); err == nil {
					t.Errorf("%s: wrote the plan file", where)
				}
				if where == "firstboot run" {
					// The first boot's report records the failure, as it
					// records any; nothing else changes.
					if s := cli("firstboot", "status", "--root", root, "--output", "json").must(t, 0); !strings.Contains(s.stdout, "/etc/ezedge-host") {
						t.Errorf("%s: the report does not name the profile: %s", where, s.stdout)
					}
					if d := orig.Diff(hostileProfileSnap(t, root, fixture.StoreDir)); len(d) > 0 {
						t.Errorf("%s changed the root: %v", where, d)
					}
					if j, _ := filepath.Glob(filepath.Join(root, fixture.StoreDir, "snapshots", "*.jsonl")); len(j) > 0 {
						t.Errorf("%s: recorded an apply: %v", where, j)
					}
					continue
				}
				if d := orig.Diff(hostileProfileSnap(t, root, fixture.StoreDir+"/firstboot.json", fixture.StoreDir+"/firstboot.done")); len(d) > 0 {
					t.Errorf("%s changed the root: %v", where, d)
				}
			}
			if d := outsideOrig.Diff(fixture.Snapshot(t, outside)); len(d) > 0 {
				t.Errorf("changed outside the root: %v", d)
			}
			// --no-profile sets the root's profile aside: it is not read.
			// --profile is layered over it: it is read, and refused.
			for _, args := range [][]string{{"plan", "--no-profile"}, {"check", "--no-profile", "--output", "json"}} {
				r := cli(append(args, "--root", root)...)
				if r.code != 0 && r.code != 4 && r.code != 5 {
					t.Errorf("%v with a hostile root profile: exit %d: %s", args, r.code, r.stderr)
				}
			}
			for _, args := range [][]string{{"plan", "--profile", other}, {"profile"}, {"profile", "--output", "json"}} {
				r := cli(append(args, "--root", root)...)
				if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "/etc/ezedge-host") || r.stdout != "" {
					t.Errorf("%v with a hostile root profile: exit %d: %q %q", args, r.code, r.stdout, r.stderr)
				}
			}
		})
	}
}

// TestShippedProfileIsTheDefaults: the Debian package's conffile, as the
// root's profile, plans exactly what no profile plans, on every fixture:
// installing the package changes nothing.
func TestShippedProfileIsTheDefaults(t *testing.T) {
	t.Parallel()
	shipped, err := os.ReadFile(filepath.Join(fixture.Testdata(), "..", "dist", "deb", "debian", "profile.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	profileLine := regexp.MustCompile(`(?s)"profile": (\{.*?\}|null),\n`)
	for _, name := range fixture.Names {
		root := fixture.Copy(t, name)
		without := cli("plan", "--root", root, "--output", "json").must(t, 0).stdout
		putProfile(t, root, string(shipped))
		with := cli("plan", "--root", root, "--output", "json").must(t, 0).stdout
		none := cli("plan", "--root", root, "--output", "json", "--no-profile").must(t, 0).stdout
		if !strings.Contains(with, `"kind": "layers"`) || !strings.Contains(without, `"kind": "absent"`) {
			t.Fatalf("%s: the profile used is not said:\n%s", name, with)
		}
		if a, b, c := profileLine.ReplaceAllString(with, ""), profileLine.ReplaceAllString(without, ""), profileLine.ReplaceAllString(none, ""); a != b || a != c {
			t.Errorf("%s: the shipped profile plans differently from the platform defaults:\n%s\n---\n%s", name, a, b)
		}
	}
}

// TestFirstbootUsesTheImagesProfile: install without --profile leaves the
// image's own profile as it is and the first boot applies it; --profile
// FILE becomes the image's profile (snapshotted, so rollback puts the old
// one back); without any, the first boot plans the platform defaults.
func TestFirstbootUsesTheImagesProfile(t *testing.T) {
	t.Parallel()
	arm64 := filepath.Join(t.TempDir(), "ezedge-host-arm64")
	os.WriteFile(arm64, elfHeader(elf.EM_AARCH64), 0o755)
	other := writeProfile(t, otherProfile)
	for _, tc := range []struct {
		name    string
		inImage string // "": none
		args    []string
		line    string
		want    string // the image's profile after install
		applied string // vm.swappiness the first boot wrote
	}{
		{"image's own", rootProfile, nil, "Profile: /etc/ezedge-host/profile.yaml in the root\n", rootProfile, "vm.swappiness = 5\n"},
		{"--profile over the image's", rootProfile, []string{"--profile", other}, "Profile: " + other + " (--profile, to be the image's /etc/ezedge-host/profile.yaml)\n", otherProfile, "vm.swappiness = 7\n"},
		{"none", "", nil, "Profile: platform defaults (no /etc/ezedge-host/profile.yaml or /etc/ezedge-host/profile.d/*.yaml in the root)\n", "", "vm.swappiness = 10\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := fixture.Copy(t, profileFixture)
			if tc.inImage != "" {
				putProfile(t, root, tc.inImage)
			}
			orig := fixture.Snapshot(t, root)
			r := cli(append([]string{"firstboot", "install", "--root", root, "--binary", arm64}, tc.args...)...).must(t, 0)
			if !strings.Contains(r.stdout, tc.line) {
				t.Errorf("install does not say %q:\n%s", tc.line, r.stdout)
			}
			id := regexp.MustCompile(`--to (\S+)`).FindStringSubmatch(r.stdout)
			if id == nil {
				t.Fatalf("no undo id:\n%s", r.stdout)
			}
			got, err := os.ReadFile(filepath.Join(root, profileInRoot))
			if tc.want == "" && err == nil || tc.want != "" && string(got) != tc.want {
				t.Errorf("the image's profile after install: %q %v, want %q", got, err, tc.want)
			}
			cli("firstboot", "run", "--root", root).must(t, 0)
			if s := readFile(t, filepath.Join(root, "etc/sysctl.d/90-ezedge-host.conf")); !strings.Contains(s, tc.applied) {
				t.Errorf("the first boot did not apply %q:\n%s", tc.applied, s)
			}
			cli("rollback", "--root", root, "--yes", "--to", id[1]).must(t, 0)
			identical(t, orig, root)
		})
	}
}

// TestPackagedUnitsReadTheHostsProfile: the units the Debian package ships
// name no profile: their commands read the host's own, the conffile.
func TestPackagedUnitsReadTheHostsProfile(t *testing.T) {
	t.Parallel()
	units := ops.PackagedUnits()
	for name, exec := range map[string]string{
		"ezedge-host-check.service":     "ExecStart=/usr/sbin/ezedge-host check --output prometheus --textfile-dir /var/lib/prometheus/node-exporter\n",
		"ezedge-host-firstboot.service": "ExecStart=/usr/sbin/ezedge-host firstboot run\n",
	} {
		if u := units[name]; !strings.Contains(u, "\n"+exec) || strings.Contains(u, "--profile") {
			t.Errorf("%s:\n%s\nwant %q", name, u, exec)
		}
	}
}
