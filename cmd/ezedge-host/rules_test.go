package main

import (
	"maps"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// rulesDir holds the alerting rules the package ships and their tests.
var rulesDir = filepath.Join(fixture.Testdata(), "..", "dist", "prometheus")

// TestAlertRules: Debian's promtool accepts the shipped alerting rules
// (check rules) and they pass their tests on synthetic series (test
// rules). The synthetic series would prove nothing if they were named
// otherwise than the real ones, so every metric the rules and the series
// name, with its label names, is one the check writes on a fixture or
// Debian's node exporter serves from one, and every label value they
// match on (a state, a group, a bit, a check, a chip's name) is one those
// really carry. docs/check.md lists exactly the metrics the check writes
// and every alert.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	promtool := findPromtool(t)
	if promtool == "" {
		t.Skip("promtool not found: run make test-deps")
	}
	ne := nodeExporter(t)
	for _, args := range [][]string{{"check", "rules", "ezedge-host.rules.yml"}, {"test", "rules", "ezedge-host.rules.test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = rulesDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	var tests struct {
		Tests []struct {
			InputSeries []struct {
				Series string `yaml:"series"`
			} `yaml:"input_series"`
		} `yaml:"tests"`
	}
	for _, f := range []struct {
		name string
		v    any
	}{{"ezedge-host.rules.yml", &rules}, {"ezedge-host.rules.test.yml", &tests}} {
		if err := yaml.Unmarshal([]byte(readFile(t, filepath.Join(rulesDir, f.name))), f.v); err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
	}

	// What is real: the check's textfile on every fixture (and after an
	// apply, for the last apply's time), the exporter on every fixture.
	var real samples
	ours := map[string]bool{}
	for _, name := range fixture.Names {
		r := cli("check", "--root", fixture.Copy(t, name), "--output", "prometheus", "--firmware")
		real = append(real, parseExposition(t, r.stdout)...)
		real = append(real, parseExposition(t, scrapeRoot(t, ne, exporterRoot(t, name)))...)
	}
	applied := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	cli("apply", "--root", applied, "--yes").must(t, 0)
	real = append(real, parseExposition(t, cli("check", "--root", applied, "--output", "prometheus").stdout)...)
	// And with named containers running: their figures.
	real = append(real, parseExposition(t, cli("check", "--root", containersRoot(t), "--output", "prometheus").stdout)...)
	values := map[string]map[string]bool{} // label name → the values it has
	for _, s := range real {
		if strings.HasPrefix(s.name, "ezedge_") {
			ours[s.name] = true
		}
		for k, v := range s.labels {
			if values[k] == nil {
				values[k] = map[string]bool{}
			}
			values[k][v] = true
		}
	}

	metricName := regexp.MustCompile(`\b(?:ezedge|node)_[a-zA-Z0-9_]+`)
	matcher := regexp.MustCompile(`\b(state|group|bit|when|check|chip_name)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			for _, n := range metricName.FindAllString(r.Expr, -1) {
				if len(real.named(n)) == 0 {
					t.Errorf("%s: %s is neither written by the check nor served by the node exporter", r.Alert, n)
				}
			}
			for _, m := range matcher.FindAllStringSubmatch(r.Expr, -1) {
				label, op, v := m[1], m[2], m[3]
				if op == "=" || op == "!=" {
					if !values[label][v] {
						t.Errorf("%s: %s%s%q: no series has that value", r.Alert, label, op, v)
					}
					continue
				}
				re := regexp.MustCompile("^(?:" + v + ")$")
				if !slices.ContainsFunc(slices.Sorted(maps.Keys(values[label])), re.MatchString) {
					t.Errorf("%s: %s%s%q matches no value a series has", r.Alert, label, op, v)
				}
				if regexp.MustCompile(`^[a-z_]+(\|[a-z_]+)*$`).MatchString(v) {
					for _, alt := range strings.Split(v, "|") {
						if !values[label][alt] {
							t.Errorf("%s: %s%s%q: no series has the value %q", r.Alert, label, op, v, alt)
						}
					}
				}
			}
		}
	}
	if len(alerts) < 8 {
		t.Errorf("%d alerts: %v", len(alerts), alerts)
	}

	// Each synthetic series is named, and labelled, as a real one.
	for _, tc := range tests.Tests {
		for _, in := range tc.InputSeries {
			s := parseExposition(t, in.Series+" 0")[0]
			delete(s.labels, "instance")
			delete(s.labels, "job")
			names := slices.Sorted(maps.Keys(s.labels))
			same := slices.ContainsFunc(real.named(s.name), func(r sample) bool { return slices.Equal(slices.Sorted(maps.Keys(r.labels)), names) })
			if !same {
				t.Errorf("test series %s: no real series of that name has the labels %v", in.Series, names)
			}
			for _, k := range []string{"state", "group", "bit", "when"} {
				if v, ok := s.labels[k]; ok && !values[k][v] {
					t.Errorf("test series %s: no real series has %s=%q", in.Series, k, v)
				}
			}
		}
	}

	// The manual's table of metrics and its table of alerts.
	doc := readFile(t, filepath.Join(fixture.Testdata(), "..", "docs", "check.md"))
	start, end := strings.Index(doc, "\n## Prometheus\n"), strings.Index(doc, "\n### What the node exporter has instead\n")
	if start < 0 || end < start {
		t.Fatal("docs/check.md: no Prometheus section")
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(ezedge_[a-z_]+)` \\|").FindAllStringSubmatch(doc[start:end], -1) {
		documented[m[1]] = true
	}
	if got, want := slices.Sorted(maps.Keys(documented)), slices.Sorted(maps.Keys(ours)); !slices.Equal(got, want) {
		t.Errorf("docs/check.md lists the metrics %v; the check writes %v", got, want)
	}
	for _, a := range alerts {
		if !strings.Contains(doc, "| `"+a+"` |") {
			t.Errorf("docs/check.md: no row for the alert %s", a)
		}
	}
}
