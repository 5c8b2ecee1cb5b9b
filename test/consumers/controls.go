package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/test/debroot"
)

// storageHeaders start the storage.conf ezedge-host writes when none is
// in /etc: copied from /usr/share, or written whole.
const (
	storageCopiedHeader = "# Copied by ezedge-host's container-storage task from\n# /usr/share/containers/storage.conf and edited: containers/storage reads\n# this file instead of that one, not both.\n"
	storageWholeHeader  = "# Written by ezedge-host's container-storage task: there was no\n# /usr/share/containers/storage.conf to start from (Debian's containers-storage\n# package is not installed). containers/storage reads this file alone and\n# needs runroot and graphroot in it; they are its built-in rootful defaults.\n"
)

// storageCases: the two ways a storage.conf comes to be where /etc has
// none, on each release, with Podman reading it as every podman command
// does. With Debian's containers-storage installed, the file is a copy of
// its /usr/share/containers/storage.conf, edited (fuse-overlayfs as
// mount_program: Debian's own file already says overlay, so native
// overlay needs no file). Without it (podman only suggests it: removed
// here with dpkg, as on a host that never installed it), the file is
// written whole. Each time Podman works before the apply, the plan says
// which case it is, the file holds exactly what is expected, podman info
// runs with it, and after rollback the file is gone and Podman works as
// before. The file as ezedge-host wrote it before containers/storage's
// needs were known (driver and graphroot alone) is the negative control:
// Podman refuses it ("runroot must be set").
func (x *ctx) storageCases(r release) error {
	for _, withCS := range []bool{true, false} {
		name := "storage.conf-with-containers-storage@" + r.name
		overlay, want := "fuse-overlayfs", "absent, so it is written as a copy of /usr/share/containers/storage.conf (Debian's containers-storage package), edited"
		if !withCS {
			name = "storage.conf-without-containers-storage@" + r.name
			overlay, want = "native", `it is written whole with what containers/storage needs of a file it reads alone: driver "overlay", runroot /run/containers/storage, graphroot /var/lib/containers/storage`
		}
		l, err := debroot.NewLayer(r.root, x.dir(name))
		if err != nil {
			return err
		}
		shared := filepath.Join(r.root, "usr/share/containers/storage.conf")
		debian, err := os.ReadFile(shared)
		if err != nil {
			return err
		}
		expect := storageCopiedHeader + strings.Replace(string(debian), "[storage.options.overlay]\n", "[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n", 1)
		if !withCS {
			if out, err := chroot(l, debroot.Mounts{Tmpfs: []string{"run", "tmp"}}, "dpkg", "--remove", "containers-storage"); err != nil {
				return fmt.Errorf("removing containers-storage: %v\n%s", err, out)
			}
			if !isWhiteout(filepath.Join(l.Upper, "usr/share/containers/storage.conf")) {
				return fmt.Errorf("dpkg --remove containers-storage left /usr/share/containers/storage.conf")
			}
			expect = storageWholeHeader + "\n[storage]\ndriver = \"overlay\"\nrunroot = \"/run/containers/storage\"\ngraphroot = \"/var/lib/containers/storage\"\n"
		}
		st, err := podmanInfo(l)
		check(name+" before", err, fmt.Sprintf("podman info (%s) works before the apply: config %v, runroot %v", r.version("podman"), st["configFile"], st["runRoot"]))

		prof := filepath.Join(x.dir("storage-profile"), "p.yaml")
		os.WriteFile(prof, []byte("version: 1\ntasks:\n  container-storage: {enabled: true, overlay: "+overlay+"}\n"), 0o644)
		plan, code := x.layerEz(l, "plan", "--root", l.Root(), "--platform", "amd64", "--profile", prof)
		if code != 0 {
			return fmt.Errorf("plan: exit %d\n%s", code, plan)
		}
		check(name+" plan", wantIn(plan, want), "the plan says: …"+want)
		if out, code := x.layerEz(l, "apply", "--root", l.Root(), "--platform", "amd64", "--profile", prof, "--yes"); code != 0 {
			return fmt.Errorf("apply: exit %d\n%s", code, out)
		}
		conf, err := os.ReadFile(filepath.Join(l.Upper, "etc/containers/storage.conf"))
		if err != nil {
			return err
		}
		var berr error
		if string(conf) != expect {
			berr = fmt.Errorf("storage.conf:\n%s\nwant:\n%s", conf, expect)
		}
		check(name+" bytes", berr, "the file is byte for byte the expected one")
		c := &use{l: l, r: r, s: &source{name: name, files: map[string]file{"/etc/containers/storage.conf": {data: conf}}}, paths: []string{"/etc/containers/storage.conf"}}
		detail, err := x.storage(c)
		check(name, err, detail)

		if !withCS {
			// The negative control, on a fork: the file as written before.
			f, err := l.Fork(x.dir("old-storage-" + r.name))
			if err != nil {
				return err
			}
			old := "# Written by ezedge-host's container-storage task. containers/storage reads\n# this file alone, not /usr/share/containers/storage.conf as well.\n\n[storage]\ndriver = \"overlay\"\ngraphroot = \"/var/lib/containers/storage\"\n"
			f.Put("/etc/containers/storage.conf", []byte(old), 0o644)
			_, err = podmanInfo(f)
			control("control storage.conf@"+r.name+" (driver and graphroot alone, without containers-storage)", err)
		}

		if out, code := x.layerEz(l, "rollback", "--root", l.Root(), "--yes"); code != 0 {
			return fmt.Errorf("rollback: exit %d\n%s", code, out)
		}
		_, gone := os.Lstat(filepath.Join(l.Upper, "etc/containers/storage.conf"))
		st, err = podmanInfo(l)
		if err == nil && !os.IsNotExist(gone) {
			err = fmt.Errorf("rollback left /etc/containers/storage.conf")
		}
		check(name+" after rollback", err, fmt.Sprintf("storage.conf gone again; podman info works as before: config %v, runroot %v", st["configFile"], st["runRoot"]))
	}
	return nil
}

func isWhiteout(p string) bool {
	info, err := os.Lstat(p)
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// controls: each consumer check, once per release, on a file broken on
// purpose the way a defect would break it; each must fail, with the
// consumer's message.
func (x *ctx) controls(r release) error {
	const svc = "/etc/systemd/system/ezedge-host-check.service"
	unit := "[Unit]\nDescription=x\n\n[Service]\nType=oneshot\nExecStart=/usr/local/sbin/ezedge-host check\n"
	fstab := strings.Replace(debianFstab, "errors=remount-ro", "errors=remount-ro,noatime", 1)
	cases := []struct {
		name, kind string
		files      map[string]file
		host       map[string]string // a fixture-like host: files it has
	}{
		{"an unknown key in a unit", "unit", map[string]file{svc: {data: []byte(unit + "Nicee=10\n")}}, nil},
		{"a command systemd cannot find", "unit", map[string]file{svc: {data: []byte(strings.Replace(unit, "ezedge-host check", "ezedge-host check\nExecStartPost=-systemd-tmpfilez --create", 1))}}, nil},
		{"a drop-in key in the wrong section", "unit", map[string]file{"/etc/systemd/system/fstrim.timer.d/90-x.conf": {data: []byte("[Mount]\nOptions=size=1%%\n")}}, nil},
		{"a link to no unit", "unit-link", map[string]file{"/etc/systemd/system/timers.target.wants/nothing.timer": {link: "/etc/systemd/system/nothing.timer"}}, nil},
		{"a sysctl key the kernel lacks", "sysctl.d", map[string]file{"/etc/sysctl.d/90-x.conf": {data: []byte("vm.swapiness = 10\n")}}, nil},
		{"a sysctl line that is no assignment", "sysctl.d", map[string]file{"/etc/sysctl.d/90-x.conf": {data: []byte("vm.swappiness = 10\nvm.overcommit_memory 1\n")}}, nil},
		{"a tmpfiles path the host lacks", "tmpfiles.d", map[string]file{"/etc/tmpfiles.d/90-x.conf": {data: []byte("w /sys/kernel/mm/transparent_hugepage/enable - - - - always\n")}}, map[string]string{"sys/kernel/mm/transparent_hugepage/enabled": "always [madvise] never\n"}},
		{"a tmpfiles line with a bad age", "tmpfiles.d", map[string]file{"/etc/tmpfiles.d/90-x.conf": {data: []byte("w /sys/kernel/mm/transparent_hugepage/enabled - - - 1x always\n")}}, map[string]string{"sys/kernel/mm/transparent_hugepage/enabled": "always [madvise] never\n"}},
		{"an unknown udev key", "udev-rules", map[string]file{"/etc/udev/rules.d/60-x.rules": {data: []byte("ACTION==\"add\", SUBSYSTEM==\"block\", ATRR{queue/nr_requests}=\"1024\"\n")}}, nil},
		{"a journald key it does not know", "journald", map[string]file{"/etc/systemd/journald.conf.d/90-x.conf": {data: []byte("[Journal]\nRuntimeMaxUsage=64M\n")}}, nil},
		{"a journald setting read after ours", "journald", map[string]file{"/etc/systemd/journald.conf.d/90-x.conf": {data: []byte("[Journal]\nStorage=volatile\n")}, "/etc/systemd/journald.conf.d/99-later.conf": {data: []byte("[Journal]\nStorage=persistent\n")}}, nil},
		{"an fstab root option systemd cannot read", "fstab", map[string]file{"/etc/fstab": {data: []byte(strings.Replace(fstab, "noatime", "noatime,x-systemd.device-timeout=abc", 1))}}, nil},
		{"an fstab pass field that is no number", "fstab", map[string]file{"/etc/fstab": {data: []byte(strings.Replace(fstab, "noatime 0       1", "noatime 0       x", 1))}}, nil},
		{"a Quadlet key Podman does not know", "quadlet", map[string]file{"/etc/containers/systemd/chat.container.d/90-x.conf": {data: []byte("[Container]\nMemroy=4g\n")}}, nil},
		{"a Compose override that is no YAML", "compose", map[string]file{"/etc/ezedge-host/compose.override.yaml": {data: []byte("services:\n  chat:\n    deploy: [\n")}}, nil},
		{"a GRUB drop-in that is no shell", "grub.d", map[string]file{"/etc/default/grub.d/90-x.cfg": {data: []byte("GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX zswap.enabled=1\n")}}, nil},
		{"a metric name the format forbids", "textfile", map[string]file{"/var/lib/prometheus/node-exporter/x.prom": {data: []byte("# HELP ezedge_x x\n# TYPE ezedge_x gauge\nezedge_x 1\nezedge-y 2\n")}}, nil},
	}
	for _, k := range cases {
		var kd kind
		for _, kk := range kinds {
			if kk.name == k.kind {
				kd = kk
			}
		}
		s := &source{name: "control", files: k.files, runtime: map[string]string{}}
		if k.host != nil {
			s.host = x.dir("control-host")
			for p, b := range k.host {
				os.MkdirAll(filepath.Dir(filepath.Join(s.host, p)), 0o755)
				os.WriteFile(filepath.Join(s.host, p), []byte(b), 0o644)
			}
		}
		l, err := x.lay(r, k.files, x.dir("control-"+k.kind+"-"+r.name))
		if err != nil {
			return err
		}
		if k.kind == "fstab" || k.kind == "grub.d" {
			l.Put("/etc/default/grub", []byte(debianGrub), 0o644)
		}
		var paths []string
		for p, f := range k.files {
			if kd.match(p, f) && !strings.Contains(p, "99-later") {
				paths = append(paths, p)
			}
		}
		detail, err := kd.consume(x, &use{l: l, r: r, s: s, paths: paths})
		if err != nil && strings.Contains(err.Error(), errNotHere.Error()) {
			note("control "+k.kind+"@"+r.name, detail)
			continue
		}
		control(fmt.Sprintf("control %s@%s (%s)", k.kind, r.name, k.name), err)
	}
	return nil
}
