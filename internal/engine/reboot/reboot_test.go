package reboot

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	// The planner and the tasks say which files ezedge-host manages
	// (resource.FromID).
	_ "github.com/ezansiedgeai/ezedge-host/plan"
)

const cmdline = "/boot/firmware/cmdline.txt"

// live is a root standing in for the running system: the Pi 5 fixture's
// kernel command line, a /run and a boot id.
func live(t *testing.T) (*hostroot.Root, string) {
	t.Helper()
	root := t.TempDir()
	fixture.PutAll(t, root, map[string]fixture.Entry{
		cmdline:                              fixture.File(read(t, filepath.Join(fixture.Testdata(), "pi5-16gb-nvme-bookworm"), cmdline)),
		"/run/lock":                          fixture.Dir(),
		bootIDPath:                           fixture.File("5e0b0f2c-0000-4000-8000-000000000001\n"),
		"/etc/ezedge-host-test-sentinel.txt": fixture.File("sentinel\n"),
	})
	h, err := hostroot.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, root
}

// change tracks, then makes, a kernel argument change, as apply does.
func change(t *testing.T, h *hostroot.Root, key, value string) resource.Resource {
	t.Helper()
	res := resource.KernelArgIn(cmdline, key)
	r, err := Load(h)
	if err != nil {
		t.Fatal(err)
	}
	now, err := res.Read(h)
	if err != nil {
		t.Fatal(err)
	}
	r.Track("memory-cgroup", res, now)
	if err := r.Save(h); err != nil {
		t.Fatal(err)
	}
	if err := res.Write(h, resource.Arg(key, value)); err != nil {
		t.Fatal(err)
	}
	return res
}

func sync(t *testing.T, h *hostroot.Root) []Reason {
	t.Helper()
	r, err := Load(h)
	if err != nil {
		t.Fatal(err)
	}
	reasons, err := r.Sync(h)
	if err != nil {
		t.Fatal(err)
	}
	return reasons
}

func read(t *testing.T, root, p string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, p))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// TestNoticeLikeDebian: a change that needs a reboot writes Debian's
// notice as notify-reboot-required does (the message; ezedge-host added
// to the list once, after the packages there), and undoing it in the same
// boot takes the notice away again, byte for byte, unless another
// package requires a reboot too or the notice was another's.
func TestNoticeLikeDebian(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name             string
		flag, pkgs       *string // before the change (nil: absent)
		wantPkgs         string
		others           string // what another package appends meanwhile
		afterFlag, after string // once undone
	}{
		{name: "alone", wantPkgs: "ezedge-host\n"},
		{name: "a kernel before", flag: ptr(Message), pkgs: ptr("linux-image-6.1.0-28-arm64\n"), wantPkgs: "linux-image-6.1.0-28-arm64\nezedge-host\n", afterFlag: Message, after: "linux-image-6.1.0-28-arm64\n"},
		{name: "a list without its last newline", flag: ptr(Message), pkgs: ptr("libc6"), wantPkgs: "libc6\nezedge-host\n", afterFlag: Message, after: "libc6\n"},
		{name: "a flag touched empty", flag: ptr(""), wantPkgs: "ezedge-host\n", afterFlag: Message},
		{name: "a kernel meanwhile", wantPkgs: "ezedge-host\n", others: "linux-base\n", afterFlag: Message, after: "linux-base\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h, root := live(t)
			if c.flag != nil {
				fixture.File(*c.flag).Put(t, root, FlagPath)
			}
			if c.pkgs != nil {
				fixture.File(*c.pkgs).Put(t, root, PkgsPath)
			}
			orig := fixture.Snapshot(t, root)
			res := change(t, h, "cgroup_enable", "memory")
			want := []Reason{{Task: "memory-cgroup", Kind: "kernel-arg", Resource: cmdline + ":cgroup_enable"}}
			for range 2 {
				if got := sync(t, h); !slices.Equal(got, want) {
					t.Fatalf("reasons %v, want %v", got, want)
				}
				if got := read(t, root, FlagPath); got != Message {
					t.Errorf("%s: %q", FlagPath, got)
				}
				if got := read(t, root, PkgsPath); got != c.wantPkgs {
					t.Errorf("%s: %q, want %q", PkgsPath, got, c.wantPkgs)
				}
			}
			if n, err := ReadNotice(h); err != nil || !n.Required || !slices.Contains(n.Packages, Package) {
				t.Errorf("notice %+v %v", n, err)
			}
			if c.others != "" {
				f, _ := os.OpenFile(filepath.Join(root, PkgsPath), os.O_APPEND|os.O_WRONLY, 0)
				f.WriteString(c.others)
				f.Close()
			}
			// A second change of the same resource keeps what it booted
			// with; putting that back is no reason any more.
			if err := res.Write(h, resource.Arg("cgroup_enable", "cpuset")); err != nil {
				t.Fatal(err)
			}
			r, _ := Load(h)
			cur, _ := res.Read(h)
			r.Track("memory-cgroup", res, cur)
			r.Save(h)
			if err := res.Write(h, resource.State{}); err != nil {
				t.Fatal(err)
			}
			if got := sync(t, h); len(got) != 0 {
				t.Fatalf("undone, still %v", got)
			}
			if got := read(t, root, FlagPath); got != c.afterFlag {
				t.Errorf("undone: %s %q, want %q", FlagPath, got, c.afterFlag)
			}
			if got := read(t, root, PkgsPath); got != c.after {
				t.Errorf("undone: %s %q, want %q", PkgsPath, got, c.after)
			}
			if c.others == "" && c.flag == nil || c.name == "a kernel before" {
				if d := orig.Diff(fixture.Snapshot(t, root)); len(d) > 0 {
					t.Errorf("not as before: %v", d)
				}
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestRecordIsOfThisBoot: a record written in another boot (a /run that
// is not a tmpfs) is not read; what it tracked is what this boot started
// with.
func TestRecordIsOfThisBoot(t *testing.T) {
	t.Parallel()
	h, root := live(t)
	change(t, h, "cgroup_enable", "memory")
	if len(sync(t, h)) != 1 {
		t.Fatal("no reason")
	}
	fixture.File("5e0b0f2c-0000-4000-8000-000000000002\n").Put(t, root, "/tmp/boot_id")
	os.Rename(filepath.Join(root, "tmp/boot_id"), filepath.Join(root, bootIDPath))
	if got := sync(t, h); len(got) != 0 {
		t.Errorf("another boot's record read: %v", got)
	}
}

// TestFileValuesKeptAsDigests: the record, readable by all, holds a
// file's value as its digest, and still tells it apart.
func TestFileValuesKeptAsDigests(t *testing.T) {
	t.Parallel()
	h, root := live(t)
	res := resource.File("/etc/systemd/system/tmp.mount")
	secret := "[Mount]\nOptions=secret-value\n"
	fixture.File(secret).Put(t, root, res.Name())
	r, _ := Load(h)
	now, err := res.Read(h)
	if err != nil {
		t.Fatal(err)
	}
	r.Track("tmp-tmpfs", res, now)
	if err := r.Save(h); err != nil {
		t.Fatal(err)
	}
	if s := read(t, root, RecordPath); strings.Contains(s, "secret") || !strings.Contains(s, resource.Digest([]byte(secret))) {
		t.Errorf("record:\n%s", s)
	}
	if got := sync(t, h); len(got) != 0 {
		t.Errorf("unchanged file is a reason: %v", got)
	}
	r, _ = Load(h)
	r.Track("tmp-tmpfs", res, now)
	r.Save(h)
	os.WriteFile(filepath.Join(root, res.Name()), []byte("[Mount]\n"), 0o644)
	if got := sync(t, h); len(got) != 1 || got[0].Kind != "file" {
		t.Errorf("changed file: %v", got)
	}
}

// TestHostileRecordAndNotice: every kind of file at each path the notice
// and the record use, and records edited to name what ezedge-host does
// not manage: each is refused with an error naming the path (or, where
// harmless, replaced), nothing outside those paths is written, and
// nothing hangs.
func TestHostileRecordAndNotice(t *testing.T) {
	t.Parallel()
	kinds := map[string]func(root string) fixture.Entry{
		"symlink out":    func(string) fixture.Entry { return fixture.Link("/etc/ezedge-host-test-sentinel.txt") },
		"symlink up":     func(string) fixture.Entry { return fixture.Link("../../../../../../etc/ezedge-host-test-sentinel.txt") },
		"dangling link":  func(string) fixture.Entry { return fixture.Link("/etc/nothing-here") },
		"directory":      func(string) fixture.Entry { return fixture.Dir() },
		"fifo":           func(string) fixture.Entry { return fixture.FIFO() },
		"too large":      func(string) fixture.Entry { return fixture.File(strings.Repeat("x", recordMax+1)) },
		"not json/lines": func(string) fixture.Entry { return fixture.File("\x00\xff{\n") },
	}
	for _, p := range []string{FlagPath, PkgsPath, RecordPath} {
		for kind, entry := range kinds {
			t.Run(p+" "+kind, func(t *testing.T) {
				t.Parallel()
				h, root := live(t)
				entry(root).Put(t, root, p)
				outside := fixture.Snapshot(t, filepath.Join(root, "etc"))
				r, lerr := Load(h)
				res := resource.KernelArgIn(cmdline, "cgroup_enable")
				now, _ := res.Read(h)
				r.Track("memory-cgroup", res, now)
				serr := r.Save(h)
				res.Write(h, resource.Arg("cgroup_enable", "memory"))
				_, err := r.Sync(h)
				all := strings.Join([]string{errText(lerr), errText(serr), errText(err)}, "; ")
				switch {
				case p == RecordPath:
					// Refused as the record it is not (a regular file
					// of garbage is then replaced), naming it.
					if !strings.Contains(all, RecordPath) {
						t.Errorf("a %s as the record: %s", kind, all)
					}
				case p == FlagPath && strings.HasPrefix(kind, "symlink"):
					// The flag is there (test -f says so too): nothing
					// is written through the link, and it is never
					// removed, not being ezedge-host's.
					if err != nil {
						t.Errorf("%v", err)
					}
				case kind == "not json/lines":
					// Debian's files are lines of text; odd bytes are
					// another package's business.
					if err != nil {
						t.Errorf("%v", err)
					}
				case err == nil || !strings.Contains(err.Error(), p):
					t.Errorf("sync over a %s at %s: %v", kind, p, err)
				}
				if d := outside.Diff(fixture.Snapshot(t, filepath.Join(root, "etc"))); len(d) > 0 {
					t.Errorf("wrote outside /run: %v", d)
				}
			})
		}
	}
	// Records naming what ezedge-host does not manage.
	for _, body := range []string{
		`{"format_version":1,"boot_id":"5e0b0f2c-0000-4000-8000-000000000001","entries":[{"resource":"file:/etc/shadow","task":"x","booted":{"exists":true}}]}`,
		`{"format_version":1,"boot_id":"5e0b0f2c-0000-4000-8000-000000000001","entries":[{"resource":"kernel-arg:/boot/../etc/passwd:x","task":"x","booted":{"exists":true}}]}`,
		`{"format_version":99,"entries":[]}`,
	} {
		h, root := live(t)
		fixture.File(body).Put(t, root, RecordPath)
		if r, err := Load(h); err == nil || !strings.Contains(err.Error(), RecordPath) || len(r.Entries) != 0 {
			t.Errorf("record %s: %v %+v", body, err, r)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
