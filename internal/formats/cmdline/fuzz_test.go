package cmdline

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

func seeds(f *testing.F, pattern string) {
	paths, _ := filepath.Glob(filepath.Join(fixture.Testdata(), pattern))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(""))
	f.Add([]byte("root=x zswap.enabled=0 dyndbg=\"a b\"  \n\nsecond line"))
}

// fuzzSet: whatever Set accepts, the key then holds the value on every
// required command line, a second Set changes nothing, other bytes outside
// the command lines stay, and putting the recorded values back (then
// removing, for a key that was absent) gives the original bytes.
func fuzzSet(t *testing.T, data []byte, f Format, key, value string) {
	if key == "" || strings.ContainsAny(key, " \t\r\n\"=") || strings.ContainsAny(value, " \t\r\n\"") {
		return
	}
	rec, err := Find(data, f, key)
	if err != nil {
		return
	}
	out, err := Set(data, f, key, Want{Value: value})
	if err != nil {
		if errors.Is(err, ErrNeedsQuotes) && f != GrubDefaults || errors.Is(err, ErrNoLine) && (f == PiCmdline || f == ExtraArgs || f == RaspiGenerated) {
			t.Fatalf("%v for %s", err, f)
		}
		if errors.Is(err, ErrNeedsQuotes) || errors.Is(err, ErrNoLine) && f == GrubDefaults {
			if prep, perr := PrepareGrub(data); perr == nil && string(prep) != string(data) {
				fuzzSet(t, prep, f, key, value)
			}
		}
		return
	}
	found, err := Find(out, f, key)
	if err != nil {
		t.Fatalf("edited file no longer reads: %v\n%q", err, out)
	}
	for _, l := range found {
		if len(l.Tokens) == 0 && !l.Optional {
			t.Fatalf("a command line lacks %s after Set:\n%q", key, out)
		}
		for _, v := range l.Values() {
			if v != value {
				t.Fatalf("%s=%s after Set of %q:\n%q", key, v, value, out)
			}
		}
	}
	if again, err := Set(out, f, key, Want{Value: value}); err != nil || string(again) != string(out) {
		t.Fatalf("second Set: %v\n%q\n%q", err, out, again)
	}
	w := Want{PerLine: [][]string{}}
	any := false
	for _, l := range rec {
		w.PerLine = append(w.PerLine, l.Tokens)
		any = any || len(l.Tokens) > 0
	}
	if !any {
		w = Want{Absent: true}
	}
	back, err := Set(out, f, key, w)
	if err != nil || string(back) != string(data) {
		t.Fatalf("restore: %v\n%q\n%q\n%q", err, data, out, back)
	}
}

func FuzzSetPiCmdline(f *testing.F) {
	f.Add([]byte("console=tty0 root=/dev/mmcblk0p2 rw rootwait \n"))
	f.Add([]byte("console=tty0 root=/dev/mmcblk0p2 rw rootwait a b \n"))
	seeds(f, "*/boot/*cmdline.txt")
	seeds(f, "*/boot/firmware/cmdline.txt")
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, a := range append(zswap, Arg{Key: "root", Value: "/dev/x"}, Arg{Key: "quiet"}) {
			fuzzSet(t, data, PiCmdline, a.Key, a.Value)
			fuzzSet(t, data, ExtraArgs, a.Key, a.Value)
			fuzzSet(t, data, RaspiGenerated, a.Key, a.Value)
		}
	})
}

func FuzzSetGrubDefaults(f *testing.F) {
	seeds(f, "*/etc/default/grub")
	f.Add([]byte("GRUB_CMDLINE_LINUX=\"a \\\"b c\\\" d\"\nGRUB_CMDLINE_LINUX_DEFAULT='zswap.enabled=0'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, a := range zswap {
			fuzzSet(t, data, GrubDefaults, a.Key, a.Value)
		}
	})
}

func FuzzSetGrubConfig(f *testing.F) {
	f.Add([]byte(debianGrubCfg))
	f.Add([]byte("menuentry x {\n  linux /vmlinuz\n  linux16 /k root=x zswap.enabled=0\n}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, a := range zswap {
			fuzzSet(t, data, GrubConfig, a.Key, a.Value)
		}
	})
}

func FuzzEvalGrub(f *testing.F) {
	seeds(f, "*/etc/default/grub")
	f.Add([]byte("A=\"${B} $C\"'d'e\\ f\nGRUB_CMDLINE_LINUX=\"$A\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		vars, err := EvalGrub([]string{"f"}, [][]byte{data})
		if err == nil {
			_ = Kernel(vars)
		}
	})
}
