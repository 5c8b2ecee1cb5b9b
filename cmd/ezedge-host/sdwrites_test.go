package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/oracle"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// skipLine is the "Skipped:" line of task in a text plan, or "".
func skipLine(plan, task string) string {
	_, skipped, _ := strings.Cut(plan, "\nSkipped:\n")
	for _, l := range strings.Split(skipped, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == task {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), task))
		}
	}
	return ""
}

// TestRootNoatimeRefuses: an /etc/fstab the editor cannot be sure of (out
// of /etc through a link, a directory, too large, CRLF, two entries for /,
// none) skips root-noatime with one line naming the file; the rest of the
// plan applies, fstab is never touched, and rollback gives the root back
// byte for byte.
func TestRootNoatimeRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		make func(t *testing.T, root string)
		want string
	}{
		{"link out of etc", func(t *testing.T, root string) {
			os.WriteFile(filepath.Join(root, "boot/firmware/fstab"), []byte("/dev/root / ext4 defaults 0 1\n"), 0o644)
			os.Symlink("/boot/firmware/fstab", filepath.Join(root, "etc/fstab"))
		}, "/etc/fstab: refused: it resolves to /boot/firmware/fstab, outside /etc"},
		{"link out of root", func(t *testing.T, root string) {
			os.Symlink("../../../../../../etc/fstab", filepath.Join(root, "etc/fstab"))
		}, "/etc/fstab"},
		{"directory", func(t *testing.T, root string) { os.Mkdir(filepath.Join(root, "etc/fstab"), 0o755) }, "/etc/fstab"},
		{"huge", func(t *testing.T, root string) {
			b := []byte(strings.Repeat("# padding padding padding padding\n", 40000) + "/dev/root / ext4 defaults 0 1\n")
			os.WriteFile(filepath.Join(root, "etc/fstab"), b, 0o644)
		}, "/etc/fstab"},
		{"crlf", func(t *testing.T, root string) {
			os.WriteFile(filepath.Join(root, "etc/fstab"), []byte("proc /proc proc defaults 0 0\r\n/dev/root / ext4 defaults 0 1\r\n"), 0o644)
		}, "/etc/fstab line 2 (the entry for /): ends in a carriage return"},
		{"two roots", func(t *testing.T, root string) {
			os.WriteFile(filepath.Join(root, "etc/fstab"), []byte("/dev/a\t/ ext4 defaults 0 1\n# old\n/dev/b / ext4 rw 0 1"), 0o644)
		}, "/etc/fstab lines 1, 3 all mount /"},
		{"none", func(t *testing.T, root string) {
			os.WriteFile(filepath.Join(root, "etc/fstab"), []byte("# root from the command line\nproc /proc proc defaults 0 0\n"), 0o644)
		}, "/etc/fstab: no line mounts /"},
		{"absent", func(t *testing.T, root string) {}, "no /etc/fstab"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			root := fixture.Copy(t, "pi5-8gb-trixie-zram")
			os.Remove(filepath.Join(root, "etc/fstab"))
			c.make(t, root)
			orig := fixture.Snapshot(t, root)
			plan := cli("plan", "--root", root).must(t, 0)
			if got := skipLine(plan.stdout, "root-noatime"); !strings.Contains(got, c.want) {
				t.Fatalf("root-noatime skipped with %q, want %q\n%s", got, c.want, plan.stdout)
			}
			if strings.Contains(plan.stdout, "file /etc/fstab") {
				t.Fatalf("the plan changes /etc/fstab:\n%s", plan.stdout)
			}
			cli("apply", "--root", root, "--yes").must(t, 0)
			cli("rollback", "--root", root, "--yes").must(t, 0)
			if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
				t.Fatalf("root not byte-identical after rollback:\n%s", strings.Join(d, "\n"))
			}
		})
	}
}

// TestRootNoatimeEdit: on a Debian-raspi style fstab the root line alone
// changes, the other lines (tabs, comments, no final newline) keep every
// byte, a second plan has nothing to do, and rollback restores the bytes.
func TestRootNoatimeEdit(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-8gb-trixie-zram")
	in := "# The root file system has fs_passno=1 as per fstab(5) for automatic fsck.\nLABEL=RASPIROOT / ext4 rw,relatime 0 1\n# All other file systems have fs_passno=2 as per fstab(5) for automatic fsck.\nLABEL=RASPIFIRM\t/boot/firmware vfat rw 0 2"
	p := filepath.Join(root, "etc/fstab")
	os.WriteFile(p, []byte(in), 0o600)
	os.Chmod(p, 0o600)
	orig := fixture.Snapshot(t, root)
	plan := cli("plan", "--root", root).must(t, 0)
	if !strings.Contains(plan.stdout, "replaces relatime with noatime") {
		t.Fatalf("plan does not say relatime is replaced:\n%s", plan.stdout)
	}
	cli("apply", "--root", root, "--yes").must(t, 0)
	want := strings.Replace(in, "rw,relatime 0 1", "rw,noatime 0 1", 1)
	if got := readFile(t, p); got != want {
		t.Fatalf("fstab after apply:\n%q\nwant\n%q", got, want)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("fstab mode %v, want 0600 kept", st.Mode().Perm())
	}
	if again := cli("plan", "--root", root).must(t, 0); !strings.Contains(again.stdout, "No changes.") {
		t.Fatalf("second plan:\n%s", again.stdout)
	}
	cli("rollback", "--root", root, "--yes").must(t, 0)
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Fatalf("root not byte-identical after rollback:\n%s", strings.Join(d, "\n"))
	}
}

// TestTmpTmpfs: on Debian bullseye (tmp.mount in /usr/share/systemd) the
// unit, its drop-in sized from RAM and its link are written; a /tmp line in
// fstab, a masked unit or a /tmp link skip the task and say why.
func TestTmpTmpfs(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi4-8gb-bullseye")
	cli("apply", "--root", root, "--yes").must(t, 0)
	drop := readFile(t, filepath.Join(root, "etc/systemd/system/tmp.mount.d/90-ezedge-host.conf"))
	if !strings.Contains(drop, "\nOptions=mode=1777,strictatime,nosuid,nodev,size=25%%\n") {
		t.Errorf("drop-in:\n%s", drop)
	}
	if l, err := os.Readlink(filepath.Join(root, "etc/systemd/system/local-fs.target.wants/tmp.mount")); err != nil || l != "/etc/systemd/system/tmp.mount" {
		t.Errorf("tmp.mount not enabled: %q %v", l, err)
	}
	prof := writeProfile(t, "version: 1\ntasks:\n  tmp-tmpfs: {enabled: true, size_percent: 50, max_mib: 1024}\n")
	plan := cli("plan", "--root", root, "--profile", prof).must(t, 0)
	if !strings.Contains(plan.stdout, "up to 1 GiB (the max_mib cap") {
		t.Errorf("capped size not said:\n%s", plan.stdout)
	}

	for _, c := range []struct {
		name string
		make func(root string)
		want string
	}{
		{"fstab", func(root string) {
			f, _ := os.OpenFile(filepath.Join(root, "etc/fstab"), os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("tmpfs /tmp tmpfs defaults,size=1G 0 0\n")
			f.Close()
		}, "/etc/fstab line 6 mounts /tmp: fstab wins over tmp.mount"},
		{"masked", func(root string) { os.Symlink("/dev/null", filepath.Join(root, "etc/systemd/system/tmp.mount")) }, "tmp.mount is masked"},
		{"symlink", func(root string) {
			os.Remove(filepath.Join(root, "tmp"))
			os.Symlink("var/tmp", filepath.Join(root, "tmp"))
		}, "/tmp is a symbolic link"},
		// Every spelling systemd-fstab-generator reads as /tmp.
		{"fstab /tmp/", func(root string) { appendFstab(root, "/dev/sdb1 /tmp/ ext4 defaults 0 2\n") }, "/etc/fstab line 6 mounts /tmp: fstab wins over tmp.mount"},
		{"fstab //tmp", func(root string) { appendFstab(root, "/dev/sdb1 //tmp ext4 defaults 0 2\n") }, `its mount point "//tmp" is /tmp to systemd-fstab-generator`},
		{"fstab /./tmp", func(root string) { appendFstab(root, "/dev/sdb1\t/./tmp\text4 defaults 0 2\n") }, "/etc/fstab line 6 mounts /tmp"},
		{"fstab /tmp/.", func(root string) { appendFstab(root, "/dev/sdb1 /tmp/. ext4 defaults 0 2\n") }, "/etc/fstab line 6 mounts /tmp"},
		{"fstab /tmp//", func(root string) { appendFstab(root, "/dev/sdb1 /tmp// ext4 defaults 0 2\n") }, "/etc/fstab line 6 mounts /tmp"},
		{"fstab octal", func(root string) { appendFstab(root, `/dev/sdb1 /t\155p ext4 defaults 0 2`+"\n") }, `its mount point "/t\\155p" is /tmp to mount(8)`},
		// The administrator's own tmp.mount is not the unit the drop-in is for.
		{"admin's ext4 unit", func(root string) {
			os.WriteFile(filepath.Join(root, "etc/systemd/system/tmp.mount"), []byte("[Mount]\nWhat=/dev/sdb1\nWhere=/tmp\nType=ext4\n[Install]\nWantedBy=local-fs.target\n"), 0o644)
		}, "/etc/systemd/system/tmp.mount line 4 sets Type=ext4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := fixture.Copy(t, "pi4-8gb-bullseye")
			c.make(root)
			plan := cli("plan", "--root", root).must(t, 0)
			if got := skipLine(plan.stdout, "tmp-tmpfs"); !strings.Contains(got, c.want) {
				t.Fatalf("tmp-tmpfs skipped with %q, want %q\n%s", got, c.want, plan.stdout)
			}
		})
	}
}

func appendFstab(root, line string) {
	f, _ := os.OpenFile(filepath.Join(root, "etc/fstab"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(line)
	f.Close()
}

// TestTmpTmpfsReadBack: the tmp.mount and drop-in tmp-tmpfs writes load,
// for systemd-analyze verify run chrooted into the root, as a tmpfs on
// /tmp with our options: where ours replaces /usr/share's (bullseye) and
// where the drop-in extends the distribution's unit; nothing of an
// administrator's drop-in read after ours is lost from the warning.
func TestTmpTmpfsReadBack(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, fragment string
		vendor         bool
	}{
		{"ours", "/etc/systemd/system/tmp.mount", false},
		{"the distribution's", "/lib/systemd/system/tmp.mount", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			root := fixture.Copy(t, "pi4-8gb-bullseye")
			if c.vendor {
				unit, _ := os.ReadFile(filepath.Join(root, "usr/share/systemd/tmp.mount"))
				os.WriteFile(filepath.Join(root, "lib/systemd/system/tmp.mount"), unit, 0o644)
			}
			cli("apply", "--root", root, "--yes").must(t, 0)
			l := oracle.Verify(t, root, "tmp.mount")
			if l.State != "loaded" || l.Fragment != c.fragment || l.What != "tmpfs" || l.Type != "tmpfs" || l.Where != "/tmp" ||
				l.Options != "mode=1777,strictatime,nosuid,nodev,size=25%" || !slices.Contains(l.DropIns, tasks.TmpMountDropIn) {
				t.Errorf("systemd-analyze verify: %+v\n%s", l, l.Log)
			}
		})
	}
}

// TestTmpTmpfsStandsDown: after tmp-tmpfs applied (bullseye: our
// tmp.mount, its drop-in, its link), the administrator mounts /tmp from
// fstab, spelled "/tmp/". Our tmp.mount in /etc would outrank the unit
// systemd-fstab-generator makes of that line and /tmp would stay a tmpfs:
// the next apply removes our files with a warning instead, and rollback
// puts them back byte for byte.
func TestTmpTmpfsStandsDown(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi4-8gb-bullseye")
	cli("apply", "--root", root, "--yes").must(t, 0)
	appendFstab(root, "/dev/sdb1 /tmp/ ext4 defaults 0 2\n")
	before := fixture.Snapshot(t, root, fixture.StoreDir)
	plan := cli("plan", "--root", root).must(t, 0)
	if !strings.Contains(plan.stdout, "/etc/fstab line 6 mounts /tmp") || !strings.Contains(plan.stdout, "so it is removed (rollback puts it back)") {
		t.Fatalf("plan:\n%s", plan.stdout)
	}
	cli("apply", "--root", root, "--yes").must(t, 0)
	for _, p := range []string{"etc/systemd/system/tmp.mount", "etc/systemd/system/tmp.mount.d/90-ezedge-host.conf", "etc/systemd/system/local-fs.target.wants/tmp.mount"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s left in place", p)
		}
	}
	// The generator runs on a copy: its mount points are not the root's.
	copied := filepath.Join(t.TempDir(), "root")
	if err := fixture.CopyTree(root, copied); err != nil {
		t.Fatal(err)
	}
	if units, log := oracle.FstabUnits(t, copied); !strings.Contains(units["tmp.mount"], "What=/dev/sdb1") {
		t.Errorf("systemd-fstab-generator makes no tmp.mount of the line:\n%s", log)
	}
	cli("rollback", "--root", root, "--yes").must(t, 0)
	if d := before.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Errorf("not byte-identical after rollback:\n%s", strings.Join(d, "\n"))
	}
}

// TestJournaldPrecedence: a drop-in read after ours setting Storage= is a
// warning naming it and its line; journald.conf itself, read before the
// drop-ins, is a note; capped mode writes SystemMaxUse= alone.
func TestJournaldPrecedence(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi4-8gb-bullseye")
	os.MkdirAll(filepath.Join(root, "usr/lib/systemd/journald.conf.d"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/lib/systemd/journald.conf.d/95-persist.conf"), []byte("[Journal]\n# keep logs\nStorage=persistent\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/systemd/journald.conf"), []byte("[Journal]\n#Storage=auto\nStorage=auto\n"), 0o644)
	plan := cli("plan", "--root", root).must(t, 0)
	for _, want := range []string{
		"/usr/lib/systemd/journald.conf.d/95-persist.conf line 3 sets Storage=persistent and is read after /etc/systemd/journald.conf.d/90-ezedge-host.conf: it wins",
		"journald: /etc/systemd/journald.conf line 3 sets Storage=auto; /etc/systemd/journald.conf.d/90-ezedge-host.conf is read after it and wins",
	} {
		if !strings.Contains(plan.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan.stdout)
		}
	}
	prof := writeProfile(t, "version: 1\ntasks:\n  journald: {mode: capped}\n")
	cli("apply", "--root", root, "--yes", "--profile", prof).must(t, 0)
	if got := readFile(t, filepath.Join(root, "etc/systemd/journald.conf.d/90-ezedge-host.conf")); !strings.HasSuffix(got, "[Journal]\nSystemMaxUse=256M\n") {
		t.Errorf("capped drop-in:\n%s", got)
	}
}
