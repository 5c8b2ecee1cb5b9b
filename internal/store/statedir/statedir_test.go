package statedir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

func root(t *testing.T) (string, *hostroot.Root) {
	t.Helper()
	dir := t.TempDir()
	h, err := hostroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return dir, h
}

// TestEnsure: the directory and its subdirectories are made 0700; one too
// open is tightened; a link or a file at its place is refused, and Check
// says what Ensure would do without doing it.
func TestEnsure(t *testing.T) {
	t.Parallel()
	dir, h := root(t)
	if w, err := Check(h, "snapshots"); err != nil || len(w) != 0 {
		t.Fatalf("Check of a missing directory: %v %v", w, err)
	}
	if err := Ensure(h, "snapshots"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{Dir, Path("snapshots")} {
		st, err := os.Stat(filepath.Join(dir, d))
		if err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v", d, st, err)
		}
	}
	os.Chmod(filepath.Join(dir, Dir), 0o755)
	if w, err := Check(h); err != nil || len(w) != 1 || !strings.Contains(w[0], "mode 0755") {
		t.Errorf("Check of an open directory: %v %v", w, err)
	}
	if st, _ := os.Stat(filepath.Join(dir, Dir)); st.Mode().Perm() != 0o755 {
		t.Error("Check changed the mode")
	}
	if err := Ensure(h); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(dir, Dir)); st.Mode().Perm() != 0o700 {
		t.Errorf("Ensure left mode %v", st.Mode())
	}
}

// TestUntrusted: a symbolic link or a file where the directory should be
// is refused by Ensure and by Check, naming it.
func TestUntrusted(t *testing.T) {
	t.Parallel()
	for name, plant := range map[string]func(string) error{
		"link": func(p string) error { return os.Symlink("/tmp", p) },
		"file": func(p string) error { return os.WriteFile(p, nil, 0o600) },
	} {
		dir, h := root(t)
		os.MkdirAll(filepath.Join(dir, "var/lib"), 0o755)
		if err := plant(filepath.Join(dir, Dir)); err != nil {
			t.Fatal(err)
		}
		if err := Ensure(h); err == nil || !strings.Contains(err.Error(), Dir) {
			t.Errorf("%s: Ensure: %v", name, err)
		}
		if _, err := Check(h); err == nil {
			t.Errorf("%s: Check accepted it", name)
		}
	}
}

// TestTidy removes what crashes left (.NAME.ezedge-tmp) in the directory
// and those directly inside it, nothing else.
func TestTidy(t *testing.T) {
	t.Parallel()
	dir, h := root(t)
	if err := Ensure(h, "snapshots"); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, Dir)
	for _, p := range []string{".lock.ezedge-tmp", "snapshots/.x.ezedge-tmp", "keep", "snapshots/keep.ezedge-tmp", "snapshots/.keep"} {
		os.WriteFile(filepath.Join(base, p), nil, 0o600)
	}
	Tidy(h)
	for p, want := range map[string]bool{".lock.ezedge-tmp": false, "snapshots/.x.ezedge-tmp": false, "keep": true, "snapshots/keep.ezedge-tmp": true, "snapshots/.keep": true} {
		if _, err := os.Stat(filepath.Join(base, p)); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", p, err == nil, want)
		}
	}
}
