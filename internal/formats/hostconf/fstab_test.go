package hostconf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

func TestRootNoatime(t *testing.T) {
	for _, c := range []struct {
		name, in, want, err string
	}{
		{"raspios", "proc /proc proc defaults 0 0\nPARTUUID=e8af6eb2-02  /               ext4    defaults,noatime  0       1\n", "", ""},
		{"append", "LABEL=RASPIROOT / ext4 rw 0 1\n", "LABEL=RASPIROOT / ext4 rw,noatime 0 1\n", ""},
		{"tabs kept", "# c\n\nUUID=x\t/\text4\terrors=remount-ro\t0\t1\n/dev/sdb /srv xfs defaults 0 2\n", "# c\n\nUUID=x\t/\text4\terrors=remount-ro,noatime\t0\t1\n/dev/sdb /srv xfs defaults 0 2\n", ""},
		{"relatime replaced", "/dev/root / ext4 rw,relatime,errors=remount-ro 0 1\n", "/dev/root / ext4 rw,noatime,errors=remount-ro 0 1\n", ""},
		{"strictatime replaced", "/dev/root / ext4 strictatime 0 1", "/dev/root / ext4 noatime 0 1", ""},
		{"no trailing newline", "/dev/root / ext4 defaults", "/dev/root / ext4 defaults,noatime", ""},
		{"escaped other lines", "/dev/sdb /mnt/my\\040disk ext4 defaults 0 2\n/dev/root / ext4 defaults 0 1\n", "/dev/sdb /mnt/my\\040disk ext4 defaults 0 2\n/dev/root / ext4 defaults,noatime 0 1\n", ""},
		{"crlf elsewhere", "# windows\r\n/dev/root / ext4 defaults 0 1\n", "# windows\r\n/dev/root / ext4 defaults,noatime 0 1\n", ""},
		{"no root", "proc /proc proc defaults 0 0\n", "", "no entry mounts /"},
		{"commented root", "#/dev/root / ext4 defaults 0 1\n", "", "no entry mounts /"},
		{"two roots", "/dev/a / ext4 defaults 0 1\n# x\n/dev/b / btrfs defaults 0 1\n", "", "lines 1, 3 all mount /"},
		{"crlf", "/dev/root / ext4 defaults 0 1\r\n", "", "line 1 (the entry for /): ends in a carriage return"},
		{"quoted", "LABEL=\"my root\" / ext4 defaults 0 1\n", "", "quote"},
		{"bad escape", "/dev/ro\\ot / ext4 defaults 0 1\n", "", "backslash"},
		{"escaped slash", "/dev/root \\057 ext4 defaults 0 1\n", "", "written with escapes"},
		{"continued", "/dev/root / ext4 defaults \\\n 0 1\n", "", "continuation"},
		{"after continuation", "/dev/sdb /srv xfs defaults \\\n/dev/root / ext4 defaults 0 1\n", "", "line 2"},
		{"no options", "/dev/root / ext4\n", "", "no options field"},
		{"seven fields", "/dev/root / ext4 defaults 0 1 x\n", "", "7 fields"},
		{"empty option", "/dev/root / ext4 defaults,,rw 0 1\n", "", "empty option"},
		{"two atime", "/dev/root / ext4 relatime,strictatime 0 1\n", "", "atime options relatime, strictatime"},
		{"noatime overridden", "/dev/root / ext4 noatime,relatime 0 1\n", "", "atime options noatime, relatime"},
		{"norelatime", "/dev/root / ext4 norelatime 0 1\n", "", "norelatime"},
		{"nul", "/dev/root / ext4 def\x00aults 0 1\n", "", "control character"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := RootNoatime([]byte(c.in))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one with %q", err, c.err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error of more than one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := string(e.Apply([]byte(c.in)))
			if c.want == "" {
				if !e.Noop() || got != c.in {
					t.Fatalf("want no change, got %q", got)
				}
				return
			}
			if got != c.want {
				t.Fatalf("got  %q\nwant %q", got, c.want)
			}
			if again, err := RootNoatime([]byte(got)); err != nil || !again.Noop() {
				t.Fatalf("edit not idempotent: %v %+v", err, again)
			}
		})
	}
	if _, err := RootNoatime([]byte("proc /proc proc defaults 0 0\n")); !errors.Is(err, ErrNoRootEntry) {
		t.Fatalf("no root entry: %v", err)
	}
}

func TestFstabMounts(t *testing.T) {
	b := []byte("# tmpfs /tmp tmpfs defaults 0 0\n/dev/root / ext4 defaults 0 1\ntmpfs\t/tmp\ttmpfs\tsize=1G 0 0\n")
	if got := FstabMounts(b, "/tmp"); len(got) != 1 || got[0] != 3 {
		t.Fatalf("FstabMounts = %v, want [3]", got)
	}
}

// checkNoatime is the editor's promise for any input: refused, or an edit
// that changes the root's line alone, that undoing gives the input back
// byte for byte, and that a second edit leaves alone.
func checkNoatime(t *testing.T, data []byte) {
	e, err := RootNoatime(data)
	if err != nil {
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("error of more than one line: %q", err)
		}
		return
	}
	out := e.Apply(data)
	undone := append(append(append([]byte{}, out[:e.Start]...), e.Old...), out[e.Start+len(e.New):]...)
	if !bytes.Equal(undone, data) {
		t.Fatalf("undoing the edit does not give the input back:\n%q\n%q", undone, data)
	}
	in, got := strings.Split(string(data), "\n"), strings.Split(string(out), "\n")
	if len(in) != len(got) {
		t.Fatalf("the edit changed the number of lines: %d -> %d", len(in), len(got))
	}
	for i := range in {
		if i != e.Line-1 && in[i] != got[i] {
			t.Fatalf("line %d changed (root is line %d): %q -> %q", i+1, e.Line, in[i], got[i])
		}
	}
	again, err := RootNoatime(out)
	if err != nil || !again.Noop() {
		t.Fatalf("a second edit is not a no-op: %v %+v\n%q", err, again, out)
	}
}

func FuzzRootNoatime(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(fixture.Testdata(), "*/etc/fstab"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("/dev/root / ext4 rw,relatime 0 1"))
	f.Add([]byte("a /\\040b ext4 x 0 0\n/dev/r\t/ ext4 strictatime,ro\t0 1\r\n"))
	f.Fuzz(checkNoatime)
}

// TestCorpusFstab runs the editor's promise over the real fstab files of
// the corpus, when it has any.
func TestCorpusFstab(t *testing.T) {
	n := 0
	for _, p := range fixture.CorpusFiles(t, "fstab") {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		checkNoatime(t, b)
		n++
	}
	t.Logf("%d corpus fstab files checked", n)
}

func TestParseJournald(t *testing.T) {
	b := []byte("[Journal]\n#Storage=auto\nStorage=persistent\r\n; x\n[Other]\nStorage=volatile\n[Journal]\nSystemMaxUse=1\\\n00M\n")
	got := ParseJournald("/etc/systemd/journald.conf", b, false)
	if len(got) != 2 || got[0].Line != 3 || got[0].Value != "persistent" || got[1].Key != "SystemMaxUse" || got[1].Line != 8 {
		t.Fatalf("ParseJournald = %+v", got)
	}
}
