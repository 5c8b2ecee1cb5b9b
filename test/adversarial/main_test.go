//go:build linux

package adversarial

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// bin is the production binary, built once by TestMain.
var bin string

// buildDir holds the builds.
var buildDir string

func TestMain(m *testing.M) {
	if os.Getenv(tracerEnv) != "" {
		os.Exit(tracerMain(os.Args[1:]))
	}
	if os.Getenv(seccompEnv) != "" {
		os.Exit(seccompExec(os.Args[1:]))
	}
	flag.Parse()
	tmpfsDone := fixture.OnTmpfs()
	defer tmpfsDone()
	dir, err := os.MkdirTemp("", "ezedge-adversarial")
	if err != nil {
		panic(err)
	}
	// Readable by all: a test may run it as another user.
	os.Chmod(dir, 0o755)
	buildDir = dir
	bin = filepath.Join(dir, "ezedge-host")
	build := exec.Command("go", "build", "-o", bin, "github.com/ezansiedgeai/ezedge-host/cmd/ezedge-host")
	if out, err := build.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic(string(out))
	}
	if err := setupHostile(dir, bin); err != nil {
		os.RemoveAll(dir)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	tmpfsDone()
	os.Exit(code)
}

// binArm64 is the same build for arm64: the binary firstboot install
// copies into an arm64 image (it refuses one of another architecture).
// Only the hostile first-boot test needs it: it is built on first use.
func binArm64(t testing.TB) string {
	t.Helper()
	p, err := arm64Build()
	if err != nil {
		t.Fatalf("building for arm64: %v", err)
	}
	return p
}

var arm64Build = sync.OnceValues(func() (string, error) {
	p := filepath.Join(buildDir, "ezedge-host-arm64")
	cross := exec.Command("go", "build", "-o", p, "github.com/ezansiedgeai/ezedge-host/cmd/ezedge-host")
	cross.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if out, err := cross.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return p, nil
})

// result is one run of a command.
type result struct {
	args           []string
	code           int  // exit code; -1 when killed by a signal
	killed         bool // died of SIGKILL
	stdout, stderr string
}

// String shows the command and everything it printed, for failure
// messages (long output is cut).
func (r result) String() string {
	return fmt.Sprintf("`ezedge-host %s` exit %d\n  stdout: %s\n  stderr: %s", strings.Join(r.args, " "), r.code, cut(r.stdout), cut(r.stderr))
}

func (r result) out() string { return r.stdout + r.stderr }

func cut(s string) string {
	s = strings.TrimRight(s, "\n")
	if len(s) > 1500 {
		s = s[:1500] + " …"
	}
	return strings.ReplaceAll(s, "\n", "\n          ")
}

// cmdTimeout bounds every run: a command that waits for a prompt or a lock
// is a failure, not a hang.
const cmdTimeout = 2 * time.Minute

// ezedge runs the binary with args.
func ezedge(t testing.TB, args ...string) result {
	t.Helper()
	return runCmd(t, args, exec.Command(bin, args...))
}

// runCmd runs cmd, bounded by cmdTimeout. It never stops the test (it may
// run on another goroutine): a failure to start is exit -2, a timeout a
// kill, each said in stderr.
func runCmd(t testing.TB, args []string, cmd *exec.Cmd) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	c.Env = cmd.Env
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	r := result{args: args, stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			r.killed = true
		}
		if ctx.Err() != nil {
			r.stderr += fmt.Sprintf("\n(killed by the test: no answer within %s)", cmdTimeout)
		}
	default:
		r.code = -2
		r.stderr += fmt.Sprintf("\n(could not run: %v)", err)
	}
	return r
}

// kill says where a traced run is cut: the N-th call of Syscall ("*": of
// any write-type syscall); zero: not at all.
type kill struct {
	Syscall string
	N       int
}

func (k kill) String() string {
	if k.Syscall == "*" {
		return fmt.Sprintf("write-type call #%d", k.N)
	}
	return fmt.Sprintf("%s #%d", k.Syscall, k.N)
}

// traced runs the binary under the tracer (see tracer_test.go), killing it
// with SIGKILL on entering the call k names; a run not to be killed lists
// every write-type call it made.
func traced(t testing.TB, k kill, args ...string) (result, traceReport) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(t.TempDir(), "trace.json")
	targs := []string{"-report", report}
	if k.N > 0 {
		targs = append(targs, "-kill", fmt.Sprintf("%s:%d", k.Syscall, k.N))
	} else {
		targs = append(targs, "-calls")
	}
	cmd := exec.Command(self, append(append(targs, "--", bin), args...)...)
	cmd.Env = append(os.Environ(), tracerEnv+"=1")
	r := runCmd(t, args, cmd)
	var rep traceReport
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("tracer wrote no report: %v\n%s", err, r)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("tracer report: %v", err)
	}
	if r.code == 2 && strings.Contains(r.stderr, "tracer:") {
		t.Fatalf("tracer failed: %s", r)
	}
	if r.killed && rep.Killed == nil {
		t.Fatalf("killed, but not by the tracer at %s: %s", k, r)
	}
	return r, rep
}

// requirePtrace skips the test (fails it under CI) when this machine cannot
// trace a process: no table of syscall numbers for this architecture, or
// ptrace refused (a container without CAP_SYS_PTRACE, a seccomp filter).
func requirePtrace(t *testing.T) {
	t.Helper()
	ptraceOnce.Do(func() {
		if len(sysnums) == 0 {
			ptraceErr = errors.New("no write-type syscall table for this architecture")
			return
		}
		self, err := os.Executable()
		if err != nil {
			ptraceErr = err
			return
		}
		report := filepath.Join(os.TempDir(), fmt.Sprintf("ezedge-ptrace-check-%d.json", os.Getpid()))
		defer os.Remove(report)
		// The binary under test is there for sure (true may not be on PATH).
		cmd := exec.Command(self, "-report", report, "--", bin, "--help")
		cmd.Env = append(os.Environ(), tracerEnv+"=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			ptraceErr = fmt.Errorf("ptrace does not work here: tracing `ezedge-host --help`: %v: %.300s", err, out)
		}
	})
	unavailable(t, ptraceErr)
}

// requireStrace does the same for strace, which the concurrency test uses
// to slow the apply down and TestTracerCountsLikeStrace to check the
// tracer: `make test-deps` installs it.
func requireStrace(t *testing.T) {
	t.Helper()
	straceOnce.Do(func() {
		if _, err := exec.LookPath("strace"); err != nil {
			straceErr = errors.New("strace is not installed (make test-deps installs it)")
			return
		}
		if out, err := exec.Command("strace", "-f", "-qq", "-o", "/dev/null", "true").CombinedOutput(); err != nil {
			straceErr = fmt.Errorf("strace cannot trace `true` (ptrace refused?): %v: %s", err, out)
		}
	})
	unavailable(t, straceErr)
}

var (
	ptraceOnce, straceOnce sync.Once
	ptraceErr, straceErr   error
)

// unavailable fails under CI, where the project's own files must have set
// the machine up, and skips elsewhere, saying why.
func unavailable(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set and %v", err)
	}
	t.Skipf("skipped: %v", err)
}
