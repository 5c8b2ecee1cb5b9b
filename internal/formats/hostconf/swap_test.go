package hostconf

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/oracle"
)

// swapInputs are fstabs by class: the installers' swap lines (by UUID, by
// path, a file), blanks of every kind between fields, a zram line (kept),
// a commented one, one already turned off, CRLF line ends, a NUL, a last
// line without a newline, options and priorities, a mount point that is
// not "none".
var swapInputs = map[string]string{
	"debian installer": "UUID=0d9e / ext4 errors=remount-ro 0 1\n# swap was on /dev/nvme0n1p3 during installation\nUUID=3b8f1c2e-5d7a none            swap    sw              0       0\n",
	"swap file":        "/dev/root / ext4 defaults 0 1\n/swapfile\tnone\tswap\tsw\t0\t0\n",
	"zram kept":        "/dev/zram0 none swap defaults,pri=100 0 0\n/var/swap none swap sw 0 0\n",
	"commented":        "#/dev/sda3 none swap sw 0 0\n  # /dev/sda4 none swap sw 0 0\n",
	"already off":      "#ezedge-host swap off# /dev/sda3 none swap sw 0 0\n/dev/sda4 none swap sw 0 0\n",
	"indented":         "   \t/dev/sda3 none swap sw 0 0\n",
	"crlf":             "/dev/root / ext4 defaults 0 1\r\nLABEL=swap none swap sw 0 0\r\n",
	"nul":              "/dev/sda3 none swap sw\x00 junk\n/dev/sdb1 /srv ext4 defaults 0 2\n",
	"no newline":       "/dev/root / ext4 defaults 0 1\n/dev/sda3 none swap sw 0 0",
	"two":              "/dev/sda3 none swap sw,pri=5 0 0\n\n/dev/sdb3 swap swap defaults 0 0\n/dev/sdc1 /data xfs defaults 0 2\n",
	"escaped file":     "/var/my\\040swap none swap sw 0 0\n",
	"no swap":          "/dev/root / ext4 defaults 0 1\nproc /proc proc defaults 0 0\n",
	"empty":            "",
}

// checkSwapOff is the editor's promise for any fstab: the disk swap
// lines, and only they, become comments; taking the markers out gives the
// input back byte for byte; a second edit changes nothing; no disk swap
// line is left; zram lines stay.
func checkSwapOff(t *testing.T, data []byte) (before, after []SwapLine, out []byte) {
	t.Helper()
	before = DiskSwapLines(data)
	out = SwapOff(data, before)
	if n := len(out) - len(data); n != len(before)*len(swapOffMark) {
		t.Fatalf("%d bytes added for %d lines", n, len(before))
	}
	// Undo: every marker inserted, taken out where it went in.
	undone := slices.Clone(out)
	for i := len(before) - 1; i >= 0; i-- {
		at := before[i].start + i*len(swapOffMark)
		if !bytes.HasPrefix(undone[at:], []byte(swapOffMark)) {
			t.Fatalf("line %d: no marker at its start: %q", before[i].Line, undone[at:])
		}
		undone = append(undone[:at], undone[at+len(swapOffMark):]...)
	}
	if !bytes.Equal(undone, data) {
		t.Fatalf("taking the markers out does not give the input back:\n%q\n%q", undone, data)
	}
	after = DiskSwapLines(out)
	if len(after) != 0 {
		t.Fatalf("disk swap lines left: %+v in %q", after, out)
	}
	if again := SwapOff(out, after); !bytes.Equal(again, out) {
		t.Fatalf("a second edit changes %q to %q", out, again)
	}
	for _, l := range before {
		if !slices.Contains(SwappedOff(out), l.Line) {
			t.Fatalf("line %d is not reported as turned off: %v", l.Line, SwappedOff(out))
		}
	}
	var zin, zout int
	for _, e := range ParseFstab(data) {
		if e.Type == "swap" && IsZram(e.What) {
			zin++
		}
	}
	for _, e := range ParseFstab(out) {
		if e.Type == "swap" && IsZram(e.What) {
			zout++
		}
	}
	if zin != zout {
		t.Fatalf("zram lines %d, then %d", zin, zout)
	}
	return before, after, out
}

// TestSwapOff: for every class of input, the editor's promise, and
// systemd-fstab-generator (run chrooted on the file before and after)
// makes a .swap unit for each disk swap line before and for none after,
// with every other unit it makes unchanged.
func TestSwapOff(t *testing.T) {
	t.Parallel()
	wantLines := map[string][]int{"debian installer": {3}, "swap file": {2}, "zram kept": {2}, "already off": {2}, "indented": {1}, "crlf": {2}, "nul": {1}, "no newline": {2}, "two": {1, 3}, "escaped file": {1}}
	for name, in := range swapInputs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			before, _, out := checkSwapOff(t, []byte(in))
			var got []int
			for _, l := range before {
				got = append(got, l.Line)
			}
			if !slices.Equal(got, wantLines[name]) {
				t.Errorf("disk swap lines %v, want %v", got, wantLines[name])
			}
			units := func(data []byte) (swaps, others []string) {
				root := fstabRoot(t)
				if err := os.WriteFile(filepath.Join(root, "etc/fstab"), data, 0o644); err != nil {
					t.Fatal(err)
				}
				us, _ := oracle.FstabUnits(t, root)
				for u, body := range us {
					if strings.HasSuffix(u, ".swap") {
						swaps = append(swaps, u)
					} else {
						others = append(others, u+"\n"+body)
					}
				}
				slices.Sort(swaps)
				slices.Sort(others)
				return swaps, others
			}
			s0, o0 := units([]byte(in))
			s1, o1 := units(out)
			if len(s0)-len(s1) != len(before) {
				t.Errorf("systemd-fstab-generator's swap units %v before, %v after, for %d lines turned off", s0, s1, len(before))
			}
			for _, u := range s1 {
				if !strings.HasPrefix(u, "dev-zram") {
					t.Errorf("systemd-fstab-generator still makes %s", u)
				}
			}
			if !slices.Equal(o0, o1) {
				t.Errorf("other units changed:\n%v\n%v", o0, o1)
			}
		})
	}
}

// TestSwapOffSays: the edit in words names each line and its device.
func TestSwapOffSays(t *testing.T) {
	t.Parallel()
	got := SaysSwapOff(DiskSwapLines([]byte(swapInputs["two"])))
	if got != "turns fstab's swap lines 1 (/dev/sda3), 3 (/dev/sdb3) into comments (#ezedge-host swap off#), every other byte kept" {
		t.Errorf("%q", got)
	}
}

func FuzzSwapOff(f *testing.F) {
	for _, in := range swapInputs {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkSwapOff(t, data) })
}
