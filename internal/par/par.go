// Package par runs independent reads side by side. On a large host a plan
// is hundreds of small reads of /proc and /sys, each a few system calls;
// two cores make them nearly twice as fast.
package par

import (
	"runtime"
	"sync"
)

// minPerWorker keeps small hosts sequential: below it, starting goroutines
// costs more than it saves.
const minPerWorker = 32

// Do calls f(i) for i in [0, n), spread over the available CPUs, and
// returns the error of the lowest i that failed.
func Do(n int, f func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n/minPerWorker)
	if workers <= 1 {
		for i := range n {
			if err := f(i); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				errs[i] = f(i)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
