//go:build linux

package adversarial

// The kill sweeps need "kill the process at the N-th write(2) it makes",
// counted over the whole process. strace's fault injection
// (-e inject=write:signal=KILL:when=N) counts per syscall *and per tracee*,
// that is per thread, and a Go program moves its goroutines between threads
// at will: on the Pi 5 fixture the apply's writes are spread over three
// threads, so a strace sweep of write stops at N=10 while the apply makes
// 15 or more, skipping the writes of the NetworkManager state, sysctl.d and
// tmpfiles.d files and the journal's commit. This tracer counts over every
// thread of the process, so N = 1, 2, … reaches every call exactly once.
//
// It is the test binary itself, re-executed with tracerEnv set (TestMain
// hands over to tracerMain), so it owns the tracee as its only child: it
// must wait for any thread of it (wait4(-1)), which inside the test process
// would reap the other tests' children too. Like strace it mirrors the
// tracee's end: it exits with its code, or dies of the same signal.

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/ezansiedgeai/ezedge-host/internal/crashpoint"
	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"

	"golang.org/x/sys/unix"
)

// tracerEnv, when set, makes the test binary act as the tracer.
const tracerEnv = "EZEDGE_ADVERSARIAL_TRACER"

// writeSyscalls are the write-type system calls a kill sweep cuts at: every
// call that changes a file system's state or makes it durable. fchmodat2 is
// where Go 1.26's os.Root.Chmod goes (strace 6.1 shows it as
// syscall_0x1c4).
var writeSyscalls = []string{"write", "pwrite64", "writev", "rename", "renameat", "renameat2", "mkdir", "mkdirat",
	"symlink", "symlinkat", "unlink", "unlinkat", "rmdir", "fsync", "fdatasync", "ftruncate",
	"fchmod", "fchmodat", "fchmodat2", "fchown", "fchownat", "linkat"}

// traceReport is what the tracer writes to its -report file.
type traceReport struct {
	// Counts is how many times each write-type syscall was entered, over
	// all threads, up to the kill if there was one.
	Counts map[string]int `json:"counts"`
	// Total is the sum of Counts.
	Total int `json:"total"`
	// Killed describes the call the process was killed on, before it ran.
	Killed *killedAt `json:"killed,omitempty"`
	// Calls describes every write-type call in order (with -calls).
	Calls []string `json:"calls,omitempty"`
}

type killedAt struct {
	Syscall string `json:"syscall"`
	N       int    `json:"n"`     // its number among calls of this syscall
	Total   int    `json:"total"` // its number among all write-type calls
	What    string `json:"what"`  // the call with its file names, for messages
}

// tracerMain runs the command after "--" under ptrace: -report FILE,
// -kill SYSCALL:N (the N-th call of SYSCALL, or of any write-type syscall
// with "*"), -calls (list every write-type call in the report).
//
// The tracee stops only at the write-type calls: it starts as this binary
// again (seccompExec), which installs a seccomp filter that hands just
// those calls to the tracer, and then execs the command. Stopping at every
// system call (PTRACE_SYSCALL, as strace does without --seccomp-bpf) made
// each traced apply ten times slower.
func tracerMain(args []string) int {
	fs := flag.NewFlagSet("tracer", flag.ContinueOnError)
	report := fs.String("report", "", "write the report (JSON) to `FILE`")
	kill := fs.String("kill", "", "SIGKILL the tracee on entering the N-th call: `SYSCALL:N` (* for any write-type call)")
	calls := fs.Bool("calls", false, "describe every write-type call in the report")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	killName, killN := "", 0
	if *kill != "" {
		if _, err := fmt.Sscanf(strings.Replace(*kill, ":", " ", 1), "%s %d", &killName, &killN); err != nil || killN < 1 {
			fmt.Fprintf(os.Stderr, "tracer: bad -kill %q\n", *kill)
			return 2
		}
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "tracer: no command")
		return 2
	}
	names := map[uint64]string{}
	for _, n := range writeSyscalls {
		if nr, ok := sysnums[n]; ok {
			names[nr] = n
		}
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "tracer: %v\n", err)
		return 2
	}
	// ptrace requests must come from the thread that started the tracee:
	// init locked this goroutine to it.
	cmd := exec.Command(self, fs.Args()...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(withoutEnv(os.Environ(), tracerEnv), seccompEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "tracer: %v\n", err)
		return 2
	}
	pid := cmd.Process.Pid
	var ws unix.WaitStatus
	// The tracee stops with SIGTRAP once it has exec'd this binary.
	if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil || !ws.Stopped() {
		fmt.Fprintf(os.Stderr, "tracer: tracee did not stop after exec: %v %v\n", err, ws)
		return 2
	}
	if err := unix.PtraceSetOptions(pid, unix.PTRACE_O_TRACESECCOMP|unix.PTRACE_O_TRACEEXEC|unix.PTRACE_O_TRACECLONE|unix.PTRACE_O_EXITKILL); err != nil {
		fmt.Fprintf(os.Stderr, "tracer: ptrace options: %v\n", err)
		unix.Kill(pid, unix.SIGKILL)
		return 2
	}
	rep := traceReport{Counts: map[string]int{}}
	seen := map[int]bool{pid: true}
	// Calls count from the exec of the command on, not while this binary
	// sets the filter up.
	armed, killed := false, false
	unix.PtraceCont(pid, 0)
	var final unix.WaitStatus
	for {
		tid, err := unix.Wait4(-1, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil { // ECHILD: every thread is gone
			break
		}
		if ws.Exited() || ws.Signaled() {
			if tid == pid {
				final = ws
			}
			continue
		}
		if !ws.Stopped() {
			continue
		}
		sig := ws.StopSignal()
		deliver := 0
		switch {
		case !seen[tid]:
			// A new thread starts with a SIGSTOP of ptrace's own.
			seen[tid] = true
			if sig != unix.SIGSTOP {
				deliver = int(sig)
			}
		case sig == unix.SIGTRAP && ws.TrapCause() == unix.PTRACE_EVENT_EXEC:
			armed = true
		case sig == unix.SIGTRAP && ws.TrapCause() == unix.PTRACE_EVENT_SECCOMP:
			_, nr, sargs, err := syscallInfo(tid)
			if err != nil {
				fmt.Fprintf(os.Stderr, "tracer: %v\n", err)
				unix.Kill(pid, unix.SIGKILL)
				killed = true
				continue
			}
			name, ok := names[nr]
			if !ok || !armed || killed {
				break
			}
			rep.Counts[name]++
			rep.Total++
			if *calls {
				rep.Calls = append(rep.Calls, describe(tid, name, sargs))
			}
			if (killName == name && rep.Counts[name] == killN) || (killName == "*" && rep.Total == killN) {
				rep.Killed = &killedAt{Syscall: name, N: rep.Counts[name], Total: rep.Total, What: describe(tid, name, sargs)}
				// The thread stays stopped before the call runs: SIGKILL
				// ends the process there, as strace's signal=KILL does.
				unix.Kill(pid, unix.SIGKILL)
				killed = true
				continue
			}
		case sig == unix.SIGTRAP && ws.TrapCause() > 0:
			// PTRACE_EVENT_CLONE: the new thread is traced already.
		default:
			deliver = int(sig) // a signal for the tracee (Go's SIGURG)
		}
		if killed {
			continue
		}
		unix.PtraceCont(tid, deliver)
	}
	if *report != "" {
		b, _ := json.Marshal(rep)
		if err := os.WriteFile(*report, b, 0o600); err != nil {
			fmt.Fprintf(os.Stderr, "tracer: %v\n", err)
			return 2
		}
	}
	if final.Signaled() {
		// Die the way the tracee died, so the caller sees it.
		s := syscall.Signal(final.Signal())
		signal.Reset(s)
		syscall.Kill(os.Getpid(), s)
		select {}
	}
	return final.ExitStatus()
}

// seccompEnv, when set, makes the test binary install the seccomp filter
// and exec the command (the tracee's first step).
const seccompEnv = "EZEDGE_ADVERSARIAL_SECCOMP_EXEC"

// seccompExec installs a filter that stops the process at every
// write-type call for its tracer (SECCOMP_RET_TRACE) and lets every other
// call through, then execs args; the filter is inherited by the command
// and all its threads.
func seccompExec(args []string) int {
	var prog []unix.SockFilter
	prog = append(prog, unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}) // seccomp_data.nr
	var nrs []uint32
	for _, n := range writeSyscalls {
		if nr, ok := sysnums[n]; ok {
			nrs = append(nrs, uint32(nr))
		}
	}
	for i, nr := range nrs {
		// On a match jump to the last instruction (trace).
		prog = append(prog, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: nr, Jt: uint8(len(nrs) - i)})
	}
	prog = append(prog,
		unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
		unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_TRACE})
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "tracer: no_new_privs: %v\n", err)
		return 2
	}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "tracer: seccomp: %v\n", err)
		return 2
	}
	path, err := exec.LookPath(args[0])
	if err == nil {
		err = syscall.Exec(path, args, withoutEnv(os.Environ(), seccompEnv))
	}
	fmt.Fprintf(os.Stderr, "tracer: exec %s: %v\n", args[0], err)
	return 2
}

func init() {
	// The tracer's ptrace requests, and the filter set before exec, must
	// come from one thread: keep main (TestMain) on the startup thread.
	if os.Getenv(tracerEnv) != "" || os.Getenv(seccompEnv) != "" {
		runtime.LockOSThread()
	}
}

// syscallInfo reads PTRACE_GET_SYSCALL_INFO (Linux 5.3): whether the stop
// is a syscall's entry (op 1) and its number and arguments, the same on
// every architecture.
func syscallInfo(tid int) (op uint8, nr uint64, args [6]uint64, err error) {
	var buf struct {
		Op    uint8
		_     [3]uint8
		Arch  uint32
		IP    uint64
		SP    uint64
		Nr    uint64
		Args  [6]uint64
		Extra uint64
	}
	const ptraceGetSyscallInfo = 0x420e
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, ptraceGetSyscallInfo, uintptr(tid), unsafe.Sizeof(buf), uintptr(unsafe.Pointer(&buf)), 0, 0)
	if e != 0 {
		return 0, 0, args, fmt.Errorf("PTRACE_GET_SYSCALL_INFO: %v", e)
	}
	return buf.Op, buf.Nr, buf.Args, nil
}

// describe names the call's files, so that a failure message says where
// the process was cut: "renameat <root>/etc/.x.ezedge-tmp-1 -> <root>/etc/x".
func describe(tid int, name string, a [6]uint64) string {
	fd := func(i int) string {
		if int32(a[i]) == unix.AT_FDCWD {
			p, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", tid))
			return p
		}
		p, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", tid, int32(a[i])))
		if err != nil {
			return fmt.Sprintf("fd %d", int32(a[i]))
		}
		return p
	}
	str := func(i int) string {
		f, err := os.Open(fmt.Sprintf("/proc/%d/mem", tid))
		if err != nil {
			return "?"
		}
		defer f.Close()
		b := make([]byte, 4096)
		n, _ := f.ReadAt(b, int64(a[i]))
		s, _, _ := strings.Cut(string(b[:n]), "\x00")
		return s
	}
	at := func(d, p int) string {
		s := str(p)
		if strings.HasPrefix(s, "/") {
			return s
		}
		return fd(d) + "/" + s
	}
	switch name {
	case "rename":
		return fmt.Sprintf("%s %s -> %s", name, str(0), str(1))
	case "mkdir", "unlink", "rmdir":
		return fmt.Sprintf("%s %s", name, str(0))
	case "symlink":
		return fmt.Sprintf("%s %s -> %s", name, str(1), str(0))
	case "renameat", "renameat2", "linkat":
		return fmt.Sprintf("%s %s -> %s", name, at(0, 1), at(2, 3))
	case "mkdirat", "unlinkat", "fchmodat", "fchmodat2", "fchownat":
		return fmt.Sprintf("%s %s", name, at(0, 1))
	case "symlinkat":
		return fmt.Sprintf("%s %s -> %s", name, at(1, 2), str(0))
	case "write", "pwrite64":
		return fmt.Sprintf("%s %s (%d bytes)", name, fd(0), a[2])
	}
	return fmt.Sprintf("%s %s", name, fd(0))
}

func withoutEnv(env []string, key string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, key+"=") {
			out = append(out, e)
		}
	}
	return out
}

// TestTracerCountsLikeStrace checks the tracer against strace: on a full
// apply both see the same write-type calls (strace -f -c counts over all
// threads too), give or take the few writes the Go runtime makes on its
// own; and a kill at write #1 stops the apply before its journal has a
// byte, as strace's kill does.
func TestTracerCountsLikeStrace(t *testing.T) {
	requirePtrace(t)
	requireStrace(t)
	name := "pi5-16gb-nvme-bookworm"
	r1 := fixture.Copy(t, name)
	res, rep := traced(t, kill{}, "apply", "--root", r1, "--yes")
	if res.code != 0 || res.killed {
		t.Fatalf("traced apply: %s", res)
	}
	// The tracer must not change what the apply does.
	if p := ezedge(t, "plan", "--root", r1, "--detailed-exitcode"); p.code != 0 {
		t.Errorf("the traced apply left changes pending:\n%s", p.out())
	}
	r2 := fixture.Copy(t, name)
	summary := filepath.Join(t.TempDir(), "strace.txt")
	var present []string
	for _, s := range writeSyscalls {
		if _, ok := sysnums[s]; ok && s != "fchmodat2" { // strace 6.1 does not know fchmodat2
			present = append(present, s)
		}
	}
	set := strings.Join(present, ",")
	cmd := exec.Command("strace", "-f", "-qq", "-c", "-o", summary, "-e", "trace="+set, bin, "apply", "--root", r2, "--yes")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("strace apply: %v\n%s", err, out)
	}
	b, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	straceCounts := map[string]int{}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		// % time, seconds, usecs/call, calls, [errors,] syscall
		if len(f) >= 5 && sysnums[f[len(f)-1]] != 0 {
			var n int
			fmt.Sscan(f[3], &n)
			straceCounts[f[len(f)-1]] = n
		}
	}
	for _, s := range present {
		got, want := rep.Counts[s], straceCounts[s]
		slack := 0
		if s == "write" {
			slack = 3 // the runtime's own wake-up writes
		}
		if got < want-slack || got > want+slack {
			t.Errorf("%s: tracer counted %d calls, strace -f -c %d", s, got, want)
		}
	}
	t.Logf("tracer %v; strace %v", rep.Counts, straceCounts)

	// With --output json apply writes nothing to standard output before
	// its journal (as text, it streams the plan first).
	r3 := fixture.Copy(t, name)
	res, rep = traced(t, kill{"write", 1}, "apply", "--root", r3, "--yes", "--output", "json")
	if !res.killed || rep.Killed == nil || !strings.Contains(rep.Killed.What, ".jsonl") {
		t.Fatalf("kill at write #1: killed %v at %+v\n%s", res.killed, rep.Killed, res)
	}
	t.Logf("killed at %s", rep.Killed.What)
}

// TestChangesCountedLikeTraced holds what hostroot counts (the changes the
// crash matrix cuts at) against what the kernel sees: on every fixture, an
// apply and a rollback run by the library in this process with a cutter
// that records each change, and the same run by the binary under the
// tracer, which lists every write-type system call. Mapped to one name per
// kind (fchmodat2 and fchmod are both chmod) and to paths inside the root,
// the two sequences must be the same, call for call: a change made by a
// path that does not go through hostroot's count, in the binary or in the
// library's flow, shows up here. (hostroot's own test reads its source for
// the same; this sees what runs.)
func TestChangesCountedLikeTraced(t *testing.T) {
	requirePtrace(t)
	t.Parallel()
	for _, name := range sweepFixtures() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, c := range []struct {
				cmd   string
				op    operation
				start func(t *testing.T) string
			}{
				{"apply", opApply, func(t *testing.T) string { return fixture.Copy(t, name) }},
				{"rollback", opRollback, func(t *testing.T) string {
					root := fixture.Copy(t, name)
					must(t, ezedge(t, "apply", "--root", root, "--yes"), 0)
					return root
				}},
			} {
				start := c.start(t)
				traced1 := copyRoot(t, start)
				res, rep := traced(t, kill{}, c.cmd, "--root", traced1, "--yes")
				if res.code != 0 || res.killed {
					t.Fatalf("%s under the tracer: %s", c.cmd, res)
				}
				var want []string
				for _, call := range rep.Calls {
					if s, ok := tracedChange(traced1, call); ok {
						want = append(want, s)
					}
				}
				inproc := copyRoot(t, start)
				h, err := hostroot.Open(inproc)
				if err != nil {
					t.Fatal(err)
				}
				rec := crashpoint.New(0, crashpoint.Before).Record()
				h.SetCutter(rec)
				err = c.op(h)
				h.Close()
				if err != nil {
					t.Fatalf("%s in this process: %v", c.cmd, err)
				}
				var got []string
				for _, op := range rec.Ops() {
					if s, ok := countedChange(t, inproc, op); ok {
						got = append(got, s)
					}
				}
				want, got = collapse(want), collapse(got)
				if !slices.Equal(got, want) {
					t.Errorf("%s: hostroot counted %d changes, the tracer saw %d:\n%s", c.cmd, len(got), len(want), sideBySide(got, want))
				} else {
					t.Logf("%s: %d changes, the same as the tracer saw", c.cmd, len(got))
				}
			}
		})
	}
}

// journalID is an apply id in a path (the binary's is the time it ran).
var journalID = regexp.MustCompile(`[0-9]{8}T[0-9]{6}Z(-[0-9]+)?`)

// syscallKinds maps a write-type system call to the kind of change it is.
var syscallKinds = map[string]crashpoint.Kind{
	"write": crashpoint.Write, "pwrite64": crashpoint.Write, "writev": crashpoint.Write,
	"rename": crashpoint.Rename, "renameat": crashpoint.Rename, "renameat2": crashpoint.Rename,
	"mkdir": crashpoint.Mkdir, "mkdirat": crashpoint.Mkdir, "symlink": crashpoint.Symlink, "symlinkat": crashpoint.Symlink,
	"unlink": crashpoint.Remove, "unlinkat": crashpoint.Remove, "rmdir": crashpoint.Remove,
	"fsync": crashpoint.Sync, "fdatasync": crashpoint.Sync, "ftruncate": crashpoint.Truncate,
	"fchmod": crashpoint.Chmod, "fchmodat": crashpoint.Chmod, "fchmodat2": crashpoint.Chmod,
	"fchown": crashpoint.Chown, "fchownat": crashpoint.Chown,
}

// tracedChange is a traced call as "kind path" (path relative to root), or
// false for a call outside the root (the binary's output, the Go runtime's
// own writes).
func tracedChange(root, call string) (string, bool) {
	name, rest, _ := strings.Cut(call, " ")
	if _, after, ok := strings.Cut(rest, " -> "); ok && strings.HasPrefix(name, "rename") {
		rest = after // the name put in place
	} else if before, _, ok := strings.Cut(rest, " -> "); ok {
		rest = before // a link, not its target
	}
	rest, _, _ = strings.Cut(rest, " (")
	rel, err := filepath.Rel(root, rest)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", false
	}
	k, ok := syscallKinds[name]
	if !ok {
		return name + " " + rel, true // a call hostroot never makes
	}
	return k.String() + " " + journalID.ReplaceAllString(rel, "<id>"), true
}

// countedChange is a counted change as "kind path", its directory resolved
// in the root as the kernel resolved it; false for the changes the tracer
// does not stop at (an open that creates or truncates).
func countedChange(t *testing.T, root string, op crashpoint.Op) (string, bool) {
	kind := op.Kind
	switch kind {
	case crashpoint.Create, crashpoint.OpenTrunc:
		return "", false
	case crashpoint.SyncDir:
		kind = crashpoint.Sync
	}
	h, err := hostroot.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	dir, base := path.Split(op.Path)
	rel, err := h.Resolve(dir)
	if err != nil {
		t.Fatal(err)
	}
	if op.Kind == crashpoint.SyncDir {
		if rel, err = h.Resolve(op.Path); err != nil {
			t.Fatal(err)
		}
	} else {
		rel = path.Join(rel, base)
	}
	return kind.String() + " " + journalID.ReplaceAllString(rel, "<id>"), true
}

// collapse merges a call repeated on the same path: os.Root's Remove tries
// unlinkat as a file, then as a directory, one change either way.
func collapse(s []string) []string { return slices.Compact(s) }

func sideBySide(got, want []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "    %-70s %s\n", "hostroot counted", "the tracer saw")
	for i := range max(len(got), len(want)) {
		g, w := "", ""
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		mark := " "
		if g != w {
			mark = "!"
		}
		fmt.Fprintf(&b, "  %s %-70s %s\n", mark, g, w)
	}
	return b.String()
}
