package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

func lstatLink(t *testing.T, p string) string {
	t.Helper()
	target, err := os.Readlink(p)
	if err != nil {
		return ""
	}
	return target
}

// TestPiBootAndServices: on the Pi 5 the kernel command line, Bluetooth,
// WiFi and fstrim are applied; a second plan has nothing to change but says
// a reboot is pending; rollback restores every byte and link.
func TestPiBootAndServices(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	orig := fixture.Snapshot(t, root)
	applyYes(t, root)
	cmd := readFile(t, filepath.Join(root, "boot/firmware/cmdline.txt"))
	if !strings.HasSuffix(cmd, "cfg80211.ieee80211_regdom=GB zswap.enabled=1 zswap.compressor=lz4 cgroup_enable=memory\n") {
		t.Errorf("cmdline.txt: %q", cmd)
	}
	if stub := readFile(t, filepath.Join(root, "boot/cmdline.txt")); !strings.HasPrefix(stub, "DO NOT EDIT") || strings.Contains(stub, "zswap") {
		t.Errorf("the Bookworm stub was edited: %q", stub)
	}
	for _, l := range []string{"etc/systemd/system/bluetooth.target.wants/bluetooth.service", "etc/systemd/system/dbus-org.bluez.service"} {
		if lstatLink(t, filepath.Join(root, l)) != "" {
			t.Errorf("%s still there", l)
		}
	}
	if got := lstatLink(t, filepath.Join(root, "etc/systemd/system/timers.target.wants/fstrim.timer")); got != "/lib/systemd/system/fstrim.timer" {
		t.Errorf("fstrim.timer link = %q", got)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/lib/systemd/system/bluetooth.service")); err != nil {
		t.Errorf("the unit file itself was touched: %v", err)
	}
	if s := readFile(t, filepath.Join(root, "sys/class/rfkill/rfkill1/soft")); s != "1\n" {
		t.Errorf("wlan soft = %q", s)
	}
	if s := readFile(t, filepath.Join(root, "sys/class/rfkill/rfkill0/soft")); s != "0\n" {
		t.Errorf("bluetooth radio touched: %q", s)
	}
	if s := readFile(t, filepath.Join(root, "var/lib/NetworkManager/NetworkManager.state")); s != "[main]\nNetworkingEnabled=true\nWirelessEnabled=false\nWWANEnabled=true\n" {
		t.Errorf("NetworkManager.state = %q", s)
	}
	p := cli("plan", "--root", root, "--detailed-exitcode").must(t, 0)
	if !strings.Contains(p.stdout, "Reboot pending") || !strings.Contains(p.stdout, "zswap.enabled=1 (zswap): in /boot/firmware/cmdline.txt, not in /proc/cmdline yet") {
		t.Errorf("pending reboot not reported:\n%s", p.stdout)
	}
	if !strings.Contains(p.stdout, "memory-cgroup: the memory controller is not active yet") {
		t.Errorf("the inactive memory controller is not reported:\n%s", p.stdout)
	}
	// After the reboot the running command line has it, and the kernel
	// offers the memory controller: nothing pending, memory-cgroup active.
	running := readFile(t, filepath.Join(root, "proc/cmdline"))
	controllers := readFile(t, filepath.Join(root, "sys/fs/cgroup/cgroup.controllers"))
	os.WriteFile(filepath.Join(root, "proc/cmdline"), []byte(strings.TrimSpace(running)+" zswap.enabled=1 zswap.compressor=lz4 cgroup_enable=memory\n"), 0o644)
	os.WriteFile(filepath.Join(root, "sys/fs/cgroup/cgroup.controllers"), []byte("cpuset cpu io memory pids\n"), 0o644)
	if p := cli("plan", "--root", root).must(t, 0); strings.Contains(p.stdout, "Reboot pending") || !strings.Contains(p.stdout, "memory-cgroup: the memory controller is active") {
		t.Errorf("still pending after the reboot:\n%s", p.stdout)
	}
	os.WriteFile(filepath.Join(root, "proc/cmdline"), []byte(running), 0o644)
	os.WriteFile(filepath.Join(root, "sys/fs/cgroup/cgroup.controllers"), []byte(controllers), 0o644)
	cli("rollback", "--root", root, "--yes").must(t, 0)
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("not byte-identical:\n%s", strings.Join(d, "\n"))
	}
}

// TestGuards: WiFi is never blocked over a wireless default route, an SSH
// session over WiFi, or without a wired carrier; zswap is skipped over zram.
func TestGuards(t *testing.T) {
	t.Parallel()
	r := cli("plan", "--root", filepath.Join(fixture.Testdata(), "pi4-8gb-bullseye")).must(t, 0)
	if !regexp.MustCompile(`\n  wifi +guard: the default route goes through wlan0, a wireless interface`).MatchString(r.stdout) {
		t.Errorf("pi4 wifi guard:\n%s", r.stdout)
	}
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	// The SSH peer 10.10.8.7 is reached only through wlan0 (10.10.0.0/16).
	route := readFile(t, filepath.Join(root, "proc/net/route"))
	route += "wlan0\t00000A0A\t00000000\t0001\t0\t0\t600\t0000FFFF\t0\t0\t0\n"
	os.WriteFile(filepath.Join(root, "proc/net/route"), []byte(route), 0o644)
	tcp := strings.Replace(readFile(t, filepath.Join(root, "proc/net/tcp")), "3201A8C0:D431", "07080A0A:D431", 1)
	os.WriteFile(filepath.Join(root, "proc/net/tcp"), []byte(tcp), 0o644)
	if r := cli("plan", "--root", root).must(t, 0); !strings.Contains(r.stdout, "guard: an SSH session comes in through wlan0") {
		t.Errorf("ssh guard:\n%s", r.stdout)
	}
	root2 := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	os.WriteFile(filepath.Join(root2, "sys/class/net/eth0/carrier"), []byte("0\n"), 0o644)
	os.WriteFile(filepath.Join(root2, "proc/net/route"), []byte(strings.ReplaceAll(readFile(t, filepath.Join(root2, "proc/net/route")), "eth0\t00000000", "lo\t00000000")), 0o644)
	if r := cli("plan", "--root", root2).must(t, 0); !strings.Contains(r.stdout, "guard: no wired interface has carrier") {
		t.Errorf("carrier guard:\n%s", r.stdout)
	}
	r = cli("plan", "--root", filepath.Join(fixture.Testdata(), "pi5-8gb-trixie-zram")).must(t, 0)
	if !regexp.MustCompile(`\n  zswap +swap is zram \(/dev/zram0 in /proc/swaps\)`).MatchString(r.stdout) {
		t.Errorf("zram guard:\n%s", r.stdout)
	}
	forced := writeProfile(t, "version: 1\ntasks:\n  zswap: {force: true}\n")
	if r := cli("plan", "--root", filepath.Join(fixture.Testdata(), "pi5-8gb-trixie-zram"), "--profile", forced).must(t, 0); !strings.Contains(r.stdout, "zswap.enabled=1") {
		t.Errorf("forced zswap not planned:\n%s", r.stdout)
	}
}

// TestGrub: on Debian a drop-in carries the arguments (and says update-grub
// is left to do on a non-live root); elsewhere GRUB_CMDLINE_LINUX is edited
// in place; both roll back byte-identical.
func TestGrub(t *testing.T) {
	t.Parallel()
	prof := writeProfile(t, "version: 1\ntasks:\n  zswap: {enabled: true}\n  cpu-pstate: {enabled: true}\n")
	root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	orig := fixture.Snapshot(t, root)
	r := cli("apply", "--root", root, "--yes", "--profile", prof).must(t, 0)
	if !strings.Contains(r.stdout, "not run on this root (not the running system): /usr/sbin/update-grub") {
		t.Errorf("update-grub note missing:\n%s", r.stdout)
	}
	drop := readFile(t, filepath.Join(root, "etc/default/grub.d/90-ezedge-host.cfg"))
	if !strings.Contains(drop, `GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX zswap.enabled=1 zswap.compressor=lz4 intel_pstate=disable"`) {
		t.Errorf("drop-in:\n%s", drop)
	}
	cli("plan", "--root", root, "--profile", prof, "--detailed-exitcode").must(t, 0)
	cli("rollback", "--root", root, "--yes").must(t, 0)
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("drop-in rollback not byte-identical:\n%s", strings.Join(d, "\n"))
	}

	// A distribution whose grub-mkconfig does not read grub.d.
	root = fixture.Copy(t, "amd64-intel-32gb-2nvme")
	os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("NAME=\"Fedora Linux\"\nID=fedora\n"), 0o644)
	os.Remove(filepath.Join(root, "usr/sbin/grub-mkconfig"))
	orig = fixture.Snapshot(t, root)
	cli("apply", "--root", root, "--yes", "--profile", prof).must(t, 0)
	if g := readFile(t, filepath.Join(root, "etc/default/grub")); !strings.Contains(g, "\nGRUB_CMDLINE_LINUX=\"zswap.enabled=1 zswap.compressor=lz4 intel_pstate=disable\"\n") {
		t.Errorf("in-place edit:\n%s", g)
	}
	cli("rollback", "--root", root, "--yes").must(t, 0)
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("in-place rollback not byte-identical:\n%s", strings.Join(d, "\n"))
	}
}

// grubCfg is a grub.cfg as Debian's grub-mkconfig writes it (trimmed).
const grubCfg = `menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple-6f1b' {
	load_video
	linux	/boot/vmlinuz-6.1.0-18-amd64 root=UUID=6f1b ro  quiet
	initrd	/boot/initrd.img-6.1.0-18-amd64
}
submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-6f1b' {
	menuentry 'Debian GNU/Linux, with Linux 6.1.0-18-amd64 (recovery mode)' --class debian {
		linux	/boot/vmlinuz-6.1.0-18-amd64 root=UUID=6f1b ro single
		initrd	/boot/initrd.img-6.1.0-18-amd64
	}
}
`

// TestGrubConfigOnImage: on an image, where update-grub does not run, the
// arguments go into the GRUB drop-in and into grub.cfg's every linux
// command, the file GRUB reads at the next boot; the plan compares it;
// rollback takes them out of both, also after update-grub remade grub.cfg
// (with another kernel's entries) in the image since.
func TestGrubConfigOnImage(t *testing.T) {
	t.Parallel()
	prof := writeProfile(t, "version: 1\ntasks:\n  zswap: {enabled: true}\n  cpu-pstate: {enabled: true}\n")
	const args = " zswap.enabled=1 zswap.compressor=lz4 intel_pstate=disable"
	setup := func() (string, string) {
		root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
		cfg := filepath.Join(root, "boot/grub/grub.cfg")
		os.MkdirAll(filepath.Dir(cfg), 0o755)
		os.WriteFile(cfg, []byte(grubCfg), 0o644)
		return root, cfg
	}
	root, cfg := setup()
	orig := fixture.Snapshot(t, root)
	plan := cli("plan", "--root", root, "--profile", prof).must(t, 0)
	if !strings.Contains(plan.stdout, "kernel-arg /boot/grub/grub.cfg:zswap.enabled") {
		t.Errorf("plan does not edit grub.cfg:\n%s", plan.stdout)
	}
	cli("apply", "--root", root, "--yes", "--profile", prof).must(t, 0)
	want := strings.ReplaceAll(strings.ReplaceAll(grubCfg, "ro  quiet\n", "ro  quiet"+args+"\n"), "ro single\n", "ro single"+args+"\n")
	if got := readFile(t, cfg); got != want {
		t.Errorf("grub.cfg:\n%s\nwant:\n%s", got, want)
	}
	cli("plan", "--root", root, "--profile", prof, "--detailed-exitcode").must(t, 0)
	cli("rollback", "--root", root, "--yes").must(t, 0)
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("not byte-identical: %v", d)
	}

	// update-grub run in the image after the apply: a new kernel's entry,
	// the arguments where grub-mkconfig puts them.
	root, cfg = setup()
	cli("apply", "--root", root, "--yes", "--profile", prof).must(t, 0)
	regen := func(a string) string {
		return "menuentry 'Debian GNU/Linux' {\n\tlinux\t/boot/vmlinuz-6.12.0-1-amd64 root=UUID=6f1b ro" + a + " quiet\n}\n" +
			"menuentry 'Debian GNU/Linux, 6.1 (recovery mode)' {\n\tlinux\t/boot/vmlinuz-6.1.0-18-amd64 root=UUID=6f1b ro single" + a + "\n}\n"
	}
	os.WriteFile(cfg, []byte(regen(args)), 0o644)
	cli("plan", "--root", root, "--profile", prof, "--detailed-exitcode").must(t, 0)
	cli("rollback", "--root", root, "--yes").must(t, 0)
	if got := readFile(t, cfg); got != regen("") {
		t.Errorf("after rollback grub.cfg:\n%s\nwant:\n%s", got, regen(""))
	}
}

// TestCorpusRoundTrip puts every real cmdline.txt and GRUB defaults file
// into a host, applies zswap, checks a second apply changes nothing, rolls
// back and compares bytes.
func TestCorpusRoundTrip(t *testing.T) {
	t.Parallel()
	prof := writeProfile(t, "version: 1\ntasks:\n  zswap: {enabled: true}\n")
	n := 0
	for _, kind := range []struct{ dir, fix, dest string }{
		{"cmdline", "pi5-16gb-nvme-bookworm", "boot/firmware/cmdline.txt"},
		{"grub", "amd64-intel-32gb-2nvme", "etc/default/grub"},
	} {
		for _, p := range fixture.CorpusFiles(t, kind.dir) {
			name := filepath.Base(p)
			if strings.Contains(name, "stub") || strings.HasSuffix(name, ".cfg") {
				continue
			}
			root := fixture.Copy(t, kind.fix)
			data, _ := os.ReadFile(p)
			os.WriteFile(filepath.Join(root, kind.dest), data, 0o644)
			if kind.dir == "grub" {
				// In place, the harder case.
				os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("ID=fedora\n"), 0o644)
				os.Remove(filepath.Join(root, "usr/sbin/grub-mkconfig"))
			}
			orig := fixture.Snapshot(t, root)
			r := cli("apply", "--root", root, "--yes", "--profile", prof)
			if r.code != 0 {
				t.Errorf("%s: apply: %s", name, r.stderr)
				continue
			}
			if second := cli("apply", "--root", root, "--yes", "--profile", prof); !strings.Contains(second.stdout, "Nothing to apply.") {
				t.Errorf("%s: second apply changed something:\n%s", name, second.stdout)
			}
			cli("rollback", "--root", root, "--yes").must(t, 0)
			if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
				t.Errorf("%s: not byte-identical after rollback: %v", name, d)
			}
			n++
		}
	}
	t.Logf("%d corpus files applied and rolled back", n)
}

// TestConfigTxtCmdline: the kernel command line is edited in the file
// config.txt makes the firmware read (cmdline=, os_prefix=, under the
// board's own section, through an include), never in the plain
// cmdline.txt beside it; where the file depends on something known only at
// boot (a monitor, a GPIO, tryboot), does not exist, or sits on a partition
// autoboot.txt may not boot, plan refuses in one line and nothing changes.
func TestConfigTxtCmdline(t *testing.T) {
	t.Parallel()
	const line = "console=serial0,115200 root=PARTUUID=e8af6eb2-02 rootwait\n"
	for _, c := range []struct {
		name   string
		config string
		extra  map[string]string
		edited string // the file that must get zswap, or "" when refused
		refuse string
	}{
		{"own section", "arm_64bit=1\n[pi3]\ncmdline=cmdline-pi3.txt\n[pi4]\ncmdline=cmdline-pi4.txt\n[all]\n",
			map[string]string{"boot/cmdline-pi4.txt": line, "boot/cmdline-pi3.txt": line}, "boot/cmdline-pi4.txt", ""},
		{"include", "include syscfg.txt\n", map[string]string{"boot/syscfg.txt": "cmdline=nobtcmd.txt\n", "boot/nobtcmd.txt": line}, "boot/nobtcmd.txt", ""},
		{"os_prefix", "os_prefix=next/\n", map[string]string{"boot/next/cmdline.txt": line}, "boot/next/cmdline.txt", ""},
		{"monitor", "[EDID=DEL-DELL_U2422H]\ncmdline=cmdline_U2422H.txt\n[all]\n", map[string]string{"boot/cmdline_U2422H.txt": line}, "",
			"boot/config.txt:2: cmdline= is set under [EDID=DEL-DELL_U2422H], which is only known at boot"},
		{"missing", "cmdline=gone.txt\n", nil, "", "/boot/gone.txt: refused: config.txt makes the firmware read the kernel command line from it, and it does not exist"},
		{"outside", "cmdline=../etc/cmdline.txt\n", nil, "", "is not in the boot partition /boot/"},
		{"autoboot partition 1", "", map[string]string{"boot/autoboot.txt": "[all]\nboot_partition=1\n", "boot/cmdline.txt": line}, "boot/cmdline.txt", ""},
		{"autoboot A/B", "", map[string]string{"boot/autoboot.txt": "[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n"}, "",
			"/boot/autoboot.txt:5: boot_partition=3 under [tryboot]: the firmware boots from the partition autoboot.txt names"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := fixture.Copy(t, "pi4-8gb-bullseye")
			os.WriteFile(filepath.Join(root, "boot/config.txt"), []byte(c.config), 0o755)
			for p, s := range c.extra {
				os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
				os.WriteFile(filepath.Join(root, p), []byte(s), 0o755)
			}
			orig := fixture.Snapshot(t, root)
			if c.refuse != "" {
				r := cli("plan", "--root", root).must(t, 1)
				if !strings.Contains(r.stderr, c.refuse) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
					t.Errorf("stderr %q, want one line with %q", r.stderr, c.refuse)
				}
				cli("apply", "--root", root, "--yes").must(t, 1)
				identical(t, orig, root)
				// Without the tasks that need the command line, the rest applies.
				p := writeProfile(t, "version: 1\ntasks:\n  zswap: {enabled: false}\n  memory-cgroup: {enabled: false}\n")
				applyYes(t, root, "--profile", p)
				cli("rollback", "--root", root, "--yes").must(t, 0)
				identical(t, orig, root)
				return
			}
			applyYes(t, root)
			if got := readFile(t, filepath.Join(root, c.edited)); got != strings.TrimSuffix(line, "\n")+" zswap.enabled=1 zswap.compressor=lz4 cgroup_enable=memory\n" {
				t.Errorf("%s = %q", c.edited, got)
			}
			after := fixture.Snapshot(t, root)
			for p := range orig {
				if strings.HasPrefix(p, "boot/") && p != c.edited && after[p] != orig[p] {
					t.Errorf("%s changed", p)
				}
			}
			cli("rollback", "--root", root, "--yes").must(t, 0)
			identical(t, orig, root)
		})
	}
}

// tcp6Addr writes an address as /proc/net/tcp6 does: four 32-bit words,
// each in host (little-endian) order.
func tcp6Addr(s string) string {
	a := netip.MustParseAddr(s).As16()
	var b strings.Builder
	for i := 0; i < 16; i += 4 {
		fmt.Fprintf(&b, "%02X%02X%02X%02X", a[i+3], a[i+2], a[i+1], a[i])
	}
	return b.String()
}

// TestGuardsIPv6: an SSH session over IPv6 is routed with
// /proc/net/ipv6_route like an IPv4 one, and a link-local one is placed on
// the link of its local address (/proc/net/if_inet6): through the wired
// link WiFi is blocked; through wlan0, or where the link cannot be told, it
// is not. An IPv6 default route over wlan0 is a guard too.
func TestGuardsIPv6(t *testing.T) {
	t.Parallel()
	const routes = "" +
		"20010db8000100000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n" +
		"20010db8000200000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000258 00000001 00000000 00000001    wlan0\n" +
		"fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n" +
		"fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001    wlan0\n" +
		"00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n"
	const blocked = "/sys/class/rfkill/rfkill1/soft"
	// The host's link-local addresses: fe80::2 on eth0, fe80::3 on wlan0.
	const ifInet6 = "" +
		"20010db8000100000000000000000002 02 40 00 80     eth0\n" +
		"fe800000000000000000000000000002 02 40 20 80     eth0\n" +
		"fe800000000000000000000000000003 03 40 20 80    wlan0\n"
	for _, c := range []struct {
		local, peer, extra, guard string
	}{
		{"2001:db8:1::2", "2001:db8:1::5", "", ""},
		{"2001:db8:1::2", "2001:db8:2::9", "", "guard: an SSH session comes in through wlan0"},
		// A link-local peer is on the link of the local address it reached.
		{"fe80::2", "fe80::1234", "", ""},
		{"fe80::3", "fe80::1234", "", "guard: an SSH session comes in through wlan0"},
		{"fe80::9", "fe80::1234", "", "guard: an SSH session's interface cannot be told"},
		{"2001:db8:1::2", "2001:db8:1::5", "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003    wlan0\n",
			"guard: the default route goes through wlan0"},
	} {
		root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
		os.WriteFile(filepath.Join(root, "proc/net/ipv6_route"), []byte(routes+c.extra), 0o644)
		os.WriteFile(filepath.Join(root, "proc/net/if_inet6"), []byte(ifInet6), 0o644)
		tcp6 := "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
			"   0: " + tcp6Addr(c.local) + ":0016 " + tcp6Addr(c.peer) + ":C350 01 00000000:00000000 02:00000A1B 00000000     0        0 34567 2 0000000000000000 20 4 30 10 -1\n"
		os.WriteFile(filepath.Join(root, "proc/net/tcp6"), []byte(tcp6), 0o644)
		// Only the IPv6 session: the IPv4 one of the fixture goes.
		os.WriteFile(filepath.Join(root, "proc/net/tcp"), []byte(strings.SplitAfter(readFile(t, filepath.Join(root, "proc/net/tcp")), "\n")[0]), 0o644)
		r := cli("plan", "--root", root).must(t, 0)
		switch {
		case c.guard == "" && (!strings.Contains(r.stdout, blocked) || strings.Contains(r.stdout, "guard:")):
			t.Errorf("%s -> %s over eth0: WiFi not planned:\n%s", c.peer, c.local, r.stdout)
		case c.guard != "" && (!strings.Contains(r.stdout, c.guard) || strings.Contains(r.stdout, blocked)):
			t.Errorf("%s -> %s: want %q:\n%s", c.peer, c.local, c.guard, r.stdout)
		}
	}
}

// TestRaspiConfigGovernor: on Bullseye, whose raspi-config boot script sets
// cpu0's governor after tmpfiles.d, the governor is persisted with a
// drop-in that re-applies ours right after that script; a second apply
// changes nothing; rollback removes the drop-in and its directory.
func TestRaspiConfigGovernor(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi4-8gb-bullseye")
	orig := fixture.Snapshot(t, root)
	gov := writeProfile(t, "version: 1\ntasks:\n  cpu-governor: {enabled: true}\n")
	r := cli("plan", "--root", root, "--profile", gov).must(t, 0)
	if !strings.Contains(r.stdout, "raspi-config.service.d applies ours again right after it") || !strings.Contains(r.stdout, tasks.RaspiConfigDropIn) {
		t.Errorf("plan:\n%s", r.stdout)
	}
	applyYes(t, root, "--profile", gov)
	want := tasks.Header + "\n# cpu-governor\n[Service]\nExecStartPost=-systemd-tmpfiles --create /etc/tmpfiles.d/90-ezedge-host.conf\n"
	if got := readFile(t, filepath.Join(root, tasks.RaspiConfigDropIn)); got != want {
		t.Errorf("drop-in:\n%q\nwant\n%q", got, want)
	}
	if got := readFile(t, filepath.Join(root, tasks.TmpfilesFile)); !strings.Contains(got, "w /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor - - - - performance\n") {
		t.Errorf("tmpfiles.d:\n%s", got)
	}
	cli("plan", "--root", root, "--profile", gov, "--detailed-exitcode").must(t, 0)
	cli("rollback", "--root", root, "--yes").must(t, 0)
	identical(t, orig, root)
	if _, err := os.Stat(filepath.Join(root, filepath.Dir(tasks.RaspiConfigDropIn))); err == nil {
		t.Error("raspi-config.service.d left behind")
	}
}

// TestTmpfilesOverrides: a tmpfiles.d file named before ours that writes
// the same path makes systemd-tmpfiles ignore our line; a later one whose
// glob covers our file writes after us. plan warns of both; a file that
// writes the value we want, or another path, is no warning.
func TestTmpfilesOverrides(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	for name, body := range map[string]string{
		"usr/lib/tmpfiles.d/10-thp.conf": "w /sys/kernel/mm/transparent_hugepage/enabled - - - - never\n",
		"etc/tmpfiles.d/zz-gov.conf":     "w /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor - - - - powersave\n",
		"usr/lib/tmpfiles.d/05-same.conf": "w /sys/kernel/mm/transparent_hugepage/defrag - - - - never\n" +
			"w /sys/devices/system/cpu/cpu1/cpufreq/scaling_governor - - - - performance\n",
	} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(root, name), []byte(body), 0o644)
	}
	r := cli("plan", "--root", root).must(t, 0)
	for _, w := range []string{
		`/sys/kernel/mm/transparent_hugepage/enabled: /usr/lib/tmpfiles.d/10-thp.conf:1 writes "never" and comes before 90-ezedge-host.conf, so systemd-tmpfiles ignores our line for it`,
		`/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor: /etc/tmpfiles.d/zz-gov.conf:1 writes "powersave" to /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor after 90-ezedge-host.conf, so it wins at boot`,
	} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("no warning %q:\n%s", w, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "05-same.conf") {
		t.Errorf("warned of a file that agrees or writes elsewhere:\n%s", r.stdout)
	}
}

// TestGuardsSSHPort: an SSH session on another port than 22 still guards
// WiFi: a Port of sshd_config (through its Include), a ListenStream of
// ssh.socket, or any socket an sshd process holds. The same connection to
// a port that is not SSH's does not.
func TestGuardsSSHPort(t *testing.T) {
	t.Parallel()
	const guard = "guard: an SSH session comes in through wlan0"
	for _, c := range []struct {
		name  string
		port  string // local port, hex
		files map[string]string
		links map[string]string
		want  string
	}{
		{"not ssh", "1F90", nil, nil, ""},
		{"sshd_config include", "08AE", map[string]string{
			"etc/ssh/sshd_config":           "#Port 22\nInclude /etc/ssh/sshd_config.d/*.conf\n",
			"etc/ssh/sshd_config.d/50.conf": "  port 2222\n"}, nil, guard},
		{"including itself", "08AE", map[string]string{"etc/ssh/sshd_config": strings.Repeat("Include sshd_config\n", 50) + "Port 2222\n"}, nil, guard},
		{"listen address", "08AE", map[string]string{"etc/ssh/sshd_config": "ListenAddress [::]:2222\n"}, nil, guard},
		{"ssh.socket", "08AE", map[string]string{"etc/systemd/system/ssh.socket.d/port.conf": "[Socket]\nListenStream=\nListenStream=2222\n"}, nil, guard},
		{"sshd process", "1F90", map[string]string{"proc/4242/comm": "sshd-session\n"}, map[string]string{"proc/4242/fd/5": "socket:[99999]"}, guard},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
			// The peer 10.10.8.7 is reached only through wlan0 (10.10.0.0/16).
			route := readFile(t, filepath.Join(root, "proc/net/route")) + "wlan0\t00000A0A\t00000000\t0001\t0\t0\t600\t0000FFFF\t0\t0\t0\n"
			os.WriteFile(filepath.Join(root, "proc/net/route"), []byte(route), 0o644)
			tcp := strings.SplitAfter(readFile(t, filepath.Join(root, "proc/net/tcp")), "\n")[0] +
				"   1: 1701A8C0:" + c.port + " 07080A0A:D431 01 00000000:00000000 02:0009C4A3 00000000     0        0 99999 4 0000000000000000 20 4 31 10 -1\n"
			os.WriteFile(filepath.Join(root, "proc/net/tcp"), []byte(tcp), 0o644)
			for p, s := range c.files {
				os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
				os.WriteFile(filepath.Join(root, p), []byte(s), 0o644)
			}
			for p, target := range c.links {
				os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
				os.Symlink(target, filepath.Join(root, p))
			}
			r := cli("plan", "--root", root).must(t, 0)
			if got := strings.Contains(r.stdout, guard); got != (c.want != "") {
				t.Errorf("guard %v, want %v:\n%s", got, c.want != "", r.stdout)
			}
		})
	}
}

// TestUdevGovernorRule: any udev rule that sets the governor (not only
// Raspberry Pi OS's) makes cpu-governor persist as a later udev rule; one
// read after ours is warned about, and the note does not claim ours wins.
func TestUdevGovernorRule(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	rule := filepath.Join(root, "etc/udev/rules.d/zz-powersave.rules")
	os.MkdirAll(filepath.Dir(rule), 0o755)
	os.WriteFile(rule, []byte(`SUBSYSTEM=="cpu", ATTR{cpufreq/scaling_governor}="powersave"`+"\n"), 0o644)
	r := cli("plan", "--root", root, "--diff").must(t, 0)
	if !strings.Contains(r.stdout, "transparent_hugepage/enabled - - - - always") {
		t.Fatalf("no tmpfiles.d diff to look at:\n%s", r.stdout)
	}
	for _, w := range []string{
		"persisted as the udev rule 99-ezedge-host-cpu-governor.rules, though udev runs that one later",
		`cpufreq/scaling_governor: /etc/udev/rules.d/zz-powersave.rules:1 sets "powersave" where SUBSYSTEM=="cpu", and udev reads it after 99-ezedge-host-cpu-governor.rules`,
		"+ file /etc/udev/rules.d/99-ezedge-host-cpu-governor.rules",
	} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("no %q:\n%s", w, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "scaling_governor - - - -") {
		t.Errorf("the governor is also in tmpfiles.d:\n%s", r.stdout)
	}
}

// TestDebianRaspiFirmware: on Debian's Raspberry Pi layout, cmdline.txt is
// remade by raspi-firmware's kernel hook from /etc/default/raspi-firmware
// and /etc/default/raspi-extra-cmdline. The arguments go into both: the
// input (created here), so a kernel upgrade keeps them, and cmdline.txt,
// the file the firmware reads, so an image boots with them before the
// hook runs again; the plan compares cmdline.txt too. After the hook has
// remade cmdline.txt (the arguments elsewhere on the line), rollback still
// takes them out of it: the rolled-back image boots untuned.
func TestDebianRaspiFirmware(t *testing.T) {
	t.Parallel()
	const args = " zswap.enabled=1 zswap.compressor=lz4 cgroup_enable=memory"
	setup := func(t *testing.T) string {
		root := fixture.Copy(t, "pi4-8gb-bullseye")
		hook := "#!/bin/sh\n# raspi-firmware's kernel hook (stands in for Debian's)\n"
		for p, s := range map[string]string{
			"etc/kernel/postinst.d/z50-raspi-firmware":       hook,
			"etc/initramfs/post-update.d/z50-raspi-firmware": "#!/bin/sh\nDEB_MAINT_PARAMS=configure /etc/kernel/postinst.d/z50-raspi-firmware\n",
			"etc/default/raspi-firmware":                     "#ROOTPART=/dev/mmcblk0p2\n",
		} {
			os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
			os.WriteFile(filepath.Join(root, p), []byte(s), 0o755)
		}
		return root
	}
	root := setup(t)
	orig := fixture.Snapshot(t, root)
	f := cli("facts", "--root", root).must(t, 0)
	if !strings.Contains(f.stdout, "generated by Debian's raspi-firmware") {
		t.Errorf("facts:\n%s", f.stdout)
	}
	cmdlineTxt := filepath.Join(root, "boot/cmdline.txt")
	before := readFile(t, cmdlineTxt)
	plan := cli("plan", "--root", root).must(t, 0)
	for _, want := range []string{"kernel-arg /etc/default/raspi-extra-cmdline:zswap.enabled", "kernel-arg /boot/cmdline.txt:zswap.enabled", "/boot/cmdline.txt is remade by raspi-firmware's kernel hook"} {
		if !strings.Contains(plan.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan.stdout)
		}
	}
	r := cli("apply", "--root", root, "--yes").must(t, 0)
	if !strings.Contains(r.stdout, "not run on this root (not the running system): /etc/initramfs/post-update.d/z50-raspi-firmware") {
		t.Errorf("apply does not name the hook left to run:\n%s", r.stdout)
	}
	if got := readFile(t, filepath.Join(root, "etc/default/raspi-extra-cmdline")); got != strings.TrimPrefix(args, " ")+"\n" {
		t.Errorf("raspi-extra-cmdline = %q", got)
	}
	if got, want := readFile(t, cmdlineTxt), strings.TrimSuffix(before, "\n")+args+"\n"; got != want {
		t.Errorf("cmdline.txt = %q, want %q", got, want)
	}
	cli("plan", "--root", root, "--detailed-exitcode").must(t, 0)
	// The image's next boot would run without them: the plan must say so.
	os.WriteFile(cmdlineTxt, []byte(before), 0o644)
	if p := cli("plan", "--root", root, "--detailed-exitcode"); p.code != 2 || !strings.Contains(p.stdout, "kernel-arg /boot/cmdline.txt:cgroup_enable") {
		t.Errorf("plan with cmdline.txt lacking the arguments: exit %d\n%s", p.code, p.stdout)
	}
	cli("apply", "--root", root, "--yes").must(t, 0)
	cli("rollback", "--root", root, "--yes").must(t, 0)
	cli("rollback", "--root", root, "--yes").must(t, 0)
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("not byte-identical: %v", d)
	}

	// A kernel package installed in the image after the apply: its hook
	// remakes cmdline.txt from the input, the arguments where it puts them
	// (before rootwait here). Rollback takes them out of both files.
	root = setup(t)
	cmdlineTxt = filepath.Join(root, "boot/cmdline.txt")
	cli("apply", "--root", root, "--yes").must(t, 0)
	regen := func(extra string) string {
		return "console=serial0,115200 console=tty1 root=PARTUUID=e8af6eb2-02 rootfstype=ext4 fsck.repair=yes " + extra + " rootwait\n"
	}
	os.WriteFile(cmdlineTxt, []byte(regen(strings.TrimSpace(args))), 0o644)
	cli("plan", "--root", root, "--detailed-exitcode").must(t, 0)
	cli("rollback", "--root", root, "--yes").must(t, 0)
	if got, want := readFile(t, cmdlineTxt), strings.Replace(regen(""), "  ", " ", 1); got != want {
		t.Errorf("after rollback cmdline.txt = %q, want %q (the hook's line without the arguments)", got, want)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/default/raspi-extra-cmdline")); !os.IsNotExist(err) {
		t.Errorf("raspi-extra-cmdline still there after rollback: %v", err)
	}
}
