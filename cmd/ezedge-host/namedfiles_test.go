package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// namedFlag is a flag (or argument) that names a file the operator gives:
// args builds the command line for file f on root.
type namedFlag struct {
	name string
	args func(root, f string) []string
	// pipe: the flag reads an anonymous pipe (--profile <(generate)).
	pipe bool
}

var namedFlags = []namedFlag{
	{"plan --profile", func(r, f string) []string { return []string{"plan", "--root", r, "--profile", f} }, true},
	{"apply --profile", func(r, f string) []string { return []string{"apply", "--yes", "--root", r, "--profile", f} }, true},
	{"check --profile", func(r, f string) []string { return []string{"check", "--root", r, "--profile", f} }, true},
	{"firstboot install --profile", func(r, f string) []string { return []string{"firstboot", "install", "--root", r, "--profile", f} }, true},
	{"firstboot install --binary", func(r, f string) []string { return []string{"firstboot", "install", "--root", r, "--binary", f} }, false},
	{"apply PLANFILE", func(r, f string) []string { return []string{"apply", "--root", r, f} }, false},
}

// namedFile makes a file of one type in dir and returns its path; want
// is what the one-line error says about it.
type namedFile struct {
	name string
	make func(t *testing.T, dir string) string
	want string
	// short: part of the -short matrix.
	short bool
}

func namedFiles() []namedFile {
	sparse := func(size int64) func(t *testing.T, dir string) string {
		return func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "sparse")
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(size); err != nil {
				t.Fatal(err)
			}
			f.Close()
			return p
		}
	}
	files := []namedFile{
		{"missing", func(_ *testing.T, dir string) string { return filepath.Join(dir, "missing") }, "no such file or directory", true},
		{"FIFO", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "fifo")
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, "FIFO", true},
		{"/dev/zero", func(*testing.T, string) string { return "/dev/zero" }, "is a character device, not a regular file", true},
		{"/dev/null", func(*testing.T, string) string { return "/dev/null" }, "is a character device, not a regular file", false},
		{"/dev/stdin", func(*testing.T, string) string { return "/dev/stdin" }, "is a character device, not a regular file", false},
		{"directory", func(_ *testing.T, dir string) string { p := filepath.Join(dir, "d"); os.Mkdir(p, 0o755); return p }, "is a directory, not a regular file", true},
		{"8 GB sparse file", sparse(8 << 30), "8589934592 bytes is larger than the", true},
	}
	for _, f := range files[1:] {
		mk := f.make
		files = append(files, namedFile{"symlink to " + f.name, func(t *testing.T, dir string) string {
			l := filepath.Join(dir, "link")
			if err := os.Symlink(mk(t, dir), l); err != nil {
				t.Fatal(err)
			}
			return l
		}, f.want, f.name == "FIFO"})
	}
	return files
}

// runBounded runs the binary and fails the test, rather than hanging,
// when it does not finish (a FIFO without a writer would block it).
func runBounded(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	c.SysProcAttr, c.ExtraFiles = cmd.SysProcAttr, cmd.ExtraFiles
	var out, errb strings.Builder
	c.Stdout, c.Stderr = &out, &errb
	// No stdin: /dev/null, so /dev/stdin is a character device.
	c.Stdin = cmd.Stdin
	err := c.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v did not finish: it blocked", cmd.Args)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// refused asserts the one-line refusal of file f: exit 1, one line on
// stderr naming the file and saying want, nothing on stdout.
func refused(t *testing.T, what string, r result, f, want string) {
	t.Helper()
	if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "ezedge-host: ") ||
		!strings.Contains(r.stderr, f+": ") || !strings.Contains(r.stderr, want) || r.stdout != "" {
		t.Errorf("%s: exit %d, stdout %q, stderr %q: want exit 1 and one line naming %s saying %q", what, r.code, r.stdout, r.stderr, f, want)
	}
}

// TestNamedFilesRefused: every flag that names a file, given every type
// of file that is not a regular file within its limit (directly and
// through a symbolic link), refuses it in one line naming it, exits 1,
// changes nothing and never blocks.
func TestNamedFilesRefused(t *testing.T) {
	t.Parallel()
	for _, fl := range namedFlags {
		t.Run(fl.name, func(t *testing.T) {
			t.Parallel()
			root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
			orig := fixture.Snapshot(t, root)
			for _, nf := range namedFiles() {
				if testing.Short() && !nf.short {
					continue
				}
				dir := t.TempDir()
				f := nf.make(t, dir)
				want := nf.want
				if nf.name == "FIFO" || nf.name == "symlink to FIFO" {
					want = "is a FIFO, not a regular file"
					if fl.pipe {
						want = "is a named FIFO"
					}
				}
				r := runBounded(t, exec.Command(bin, fl.args(root, f)...))
				refused(t, fl.name+" "+nf.name, r, f, want)
				if d := orig.Diff(fixture.Snapshot(t, root)); len(d) > 0 {
					t.Fatalf("%s %s changed the root: %v", fl.name, nf.name, d)
				}
			}
		})
	}
}

// TestNamedFilesUnreadable: a file the user may not read is refused
// naming it (the binary runs as nobody: root reads anything).
func TestNamedFilesUnreadable(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the binary as nobody")
	}
	for _, fl := range namedFlags {
		t.Run(fl.name, func(t *testing.T) {
			t.Parallel()
			root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
			f := filepath.Join(filepath.Dir(root), "unreadable")
			if err := os.WriteFile(f, []byte("version: 1\n"), 0); err != nil {
				t.Fatal(err)
			}
			cmd := asNobody(t, root, fl.args(root, f)...)
			orig := fixture.Snapshot(t, root)
			refused(t, fl.name, runBounded(t, cmd), f, "permission denied")
			if d := orig.Diff(fixture.Snapshot(t, root)); len(d) > 0 {
				t.Fatalf("changed the root: %v", d)
			}
		})
	}
}

// TestNamedFileFromPipe: --profile still reads an anonymous pipe (a
// shell's <(generate)), bounded by the profile's limit; a plan file or a
// binary from a pipe is refused.
func TestNamedFileFromPipe(t *testing.T) {
	t.Parallel()
	for _, fl := range namedFlags {
		t.Run(fl.name, func(t *testing.T) {
			t.Parallel()
			root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
			orig := fixture.Snapshot(t, root)
			feed := func(data string) *exec.Cmd {
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { r.Close() })
				go func() { w.WriteString(data); w.Close() }()
				cmd := exec.Command(bin, fl.args(root, "/dev/fd/3")...)
				cmd.ExtraFiles = []*os.File{r}
				return cmd
			}
			if !fl.pipe {
				refused(t, fl.name, runBounded(t, feed("x")), "/dev/fd/3", "is a FIFO, not a regular file")
			} else {
				refused(t, fl.name+" over the limit", runBounded(t, feed(strings.Repeat("# padding\n", 7000))), "/dev/fd/3", "larger than the 65536-byte read limit")
				if fl.name == "plan --profile" {
					r := runBounded(t, feed("version: 1\ntasks:\n  swappiness: {value: 7}\n"))
					if r.code != 0 || !strings.Contains(r.stdout, "-> 7") {
						t.Errorf("plan --profile from a pipe: exit %d\n%s%s", r.code, r.stdout, r.stderr)
					}
				}
			}
			if d := orig.Diff(fixture.Snapshot(t, root)); len(d) > 0 {
				t.Fatalf("changed the root: %v", d)
			}
		})
	}
}
