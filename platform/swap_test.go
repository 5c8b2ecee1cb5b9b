package platform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// TestZramConfig reads zram-generator's and rpi-swap's configuration as
// they do: /dev/null masks, comments are nothing, a mount point makes a
// file system, drop-ins add devices, and without the generator installed
// its configuration means nothing.
func TestZramConfig(t *testing.T) {
	t.Parallel()
	gen := "usr/lib/systemd/system-generators/zram-generator"
	for _, c := range []struct {
		name  string
		files map[string]string
		links map[string]string
		want  string
	}{
		{"default config", map[string]string{gen: "", "usr/lib/systemd/zram-generator.conf": "[zram0]\nzram-size = ram / 2\n"}, nil, "[zram0] in /usr/lib/systemd/zram-generator.conf"},
		{"masked by /etc", map[string]string{gen: "", "usr/lib/systemd/zram-generator.conf": "[zram0]\n"}, map[string]string{"etc/systemd/zram-generator.conf": "/dev/null"}, ""},
		{"comments only", map[string]string{gen: "", "etc/systemd/zram-generator.conf": "# [zram0]\n; zram\n"}, nil, ""},
		{"/etc overrides", map[string]string{gen: "", "usr/lib/systemd/zram-generator.conf": "[zram0]\n", "etc/systemd/zram-generator.conf": "# none here\n"}, nil, ""},
		{"a file system", map[string]string{gen: "", "etc/systemd/zram-generator.conf": "[zram0]\nmount-point = /var/tmp\n"}, nil, ""},
		{"drop-in", map[string]string{gen: "", "etc/systemd/zram-generator.conf": "", "usr/lib/systemd/zram-generator.conf.d/50-swap.conf": "[zram1]\n"}, nil, "[zram1] in /usr/lib/systemd/zram-generator.conf.d/50-swap.conf"},
		{"drop-in masked", map[string]string{gen: "", "usr/lib/systemd/zram-generator.conf.d/50-swap.conf": "[zram1]\n"}, map[string]string{"etc/systemd/zram-generator.conf.d/50-swap.conf": "/dev/null"}, ""},
		{"no generator", map[string]string{"etc/systemd/zram-generator.conf": "[zram0]\n"}, nil, ""},
		// The swap task's own drop-in is not the host's zram, and masks
		// the same name under /usr/lib as any file there would.
		{"ours left out", map[string]string{gen: "", "etc/systemd/zram-generator.conf.d/90-ezedge-host.conf": "[zram0]\n", "usr/lib/systemd/zram-generator.conf.d/90-ezedge-host.conf": "[zram1]\n"}, nil, ""},
		{"later than ours", map[string]string{gen: "", "usr/lib/systemd/zram-generator.conf.d/95-size.conf": "[zram0]\nzram-size = ram\n[zram1]\nzram-size = 1\n", "etc/systemd/zram-generator.conf.d/10-early.conf": "[zram0]\nzram-size = 2\n"}, nil, "[zram0] in /etc/systemd/zram-generator.conf.d/10-early.conf"},
		{"ours masked by /run", map[string]string{gen: "", "etc/systemd/zram-generator.conf.d/90-ezedge-host.conf": "", "run/systemd/zram-generator.conf.d/90-ezedge-host.conf": "[zram1]\n"}, nil, "[zram1] in /run/systemd/zram-generator.conf.d/90-ezedge-host.conf"},
		{"rpi-swap zram", map[string]string{"etc/rpi/swap.conf": "[Main]\nMechanism=zram\n"}, nil, "Mechanism=zram in /etc/rpi/swap.conf"},
		{"rpi-swap file", map[string]string{"etc/rpi/swap.conf": "# zram is not used here\n[Main]\nMechanism=swapfile\n[Zram]\nRamFraction=0.25\n"}, nil, ""},
	} {
		dir := t.TempDir()
		for p, s := range c.files {
			os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
			os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644)
		}
		for p, target := range c.links {
			os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
			os.Symlink(target, filepath.Join(dir, p))
		}
		h, err := hostroot.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		f := &Facts{}
		f.detectSwap(h)
		h.Close()
		if (c.want == "") != (f.Swap.Zram == "") || !strings.Contains(f.Swap.Zram, c.want) {
			t.Errorf("%s: %q, want %q", c.name, f.Swap.Zram, c.want)
		}
		if want := "/usr/lib/systemd/zram-generator.conf.d/95-size.conf line 2 sets [zram0] zram-size=ram"; c.name == "later than ours" && (len(f.Swap.ZramLater) != 1 || f.Swap.ZramLater[0] != want) {
			t.Errorf("%s: later %q", c.name, f.Swap.ZramLater)
		}
	}
}

// TestOtherBootGenerators: an arm64 board whose boot configuration
// u-boot-menu or flash-kernel generates is named, not "none found".
func TestOtherBootGenerators(t *testing.T) {
	t.Parallel()
	for tool, want := range map[string]string{"usr/sbin/u-boot-update": "u-boot-menu makes /boot/extlinux/extlinux.conf", "usr/sbin/flash-kernel": "flash-kernel makes the boot script"} {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "usr/sbin"), 0o755)
		os.WriteFile(filepath.Join(dir, tool), []byte("#!/bin/sh\n"), 0o755)
		h, _ := hostroot.Open(dir)
		f := &Facts{Arch: "arm64", Platform: ARM64}
		f.detectBoot(h)
		h.Close()
		if f.Boot.Loader != LoaderNone || !strings.HasPrefix(f.Boot.Refused, want) {
			t.Errorf("%s: %+v", tool, f.Boot)
		}
	}
}

// TestSwapConfigs reads dphys-swapfile's variables as its shell sets them
// (the last assignment wins, quotes and a trailing comment go, the file
// defaults to /var/swap) and rpi-swap's Mechanism= from swap.conf then its
// drop-ins by name, the swap task's own left out of the host's swap.
func TestSwapConfigs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		files      map[string]string
		dphys      *DPhysSwapfile
		mech, from string
		zram       bool
	}{
		{"dphys default", map[string]string{"etc/dphys-swapfile": "#CONF_SWAPFILE=/x\nCONF_SWAPSIZE=100\n"}, &DPhysSwapfile{File: "/var/swap", Size: "100"}, "", "", false},
		{"dphys quoted", map[string]string{"etc/dphys-swapfile": "CONF_SWAPFILE=\"/srv/swap\"\nCONF_SWAPSIZE=100\nCONF_SWAPSIZE='2048' # more\nCONF_MAXSWAP=4096\n"}, &DPhysSwapfile{File: "/srv/swap", Size: "2048", MaxSwap: "4096"}, "", "", false},
		{"rpi auto", map[string]string{"etc/rpi/swap.conf": "# nothing set\n[Main]\n"}, nil, "auto", "", false},
		{"rpi drop-in wins", map[string]string{"etc/rpi/swap.conf": "[Main]\nMechanism=zram\n", "etc/rpi/swap.conf.d/50-file.conf": "[Main]\nMechanism = swapfile\n"}, nil, "swapfile", "/etc/rpi/swap.conf.d/50-file.conf line 2", false},
		{"rpi other section", map[string]string{"etc/rpi/swap.conf": "[Main]\nMechanism=swapfile\n[File]\nMechanism=zram\n"}, nil, "swapfile", "/etc/rpi/swap.conf line 2", false},
		{"rpi later than ours", map[string]string{"etc/rpi/swap.conf": "[Main]\nMechanism=swapfile\n", "etc/rpi/swap.conf.d/10-a.conf": "[Main]\nMechanism=zram\n", "etc/rpi/swap.conf.d/95-b.conf": "[Main]\nMechanism=zram+file\n"}, nil, "zram+file", "/etc/rpi/swap.conf.d/95-b.conf line 2", true},
		{"rpi ours left out", map[string]string{"etc/rpi/swap.conf": "[Main]\nMechanism=swapfile\n", "etc/rpi/swap.conf.d/90-ezedge-host.conf": "[Main]\nMechanism=zram\n"}, nil, "swapfile", "/etc/rpi/swap.conf line 2", false},
	} {
		dir := t.TempDir()
		for p, s := range c.files {
			os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
			os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644)
		}
		h, err := hostroot.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		f := &Facts{}
		f.detectSwap(h)
		h.Close()
		if (c.dphys == nil) != (f.Swap.DPhys == nil) || c.dphys != nil && *c.dphys != *f.Swap.DPhys {
			t.Errorf("%s: dphys %+v, want %+v", c.name, f.Swap.DPhys, c.dphys)
		}
		if r := f.Swap.RpiSwap; c.mech == "" && r != nil || c.mech != "" && (r == nil || r.Mechanism != c.mech || r.From != c.from) {
			t.Errorf("%s: rpi-swap %+v, want %s from %q", c.name, r, c.mech, c.from)
		}
		if r := f.Swap.RpiSwap; c.name == "rpi later than ours" && (r == nil || len(r.Later) != 1 || r.Later[0] != "/etc/rpi/swap.conf.d/95-b.conf line 2 sets Mechanism=zram+file") {
			t.Errorf("%s: later %+v", c.name, r)
		}
		if (f.Swap.Zram != "") != c.zram {
			t.Errorf("%s: zram %q", c.name, f.Swap.Zram)
		}
	}
}
