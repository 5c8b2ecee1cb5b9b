package configtxt

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

var pi4 = Model{Known: true, Yes: []string{"pi4"}}

func files(m map[string]string) Reader {
	return func(name string) ([]byte, error) {
		if s, ok := m[name]; ok {
			return []byte(s), nil
		}
		return nil, fs.ErrNotExist
	}
}

func TestEval(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		files map[string]string
		board Model
		want  string // value@line, "unsure <section>" or "" for unset
	}{
		{"unset", map[string]string{"/b/config.txt": "arm_64bit=1\n"}, pi4, ""},
		{"last wins", map[string]string{"/b/config.txt": "cmdline=a.txt\ncmdline=b.txt\n"}, pi4, "b.txt@/b/config.txt:2"},
		{"other model", map[string]string{"/b/config.txt": "cmdline=a.txt\n[pi5]\ncmdline=b.txt\n"}, pi4, "a.txt@/b/config.txt:1"},
		{"own model", map[string]string{"/b/config.txt": "[pi3]\ncmdline=c.txt\n[pi4]\ncmdline=b.txt\n[all]\n"}, pi4, "b.txt@/b/config.txt:4"},
		{"model replaces model", map[string]string{"/b/config.txt": "[pi5]\n[pi4]\ncmdline=b.txt\n"}, pi4, "b.txt@/b/config.txt:3"},
		{"unknown board", map[string]string{"/b/config.txt": "cmdline=a.txt\n[pi6]\ncmdline=b.txt\n"}, pi4, "a.txt@/b/config.txt:1"},
		{"unknown board, board unknown", map[string]string{"/b/config.txt": "[pi6]\ncmdline=b.txt\n"}, Model{}, "unsure [pi6]"},
		{"none", map[string]string{"/b/config.txt": "[none]\ncmdline=b.txt\n"}, pi4, ""},
		{"all resets none", map[string]string{"/b/config.txt": "[none]\ncmdline=b.txt\n[all]\ncmdline=c.txt"}, pi4, "c.txt@/b/config.txt:4"},
		{"monitor decides", map[string]string{"/b/config.txt": "cmdline=a.txt\n[EDID=DEL-DELL_U2422H]\ncmdline=b.txt\n[all]\n"}, pi4, "unsure [EDID=DEL-DELL_U2422H]"},
		{"monitor agrees", map[string]string{"/b/config.txt": "cmdline=a.txt\n[EDID=X]\ncmdline=a.txt\n[all]\n"}, pi4, "a.txt@/b/config.txt:1"},
		{"monitor then certain", map[string]string{"/b/config.txt": "[gpio4=1]\ncmdline=b.txt\n[all]\ncmdline=c.txt\n"}, pi4, "c.txt@/b/config.txt:4"},
		{"filters combine", map[string]string{"/b/config.txt": "[EDID=X]\n[pi5]\ncmdline=b.txt\n"}, pi4, ""},
		{"hdmi port scopes only hdmi", map[string]string{"/b/config.txt": "[HDMI:1]\ncmdline=b.txt\n"}, pi4, "b.txt@/b/config.txt:2"},
		{"variant unknown", map[string]string{"/b/config.txt": "[pi400]\ncmdline=b.txt\n"}, Model{Known: true, Yes: []string{"pi4"}, Maybe: []string{"pi400"}}, "unsure [pi400]"},
		{"board unknown", map[string]string{"/b/config.txt": "[pi4]\ncmdline=b.txt\n"}, Model{}, "unsure [pi4]"},
		{"include in place", map[string]string{"/b/config.txt": "cmdline=a.txt\ninclude sys.txt\n", "/b/sys.txt": "cmdline=s.txt\n"}, pi4, "s.txt@/b/sys.txt:1"},
		{"include later overridden", map[string]string{"/b/config.txt": "include sys.txt\ncmdline=a.txt\n", "/b/sys.txt": "cmdline=s.txt\n"}, pi4, "a.txt@/b/config.txt:2"},
		{"include under other model", map[string]string{"/b/config.txt": "[pi5]\ninclude sys.txt\n", "/b/sys.txt": "cmdline=s.txt\n"}, pi4, ""},
		{"include missing", map[string]string{"/b/config.txt": "include gone.txt\ncmdline=a.txt\n"}, pi4, "a.txt@/b/config.txt:2"},
		{"include cycle", map[string]string{"/b/config.txt": "include config.txt\ncmdline=a.txt\n"}, pi4, "a.txt@/b/config.txt:2"},
		{"comment, CRLF, trailing space", map[string]string{"/b/config.txt": "#cmdline=x\r\ncmdline=a.txt  \r\n"}, pi4, "a.txt@/b/config.txt:2"},
		{"not a key", map[string]string{"/b/config.txt": "cmdline_x=a\nxcmdline=b\n"}, pi4, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Eval(files(c.files), "/b/config.txt", c.board, "cmdline")
			if err != nil {
				t.Fatal(err)
			}
			s, ok := got["cmdline"]
			var have string
			switch {
			case !ok:
			case s.Unsure != "":
				have = "unsure " + s.Unsure
			default:
				have = s.Value + "@" + s.Where()
			}
			if have != c.want {
				t.Errorf("got %q, want %q", have, c.want)
			}
		})
	}
}

// TestEvalIncludeBudget: repeated includes multiply (50 × 50 × 50 lines
// here); past maxLines Eval stops with an error naming config.txt rather
// than hang a plan. A file including itself is read once.
func TestEvalIncludeBudget(t *testing.T) {
	t.Parallel()
	m := map[string]string{
		"/b/config.txt": strings.Repeat("include a.txt\n", 50),
		"/b/a.txt":      strings.Repeat("include b.txt\n", 50),
		"/b/b.txt":      strings.Repeat("cmdline=x\n", 50),
	}
	if _, err := Eval(files(m), "/b/config.txt", pi4, "cmdline"); err == nil || !strings.Contains(err.Error(), "/b/config.txt: includes expand to more than") {
		t.Errorf("err = %v", err)
	}
	m = map[string]string{"/b/config.txt": strings.Repeat("include config.txt\n", 30) + "cmdline=a\n"}
	if got, err := Eval(files(m), "/b/config.txt", pi4, "cmdline"); err != nil || got["cmdline"].Line != 31 {
		t.Errorf("self-include: %v %+v", err, got)
	}
}

func TestEvalMissing(t *testing.T) {
	t.Parallel()
	if _, err := Eval(files(nil), "/b/config.txt", pi4, "cmdline"); err == nil {
		t.Fatal("no error for a missing config.txt")
	}
}

// TestCorpus evaluates every real config.txt of the corpus for a Pi 4 and
// a Pi 5, resolving includes to the corpus file of the same distribution.
func TestCorpus(t *testing.T) {
	t.Parallel()
	paths := fixture.CorpusFiles(t, "configtxt")
	byName := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		byName[filepath.Base(p)] = string(b)
	}
	want := map[string]string{
		"ubuntu-focal-server-config.txt": "cmdline.txt@ubuntu-focal-server-syscfg.txt:10",
		"ubuntu-noble-server-config.txt": "cmdline.txt@ubuntu-noble-server-config.txt:4",
		"ubuntu-focal-server-syscfg.txt": "cmdline.txt@ubuntu-focal-server-syscfg.txt:10",
	}
	for _, board := range []Model{pi4, {Known: true, Yes: []string{"pi5"}}} {
		for name := range byName {
			prefix := name[:strings.LastIndex(name, "-")+1]
			read := func(n string) ([]byte, error) {
				if s, ok := byName[n]; ok {
					return []byte(s), nil
				}
				if s, ok := byName[prefix+n]; ok {
					return []byte(s), nil
				}
				return nil, fs.ErrNotExist
			}
			got, err := Eval(read, name, board, "cmdline", "os_prefix")
			if err != nil {
				t.Fatal(err)
			}
			if p, ok := got["os_prefix"]; ok {
				t.Errorf("%s: os_prefix %+v", name, p)
			}
			var have string
			if s, ok := got["cmdline"]; ok {
				// Includes resolve through the distribution prefix.
				f := s.File
				if _, ok := byName[f]; !ok {
					f = prefix + f
				}
				have = fmt.Sprintf("%s@%s:%d", s.Value, f, s.Line)
				if s.Unsure != "" {
					have = "unsure " + s.Unsure
				}
			}
			if have != want[name] {
				t.Errorf("%s on %v: cmdline %q, want %q", name, board.Yes, have, want[name])
			}
		}
	}
	t.Logf("%d corpus config.txt files evaluated for a Pi 4 and a Pi 5", len(byName))
}

func FuzzEval(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(fixture.Testdata(), "*/boot/*config.txt"))
	more, _ := filepath.Glob(filepath.Join(fixture.Testdata(), "*/boot/firmware/config.txt"))
	for _, p := range append(paths, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("cmdline=a\n[EDID=x]\ncmdline=b\n[all]\ninclude config.txt\n[none]\ncmdline=c\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		read := files(map[string]string{"/b/config.txt": string(data)})
		got, err := Eval(read, "/b/config.txt", pi4, "cmdline")
		lines := strings.Split(string(data), "\n")
		if err != nil {
			if len(lines) <= maxLines {
				t.Fatal(err)
			}
			return
		}
		s, ok := got["cmdline"]
		if !ok {
			return
		}
		if s.File != "/b/config.txt" || s.Line < 1 || s.Line > len(lines) || !strings.Contains(lines[s.Line-1], "cmdline="+s.Value) {
			t.Fatalf("setting %+v is not a line of the file %q", s, data)
		}
		if s.Unsure != "" && !strings.Contains(string(data), s.Unsure) {
			t.Fatalf("unsure names %q, not in the file", s.Unsure)
		}
		if !strings.Contains(string(data), "[") && s.Unsure != "" {
			t.Fatalf("unsure without a section: %+v", s)
		}
	})
}
