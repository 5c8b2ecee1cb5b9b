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
