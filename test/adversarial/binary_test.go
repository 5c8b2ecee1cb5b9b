package adversarial

// Shared machinery for the hostile suites: the production binary (built
// once), a runner that survives a binary that hangs, crashes or eats
// memory, stub commands that record what the binary tries to run, a tree
// snapshot that is safe on FIFOs, devices and 8 GB sparse files, and the
// strace plumbing. Names carry a "hostile" prefix so that other suites in
// this package (written on other branches) do not clash.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// hostileBin is the production binary, built once by TestMain.
var hostileBin string

// hostileStubDir holds stand-ins for every program the binary might run
// (systemctl, systemd-run, update-grub…). Every run gets PATH set to it
// alone, so a command the binary should never run for a fixture root is
// recorded instead of acting on this machine.
var hostileStubDir string

// hostileStubNames are the programs stubbed: those the README says
// ezedge-host runs on a live host, and others a careless fix might reach for.
var hostileStubNames = []string{
	"systemctl", "systemd-run", "update-grub", "grub-mkconfig", "grub2-mkconfig",
	"update-initramfs", "udevadm", "sysctl", "systemd-tmpfiles", "rfkill",
	"reboot", "shutdown", "mount", "umount", "sh", "bash", "touch", "nmcli",
}

// setupHostile points the hostile suites at the binary TestMain built and
// writes their command stubs into dir.
func setupHostile(dir, binary string) error {
	hostileBin = binary
	hostileStubDir = filepath.Join(dir, "stubs")
	if err := os.Mkdir(hostileStubDir, 0o755); err != nil {
		return err
	}
	// The stubs use only shell built-ins, so a stub run adds exactly one
	// execve (its own) to a trace. The log comes from the environment so
	// that each run has its own.
	stub := "#!/bin/sh\nprintf '%s\\n' \"${0##*/} $*\" >> \"${EZEDGE_HOSTILE_STUB_LOG:-/dev/null}\"\nexit 0\n"
	for _, n := range hostileStubNames {
		if err := os.WriteFile(filepath.Join(hostileStubDir, n), []byte(stub), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// Limits every run is held to.
const (
	// hostileRSSLimitKiB is the peak RSS a run may reach. The README
	// measures 6.4–9.8 MB (a 256-CPU host included) and apply on the
	// fixtures peaks near 17 MB, so 64 MiB leaves ample room while a binary
	// that reads a 100 MB hostile file whole cannot pass under it.
	hostileRSSLimitKiB = 64 << 10
	// hostileRSSKillKiB is where the watchdog kills a run, so that a
	// binary reading /dev/zero or an 8 GB sparse file whole cannot take
	// this machine's memory with it. Just past the bound: a run there has
	// failed anyway, and letting it grow further only costs time.
	hostileRSSKillKiB = hostileRSSLimitKiB + 16<<10
	// hostileOutputCap bounds what is kept of stdout and stderr.
	hostileOutputCap = 256 << 10
)

// hostileTimeout is how long one command may run before it counts as hung.
func hostileTimeout() time.Duration {
	if testing.Short() {
		return 10 * time.Second
	}
	return 20 * time.Second
}

type hostileOpts struct {
	timeout time.Duration
	// stubLog receives the stubs' invocations; "" discards them.
	stubLog string
	// env is added to the environment.
	env []string
	// prefix runs the binary through another program (strace); the
	// binary's path and args follow it.
	prefix []string
}

type hostileResult struct {
	args           []string
	code           int // -1 when killed by a signal
	stdout, stderr string
	maxRSSKiB      int64
	timedOut       bool
	rssKilled      bool
	wall           time.Duration
	startErr       error
}

func (r hostileResult) String() string {
	return fmt.Sprintf("exit %d after %s, peak RSS %d KiB\nstdout:\n%s\nstderr:\n%s", r.code, r.wall.Round(time.Millisecond), r.maxRSSKiB, hostileClip(r.stdout, 2000), hostileClip(r.stderr, 2000))
}

func hostileClip(s string, n int) string {
	if len(s) > n {
		return s[:n] + fmt.Sprintf("… (%d bytes)", len(s))
	}
	return s
}

// hostileCapped keeps the first hostileOutputCap bytes and drops the rest,
// so a run that prints without end cannot fill the test's memory.
type hostileCapped struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (c *hostileCapped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := hostileOutputCap - c.b.Len(); room > 0 {
		c.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (c *hostileCapped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String()
}

// hostileEnv is this process's environment with PATH replaced by the stubs
// and nothing that could steer the binary (its crash hook) left in.
func hostileEnv(o hostileOpts) []string {
	var env []string
	for _, e := range os.Environ() {
		if strings.HasPrefix(e, "PATH=") || strings.HasPrefix(e, "EZEDGE_") {
			continue
		}
		env = append(env, e)
	}
	log := o.stubLog
	if log == "" {
		log = os.DevNull
	}
	env = append(env, "PATH="+hostileStubDir, "EZEDGE_HOSTILE_STUB_LOG="+log)
	return append(env, o.env...)
}

// hostileRun runs the binary with args under a timeout and a memory
// watchdog, in its own process group (killed whole on timeout).
func hostileRun(o hostileOpts, args ...string) hostileResult {
	if o.timeout == 0 {
		o.timeout = hostileTimeout()
	}
	argv := append(append(slices.Clone(o.prefix), hostileBin), args...)
	res := hostileResult{args: args, code: -1}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = hostileEnv(o)
	cmd.Stdin = nil
	var stdout, stderr hostileCapped
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Killed with the test should the test die first (a go test timeout):
	// a run blocked on a FIFO would otherwise wait forever.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A detached grandchild keeping a pipe open must not hold up Wait. On
	// a loaded machine the copying of what a finished run printed can
	// take seconds to be scheduled, so the delay is generous (only such a
	// grandchild ever uses it up), and output cut short by it is said.
	cmd.WaitDelay = 15 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		res.startErr = err
		return res
	}
	pid := cmd.Process.Pid
	var mu sync.Mutex
	// The child's own peak, sampled (hostileHWMOf): see maxRSSKiB below.
	// Start returns once the child has exec'd, so this is its own image.
	hwm := hostileHWMOf(pid)
	kill := func(why *bool) {
		mu.Lock()
		defer mu.Unlock()
		if why != nil {
			*why = true
		}
		syscall.Kill(-pid, syscall.SIGKILL)
	}
	timer := time.AfterFunc(o.timeout, func() { kill(&res.timedOut) })
	done := make(chan struct{})
	go func() {
		// The watchdog reads the kernel's RSS of the process every 20 ms:
		// reading /dev/zero grows it by about 200 MB/s, so it overshoots
		// the kill line by a few MB at most, and a run blocked on a FIFO
		// for its whole timeout costs little.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if h := hostileHWMOf(pid); h > 0 {
					mu.Lock()
					hwm = max(hwm, h)
					mu.Unlock()
				}
				if hostileRSSOf(pid) > hostileRSSKillKiB {
					kill(&res.rssKilled)
					return
				}
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	timer.Stop()
	res.wall = time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	res.stdout, res.stderr = stdout.String(), stderr.String()
	if errors.Is(err, exec.ErrWaitDelay) {
		res.stderr += fmt.Sprintf("\n(the test stopped reading this run's output %s after it exited: it may be cut short)", cmd.WaitDelay)
	}
	if cmd.ProcessState != nil {
		res.code = cmd.ProcessState.ExitCode()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			// Go starts the child with vfork (CLONE_VM), and exec records
			// the high-water RSS of the mm it leaves, the test's own, in
			// the child's ru_maxrss: so ru_maxrss is max(this process's
			// peak, the child's). Above this process's peak it is the
			// child's, exactly; else the child's own is the peak its
			// /proc status showed while it ran (VmHWM, sampled as the
			// watchdog does; anything above the kill line is caught
			// there anyway).
			res.maxRSSKiB = ru.Maxrss
			if self := hostileHWMOf(os.Getpid()); ru.Maxrss <= self {
				res.maxRSSKiB = hwm
			}
		}
	} else if err != nil {
		res.startErr = err
	}
	return res
}

// hostileRSSOf is the resident set of pid in KiB (0 once it is gone).
func hostileRSSOf(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize()) / 1024
}

// hostileHWMOf is the peak RSS (VmHWM) of process pid's memory, in KiB;
// 0 when gone.
func hostileHWMOf(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// hostileRunFailures lists what is wrong with a run whatever it did: it
// hung, crashed, was killed for its memory, exited with a status outside
// okCodes, or used more than hostileRSSLimitKiB.
func hostileRunFailures(r hostileResult, okCodes ...int) []string {
	out := hostileExitFailures(r, okCodes...)
	if r.startErr == nil && !r.rssKilled && r.maxRSSKiB > hostileRSSLimitKiB {
		out = append(out, fmt.Sprintf("peak RSS %d MiB, over the %d MiB bound", r.maxRSSKiB>>10, hostileRSSLimitKiB>>10))
	}
	return out
}

// hostileExitFailures is hostileRunFailures without the RSS bound, for
// suites about something else than hostile file sizes (a firstboot
// install journals a copy of the whole binary, which costs memory to read
// back, and that is not what class 3 is about).
func hostileExitFailures(r hostileResult, okCodes ...int) []string {
	var out []string
	switch {
	case r.startErr != nil:
		return []string{fmt.Sprintf("could not run: %v", r.startErr)}
	case r.timedOut:
		out = append(out, fmt.Sprintf("hung: no exit within %s (killed)", r.wall.Round(time.Second)))
	case r.rssKilled:
		out = append(out, fmt.Sprintf("killed by the test's watchdog: RSS over %d MiB", hostileRSSKillKiB>>10))
	case !slices.Contains(okCodes, r.code):
		out = append(out, fmt.Sprintf("exit %d, want one of %v", r.code, okCodes))
	}
	for _, sig := range []string{"panic:", "goroutine ", "fatal error"} {
		if strings.Contains(r.stderr, sig) {
			out = append(out, fmt.Sprintf("crashed (%q on stderr): %s", sig, hostileClip(r.stderr, 600)))
			break
		}
	}
	return out
}

// hostileErrLines checks the README's error contract: every stderr line is
// prefixed "ezedge-host:" and the message names each of want.
func hostileErrLines(stderr string, want ...string) []string {
	var out []string
	trimmed := strings.TrimRight(stderr, "\n")
	if trimmed == "" {
		return []string{"stderr is empty: the error names nothing"}
	}
	for _, l := range strings.Split(trimmed, "\n") {
		if !strings.HasPrefix(l, "ezedge-host: ") {
			out = append(out, fmt.Sprintf("stderr line not prefixed \"ezedge-host: \": %q", hostileClip(l, 300)))
			break
		}
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			out = append(out, fmt.Sprintf("stderr does not name %q: %q", w, hostileClip(stderr, 600)))
		}
	}
	return out
}

// hostileSnap pictures a tree like fixture.Snapshot, but is safe on
// hostile entries: it never opens a FIFO, socket or device (it records its
// type and numbers), and a regular file over 1 MiB is recorded by size and
// a hash that skips holes, so an 8 GB sparse file costs nothing and a
// 100 MB one is hashed once per version.
func hostileSnap(dir string, skip ...string) (fixture.Tree, error) {
	t := fixture.Tree{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != dir {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		for _, s := range skip {
			if rel == s || strings.HasPrefix(rel, s+"/") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		perm := st.Mode & 0o7777
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			target, _ := os.Readlink(p)
			t[rel] = "link -> " + target
		case unix.S_IFDIR:
			t[rel] = fmt.Sprintf("dir %04o", perm)
		case unix.S_IFIFO:
			t[rel] = fmt.Sprintf("fifo %04o", perm)
		case unix.S_IFSOCK:
			t[rel] = fmt.Sprintf("socket %04o", perm)
		case unix.S_IFCHR, unix.S_IFBLK:
			kind := "chardev"
			if st.Mode&unix.S_IFMT == unix.S_IFBLK {
				kind = "blockdev"
			}
			t[rel] = fmt.Sprintf("%s %04o %d:%d", kind, perm, unix.Major(st.Rdev), unix.Minor(st.Rdev))
		case unix.S_IFREG:
			if st.Size <= 1<<20 {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				t[rel] = fmt.Sprintf("file %04o %q", perm, b)
				return nil
			}
			sum, err := hostileBigHash(p, &st)
			if err != nil {
				return err
			}
			t[rel] = fmt.Sprintf("file %04o big %s", perm, sum)
		default:
			t[rel] = fmt.Sprintf("unknown type %o", st.Mode)
		}
		return nil
	})
	return t, err
}

// hostileWriteBig writes unit repeated to at least size bytes (whole
// units) into a new file and records its hostileBigHash as it goes, so a
// 100 MB file is not read back just to be pictured.
func hostileWriteBig(p string, unit []byte, size int) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	const block = 64 << 10
	total := (size + len(unit) - 1) / len(unit) * len(unit)
	h := sha256.New()
	buf := make([]byte, 0, block)
	written, idx := 0, uint64(0)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if _, err := f.Write(buf); err != nil {
			return err
		}
		var ib [8]byte
		binary.LittleEndian.PutUint64(ib[:], idx)
		h.Write(ib[:])
		h.Write(buf)
		idx++
		buf = buf[:0]
		return nil
	}
	for written < total {
		for _, c := range unit {
			buf = append(buf, c)
			if len(buf) == block {
				if err := flush(); err != nil {
					f.Close()
					return err
				}
			}
		}
		written += len(unit)
	}
	if err := flush(); err != nil {
		f.Close()
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// Closing a written file does not change its times, so the identity
	// taken before the close is the one a later lstat sees.
	id := hostileFileID{uint64(st.Dev), st.Ino, uint64(st.Size), st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec}
	hostileHashMu.Lock()
	hostileHashCache[id] = fmt.Sprintf("size %d sha256 %x", st.Size, h.Sum(nil))
	hostileHashMu.Unlock()
	return nil
}

type hostileFileID struct {
	dev, ino, size           uint64
	msec, mnsec, csec, cnsec int64
}

var (
	hostileHashMu    sync.Mutex
	hostileHashCache = map[hostileFileID]string{}
)

// hostileBigHash is the size and a SHA-256 over the non-zero 64 KiB blocks
// (with their index) of a large file. It depends on the contents only, not
// on where the holes are, and it reads data extents only (SEEK_DATA), so a
// sparse 8 GB file hashes at once. Results are cached by inode, size, mtime
// and ctime: any write changes one of them.
func hostileBigHash(p string, st *unix.Stat_t) (string, error) {
	id := hostileFileID{uint64(st.Dev), st.Ino, uint64(st.Size), st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec}
	hostileHashMu.Lock()
	sum, ok := hostileHashCache[id]
	hostileHashMu.Unlock()
	if ok {
		return sum, nil
	}
	// O_NONBLOCK: should the path have become a FIFO since the lstat,
	// the open must not wait for a writer.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var fst unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &fst); err != nil || fst.Mode&unix.S_IFMT != unix.S_IFREG {
		return "", fmt.Errorf("%s changed type while hashed", p)
	}
	const block = 64 << 10
	h := sha256.New()
	buf := make([]byte, block)
	zero := make([]byte, block)
	size := fst.Size
	next := int64(0) // first block not hashed yet
	for off := int64(0); off < size; {
		data, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break
		} else if err != nil {
			return "", err
		}
		hole, err := unix.Seek(int(f.Fd()), data, unix.SEEK_HOLE)
		if err != nil {
			return "", err
		}
		for b := max(data/block, next); b*block < hole; b++ {
			n, err := f.ReadAt(buf, b*block)
			if err != nil && err != io.EOF {
				return "", err
			}
			if !bytes.Equal(buf[:n], zero[:n]) {
				var idx [8]byte
				binary.LittleEndian.PutUint64(idx[:], uint64(b))
				h.Write(idx[:])
				h.Write(buf[:n])
			}
			next = b + 1
		}
		off = hole
	}
	sum = fmt.Sprintf("size %d sha256 %x", size, h.Sum(nil))
	hostileHashMu.Lock()
	hostileHashCache[id] = sum
	hostileHashMu.Unlock()
	return sum, nil
}

// hostileDiff is a.Diff(b) without the entries under the store: the store
// is the tool's own (its history, its lock), the one part of a root that
// an apply and its rollback change on purpose. What a hostile entry in the
// store could reach beyond it is checked through the sentinels.
func hostileDiff(a, b fixture.Tree) []string {
	strip := func(t fixture.Tree) fixture.Tree {
		out := fixture.Tree{}
		for p, v := range t {
			if p != fixture.StoreDir && !strings.HasPrefix(p, fixture.StoreDir+"/") {
				out[p] = v
			}
		}
		return out
	}
	return strip(a).Diff(strip(b))
}

// hostileStrace returns strace's path. The suites that need it skip
// without it, saying why, except under CI, where a missing strace fails.
func hostileStrace(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("strace")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("strace is required (CI is set): %v", err)
		}
		t.Skipf("strace not found (%v): this suite traces the binary's system calls; install strace", err)
	}
	return p
}

// hostileExecs reads an strace -f -e trace=execve,execveat log and returns
// every program a process tried to run (successfully or not).
func hostileExecs(t testing.TB, log string) []string {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("strace log: %v", err)
	}
	re := regexp.MustCompile(`execve(?:at)?\((?:[^,]*, )?"((?:[^"\\]|\\.)*)"`)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			out = append(out, hostileUnescape(m[1]))
		}
	}
	return out
}

// hostileUnescape undoes strace's C-style string quoting.
func hostileUnescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch e := s[i]; {
		case e == 'n':
			b.WriteByte('\n')
		case e == 't':
			b.WriteByte('\t')
		case e == 'r':
			b.WriteByte('\r')
		case e == 'v':
			b.WriteByte('\v')
		case e == 'f':
			b.WriteByte('\f')
		case e == 'x' && i+2 < len(s):
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
		case e >= '0' && e <= '7':
			j := i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(s[i:j], 8, 8)
			b.WriteByte(byte(v))
			i = j - 1
		default:
			b.WriteByte(e)
		}
	}
	return b.String()
}

// hostilePathRE matches a path argument in strace -y output: a directory
// descriptor with its path (or AT_FDCWD) followed by a quoted name.
var hostilePathRE = regexp.MustCompile(`(?:\d+<((?:[^>\\]|\\.)*)>|AT_FDCWD), "((?:[^"\\]|\\.)*)"`)

// hostileResultRE matches a returned descriptor with its path.
var hostileResultRE = regexp.MustCompile(`= \d+<((?:[^>\\]|\\.)*)>`)

// hostileTracedPaths reads an strace -f -y log and returns every path
// relative to root that a call named or opened.
func hostileTracedPaths(log, root string) (map[string]bool, error) {
	b, err := os.ReadFile(log)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	add := func(p string) {
		p = strings.TrimSuffix(p, " (deleted)")
		p = filepath.Clean(p)
		if rel, ok := strings.CutPrefix(p, root+"/"); ok {
			out[rel] = true
		}
	}
	for _, l := range strings.Split(string(b), "\n") {
		for _, m := range hostilePathRE.FindAllStringSubmatch(l, -1) {
			dir, name := hostileUnescape(m[1]), hostileUnescape(m[2])
			switch {
			case strings.HasPrefix(name, "/"):
				// Absolute from AT_FDCWD; under openat2's RESOLVE_IN_ROOT
				// an absolute name is relative to the root descriptor.
				if dir != "" && strings.Contains(l, "RESOLVE_IN_ROOT") {
					add(dir + name)
				} else {
					add(name)
				}
			case dir == "":
				// AT_FDCWD with a relative name: the tests never run the
				// binary from inside a root.
			case name == "":
				add(dir)
			default:
				add(dir + "/" + name)
			}
		}
		for _, m := range hostileResultRE.FindAllStringSubmatch(l, -1) {
			add(hostileUnescape(m[1]))
		}
	}
	return out, nil
}

// hostileSortedKeys returns the keys of m in order.
func hostileSortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// hostileCopy copies fixture name to dir/root and returns the root.
func hostileCopy(t testing.TB, dir, name string) string {
	t.Helper()
	root := filepath.Join(dir, "root")
	if err := fixture.CopyTree(filepath.Join(fixture.Testdata(), name), root); err != nil {
		t.Fatal(err)
	}
	return root
}

// hostileWrite writes a file, creating its parent directories (0755).
func hostileWrite(t testing.TB, p string, data string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// hostileMustSnap is hostileSnap failing the test on error.
func hostileMustSnap(t testing.TB, dir string, skip ...string) fixture.Tree {
	t.Helper()
	s, err := hostileSnap(dir, skip...)
	if err != nil {
		t.Fatalf("snapshot of %s: %v", dir, err)
	}
	return s
}

// TestHostileRSSIsTheChilds: a run's peak RSS is the binary's own, not
// this test process's (which vfork and exec put into the child's
// ru_maxrss): with the test holding 128 MiB, `--version` is still far
// under the bound. Not parallel: it runs before the parallel tests, and
// the test process's high-water mark stays above the bound for them
// all, so each of their runs is measured the way this one is.
func TestHostileRSSIsTheChilds(t *testing.T) {
	fat := make([]byte, 128<<20)
	for i := 0; i < len(fat); i += os.Getpagesize() {
		fat[i] = 1
	}
	if self := hostileHWMOf(os.Getpid()); self < 128<<10 {
		t.Fatalf("this process's VmHWM %d KiB, want at least 128 MiB", self)
	}
	r := hostileRun(hostileOpts{}, "--version")
	runtime.KeepAlive(fat)
	if f := hostileRunFailures(r, 0); len(f) > 0 || r.maxRSSKiB <= 0 || r.maxRSSKiB > 32<<10 {
		t.Fatalf("--version: peak RSS %d KiB (want the binary's own, a few MiB): %v\n%s", r.maxRSSKiB, f, r)
	}
}
