// Package crashpoint lets the crash tests kill the production binary right
// after its k-th durable step (a journal record synced, a file renamed into
// place, a kernel value written, a unit changed). Without
// EZEDGE_TEST_DIE_AT in the environment it does nothing.
package crashpoint

import (
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
)

var (
	dieAt = func() int64 {
		n, _ := strconv.ParseInt(os.Getenv("EZEDGE_TEST_DIE_AT"), 10, 64)
		return n
	}()
	steps atomic.Int64
)

// Step marks one durable step done; the k-th one dies with SIGKILL when
// EZEDGE_TEST_DIE_AT=k, the way a power cut or the OOM killer would.
func Step() {
	if dieAt > 0 && steps.Add(1) == dieAt {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
}
