package cmdline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

func seeds(f *testing.F, pattern string) {
	paths, _ := filepath.Glob(filepath.Join(fixture.Testdata(), pattern))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(""))
	f.Add([]byte("root=x zswap.enabled=0 dyndbg=\"a b\"  \n\nsecond line"))
}

func FuzzEditPiFile(f *testing.F) {
	seeds(f, "*/boot/*cmdline.txt")
	seeds(f, "*/boot/firmware/cmdline.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		out, _, err := EditPiFile(data, zswap)
		if err != nil {
			return
		}
		_, r0 := FirstLine(data)
		l1, r1 := FirstLine(out)
		if r0 != r1 {
			t.Fatalf("bytes after the first line changed: %q -> %q", data, out)
		}
		for _, a := range zswap {
			if !Holds(l1, a) {
				t.Fatalf("%s does not hold in %q", a, l1)
			}
		}
		if again, _, err := EditPiFile(out, zswap); err != nil || string(again) != string(out) {
			t.Fatalf("second edit: %v %q -> %q", err, out, again)
		}
	})
}

func FuzzEditGrubDefault(f *testing.F) {
	seeds(f, "*/etc/default/grub")
	f.Add([]byte("GRUB_CMDLINE_LINUX=\"a \\\"b c\\\" d\"\nGRUB_CMDLINE_LINUX_DEFAULT='zswap.enabled=0'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := EditGrubDefault(data, zswap)
		if err != nil {
			return
		}
		again, err := EditGrubDefault(out, zswap)
		if err != nil || string(again) != string(out) {
			t.Fatalf("second edit: %v\n%q\n%q", err, out, again)
		}
		// Only GRUB_CMDLINE lines change; others stay, in order.
		keep := func(b []byte) []string {
			var o []string
			for _, l := range strings.Split(string(b), "\n") {
				if !strings.Contains(l, "GRUB_CMDLINE_LINUX") {
					o = append(o, l)
				}
			}
			return o
		}
		a, b := keep(data), keep(out)
		if len(b) > len(a)+1 || strings.Join(a, "\n") != strings.Join(b[:len(a)], "\n") && strings.Join(a, "\n") != strings.Join(b, "\n") {
			t.Fatalf("other lines changed:\n%q\n%q", data, out)
		}
	})
}

func FuzzEvalGrub(f *testing.F) {
	seeds(f, "*/etc/default/grub")
	f.Add([]byte("A=\"${B} $C\"'d'e\\ f\nGRUB_CMDLINE_LINUX=\"$A\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		vars, err := EvalGrub([]string{"f"}, [][]byte{data})
		if err == nil {
			_ = Kernel(vars)
		}
	})
}
