package tasks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/hostconf"
	"github.com/ezansiedgeai/ezedge-host/internal/oracle"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// swapFacts is a Pi on an SD card with mem bytes of RAM, and what makes
// its swap: dphys-swapfile enabled, an fstab, rpi-swap, zram-generator.
func swapFacts(mem uint64, dphys bool, fstab string, rpi *platform.RpiSwap, zramGen bool) *Facts {
	f := &Facts{Platform: platform.RPi4, MemTotal: mem, Block: []platform.BlockDevice{{Name: "mmcblk0", SDCard: true, Root: true}}}
	f.Units = map[string]platform.Unit{}
	if dphys {
		f.Units[dphysUnit] = platform.Unit{Installed: true, Enabled: true, InstallLinks: map[string]string{"/etc/systemd/system/multi-user.target.wants/dphys-swapfile.service": "/lib/systemd/system/dphys-swapfile.service"}}
		f.Swap.DPhys = &platform.DPhysSwapfile{File: "/var/swap", Size: "100"}
	}
	if fstab != "" {
		f.Writes.FstabExists, f.Writes.Fstab = true, []byte(fstab)
	}
	f.Swap.RpiSwap, f.Swap.ZramGenerator = rpi, zramGen
	return f
}

// withGlob is f where an earlier apply left the file p.
func withGlob(f *Facts, p string) *Facts {
	f.Globbed = map[string][]string{p: {p}}
	return f
}

func wantsOf(in Intent) map[string]Want {
	out := map[string]Want{}
	for _, w := range in.Wants {
		out[resource.ID(w.Resource)] = w
	}
	return out
}

// TestSwapPlan: what the task does with each way a host swaps, and the
// guard of the last swap of a small host, with the key that lifts it.
func TestSwapPlan(t *testing.T) {
	t.Parallel()
	const gib = 1 << 30
	fstab := "/dev/root / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n"
	rpiID, zramID := "file:"+platform.RpiSwapOurs, "file:"+ZramGeneratorDropIn
	for _, c := range []struct {
		name  string
		f     *Facts
		o     *SwapOptions
		skip  string // in the skip reason; "" not skipped
		wants []string
		body  map[string]string // a drop-in's body after the header
		warn  string
	}{
		{"rpi-swap zram", swapFacts(8*gib, false, "", &platform.RpiSwap{Mechanism: "swapfile"}, true), nil, "", []string{rpiID}, map[string]string{rpiID: "[Main]\nMechanism=zram\n"}, ""},
		{"rpi-swap without zram", swapFacts(8*gib, false, "", &platform.RpiSwap{Mechanism: "swapfile"}, false), &SwapOptions{ZramPercent: 50, ZramMaxMiB: 4096}, "", []string{rpiID}, map[string]string{rpiID: "[Main]\nMechanism=none\n"}, "no swap is left"},
		{"zram-generator", swapFacts(8*gib, true, fstab, nil, true), nil, "", []string{zramID, "unit:" + dphysUnit, "file:" + hostconf.FstabPath}, map[string]string{zramID: "[zram0]\nzram-size = min(ram * 50 / 100, 4096)\n"}, ""},
		{"zram-generator options", swapFacts(8*gib, false, "", nil, true), &SwapOptions{Zram: true, ZramPercent: 25, ZramMaxMiB: 1024}, "", []string{zramID}, map[string]string{zramID: "[zram0]\nzram-size = min(ram * 25 / 100, 1024)\n"}, ""},
		{"no zram, 8 GiB", swapFacts(8*gib, true, fstab, nil, false), nil, "", []string{"unit:" + dphysUnit, "file:" + hostconf.FstabPath}, nil, "no swap is left"},
		{"no zram, 1 GiB", swapFacts(1*gib, true, fstab, nil, false), nil, "set swap.allow_no_swap: true", nil, nil, ""},
		{"no zram, RAM unknown", swapFacts(0, true, "", nil, false), nil, "RAM unknown", nil, nil, ""},
		{"no zram, 1 GiB, allowed", swapFacts(1*gib, true, fstab, nil, false), &SwapOptions{Zram: true, ZramPercent: 50, ZramMaxMiB: 4096, AllowNoSwap: true}, "", []string{"unit:" + dphysUnit, "file:" + hostconf.FstabPath}, nil, "no swap is left"},
		{"1 GiB with zram", swapFacts(1*gib, true, fstab, nil, true), nil, "", []string{zramID, "unit:" + dphysUnit, "file:" + hostconf.FstabPath}, nil, ""},
		{"rpi-swap none on 1 GiB", swapFacts(1*gib, false, "", &platform.RpiSwap{Mechanism: "auto"}, false), &SwapOptions{ZramPercent: 50, ZramMaxMiB: 4096}, "swap.allow_no_swap", nil, nil, ""},
		{"zram off, drop-in left", withGlob(swapFacts(8*gib, false, "", nil, true), ZramGeneratorDropIn), &SwapOptions{ZramPercent: 50, ZramMaxMiB: 4096}, "", []string{zramID}, map[string]string{zramID: ""}, ""},
		{"rpi-swap drop-in after ours", func() *Facts {
			f := swapFacts(8*gib, false, "", &platform.RpiSwap{Mechanism: "swapfile", Later: []string{"/etc/rpi/swap.conf.d/99-x.conf line 2 sets Mechanism=swapfile"}}, false)
			return f
		}(), nil, "", []string{rpiID}, nil, "99-x.conf line 2 sets Mechanism=swapfile, read after /etc/rpi/swap.conf.d/90-ezedge-host.conf: it wins"},
		{"zram-generator drop-in after ours", func() *Facts {
			f := swapFacts(8*gib, false, "", nil, true)
			f.Swap.ZramLater = []string{"/usr/lib/systemd/zram-generator.conf.d/99-x.conf line 2 sets [zram0] zram-size=ram"}
			return f
		}(), nil, "", []string{zramID}, nil, "zram-size=ram, read after " + ZramGeneratorDropIn + ": it wins"},
		{"nothing to manage", swapFacts(8*gib, false, "/dev/root / ext4 defaults 0 1\n", nil, false), nil, "no swap configuration this task manages", nil, nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := c.o
			if o == nil {
				tk, _ := ByName("swap")
				o = tk.NewOptions().(*SwapOptions)
			}
			in := planSwap(c.f, o)
			if c.skip != "" {
				if !strings.Contains(in.Skip, c.skip) || strings.Contains(in.Skip, "\n") {
					t.Fatalf("skip %q, want one line with %q", in.Skip, c.skip)
				}
				return
			}
			if in.Skip != "" {
				t.Fatalf("skipped: %s", in.Skip)
			}
			ws := wantsOf(in)
			if len(ws) != len(c.wants) {
				t.Errorf("wants %v, want %v", ws, c.wants)
			}
			for _, id := range c.wants {
				w, ok := ws[id]
				if !ok {
					t.Errorf("no want of %s", id)
					continue
				}
				if !w.Reboot {
					t.Errorf("%s: not marked for the next boot", id)
				}
				switch body, ok := c.body[id]; {
				case ok && body == "" && w.Desired.Exists:
					t.Errorf("%s: %q, want it gone", id, w.Desired.Data)
				case ok && body != "" && string(w.Desired.Data) != Header+body:
					t.Errorf("%s: %q, want %q", id, w.Desired.Data, Header+body)
				}
			}
			if w, ok := ws["file:"+hostconf.FstabPath]; ok {
				cur := resource.State{Exists: true, Data: []byte(fstab)}
				if got := string(w.Edit(cur).Data); got != strings.Replace(fstab, "/swapfile", "#ezedge-host swap off# /swapfile", 1) {
					t.Errorf("fstab edit: %q", got)
				}
			}
			if w, ok := ws["unit:"+dphysUnit]; ok {
				cur := resource.State{Exists: true, Data: []byte("link /etc/systemd/system/multi-user.target.wants/dphys-swapfile.service /lib/systemd/system/dphys-swapfile.service\n")}
				if got := string(w.Edit(cur).Data); strings.Contains(got, "link") {
					t.Errorf("dphys-swapfile still enabled: %q", got)
				}
			}
			if got := strings.Join(in.Warnings, "\n"); (c.warn == "") != (got == "") || !strings.Contains(got, c.warn) {
				t.Errorf("warnings %q, want %q", got, c.warn)
			}
			for _, n := range in.Notes {
				if strings.Contains(n, "/swapfile") && !strings.Contains(n, "not deleted") {
					t.Errorf("note %q", n)
				}
			}
		})
	}
}

// TestSwapZswap: zswap stands aside where the swap task plans zram, and
// not where it does not (off, or no zram to make).
func TestSwapZswap(t *testing.T) {
	t.Parallel()
	zs, _ := ByName("zswap")
	f := swapFacts(8<<30, false, "", nil, true)
	f.Boot.Loader = platform.LoaderPiFirmware
	off := false
	for _, c := range []struct {
		name string
		c    Choices
		skip bool
	}{
		{"swap on by default", nil, true},
		{"swap off", Choices{"swap": {Enabled: &off}}, false},
		{"zram off", Choices{"swap": {Options: &SwapOptions{ZramPercent: 50, ZramMaxMiB: 4096}}}, false},
	} {
		in := zs.Plan(f, zs.NewOptions(), c.c)
		if got := strings.Contains(in.Skip, "the swap task puts swap on zram (zram-generator)"); got != c.skip {
			t.Errorf("%s: skip %q", c.name, in.Skip)
		}
	}
	if in := zs.Plan(f, &ZswapOptions{Compressor: "lz4", Force: true}, nil); in.Skip != "" {
		t.Errorf("forced: %s", in.Skip)
	}
}

// TestSwapZramGeneratorReads: zram-generator (Debian's
// systemd-zram-generator) reads the drop-in the task writes, for every
// size option's bounds, and makes a swap device of it; without the
// drop-in it makes none.
func TestSwapZramGeneratorReads(t *testing.T) {
	t.Parallel()
	for _, o := range []SwapOptions{{Zram: true, ZramPercent: 50, ZramMaxMiB: 4096}, {Zram: true, ZramPercent: 10, ZramMaxMiB: 64}, {Zram: true, ZramPercent: 150, ZramMaxMiB: 65536}} {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "proc"), 0o755)
		os.WriteFile(filepath.Join(root, "proc/meminfo"), []byte("MemTotal:        8245168 kB\n"), 0o644)
		os.WriteFile(filepath.Join(root, "proc/cmdline"), nil, 0o644)
		if units, log, ok := oracle.ZramUnits(t, root); !ok || len(units) != 0 {
			t.Fatalf("without the drop-in: %v %s", units, log)
		}
		in := planSwap(swapFacts(8<<30, false, "", nil, true), &o)
		w := wantsOf(in)["file:"+ZramGeneratorDropIn]
		p := filepath.Join(root, ZramGeneratorDropIn)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, w.Desired.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		units, log, ok := oracle.ZramUnits(t, root)
		if !ok || !strings.Contains(units["dev-zram0.swap"], "What=/dev/zram0") || units["swap.target.wants/dev-zram0.swap"] == "" {
			t.Errorf("%+v: zram-generator made %v\n%s", o, units, log)
		}
	}
}
