package crashpoint

import (
	"errors"
	"slices"
	"testing"
)

type closer struct{ closed bool }

func (c *closer) Close() error { c.closed = true; return nil }

// TestCut: the cut operation runs or not (When), returns ErrCut, and no
// operation after it runs; the watcher sees every operation but the cut
// one, before and after; Kill closes what was opened.
func TestCut(t *testing.T) {
	t.Parallel()
	for _, when := range []When{Before, After} {
		var ran, watched []string
		c := New(2, when).Record().Watch(func(op Op, w When) { watched = append(watched, w.String()+" "+op.Path) })
		f := &closer{}
		c.Opened(f)
		var errs []error
		for _, p := range []string{"/a", "/b", "/c"} {
			errs = append(errs, c.Do(Op{Write, p}, func() error { ran = append(ran, p); return nil }))
		}
		want := []string{"/a"}
		if when == After {
			want = append(want, "/b")
		}
		if !slices.Equal(ran, want) {
			t.Errorf("%s: ran %v, want %v", when, ran, want)
		}
		if errs[0] != nil || !errors.Is(errs[1], ErrCut) || !errors.Is(errs[2], ErrCut) {
			t.Errorf("%s: errors %v", when, errs)
		}
		if op, ok := c.Cut(); !ok || op.Path != "/b" {
			t.Errorf("%s: cut %v %v", when, op, ok)
		}
		if !slices.Equal(watched, []string{"before /a", "after /a"}) {
			t.Errorf("%s: watched %v", when, watched)
		}
		if c.Count() != 2 || len(c.Ops()) != 2 {
			t.Errorf("%s: counted %d, recorded %v", when, c.Count(), c.Ops())
		}
		c.Kill()
		if !f.closed {
			t.Errorf("%s: Kill left a file open", when)
		}
	}
}

// TestNeverCuts: at 0 every operation runs and is counted.
func TestNeverCuts(t *testing.T) {
	t.Parallel()
	c := New(0, Before)
	n := 0
	for range 5 {
		if err := c.Do(Op{Mkdir, "/d"}, func() error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if _, cut := c.Cut(); n != 5 || c.Count() != 5 || cut {
		t.Errorf("ran %d, counted %d, cut %v", n, c.Count(), cut)
	}
}
