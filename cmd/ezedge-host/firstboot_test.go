package main

import (
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// TestFirstboot: install into an image root (the real binary copies
// itself), the unit is enabled through its link, status says it has not
// run; "firstboot run" (what the unit executes) applies the profile and
// records the outcome; rollback --to the install puts the image back byte
// for byte.
func TestFirstboot(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	os.WriteFile(filepath.Join(root, "etc/machine-id"), []byte("uninitialized\n"), 0o444)
	orig := fixture.Snapshot(t, root)
	prof := writeProfile(t, "version: 1\ntasks:\n  bluetooth: {enabled: false}\n")
	// This (amd64) test binary is refused by the arm64 image; one built
	// for arm64 (an ELF header is all install reads) is copied.
	if runtime.GOARCH == "amd64" {
		if _, code, out := runBin(t, "firstboot", "install", "--root", root, "--profile", prof); code == 0 || !strings.Contains(out, "is built for amd64, the image is arm64") {
			t.Fatalf("an amd64 binary installed into an arm64 image: %d %s", code, out)
		}
		if d := orig.Diff(fixture.Snapshot(t, root)); len(d) > 0 {
			t.Fatalf("a refused install changed the image: %v", d)
		}
	}
	arm64 := filepath.Join(t.TempDir(), "ezedge-host-arm64")
	os.WriteFile(arm64, elfHeader(elf.EM_AARCH64), 0o755)
	_, code, out := runBin(t, "firstboot", "install", "--root", root, "--profile", prof, "--binary", arm64)
	if code != 0 {
		t.Fatalf("install: %s", out)
	}
	m := regexp.MustCompile(`--to (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no undo id:\n%s", out)
	}
	self, _ := os.ReadFile(arm64)
	if got, _ := os.ReadFile(filepath.Join(root, "usr/local/sbin/ezedge-host")); string(got) != string(self) {
		t.Error("the binary in the image is not --binary's")
	}
	if l := lstatLink(t, filepath.Join(root, "etc/systemd/system/multi-user.target.wants/ezedge-host-firstboot.service")); l != "/etc/systemd/system/ezedge-host-firstboot.service" {
		t.Errorf("unit not enabled: %q", l)
	}
	if u := readFile(t, filepath.Join(root, "etc/systemd/system/ezedge-host-firstboot.service")); !strings.Contains(u, "ConditionFirstBoot=yes") {
		t.Errorf("unit:\n%s", u)
	}
	if s := cli("firstboot", "status", "--root", root).must(t, 0); !strings.Contains(s.stdout, "has not run yet") {
		t.Errorf("status before: %s", s.stdout)
	}
	if _, code, out := runBin(t, "firstboot", "install", "--root", root, "--profile", prof, "--binary", arm64); code != 0 || !strings.Contains(out, "already installed") {
		t.Errorf("second install: %s", out)
	}

	cli("firstboot", "run", "--root", root).must(t, 0)
	var st struct {
		Ran     bool
		Outcome struct {
			SnapshotID string `json:"snapshot_id"`
			Changes    int
			Error      string
		}
	}
	s := cli("firstboot", "status", "--root", root, "--output", "json").must(t, 0)
	if err := json.Unmarshal([]byte(s.stdout), &st); err != nil || !st.Ran || st.Outcome.Changes == 0 || st.Outcome.Error != "" {
		t.Fatalf("status after run: %s %v", s.stdout, err)
	}
	if !strings.HasPrefix(lstatLink(t, filepath.Join(root, "etc/systemd/system/bluetooth.target.wants/bluetooth.service")), "/lib/") {
		t.Error("the profile (bluetooth off) was not used")
	}
	cli("rollback", "--root", root, "--yes", "--to", m[1]).must(t, 0)
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("not byte-identical after rolling back first boot and install:\n%s", strings.Join(d, "\n"))
	}
}

// elfHeader is a little-endian 64-bit ELF header for machine m.
func elfHeader(m elf.Machine) []byte {
	b := make([]byte, 64)
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS], b[elf.EI_DATA], b[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	binary.LittleEndian.PutUint16(b[16:], uint16(elf.ET_EXEC))
	binary.LittleEndian.PutUint16(b[18:], uint16(m))
	return b
}
