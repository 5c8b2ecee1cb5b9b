package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

var update = flag.Bool("update", false, "rewrite the golden plan files")

// bin is the production binary, built once, for tests that need a real
// process (another user, a kill).
var bin string

func TestMain(m *testing.M) {
	flag.Parse()
	tmpfsDone := fixture.OnTmpfs()
	dir, err := os.MkdirTemp("", "ezedge-bin")
	if err != nil {
		panic(err)
	}
	// Readable by all: one test runs it as another user.
	os.Chmod(dir, 0o755)
	bin = filepath.Join(dir, "ezedge-host")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	tmpfsDone()
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func cli(args ...string) result {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return result{code, out.String(), errb.String()}
}

func (r result) must(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	return r
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCycle is the promise: plan, apply, plan (nothing), apply (nothing
// recorded), rollback, and the root is byte-identical to before.
func TestCycle(t *testing.T) {
	t.Parallel()
	runtimeWant := map[string]map[string]string{
		"pi4-8gb-bullseye":       {"proc/sys/vm/swappiness": "10"},
		"pi5-16gb-nvme-bookworm": {"proc/sys/vm/swappiness": "10", "sys/block/nvme0n1/queue/nr_requests": "1024"},
		"amd64-intel-32gb-2nvme": {
			"proc/sys/vm/swappiness": "10", "proc/sys/vm/nr_hugepages": "1024",
			"proc/sys/net/core/rmem_max": "134217728", "proc/sys/net/ipv4/tcp_rmem": "4096 131072 67108864",
			"sys/kernel/mm/transparent_hugepage/enabled":              "always",
			"sys/devices/system/cpu/cpufreq/policy7/scaling_governor": "performance",
			"sys/block/nvme0n1/queue/nr_requests":                     "1023",
			"sys/block/nvme1n1/queue/nr_requests":                     "1024",
		},
		"amd64-amd-16gb-nocpufreq": {
			"proc/sys/vm/swappiness": "10", "proc/sys/net/core/rmem_max": "268435456",
			"proc/sys/vm/nr_hugepages": "0", "sys/kernel/mm/transparent_hugepage/enabled": "always",
		},
	}
	for _, name := range fixture.Names {
		t.Run(name, func(t *testing.T) {
			root := fixture.Copy(t, name)
			orig := fixture.Snapshot(t, root)

			plan := cli("plan", "--root", root).must(t, 0)
			golden(t, name, strings.ReplaceAll(plan.stdout, root, "<root>"))
			cli("plan", "--root", root, "--detailed-exitcode").must(t, 2)
			if d := orig.Diff(fixture.Snapshot(t, root)); len(d) > 0 {
				t.Fatalf("plan changed the root: %v", d)
			}

			out := cli("apply", "--root", root, "--yes").must(t, 0)
			if !strings.Contains(out.stdout, "Snapshot ") {
				t.Fatalf("apply did not print its snapshot id:\n%s", out.stdout)
			}
			for p, want := range runtimeWant[name] {
				if got := strings.Join(strings.Fields(readFile(t, filepath.Join(root, p))), " "); got != want {
					t.Errorf("%s = %q, want %q", p, got, want)
				}
			}
			if s := readFile(t, filepath.Join(root, "etc/sysctl.d/90-ezedge-host.conf")); !strings.Contains(s, "vm.swappiness = 10\n") {
				t.Errorf("sysctl.d file lacks vm.swappiness:\n%s", s)
			}
			again := cli("plan", "--root", root, "--detailed-exitcode").must(t, 0)
			if !strings.Contains(again.stdout, "No changes.") {
				t.Errorf("plan after apply is not empty:\n%s", again.stdout)
			}
			applied := fixture.Snapshot(t, root)
			second := cli("apply", "--root", root, "--yes").must(t, 0)
			if !strings.Contains(second.stdout, "Nothing to apply.") {
				t.Errorf("second apply did something:\n%s", second.stdout)
			}
			if d := applied.Diff(fixture.Snapshot(t, root)); len(d) > 0 {
				t.Fatalf("second apply changed the root or recorded a snapshot: %v", d)
			}

			cli("rollback", "--root", root, "--yes").must(t, 0)
			if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
				t.Fatalf("root not byte-identical after rollback:\n%s", strings.Join(d, "\n"))
			}
			hist := cli("history", "--root", root).must(t, 0)
			if strings.Count(hist.stdout, "rolled back") != 1 {
				t.Errorf("history should list one rolled-back apply:\n%s", hist.stdout)
			}
			cli("rollback", "--root", root, "--yes").must(t, 1)
		})
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenFile(t, name+".plan", got)
}

// goldenFile compares got with testdata/golden/name (-update rewrites it).
func goldenFile(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join(fixture.Testdata(), "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/ezedge-host -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test ./cmd/ezedge-host -update rewrites it):\n--- got\n%s\n--- want\n%s", p, got, want)
	}
}

// TestApplyFailureRestores makes one file of the plan unwritable: the changes
// made before it are restored, the error names it, and the root ends
// byte-identical. Root ignores file modes, so as root the apply runs as
// nobody on a tree nobody owns.
func TestApplyFailureRestores(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	cmd := asNobody(t, root, "apply", "--root", root, "--yes")
	// The udev rule is the last change; /etc/udev does not exist and /etc
	// is read-only, so creating it fails after every other change is made.
	if err := os.Chmod(filepath.Join(root, "etc"), 0o555); err != nil {
		t.Fatal(err)
	}
	orig := fixture.Snapshot(t, root)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("apply: %v, want exit 1\n%s%s", err, stdout.String(), stderr.String())
	}
	msg := stderr.String()
	if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "/etc/udev") || !strings.Contains(msg, "restored") {
		t.Errorf("want one line naming /etc/udev, got:\n%s", msg)
	}
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("root not restored after a failed apply:\n%s", strings.Join(d, "\n"))
	}
	hist := cli("history", "--root", root).must(t, 0)
	if !strings.Contains(hist.stdout, "failed, restored") {
		t.Errorf("history should show the failed apply:\n%s", hist.stdout)
	}
}

// asNobody prepares the binary to run with args as nobody on a tree nobody
// owns (as root, file modes would not stop anything).
func asNobody(t *testing.T, root string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if os.Geteuid() == 0 {
		const nobody = 65534
		for d := filepath.Dir(root); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		filepath.Walk(root, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, nobody, nobody) })
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	return cmd
}

// TestBadInput: each bad input is one line naming the file or key, exit 1,
// and nothing changed.
func TestBadInput(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	orig := fixture.Snapshot(t, root)
	dir := t.TempDir()
	prof := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notDir := prof("a-file", "x")
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"apply", "--yes", "--root", root, "--profile", prof("unknown.yaml", "version: 1\ntasks:\n  swapiness:\n    value: 5\n")}, []string{"unknown.yaml:3", "swapiness"}},
		{[]string{"apply", "--yes", "--root", root, "--profile", prof("type.yaml", "version: 1\ntasks:\n  swappiness:\n    value: lots\n")}, []string{"type.yaml:4", "lots"}},
		{[]string{"apply", "--yes", "--root", root, "--profile", prof("range.yaml", "version: 1\ntasks:\n  swappiness:\n    value: 500\n")}, []string{"range.yaml:4", "tasks.swappiness.value", "500"}},
		{[]string{"apply", "--yes", "--root", root, "--profile", prof("neg.yaml", "version: 1\ntasks:\n  hugepages:\n    enabled: true\n    pages: -1\n")}, []string{"neg.yaml:5", "tasks.hugepages.pages"}},
		{[]string{"apply", "--yes", "--root", root, "--profile", prof("dup.yaml", "version: 1\ntasks:\n  swappiness:\n    value: 5\n    value: 6\n")}, []string{"dup.yaml:5", "value"}},
		{[]string{"apply", "--yes", "--root", root, "--profile", prof("junk.yaml", "\x00\x01\x02junk")}, []string{"junk.yaml:1", "binary"}},
		{[]string{"apply", "--yes", "--root", root, "--profile", prof("big.yaml", strings.Repeat("# padding\n", 1<<20))}, []string{"big.yaml", "limit"}},
		{[]string{"apply", "--yes", "--root", root, "--profile", filepath.Join(dir, "missing.yaml")}, []string{"missing.yaml", "no such file"}},
		{[]string{"apply", "--yes", "--root", filepath.Join(dir, "nope")}, []string{"nope", "no such directory"}},
		{[]string{"plan", "--root", notDir}, []string{"a-file", "not a directory"}},
		{[]string{"apply", "--root", root}, []string{"--yes"}},
		{[]string{"plan", "--root", root, "--output", "yaml"}, []string{"--output"}},
	}
	for _, c := range cases {
		r := cli(c.args...)
		if r.code != 1 {
			t.Errorf("%v: exit %d, want 1", c.args[len(c.args)-1], r.code)
		}
		if strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: want one line on stderr, got %q", c.args, r.stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%v: stderr %q does not name %q", c.args[len(c.args)-1], r.stderr, w)
			}
		}
	}
	if d := orig.Diff(fixture.Snapshot(t, root)); len(d) > 0 {
		t.Fatalf("bad input changed the root: %v", d)
	}
}

// TestNotRootOnLiveHost: as an ordinary user, plan of the running system
// works and apply and rollback refuse before touching anything (as nobody
// nothing could be touched anyway, so this cannot change the machine).
func TestNotRootOnLiveHost(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the binary as nobody")
	}
	as := func(args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		return 0, string(out)
	}
	if code, out := as("plan", "--root", "/"); code != 0 {
		t.Errorf("plan as nobody: exit %d: %s", code, out)
	}
	for _, cmd := range []string{"apply", "rollback"} {
		code, out := as(cmd, "--root", "/", "--yes")
		if code != 1 || !strings.Contains(out, cmd+" changes this host and must run as root") || strings.Count(out, "\n") != 1 {
			t.Errorf("%s as nobody: exit %d: %q", cmd, code, out)
		}
	}
}

// TestManAndCompletion: gen-man, dated as the package build dates it,
// writes a page per command (TestManGolden holds their text), and every
// shell's completion script names the program.
func TestManAndCompletion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := execBin("gen-man", dir)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1764403200")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen-man: %v\n%s", err, out)
	}
	for _, page := range []string{"ezedge-host.8", "ezedge-host-apply.8", "ezedge-host-firstboot-install.8", "ezedge-host-confirm.8"} {
		if b, err := os.ReadFile(filepath.Join(dir, page)); err != nil || !strings.Contains(string(b), ".SH NAME") {
			t.Errorf("%s: %v", page, err)
		}
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if r := cli("completion", sh).must(t, 0); !strings.Contains(r.stdout, "ezedge-host") {
			t.Errorf("completion %s is empty", sh)
		}
	}
}
