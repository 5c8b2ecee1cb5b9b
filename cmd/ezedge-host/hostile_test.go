package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/firstboot"
	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/health/baseline"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
)

// evil is what a hostile root puts in every string it gives: terminal
// escape sequences (CSI colour, OSC title, OSC 8 hyperlink, the 8-bit
// CSI), bytes that are not UTF-8, NUL, CR, a line separator, a newline's
// C1 twin, bidirectional overrides and isolates.
const evil = "\x1b[31mred\x1b[0m\x1b]0;pwned\x07\x1b]8;;http://x/\x1b\\link\x1b]8;;\x1b\\\xff\xfe\xc3\x00nul\rcr\u2028ls\u202eevil\u2066iso\u2069\u009b2J\u0085nel"

// long is a very long host string.
var long = strings.Repeat("long-", 2000) + evil

// hostileRoot is the Pi 5 fixture with evil in every string a command
// shows: the board, the OS name, thermal zone and cooling types, hwmon
// chip names and labels, rfkill names, a network link's name, a Podman
// package version, a unit's description and install links, the name of a
// sysctl.d file that wins over ours and of a FIFO planted where a
// sysctl.d file is read, and the kernel command line the plan edits (its
// diff shows it).
func hostileRoot(t *testing.T) string {
	t.Helper()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	write := func(p, s string) {
		t.Helper()
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit := func(p string, f func(string) string) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		write(p, f(string(b)))
	}
	write("proc/device-tree/model", "Raspberry Pi 5 Model B Rev 1.0 "+evil+"\x00")
	edit("etc/os-release", func(s string) string { return "PRETTY_NAME=\"Debian " + evil + "\"\n" + s })
	write("sys/class/thermal/thermal_zone0/type", "cpu-thermal "+long+"\n")
	write("sys/class/thermal/cooling_device0/type", "pwm-fan"+evil+"\n")
	write("sys/class/hwmon/hwmon4/name", "nvme"+evil+"\n")
	write("sys/class/hwmon/hwmon4/temp1_label", "Composite "+evil+"\n")
	write("sys/class/hwmon/hwmon2/name", "pwmfan"+evil+"\n")
	write("sys/class/rfkill/rfkill0/name", "phy0 "+evil+"\n")
	link := "sys/class/net/eth\x1b[2J\xff1"
	write(link+"/operstate", "up\n")
	write(link+"/carrier", "1\n")
	edit("var/lib/dpkg/status", func(s string) string {
		return strings.Replace(s, "Version: 4.3.1+ds1-8+deb12u1\n", "Version: 4.3.1+"+evil+"\n", 1)
	})
	write("etc/sysctl.d/99-\x1b[2J\xff\u202e.conf", "vm.swappiness = 99\n")
	if err := syscall.Mkfifo(filepath.Join(root, "etc/sysctl.d/98-\x1b]0;fifo\x07.conf"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A unit's description, and a target of its [Install] section with
	// its link: the plan lists the links it removes, the journal keeps
	// them, rollback puts them back.
	edit("usr/lib/systemd/system/bluetooth.service", func(s string) string {
		s = strings.Replace(s, "Description=Bluetooth service", "Description=Bluetooth "+strings.ReplaceAll(evil, "\n", ""), 1)
		return strings.Replace(s, "WantedBy=bluetooth.target", "WantedBy=bluetooth.target evil\x1b[2J\u202e.target", 1)
	})
	wants := filepath.Join(root, "etc/systemd/system/evil\x1b[2J\u202e.target.wants")
	os.MkdirAll(wants, 0o755)
	if err := os.Symlink("/lib/systemd/system/bluetooth.service", filepath.Join(wants, "bluetooth.service")); err != nil {
		t.Fatal(err)
	}
	edit("boot/firmware/cmdline.txt", func(s string) string {
		return strings.TrimSuffix(s, "\n") + " quirk=\x1b[2J\xff\r\u202e\n"
	})
	return root
}

// plantStore adds to the root's snapshot store what a hostile image may
// hold: a baseline and a first-boot report full of evil.
func plantStore(t *testing.T, root string) {
	t.Helper()
	h, err := hostroot.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	r := &baseline.Record{ID: "20260101T000000Z", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Platform: "rpi5" + evil,
		Kernel: "6.6 " + evil, Cmdline: evil, Emulated: evil, Notes: []string{evil, long}, Budget: "30s", Took: evil}
	if err := baseline.Save(h, r); err != nil {
		t.Fatal(err)
	}
	if err := firstboot.Write(h, firstboot.Report{FormatVersion: firstboot.ReportVersion, RanAt: time.Now(), SnapshotID: "20260101T000000Z", Error: "apply failed: " + evil}); err != nil {
		t.Fatal(err)
	}
}

// checkOutput holds one command's output to its format's rule and says
// whether evil reached it (a test whose hostile strings never reach the
// output proves nothing).
func checkOutput(t *testing.T, what, format string, r result, promtool string) (reached bool) {
	t.Helper()
	if err := escape.CheckText([]byte(r.stderr)); err != nil {
		t.Errorf("%s: stderr: %v\n%q", what, err, r.stderr)
	}
	out := []byte(r.stdout)
	if r.code == 1 && len(out) == 0 {
		// Refused: the error on stderr is all there is.
		return strings.Contains(r.stderr, `\x1b`)
	}
	switch format {
	case "text":
		if err := escape.CheckText(out); err != nil {
			t.Errorf("%s: %v\n%q", what, err, r.stdout)
		}
		return strings.Contains(r.stdout, `\x1b`) || strings.Contains(r.stderr, `\x1b`)
	case "json":
		if !utf8.Valid(out) || !json.Valid(out) {
			t.Fatalf("%s: not valid UTF-8 JSON:\n%q", what, out)
		}
		// Control characters are \u escapes, never raw.
		for _, c := range out {
			if c < ' ' && c != '\n' {
				t.Fatalf("%s: raw control byte %#x in JSON", what, c)
			}
		}
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatal(err)
		}
		return bytes.Contains(out, []byte(`\u001b`))
	case "junit":
		d := xml.NewDecoder(bytes.NewReader(out))
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: not XML: %v\n%s", what, err, out)
			}
		}
		if err := escape.CheckText(out); err != nil {
			t.Errorf("%s: %v", what, err)
		}
		return bytes.Contains(out, []byte(`\x1b`))
	case "prometheus":
		if err := escape.CheckText(out); err != nil {
			t.Errorf("%s: %v", what, err)
		}
		if promtool != "" {
			cmd := exec.Command(promtool, "check", "metrics")
			cmd.Stdin = bytes.NewReader(out)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s: promtool check metrics: %v\n%s", what, err, b)
			}
		}
		return bytes.Contains(out, []byte(`\\x1b`))
	}
	t.Fatalf("unknown format %s", format)
	return false
}

// findPromtool finds Debian's promtool: on PATH, or unpacked by `make
// test-deps` into .cache/tools (from the prometheus package, not installed:
// no Prometheus server is started). Under CI its absence is a failure.
func findPromtool(t *testing.T) string {
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	p := filepath.Join(fixture.Testdata(), "..", ".cache", "tools", "usr", "bin", "promtool")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("promtool not found (make test-deps unpacks it into .cache/tools)")
	}
	t.Log("promtool not found (make test-deps): the Prometheus output is checked without it")
	return ""
}

// TestHostileStringsEveryOutput: a root whose every string is hostile,
// through every command and every output format: text holds no control
// character, no byte that is not UTF-8 and no invisible formatting
// character (escape.CheckText); JSON is valid UTF-8 and parses, with the
// valid part of each string as it was; JUnit parses as XML 1.0; the
// Prometheus textfile passes promtool check metrics and Debian's node
// exporter reads it without a scrape error. Errors on stderr, which name
// files and keys, are held to the text rule too.
func TestHostileStringsEveryOutput(t *testing.T) {
	t.Parallel()
	promtool := findPromtool(t)
	root := hostileRoot(t)
	dir := t.TempDir()
	badProfile := filepath.Join(dir, "profile.yaml")
	// Escapes and a bidi override, not invalid UTF-8: a layer that is
	// not UTF-8 is refused before its keys are read (TestNotUTF8).
	os.WriteFile(badProfile, []byte("version: 1\ntasks:\n  \x1b[2J\u202e\u0085: {enabled: true}\n"), 0o644)
	badPlan := filepath.Join(dir, "plan.json")
	os.WriteFile(badPlan, []byte(`{"kind": "`+"\x1b]0;x\x07\xff"+`", "format_version": 2}`), 0o644)
	evilPath := filepath.Join(dir, "\x1b[2J\xff\u202e.yaml")
	textfiles := filepath.Join(root, "var/lib/prometheus/node-exporter")
	os.MkdirAll(textfiles, 0o755)

	type step struct {
		args    []string
		formats []string
		// codes are the exit statuses it may end with.
		codes []int
		// quiet: no hostile string is expected to reach it (the Podman
		// version is checked as a Debian version and left out when it is
		// not one; a rollback names only ids, history's text table ids
		// and the platform's name).
		quiet bool
	}
	text, both := []string{"text"}, []string{"text", "json"}
	steps := []step{
		{[]string{"facts"}, both, []int{0}, false},
		{[]string{"plan"}, both, []int{0}, false},
		{[]string{"plan", "--diff"}, text, []int{0}, false},
		{[]string{"check", "--firmware"}, []string{"text", "json", "junit", "prometheus"}, []int{0, 4, 5}, false},
		{[]string{"resources", "--workload", "llm"}, both, []int{0}, true},
		{[]string{"resources", "--workload", "llm=\x1b[2J\xff"}, both, []int{1}, false},
		{[]string{"apply", "--yes"}, []string{"json"}, []int{0}, false},
		{[]string{"history"}, []string{"json"}, []int{0}, false},
		{[]string{"history"}, text, []int{0}, true},
		{[]string{"status"}, both, []int{0}, true},
		{[]string{"firstboot", "status"}, both, []int{0}, false},
		{[]string{"baseline", "--list"}, both, []int{0}, false},
		{[]string{"rollback", "--yes"}, []string{"json"}, []int{0}, true},
		{[]string{"apply", "--yes"}, text, []int{0}, true},
		{[]string{"history"}, []string{"json"}, []int{0}, false},
		{[]string{"history"}, text, []int{0}, true},
		{[]string{"rollback", "--yes"}, text, []int{0}, true},
		{[]string{"plan", "--profile", badProfile}, both, []int{1}, false},
		{[]string{"plan", "--profile", evilPath}, both, []int{1}, false},
		{[]string{"apply", badPlan}, both, []int{1}, false},
	}
	reached := map[string]bool{}
	for i, st := range steps {
		if i == 5 {
			plantStore(t, root)
		}
		for _, format := range st.formats {
			args := append(append([]string{}, st.args...), "--root", root, "--output", format)
			if format == "prometheus" {
				args = append(args, "--textfile-dir", "-")
			}
			what := escape.Text(strings.Join(st.args, " ")) + " --output " + format
			r := cli(args...)
			ok := false
			for _, c := range st.codes {
				ok = ok || r.code == c
			}
			if !ok {
				t.Fatalf("%s: exit %d\n%s\n%s", what, r.code, r.stdout, r.stderr)
			}
			if checkOutput(t, what, format, r, promtool) {
				reached[what] = true
			} else if !st.quiet {
				t.Errorf("%s: no hostile string reached the output: the test proves nothing\n%s%s", what, r.stdout, r.stderr)
			}
		}
	}
	if len(reached) < 20 {
		t.Errorf("hostile strings reached only %d outputs: %v", len(reached), reached)
	}

	// The textfile written in place, read by Debian's node exporter.
	r := cli("check", "--root", root, "--output", "prometheus", "--firmware", "--textfile-dir", "/var/lib/prometheus/node-exporter")
	if r.code != 0 && r.code != 4 && r.code != 5 {
		t.Fatalf("check --output prometheus: exit %d: %s", r.code, r.stderr)
	}
	checkOutput(t, "the textfile", "prometheus", result{0, readFile(t, filepath.Join(textfiles, "ezedge-host.prom")), ""}, promtool)
	if os.Getenv("EZEDGE_SKIP_NODE_EXPORTER") == "" {
		if ne := nodeExporterOrSkip(); ne != "" {
			metrics := scrape(t, ne, textfiles)
			if !strings.Contains(metrics, "\nnode_textfile_scrape_error 0\n") {
				t.Fatalf("the node exporter could not read the hostile textfile:\n%s", grepLines(metrics, "textfile"))
			}
			if !strings.Contains(metrics, `\\x1b`) {
				t.Errorf("the node exporter serves none of the hostile labels")
			}
		}
	}
}

// nodeExporterOrSkip is nodeExporter without failing or skipping the
// caller: "" when it is absent outside CI.
func nodeExporterOrSkip() string {
	if p, err := exec.LookPath("prometheus-node-exporter"); err == nil {
		return p
	}
	p := filepath.Join(fixture.Testdata(), "..", ".cache", "tools", "usr", "bin", "prometheus-node-exporter")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// TestHostileJSONKeepsMeaning: the JSON of a hostile string is that
// string where it is UTF-8, control characters and all, each byte that is
// not UTF-8 being U+FFFD; the text output shows the same string as a Go
// string literal that reads back to the bytes.
func TestHostileJSONKeepsMeaning(t *testing.T) {
	t.Parallel()
	root := hostileRoot(t)
	var facts struct {
		Facts struct {
			Board string `json:"board"`
			OS    string `json:"os"`
		} `json:"facts"`
	}
	r := cli("facts", "--root", root, "--output", "json").must(t, 0)
	if err := json.Unmarshal([]byte(r.stdout), &facts); err != nil {
		t.Fatal(err)
	}
	board := strings.TrimSpace("Raspberry Pi 5 Model B Rev 1.0 " + evil)
	if want := jsonForm(board); facts.Facts.Board != want {
		t.Errorf("board in JSON = %q, want %q", facts.Facts.Board, want)
	}
	txt := cli("facts", "--root", root).must(t, 0)
	if !strings.Contains(txt.stdout, "board:      "+escape.Text(board)+"\n") {
		t.Errorf("board in text is not escape.Text of it:\n%s", txt.stdout)
	}
}

// jsonForm is s as JSON carries it: each byte that is not UTF-8 is U+FFFD.
func jsonForm(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // RuneError for a byte that is not UTF-8
		i += n
	}
	return b.String()
}

// TestHostileDiffKeepsItsShape: plan --diff of a file holding escape
// sequences, CR and bytes that are not UTF-8 shows each line of the file
// on one line of the diff, after its mark, as escape.Text.
func TestHostileDiffKeepsItsShape(t *testing.T) {
	t.Parallel()
	root := hostileRoot(t)
	r := cli("plan", "--root", root, "--diff").must(t, 0)
	orig, _ := os.ReadFile(filepath.Join(root, "boot/firmware/cmdline.txt"))
	line := strings.TrimSuffix(string(orig), "\n")
	if !strings.Contains(r.stdout, "\n      -"+escape.Text(line)+"\n") {
		t.Errorf("the diff does not show the old line as one escaped line:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "\n      +"+`"console=serial0`) {
		t.Errorf("the diff does not show the new line escaped after its mark:\n%s", r.stdout)
	}
	if err := escape.CheckText([]byte(r.stdout)); err != nil {
		t.Error(err)
	}
}
