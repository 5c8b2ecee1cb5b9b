package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
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
	_, code, out := runDie(t, 0, "firstboot", "install", "--root", root, "--profile", prof)
	if code != 0 {
		t.Fatalf("install: %s", out)
	}
	m := regexp.MustCompile(`--to (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no undo id:\n%s", out)
	}
	self, _ := os.ReadFile(bin)
	if got, _ := os.ReadFile(filepath.Join(root, "usr/local/sbin/ezedge-host")); string(got) != string(self) {
		t.Error("the binary in the image is not this one")
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
	if _, code, out := runDie(t, 0, "firstboot", "install", "--root", root, "--profile", prof); code != 0 || !strings.Contains(out, "already installed") {
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
