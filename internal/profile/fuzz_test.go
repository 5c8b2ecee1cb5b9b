package profile

import (
	"strings"
	"testing"
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
