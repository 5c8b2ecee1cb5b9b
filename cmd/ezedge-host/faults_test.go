package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
)

// TestFullDisk: the root is on a 1 MiB tmpfs (in a private mount namespace
// the test starts, so the machine's mounts are untouched) that is nearly
// full: the journal cannot be written, apply says so, and nothing changed.
func TestFullDisk(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a private mount namespace")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare")
	}
	src := filepath.Join(fixture.Testdata(), "pi4-8gb-bullseye")
	dir := t.TempDir()
	script := `set -e
mount -t tmpfs -o size=1m tmpfs "$1"
cp -a "$2" "$1/root"
dd if=/dev/zero of="$1/root/var/fill" bs=1k count=2000 2>/dev/null || true
sum() { (cd "$1/root" && find . -path ./var/lib/ezedge-host -prune -o -type f -print0 | sort -z | xargs -0 sha256sum); }
sum "$1" > "$1/../before"
set +e
"$3" apply --root "$1/root" --yes > "$1/../out" 2>&1
echo "rc=$?" >> "$1/../out"
sum "$1" > "$1/../after"
"$3" plan --root "$1/root" >> "$1/../out" 2>&1
true
`
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", mnt, src, bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot set up a tmpfs in a private namespace: %v %s", err, out)
	}
	out, _ := os.ReadFile(filepath.Join(dir, "out"))
	before, _ := os.ReadFile(filepath.Join(dir, "before"))
	after, _ := os.ReadFile(filepath.Join(dir, "after"))
	if !strings.Contains(string(out), "no space left on device; nothing was changed") || !strings.Contains(string(out), "rc=1") {
		t.Errorf("apply on a full disk:\n%s", out)
	}
	if strings.Contains(string(out), "interrupted") {
		t.Errorf("a refused apply left a journal that looks interrupted:\n%s", out)
	}
	if string(before) != string(after) || len(before) == 0 {
		t.Errorf("files changed on a full disk")
	}
}

// TestReadOnlyAttribute: a sysfs attribute that cannot be written (here
// 0444 for an unprivileged run) stops apply, which restores what it did
// and names the attribute.
func TestReadOnlyAttribute(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the binary as nobody")
	}
	root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	attr := filepath.Join(root, "sys/block/nvme1n1/queue/nr_requests")
	cmd := asNobody(t, root, "apply", "--root", root, "--yes")
	os.Chmod(attr, 0o444)
	orig := fixture.Snapshot(t, root)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "/sys/block/nvme1n1/queue/nr_requests: write") || !strings.Contains(string(out), "permission denied") {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("not restored: %v", d)
	}
}

// failingStop is a systemd whose bluetooth.service will not stop.
type failingStop struct{}

func (failingStop) ActiveState(string) (string, error) { return "active", nil }
func (failingStop) Start(string) error                 { return nil }
func (failingStop) Stop(u string) error                { return os.ErrDeadlineExceeded }
func (failingStop) Reload() error                      { return nil }

// TestUnitFailsToStop: a unit that does not stop fails the apply, which
// restores everything and names the unit.
func TestUnitFailsToStop(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	resource.UseManager(root, failingStop{})
	defer resource.UseManager(root, nil)
	orig := fixture.Snapshot(t, root)
	r := cli("apply", "--root", root, "--yes").must(t, 1)
	if !strings.Contains(r.stderr, "bluetooth.service: stop bluetooth.service") {
		t.Errorf("stderr: %q", r.stderr)
	}
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("not restored: %v", d)
	}
}

// TestCorpusRfkill: the real Pi rfkill tree (WLAN already soft-blocked) and
// a real systemd-rfkill saved state: the WLAN switch is in place, the
// Bluetooth state file (a ':' in its name) is left alone, and the cycle
// ends byte-identical.
func TestCorpusRfkill(t *testing.T) {
	t.Parallel()
	tree := fixture.Corpus(t, "rfkill/sys-class-rfkill-pi-wlan-softblocked")
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	os.RemoveAll(filepath.Join(root, "sys/class/rfkill"))
	if err := fixture.CopyTree(tree, filepath.Join(root, "sys/class/rfkill")); err != nil {
		t.Fatal(err)
	}
	saved, _ := os.ReadFile(filepath.Join(fixture.Corpus(t, "rfkill"), "platform-107d50c000.serial:bluetooth"))
	os.WriteFile(filepath.Join(root, "var/lib/systemd/rfkill/platform-107d50c000.serial:bluetooth"), saved, 0o644)
	orig := fixture.Snapshot(t, root)
	p := cli("plan", "--root", root).must(t, 0)
	if strings.Contains(p.stdout, "/sys/class/rfkill/rfkill0/soft") && !strings.Contains(p.stdout, "= sysfs /sys/class/rfkill/rfkill0/soft") {
		t.Errorf("the already-blocked WLAN is planned as a change:\n%s", p.stdout)
	}
	if strings.Contains(p.stdout, "rfkill1") || strings.Contains(p.stdout, "serial:bluetooth") {
		t.Errorf("the Bluetooth switch or its saved state is touched:\n%s", p.stdout)
	}
	applyYes(t, root)
	cli("rollback", "--root", root, "--yes").must(t, 0)
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("not byte-identical: %v", d)
	}
}

// TestCorpusForeignFiles puts every real udev rule, tmpfiles.d file,
// config.txt and sysctl.d file of the corpus where a host would have them,
// all at once, and runs the full cycle: ezedge-host reads around them (the
// sysctl.d ones for precedence), never touches one, and ends byte-identical.
func TestCorpusForeignFiles(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	placed := 0
	put := func(dir, name string, b []byte) {
		os.MkdirAll(filepath.Join(root, dir), 0o755)
		if err := os.WriteFile(filepath.Join(root, dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		placed++
	}
	for _, p := range fixture.CorpusFiles(t, "udev") {
		b, _ := os.ReadFile(p)
		name := filepath.Base(p)
		switch {
		case strings.Contains(name, "tmpfiles"):
			put("usr/lib/tmpfiles.d", strings.TrimSuffix(name, ".conf")+".conf", b)
		default:
			put("usr/lib/udev/rules.d", name, b)
		}
	}
	for i, p := range fixture.CorpusFiles(t, "configtxt") {
		b, _ := os.ReadFile(p)
		if i == 0 {
			os.WriteFile(filepath.Join(root, "boot/firmware/config.txt"), b, 0o644)
			placed++
			continue
		}
		put("boot/firmware/other", filepath.Base(p), b)
	}
	for _, p := range fixture.CorpusFiles(t, "sysctl") {
		b, _ := os.ReadFile(p)
		put("usr/lib/sysctl.d", filepath.Base(p), b)
	}
	orig := fixture.Snapshot(t, root)
	plan := cli("plan", "--root", root).must(t, 0)
	if !strings.Contains(plan.stdout, "vm.swappiness: /usr/lib/sysctl.d/") {
		t.Errorf("no precedence warning from the corpus sysctl.d files:\n%s", plan.stdout)
	}
	// Rules that undo ours: CachyOS's zram rule sets swappiness and turns
	// zswap off; the Dell rule sets nr_requests for an NVMe, after 60-nvme.rules.
	for _, w := range []string{
		`vm.swappiness: /usr/lib/udev/rules.d/cachyos-30-zram-sysctl-zswap.rules:13 sets "150" from udev where ACTION=="change", KERNEL=="zram0"`,
		`/sys/module/zswap/parameters/enabled: /usr/lib/udev/rules.d/cachyos-30-zram-sysctl-zswap.rules:13 writes it from a udev RUN command`,
		`queue/nr_requests: /usr/lib/udev/rules.d/rhel8-dell-perc-99-nr-requests-continuations.rules:15 sets "1023" where SUBSYSTEM=="block"`,
	} {
		if !strings.Contains(plan.stdout, w) {
			t.Errorf("no warning %q:\n%s", w, plan.stdout)
		}
	}
	// The same file's rules for sd* and md* devices are not NVMe ones.
	if strings.Count(plan.stdout, "queue/nr_requests: ") != 1 {
		t.Errorf("nr_requests warnings for non-NVMe rules:\n%s", plan.stdout)
	}
	applyYes(t, root)
	applied := fixture.Snapshot(t, root)
	for p, v := range orig {
		if (strings.HasPrefix(p, "usr/lib/") || strings.HasPrefix(p, "boot/firmware/other")) && applied[p] != v {
			t.Errorf("%s was touched", p)
		}
	}
	cli("rollback", "--root", root, "--yes").must(t, 0)
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("not byte-identical: %v", d)
	}
	t.Logf("%d corpus files placed; none touched; cycle byte-identical", placed)
}
