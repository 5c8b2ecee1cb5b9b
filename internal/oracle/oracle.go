// Package oracle runs the programs that consume the files ezedge-host
// reads (systemd-fstab-generator, systemd-analyze, systemd-escape,
// systemd-sysctl, systemd-tmpfiles, zram-generator) on a test's root, so that a test can
// compare ezedge-host's reading of a file with theirs. A program that
// follows links or reads the unit path runs chrooted into the root,
// inside a user, mount and PID namespace the call starts: nothing of the
// machine is changed or read by it. Every function skips the test when
// the program (Debian's systemd 252 on the development machine) or user
// namespaces are missing, and fails it under CI (CI set).
package oracle

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// Binaries the oracle runs, where Debian installs them.
const (
	FstabGenerator = "/lib/systemd/system-generators/systemd-fstab-generator"
	Analyze        = "/usr/bin/systemd-analyze"
	Escape         = "/usr/bin/systemd-escape"
	Sysctl         = "/lib/systemd/systemd-sysctl"
	Tmpfiles       = "/usr/bin/systemd-tmpfiles"
	// ZramGenerator is Debian's systemd-zram-generator, installed; or, as
	// `make test-deps` leaves it, unpacked into the checkout's
	// .cache/tools (installing the package would give the machine
	// running the tests a zram swap device at its next boot: Debian's
	// /etc/systemd/zram-generator.conf has a [zram0]).
	ZramGenerator = "/usr/lib/systemd/system-generators/zram-generator"
)

// zramGenerator is where ZramGenerator is found: installed, or unpacked
// in .cache/tools of the checkout this file is in.
func zramGenerator() string {
	for _, p := range []string{ZramGenerator, "/lib/systemd/system-generators/zram-generator"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	_, file, _, _ := runtime.Caller(0)
	tools := filepath.Join(filepath.Dir(file), "..", "..", ".cache", "tools")
	// Debian up to bookworm ships it under /lib, trixie under /usr/lib.
	p := filepath.Join(tools, "usr", "lib", "systemd", "system-generators", "zram-generator")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return filepath.Join(tools, "lib", "systemd", "system-generators", "zram-generator")
}

// need skips (or, under CI, fails) t when prog is not installed.
func need(t testing.TB, prog string) {
	t.Helper()
	if _, err := os.Stat(prog); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and %s is missing (Debian's systemd package)", prog)
		}
		t.Skipf("%s not installed", prog)
	}
}

// needNamespaces skips t when an unprivileged user namespace cannot be
// made (the chrooted runs need one).
func needNamespaces(t testing.TB) {
	t.Helper()
	if out, err := exec.Command("unshare", "-r", "-m", "-p", "-f", "true").CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and user namespaces are unavailable: %v %s", err, out)
		}
		t.Skipf("user namespaces unavailable: %v %s", err, out)
	}
}

var lddLine = regexp.MustCompile(`(?m)^\s*(?:\S+ => )?(/\S+) \(0x`)

// files are the host files prog needs to run: itself, its ELF
// interpreter and the libraries ldd lists, each at the path it is looked
// up by.
func files(t testing.TB, prog string) []string {
	t.Helper()
	out := []string{prog}
	f, err := elf.Open(prog)
	if err != nil {
		t.Fatalf("oracle: %s: %v", prog, err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err == nil {
				out = append(out, string(bytes.TrimRight(b, "\x00")))
			}
		}
	}
	f.Close()
	ldd, err := exec.Command("ldd", prog).Output()
	if err != nil {
		t.Fatalf("oracle: ldd %s: %v", prog, err)
	}
	for _, m := range lddLine.FindAllStringSubmatch(string(ldd), -1) {
		out = append(out, m[1])
	}
	return out
}

// InRoot runs prog with args chrooted into root as its root user, in new
// user, mount and PID namespaces: prog, the libraries it loads, /dev/null
// and /proc are bind-mounted in, binds maps further host directories to
// places in the root (outputs). The mount points are made in root (empty
// files and directories where none are): read the root yourself first.
// It returns what prog printed (its log at debug level, uncoloured).
func InRoot(t testing.TB, root string, binds map[string]string, prog string, args ...string) (string, error) {
	t.Helper()
	need(t, prog)
	needNamespaces(t)
	var script strings.Builder
	script.WriteString("set -e\n")
	mountFile := func(src, dst string) {
		full := filepath.Join(root, dst)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatalf("oracle: %v", err)
		}
		if _, err := os.Lstat(full); err != nil {
			if err := os.WriteFile(full, nil, 0o644); err != nil {
				t.Fatalf("oracle: %v", err)
			}
		}
		script.WriteString("mount --bind " + quote(src) + " " + quote(full) + "\n")
	}
	for _, f := range files(t, prog) {
		real, err := filepath.EvalSymlinks(f)
		if err != nil {
			t.Fatalf("oracle: %v", err)
		}
		mountFile(real, f)
	}
	mountFile("/dev/null", "/dev/null")
	// systemd-analyze makes its working directory in /tmp, whatever
	// TMPDIR says, and writes to /run: fresh ones are mounted over the
	// root's (/run is empty at boot, too).
	for _, d := range []string{"tmp", "run"} {
		if st, err := os.Lstat(filepath.Join(root, d)); err == nil && !st.IsDir() {
			t.Fatalf("oracle: %s/%s is not a directory: the programs need one", root, d)
		}
	}
	all := map[string]string{t.TempDir(): "/.oracle/tmp", t.TempDir(): "/tmp", t.TempDir(): "/run"}
	for src, dst := range binds {
		all[src] = dst
	}
	for src, dst := range all {
		full := filepath.Join(root, dst)
		if err := os.MkdirAll(full, 0o755); err != nil {
			t.Fatalf("oracle: %v", err)
		}
		script.WriteString("mount --bind " + quote(src) + " " + quote(full) + "\n")
	}
	if err := os.MkdirAll(filepath.Join(root, "proc"), 0o755); err != nil {
		t.Fatalf("oracle: %v", err)
	}
	script.WriteString("mount -t proc proc " + quote(filepath.Join(root, "proc")) + "\n")
	script.WriteString(`exec chroot "$0" "$@"` + "\n")
	cmd := exec.Command("unshare", append([]string{"-r", "-m", "-p", "-f", "--kill-child", "sh", "-c", script.String(), root, prog}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_LOG_LEVEL=debug", "SYSTEMD_LOG_COLOR=0", "SYSTEMD_PROC_CMDLINE=", "LC_ALL=C", "TMPDIR=/.oracle/tmp"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
