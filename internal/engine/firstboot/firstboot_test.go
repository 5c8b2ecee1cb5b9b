package firstboot

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/apply"
	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/rollback"
)

// elfFor is n bytes starting with a little-endian 64-bit ELF header for
// machine m: what install reads of a binary to know where it runs.
func elfFor(m elf.Machine, n int) []byte {
	b := make([]byte, max(n, 64))
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS], b[elf.EI_DATA], b[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	binary.LittleEndian.PutUint16(b[16:], uint16(elf.ET_EXEC))
	binary.LittleEndian.PutUint16(b[18:], uint16(m))
	return b
}

func image(t *testing.T, machineID string) (*hostroot.Root, string, *platform.Facts) {
	t.Helper()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	os.WriteFile(filepath.Join(root, "etc/machine-id"), []byte(machineID), 0o444)
	h, err := hostroot.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	f, err := platform.Detect(h, platform.Observe{})
	if err != nil {
		t.Fatal(err)
	}
	return h, root, f
}

// TestInstall: the install plan puts the binary (0755), the profile and the
// unit in place, conditioned on the first boot when machine-id says so;
// Enable then links the unit from its [Install]; installing again changes
// nothing; rollback of both removes every trace.
func TestInstall(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		machineID string
		firstBoot bool
	}{{"uninitialized\n", true}, {"0123456789abcdef0123456789abcdef\n", false}} {
		h, root, f := image(t, c.machineID)
		orig := fixture.Snapshot(t, root)
		store := rollback.Open(h)
		p, err := InstallPlan(h, f, elfFor(elf.EM_AARCH64, 64), []byte("version: 1\n"))
		if err != nil {
			t.Fatal(err)
		}
		// The binary, the profile, the unit and its preset.
		if len(p.Pending()) != 4 {
			t.Fatalf("%d pending changes", len(p.Pending()))
		}
		res, err := apply.Apply(h, store, p, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		e, err := Enable(h, f)
		if err != nil {
			t.Fatal(err)
		}
		res2, err := apply.Apply(h, store, e, time.Now().Add(time.Second))
		if err != nil || res2.ID == "" {
			t.Fatalf("enable: %v", err)
		}
		if fi, err := os.Stat(filepath.Join(root, Binary)); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("binary: %v %v", fi, err)
		}
		u, _ := os.ReadFile(filepath.Join(root, unitFile))
		if strings.Contains(string(u), "ConditionFirstBoot=yes") != c.firstBoot || !strings.Contains(string(u), "ConditionPathExists=!"+Done) {
			t.Errorf("unit for machine-id %q:\n%s", c.machineID, u)
		}
		if l, _ := os.Readlink(filepath.Join(root, "etc/systemd/system/multi-user.target.wants", UnitName)); l != unitFile {
			t.Errorf("not enabled: %q", l)
		}
		if s, _ := Read(h); !s.Installed || s.Ran {
			t.Errorf("status %+v", s)
		}
		again, _ := InstallPlan(h, f, elfFor(elf.EM_AARCH64, 64), []byte("version: 1\n"))
		if len(again.Pending()) != 0 {
			t.Errorf("installing again plans %d changes", len(again.Pending()))
		}
		hi, _ := store.History()
		targets, err := rollback.Targets(hi.Records, res.ID)
		if err != nil || len(targets) != 2 {
			t.Fatalf("targets %v %v", targets, err)
		}
		for _, r := range targets {
			if o, err := store.Restore(r, false); err != nil || !o.Complete {
				t.Fatalf("restore %+v %v", o, err)
			}
		}
		if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
			t.Fatalf("not byte-identical: %v", d)
		}
	}
}

// TestReport: the outcome of the run is written and read back; a damaged
// report is an error naming the file.
func TestReport(t *testing.T) {
	t.Parallel()
	h, root, _ := image(t, "uninitialized\n")
	at := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	if err := Write(h, Report{FormatVersion: ReportVersion, RanAt: at, SnapshotID: "20261129T080000Z", Changes: 7}); err != nil {
		t.Fatal(err)
	}
	s, err := Read(h)
	if err != nil || !s.Ran || s.Report == nil || s.Report.Changes != 7 || !s.Report.RanAt.Equal(at) {
		t.Fatalf("%+v %v", s, err)
	}
	os.WriteFile(filepath.Join(root, strings.TrimPrefix(Result, "/")), []byte("{"), 0o600)
	if _, err := Read(h); err == nil || !strings.Contains(err.Error(), Result) {
		t.Errorf("damaged report: %v", err)
	}
}

// TestLargeBinaryOutOfLine: the installed binary's bytes are kept once, by
// digest, not twice in the journal.
func TestLargeBinaryOutOfLine(t *testing.T) {
	t.Parallel()
	h, root, f := image(t, "uninitialized\n")
	bin := elfFor(elf.EM_AARCH64, 4<<20)
	p, _ := InstallPlan(h, f, bin, nil)
	res, err := apply.Apply(h, rollback.Open(h), p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	j, _ := os.Stat(filepath.Join(root, "var/lib/ezedge-host/snapshots", res.ID+".jsonl"))
	if j.Size() > 16<<10 {
		t.Errorf("journal %d bytes", j.Size())
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/ezedge-host/snapshots/blobs", resource.Digest(bin))); err != nil {
		t.Errorf("no blob: %v", err)
	}
}

// TestBinaryDrift: the installed binary, known by digest, is not drift
// while it is the file apply wrote; replaced, it is.
func TestBinaryDrift(t *testing.T) {
	t.Parallel()
	h, root, f := image(t, "uninitialized\n")
	bin := elfFor(elf.EM_AARCH64, 1<<20)
	p, _ := InstallPlan(h, f, bin, nil)
	if _, err := apply.Apply(h, rollback.Open(h), p, time.Now()); err != nil {
		t.Fatal(err)
	}
	drift := func() []string {
		p, err := plan.Build(h, rollback.Open(h), f, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range p.Drift {
			if strings.Contains(d, Binary) {
				out = append(out, d)
			}
		}
		return out
	}
	if d := drift(); len(d) > 0 {
		t.Errorf("the binary apply wrote is drift: %v", d)
	}
	other := append([]byte{1}, bin[1:]...)
	os.WriteFile(filepath.Join(root, Binary), other, 0o755)
	if d := drift(); len(d) != 1 {
		t.Errorf("a replaced binary is not drift: %v", d)
	}
}

// TestInstallRefusesOtherArch: a binary built for another architecture
// than the image's (amd64 into an arm64 image), or no ELF binary at all, is
// refused with nothing planned; so is a packaged one that does not match.
func TestInstallRefusesOtherArch(t *testing.T) {
	t.Parallel()
	h, root, f := image(t, "uninitialized\n")
	for _, b := range [][]byte{elfFor(elf.EM_X86_64, 64), elfFor(elf.EM_ARM, 64), []byte("#!/bin/sh\n")} {
		if p, err := InstallPlan(h, f, b, nil); err == nil {
			t.Errorf("installed %q: %d changes", b[:20], len(p.Pending()))
		}
	}
	os.MkdirAll(filepath.Join(root, "usr/sbin"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/sbin/ezedge-host"), elfFor(elf.EM_X86_64, 64), 0o755)
	if _, err := InstallPlan(h, f, nil, nil); err == nil || !strings.Contains(err.Error(), "/usr/sbin/ezedge-host is built for amd64, the image is arm64") {
		t.Errorf("packaged amd64 binary in an arm64 image: %v", err)
	}
}

// TestInstallPackaged: with the Debian package's binary in the image,
// install copies nothing, the unit runs /usr/sbin/ezedge-host, and the
// package's profile (a conffile) is left alone unless one is given.
func TestInstallPackaged(t *testing.T) {
	t.Parallel()
	h, root, f := image(t, "uninitialized\n")
	os.MkdirAll(filepath.Join(root, "usr/sbin"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/sbin/ezedge-host"), elfFor(elf.EM_AARCH64, 64), 0o755)
	os.MkdirAll(filepath.Join(root, "etc/ezedge-host"), 0o755)
	os.WriteFile(filepath.Join(root, Profile[1:]), []byte("version: 1\n"), 0o644)
	p, err := InstallPlan(h, f, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Pending()) != 2 {
		t.Fatalf("%d pending changes, want the unit and its preset only", len(p.Pending()))
	}
	if _, err := apply.Apply(h, rollback.Open(h), p, time.Now()); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, presetFile)); !strings.Contains(string(b), "\nenable "+UnitName+"\n") {
		t.Errorf("preset:\n%s", b)
	}
	u, _ := os.ReadFile(filepath.Join(root, unitFile))
	if !strings.Contains(string(u), "ExecStart=/usr/sbin/ezedge-host firstboot run") {
		t.Errorf("unit:\n%s", u)
	}
	if _, err := os.Stat(filepath.Join(root, Binary)); err == nil {
		t.Error("a binary was copied next to the packaged one")
	}
	if b, _ := os.ReadFile(filepath.Join(root, Profile[1:])); string(b) != "version: 1\n" {
		t.Errorf("profile changed: %q", b)
	}
}
