package view

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/health/check"
)

// promSeries are the samples of a textfile by series.
func promSeries(t *testing.T, r *check.Report) map[string]string {
	t.Helper()
	var b bytes.Buffer
	if err := CheckPrometheus(&b, r); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if _, dup := out[l[:i]]; dup {
			t.Errorf("series %s twice", l[:i])
		}
		out[l[:i]] = l[i+1:]
	}
	return out
}

// TestCheckPrometheusStates: each check has one series per state, 1 for
// its own and 0 for the three others, whatever its state; a check named
// by a container's ID is counted by state, its ID in no label; the
// firmware's word gives each bit now and since boot, and rpi_volt's alarm
// alone (which the node exporter serves) gives no series.
func TestCheckPrometheusStates(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	r := &check.Report{Platform: "rpi5", Time: time.Unix(1700000000, 0), Counts: map[string]int{"ok": 1, "warn": 3, "fail": 1, "unknown": 1}}
	all := []check.Status{check.OK, check.Warn, check.Fail, check.Unknown}
	for _, s := range all {
		r.Results = append(r.Results, check.Result{Group: check.Tuning, Name: "t-" + s.String(), Status: s})
	}
	const id = "0f1e2d3c4b5a"
	r.Results = append(r.Results,
		check.Result{Group: check.Memory, Name: "container." + id, Status: check.Warn, ByID: true, Container: id, ContainerID: id + strings.Repeat("0", 52)},
		check.Result{Group: check.Memory, Name: "container.9a8b7c6d5e4f", Status: check.Warn, ByID: true, Container: "9a8b7c6d5e4f", ContainerID: "9a8b7c6d5e4f" + strings.Repeat("0", 52)},
		// One container, many checks: counted once, by its worst.
		check.Result{Group: check.Containers, Name: "c0ffee000000.memory", Status: check.Unknown, ByID: true, Container: "c0ffee000000", ContainerID: "c0ffee000000" + strings.Repeat("0", 52)},
		check.Result{Group: check.Containers, Name: "c0ffee000000.oom-kills", Status: check.Fail, ByID: true, Container: "c0ffee000000", ContainerID: "c0ffee000000" + strings.Repeat("0", 52)},
		check.Result{Group: check.Containers, Name: "c0ffee000000.cpu-pressure", Status: check.OK, ByID: true, Container: "c0ffee000000", ContainerID: "c0ffee000000" + strings.Repeat("0", 52)},
		check.Result{Group: check.Containers, Name: "600d00000000.memory", Status: check.Unknown, ByID: true, Container: "600d00000000", ContainerID: "600d00000000" + strings.Repeat("0", 52)},
		check.Result{Group: check.Containers, Name: "600d00000000.cpu-pressure", Status: check.OK, ByID: true, Container: "600d00000000", ContainerID: "600d00000000" + strings.Repeat("0", 52)},
		// Two containers whose IDs share the 12 digits they are shown by:
		// two containers, each counted.
		check.Result{Group: check.Containers, Name: "abcabcabcabc.memory", Status: check.OK, ByID: true, Container: "abcabcabcabc", ContainerID: "abcabcabcabc" + strings.Repeat("1", 52)},
		check.Result{Group: check.Containers, Name: "abcabcabcabc.memory", Status: check.OK, ByID: true, Container: "abcabcabcabc", ContainerID: "abcabcabcabc" + strings.Repeat("2", 52)},
		check.Result{Group: check.Memory, Name: "container.web", Status: check.OK})
	r.Figures.Throttling = []check.Bit{{Name: "under_voltage", Now: &yes}}
	// Unnamed containers beyond the ones with checks of their own: counted
	// by their worst state too.
	r.Figures.UnnamedOthers = []check.Status{check.Warn, check.OK, check.OK}
	got := promSeries(t, r)
	for _, x := range all {
		for _, s := range all {
			want := map[bool]string{true: "1", false: "0"}[x == s]
			k := `ezedge_check_state{check="tuning.t-` + x.String() + `",group="tuning",state="` + s.String() + `"}`
			if got[k] != want {
				t.Errorf("%s = %q, want %s", k, got[k], want)
			}
		}
	}
	for s, want := range map[string]string{"ok": "4", "warn": "3", "fail": "1", "unknown": "1"} {
		if k := `ezedge_check_unnamed_containers{state="` + s + `"}`; got[k] != want {
			t.Errorf("%s = %q, want %s", k, got[k], want)
		}
	}
	if got[`ezedge_check_state{check="memory.container.web",group="memory",state="ok"}`] != "1" {
		t.Errorf("the named container has no series: %v", got)
	}
	if got[`ezedge_host_info{platform="rpi5"}`] != "1" || got["ezedge_check_timestamp_seconds"] != "1.7e+09" {
		t.Errorf("info or timestamp: %v", got)
	}
	for k := range got {
		if strings.Contains(k, id) || strings.Contains(k, "9a8b7c6d5e4f") || strings.Contains(k, "c0ffee") || strings.Contains(k, "600d") || strings.Contains(k, "abcabc") {
			t.Errorf("a container's ID in a label: %s", k)
		}
		if strings.HasPrefix(k, "ezedge_check_throttling") {
			t.Errorf("rpi_volt's alarm alone made %s", k)
		}
	}
	// 4 checks and the named container, 4 states each; the unnamed
	// containers and the results by state; the info; 4 figures.
	if n := len(got); n != 5*4+4+4+1+4 {
		t.Errorf("%d series:\n%v", n, got)
	}

	r.Figures.Throttling = []check.Bit{{Name: "under_voltage", Now: &no, SinceBoot: &yes}, {Name: "throttled", Now: &yes, SinceBoot: &yes}}
	got = promSeries(t, r)
	for k, want := range map[string]string{
		`ezedge_check_throttling{bit="under_voltage",when="now"}`:        "0",
		`ezedge_check_throttling{bit="under_voltage",when="since_boot"}`: "1",
		`ezedge_check_throttling{bit="throttled",when="now"}`:            "1",
		`ezedge_check_throttling{bit="throttled",when="since_boot"}`:     "1",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %s", k, got[k], want)
		}
	}
}

// TestCheckPrometheusContainers: each named container's figures are one
// gauge each, labelled by its name; a figure not read, or a memory
// without a limit, has no sample; a container known by its ID none at
// all; two of one name are kept apart.
func TestCheckPrometheusContainers(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	two := uint64(2)
	r := &check.Report{Platform: "amd64", Time: time.Unix(1700000000, 0), Counts: map[string]int{}}
	r.Figures.Containers = []check.ContainerFigure{
		{Name: "llm", MemoryRatio: f(0.75), OOMKills: &two, ThrottledRatio: f(0.1), MemoryPressure: f(0.125), CPUPressure: f(0.031)},
		{Name: "web", ThrottledRatio: f(0)},
		{Name: "web", OOMKills: &two},
		{Name: "0f1e2d3c4b5a", ByID: true, MemoryRatio: f(0.5), OOMKills: &two},
	}
	got := promSeries(t, r)
	for k, want := range map[string]string{
		`ezedge_check_container_memory_usage_ratio{container="llm"}`:          "0.75",
		`ezedge_check_container_oom_kills{container="llm"}`:                   "2",
		`ezedge_check_container_cpu_throttled_periods_ratio{container="llm"}`: "0.1",
		`ezedge_check_container_memory_pressure_ratio{container="llm"}`:       "0.125",
		`ezedge_check_container_cpu_pressure_ratio{container="llm"}`:          "0.031",
		`ezedge_check_container_cpu_throttled_periods_ratio{container="web"}`: "0",
		// The second web is web#2 in every metric, even one the first
		// web has no figure in.
		`ezedge_check_container_oom_kills{container="web#2"}`: "2",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %s", k, got[k], want)
		}
	}
	n := 0
	for k := range got {
		if strings.HasPrefix(k, "ezedge_check_container_") {
			n++
		}
		if strings.Contains(k, "0f1e2d3c4b5a") || strings.Contains(k, `ezedge_check_container_memory_usage_ratio{container="web`) ||
			strings.Contains(k, `ezedge_check_container_oom_kills{container="web"}`) {
			t.Errorf("unexpected series %s", k)
		}
	}
	if n != 7 {
		t.Errorf("%d container series, want 7: %v", n, got)
	}
}
