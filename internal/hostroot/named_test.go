package hostroot

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// namedCase is a file the operator may name, made in dir; want is what
// the error says (empty: it is read).
type namedCase struct {
	name string
	make func(t *testing.T, dir string) string
	want string
}

func namedCases(limit int64) []namedCase {
	at := func(dir, n string) string { return filepath.Join(dir, n) }
	regular := func(size int64) func(t *testing.T, dir string) string {
		return func(t *testing.T, dir string) string {
			p := at(dir, "file")
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("version: 1\n")
			if size > 0 {
				f.Truncate(size) // sparse: no disk used
			}
			f.Close()
			return p
		}
	}
	fifo := func(t *testing.T, dir string) string {
		p := at(dir, "fifo")
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sock := func(t *testing.T, dir string) string {
		p := at(dir, "sock")
		l, err := net.Listen("unix", p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return p
	}
	dirc := func(t *testing.T, dir string) string { p := at(dir, "dir"); os.Mkdir(p, 0o755); return p }
	dev := func(p string) func(t *testing.T, dir string) string {
		return func(t *testing.T, _ string) string {
			if _, err := os.Stat(p); err != nil {
				t.Skip(err)
			}
			return p
		}
	}
	cases := []namedCase{
		{"regular", regular(0), ""},
		{"at the limit", regular(limit), ""},
		{"missing", func(t *testing.T, dir string) string { return at(dir, "missing") }, "no such file or directory"},
		{"empty name", func(*testing.T, string) string { return "" }, "no file named"},
		{"sparse over the limit", regular(limit + 1), "is larger than the"},
		{"8 GB sparse", regular(8 << 30), "8589934592 bytes is larger than the"},
		{"directory", dirc, "is a directory, not a regular file"},
		{"FIFO", fifo, "FIFO"},
		{"socket", sock, "is a socket, not a regular file"},
		{"/dev/zero", dev("/dev/zero"), "is a character device, not a regular file"},
		{"/dev/null", dev("/dev/null"), "is a character device, not a regular file"},
		{"/dev/full", dev("/dev/full"), "is a character device, not a regular file"},
		{"a component is a file", func(t *testing.T, dir string) string { return filepath.Join(regular(0)(t, dir), "x") }, "not a directory"},
	}
	for _, c := range cases[:len(cases)-1] {
		if c.name == "missing" || c.name == "empty name" {
			continue
		}
		mk := c.make
		cases = append(cases, namedCase{"symlink to " + c.name, func(t *testing.T, dir string) string {
			target := mk(t, dir)
			l := at(dir, "link")
			if err := os.Symlink(target, l); err != nil {
				t.Fatal(err)
			}
			return l
		}, c.want})
	}
	cases = append(cases, namedCase{"dangling symlink", func(t *testing.T, dir string) string {
		l := at(dir, "link")
		os.Symlink(at(dir, "nowhere"), l)
		return l
	}, "no such file or directory"})
	return cases
}

// readNamedSoon runs ReadNamed, failing the test rather than hanging
// when it blocks (a FIFO without a writer would).
func readNamedSoon(t *testing.T, name string, k Named) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type res struct {
		b   []byte
		err error
	}
	done := make(chan res, 1)
	go func() {
		b, err := ReadNamed(name, k)
		done <- res{b, err}
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-ctx.Done():
		t.Fatalf("ReadNamed(%s) blocked", name)
		return nil, nil
	}
}

// TestReadNamedFileTypes: every file type, directly and through a
// symbolic link, for a kind that reads pipes and one that does not: read
// when it is a regular file within the limit, else one line naming the
// kind, the file and why; never a hang.
func TestReadNamedFileTypes(t *testing.T) {
	t.Parallel()
	for _, k := range []Named{{What: "plan file", Limit: 4096}, {What: "profile", Limit: 4096, Pipe: true}} {
		for _, c := range namedCases(k.Limit) {
			t.Run(k.What+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				p := c.make(t, t.TempDir())
				b, err := readNamedSoon(t, p, k)
				if c.want == "" {
					if err != nil {
						t.Fatal(err)
					}
					if !strings.HasPrefix(string(b), "version: 1\n") {
						t.Fatalf("read %q", b)
					}
					return
				}
				if err == nil {
					t.Fatalf("read %d bytes, want an error saying %q", len(b), c.want)
				}
				msg := err.Error()
				if !strings.Contains(msg, c.want) || !strings.HasPrefix(msg, k.What+" "+p+": ") || strings.Contains(msg, "\n") {
					t.Fatalf("error %q: want one line %q… saying %q", msg, k.What+" "+p+": ", c.want)
				}
				if strings.Contains(c.want, "larger") && !strings.Contains(msg, "4096-byte") {
					t.Errorf("error %q does not name the limit", msg)
				}
			})
		}
	}
}

// TestReadNamedPipes: an anonymous pipe (a shell's <(…)) is read to its
// end where the kind reads pipes, bounded by its limit; refused where it
// does not.
func TestReadNamedPipes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		k    Named
		data string
		want string
	}{
		{Named{What: "profile", Limit: 64, Pipe: true}, "version: 1\n", ""},
		{Named{What: "profile", Limit: 64, Pipe: true}, strings.Repeat("x", 65), "larger than the 64-byte read limit"},
		{Named{What: "plan file", Limit: 64}, "{}", "is a FIFO, not a regular file"},
	} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		go func() { w.WriteString(c.data); w.Close() }()
		name := "/proc/self/fd/" + strconv.Itoa(int(r.Fd()))
		b, err := readNamedSoon(t, name, c.k)
		r.Close()
		switch {
		case c.want == "" && (err != nil || string(b) != c.data):
			t.Errorf("%s from a pipe: %q, %v", c.k.What, b, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s from a pipe: %v, want %q", c.k.What, err, c.want)
		}
	}
}

// TestReadNamedGrows: a file within the limit when checked that grows
// past it before it is read is refused, not read to its end. (Not
// parallel: the hook is the package's.)
func TestReadNamedGrows(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "growing")
	os.WriteFile(p, []byte("version: 1\n"), 0o644)
	testHookNamedRead = func(string) {
		f, _ := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		f.Write(make([]byte, 8192))
		f.Close()
	}
	defer func() { testHookNamedRead = nil }()
	_, err := ReadNamed(p, Named{What: "profile", Limit: 4096})
	if err == nil || !strings.Contains(err.Error(), "larger than the 4096-byte read limit") || !strings.Contains(err.Error(), p) {
		t.Fatalf("a file that grew past the limit: %v", err)
	}
}

// TestReadNamedUnreadable: a file the user may not read is refused naming
// it (as root, which reads anything, there is nothing to test here: the
// CLI's test runs the binary as nobody).
func TestReadNamedUnreadable(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root reads a mode 000 file; cmd/ezedge-host's test runs as nobody")
	}
	p := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(p, []byte("x"), 0)
	if _, err := ReadNamed(p, Named{What: "profile", Limit: 64}); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("unreadable: %v", err)
	}
}
