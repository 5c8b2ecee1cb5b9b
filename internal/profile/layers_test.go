package profile

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// rangeOptions are the options of a task registered for these tests only:
// its rule is between two values (low <= high), which no single layer's
// bounds can check.
type rangeOptions struct {
	Low  int `yaml:"low" min:"0" max:"100"`
	High int `yaml:"high" min:"0" max:"100"`
}

func init() {
	tasks.Register(tasks.Def[rangeOptions]{
		Name: "test-range", Order: 1 << 20,
		Default: func(*tasks.Facts) (bool, string) { return false, "a test task" },
		Options: rangeOptions{Low: 10, High: 20},
		Check: func(o *rangeOptions) []tasks.Problem {
			if o.Low > o.High {
				return []tasks.Problem{{Field: "high", Msg: fmt.Sprintf("%d is below low %d", o.High, o.Low)}}
			}
			return nil
		},
		Plan: func(*tasks.Facts, *rangeOptions) tasks.Intent { return tasks.Intent{} },
	})
}

// mergeFiles decodes each body as layer "Ln.yaml" and merges them.
func mergeFiles(bodies ...string) (tasks.Choices, []Setting, error) {
	var files []Layer
	var layers []*layer
	var errs []string
	for i, b := range bodies {
		name := fmt.Sprintf("L%d.yaml", i)
		l, err := decodeLayer(name, []byte(b))
		if err != nil {
			errs = append(errs, err.Error())
		}
		files = append(files, Layer{name, FromFlag})
		layers = append(layers, l)
	}
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return merge(files, layers)
}

// provenance is settings as "task.key=value L:line (over L:line, ...)".
func provenance(settings []Setting) []string {
	var out []string
	for _, s := range settings {
		line := fmt.Sprintf("%s.%s=%v %d:%d", s.Task, s.Key, s.Value, s.At.Layer, s.At.Line)
		if s.At.File != fmt.Sprintf("L%d.yaml", s.At.Layer) {
			line += " file " + s.At.File
		}
		var over []string
		for _, o := range s.Overrides {
			over = append(over, fmt.Sprintf("%v %d:%d", o.Value, o.At.Layer, o.At.Line))
		}
		if len(over) > 0 {
			line += " (over " + strings.Join(over, ", ") + ")"
		}
		out = append(out, line)
	}
	return out
}

const v1 = "version: 1\ntasks:\n"

// TestMergeSemantics: a later layer's enabled and each option it sets
// override an earlier one's, key by key; a list is replaced whole; an
// option set to its default still overrides; every key set has the file
// and line that set it last, over the earlier ones.
func TestMergeSemantics(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		layers []string
		want   []string
		check  func(t *testing.T, c tasks.Choices)
	}{
		{"enabled overridden", []string{v1 + "  swappiness: {enabled: true}\n", v1 + "  swappiness: {enabled: false}\n"},
			[]string{"swappiness.enabled=false 1:3 (over true 0:3)"}, func(t *testing.T, c tasks.Choices) {
				if on, set := c.Enabled(task(t, "swappiness")); on || !set {
					t.Errorf("enabled %v %v", on, set)
				}
			}},
		{"enabled kept when a later layer does not say", []string{v1 + "  swappiness: {enabled: true}\n", v1 + "  swappiness: {value: 5}\n"},
			[]string{"swappiness.enabled=true 0:3", "swappiness.value=5 1:3"}, func(t *testing.T, c tasks.Choices) {
				if on, set := c.Enabled(task(t, "swappiness")); !on || !set || swappiness(c) != 5 {
					t.Errorf("enabled %v %v, value %d", on, set, swappiness(c))
				}
			}},
		{"key by key", []string{v1 + "  net-buffers:\n    enabled: true\n    core_max: 8192\n    tcp_rmem: [1, 2, 3]\n", v1 + "  net-buffers: {core_max: 16384}\n"},
			[]string{"net-buffers.enabled=true 0:4", "net-buffers.core_max=16384 1:3 (over 8192 0:5)", "net-buffers.tcp_rmem=[1 2 3] 0:6"}, func(t *testing.T, c tasks.Choices) {
				o := c.Options(task(t, "net-buffers")).(*tasks.NetBuffersOptions)
				if o.CoreMax != 16384 || !reflect.DeepEqual(o.TCPRmem, []int64{1, 2, 3}) || !reflect.DeepEqual(o.TCPWmem, []int64{4096, 65536, 67108864}) {
					t.Errorf("%+v", o)
				}
			}},
		{"a list is replaced, not appended to", []string{v1 + "  container-resources: {containers: [llm=chat, stt]}\n", v1 + "  container-resources: {containers: [vision]}\n"},
			[]string{"container-resources.containers=[vision] 1:3 (over [llm=chat stt] 0:3)"}, func(t *testing.T, c tasks.Choices) {
				if o := c.Options(task(t, "container-resources")).(*tasks.ContainerResourcesOptions); !reflect.DeepEqual(o.Containers, []string{"vision"}) || o.Form != "quadlet" {
					t.Errorf("%+v", o)
				}
			}},
		{"an empty list replaces too", []string{v1 + "  container-resources: {containers: [llm]}\n", v1 + "  container-resources: {containers: []}\n"},
			[]string{"container-resources.containers=[] 1:3 (over [llm] 0:3)"}, func(t *testing.T, c tasks.Choices) {
				if o := c.Options(task(t, "container-resources")).(*tasks.ContainerResourcesOptions); len(o.Containers) != 0 {
					t.Errorf("%+v", o)
				}
			}},
		{"set to the default, still over", []string{v1 + "  swappiness: {value: 5}\n", v1 + "  swappiness: {value: 10}\n"},
			[]string{"swappiness.value=10 1:3 (over 5 0:3)"}, func(t *testing.T, c tasks.Choices) {
				if swappiness(c) != 10 {
					t.Errorf("value %d", swappiness(c))
				}
			}},
		{"an empty entry sets nothing", []string{v1 + "  swappiness: {value: 5}\n", v1 + "  swappiness:\n", v1 + "  swappiness: {}\n", "version: 1\ntasks:\n", "version: 1\n"},
			[]string{"swappiness.value=5 0:3"}, func(t *testing.T, c tasks.Choices) {
				if swappiness(c) != 5 {
					t.Errorf("value %d", swappiness(c))
				}
			}},
		{"tasks in different layers", []string{v1 + "  thp: {mode: madvise}\n", v1 + "  zswap: {enabled: true, compressor: zstd}\n", v1 + "  thp: {enabled: false}\n"},
			[]string{"thp.enabled=false 2:3", "thp.mode=madvise 0:3", "zswap.enabled=true 1:3", "zswap.compressor=zstd 1:3"}, nil},
		{"three layers, the last wins", []string{v1 + "  swappiness: {value: 1}\n", v1 + "  swappiness: {value: 2}\n", v1 + "  swappiness:\n    enabled: true\n    value: 3\n"},
			[]string{"swappiness.enabled=true 2:4", "swappiness.value=3 2:5 (over 1 0:3, 2 1:3)"}, nil},
		{"no layer sets anything", []string{"version: 1\n"}, nil, func(t *testing.T, c tasks.Choices) {
			if len(c) != 0 {
				t.Errorf("%+v", c)
			}
		}},
	} {
		c, settings, err := mergeFiles(tc.layers...)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := provenance(settings); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
		for _, s := range settings {
			if s.Overrides == nil {
				t.Errorf("%s: %s.%s: overrides nil (JSON null)", tc.name, s.Task, s.Key)
			}
			if s.Key == EnabledKey && s.Default != nil {
				t.Errorf("%s: %s.enabled has a default: %v", tc.name, s.Task, s.Default)
			}
		}
		if tc.check != nil {
			t.Run(tc.name, func(t *testing.T) { tc.check(t, c) })
		}
	}
}

func task(t *testing.T, name string) tasks.Task {
	t.Helper()
	tk, ok := tasks.ByName(name)
	if !ok {
		t.Fatalf("no task %s", name)
	}
	return tk
}

// TestEachLayerOnItsOwnRulesOnTheMerge: a value's bounds are refused in the
// file that sets it even when a later layer overrides it; a task's rules
// run on the merged options, the error naming the file and line of the
// value refused and the other files whose values play a part.
func TestEachLayerOnItsOwnRulesOnTheMerge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		layers []string
		want   string // "" valid
	}{
		{"bound in an overridden layer", []string{v1 + "  swappiness: {value: 500}\n", v1 + "  swappiness: {value: 5}\n"},
			"profile L0.yaml:3: tasks.swappiness.value: 500 out of range 0..200"},
		{"a type in an overridden layer", []string{v1 + "  swappiness: {value: \"5\"}\n", v1 + "  swappiness: {value: 5}\n"},
			`profile L0.yaml:3: tasks.swappiness.value: "5" is a string, want a number`},
		{"an unknown key in an overridden layer", []string{v1 + "  swappiness: {valu: 5}\n", v1 + "  swappiness: {value: 5}\n"},
			"profile L0.yaml:3: tasks.swappiness.valu: unknown key (known: enabled, value)"},
		{"every layer's problems", []string{v1 + "  swappiness: {value: 500}\n", v1 + "  thp: {mode: x}\n  fstrim: {enabled: 1}\n"},
			"profile L0.yaml:3: tasks.swappiness.value: 500 out of range 0..200\nprofile L1.yaml:3: tasks.thp.mode: \"x\" is not one of always, madvise, never\nprofile L1.yaml:4: tasks.fstrim.enabled: 1 is a number, want a boolean (true or false)"},
		{"each layer has its version", []string{v1 + "  swappiness: {value: 5}\n", "tasks:\n  swappiness: {value: 5}\n"},
			"profile L1.yaml:1: version: missing (want version: 1)"},
		// tcp_rmem's rule (min <= default <= max) is the task's own: the
		// merge checks it, on the value in force.
		{"a rule on an overridden value", []string{v1 + "  net-buffers: {tcp_rmem: [3, 2, 1]}\n", v1 + "  net-buffers: {tcp_rmem: [4096, 87380, 67108864]}\n"}, ""},
		{"a rule on the value in force", []string{v1 + "  net-buffers: {tcp_rmem: [4096, 87380, 67108864]}\n", v1 + "  net-buffers:\n    core_max: 8192\n", v1 + "  net-buffers:\n    tcp_rmem: [3, 2, 1]\n"},
			"profile L2.yaml:4: tasks.net-buffers.tcp_rmem: [3 2 1] must be three sizes min <= default <= max, each 1..2147483647 (merged with core_max from L1.yaml:4)"},
		{"a rule between values, both set", []string{v1 + "  test-range: {high: 30}\n", v1 + "  test-range: {low: 40}\n"},
			"profile L0.yaml:3: tasks.test-range.high: 30 is below low 40 (merged with low from L1.yaml:3)"},
		{"a rule between values, one a default", []string{v1 + "  test-range: {enabled: true}\n", v1 + "  test-range:\n    low: 50\n"},
			"profile L1.yaml:4: tasks.test-range.high: 20 is below low 50"},
		{"a rule between values, both in one file", []string{v1 + "  test-range: {low: 50, high: 40}\n"},
			"profile L0.yaml:3: tasks.test-range.high: 40 is below low 50"},
		{"a rule between values, made right by a later layer", []string{v1 + "  test-range: {low: 50}\n", v1 + "  test-range: {high: 60}\n"}, ""},
		{"a bound of a rule's value", []string{v1 + "  test-range: {low: 500}\n", v1 + "  test-range: {low: 5}\n"},
			"profile L0.yaml:3: tasks.test-range.low: 500 out of range 0..100"},
	} {
		_, _, err := mergeFiles(tc.layers...)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want):
			t.Errorf("%s:\n got %v\nwant %s", tc.name, err, tc.want)
		}
	}
}

// TestYAMLIsTheMergedProfile: the profile command's YAML is a valid
// profile that plans exactly as its layers do, each key commented with the
// file and line that set it; every line is printable whatever the files
// are called.
func TestYAMLIsTheMergedProfile(t *testing.T) {
	t.Parallel()
	dir := makeRoot(t, map[string]string{
		"etc/ezedge-host/profile.yaml":              v1 + "  swappiness: {enabled: true, value: 20}\n  net-buffers:\n    enabled: true\n    tcp_rmem: [4096, 87380, 33554432]\n  cpu-governor: {governor: schedutil}\n",
		"etc/ezedge-host/profile.d/10-model.yaml":   v1 + "  swappiness: {value: 10}\n  hugepages: {enabled: true, pages: 256}\n  container-resources: {containers: [llm=chat, stt]}\n",
		"etc/ezedge-host/profile.d/\x1b[2J\n#.yaml": v1 + "  thp: {mode: never}\n  check-timer: {enabled: true, textfile_dir: /var/lib/node}\n  test-range: {low: 1}\n",
		"etc/ezedge-host/profile.d/x.yaml~":         "junk",
	}, nil)
	f := filepath.Join(t.TempDir(), "host\n7.yaml")
	os.WriteFile(f, []byte(v1+"  swappiness: {value: 5}\n  net-buffers: {tcp_rmem: [4096, 131072, 67108864]}\n  cpu-governor: {governor: \"true\"}\n  container-resources: {containers: []}\n  test-range: {high: 1}\n"), 0o644)
	for _, src := range []Source{Files(f), Default(), None(), Install(f)} {
		r, err := src.Resolve(openDir(t, dir))
		if err != nil {
			t.Fatal(err)
		}
		y, err := r.YAML()
		if err != nil {
			t.Fatal(err)
		}
		if err := escape.CheckText(y); err != nil {
			t.Errorf("%s: %v:\n%s", r.Origin, err, y)
		}
		c, err := Parse("merged.yaml", y)
		if err != nil {
			t.Fatalf("%s: the YAML is not a profile: %v\n%s", r.Origin, err, y)
		}
		for _, tk := range tasks.All() {
			on1, set1 := c.Enabled(tk)
			on2, set2 := r.Choices.Enabled(tk)
			if on1 != on2 || set1 != set2 || !reflect.DeepEqual(c.Options(tk), r.Choices.Options(tk)) {
				t.Errorf("%s: %s: the YAML says %v %v %+v, the layers %v %v %+v", r.Origin, tk.Name(), on1, set1, c.Options(tk), on2, set2, r.Choices.Options(tk))
			}
		}
		lines := strings.Split(string(y), "\n")
		for _, s := range r.Origin.Settings {
			found := false
			for _, l := range lines {
				if strings.HasPrefix(strings.TrimSpace(l), s.Key+":") && strings.Contains(l, "# "+s.At.Text()) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: no line for %s.%s with # %s:\n%s", r.Origin, s.Task, s.Key, s.At.Text(), y)
			}
		}
		for i, l := range r.Origin.Layers {
			if !strings.Contains(string(y), fmt.Sprintf("#   %d. %s", i+1, printable(l.Path))) {
				t.Errorf("layer %d not listed:\n%s", i+1, y)
			}
		}
		if r.Origin.Kind != KindNone && !strings.Contains(string(y), "# Not read: /etc/ezedge-host/profile.d/x.yaml~: a backup") {
			t.Errorf("%s: the backup is not said:\n%s", r.Origin, y)
		}
	}
}
