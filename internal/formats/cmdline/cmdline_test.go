package cmdline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

var zswap = []Arg{{Key: "zswap.enabled", Value: "1"}, {Key: "zswap.compressor", Value: "lz4"}}

func TestEdit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		args []Arg
		want string
	}{
		{"root=/dev/sda1 quiet", zswap, "root=/dev/sda1 quiet zswap.enabled=1 zswap.compressor=lz4"},
		{"root=/dev/sda1 zswap.enabled=0  quiet ", zswap, "root=/dev/sda1 zswap.enabled=1  quiet zswap.compressor=lz4 "},
		{"a zswap.enabled=0 b zswap.enabled=1", zswap[:1], "a zswap.enabled=1 b zswap.enabled=1"},
		{`dyndbg="file x +p" root=x`, []Arg{{Key: "intel_pstate", Value: "disable"}}, `dyndbg="file x +p" root=x intel_pstate=disable`},
		{"root=x intel_pstate=disable quiet", []Arg{{Key: "intel_pstate", Absent: true}}, "root=x quiet"},
		{"intel_pstate=disable root=x", []Arg{{Key: "intel_pstate", Absent: true}}, "root=x"},
		{"", zswap[:1], "zswap.enabled=1"},
	}
	for _, c := range cases {
		if got := Edit(c.in, c.args); got != c.want {
			t.Errorf("Edit(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := Edit(c.want, c.args); got != c.want {
			t.Errorf("second Edit(%q) changed it: %q", c.want, got)
		}
	}
	if toks := Tokenize(`a dyndbg="x y" b`); len(toks) != 3 || toks[1].Key != "dyndbg" || toks[1].Value != `"x y"` {
		t.Errorf("quoted token: %+v", toks)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	if err := Check("root=x", "  "); err == nil {
		t.Error("empty accepted")
	}
	if err := Check("root=x a", "a"); err == nil {
		t.Error("losing root= accepted")
	}
	if err := Check("root=x", "root=x "+strings.Repeat("a", MaxLen)); err == nil {
		t.Error("over-long accepted")
	}
}

// others lists a line's tokens that are not ours, as written.
func others(line string, ours []Arg) []string {
	var out []string
	for _, tk := range Tokenize(line) {
		own := false
		for _, a := range ours {
			own = own || tk.Key == a.Key
		}
		if !own {
			out = append(out, line[tk.Start:tk.End])
		}
	}
	return out
}

// TestCorpusCmdline: every real cmdline.txt is edited on its first line
// only, touching only our tokens; a second edit changes nothing; the
// Bookworm stub (also after Ansible appended to it) is refused.
func TestCorpusCmdline(t *testing.T) {
	t.Parallel()
	files := fixture.CorpusFiles(t, "cmdline")
	edited := 0
	for _, p := range files {
		name := filepath.Base(p)
		orig, _ := os.ReadFile(p)
		out, warn, err := EditPiFile(orig, zswap)
		if strings.Contains(name, "stub") {
			if err == nil {
				t.Errorf("%s: stub edited", name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		edited++
		l0, r0 := FirstLine(orig)
		l1, r1 := FirstLine(out)
		if r0 != r1 {
			t.Errorf("%s: bytes after the first line changed", name)
		}
		if strings.Join(others(l0, zswap), "\x00") != strings.Join(others(l1, zswap), "\x00") {
			t.Errorf("%s: tokens not ours changed:\n%q\n%q", name, l0, l1)
		}
		for _, a := range zswap {
			if !Holds(l1, a) {
				t.Errorf("%s: %s does not hold after the edit: %q", name, a, l1)
			}
		}
		if again, _, _ := EditPiFile(out, zswap); string(again) != string(out) {
			t.Errorf("%s: second edit changed the file", name)
		}
		if strings.TrimSpace(r0) != "" && len(warn) == 0 {
			t.Errorf("%s: several lines, no warning", name)
		}
	}
	t.Logf("%d cmdline files, %d edited", len(files), edited)
}

// TestCorpusGrub: every real GRUB defaults file or fragment is either
// edited in place (our tokens hold when evaluated, other lines untouched,
// a second edit changes nothing) or refused with a reason; drop-ins
// evaluate with ours appended.
func TestCorpusGrub(t *testing.T) {
	t.Parallel()
	files := fixture.CorpusFiles(t, "grub")
	edited, refused := 0, 0
	for _, p := range files {
		name := filepath.Base(p)
		orig, _ := os.ReadFile(p)
		if strings.HasSuffix(name, ".cfg") {
			drop := GrubDropIn("# ours\n", zswap, nil)
			vars, err := EvalGrub([]string{name, "ours"}, [][]byte{orig, drop})
			if err != nil {
				t.Logf("%s: not evaluated: %v", name, err)
				continue
			}
			for _, a := range zswap {
				if !Holds(Kernel(vars), a) {
					t.Errorf("%s + drop-in: %s does not hold in %q", name, a, Kernel(vars))
				}
			}
			continue
		}
		out, err := EditGrubDefault(orig, zswap)
		if err != nil {
			refused++
			t.Logf("%s: refused: %v", name, err)
			continue
		}
		edited++
		ol, nl := strings.Split(string(orig), "\n"), strings.Split(string(out), "\n")
		changed := 0
		for i := range ol {
			if i < len(nl) && ol[i] != nl[i] {
				changed++
				if !strings.Contains(ol[i], "GRUB_CMDLINE_LINUX") && !(i == len(ol)-1 && ol[i] == "") {
					t.Errorf("%s:%d: a line that is not GRUB_CMDLINE_LINUX changed: %q", name, i+1, nl[i])
				}
			}
		}
		if changed > 2 || len(nl) > len(ol)+2 {
			t.Errorf("%s: %d lines changed, %d added", name, changed, len(nl)-len(ol))
		}
		if again, _ := EditGrubDefault(out, zswap); string(again) != string(out) {
			t.Errorf("%s: second edit changed the file", name)
		}
		if vars, err := EvalGrub([]string{name}, [][]byte{out}); err == nil {
			for _, a := range zswap {
				if !Holds(Kernel(vars), a) {
					t.Errorf("%s: %s does not hold in %q", name, a, Kernel(vars))
				}
			}
		}
	}
	t.Logf("%d grub files: %d edited in place, %d refused", len(files), edited, refused)
}

func TestEvalGrub(t *testing.T) {
	t.Parallel()
	base := []byte("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash\"\nGRUB_CMDLINE_LINUX='a b'\n# GRUB_CMDLINE_LINUX=\"commented\"\n")
	drop := []byte("GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX c=\\\"d\\\"\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"${GRUB_CMDLINE_LINUX_DEFAULT} e\"\n")
	vars, err := EvalGrub([]string{"grub", "drop"}, [][]byte{base, drop})
	if err != nil {
		t.Fatal(err)
	}
	if got := Kernel(vars); got != `a b c="d" quiet splash e` {
		t.Errorf("kernel = %q", got)
	}
	if _, err := EvalGrub([]string{"x"}, [][]byte{[]byte("GRUB_CMDLINE_LINUX=\"$(cat /etc/x)\"\n")}); err == nil || !strings.Contains(err.Error(), "x:1") {
		t.Errorf("command substitution: %v", err)
	}
}
