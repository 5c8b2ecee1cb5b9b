package cmdline

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
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

// setAll sets every arg in data, one key at a time as apply does.
func setAll(data []byte, f Format, args []Arg) ([]byte, error) {
	for _, a := range args {
		var err error
		if data, err = Set(data, f, a.Key, Want{Value: a.Value, Absent: a.Absent}); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// recorded is what a snapshot keeps of each key before an edit.
func recorded(t *testing.T, data []byte, f Format, args []Arg) [][]Found {
	t.Helper()
	var out [][]Found
	for _, a := range args {
		found, err := Find(data, f, a.Key)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, found)
	}
	return out
}

// restoreAll puts every key back as recorded, newest first, as rollback
// does.
func restoreAll(data []byte, f Format, args []Arg, rec [][]Found) ([]byte, error) {
	for i := len(args) - 1; i >= 0; i-- {
		w := Want{PerLine: [][]string{}}
		any := false
		for _, l := range rec[i] {
			w.PerLine = append(w.PerLine, l.Tokens)
			any = any || len(l.Tokens) > 0
		}
		if !any {
			w = Want{Absent: true}
		}
		var err error
		if data, err = Set(data, f, args[i].Key, w); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// TestCorpusCmdline: every real cmdline.txt is edited on its first line
// only, touching only our tokens; a second edit changes nothing; putting
// the recorded values back gives the file's bytes back; the Bookworm stub
// (also after Ansible appended to it) is refused.
func TestCorpusCmdline(t *testing.T) {
	t.Parallel()
	files := fixture.CorpusFiles(t, "cmdline")
	edited := 0
	args := append(slices.Clone(zswap), Arg{Key: "cgroup_enable", Value: "memory"}, Arg{Key: "quiet"})
	for _, p := range files {
		name := filepath.Base(p)
		orig, _ := os.ReadFile(p)
		out, err := setAll(orig, PiCmdline, args)
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
		if strings.Join(others(l0, args), "\x00") != strings.Join(others(l1, args), "\x00") {
			t.Errorf("%s: tokens not ours changed:\n%q\n%q", name, l0, l1)
		}
		for _, a := range args {
			if !Holds(l1, a) {
				t.Errorf("%s: %s does not hold after the edit: %q", name, a, l1)
			}
		}
		if again, _ := setAll(out, PiCmdline, args); string(again) != string(out) {
			t.Errorf("%s: second edit changed the file", name)
		}
		back, err := restoreAll(out, PiCmdline, args, recorded(t, orig, PiCmdline, args))
		if err != nil || string(back) != string(orig) {
			t.Errorf("%s: restore: %v\n%q\n%q", name, err, orig, back)
		}
	}
	t.Logf("%d cmdline files, %d edited", len(files), edited)
}

// TestCorpusGrub: every real GRUB defaults file or fragment is either
// edited in place (our tokens hold when evaluated, other lines untouched,
// a second edit changes nothing, the recorded values put back give the
// bytes back), lacks GRUB_CMDLINE_LINUX (ErrNoLine: the plan adds one), or
// is refused with a reason; drop-ins evaluate with ours appended.
func TestCorpusGrub(t *testing.T) {
	t.Parallel()
	files := fixture.CorpusFiles(t, "grub")
	edited, refused, noLine := 0, 0, 0
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
		prepared, err := PrepareGrub(orig)
		if err != nil {
			refused++
			t.Logf("%s: refused: %v", name, err)
			continue
		}
		if string(prepared) != string(orig) {
			noLine++
		}
		out, err := setAll(prepared, GrubDefaults, zswap)
		if err != nil {
			refused++
			t.Logf("%s: refused: %v", name, err)
			continue
		}
		edited++
		ol, nl := strings.Split(string(prepared), "\n"), strings.Split(string(out), "\n")
		if len(ol) != len(nl) {
			t.Errorf("%s: %d lines became %d", name, len(ol), len(nl))
		}
		for i := range ol {
			if i < len(nl) && ol[i] != nl[i] && !strings.Contains(ol[i], "GRUB_CMDLINE_LINUX") {
				t.Errorf("%s:%d: a line that is not GRUB_CMDLINE_LINUX changed: %q", name, i+1, nl[i])
			}
		}
		if again, _ := setAll(out, GrubDefaults, zswap); string(again) != string(out) {
			t.Errorf("%s: second edit changed the file", name)
		}
		if vars, err := EvalGrub([]string{name}, [][]byte{out}); err == nil {
			for _, a := range zswap {
				if !Holds(Kernel(vars), a) {
					t.Errorf("%s: %s does not hold in %q", name, a, Kernel(vars))
				}
			}
		}
		back, err := restoreAll(out, GrubDefaults, zswap, recorded(t, prepared, GrubDefaults, zswap))
		if err != nil || string(back) != string(prepared) {
			t.Errorf("%s: restore: %v\n%q\n%q", name, err, orig, back)
		}
	}
	t.Logf("%d grub files: %d edited in place, %d of them prepared first (a GRUB_CMDLINE_LINUX added, a bare value quoted), %d refused", len(files), edited, noLine, refused)
}

// debianGrubCfg is grub.cfg as Debian's grub-mkconfig writes it (trimmed):
// a default entry, a submenu with a normal and a recovery entry.
const debianGrubCfg = `### BEGIN /etc/grub.d/10_linux ###
function gfxmode {
	set gfxpayload="${1}"
}
menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --class gnu --class os $menuentry_id_option 'gnulinux-simple-6f1b' {
	load_video
	insmod gzio
	search --no-floppy --fs-uuid --set=root 6f1b
	echo	'Loading Linux 6.1.0-18-amd64 ...'
	linux	/boot/vmlinuz-6.1.0-18-amd64 root=UUID=6f1b ro  quiet
	echo	'Loading initial ramdisk ...'
	initrd	/boot/initrd.img-6.1.0-18-amd64
}
submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-6f1b' {
	menuentry 'Debian GNU/Linux, with Linux 6.1.0-18-amd64' --class debian {
		linux	/boot/vmlinuz-6.1.0-18-amd64 root=UUID=6f1b ro  quiet
		initrd	/boot/initrd.img-6.1.0-18-amd64
	}
	menuentry 'Debian GNU/Linux, with Linux 6.1.0-18-amd64 (recovery mode)' --class debian {
		linux	/boot/vmlinuz-6.1.0-18-amd64 root=UUID=6f1b ro single
		initrd	/boot/initrd.img-6.1.0-18-amd64
	}
}
### END /etc/grub.d/10_linux ###
`

// TestGrubConfig: every linux command of a generated grub.cfg gets the
// argument, nothing else changes, the recorded values put back give the
// bytes back; a linux command grub.cfg's quoting would change is refused.
func TestGrubConfig(t *testing.T) {
	t.Parallel()
	args := append(slices.Clone(zswap), Arg{Key: "quiet"})
	for _, in := range []string{
		debianGrubCfg,
		strings.ReplaceAll(debianGrubCfg, "\tlinux\t", "\tlinux16 "),
		"menuentry x {\n  linux /vmlinuz\n}\n",
		"menuentry x {\n  linuxefi /vmlinuz root=/dev/sda1 $vt_handoff\n}\n",
	} {
		out, err := setAll([]byte(in), GrubConfig, args)
		if err != nil {
			t.Errorf("%v\n%s", err, in)
			continue
		}
		spans, _ := Spans(out, GrubConfig)
		if len(spans) == 0 {
			t.Fatalf("no linux commands in\n%s", out)
		}
		for _, sp := range spans {
			for _, a := range args {
				if !Holds(string(out[sp.Start:sp.End]), a) {
					t.Errorf("%s: %s does not hold: %q", sp.Name, a, out[sp.Start:sp.End])
				}
			}
		}
		ol, nl := strings.Split(in, "\n"), strings.Split(string(out), "\n")
		for i := range ol {
			if ol[i] != nl[i] && !strings.Contains(ol[i], "linux") {
				t.Errorf("line %d changed: %q", i+1, nl[i])
			}
			if ol[i] != nl[i] && !strings.HasPrefix(nl[i], ol[i][:strings.Index(ol[i], "/vmlinuz")]) {
				t.Errorf("line %d: the command or kernel changed: %q", i+1, nl[i])
			}
		}
		back, err := restoreAll(out, GrubConfig, args, recorded(t, []byte(in), GrubConfig, args))
		if err != nil || string(back) != in {
			t.Errorf("restore: %v\n%s\n%s", err, in, back)
		}
	}
	for _, bad := range []string{
		"menuentry x {\n  linux /vmlinuz root=x 'quoted arg'\n}\n",
		"menuentry x {\n  linux /vmlinuz root=x \\\n  quiet\n}\n",
		"menuentry x {\n  linux /vmlinuz root=x; reboot\n}\n",
	} {
		if _, err := setAll([]byte(bad), GrubConfig, zswap); err == nil {
			t.Errorf("edited a linux command it cannot read: %q", bad)
		}
	}
	if _, err := Set([]byte("menuentry x {\n}\n"), GrubConfig, "a", Want{Value: "1"}); !errors.Is(err, ErrNoLine) {
		t.Errorf("grub.cfg without linux commands: %v", err)
	}
}

// TestRestoreRegenerated: a file its generator remade since (the keys
// elsewhere on the line, more command lines than recorded) still has each
// key put back: a value recorded everywhere as one is put back as that.
func TestRestoreRegenerated(t *testing.T) {
	t.Parallel()
	regen := []byte(strings.Replace(debianGrubCfg, "### END", "menuentry 'extra' {\n\tlinux\t/boot/vmlinuz-6.12 root=UUID=6f1b ro zswap.enabled=1 quiet\n}\n### END", 1))
	out, err := setAll(regen, GrubConfig, zswap[:1])
	if err != nil {
		t.Fatal(err)
	}
	back, err := Set(out, GrubConfig, "zswap.enabled", Want{Absent: true})
	if err != nil || strings.Contains(string(back), "zswap") {
		t.Errorf("absent: %v\n%s", err, back)
	}
	// Recorded on one line as 0 and on the other as 1: cannot be put back
	// onto three lines.
	if _, err := Set(out, GrubConfig, "zswap.enabled", Want{PerLine: [][]string{{"0"}, {"1"}}}); err == nil {
		t.Error("a per-line record put back onto other lines")
	}
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

// TestRaspiGenerated: in the cmdline.txt raspi-firmware's hook writes
// ("… rootwait " and the input's contents), an argument is set where the
// hook puts the input's: the file is byte for byte what the hook makes of
// the input edited the same way, and putting it back gives the hook's
// pristine line (with its trailing space) back. A line edited by hand out
// of that shape is edited as a whole command line.
func TestRaspiGenerated(t *testing.T) {
	t.Parallel()
	const pre = "console=tty0 root=/dev/mmcblk0p2 rw fsck.repair=yes net.ifnames=0 cma=64M rootwait "
	hook := func(extra string) string { return pre + strings.TrimRight(extra, "\n") + "\n" }
	args := append(slices.Clone(zswap), Arg{Key: "cgroup_enable", Value: "memory"})
	for _, input := range []string{"", "\n", "quiet\n", "a=1  b\n", "zswap.enabled=0 x\n"} {
		gen := []byte(hook(input))
		in, err := setAll([]byte(input), ExtraArgs, args)
		if err != nil {
			t.Fatal(err)
		}
		out, err := setAll(gen, RaspiGenerated, args)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != hook(string(in)) {
			t.Errorf("input %q: edited %q, the hook makes %q", input, out, hook(string(in)))
		}
		back, err := restoreAll(out, RaspiGenerated, args, recorded(t, gen, RaspiGenerated, args))
		if err != nil || string(back) != string(gen) {
			t.Errorf("input %q: put back %q, want %q (%v)", input, back, gen, err)
		}
	}
	// Not the hook's shape: without rootwait, the whole line, as
	// PiCmdline; ending in rootwait, before it (appended after it, the
	// line would take the hook's shape and the arguments could not be put
	// back byte for byte).
	for line, want := range map[string]string{
		"root=x quiet\n":                       "root=x quiet zswap.enabled=1 zswap.compressor=lz4 cgroup_enable=memory\n",
		"console=tty1 root=/dev/sda2 rootwait": "console=tty1 root=/dev/sda2 zswap.enabled=1 zswap.compressor=lz4 cgroup_enable=memory rootwait",
		"a rootwait b rootwait\t\n":            "a rootwait b zswap.enabled=1 zswap.compressor=lz4 cgroup_enable=memory rootwait\t\n",
	} {
		out, err := setAll([]byte(line), RaspiGenerated, args)
		if err != nil || string(out) != want {
			t.Errorf("%q: %q (%v), want %q", line, out, err, want)
			continue
		}
		back, err := restoreAll(out, RaspiGenerated, args, recorded(t, []byte(line), RaspiGenerated, args))
		if err != nil || string(back) != line {
			t.Errorf("%q: put back %q (%v)", line, back, err)
		}
	}
	if _, err := setAll([]byte("rootwait\n"), RaspiGenerated, args); err == nil {
		t.Error("a command line of rootwait alone was edited")
	}
}
