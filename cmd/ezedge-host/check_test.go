package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// checkTime is the clock of every check in these tests: the report's time
// is in every format.
var checkTime = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// testContainerNames are the names Podman would give the test containers
// (fixture.ContainerKinds); no bundled fixture's container has one of
// their IDs, so those stay known by their IDs.
var testContainerNames = map[string]string{fixture.OOMKilled.ID: "llm", fixture.NearLimit.ID: "stt", fixture.Throttled.ID: "vision", fixture.Healthy.ID: "web"}

func init() {
	checkNow = func() time.Time { return checkTime }
	checkNames = func() map[string]string { return testContainerNames }
}

// TestCheckGolden: check on every fixture in all four formats matches its
// golden file, exits by its worst result (4 warnings, 5 failures), and
// each format is well formed.
func TestCheckGolden(t *testing.T) {
	t.Parallel()
	for _, name := range fixture.Names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			root := fixture.Copy(t, name)
			var want int
			for _, format := range []string{"json", "text", "junit", "prometheus"} {
				r := cli("check", "--root", root, "--output", format, "--firmware")
				if r.code != 4 && r.code != 5 && r.code != 0 {
					t.Fatalf("%s: exit %d\n%s%s", format, r.code, r.stdout, r.stderr)
				}
				switch format {
				case "json":
					var v struct {
						FormatVersion int            `json:"format_version"`
						Status        string         `json:"status"`
						Summary       map[string]int `json:"summary"`
					}
					if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.FormatVersion != 1 {
						t.Fatalf("json: %v %+v\n%s", err, v, r.stdout)
					}
					want = map[string]int{"ok": 0, "warn": 4, "fail": 5}[v.Status]
					if v.Summary["fail"] > 0 && want != 5 || v.Summary["fail"] == 0 && v.Summary["warn"] > 0 && want != 4 {
						t.Errorf("status %s does not follow the summary %v", v.Status, v.Summary)
					}
				case "junit":
					var v struct {
						Tests    int `xml:"tests,attr"`
						Failures int `xml:"failures,attr"`
					}
					if err := xml.Unmarshal([]byte(r.stdout), &v); err != nil || v.Tests == 0 {
						t.Fatalf("junit: %v %+v", err, v)
					}
					if (v.Failures > 0) != (want == 5) {
						t.Errorf("junit failures %d, exit %d", v.Failures, want)
					}
				case "prometheus":
					checkExposition(t, r.stdout)
				}
				if r.code != want {
					t.Errorf("%s: exit %d, want %d", format, r.code, want)
				}
				ext := map[string]string{"json": "json", "text": "txt", "junit": "xml", "prometheus": "prom"}[format]
				goldenFile(t, "check/"+name+"."+ext, strings.ReplaceAll(r.stdout, root, "<root>"))
			}
		})
	}
}

// checkExposition checks what the node exporter's textfile collector
// insists on: HELP and TYPE before a metric's samples, each series once,
// label values quoted, a number at the end of each sample.
func checkExposition(t *testing.T, s string) {
	t.Helper()
	typed := map[string]bool{}
	seen := map[string]bool{}
	for i, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if rest, ok := strings.CutPrefix(l, "# TYPE "); ok {
			typed[strings.Fields(rest)[0]] = true
			continue
		}
		if strings.HasPrefix(l, "#") {
			continue
		}
		series, value, ok := strings.Cut(l, " ")
		if i := strings.IndexByte(l, '}'); i >= 0 {
			series, value, ok = l[:i+1], strings.TrimSpace(l[i+1:]), true
		}
		name, _, _ := strings.Cut(series, "{")
		if !ok || value == "" || !typed[name] {
			t.Errorf("line %d: %q: not a typed sample", i+1, l)
		}
		if seen[series] {
			t.Errorf("line %d: series %s twice", i+1, series)
		}
		seen[series] = true
	}
}

// TestCheckTimerCycle: the check-timer task, turned on in the host's own
// profile, installs and enables the timer, whose check reads that profile
// as every command does (no --profile in the unit); the check then
// reports monitoring ok and writes the textfile atomically in the node
// exporter's directory; rollback takes the timer away and leaves the root
// as it was (the textfile is the check's output, not a change of the
// host's configuration).
func TestCheckTimerCycle(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	putProfile(t, root, "version: 1\ntasks:\n  check-timer: {enabled: true}\n")
	before := fixture.Snapshot(t, root)
	cli("apply", "--root", root, "--yes").must(t, 0)
	svc := readFile(t, filepath.Join(root, "etc/systemd/system/ezedge-host-check.service"))
	if !strings.Contains(svc, "ExecStart=/usr/local/sbin/ezedge-host check --output prometheus --textfile-dir /var/lib/prometheus/node-exporter\n") {
		t.Errorf("service:\n%s", svc)
	}
	if l, err := os.Readlink(filepath.Join(root, "etc/systemd/system/timers.target.wants/ezedge-host-check.timer")); err != nil || l != "/etc/systemd/system/ezedge-host-check.timer" {
		t.Errorf("timer link %q %v", l, err)
	}
	// The check the unit runs, as it runs it (its textfile directory named:
	// without one, check writes to standard output).
	exec, ok := strings.CutPrefix(grepLines(svc, "ExecStart="), "ExecStart=/usr/local/sbin/ezedge-host ")
	if !ok {
		t.Fatalf("service:\n%s", svc)
	}
	if r := cli(append(strings.Fields(exec), "--root", root)...).must(t, 4); r.stdout != "" {
		t.Errorf("the unit's check printed to standard output:\n%s", r.stdout)
	}
	prom := readFile(t, filepath.Join(root, "var/lib/prometheus/node-exporter/ezedge-host.prom"))
	checkExposition(t, prom)
	for _, want := range []string{`ezedge_check_state{check="monitoring.check-timer",group="monitoring",state="ok"} 1`, `ezedge_check_state{check="tuning.check-timer",group="tuning",state="ok"} 1`} {
		if !strings.Contains(prom, want+"\n") {
			t.Errorf("textfile lacks %s:\n%s", want, prom)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(root, "var/lib/prometheus/node-exporter"))
	for _, e := range ents {
		if strings.Contains(e.Name(), "tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	// The tests' clock is fixed: the textfile was written "now" on it.
	os.Chtimes(filepath.Join(root, "var/lib/prometheus/node-exporter/ezedge-host.prom"), checkTime, checkTime.Add(-30*time.Second))
	r := cli("check", "--root", root, "--output", "json").must(t, 0)
	if !strings.Contains(r.stdout, `"name": "textfile",`) || !strings.Contains(r.stdout, `"value": "written 30s ago"`) {
		t.Errorf("textfile not reported fresh:\n%s", r.stdout)
	}
	cli("rollback", "--root", root, "--yes").must(t, 0)
	os.Remove(filepath.Join(root, "var/lib/prometheus/node-exporter/ezedge-host.prom"))
	if d := before.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Errorf("root not as before after rollback:\n%s", strings.Join(d, "\n"))
	}
}

// TestCheckPrometheusWhere: --output prometheus goes to standard output,
// as every output, and writes nothing, whether or not the node exporter's
// directory exists (or "-" names standard output); only --textfile-dir
// DIR writes the textfile, with those bytes, and prints nothing.
func TestCheckPrometheusWhere(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	dir := filepath.Join(root, "var/lib/prometheus/node-exporter")
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("the fixture has %s: the case without the node exporter is not made", dir)
	}
	var printed string
	for _, mkdir := range []bool{false, true} {
		if mkdir {
			os.MkdirAll(dir, 0o755)
		}
		before := fixture.Snapshot(t, root)
		for _, extra := range [][]string{nil, {"--textfile-dir", "-"}} {
			r := cli(append([]string{"check", "--root", root, "--output", "prometheus", "--firmware"}, extra...)...).must(t, 5)
			checkExposition(t, r.stdout)
			if printed != "" && r.stdout != printed {
				t.Errorf("%v (directory %v): printed another textfile:\n%s", extra, mkdir, r.stdout)
			}
			printed = r.stdout
			if d := before.Diff(fixture.Snapshot(t, root)); len(d) > 0 {
				t.Errorf("%v (directory %v): wrote %s", extra, mkdir, strings.Join(d, ", "))
			}
		}
	}
	if !strings.Contains(printed, "\nezedge_check_timestamp_seconds ") {
		t.Fatalf("not the check's metrics:\n%s", printed)
	}
	r := cli("check", "--root", root, "--output", "prometheus", "--firmware", "--textfile-dir", "/var/lib/prometheus/node-exporter").must(t, 5)
	if r.stdout != "" {
		t.Errorf("with --textfile-dir, printed:\n%s", r.stdout)
	}
	if got := readFile(t, filepath.Join(dir, "ezedge-host.prom")); got != printed {
		t.Errorf("the textfile is not what was printed:\n%s", got)
	}
}

// TestCheckErrors: a bad format, a textfile directory that is not one,
// and a profile that does not parse exit 1 with one line naming the
// problem, and write nothing.
func TestCheckErrors(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi4-8gb-bullseye")
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--output", "yaml"}, `--output "yaml": want text, json, junit, prometheus`},
		{[]string{"--output", "prometheus", "--textfile-dir", "/etc/hostname-none"}, "--textfile-dir /etc/hostname-none:"},
		{[]string{"--output", "prometheus", "--textfile-dir", "/etc/os-release"}, "--textfile-dir /etc/os-release: not a directory"},
	} {
		r := cli(append([]string{"check", "--root", root}, tc.args...)...).must(t, 1)
		if !strings.Contains(r.stderr, tc.msg) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: stderr %q, want one line with %q", tc.args, r.stderr, tc.msg)
		}
	}
	// Facts must not have used the plan's --output check: plan keeps
	// text and json only.
	r := cli("plan", "--root", root, "--output", "junit").must(t, 1)
	if !strings.Contains(r.stderr, `want text, json`) || strings.Contains(r.stderr, "junit,") {
		t.Errorf("plan --output junit: %q", r.stderr)
	}
}

// TestCheckTimerUnitKinds: check-timer writes whole units, not drop-ins,
// at paths it owns; what else sits there is either replaced (a regular
// file: snapshotted, given back by rollback) or refused, naming it, with
// nothing changed (a mask, a link elsewhere, a directory, a FIFO).
func TestCheckTimerUnitKinds(t *testing.T) {
	t.Parallel()
	prof := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(prof, []byte("version: 1\ntasks:\n  check-timer: {enabled: true}\n"), 0o644)
	for _, c := range []struct {
		name  string
		entry fixture.Entry
		code  int
	}{
		{"an administrator's unit", fixture.File("[Timer]\nOnCalendar=daily\n"), 0},
		{"masked", fixture.Link("/dev/null"), 1},
		{"a link to another unit", fixture.Link("fstrim.timer"), 1},
		{"a directory", fixture.Dir(), 1},
		{"a FIFO", fixture.FIFO(), 1},
	} {
		for _, unit := range []string{"/etc/systemd/system/ezedge-host-check.timer", "/etc/systemd/system/ezedge-host-check.service"} {
			t.Run(c.name+filepath.Ext(unit), func(t *testing.T) {
				t.Parallel()
				root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
				c.entry.Put(t, root, unit)
				before := fixture.Snapshot(t, root)
				r := cli("apply", "--root", root, "--profile", prof, "--yes")
				r.must(t, c.code)
				if c.code != 0 {
					if !strings.Contains(r.stderr, unit) {
						t.Errorf("refusal does not name %s:\n%s", unit, r.stderr)
					}
					if d := before.Diff(fixture.Snapshot(t, root)); len(d) > 0 {
						t.Errorf("a refused apply changed the root: %v", d)
					}
					return
				}
				cli("rollback", "--root", root, "--yes").must(t, 0)
				if d := before.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
					t.Errorf("not byte-identical after rollback: %v", d)
				}
			})
		}
	}
}

// containersRoot is a copy of the amd64 fixture running the four test
// containers (named by testContainerNames).
func containersRoot(t *testing.T) string {
	t.Helper()
	root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	for _, c := range fixture.ContainerKinds {
		c.Put(t, root)
	}
	return root
}

// TestCheckContainers: check on a copy of the amd64 fixture running the
// four test containers (llm OOM-killed, stt at 99.6 % of its memory
// limit, vision throttled, web healthy), in all four formats, against
// its golden files: the OOM kill fails, the two others warn; the
// textfile passes promtool and has each container's figures under its
// name. A container Podman gives no name for goes by its ID and is
// counted, not named. A cgroup file that cannot be read (a FIFO) is an
// unknown naming it, not an error.
func TestCheckContainers(t *testing.T) {
	t.Parallel()
	root := containersRoot(t)
	promtool := findPromtool(t)
	for _, format := range []string{"json", "text", "junit", "prometheus"} {
		r := cli("check", "--root", root, "--output", format)
		r.must(t, 5)
		if format == "prometheus" {
			checkExposition(t, r.stdout)
			checkOutput(t, "check --output prometheus", format, r, promtool)
			for _, want := range []string{
				`ezedge_check_state{check="containers.llm.oom-kills",group="containers",state="fail"} 1`,
				`ezedge_check_container_oom_kills{container="llm"} 2`,
				`ezedge_check_container_memory_usage_ratio{container="stt"} 0.9765625`,
				`ezedge_check_container_cpu_throttled_periods_ratio{container="vision"} 0.6`,
				`ezedge_check_container_cpu_pressure_ratio{container="vision"} 0.482`,
				`ezedge_check_container_memory_pressure_ratio{container="llm"} 0.125`,
				`ezedge_check_unnamed_containers{state="fail"} 0`,
			} {
				if !strings.Contains(r.stdout, want+"\n") {
					t.Errorf("textfile lacks %s", want)
				}
			}
		}
		if format == "prometheus" && os.Getenv("EZEDGE_SKIP_NODE_EXPORTER") == "" {
			if ne := nodeExporterOrSkip(); ne != "" {
				dir := t.TempDir()
				os.WriteFile(filepath.Join(dir, "ezedge-host.prom"), []byte(r.stdout), 0o644)
				metrics := scrape(t, ne, dir)
				if !strings.Contains(metrics, "\nnode_textfile_scrape_error 0\n") || !strings.Contains(metrics, `ezedge_check_container_oom_kills{container="llm"} 2`) {
					t.Errorf("the node exporter does not serve the containers' textfile:\n%s", grepLines(metrics, "textfile"))
				}
			}
		}
		ext := map[string]string{"json": "json", "text": "txt", "junit": "xml", "prometheus": "prom"}[format]
		goldenFile(t, "check/containers-amd64-intel-32gb-2nvme."+ext, strings.ReplaceAll(r.stdout, root, "<root>"))
	}
	text := cli("check", "--root", root).stdout
	for _, want := range []string{
		"[fail]    containers.llm.oom-kills",
		"2 since the container started — the kernel's OOM killer killed a process of the container (memory.events oom_kill)",
		"[warn]    containers.stt.memory",
		"[warn]    containers.vision.cpu-throttling",
		"[ok]      containers.web.memory",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}

	// Unnamed: counted by the worst state of each one's checks.
	unnamed := containersRoot(t)
	fixture.Container{ID: strings.Repeat("d", 64), OOMKills: 1}.Put(t, unnamed)
	r := cli("check", "--root", unnamed, "--output", "prometheus")
	for _, want := range []string{`ezedge_check_unnamed_containers{state="fail"} 1`, `ezedge_check_unnamed_containers{state="warn"} 0`} {
		if !strings.Contains(r.stdout, want+"\n") {
			t.Errorf("textfile lacks %s", want)
		}
	}
	if strings.Contains(r.stdout, "dddddddddddd") {
		t.Errorf("an unnamed container's ID in the textfile")
	}

	p := fixture.OOMKilled.Scope() + "/memory.events"
	os.Remove(filepath.Join(root, p))
	fixture.FIFO().Put(t, root, p)
	r = cli("check", "--root", root)
	r.must(t, 5)
	if !strings.Contains(r.stdout, "[unknown] containers.llm.oom-kills") || !strings.Contains(r.stdout, p+": is a FIFO") {
		t.Errorf("a FIFO as memory.events:\n%s", r.stdout)
	}
}
