package profile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/tasks"
)

func TestFullProfile(t *testing.T) {
	t.Parallel()
	src := `version: 1
tasks:
  swappiness:   {enabled: true, value: 5}
  net-buffers:
    enabled: false
    core_max: 268435456
    tcp_rmem: [4096, 131072, 134217728]
    tcp_wmem: [4096, 65536, 134217728]
  hugepages:    {enabled: true, pages: 512}
  thp:          {mode: madvise}
  cpu-governor: {enabled: true, governor: schedutil}
  nvme-queue:   {nr_requests: 2048}
`
	c, err := Parse("full.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	on, off := true, false
	want := tasks.Choices{
		"swappiness":   {Enabled: &on, Options: &tasks.SwappinessOptions{Value: 5}},
		"net-buffers":  {Enabled: &off, Options: &tasks.NetBuffersOptions{CoreMax: 268435456, TCPRmem: []int64{4096, 131072, 134217728}, TCPWmem: []int64{4096, 65536, 134217728}}},
		"hugepages":    {Enabled: &on, Options: &tasks.HugePagesOptions{Pages: 512}},
		"thp":          {Options: &tasks.THPOptions{Mode: "madvise"}},
		"cpu-governor": {Enabled: &on, Options: &tasks.CPUGovernorOptions{Governor: "schedutil"}},
		"nvme-queue":   {Options: &tasks.NVMeQueueOptions{NrRequests: 2048}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
	// A task left out, or an option left out, keeps its default.
	z, _ := tasks.ByName("zswap")
	if o := c.Options(z).(*tasks.ZswapOptions); o.Compressor != "lz4" {
		t.Errorf("zswap defaults: %+v", o)
	}
	partial, _ := Parse("p.yaml", []byte("version: 1\ntasks:\n  net-buffers: {core_max: 8192}\n"))
	nb, _ := tasks.ByName("net-buffers")
	if o := partial.Options(nb).(*tasks.NetBuffersOptions); o.CoreMax != 8192 || len(o.TCPRmem) != 3 || o.TCPRmem[2] != 67108864 {
		t.Errorf("partial net-buffers: %+v", o)
	}
}

// A profile written as JSON (a generator's output, Ansible's to_json) is
// YAML too: its quoted keys name the same keys as plain ones.
func TestJSONProfile(t *testing.T) {
	t.Parallel()
	j, err := Parse("p.json", []byte(`{"version": 1, "tasks": {"swappiness": {"enabled": true, "value": 5}, "thp": {"mode": "madvise"}, 'net-buffers': {"tcp_rmem": [4096, 131072, 134217728]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	y, err := Parse("p.yaml", []byte("version: 1\ntasks:\n  swappiness: {enabled: true, value: 5}\n  thp: {mode: madvise}\n  net-buffers: {tcp_rmem: [4096, 131072, 134217728]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(j, y) {
		t.Fatalf("JSON profile %+v, YAML %+v", j, y)
	}
	// Quoting does not make a key another one (the YAML parser sees the duplicate).
	_, err = Parse("p.json", []byte(`{"version": 1, "tasks": {"swappiness": {"value": 5}, swappiness: {"value": 6}}}`))
	if err == nil || !strings.Contains(err.Error(), `"swappiness" already defined`) {
		t.Fatalf("duplicate quoted key: %v", err)
	}
}

func TestNoProfileIsDefaults(t *testing.T) {
	t.Parallel()
	r, err := None().Resolve(nil)
	sw, _ := tasks.ByName("swappiness")
	if err != nil || r.Choices.Options(sw).(*tasks.SwappinessOptions).Value != 10 || r.Data != nil || r.Origin.Kind != KindNone || len(r.Origin.Layers) != 0 || len(r.Origin.Settings) != 0 {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestBadProfiles(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"version: 2\n": "p.yaml:1: version: 2 is not supported",
		"tasks: {}\n":  "p.yaml:1: version: missing",
		"version: 1\ntasks:\n  thp: {mode: sometimes}\n":                                           `p.yaml:3: tasks.thp.mode: "sometimes" is not one of always, madvise, never`,
		"version: 1\ntasks:\n  net-buffers: {tcp_rmem: [3, 2, 1]}\n":                               "p.yaml:3: tasks.net-buffers.tcp_rmem: [3 2 1] must be three sizes",
		"version: 1\ntasks:\n  cpu-governor: {governor: \"perf ormance\"}\n":                       `p.yaml:3: tasks.cpu-governor.governor: "perf ormance" is not a governor name`,
		"version: 1\ntasks:\n  nvme-queue: {nr_requests: 1}\n":                                     "p.yaml:3: tasks.nvme-queue.nr_requests: 1 out of range 4..65536",
		"version: 1\ntasks:\n  swappiness: {enabled: maybe}\n":                                     `p.yaml:3: tasks.swappiness.enabled: "maybe" is a string, want a boolean`,
		"version: 1\ntasks:\n  swappiness: {enabled: yes}\n":                                       `p.yaml:3: tasks.swappiness.enabled: "yes" is a string, want a boolean`,
		"version: 1\ntasks:\n  nvme-queue: {nr_requests: \"1024\"}\n":                              `p.yaml:3: tasks.nvme-queue.nr_requests: "1024" is a string, want a number`,
		"version: 1\ntasks:\n  nvme-queue: {nr_requests: 0x400}\n":                                 `p.yaml:3: tasks.nvme-queue.nr_requests: 0x400: write numbers in plain decimal`,
		"version: 1\ntasks:\n  hugepages: {pages: 99999999999999999999}\n":                         `p.yaml:3: tasks.hugepages.pages: 99999999999999999999 does not fit in a number`,
		"version: 1\ntasks:\n  swappiness: {value: 4294967306}\n":                                  `p.yaml:3: tasks.swappiness.value: 4294967306 does not fit in a number`,
		"version: 1\ntasks:\n  swappiness: {value: 10}\n---\ntasks:\n  swappiness: {value: 999}\n": `p.yaml:5: (file): a second YAML document`,
		"version: 1\ntasks:\n  swappiness: &s {value: 10}\n":                                       `p.yaml:3: tasks.swappiness: YAML anchors`,
		"version: 1\ntasks:\n  swappiness: !!map {value: 10}\n":                                    `p.yaml:3: tasks.swappiness: YAML anchors`,
		"version: 1\ntasks:\n  swapiness: {value: 10}\n":                                           `p.yaml:3: tasks.swapiness: unknown task (known: swappiness, net-buffers`,
		"version: 1\ntasks:\n  swappiness: {value: 10, value: 11}\n":                               `p.yaml:3: (file): mapping key "value" already defined`,
		"version: 1\ntasks:\n  net-buffers: {tcp_rmem: [4096, \"87380\", 1]}\n":                    `p.yaml:3: tasks.net-buffers.tcp_rmem[1]: "87380" is a string, want a number`,
		"version: 1\ntasks:\n  swappiness: {value: 10}\n  swappiness: {value: 11}\n":               `p.yaml:4:`,
		"version: 1\ntasks: [swappiness]\n":                                                        "p.yaml:2:",
	}
	for src, want := range cases {
		_, err := Parse("p.yaml", []byte(src))
		if err == nil || !strings.HasPrefix(err.Error(), "profile "+want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: got %v, want one line starting %q", src, err, "profile "+want)
		}
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	os.WriteFile(big, make([]byte, 10<<20), 0o644)
	if _, err := Files(big).Resolve(openRoot(t, nil, nil)); err == nil || !strings.Contains(err.Error(), "10485760 bytes is larger than") {
		t.Errorf("10 MB profile: %v", err)
	}
}
