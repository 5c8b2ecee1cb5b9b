package hostconf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/oracle"
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
		// / written as every reader reads it is the root's line.
		{"double slash", "/dev/root // ext4 rw 0 1\n", "/dev/root // ext4 rw,noatime 0 1\n", ""},
		{"dot", "/dev/root /. ext4 rw 0 1\n", "/dev/root /. ext4 rw,noatime 0 1\n", ""},
		{"trailing dot slash", "/dev/root\t/./\text4\trelatime\t0 1\n", "/dev/root\t/./\text4\tnoatime\t0 1\n", ""},
		{"two spellings", "/dev/a / ext4 defaults 0 1\n/dev/b // ext4 defaults 0 1\n", "", "lines 1, 2 all mount /"},
		{"dot dot", "/dev/root /.. ext4 defaults 0 1\n", "", "may or may not be /"},
		{"up and back", "/dev/root /boot/.. ext4 defaults 0 1\n", "", "may or may not be /"},
		{"escaped slash libmount only", "/dev/root /\\057 ext4 defaults 0 1\n", "", "written with escapes"},
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

// fstabLines are fstab lines, each mounting a different place, with the
// unit systemd-fstab-generator makes of each ("" for none) in the root
// fstabRoot builds: every spelling of a path, escapes each reader decodes
// differently, links in the mount point, lines it skips.
var fstabLines = []struct{ line, unit string }{
	{"/dev/a /tmp1/ ext4 defaults 0 0", "tmp1.mount"},
	{"/dev/a //tmp2 ext4 defaults 0 0", "tmp2.mount"},
	{"/dev/a /./tmp3 ext4 defaults 0 0", "tmp3.mount"},
	{"/dev/a /tmp4/. ext4 defaults 0 0", "tmp4.mount"},
	{"/dev/a\t/tmp5//\text4 defaults 0 0\r", "tmp5.mount"},
	{"/dev/a /var/../tmp6 ext4 defaults 0 0", "tmp6.mount"},
	{"/dev/a /nonexistent/../tmp7 ext4 defaults 0 0", ""},
	{"/dev/a /mnt/v/../tmp8 ext4 defaults 0 0", "tmp8.mount"},
	{"/dev/a /mnt/t/x9 ext4 defaults 0 0", "tmp-x9.mount"},
	{"/dev/a /mnt/dangling/x10 ext4 defaults 0 0", "nowhere-x10.mount"},
	{"/dev/a /mnt/loop/x11 ext4 defaults 0 0", "mnt-loop-x11.mount"},
	{`/dev/a /tmp\04012 ext4 defaults 0 0`, `tmp\x2012.mount`},
	{`/dev/a /t\155p13 ext4 defaults 0 0`, `t\x5c155p13.mount`},
	{`/dev/a /tmp14\134 ext4 defaults 0 0`, `tmp14\x5c.mount`},
	{`/dev/a /tmp15\\ ext4 defaults 0 0`, `tmp15\x5c.mount`},
	{`/dev/a /tmp16\000x ext4 defaults 0 0`, `tmp16\x5c000x.mount`},
	{"/dev/a \"/tmp17\" ext4 defaults 0 0", `\x22-tmp17\x22.mount`},
	{"/dev/a tmp18 ext4 defaults 0 0", ""},
	{"/dev/a /tmp19 swap sw 0 0", ""},
	{"/dev/a /tmp20 autofs defaults 0 0", ""},
	{"  # /dev/a /tmp21 ext4 defaults 0 0", ""},
	{"/dev/a /tmp22 ext4 noauto,x-systemd.automount 0 0", "tmp22.mount"},
	{"/dev/a /" + strings.Repeat("y", 256) + " ext4 defaults 0 0", ""},
	{strings.Repeat("s", 4088) + " /tmp23abc ext4 defaults 0 0", "tmp23.mount"},
	{"/dev/a /tmp24\x00junk ext4 defaults 0 0", "tmp24.mount"},
}

// fstabRoot is a root whose fstab is lines, with the directories and
// links fstabLines refer to.
func fstabRoot(t *testing.T, lines ...string) string {
	root := t.TempDir()
	for _, d := range []string{"etc", "var", "tmp", "mnt", "run"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.Symlink("/tmp", filepath.Join(root, "mnt/t"))
	os.Symlink("../var", filepath.Join(root, "mnt/v"))
	os.Symlink("/nowhere", filepath.Join(root, "mnt/dangling"))
	os.Symlink("loop", filepath.Join(root, "mnt/loop"))
	os.WriteFile(filepath.Join(root, "etc/fstab"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	return root
}

func hostRoot(t *testing.T, dir string) *hostroot.Root {
	h, err := hostroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// TestFstabMounts: the unit each line makes, as systemd-fstab-generator
// reads the file, links in mount points followed inside the root; and
// the same units and mount points as the generator itself makes, run
// chrooted into that root (systemd 252, when installed).
func TestFstabMounts(t *testing.T) {
	t.Parallel()
	var lines []string
	for _, l := range fstabLines {
		lines = append(lines, l.line)
	}
	root := fstabRoot(t, lines...)
	b, _ := os.ReadFile(filepath.Join(root, "etc/fstab"))
	ours := map[string]string{}
	for _, m := range FstabMounts(hostRoot(t, root), b) {
		want := fstabLines[m.Line-1].unit
		if m.Unit != want {
			t.Errorf("line %d %.60q: unit %q (%s), want %q", m.Line, fstabLines[m.Line-1].line, m.Unit, m.Why, want)
		}
		if m.Unit != "" {
			ours[m.Unit] = m.Where.Path
		}
	}
	units, log := oracle.FstabUnits(t, root)
	theirs := map[string]string{}
	for name, body := range units {
		if !strings.HasSuffix(name, ".mount") {
			continue
		}
		for _, l := range strings.Split(body, "\n") {
			if w, ok := strings.CutPrefix(l, "Where="); ok {
				theirs[name] = w
			}
		}
	}
	for u, w := range ours {
		if theirs[u] != w {
			t.Errorf("%s: we read Where=%q, systemd-fstab-generator writes %q", u, w, theirs[u])
		}
	}
	for u := range theirs {
		if _, ok := ours[u]; !ok {
			t.Errorf("systemd-fstab-generator makes %s, we do not\n%s", u, log)
		}
	}
}

// TestFstabTmp: every spelling of /tmp the issue names makes tmp.mount,
// for us and for systemd-fstab-generator, each alone in its fstab.
func TestFstabTmp(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"/tmp", "/tmp/", "//tmp", "/./tmp", "/tmp/.", "/tmp//", "/mnt/t", "/var/../tmp", "/mnt/v/../tmp"} {
		root := fstabRoot(t, "/dev/sdb1 "+dir+" ext4 defaults 0 2")
		b, _ := os.ReadFile(filepath.Join(root, "etc/fstab"))
		ms := FstabMounts(hostRoot(t, root), b)
		if len(ms) != 1 || ms[0].Unit != "tmp.mount" || !ms[0].At("/tmp") {
			t.Errorf("%q: %+v, want tmp.mount", dir, ms)
		}
		if units, log := oracle.FstabUnits(t, root); units["tmp.mount"] == "" {
			t.Errorf("%q: systemd-fstab-generator makes no tmp.mount:\n%s", dir, log)
		}
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
