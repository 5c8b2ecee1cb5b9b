package tasks

import (
	"slices"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// factsOf reads the facts of a copy of fixture base with files put in.
func factsOf(t *testing.T, base string, files map[string]fixture.Entry) *Facts {
	t.Helper()
	root := fixture.Copy(t, base)
	fixture.PutAll(t, root, files)
	h, err := hostroot.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	f, err := platform.Detect(h, Observations())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// outcome is what a task did in a case: "plan" (its drop-in planned),
// "skip", "refuse", "omit" (the task runs, the drop-in is left out), or
// "remove" (a drop-in an earlier apply left is taken away).
type outcome struct {
	what string
	// says must appear in the skip or refusal reason, or a warning.
	says string
}

// intentOutcome tells what in did about drop-in (a wanted file or a
// fragment), and all it said.
func intentOutcome(in Intent, dropIn string) (string, string) {
	said := strings.Join(append(append([]string{in.Skip, in.Refuse, in.RefuseFile}, in.Warnings...), in.Notes...), "\n")
	switch {
	case in.Skip != "":
		return "skip", said
	case in.Refuse != "":
		return "refuse", said
	}
	for _, w := range in.Wants {
		if w.Resource.Name() == dropIn && w.Desired.Exists {
			return "plan", said
		}
		if w.Resource.Name() == dropIn && w.Edit == nil {
			return "remove", said
		}
	}
	for _, fr := range in.Fragments {
		if fr.File == dropIn {
			return "plan", said
		}
	}
	return "omit", said
}

// big is a unit file larger than ezedge-host reads (1 MiB).
var big = "[Mount]\n" + strings.Repeat("# padding\n", 110000)

// dropInCases are, for each task that writes a drop-in, every kind of
// file at the path of the unit the drop-in extends, and what the task
// does with it. The drop-in is planned only onto the unit it was written
// for; everything else is skipped or refused naming the file (and line).
var dropInCases = []struct {
	task, base, dropIn string
	opts               any
	name               string
	files              map[string]fixture.Entry
	want               outcome
}{
	// tmp-tmpfs: tmp.mount, a tmpfs, with Options=mode=,size=.
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "ours, from /usr/share", nil, outcome{"plan", ""}},
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "admin's tmpfs copy", map[string]fixture.Entry{
		TmpMountUnit: fixture.File(tmpMountFile[len(Header):])}, outcome{"plan", ""}},
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "admin's ext4 unit", map[string]fixture.Entry{
		TmpMountUnit: fixture.File("[Mount]\nWhat=/dev/sdb1\nWhere=/tmp\nType=ext4\n[Install]\nWantedBy=local-fs.target\n")},
		outcome{"skip", "/etc/systemd/system/tmp.mount line 4 sets Type=ext4"}},
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "a link to another unit", map[string]fixture.Entry{
		"/etc/systemd/system/data.mount": fixture.File("[Mount]\nWhat=/dev/sdb1\nWhere=/data\nType=ext4\n"),
		TmpMountUnit:                     fixture.Link("data.mount")},
		outcome{"skip", "/etc/systemd/system/tmp.mount: a link to /etc/systemd/system/data.mount"}},
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "a link to a unit outside the unit path", map[string]fixture.Entry{
		"/srv/units/tmp.mount": fixture.File("[Mount]\nWhat=/dev/sdb1\nWhere=/tmp\nType=xfs\n"),
		TmpMountUnit:           fixture.Link("/srv/units/tmp.mount")},
		outcome{"skip", "/srv/units/tmp.mount line 4 sets Type=xfs"}},
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "masked", map[string]fixture.Entry{TmpMountUnit: fixture.Link("/dev/null")}, outcome{"skip", "masked"}},
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "masked, spelled", map[string]fixture.Entry{TmpMountUnit: fixture.Link("//dev/./null")}, outcome{"skip", "masked"}},
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "empty file", map[string]fixture.Entry{TmpMountUnit: fixture.File("")}, outcome{"skip", "masked"}},
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "a directory", map[string]fixture.Entry{TmpMountUnit: fixture.Dir()}, outcome{"skip", "/etc/systemd/system/tmp.mount: is a directory"}},
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "a FIFO", map[string]fixture.Entry{TmpMountUnit: fixture.FIFO()}, outcome{"skip", "/etc/systemd/system/tmp.mount: is a FIFO"}},
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "tmpfs type, another what", map[string]fixture.Entry{
		TmpMountUnit: fixture.File("[Mount]\nWhat=/dev/sdb1\nWhere=/tmp\nType=tmpfs\n")},
		outcome{"skip", "/etc/systemd/system/tmp.mount line 2 sets What=/dev/sdb1"}},
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "another where", map[string]fixture.Entry{
		TmpMountUnit: fixture.File("[Mount]\nWhat=tmpfs\nWhere=/var/tmp\nType=tmpfs\n")},
		outcome{"skip", "line 3 sets Where=/var/tmp: systemd refuses tmp.mount"}},
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "unreadable: too large", map[string]fixture.Entry{TmpMountUnit: fixture.File(big)}, outcome{"skip", "/etc/systemd/system/tmp.mount"}},
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "a dangling link", map[string]fixture.Entry{TmpMountUnit: fixture.Link("/srv/none.mount")}, outcome{"skip", "/etc/systemd/system/tmp.mount leads nowhere"}},
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "a link loop", map[string]fixture.Entry{TmpMountUnit: fixture.Link("/srv/a"), "/srv/a": fixture.Link("/srv/b"), "/srv/b": fixture.Link("/srv/a")}, outcome{"skip", "/etc/systemd/system/tmp.mount"}},
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "another drop-in sets the type", map[string]fixture.Entry{
		"/usr/lib/systemd/system/tmp.mount.d/50-disk.conf": fixture.File("[Mount]\nWhat=/dev/sdb1\nType=ext4\n")},
		outcome{"skip", "/usr/lib/systemd/system/tmp.mount.d/50-disk.conf line 3 sets Type=ext4"}},
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "a type drop-in empties What=", map[string]fixture.Entry{
		"/etc/systemd/system/mount.d/10-all.conf": fixture.File("[Mount]\nWhat=\n")},
		outcome{"skip", "/etc/systemd/system/mount.d/10-all.conf line 2 empties What="}},
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "a later drop-in sets Options=", map[string]fixture.Entry{
		"/etc/systemd/system/tmp.mount.d/95-mine.conf": fixture.File("[Mount]\nOptions=mode=1777,size=10%\n")},
		outcome{"plan", "95-mine.conf line 2 sets Options=mode=1777,size=10% and is read after"}},
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "fstab mounts //tmp/", map[string]fixture.Entry{
		"/etc/fstab": fixture.File("proc /proc proc defaults 0 0\n/dev/sdb1 //tmp/ ext4 defaults 0 2\n")},
		outcome{"skip", "/etc/fstab line 2 mounts /tmp"}},
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "fstab mounts a link to /tmp", map[string]fixture.Entry{
		"/etc/fstab": fixture.File("/dev/sdb1 /mnt/scratch ext4 defaults 0 2\n"), "/mnt/scratch": fixture.Link("../tmp")},
		outcome{"skip", "/etc/fstab line 1 mounts /tmp"}},

	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "an earlier drop-in under an admin's ext4 unit", map[string]fixture.Entry{
		TmpMountDropIn: fixture.File(Header + "[Mount]\nOptions=mode=1777,strictatime,nosuid,nodev,size=25%%\n"),
		TmpMountUnit:   fixture.File("[Mount]\nWhat=/dev/sdb1\nWhere=/tmp\nType=ext4\n")},
		outcome{"remove", "/etc/systemd/system/tmp.mount line 4 sets Type=ext4"}},
	{"tmp-tmpfs", "pi4-8gb-bullseye", TmpMountDropIn, nil, "an earlier apply, then fstab mounts /tmp/", map[string]fixture.Entry{
		TmpMountUnit:   fixture.File(tmpMountFile),
		TmpMountDropIn: fixture.File(Header + "[Mount]\nOptions=mode=1777,strictatime,nosuid,nodev,size=25%%\n"),
		"/etc/systemd/system/local-fs.target.wants/tmp.mount": fixture.Link(TmpMountUnit),
		"/etc/fstab": fixture.File("/dev/sdb1 /tmp/ ext4 defaults 0 2\n")},
		outcome{"remove", "/etc/fstab line 1 mounts /tmp"}},

	// journald: the drop-in is read by systemd-journald.service.
	{"journald", "pi4-8gb-bullseye", JournaldDropIn, nil, "no unit in the root", nil, outcome{"plan", ""}},
	{"journald", "pi4-8gb-bullseye", JournaldDropIn, nil, "the distribution's unit", map[string]fixture.Entry{
		"/lib/systemd/system/systemd-journald.service": fixture.File("[Service]\nExecStart=/lib/systemd/systemd-journald\n")}, outcome{"plan", ""}},
	{"journald", "pi4-8gb-bullseye", JournaldDropIn, nil, "masked", map[string]fixture.Entry{
		"/etc/systemd/system/systemd-journald.service": fixture.Link("/dev/null")}, outcome{"skip", "systemd-journald.service is masked (/etc/systemd/system/systemd-journald.service"}},
	{"journald", "pi4-8gb-bullseye", JournaldDropIn, nil, "empty file", map[string]fixture.Entry{
		"/etc/systemd/system/systemd-journald.service": fixture.File("")}, outcome{"skip", "masked"}},
	{"journald", "pi4-8gb-bullseye", JournaldDropIn, nil, "a directory over the distribution's", map[string]fixture.Entry{
		"/lib/systemd/system/systemd-journald.service": fixture.File("[Service]\nExecStart=/lib/systemd/systemd-journald\n"),
		"/etc/systemd/system/systemd-journald.service": fixture.Dir()}, outcome{"plan", ""}},
	{"journald", "pi4-8gb-bullseye", JournaldDropIn, nil, "unreadable", map[string]fixture.Entry{
		"/etc/systemd/system/systemd-journald.service": fixture.File(big)}, outcome{"skip", "/etc/systemd/system/systemd-journald.service"}},
	{"journald", "pi4-8gb-bullseye", JournaldDropIn, nil, "a dangling link", map[string]fixture.Entry{
		"/etc/systemd/system/systemd-journald.service": fixture.Link("/srv/none.service")}, outcome{"skip", "leads nowhere"}},

	// cpu-governor on Bullseye: raspi-config.service.d re-applies ours
	// after systemd-sysv-generator's unit of /etc/init.d/raspi-config.
	{"cpu-governor", "pi4-8gb-bullseye", RaspiConfigDropIn, nil, "the script's generated unit", nil, outcome{"plan", ""}},
	{"cpu-governor", "pi4-8gb-bullseye", RaspiConfigDropIn, nil, "a native unit running the script", map[string]fixture.Entry{
		"/lib/systemd/system/raspi-config.service": fixture.File("[Service]\nType=oneshot\nExecStart=/etc/init.d//raspi-config start\n")}, outcome{"plan", ""}},
	{"cpu-governor", "pi4-8gb-bullseye", RaspiConfigDropIn, nil, "an admin's unit running something else", map[string]fixture.Entry{
		"/etc/systemd/system/raspi-config.service": fixture.File("[Unit]\nDescription=mine\n\n[Service]\nExecStart=/usr/local/bin/mine\n")},
		outcome{"omit", "/etc/systemd/system/raspi-config.service line 5: ExecStart=/usr/local/bin/mine"}},
	{"cpu-governor", "pi4-8gb-bullseye", RaspiConfigDropIn, nil, "an alias of another service", map[string]fixture.Entry{
		"/lib/systemd/system/other.service":        fixture.File("[Service]\nExecStart=/usr/bin/other\n"),
		"/etc/systemd/system/raspi-config.service": fixture.Link("/lib/systemd/system/other.service")},
		outcome{"omit", "raspi-config.service is /lib/systemd/system/other.service"}},
	{"cpu-governor", "pi4-8gb-bullseye", RaspiConfigDropIn, nil, "masked", map[string]fixture.Entry{
		"/etc/systemd/system/raspi-config.service": fixture.Link("/dev/null")}, outcome{"omit", "masked"}},
	{"cpu-governor", "pi4-8gb-bullseye", RaspiConfigDropIn, nil, "a directory", map[string]fixture.Entry{
		"/etc/systemd/system/raspi-config.service": fixture.Dir()}, outcome{"omit", "/etc/systemd/system/raspi-config.service: is a directory"}},
	{"cpu-governor", "pi4-8gb-bullseye", RaspiConfigDropIn, nil, "a FIFO", map[string]fixture.Entry{
		"/etc/systemd/system/raspi-config.service": fixture.FIFO()}, outcome{"omit", "/etc/systemd/system/raspi-config.service: is a FIFO"}},
	{"cpu-governor", "pi4-8gb-bullseye", RaspiConfigDropIn, nil, "unreadable", map[string]fixture.Entry{
		"/etc/systemd/system/raspi-config.service": fixture.File(big)}, outcome{"omit", "/etc/systemd/system/raspi-config.service"}},
	{"cpu-governor", "pi4-8gb-bullseye", RaspiConfigDropIn, nil, "the script not executable", map[string]fixture.Entry{
		"/etc/init.d/raspi-config": fixture.File("#!/bin/sh\necho ondemand > /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor\n").Mode(0o644)}, outcome{"omit", "does not run at boot"}},

	// container-resources: NAME.container.d extends the Quadlet unit.
	{"container-resources", "pi5-8gb-trixie-zram", "/etc/containers/systemd/ears.container.d/90-ezedge-host.conf", &ContainerResourcesOptions{Containers: []string{"stt=ears"}, Form: "quadlet"},
		"no unit yet", nil, outcome{"plan", "no ears.container yet"}},
	{"container-resources", "pi5-8gb-trixie-zram", "/etc/containers/systemd/ears.container.d/90-ezedge-host.conf", &ContainerResourcesOptions{Containers: []string{"stt=ears"}, Form: "quadlet"},
		"a container unit", map[string]fixture.Entry{"/etc/containers/systemd/ears.container": fixture.File("[Container]\nImage=docker.io/library/ears\n")}, outcome{"plan", ""}},
	{"container-resources", "pi5-8gb-trixie-zram", "/etc/containers/systemd/ears.container.d/90-ezedge-host.conf", &ContainerResourcesOptions{Containers: []string{"stt=ears"}, Form: "quadlet"},
		"in a subdirectory of /usr/share", map[string]fixture.Entry{"/usr/share/containers/systemd/ai/ears.container": fixture.File("[Container]\nImage=x\n")}, outcome{"plan", ""}},
	{"container-resources", "pi5-8gb-trixie-zram", "/etc/containers/systemd/ears.container.d/90-ezedge-host.conf", &ContainerResourcesOptions{Containers: []string{"stt=ears"}, Form: "quadlet"},
		"not a container", map[string]fixture.Entry{"/etc/containers/systemd/ears.container": fixture.File("[Unit]\nDescription=not one\n[Volume]\n")},
		outcome{"refuse", "/etc/containers/systemd/ears.container has no [Container] section"}},
	{"container-resources", "pi5-8gb-trixie-zram", "/etc/containers/systemd/ears.container.d/90-ezedge-host.conf", &ContainerResourcesOptions{Containers: []string{"stt=ears"}, Form: "quadlet"},
		"a link to a volume unit", map[string]fixture.Entry{"/etc/containers/systemd/data.volume": fixture.File("[Volume]\n"), "/etc/containers/systemd/ears.container": fixture.Link("data.volume")},
		outcome{"refuse", "has no [Container] section"}},
	{"container-resources", "pi5-8gb-trixie-zram", "/etc/containers/systemd/ears.container.d/90-ezedge-host.conf", &ContainerResourcesOptions{Containers: []string{"stt=ears"}, Form: "quadlet"},
		"masked", map[string]fixture.Entry{"/etc/containers/systemd/ears.container": fixture.Link("/dev/null")}, outcome{"refuse", "is empty: Quadlet makes no container of it"}},
	{"container-resources", "pi5-8gb-trixie-zram", "/etc/containers/systemd/ears.container.d/90-ezedge-host.conf", &ContainerResourcesOptions{Containers: []string{"stt=ears"}, Form: "quadlet"},
		"a directory", map[string]fixture.Entry{"/etc/containers/systemd/ears.container": fixture.Dir()}, outcome{"refuse", "/etc/containers/systemd/ears.container: is a directory"}},
	{"container-resources", "pi5-8gb-trixie-zram", "/etc/containers/systemd/ears.container.d/90-ezedge-host.conf", &ContainerResourcesOptions{Containers: []string{"stt=ears"}, Form: "quadlet"},
		"a FIFO", map[string]fixture.Entry{"/etc/containers/systemd/ears.container": fixture.FIFO()}, outcome{"refuse", "/etc/containers/systemd/ears.container: is a FIFO"}},
	{"container-resources", "pi5-8gb-trixie-zram", "/etc/containers/systemd/ears.container.d/90-ezedge-host.conf", &ContainerResourcesOptions{Containers: []string{"stt=ears"}, Form: "quadlet"},
		"unreadable", map[string]fixture.Entry{"/etc/containers/systemd/ears.container": fixture.File(big)}, outcome{"refuse", "/etc/containers/systemd/ears.container"}},
	{"container-resources", "pi5-8gb-trixie-zram", "/etc/containers/systemd/ears.container.d/90-ezedge-host.conf", &ContainerResourcesOptions{Containers: []string{"stt=ears"}, Form: "quadlet"},
		"a dangling link over a good one", map[string]fixture.Entry{
			"/etc/containers/systemd/ears.container":       fixture.Link("/srv/none"),
			"/usr/share/containers/systemd/ears.container": fixture.File("[Container]\nImage=x\n")}, outcome{"plan", ""}},
}

// TestDropInsByClass: every kind of unit file at the path of the unit
// each drop-in-writing task extends.
func TestDropInsByClass(t *testing.T) {
	t.Parallel()
	for _, c := range dropInCases {
		t.Run(c.task+"/"+c.name, func(t *testing.T) {
			t.Parallel()
			if testing.Short() && c.want.what == "plan" && c.want.says == "" && c.files != nil {
				t.Skip("-short: the plain cases")
			}
			f := factsOf(t, c.base, c.files)
			in := plan(t, c.task, f, c.opts)
			got, said := intentOutcome(in, c.dropIn)
			if got != c.want.what || !strings.Contains(said, c.want.says) {
				t.Errorf("%s, saying:\n%s\nwant %s saying %q", got, said, c.want.what, c.want.says)
			}
			if strings.Contains(said, "\n") && slices.Contains([]string{"skip", "refuse"}, got) && strings.Contains(in.Skip+in.Refuse, "\n") {
				t.Errorf("a reason of more than one line: %q", in.Skip+in.Refuse)
			}
		})
	}
}
