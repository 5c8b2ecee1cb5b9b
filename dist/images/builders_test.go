// Package integrations tests the image-builder integrations in this
// directory (make builders-test), each in its builder's own calling
// convention, against a real Debian bookworm root built with mmdebstrap
// (test/debroot's shared bookworm-amd64 root, seen through an overlay so
// it stays as built) and the amd64 .deb built from this tree:
//
//   - mmdebstrap/ezedge-host-hook: run by the real mmdebstrap as a
//     --customize-hook (-short: called as mmdebstrap calls it, on an
//     overlay of the shared root with /proc mounted);
//   - pi-gen/stage-ezedge: prerun.sh, 00-run.sh and 01-run.sh run on the
//     "host" in the sub-stage's directory with ROOTFS_DIR set,
//     00-run-chroot.sh fed to bash in a chroot with the mounts on_chroot
//     makes (/proc, /sys, /dev, a tmpfs /run and /tmp);
//   - rpi-image-gen/layer/ezedge-host.yaml: its customize hook run as
//     mmdebstrap runs a hook string (sh -c HOOK exec ROOT) with the
//     IGconf_ezedge_* variables the layer declares;
//   - sdm/ezedge-host: phase 0 with SDMPT set to the root, phase 1 and
//     post-install inside the root (a chroot standing in for sdm's
//     systemd-nspawn, with /proc and /sys mounted) with SDMPT empty;
//   - cloud-init/user-data: parsed, and checked by cloud-init's own schema
//     when cloud-init can be unpacked (not installed) into .cache/tools.
//
// Each must print the plan, leave the first-boot unit enabled with the
// snapshot in the image (rolled back here with ezedge-host rollback --root),
// and fail on an invalid profile and on a refused plan. Root is needed (the
// tests make chroots and mounts, all in a mount namespace of the test
// binary's own); under CI (CI set) a missing tool or root
// fails the tests instead of skipping them. Nothing outside temporary
// directories and .cache is changed (but apt's package lists, refreshed
// when apt-get download cannot find cloud-init, as make test-deps does).
//
// Its own module, like dist/deb/, so that `go test ./...` (make test) does
// not run it.
package integrations

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
)

const version = "0~builders"

var (
	debOnce sync.Once
	debDir  string
	debErr  error
)

func TestMain(m *testing.M) {
	// As root, the whole test binary runs in a mount namespace of its
	// own: the overlays and the builders' /proc, /sys and /dev it mounts
	// are gone when it ends, however it ends.
	if os.Geteuid() == 0 {
		if err := private(); err != nil {
			fmt.Fprintf(os.Stderr, "a mount namespace of its own: %v\n", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	for _, d := range []string{debDir, debrootDir} {
		if d != "" {
			os.RemoveAll(d)
		}
	}
	os.Exit(code)
}

// private runs the test binary again, with its arguments, in a mount
// namespace of its own (as test/debroot's Private does for the suites of
// the main module, which this module does not import, like dist/deb),
// unless it is in one already: EZEDGE_MOUNT_NS, set in the new namespace,
// names it.
func private() error {
	self, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil || os.Getenv("EZEDGE_MOUNT_NS") == self {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return err
	}
	script := `export EZEDGE_MOUNT_NS="$(readlink /proc/self/ns/mnt)" && exec "$0" "$@"`
	return syscall.Exec(unshare, append([]string{"unshare", "--mount", "--propagation", "private", "sh", "-c", script, exe}, os.Args[1:]...), os.Environ())
}

var (
	debrootOnce sync.Once
	debrootDir  string
	debrootErr  error
)

// sharedRoot mounts, for this test, an overlay of test/debroot's shared
// root name (built with mmdebstrap the first time on this machine, in the
// repository's .cache/roots or $EZEDGE_ROOTS) with test/debroot's command,
// built once per test binary. The overlay takes every change; the root
// stays as built; the overlay is unmounted when the test ends.
func sharedRoot(t *testing.T, name string) string {
	t.Helper()
	debrootOnce.Do(func() {
		if debrootDir, debrootErr = os.MkdirTemp("", "ezedge-debroot-"); debrootErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", debrootDir, "./test/debroot/cmd/debroot")
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			debrootErr = fmt.Errorf("go build ./test/debroot/cmd/debroot: %v\n%s", err, out)
		}
	})
	if debrootErr != nil {
		t.Fatal(debrootErr)
	}
	cmd := exec.Command(filepath.Join(debrootDir, "debroot"), "layer", t.TempDir(), name)
	cmd.Dir = "../.."
	var progress strings.Builder
	cmd.Stderr = &progress
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("debroot layer %s: %v\n%s", name, err, progress.String())
	}
	root := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-R", root).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", root, err, out)
		}
	})
	return root
}

// need skips the test without tool, or fails it under CI.
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("CI is set and %s is not installed", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set and this is not root (chroots and mounts need it)")
		}
		t.Skip("not root: chroots and mounts need it")
	}
}

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// sh runs a command with extra environment, in dir, and returns its
// combined output and error (the caller decides which outcome it wants).
func sh(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func must(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := sh(t, dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// deb is the amd64 package built from this tree, once per run.
func deb(t *testing.T) string {
	t.Helper()
	debOnce.Do(func() {
		if debDir, debErr = os.MkdirTemp("", "ezedge-builders-deb-"); debErr != nil {
			return
		}
		cmd := exec.Command("go", "run", ".", "-repo", "../..", "-out", debDir, "-arch", "amd64", "-version", version)
		cmd.Dir = "../deb"
		if out, err := cmd.CombinedOutput(); err != nil {
			debErr = &buildError{err, string(out)}
		}
	})
	if debErr != nil {
		t.Fatal(debErr)
	}
	return filepath.Join(debDir, "ezedge-host_"+version+"-1_amd64.deb")
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "make deb: " + e.err.Error() + "\n" + e.out }

// mmdebstrapArgs: the smallest root the first-boot unit can be enabled in
// (systemd), built without fsync (eatmydata) to keep the build short: what
// the tests that run the real mmdebstrap build.
var mmdebstrapArgs = []string{"--variant=apt", "--quiet", "--include=systemd,systemd-sysv",
	"--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata", "--dpkgopt=force-unsafe-io"}

// root is a fresh bookworm root with systemd, dpkg and apt: an overlay
// of the shared bookworm-amd64 root (built with mmdebstrap the first time
// on this machine; test/debroot), which takes this test's changes and is
// unmounted when it ends.
func root(t *testing.T) string {
	t.Helper()
	needRoot(t)
	need(t, "mmdebstrap", "unshare", "chroot")
	return sharedRoot(t, "bookworm-amd64")
}

// mount mounts in the root what the builders mount there while they work;
// the mounts are undone when the test ends.
func mount(t *testing.T, root string, points ...string) {
	t.Helper()
	for _, p := range points {
		target := filepath.Join(root, p)
		var args []string
		switch p {
		case "proc":
			args = []string{"-t", "proc", "proc", target}
		case "run", "tmp":
			args = []string{"-t", "tmpfs", "tmpfs", target}
		default: // sys, dev: the build host's, as on_chroot binds them
			args = []string{"--rbind", "/" + p, target}
		}
		must(t, "", nil, "mount", args...)
		t.Cleanup(func() { exec.Command("umount", "-R", "-l", target).Run() })
	}
}

// Profiles: a valid one, one ezedge-host rejects, and one whose plan it
// refuses (a platform the root is not: an amd64 root said to be a Pi).
const (
	goodProfile    = "version: 1\ntasks:\n  swappiness: {enabled: true, value: 10}\n"
	invalidProfile = "version: 1\ntasks:\n  swappiness: {enabled: true, value: 900}\n"
)

func writeProfile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "edge.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// provisioned checks what every integration leaves in the root: the
// package, the profile, the enabled first-boot unit and the snapshot of the
// install, and that rolling it back (as on the device) removes the unit.
func provisioned(t *testing.T, root, log string) {
	t.Helper()
	for _, want := range []string{"Plan:", "Installed: ezedge-host-firstboot.service"} {
		if !strings.Contains(log, want) {
			t.Errorf("build log lacks %q:\n%s", want, log)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "usr/sbin/ezedge-host")); err != nil {
		t.Errorf("package not installed: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/systemd/system/multi-user.target.wants/ezedge-host-firstboot.service")); err != nil {
		// the unit's WantedBy may differ: ask systemctl
		if out, err := sh(t, "", nil, "chroot", root, "systemctl", "is-enabled", "ezedge-host-firstboot.service"); err != nil {
			t.Errorf("first-boot unit not enabled: %v %s", err, out)
		}
	}
	// The profile given is the image's own, which every ezedge-host
	// command on the device reads (its first boot included).
	if b, err := os.ReadFile(filepath.Join(root, "etc/ezedge-host/profile.yaml")); err != nil || string(b) != goodProfile {
		t.Errorf("the image's /etc/ezedge-host/profile.yaml is not the profile given: %q %v", b, err)
	}
	snaps, _ := filepath.Glob(filepath.Join(root, "var/lib/ezedge-host/snapshots/*"))
	if len(snaps) == 0 {
		t.Fatalf("no snapshot kept in the image")
	}
	// Undo the install as an operator would on the device (here with
	// --root), back to the ID the build log gives: the unit goes.
	m := regexp.MustCompile(`Undo with: ezedge-host rollback --root \S+ --to (\S+)`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("build log lacks the rollback ID:\n%s", log)
	}
	must(t, "", nil, filepath.Join(root, "usr/sbin/ezedge-host"), "rollback", "--root", root, "--to", m[1], "--yes")
	if _, err := os.Stat(filepath.Join(root, "etc/systemd/system/ezedge-host-firstboot.service")); err == nil {
		t.Errorf("rollback left the first-boot unit")
	}
}

// failCases: an invalid profile, and a plan ezedge-host refuses (the
// platform given is not the root's: an amd64 root said to be a Pi 5), with
// what the build log must say.
var failCases = []struct{ name, profile, platform, want string }{
	{"invalid profile", invalidProfile, "amd64", "out of range 0..200"},
	{"refused plan", goodProfile, "rpi5", "--platform rpi5: the root is amd64"},
}

func failed(t *testing.T, out string, err error, why, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: the build did not fail:\n%s", why, out)
	}
	if want != "" && !strings.Contains(out, want) {
		t.Errorf("%s: the build log lacks %q:\n%s", why, want, out)
	}
	if strings.Contains(out, "Installed: ezedge-host-firstboot.service") {
		t.Errorf("%s: the first-boot unit was installed anyway:\n%s", why, out)
	}
}
