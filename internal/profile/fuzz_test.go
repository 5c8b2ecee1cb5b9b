package profile

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/tasks"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte("version: 1\ntasks:\n  swappiness: {value: 10}\n  zswap: {enabled: true, compressor: lz4}\n"))
	f.Add([]byte("version: 1\ntasks:\n  net-buffers:\n    tcp_rmem: [1, 2, 3]\n"))
	f.Add([]byte("\x00junk"))
	// A quoted key holding a newline or an escape sequence (found by the
	// fuzzer in CI): the error must stay one line.
	f.Add([]byte("? |\n  a\n  b\n: 1\n"))
	f.Add([]byte("version: 1\ntasks:\n  \"x\\e[2Jy\": {}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse("p.yaml", data)
		if err == nil {
			return
		}
		for _, l := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(l, "profile p.yaml") {
				t.Fatalf("error line does not name the file: %q", l)
			}
		}
	})
}

// FuzzMerge: two layers, whatever they hold, merge into a profile whose
// YAML (the profile command) is itself a profile planning exactly the
// same, or fail with every error line naming one of the two files.
func FuzzMerge(f *testing.F) {
	f.Add([]byte("version: 1\ntasks:\n  swappiness: {enabled: true, value: 20}\n  net-buffers: {tcp_rmem: [4096, 87380, 33554432]}\n"),
		[]byte("version: 1\ntasks:\n  swappiness: {value: 5}\n  net-buffers: {tcp_rmem: [3, 2, 1]}\n"))
	f.Add([]byte("version: 1\ntasks:\n  container-resources: {containers: [llm=chat]}\n  cpu-governor: {governor: \"null\"}\n"),
		[]byte("version: 1\ntasks:\n  container-resources: {containers: []}\n  test-range: {low: 60}\n"))
	f.Add([]byte("version: 1\n"), []byte("version: 2\n"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		files := []Layer{{"a.yaml", FromFlag}, {"b.yaml", FromFlag}}
		r := &Resolved{Origin: Origin{Kind: KindLayers, Layers: files}, Data: [][]byte{a, b}}
		if err := r.merge(); err != nil {
			for _, l := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(l, "profile a.yaml") && !strings.HasPrefix(l, "profile b.yaml") {
					t.Fatalf("error line does not name a file: %q", l)
				}
			}
			return
		}
		y, err := r.YAML()
		if err != nil {
			t.Fatal(err)
		}
		c, err := Parse("merged.yaml", y)
		if err != nil {
			t.Fatalf("the merged YAML is not a profile: %v\n%s", err, y)
		}
		for _, tk := range tasks.All() {
			on1, set1 := c.Enabled(tk)
			on2, set2 := r.Choices.Enabled(tk)
			if on1 != on2 || set1 != set2 || !reflect.DeepEqual(c.Options(tk), r.Choices.Options(tk)) {
				t.Fatalf("%s: the YAML plans otherwise than its layers:\n%s", tk.Name(), y)
			}
		}
	})
}
