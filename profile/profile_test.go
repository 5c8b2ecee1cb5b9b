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
	o, err := Parse("full.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := tasks.DefaultOptions()
	want.Enabled = map[string]bool{"swappiness": true, "net-buffers": false, "hugepages": true, "cpu-governor": true}
	want.Swappiness, want.NetCoreMax, want.HugePages = 5, 268435456, 512
	want.TCPRmem, want.TCPWmem = [3]int64{4096, 131072, 134217728}, [3]int64{4096, 65536, 134217728}
	want.THP, want.Governor, want.NVMeNrRequests = "madvise", "schedutil", 2048
	if len(o.Enabled) != len(want.Enabled) {
		t.Errorf("enabled %v, want %v", o.Enabled, want.Enabled)
	}
	for k, v := range want.Enabled {
		if o.Enabled[k] != v {
			t.Errorf("enabled[%s] = %v", k, o.Enabled[k])
		}
	}
	o.Enabled, want.Enabled = nil, nil
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got %+v\nwant %+v", o, want)
	}
}

func TestNoProfileIsDefaults(t *testing.T) {
	o, err := Load("")
	if err != nil || o.Swappiness != 10 || len(o.Enabled) != 0 {
		t.Fatalf("%+v %v", o, err)
	}
}

func TestBadProfiles(t *testing.T) {
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
		"version: 1\ntasks:\n  swapiness: {value: 10}\n":                                           `p.yaml:3: tasks.swapiness: unknown key`,
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
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "10485760 bytes is larger than") {
		t.Errorf("10 MB profile: %v", err)
	}
}
