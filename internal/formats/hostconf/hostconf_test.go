package hostconf

import (
	"github.com/ezansiedgeai/ezedge-host/internal/oracle"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

func TestParseUdevRules(t *testing.T) {
	t.Parallel()
	src := "# comment\n" +
		"KERNEL==\"nvme[0-9]*n[0-9]*\", SUBSYSTEM==\"block\",\\\n  ATTR{queue/nr_requests}=\"1023\"\n" +
		"\n" +
		"ENV{X}!==\"typo\", ATTR{a}=\"1\"\n" +
		"ACTION==\"change\",KERNEL==\"zram0\", SYSCTL{vm.swappiness}=\"150\", RUN+=\"/bin/sh -c 'echo \\\"N\\\" > /x'\"\r\n"
	rules, bad := ParseUdevRules([]byte(src))
	want := []UdevRule{
		{Line: 2, Match: []UdevKey{{"KERNEL", "", "==", "nvme[0-9]*n[0-9]*"}, {"SUBSYSTEM", "", "==", "block"}},
			Assign: []UdevKey{{"ATTR", "queue/nr_requests", "=", "1023"}}},
		{Line: 6, Match: []UdevKey{{"ACTION", "", "==", "change"}, {"KERNEL", "", "==", "zram0"}},
			Assign: []UdevKey{{"SYSCTL", "vm.swappiness", "=", "150"}, {"RUN", "", "+=", `/bin/sh -c 'echo \"N\" > /x'`}}},
	}
	if !reflect.DeepEqual(rules, want) {
		t.Errorf("rules:\n%+v\nwant\n%+v", rules, want)
	}
	if !reflect.DeepEqual(bad, []int{5}) {
		t.Errorf("bad = %v, want [5]", bad)
	}
}

// TestCorpusUdevRules reads every real rules file of the corpus: each rule
// is read whole except Raspberry Pi OS's one real "!==" typo, which udev
// itself rejects.
func TestCorpusUdevRules(t *testing.T) {
	t.Parallel()
	var files, rules int
	paths := append(fixture.CorpusFiles(t, "udev"), fixture.CorpusFiles(t, "rfkill")...)
	for _, p := range paths {
		if !strings.HasSuffix(p, ".rules") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rs, bad := ParseUdevRules(b)
		files++
		rules += len(rs)
		wantBad := 0
		if strings.Contains(string(b), `!==`) {
			wantBad = strings.Count(string(b), `!==`)
		}
		if len(bad) != wantBad {
			t.Errorf("%s: unreadable lines %v", filepath.Base(p), bad)
		}
		if len(rs) == 0 {
			t.Errorf("%s: no rules read", filepath.Base(p))
		}
		for _, r := range rs {
			for _, k := range append(r.Match, r.Assign...) {
				if k.Key == "" || k.Op == "" {
					t.Errorf("%s:%d: key %+v", filepath.Base(p), r.Line, k)
				}
			}
		}
	}
	t.Logf("%d corpus rules files, %d rules", files, rules)
}

func TestCorpusTmpfiles(t *testing.T) {
	t.Parallel()
	n := 0
	for _, p := range fixture.CorpusFiles(t, "udev") {
		if !strings.Contains(filepath.Base(p), "tmpfiles") {
			continue
		}
		b, _ := os.ReadFile(p)
		lines, bad := ParseTmpfiles(b)
		if len(bad) > 0 || len(lines) == 0 {
			t.Errorf("%s: %d lines, bad %v", filepath.Base(p), len(lines), bad)
		}
		for _, l := range lines {
			if !l.writes() || !strings.HasPrefix(l.Path, "/sys/") || l.Argument == "" || strings.ContainsAny(l.Argument, "\t") {
				t.Errorf("%s:%d: %+v", filepath.Base(p), l.Line, l)
			}
		}
		n++
	}
	if n == 0 {
		t.Error("no tmpfiles.d file in the corpus")
	}
	t.Logf("%d corpus tmpfiles.d files", n)
}

func TestParseTmpfiles(t *testing.T) {
	t.Parallel()
	lines, bad := ParseTmpfiles([]byte("w! /sys/a - - - - defer+madvise\n\"q\"\nw \"/sys/with space\" - - - - 4096 8192\nd /run/x 0755 root root -\n#w /c\n"))
	want := []TmpfilesLine{
		{Line: 1, Type: "w!", Path: "/sys/a", Argument: "defer+madvise"},
		{Line: 3, Type: "w", Path: "/sys/with space", Argument: "4096 8192"},
		{Line: 4, Type: "d", Path: "/run/x"},
	}
	if !reflect.DeepEqual(lines, want) || !reflect.DeepEqual(bad, []int{2}) {
		t.Errorf("got %+v bad %v", lines, bad)
	}
}

func FuzzParseUdevRules(f *testing.F) {
	f.Add([]byte("KERNEL==\"sd*\", \\\n ATTR{queue/nr_requests}=\"1023\"\n"))
	f.Add([]byte("ENV{X}!==\"y\"\nRUN+=e\"a\\\"b\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, bad := ParseUdevRules(data)
		lines := strings.Count(string(data), "\n") + 1
		for _, r := range rules {
			if r.Line < 1 || r.Line > lines {
				t.Fatalf("rule at line %d of %d", r.Line, lines)
			}
			for _, k := range append(r.Match, r.Assign...) {
				if k.Key == "" || k.Op == "" {
					t.Fatalf("key %+v", k)
				}
			}
		}
		for _, b := range bad {
			if b < 1 || b > lines {
				t.Fatalf("bad line %d of %d", b, lines)
			}
		}
	})
}

func FuzzParseTmpfiles(f *testing.F) {
	f.Add([]byte("w /sys/kernel/mm/transparent_hugepage/enabled - - - - always\n"))
	f.Add([]byte("w! \"/a b\" - - - - x y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, bad := ParseTmpfiles(data)
		content := 0
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(strings.TrimRight(l, "\r")); l != "" && l[0] != '#' {
				content++
			}
		}
		if len(lines)+len(bad) != content {
			t.Fatalf("%d lines + %d bad != %d content lines", len(lines), len(bad), content)
		}
	})
}

// BenchmarkParseUdevContinuations: 20 000 continued lines (320 KB) in one
// rule. Joining them by concatenation took ~1 s (quadratic); plan reads
// every rules file on the host.
func BenchmarkParseUdevContinuations(b *testing.B) {
	data := []byte(strings.Repeat("ATTR{a}=\"1\", \\\n", 20000))
	for b.Loop() {
		ParseUdevRules(data)
	}
}

// tmpfilesSpellings are w lines, each writing a value of its own to a
// file of /t: every way of spelling its path, and lines systemd-tmpfiles
// ignores (a relative path, a host-dependent specifier, bad quoting, a
// ".." component).
var tmpfilesSpellings = []struct{ line, file, value string }{
	{`w /t/f0 - - - - v0`, "/t/f0", "v0"},
	{`w /t//f1 - - - - v1`, "/t/f1", "v1"},
	{`w /t/./f2 - - - - v2`, "/t/f2", "v2"},
	{`w "/t/f3" - - - - v3`, "/t/f3", "v3"},
	{`w '/t/f4' - - - - v4`, "/t/f4", "v4"},
	{`w /t/\x66\x35 - - - - v5`, "/t/x66x35", "v5"},
	{`w /t/"f"6 - - - - v6`, "/t/f6", "v6"},
	{`w "/t/f 7" - - - - v7`, "/t/f 7", "v7"},
	{`w /t/f\s8 - - - - v8`, "/t/fs8", "v8"},
	{`w ///t///f9/ - - - - v9`, "/t/f9", "v9"},
	{`w /t/f%%10 - - - - v10`, "/t/f%10", "v10"},
	{`w t/f11 - - - - v11`, "", ""},
	{`w /t/f12%m - - - - v12`, "", ""},
	{`w "/t/f13 - - - - v13`, "", ""},
	{`w /t/f14\q - - - - v14`, "/t/f14q", "v14"},
	{`w /t/../t/f15 - - - - v15`, "", ""},
	{`w /t/f16\`, "", ""},
	{`w /t/f17 - - - - v\x31\s7%%`, "/t/f17", "v1 7%"},
	{`w /t/f18\ - - - - - v18`, "/t/f18 -", "v18"},
}

// TestTmpfilesSpellings: the file each line writes, as we read it, is the
// file systemd-tmpfiles writes (run with --root on a root of the test's
// own, when installed).
func TestTmpfilesSpellings(t *testing.T) {
	t.Parallel()
	var conf strings.Builder
	for _, c := range tmpfilesSpellings {
		conf.WriteString(c.line + "\n")
	}
	lines, bad := ParseTmpfiles([]byte(conf.String()))
	got := map[int]string{}
	for _, l := range lines {
		got[l.Line] = l.Path
		if want := tmpfilesSpellings[l.Line-1].value; l.Argument != want {
			t.Errorf("line %d: argument %q, want %q", l.Line, l.Argument, want)
		}
	}
	for i, c := range tmpfilesSpellings {
		if got[i+1] != c.file {
			t.Errorf("%s: path %q (bad lines %v), want %q", c.line, got[i+1], bad, c.file)
		}
	}
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "t"), 0o755)
	for _, c := range tmpfilesSpellings {
		if c.file != "" {
			os.WriteFile(filepath.Join(root, path.Clean(c.file)), nil, 0o644)
		}
	}
	for _, f := range []string{"f11", "f12", "f13", "f15", "f16"} {
		os.WriteFile(filepath.Join(root, "t", f), nil, 0o644)
	}
	log := oracle.TmpfilesCreate(t, root, conf.String())
	for _, c := range tmpfilesSpellings {
		if c.file == "" {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(root, path.Clean(c.file)))
		if string(b) != c.value {
			t.Errorf("%s: systemd-tmpfiles wrote %q to %s, want %q\n%s", c.line, b, c.file, c.value, log)
		}
	}
	// The files of the lines it ignores are left empty.
	for _, f := range []string{"f11", "f12", "f13", "f15", "f16"} {
		if b, err := os.ReadFile(filepath.Join(root, "t", f)); err == nil && len(b) > 0 {
			t.Errorf("systemd-tmpfiles wrote %q to /t/%s, a line we read as ignored", b, f)
		}
	}
}
