package resource

import "testing"

func FuzzNormalize(f *testing.F) {
	f.Add([]byte("always [madvise] never\n"))
	f.Add([]byte("4096\t131072\t6291456\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := Normalize(data)
		if Normalize([]byte(n)) != n {
			t.Fatalf("Normalize not stable: %q -> %q", data, n)
		}
	})
}
