package storageconf

import (
	"bytes"
	"os"
	"testing"
)

// FuzzSet: whatever Set accepts, it edits to a file that holds what was
// asked and every key containers/storage needs, a second edit changes nothing, and every line it did not mean to
// touch is still there in order (Set's own check compares the values).
func FuzzSet(f *testing.F) {
	if b, err := os.ReadFile("testdata/upstream.conf"); err == nil {
		f.Add(b, true)
		f.Add(bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")), false)
	}
	f.Add([]byte(""), true)
	f.Add([]byte("[storage]\ndriver = 'vfs'\n[storage.options.overlay]\nmount_program = \"/x\" # y"), false)
	f.Add([]byte("a = [\n\"]\", { b = '}' }, # ]\n]\n[storage]\nx = \"\"\"\n[storage]\"\"\"\n"), true)
	// Keys in another letter case, which Podman's decoder reads as the
	// managed ones (found by this fuzzer in CI).
	f.Add([]byte("[storage]\ndriver = \"overlay\"\nDRIVER = '12'\n"), false)
	f.Add([]byte("[storage.options.overlAy]\nmount_program = \"8A\" #98\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, withFuse bool) {
		w := native
		if withFuse {
			w = fuse
		}
		out, err := Set(data, w)
		if err != nil {
			return
		}
		v, err := Parse(out)
		if err != nil || v != Values(w) {
			t.Fatalf("edit holds %+v %v", v, err)
		}
		if l, err := Lacks(out); err != nil || len(l) > 0 {
			t.Fatalf("edit lacks %v (%v): containers/storage would refuse it:\n%q", l, err, out)
		}
		again, err := Set(out, w)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("second edit: %v\n%q\n%q", err, out, again)
		}
		// The input's lines appear in the output in order (an edited line
		// may differ, so count how many survive whole: all but at most
		// four, one per key, runroot included).
		in := bytes.SplitAfter(data, []byte("\n"))
		rest := out
		missing := 0
		for _, l := range in {
			if i := bytes.Index(rest, bytes.TrimRight(l, "\n")); i >= 0 {
				rest = rest[i+len(bytes.TrimRight(l, "\n")):]
			} else {
				missing++
			}
		}
		if missing > 4 {
			t.Fatalf("%d lines of the input changed:\n%q\n%q", missing, data, out)
		}
	})
}
