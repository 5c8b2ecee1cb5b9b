package resource

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"always [madvise] never\n":                     "madvise",
		"[always] madvise never\n":                     "always",
		"always defer defer+madvise [madvise] never\n": "madvise",
		"4096\t131072\t6291456\n":                      "4096 131072 6291456",
		"10\n":                                         "10",
		"10":                                           "10",
		"Raspberry Pi 5\x00":                           "Raspberry Pi 5",
	}
	for in, want := range cases {
		if got := Normalize([]byte(in)); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCorpusTHP reads every real THP attribute as the kernel prints it.
func TestCorpusTHP(t *testing.T) {
	t.Parallel()
	for _, p := range fixture.CorpusFiles(t, "devicetree") {
		base := filepath.Base(p)
		if !strings.HasPrefix(base, "thp-") {
			continue
		}
		b, _ := os.ReadFile(p)
		got := Normalize(b)
		want := strings.TrimSuffix(base[strings.LastIndex(base, "-")+1:], ".txt")
		if got != want {
			t.Errorf("%s: %q, want %q", base, got, want)
		}
	}
}
