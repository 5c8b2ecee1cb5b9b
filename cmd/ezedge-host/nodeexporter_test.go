package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// nodeExporter finds Debian's prometheus-node-exporter: on PATH, or
// unpacked by `make test-deps` into .cache/tools. Under CI its absence is
// a failure, not a skip.
func nodeExporter(t *testing.T) string {
	if p, err := exec.LookPath("prometheus-node-exporter"); err == nil {
		return p
	}
	p := filepath.Join(fixture.Testdata(), "..", ".cache", "tools", "usr", "bin", "prometheus-node-exporter")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("prometheus-node-exporter not found (make test-deps unpacks it into .cache/tools)")
	}
	t.Skip("prometheus-node-exporter not found: run make test-deps")
	return ""
}

// TestNodeExporterReadsTextfile: the real node exporter, started on a
// loopback port with only its textfile collector, reads the textfile
// `check --output prometheus` wrote on every fixture without a scrape
// error, and serves the check's metrics with the values the check saw.
func TestNodeExporterReadsTextfile(t *testing.T) {
	t.Parallel()
	bin := nodeExporter(t)
	for _, name := range fixture.Names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			root := fixture.Copy(t, name)
			dir := filepath.Join(root, "var/lib/prometheus/node-exporter")
			os.MkdirAll(dir, 0o755)
			r := cli("check", "--root", root, "--output", "prometheus", "--firmware", "--textfile-dir", "/var/lib/prometheus/node-exporter")
			if r.code != 0 && r.code != 4 && r.code != 5 {
				t.Fatalf("check: exit %d: %s", r.code, r.stderr)
			}
			prom := readFile(t, filepath.Join(dir, "ezedge-host.prom"))
			metrics := scrape(t, bin, dir)
			if !strings.Contains(metrics, "\nnode_textfile_scrape_error 0\n") {
				t.Fatalf("the exporter could not read the textfile:\n%s", grepLines(metrics, "textfile"))
			}
			// Every sample of the textfile is served as written.
			n := 0
			for _, l := range strings.Split(prom, "\n") {
				if l == "" || strings.HasPrefix(l, "#") {
					continue
				}
				n++
				if !strings.Contains(metrics, "\n"+l+"\n") {
					t.Errorf("sample not served as written: %s", l)
				}
			}
			if n < 10 {
				t.Errorf("only %d samples in the textfile", n)
			}
		})
	}
}

// scrape runs the exporter with only its textfile collector on dir.
func scrape(t *testing.T, bin, dir string) string {
	t.Helper()
	return scrapeWith(t, bin, "--collector.textfile", "--collector.textfile.directory="+dir)
}

// scrapeWith runs the exporter with only the collectors args turn on, on a
// free loopback port until /metrics answers, and returns its body.
func scrapeWith(t *testing.T, bin string, args ...string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, append([]string{"--web.listen-address=" + addr, "--collector.disable-defaults"}, args...)...)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == 200 {
				return "\n" + string(b)
			}
			err = fmt.Errorf("status %d (%v)", resp.StatusCode, rerr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("node exporter on %s: %v\n%s", addr, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestNodeExporterServesWhatCheckLeavesOut: what the check reads but
// leaves out of its textfile (every temperature, fan and swap figure, and
// rpi_volt's under-voltage alarm) Debian's node exporter serves itself,
// reading the same root (--path.sysfs, --path.procfs), under the names
// docs/check.md maps them to and with the values the check saw; so the
// textfile duplicates none of it, and an alert or a dashboard has it all.
func TestNodeExporterServesWhatCheckLeavesOut(t *testing.T) {
	t.Parallel()
	bin := nodeExporter(t)
	// Every kind compared on some fixture, or the test proves nothing.
	var temps, fans, alarms atomic.Int32
	t.Cleanup(func() {
		if temps.Load() == 0 || fans.Load() == 0 || alarms.Load() == 0 {
			t.Errorf("compared %d temperatures, %d fans, %d under-voltage alarms: each kind needs one", temps.Load(), fans.Load(), alarms.Load())
		}
	})
	for _, name := range fixture.Names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			root := exporterRoot(t, name)
			var rep struct {
				Figures struct {
					Temperatures []struct {
						Sensor  string  `json:"sensor"`
						Celsius float64 `json:"celsius"`
					} `json:"temperatures"`
					FanRPM     []float64 `json:"fan_rpm"`
					Throttling []struct {
						Name      string `json:"name"`
						Now       *bool  `json:"now"`
						SinceBoot *bool  `json:"since_boot"`
					} `json:"throttling"`
					SwapTotal float64 `json:"swap_total_bytes"`
					SwapUsed  float64 `json:"swap_used_bytes"`
				} `json:"figures"`
			}
			r := cli("check", "--root", root, "--output", "json")
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("check: exit %d: %v\n%s", r.code, err, r.stderr)
			}
			f := rep.Figures
			ne := parseExposition(t, scrapeRoot(t, bin, root))
			chips := map[string]string{} // node_hwmon_chip_names: its chip label by the chip's name
			for _, s := range ne.named("node_hwmon_chip_names") {
				chips[s.labels["chip_name"]] = s.labels["chip"]
			}
			for _, tc := range f.Temperatures {
				temps.Add(1)
				chip, label, _ := strings.Cut(tc.Sensor, ":")
				var got []sample
				if zone, ok := strings.CutPrefix(chip, "thermal_zone"); ok {
					got = ne.match("node_thermal_zone_temp", map[string]string{"zone": zone, "type": label})
				} else {
					sensor := label // the check names a sensor without a label temp<n>, as the exporter does
					for _, s := range ne.match("node_hwmon_sensor_label", map[string]string{"chip": chips[chip], "label": label}) {
						sensor = s.labels["sensor"]
					}
					got = ne.match("node_hwmon_temp_celsius", map[string]string{"chip": chips[chip], "sensor": sensor})
				}
				if len(got) != 1 || math.Abs(got[0].value-tc.Celsius) > 1e-9 {
					t.Errorf("temperature %s %.3f °C: the node exporter serves %v", tc.Sensor, tc.Celsius, got)
				}
			}
			served := ne.named("node_hwmon_fan_rpm")
			for _, rpm := range f.FanRPM {
				fans.Add(1)
				if !slices.ContainsFunc(served, func(s sample) bool { return s.value == rpm }) {
					t.Errorf("fan %v rpm: the node exporter serves %v", rpm, served)
				}
			}
			for _, b := range f.Throttling {
				if b.Name != "under_voltage" || b.Now == nil {
					continue
				}
				alarms.Add(1)
				got := ne.match("node_hwmon_in_lcrit_alarm_volts", map[string]string{"chip": chips["rpi_volt"], "sensor": "in0"})
				if len(got) != 1 || (got[0].value > 0) != *b.Now {
					t.Errorf("under-voltage now %v: the node exporter serves %v", *b.Now, got)
				}
			}
			total := ne.named("node_memory_SwapTotal_bytes")
			free := ne.named("node_memory_SwapFree_bytes")
			if len(total) != 1 || len(free) != 1 || total[0].value != f.SwapTotal || total[0].value-free[0].value != f.SwapUsed {
				t.Errorf("swap %v bytes, %v used: the node exporter serves %v, %v", f.SwapTotal, f.SwapUsed, total, free)
			}
			prom := cli("check", "--root", root, "--output", "prometheus", "--firmware")
			for _, s := range parseExposition(t, prom.stdout) {
				if regexp.MustCompile(`temperature|celsius|fan|rpm|swap`).MatchString(s.name) {
					t.Errorf("the textfile has %s, which the node exporter serves", s.name)
				}
			}
		})
	}
}

// exporterRoot is a copy of fixture name as a kernel shows it to the node
// exporter's collectors, which insist on what the fixtures leave out: the
// hwmon class (empty without a driver), each thermal zone's policy,
// /proc/meminfo's swap agreeing with /proc/swaps, and /proc/vmstat, which
// counts OOM kills.
func exporterRoot(t *testing.T, name string) string {
	t.Helper()
	root := fixture.Copy(t, name)
	os.MkdirAll(filepath.Join(root, "sys/class/hwmon"), 0o755)
	zones, _ := filepath.Glob(filepath.Join(root, "sys/class/thermal/thermal_zone*"))
	for _, z := range zones {
		if _, err := os.Stat(filepath.Join(z, "policy")); err != nil {
			os.WriteFile(filepath.Join(z, "policy"), []byte("step_wise\n"), 0o644)
		}
	}
	var size, used uint64
	for i, l := range strings.Split(readFile(t, filepath.Join(root, "proc/swaps")), "\n") {
		if f := strings.Fields(l); i > 0 && len(f) == 5 {
			s, _ := strconv.ParseUint(f[2], 10, 64)
			u, _ := strconv.ParseUint(f[3], 10, 64)
			size, used = size+s, used+u
		}
	}
	mem := regexp.MustCompile(`(?m)^SwapTotal:.*$`).ReplaceAllString(readFile(t, filepath.Join(root, "proc/meminfo")), fmt.Sprintf("SwapTotal:      %d kB", size))
	mem = regexp.MustCompile(`(?m)^SwapFree:.*$`).ReplaceAllString(mem, fmt.Sprintf("SwapFree:       %d kB", size-used))
	os.WriteFile(filepath.Join(root, "proc/meminfo"), []byte(mem), 0o644)
	os.WriteFile(filepath.Join(root, "proc/vmstat"), []byte("pgpgin 1\npgpgout 1\noom_kill 0\n"), 0o644)
	return root
}

// scrapeRoot runs the node exporter's collectors of what the check reads
// (hwmon, thermal_zone, meminfo, vmstat) on root's /sys and /proc; each
// must succeed.
func scrapeRoot(t *testing.T, bin, root string) string {
	t.Helper()
	collectors := []string{"hwmon", "thermal_zone", "meminfo", "vmstat"}
	args := []string{"--path.sysfs=" + filepath.Join(root, "sys"), "--path.procfs=" + filepath.Join(root, "proc")}
	for _, c := range collectors {
		args = append(args, "--collector."+c)
	}
	body := scrapeWith(t, bin, args...)
	for _, c := range collectors {
		if !strings.Contains(body, "\nnode_scrape_collector_success{collector=\""+c+"\"} 1\n") {
			t.Fatalf("the node exporter's %s collector failed on %s:\n%s", c, root, grepLines(body, "collector"))
		}
	}
	return body
}

// sample is one line of the exposition format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

type samples []sample

func (ss samples) named(name string) samples {
	return ss.match(name, nil)
}

// match is the samples of name whose labels include want.
func (ss samples) match(name string, want map[string]string) samples {
	var out samples
	for _, s := range ss {
		ok := s.name == name
		for k, v := range want {
			ok = ok && s.labels[k] == v
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// parseExposition reads the samples of a text exposition (label values
// left escaped: the fixtures' are plain).
func parseExposition(t *testing.T, body string) samples {
	t.Helper()
	var out samples
	for _, l := range strings.Split(body, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("not a sample: %q", l)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		s := sample{name: m[1], labels: map[string]string{}, value: v}
		for _, p := range labelPair.FindAllStringSubmatch(m[2], -1) {
			s.labels[p[1]] = p[2]
		}
		out = append(out, s)
	}
	return out
}
