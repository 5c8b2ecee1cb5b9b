package plan_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// TestSwapOptionsAreDesiredState: on the Ubuntu fixture (zram-generator
// installed, /swap.img in use), the swap task writes its zram-generator
// drop-in; changing its options changes the drop-in, zram: false removes
// it; each apply leaves a clean plan, and rolling every apply back gives
// the fixture byte for byte. On the Pi 4 (dphys-swapfile) and the amd64
// host with an fstab swap line, an apply and a plan after it are clean and
// the rollback byte-identical, turning root-noatime off afterwards keeps
// swap's lines off.
func TestSwapOptionsAreDesiredState(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "amd64-amd-16gb-nocpufreq")
	orig := fixture.Snapshot(t, root)
	dropIn := filepath.Join(root, tasks.ZramGeneratorDropIn)
	for _, c := range []struct {
		opts, want string
	}{
		{"{enabled: true}", "zram-size = min(ram * 50 / 100, 4096)\n"},
		{"{enabled: true, zram_percent: 25, zram_max_mib: 2048}", "zram-size = min(ram * 25 / 100, 2048)\n"},
		{"{enabled: true, zram: false}", ""},
		{"{enabled: true}", "zram-size = min(ram * 50 / 100, 4096)\n"},
		{"{enabled: false}", ""},
	} {
		prof := "version: 1\ntasks:\n  swap: " + c.opts + "\n"
		applyProfile(t, root, prof, nil)
		b, err := os.ReadFile(dropIn)
		switch {
		case c.want == "" && err == nil:
			t.Errorf("%s: drop-in left: %q", c.opts, b)
		case c.want != "" && (err != nil || !strings.HasSuffix(string(b), c.want)):
			t.Errorf("%s: drop-in %q (%v), want one ending %q", c.opts, b, err, c.want)
		}
		if again := applyProfile(t, root, prof, nil); len(again.Pending()) > 0 {
			t.Errorf("%s: plan after apply changes %s", c.opts, again.Pending()[0].Resource.Name())
		}
	}
	rollbackAll(t, root)
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Errorf("not byte-identical after rollback:\n  %s", strings.Join(d, "\n  "))
	}
}

// TestSwapWithRootNoatime: on a host whose fstab has a swap line and a
// root line without noatime, swap and root-noatime edit it in one change;
// turning either off makes the file again with the other's edit alone.
func TestSwapWithRootNoatime(t *testing.T) {
	t.Parallel()
	fstab := "UUID=a / ext4 errors=remount-ro 0 1\nUUID=b none swap sw 0 0\n"
	both := "version: 1\ntasks:\n  swap: {enabled: true}\n  root-noatime: {enabled: true}\n"
	for _, c := range []struct{ off, want string }{
		{"root-noatime", "UUID=a / ext4 errors=remount-ro 0 1\n#ezedge-host swap off# UUID=b none swap sw 0 0\n"},
		{"swap", "UUID=a / ext4 errors=remount-ro,noatime 0 1\nUUID=b none swap sw 0 0\n"},
	} {
		root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
		p := filepath.Join(root, "etc/fstab")
		if err := os.WriteFile(p, []byte(fstab), 0o644); err != nil {
			t.Fatal(err)
		}
		orig := fixture.Snapshot(t, root)
		first := applyProfile(t, root, both, nil)
		if b, _ := os.ReadFile(p); string(b) != "UUID=a / ext4 errors=remount-ro,noatime 0 1\n#ezedge-host swap off# UUID=b none swap sw 0 0\n" {
			t.Fatalf("both on: %q", b)
		}
		n := 0
		for _, ch := range first.Pending() {
			if ch.Resource.Name() == "/etc/fstab" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d changes of /etc/fstab in one plan", n)
		}
		one := strings.Replace(both, c.off+": {enabled: true}", c.off+": {enabled: false}", 1)
		undo := applyProfile(t, root, one, nil)
		for _, w := range undo.Warnings {
			if strings.Contains(w, "is off") {
				t.Errorf("%s off: warning %s", c.off, w)
			}
		}
		if b, _ := os.ReadFile(p); string(b) != c.want {
			t.Errorf("%s off: %q, want %q", c.off, b, c.want)
		}
		if again := applyProfile(t, root, one, nil); len(again.Pending()) > 0 {
			t.Errorf("%s off: plan after apply changes %s", c.off, again.Pending()[0].Resource.Name())
		}
		rollbackAll(t, root)
		if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
			t.Errorf("%s off: not byte-identical after rollback:\n  %s", c.off, strings.Join(d, "\n  "))
		}
	}
}
