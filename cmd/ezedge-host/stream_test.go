package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ezansiedgeai/ezedge-host/internal/command"
	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
)

// writes records each write it is given.
type writes struct{ got []string }

func (w *writes) Write(p []byte) (int, error) {
	w.got = append(w.got, string(p))
	return len(p), nil
}

// TestPlanStreams: every write a plan makes of the 256-CPU host reaches
// standard output as whole lines as it is made: a line, a section, a
// table at a time (not one write at exit, not one per word).
func TestPlanStreams(t *testing.T) {
	t.Parallel()
	root := fixture.Large(t, 256, 32)
	var w writes
	l := command.NewLineWriter(&w)
	if code := run([]string{"plan", "--root", root}, strings.NewReader(""), l, io.Discard); code != 0 {
		t.Fatalf("plan: exit %d", code)
	}
	l.Flush()
	all := strings.Join(w.got, "")
	lines := strings.Count(all, "\n")
	if lines < 500 || len(w.got) < 8 || len(w.got) > lines {
		t.Fatalf("%d lines in %d writes", lines, len(w.got))
	}
	for _, s := range w.got {
		if !strings.HasSuffix(s, "\n") {
			t.Fatalf("a write that does not end a line: %q", s)
		}
	}
}

// TestOutputStreamsWhileWaiting: the real binary's standard output is a
// pipe; apply shows its plan and then waits for the host lock another
// process holds. The plan is readable while it waits, not at its exit.
func TestOutputStreamsWhileWaiting(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	release := holdLock(t, root)
	defer release()
	cmd := execBin("apply", "--root", root, "--yes", "--lock-timeout", "60s")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	seen := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "Plan: ") {
				seen <- b.String()
			}
		}
	}()
	select {
	case s := <-seen:
		if !strings.Contains(s, "Changes (+ create") {
			t.Errorf("plan shown while waiting:\n%s", s)
		}
	case <-time.After(30 * time.Second):
		t.Error("the plan was not on standard output while apply waited for the lock")
	}
	release()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("apply: %v", err)
	}
}

// openPTY opens a pseudo-terminal: the test reads the master, a process
// writes to the slave as its standard error.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	return m, s
}

// onTerminal runs the binary with its standard error on a terminal and
// returns what it wrote there, and its standard output.
func onTerminal(t *testing.T, args ...string) (stderr, stdout string) {
	t.Helper()
	m, s := openPTY(t)
	cmd := execBin(args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, s
	read := make(chan string)
	go func() {
		var b bytes.Buffer
		io.Copy(&b, m) // ends with EIO once no process has the slave open
		read <- b.String()
	}()
	err := cmd.Run()
	s.Close()
	tty := <-read
	if err != nil {
		t.Fatalf("%v: %v\nstderr:\n%s\nstdout:\n%s", args, err, tty, out.String())
	}
	// The terminal turns \n into \r\n.
	return strings.ReplaceAll(tty, "\r\n", "\n"), out.String()
}

// TestProgressOnTerminal: apply, rollback and firstboot install say each
// phase on standard error when it is a terminal; never with -q or
// --output json, and never when standard error is not a terminal; what
// they print on standard output is the same either way.
func TestProgressOnTerminal(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	quiet := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	tty, out := onTerminal(t, "apply", "--root", root, "--yes")
	n := regexp.MustCompile(`Applied (\d+) changes`).FindStringSubmatch(out)
	if n == nil || tty != "Applying "+n[1]+" changes, each prior value journaled first.\n" {
		t.Errorf("apply on a terminal: %q\nstdout:\n%s", tty, out)
	}
	if err := escape.CheckText([]byte(tty)); err != nil {
		t.Error(err)
	}
	tty, _ = onTerminal(t, "rollback", "--root", root, "--yes")
	if !regexp.MustCompile(`^Rolling back apply [0-9TZ]+: ` + n[1] + ` changes\.\n$`).MatchString(tty) {
		t.Errorf("rollback on a terminal: %q", tty)
	}
	if tty, qout := onTerminal(t, "apply", "--root", quiet, "--yes", "-q"); tty != "" || normalize(qout, quiet) != normalize(out, root) {
		t.Errorf("apply -q: %q\nstdout:\n%s", tty, qout)
	}
	cli("rollback", "--root", quiet, "--yes").must(t, 0)
	if tty, _ := onTerminal(t, "apply", "--root", quiet, "--yes", "--output", "json"); tty != "" {
		t.Errorf("apply --output json: %q", tty)
	}
	cli("rollback", "--root", quiet, "--yes").must(t, 0)
	if r := cli("apply", "--root", quiet, "--yes").must(t, 0); r.stderr != "" {
		t.Errorf("apply, standard error not a terminal: %q", r.stderr)
	}

	image := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	arm64 := filepath.Join(t.TempDir(), "ezedge-host-arm64")
	os.WriteFile(arm64, elfHeader(elf.EM_AARCH64), 0o755)
	tty, _ = onTerminal(t, "firstboot", "install", "--root", image, "--binary", arm64)
	if !regexp.MustCompile(`^Reading the ezedge-host binary to copy into the image\.\nInstalling first-boot provisioning into the image: \d+ changes\.\nEnabling the first-boot unit: \d+ changes?\.\n$`).MatchString(tty) {
		t.Errorf("firstboot install on a terminal: %q", tty)
	}
}

// flusher is standard output as main hands it to run.
type flusher interface {
	io.Writer
	Flush() error
}

// BenchmarkPlanLarge is the 256-CPU host's plan through the CLI, its 600
// lines written to a file as main writes them (a line at a time), and as
// the 64 KiB buffer flushed at exit wrote them before: what streaming
// costs.
func BenchmarkPlanLarge(b *testing.B) {
	root := fixture.Large(b, 256, 32)
	f, err := os.Create(filepath.Join(b.TempDir(), "out"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	for _, c := range []struct {
		name string
		out  func() flusher
	}{
		{"lines", func() flusher { return command.NewLineWriter(f) }},
		{"buffered-64KiB", func() flusher { return bufio.NewWriterSize(f, 64<<10) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				f.Truncate(0)
				f.Seek(0, 0)
				w := c.out()
				if code := run([]string{"plan", "--root", root}, strings.NewReader(""), w, io.Discard); code != 0 {
					b.Fatalf("exit %d", code)
				}
				w.Flush()
			}
		})
	}
}
