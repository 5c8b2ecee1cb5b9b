package view

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ezansiedgeai/ezedge-host/internal/health/check"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
)

// Check is the JSON of `ezedge-host check`.
type Check struct {
	FormatVersion int            `json:"format_version"`
	Root          string         `json:"root"`
	Platform      string         `json:"platform"`
	Runtime       bool           `json:"runtime"`
	Time          time.Time      `json:"time"`
	Status        check.Status   `json:"status"`
	Summary       map[string]int `json:"summary"`
	Results       []check.Result `json:"results"`
	Figures       check.Figures  `json:"figures"`
}

// NewCheck is the JSON form of a check report.
func NewCheck(r *check.Report) Check {
	c := Check{FormatVersion: FormatVersion, Root: r.Root, Platform: string(r.Platform), Runtime: r.Runtime, Time: r.Time.UTC(),
		Status: r.Worst(), Summary: r.Counts, Results: r.Results, Figures: r.Figures}
	if c.Results == nil {
		c.Results = []check.Result{}
	}
	if c.Figures.Temperatures == nil {
		c.Figures.Temperatures = []check.Temperature{}
	}
	return c
}

// CheckText writes the report for a person: by group, one line per check,
// the fix under each warning or failure. Check names, values and evidence
// come from the root (zone types, hwmon labels, container names): they
// are shown as escape.Text.
func CheckText(w io.Writer, r *check.Report) {
	escape.Fprintf(w, "Check of %s (%s)\n", r.Root, r.Platform)
	if !r.Runtime {
		escape.Fprintf(w, "An image root: what only a running system shows is unknown here.\n")
	}
	width := 0
	for _, x := range r.Results {
		width = max(width, utf8.RuneCountInString(escape.Text(x.ID())))
	}
	for _, g := range check.Groups {
		first := true
		for _, x := range r.Results {
			if x.Group != g {
				continue
			}
			if first {
				escape.Fprintf(w, "\n%s\n", groupTitle(g))
				first = false
			}
			escape.Fprintf(w, "  %-9s %-*s  %s", "["+x.Status.String()+"]", width, x.ID(), x.Value)
			if x.Detail != "" {
				escape.Fprintf(w, " — %s", x.Detail)
			}
			escape.Fprintf(w, "\n")
			if x.Fix != "" && (x.Status == check.Warn || x.Status == check.Fail) {
				escape.Fprintf(w, "  %-9s %-*s  fix: %s\n", "", width, "", x.Fix)
			}
		}
	}
	escape.Fprintf(w, "\n%d ok, %d warn, %d fail, %d unknown.\n", r.Counts["ok"], r.Counts["warn"], r.Counts["fail"], r.Counts["unknown"])
}

// groupTitle is a group's heading: its name capitalised, or spelt as
// the standard does.
func groupTitle(g check.Group) string {
	if g == check.PCIe {
		return "PCIe"
	}
	return strings.ToUpper(string(g)[:1]) + string(g)[1:]
}

// The JUnit XML CI dashboards read: one testcase per check; a failure is
// a <failure>, a warning passes with its text in <system-out>, an unknown
// is <skipped>. Every text is an escape.Host, written as escape.Text:
// encoding/xml escapes markup, and Text holds no character XML 1.0
// forbids (it would replace them with U+FFFD, losing what they were).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     escape.Host  `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      escape.Host `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Timestamp escape.Host `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      escape.Host   `xml:"name,attr"`
	Classname escape.Host   `xml:"classname,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut junitLines    `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message escape.Host `xml:"message,attr"`
	Type    escape.Host `xml:"type,attr,omitempty"`
	Text    junitLines  `xml:",chardata"`
}

// junitLines are lines of text in an element, each shown as escape.Text:
// a line from the host cannot add lines of its own.
type junitLines []string

func (l junitLines) MarshalText() ([]byte, error) {
	var b strings.Builder
	for _, x := range l {
		b.WriteString(escape.Text(x) + "\n")
	}
	return []byte(b.String()), nil
}

// CheckJUnit writes the report as JUnit XML.
func CheckJUnit(w io.Writer, r *check.Report) error {
	all := junitSuites{Name: "ezedge-host check"}
	for _, g := range check.Groups {
		s := junitSuite{Name: escape.Host(g), Timestamp: escape.Host(r.Time.UTC().Format("2006-01-02T15:04:05"))}
		for _, x := range r.Results {
			if x.Group != g {
				continue
			}
			msg := x.Value
			if x.Detail != "" {
				msg += ": " + x.Detail
			}
			c := junitCase{Name: escape.Host(x.ID()), Classname: escape.Host("ezedge-host.check." + string(g))}
			var evidence junitLines
			if x.Evidence != "" {
				evidence = append(evidence, "evidence: "+x.Evidence)
			}
			if x.Fix != "" {
				evidence = append(evidence, "fix: "+x.Fix)
			}
			switch x.Status {
			case check.Fail:
				c.Failure = &junitMessage{Message: escape.Host(msg), Type: "fail", Text: evidence}
				s.Failures++
			case check.Unknown:
				c.Skipped = &junitMessage{Message: escape.Host(msg)}
				s.Skipped++
			case check.Warn:
				c.SystemOut = append(junitLines{"warn: " + msg}, evidence...)
			default:
				c.SystemOut = junitLines{"ok: " + msg}
			}
			s.Cases = append(s.Cases, c)
			s.Tests++
		}
		if s.Tests == 0 {
			continue
		}
		all.Suites = append(all.Suites, s)
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Skipped += s.Skipped
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// CheckPrometheus writes the report in the node exporter's textfile
// format (the Prometheus text exposition format, without timestamps).
// Metric and label names are the program's, checked against the format's
// grammar; label values come from the host (zone types, hwmon labels,
// container names) and are written as escape.PromLabel: valid UTF-8, one
// to one, with \\, \" and \n escaped.
//
// It holds what only ezedge-host knows: each check's outcome, the Pi
// firmware's throttling word, the tuning's state and when the check ran.
// What the node exporter already exports from the same files
// (temperatures and fans from hwmon and thermal_zone, swap from meminfo,
// rpi_volt's under-voltage alarm) is left to it (docs/check.md maps them).
func CheckPrometheus(w io.Writer, r *check.Report) error {
	var p promWriter
	p.metric("ezedge_host_info", "The platform ezedge-host detected, as a label; always 1.", "gauge")
	p.sample("ezedge_host_info", [][2]string{{"platform", string(r.Platform)}}, 1)
	p.states(r.Results, r.Figures.UnnamedOthers)
	p.metric("ezedge_check_results", "Number of checks in each state.", "gauge")
	for _, s := range checkStates {
		p.sample("ezedge_check_results", [][2]string{{"state", s.String()}}, float64(r.Counts[s.String()]))
	}
	p.throttling(r.Figures.Throttling)
	p.containers(r.Figures.Containers)
	f := r.Figures
	p.gauge("ezedge_check_pending_changes", "Changes the plan would make.", float64(f.PendingChanges))
	p.gauge("ezedge_check_drift_resources", "Resources changed by something else since the apply.", float64(f.Drift))
	p.gauge("ezedge_check_pending_reboot", "1 when kernel arguments are configured but not active until a reboot.", b2f(f.PendingReboot))
	if !f.LastApply.IsZero() {
		p.gauge("ezedge_check_last_apply_timestamp_seconds", "When the newest apply still in force was made.", float64(f.LastApply.Unix()))
	}
	p.gauge("ezedge_check_timestamp_seconds", "When this check ran.", float64(r.Time.Unix()))
	if p.bad != nil {
		return p.bad
	}
	_, err := w.Write([]byte(p.b.String()))
	return err
}

// checkStates are the states each check has a series for, in order.
var checkStates = []check.Status{check.OK, check.Warn, check.Fail, check.Unknown}

// states writes each check's outcome as one series per state, 1 for the
// state it is in (as node_systemd_unit_state): a query selects a state by
// its name, and no number stands for one. The checks of a container named
// by its ID are counted instead, one count per container (by its full
// ID: two may share the 12 digits they are shown by) by the worst state
// of its checks (fail, warn, unknown, ok, in that order): each restart
// would make new series. Those beyond the ones with checks of their own
// (unnamed, each one's worst state) are counted too.
func (p *promWriter) states(results []check.Result, unnamedOthers []check.Status) {
	p.metric("ezedge_check_state", "Outcome of each check, one series per state: 1 for the state the check is in, 0 for the others.", "gauge")
	seen := map[string]bool{}
	byID := map[string]check.Status{}
	for _, x := range results {
		if x.ByID {
			if w, ok := byID[x.ContainerID]; !ok || check.Worse(x.Status, w) {
				byID[x.ContainerID] = x.Status
			}
			continue
		}
		// Two results of one name (two zones of one type) would be a
		// duplicate series, which the textfile collector rejects.
		id := x.ID()
		for n := 2; seen[id]; n++ {
			id = x.ID() + "#" + strconv.Itoa(n)
		}
		seen[id] = true
		for _, s := range checkStates {
			p.sample("ezedge_check_state", [][2]string{{"check", id}, {"group", string(x.Group)}, {"state", s.String()}}, b2f(x.Status == s))
		}
	}
	counts := map[check.Status]int{}
	for _, s := range byID {
		counts[s]++
	}
	for _, s := range unnamedOthers {
		counts[s]++
	}
	p.metric("ezedge_check_unnamed_containers", "Containers Podman gave no name for here (checked by their cgroup), by the worst state of their checks.", "gauge")
	for _, s := range checkStates {
		p.sample("ezedge_check_unnamed_containers", [][2]string{{"state", s.String()}}, float64(counts[s]))
	}
}

// throttling writes the bits of the firmware's get_throttled word, read
// with --firmware. The word gives each bit now and since boot; a bit
// known only now is rpi_volt's under-voltage alarm, which the node
// exporter serves itself (node_hwmon_in_lcrit_alarm_volts).
func (p *promWriter) throttling(bits []check.Bit) {
	var word []check.Bit
	for _, bt := range bits {
		if bt.Now != nil && bt.SinceBoot != nil {
			word = append(word, bt)
		}
	}
	if len(word) == 0 {
		return
	}
	p.metric("ezedge_check_throttling", "Raspberry Pi firmware's get_throttled bits (check --firmware): 1 set, 0 clear.", "gauge")
	for _, bt := range word {
		p.sample("ezedge_check_throttling", [][2]string{{"bit", bt.Name}, {"when", "now"}}, b2f(*bt.Now))
		p.sample("ezedge_check_throttling", [][2]string{{"bit", bt.Name}, {"when", "since_boot"}}, b2f(*bt.SinceBoot))
	}
}

// containerMetrics are the per-container figures, each a gauge labelled
// by the container's name: the figure, its metric and its help.
var containerMetrics = []struct {
	name, help string
	get        func(check.ContainerFigure) (float64, bool)
}{
	{"ezedge_check_container_memory_usage_ratio", "A container's working set (memory.current less memory.stat inactive_file) over its memory.max (absent without a limit, 1 with memory.max 0).",
		func(c check.ContainerFigure) (float64, bool) { return fptr(c.MemoryRatio) }},
	{"ezedge_check_container_oom_kills", "Processes of a container the OOM killer killed since the container started (memory.events oom_kill).",
		func(c check.ContainerFigure) (float64, bool) {
			if c.OOMKills == nil {
				return 0, false
			}
			return float64(*c.OOMKills), true
		}},
	{"ezedge_check_container_cpu_throttled_periods_ratio", "Share of a container's CFS periods since it started in which its CPU quota ran out (cpu.stat nr_throttled / nr_periods).",
		func(c check.ContainerFigure) (float64, bool) { return fptr(c.ThrottledRatio) }},
	{"ezedge_check_container_memory_pressure_ratio", "A container's memory.pressure full avg10, as a ratio: the share of the last 10 s every task of it stalled on memory.",
		func(c check.ContainerFigure) (float64, bool) { return fptr(c.MemoryPressure) }},
	{"ezedge_check_container_cpu_pressure_ratio", "A container's cpu.pressure some avg10, as a ratio: the share of the last 10 s a task of it waited for a CPU.",
		func(c check.ContainerFigure) (float64, bool) { return fptr(c.CPUPressure) }},
}

func fptr(p *float64) (float64, bool) {
	if p == nil {
		return 0, false
	}
	return *p, true
}

// containers writes the figures of the containers that have checks of
// their own (at most check.MaxContainers), labelled by name. A container
// known only by its ID gets no series: its ID is new at each restart.
// Two containers of one name (a rootful and a rootless one) get #2, #3…
// as checks do, so no series is written twice.
func (p *promWriter) containers(cs []check.ContainerFigure) {
	// The labels are given once, over all the containers, before any
	// metric: "web#2" is then one container in every metric, whichever
	// figures each container has.
	labels := make([]string, len(cs))
	seen := map[string]bool{}
	for i, c := range cs {
		if c.ByID {
			continue
		}
		name := c.Name
		for n := 2; seen[name]; n++ {
			name = c.Name + "#" + strconv.Itoa(n)
		}
		seen[name] = true
		labels[i] = name
	}
	for _, m := range containerMetrics {
		first := true
		for i, c := range cs {
			v, ok := m.get(c)
			if c.ByID || !ok {
				continue
			}
			if first {
				p.metric(m.name, m.help, "gauge")
				first = false
			}
			p.sample(m.name, [][2]string{{"container", labels[i]}}, v)
		}
	}
}

// promWriter builds a textfile; bad is the first name the format refuses.
type promWriter struct {
	b   strings.Builder
	bad error
}

func (p *promWriter) metric(name, help, typ string) {
	if !promName.MatchString(name) && p.bad == nil {
		p.bad = fmt.Errorf("metric name %q is not valid in Prometheus", name)
	}
	p.b.WriteString("# HELP " + name + " " + escape.PromHelp(help) + "\n# TYPE " + name + " " + typ + "\n")
}

func (p *promWriter) sample(name string, labels [][2]string, v float64) {
	p.b.WriteString(name)
	if len(labels) > 0 {
		p.b.WriteByte('{')
		for i, l := range labels {
			if !promLabelName.MatchString(l[0]) && p.bad == nil {
				p.bad = fmt.Errorf("label name %q is not valid in Prometheus", l[0])
			}
			if i > 0 {
				p.b.WriteByte(',')
			}
			p.b.WriteString(l[0] + `="` + escape.PromLabel(l[1]) + `"`)
		}
		p.b.WriteByte('}')
	}
	p.b.WriteString(" " + strconv.FormatFloat(v, 'g', -1, 64) + "\n")
}

// gauge is a metric of one unlabelled sample.
func (p *promWriter) gauge(name, help string, v float64) {
	p.metric(name, help, "gauge")
	p.sample(name, nil, v)
}

// The names the exposition format allows for metrics and for labels
// (names starting with __ are reserved for Prometheus itself).
var (
	promName      = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	promLabelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
