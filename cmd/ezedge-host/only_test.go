package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

// apply --only TASK: one change at a time. Only that task's changes are
// applied, the rest stay pending; a saved plan keeps its --only; rolling
// every step back gives the root back byte for byte.
func TestApplyOnly(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
	before := fixture.Snapshot(t, root)
	task := regexp.MustCompile(`(?m)^\s*[~+-] .*\[([a-z-]+(?:,[a-z-]+)*)(?:, [a-z ]+)?\]$`)
	tasksIn := func(out string) map[string]bool {
		m := map[string]bool{}
		for _, s := range task.FindAllStringSubmatch(out, -1) {
			m[s[1]] = true
		}
		return m
	}
	all := tasksIn(cli("plan", "--root", root).must(t, 0).stdout)
	if len(all) < 3 || !all["swappiness"] || !all["nvme-queue"] {
		t.Fatalf("plan's tasks %v", all)
	}
	r := cli("plan", "--root", root, "--only", "swappiness").must(t, 0)
	if got := tasksIn(r.stdout); len(got) != 1 || !got["swappiness"] {
		t.Fatalf("plan --only swappiness shows %v:\n%s", got, r.stdout)
	}
	cli("apply", "--yes", "--root", root, "--only", "swappiness").must(t, 0)
	rest := tasksIn(cli("plan", "--root", root).must(t, 0).stdout)
	if rest["swappiness"] || len(rest) != len(all)-1 {
		t.Fatalf("after apply --only swappiness, pending %v", rest)
	}
	plan := filepath.Join(t.TempDir(), "nvme.plan")
	cli("plan", "--root", root, "--only", "nvme-queue", "--out", plan).must(t, 0)
	if r := cli("apply", plan, "--root", root, "--only", "thp"); r.code != 1 || !strings.Contains(r.stderr, "--only: a saved plan is applied as saved") {
		t.Fatalf("%+v", r)
	}
	cli("apply", plan, "--root", root).must(t, 0)
	if rest2 := tasksIn(cli("plan", "--root", root).must(t, 0).stdout); rest2["nvme-queue"] || len(rest2) != len(all)-2 {
		t.Fatalf("after the saved nvme-queue plan, pending %v", rest2)
	}
	for _, args := range [][]string{{"apply", "--yes", "--only", "nope"}, {"plan", "--only", "nope"}} {
		r := cli(append(args, "--root", root)...).must(t, 1)
		if !strings.Contains(r.stderr, "--only nope: no such task") || strings.Count(r.stderr, "\n") != 1 {
			t.Fatalf("%v: %q", args, r.stderr)
		}
	}
	cli("rollback", "--yes", "--root", root).must(t, 0)
	cli("rollback", "--yes", "--root", root).must(t, 0)
	if d := before.Diff(fixture.Snapshot(t, root, "var/lib/ezedge-host")); len(d) != 0 {
		t.Fatalf("not byte-identical after rolling both steps back: %v", d)
	}
}

// --only on the shared resources: an owned file keeps the other tasks'
// parts as they are, and a kernel command line (Pi cmdline.txt, a GRUB
// drop-in) gains only the named task's arguments and keeps the others'.
func TestApplyOnlySharedResources(t *testing.T) {
	t.Parallel()
	t.Run("pi cmdline.txt and sysctl.d", func(t *testing.T) {
		t.Parallel()
		root := fixture.Copy(t, "pi4-8gb-bullseye")
		before := fixture.Snapshot(t, root)
		cmdline := filepath.Join(root, "boot/cmdline.txt")
		orig := readFile(t, cmdline)
		cli("apply", "--yes", "--root", root, "--only", "zswap").must(t, 0)
		got := readFile(t, cmdline)
		if !strings.Contains(got, "zswap.enabled=1") || strings.Contains(got, "cgroup_enable=memory") {
			t.Fatalf("after --only zswap: %q", got)
		}
		cli("apply", "--yes", "--root", root, "--only", "memory-cgroup").must(t, 0)
		got = readFile(t, cmdline)
		if !strings.Contains(got, "zswap.enabled=1") || !strings.Contains(got, "cgroup_enable=memory") {
			t.Fatalf("after --only memory-cgroup: %q", got)
		}
		// Now everything but swappiness' own changes is what a whole apply
		// writes: the whole plan has only swappiness left in cmdline terms.
		if r := cli("plan", "--root", root, "--only", "zswap", "--only", "memory-cgroup").must(t, 0); !strings.Contains(r.stdout, "0 to change") {
			t.Fatalf("plan after both:\n%s", r.stdout)
		}
		for range 2 {
			cli("rollback", "--yes", "--root", root).must(t, 0)
		}
		if readFile(t, cmdline) != orig {
			t.Fatal("cmdline.txt not restored")
		}
		if d := before.Diff(fixture.Snapshot(t, root, "var/lib/ezedge-host")); len(d) != 0 {
			t.Fatalf("not byte-identical: %v", d)
		}
	})
	t.Run("grub drop-in and sysctl.d", func(t *testing.T) {
		t.Parallel()
		root := fixture.Copy(t, "amd64-intel-32gb-2nvme")
		prof := filepath.Join(t.TempDir(), "p.yaml")
		if err := os.WriteFile(prof, []byte("version: 1\ntasks:\n  zswap: {enabled: true}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		dropIn := filepath.Join(root, "etc/default/grub.d/90-ezedge-host.cfg")
		sysctl := filepath.Join(root, "etc/sysctl.d/90-ezedge-host.conf")
		cli("apply", "--yes", "--root", root, "--profile", prof, "--only", "swappiness").must(t, 0)
		if _, err := os.Stat(dropIn); err == nil {
			t.Fatal("--only swappiness wrote the GRUB drop-in")
		}
		conf := readFile(t, sysctl)
		if !strings.Contains(conf, "\n# swappiness\nvm.swappiness = 10\n") || strings.Contains(conf, "net.core") || strings.Contains(conf, "hugepages") {
			t.Fatalf("sysctl.d after --only swappiness:\n%s", conf)
		}
		if v := readFile(t, filepath.Join(root, "proc/sys/net/core/rmem_max")); strings.TrimSpace(v) != "212992" {
			t.Fatalf("net-buffers applied at runtime: %s", v)
		}
		cli("apply", "--yes", "--root", root, "--profile", prof, "--only", "zswap").must(t, 0)
		if !strings.Contains(readFile(t, dropIn), "zswap.enabled=1") {
			t.Fatal("--only zswap did not write the drop-in")
		}
		cli("apply", "--yes", "--root", root, "--profile", prof, "--only", "net-buffers").must(t, 0)
		conf = readFile(t, sysctl)
		if !strings.Contains(conf, "\n# swappiness\nvm.swappiness = 10\n") || !strings.Contains(conf, "\n# net-buffers\n") || strings.Contains(conf, "hugepages") {
			t.Fatalf("sysctl.d after --only net-buffers:\n%s", conf)
		}
		if !strings.Contains(readFile(t, dropIn), "zswap.enabled=1") {
			t.Fatal("--only net-buffers dropped zswap's arguments")
		}
	})
}
