package main

import (
	"errors"
	"os/exec"
	"syscall"
	"testing"
)

// runBin runs the production binary with args and reports how it ended:
// killed by SIGKILL, or its exit code, and what it printed.
func runBin(t *testing.T, args ...string) (killed bool, code int, out string) {
	t.Helper()
	b, err := exec.Command(bin, args...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true, -1, string(b)
		}
		return false, ee.ExitCode(), string(b)
	}
	if err != nil {
		t.Fatal(err)
	}
	return false, 0, string(b)
}

func execBin(args ...string) *exec.Cmd { return exec.Command(bin, args...) }
