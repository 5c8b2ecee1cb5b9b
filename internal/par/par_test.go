package par

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
)

// TestDo: every index is called exactly once, small and large; the error
// returned is the lowest index's, whichever worker met it first.
func TestDo(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, minPerWorker - 1, minPerWorker * 4, 1000} {
		calls := make([]atomic.Int32, n)
		if err := Do(n, func(i int) error { calls[i].Add(1); return nil }); err != nil {
			t.Fatal(err)
		}
		for i := range calls {
			if c := calls[i].Load(); c != 1 {
				t.Errorf("n=%d: index %d called %d times", n, i, c)
			}
		}
		if n < 10 {
			continue
		}
		err := Do(n, func(i int) error {
			if i%7 == 3 {
				return fmt.Errorf("at %d", i)
			}
			return nil
		})
		if err == nil || err.Error() != "at 3" {
			t.Errorf("n=%d: error %v, want the lowest index's (at 3)", n, err)
		}
	}
	if err := Do(5, func(i int) error { return errors.New("x") }); err == nil {
		t.Error("sequential error lost")
	}
}
