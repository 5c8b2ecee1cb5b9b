package view

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ezansiedgeai/ezedge-host/internal/health/check"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

const evil = "\x1b[31m\x1b]0;t\x07\xff\xfe\x00\r\n\u2028\u202e\u2066\u009b2J\"\\ }"

// hostileReport is a check report whose every string came from a hostile
// host, container names through Podman's own JSON (escapes decoded, bytes
// that are not UTF-8 decoded as U+FFFD).
func hostileReport(t *testing.T) *check.Report {
	ps := []byte(`[{"Id": "` + strings.Repeat("a", 64) + `", "Names": ["web\u001b[2J\u202e\"x\""]},` +
		`{"Id": "` + strings.Repeat("b", 64) + `", "Names": ["db` + "\xff\xfe" + `\n\r"]}]`)
	names := platform.PodmanNames(ps)
	if len(names) != 2 {
		t.Fatalf("podman names: %q", names)
	}
	r := &check.Report{Root: "/img/" + evil, Platform: "rpi5", Runtime: true, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Counts: map[string]int{"ok": 1, "warn": 1, "fail": 1, "unknown": 1}}
	st := []check.Status{check.OK, check.Warn, check.Fail, check.Unknown}
	i := 0
	add := func(g check.Group, name string) {
		r.Results = append(r.Results, check.Result{Group: g, Name: name, Status: st[i%4], Value: evil, Detail: evil, Evidence: "/sys/" + evil, Fix: evil})
		i++
	}
	for _, id := range slices.Sorted(maps.Keys(names)) {
		add(check.Memory, "container."+names[id])
	}
	for _, id := range slices.Sorted(maps.Keys(names)) {
		add(check.Containers, names[id]+".oom-kills")
		r.Results[len(r.Results)-1].Container = names[id]
	}
	add(check.Thermal, "temperature."+evil)
	add(check.Thermal, "temperature."+evil) // the same name twice
	add(check.Thermal, "temperature.\xff")
	add(check.Thermal, "temperature.\xfe") // distinct, though both are U+FFFD in JSON
	add(check.Storage, strings.Repeat("long", 5000)+evil)
	r.Figures.Temperatures = []check.Temperature{{Sensor: "hwmon:" + evil, Celsius: 50}, {Sensor: "hwmon:" + evil, Celsius: 51}, {Sensor: "\xff", Celsius: 1}, {Sensor: "\xfe", Celsius: 2}}
	r.Figures.FanRPM = []float64{1000}
	ratio, kills := 0.95, uint64(1)
	for _, id := range slices.Sorted(maps.Keys(names)) {
		// Twice each: two containers of one name stay two series.
		for range 2 {
			r.Figures.Containers = append(r.Figures.Containers, check.ContainerFigure{Name: names[id], MemoryRatio: &ratio, OOMKills: &kills,
				ThrottledRatio: &ratio, MemoryPressure: &ratio, CPUPressure: &ratio})
		}
	}
	return r
}

// promtool is Debian's, unpacked by make test-deps ("" when absent outside
// CI).
func promtool(t *testing.T) string {
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	_, self, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(self), "..", "..", ".cache", "tools", "usr", "bin", "promtool")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("promtool not found (make test-deps unpacks it into .cache/tools)")
	}
	return ""
}

// TestCheckRenderersHostile: each of check's four outputs of a report
// full of hostile strings is valid in its format and shows every string.
func TestCheckRenderersHostile(t *testing.T) {
	t.Parallel()
	r := hostileReport(t)

	var text bytes.Buffer
	CheckText(&text, r)
	if err := escape.CheckText(text.Bytes()); err != nil {
		t.Errorf("text: %v", err)
	}
	for _, x := range r.Results {
		if !strings.Contains(text.String(), escape.Text(x.ID())) {
			t.Errorf("text does not show %s", escape.Text(x.ID()))
		}
	}

	var js bytes.Buffer
	if err := WriteJSON(&js, NewCheck(r)); err != nil {
		t.Fatal(err)
	}
	if !utf8.Valid(js.Bytes()) || !json.Valid(js.Bytes()) {
		t.Fatalf("JSON is not valid:\n%q", js.Bytes())
	}
	var back struct {
		Results []struct{ Name string }
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	// Valid UTF-8 comes back as it was; a byte that is not is U+FFFD.
	for i, x := range r.Results {
		if got, want := back.Results[i].Name, strings.ToValidUTF8(x.Name, "\ufffd"); got != want && utf8.ValidString(x.Name) {
			t.Errorf("JSON name %q, want %q", got, want)
		}
	}
	if back.Results[1].Name != "container.db\ufffd\ufffd\n\r" {
		t.Errorf("JSON name %q", back.Results[1].Name)
	}

	var junit bytes.Buffer
	if err := CheckJUnit(&junit, r); err != nil {
		t.Fatal(err)
	}
	if err := escape.CheckText(junit.Bytes()); err != nil {
		t.Errorf("junit: %v", err)
	}
	var doc struct {
		Suites []struct {
			Cases []struct {
				Name string `xml:"name,attr"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(junit.Bytes(), &doc); err != nil {
		t.Fatalf("junit is not XML: %v", err)
	}
	d := xml.NewDecoder(bytes.NewReader(junit.Bytes()))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("junit: %v", err)
		}
	}
	names := map[string]bool{}
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			names[c.Name] = true
		}
	}
	for _, x := range r.Results {
		if !names[escape.Text(x.ID())] {
			t.Errorf("junit has no testcase %s", escape.Text(x.ID()))
		}
	}

	var prom bytes.Buffer
	if err := CheckPrometheus(&prom, r); err != nil {
		t.Fatal(err)
	}
	if err := escape.CheckText(prom.Bytes()); err != nil {
		t.Errorf("prometheus: %v", err)
	}
	// Every series once: distinct host strings stay distinct labels.
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(prom.String()), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		series := l[:strings.LastIndexByte(l, ' ')]
		if seen[series] {
			t.Errorf("duplicate series %s", series)
		}
		seen[series] = true
	}
	if !strings.Contains(prom.String(), `ezedge_check_container_oom_kills{container="\"web\\x1b[2J\\u202e\\\"x\\\"#2\""} 1`+"\n") {
		t.Errorf("a hostile container name is not escaped in its series:\n%s", prom.String())
	}
	if pt := promtool(t); pt != "" {
		cmd := exec.Command(pt, "check", "metrics")
		cmd.Stdin = bytes.NewReader(prom.Bytes())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s\n%s", err, out, prom.Bytes())
		}
	}
}

// TestPrometheusNamesChecked: a metric or label name the format does not
// allow is an error, not a textfile the exporter rejects.
func TestPrometheusNamesChecked(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"ezedge_check_state", "a:b_c9", "_x"} {
		if !promName.MatchString(s) {
			t.Errorf("%s refused", s)
		}
	}
	for _, s := range []string{"", "9a", "a-b", "a b", "é", "a\x00"} {
		if promName.MatchString(s) || promLabelName.MatchString(s) {
			t.Errorf("%q accepted", s)
		}
	}
	if promLabelName.MatchString("a:b") {
		t.Error("a label name with ':' accepted")
	}
}
