package tasks

import (
	"fmt"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/alloc"
	"github.com/ezansiedgeai/ezedge-host/internal/formats/hostconf"
	"github.com/ezansiedgeai/ezedge-host/internal/formats/unitfile"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// TmpTmpfsOptions are tmp-tmpfs's profile options.
type TmpTmpfsOptions struct {
	SizePercent int `yaml:"size_percent" min:"5" max:"50" doc:"the tmpfs's size limit, in percent of RAM (tmpfs takes RAM only as files are written)"`
	MaxMiB      int `yaml:"max_mib" min:"0" max:"65536" doc:"cap on that limit, in MiB, where RAM is known (0: none)"`
}

// The files tmp-tmpfs writes: a drop-in setting tmp.mount's options, and,
// where the distribution ships tmp.mount only outside the unit path
// (Debian up to bookworm: /usr/share/systemd), the unit itself, as Debian's
// documentation has the administrator copy it.
const (
	TmpMountUnit   = "/etc/systemd/system/tmp.mount"
	TmpMountDropIn = "/etc/systemd/system/tmp.mount.d/90-ezedge-host.conf"
)

// tmpMountLinks are the links enabling our tmp.mount makes.
var tmpMountLinks = map[string]string{"/etc/systemd/system/local-fs.target.wants/tmp.mount": TmpMountUnit}

// tmpMountFile is our tmp.mount: systemd's own, whose Options= the drop-in
// replaces.
const tmpMountFile = Header + `[Unit]
Description=Temporary Directory /tmp
Documentation=https://systemd.io/TEMPORARY_DIRECTORIES
Documentation=man:file-hierarchy(7)
ConditionPathIsSymbolicLink=!/tmp
DefaultDependencies=no
Conflicts=umount.target
Before=local-fs.target umount.target
After=swap.target

[Mount]
What=tmpfs
Where=/tmp
Type=tmpfs
Options=mode=1777,strictatime,nosuid,nodev

[Install]
WantedBy=local-fs.target
`

func init() {
	resource.Own(TmpMountUnit, 64<<10)
	resource.Own(TmpMountDropIn, 64<<10)
	Register(Def[TmpTmpfsOptions]{
		Name: "tmp-tmpfs", Order: 125,
		Measures: []measure.Kind{measure.Sync},
		Summary:  "/tmp on a tmpfs through systemd's tmp.mount, sized from RAM (from the next boot)",
		When:     "on when the root is on an SD card; opt-in elsewhere",
		// The drop-in's glob tells whether an earlier apply left it.
		Observe: platform.Observe{Units: []string{"tmp.mount"}, Globs: []string{TmpMountDropIn}},
		Default: onSDRoot("a tmpfs /tmp spends RAM to spare the root disk writes"),
		// A quarter of RAM holds what package builds and unpacking put
		// in /tmp on a 2 GiB board and leaves the rest to containers;
		// systemd's own 50 % lets /tmp alone push an 8 GiB board into
		// swap. The 2 GiB cap keeps large hosts from lending /tmp more
		// RAM than an edge workload's temporary files need.
		Options: TmpTmpfsOptions{SizePercent: 25, MaxMiB: 2048},
		Plan:    planTmpTmpfs,
		// A tmpfs takes RAM only as files are written, but up to its
		// cap it may: the budget keeps the cap.
		// Standing down (an fstab line mounts /tmp, …) the task makes no
		// tmpfs, though its intent may remove what an earlier apply left.
		Reserves: func(f *Facts, o *TmpTmpfsOptions) *alloc.Reserve {
			if _, stop := tmpGuards(f); stop || f.MemTotal == 0 {
				return nil
			}
			_, note := tmpSize(f, o)
			return &alloc.Reserve{What: "tmpfs /tmp", Size: alloc.Bytes(tmpCap(f, o)), Why: "the tmp-tmpfs task: " + note}
		},
	})
}

// tmpStandDown is the intent where tmp.mount is not, or no longer, the
// unit tmp-tmpfs's files are for: a skip; but what an earlier apply wrote
// that would now act on the administrator's /tmp (the drop-in's tmpfs
// options on their unit; our tmp.mount, which outranks their fstab line)
// is removed, with why as a warning. Rollback puts it back.
func tmpStandDown(f *Facts, why string, unitToo bool) Intent {
	t := f.Writes.Tmp
	var wants []Want
	if unitToo && strings.HasPrefix(Header, t.Etc+"\n") && t.Shared != "" {
		wants = append(wants,
			Want{Resource: resource.OwnUnit("tmp.mount", tmpMountLinks).LinksOnly(), Edit: resource.UnitDisabled, Reboot: true},
			Want{Resource: resource.File(TmpMountUnit), Desired: resource.State{}, Reboot: true})
	}
	if len(f.Globbed[TmpMountDropIn]) > 0 {
		wants = append(wants, Want{Resource: resource.File(TmpMountDropIn), Desired: gone(TmpMountDropIn), Reboot: true})
	}
	if len(wants) == 0 {
		return Skip(why)
	}
	return Intent{Wants: wants, Warnings: []string{why + "; what an earlier apply wrote for tmp.mount would act on it, so it is removed (rollback puts it back)"}}
}

// tmpGuards are tmp-tmpfs's guards, in order: the intent of the first
// that stops it, and whether one did.
func tmpGuards(f *Facts) (Intent, bool) {
	t, w := f.Writes.Tmp, f.Writes
	u := f.Units["tmp.mount"]
	l := t.Loaded
	switch {
	case t.Symlink:
		return Skip("/tmp is a symbolic link: tmp.mount does not mount over one"), true
	case w.FstabProblem != "":
		return Skip(w.FstabProblem + ": whether it mounts /tmp is unknown"), true
	}
	// A line mounts /tmp however its mount point is spelled ("/tmp/",
	// "//tmp", "/./tmp", a link to /tmp): as systemd-fstab-generator or
	// mount(8) reads it.
	for _, m := range w.FstabMounts {
		if m.At("/tmp") || m.Unit == "tmp.mount" {
			why := fmt.Sprintf("%s line %d mounts /tmp: fstab wins over tmp.mount (systemd-fstab-generator makes tmp.mount from it); set /tmp up there", hostconf.FstabPath, m.Line)
			switch {
			case m.Where.Raw != "/tmp" && m.Where.Is("/tmp"):
				why += fmt.Sprintf(" (its mount point %q is /tmp to systemd-fstab-generator)", m.Where.Raw)
			case m.Where.Raw != "/tmp":
				why += fmt.Sprintf(" (its mount point %q is /tmp to mount(8))", m.Libmount.Raw)
			}
			return tmpStandDown(f, why, true), true
		}
	}
	if p := passedOver(l); p != "" {
		return tmpStandDown(f, p+"; tmp-tmpfs leaves /tmp alone rather than guess which tmp.mount is meant", false), true
	}
	switch {
	case u.Problem != "":
		return Skip(u.Problem + ": `systemctl unmask tmp.mount` lets /tmp be a tmpfs"), true
	case l.Masked != "":
		return Skip("tmp.mount is masked (" + l.Masked + "): `systemctl unmask tmp.mount` lets /tmp be a tmpfs"), true
	case t.Static != "":
		return Skip("/tmp is a tmpfs at every boot already: the distribution enables tmp.mount (" + t.Static + ", Debian trixie's default)"), true
	case l.Problem != "":
		return tmpStandDown(f, l.Problem+": tmp-tmpfs's drop-in is for systemd's tmpfs tmp.mount", false), true
	}
	// The unit the drop-in goes onto: the one systemd loads, or, where
	// tmp-tmpfs writes it, ours with the drop-ins already there.
	check := l
	if !l.Exists() && t.Shared != "" {
		check.Fragment = TmpMountUnit
		check.Settings = append(unitfile.Parse(TmpMountUnit, []byte(tmpMountFile)).Settings, l.Settings...)
	}
	if check.Exists() {
		if why := wrongTmpMount(check, TmpMountDropIn); why != "" {
			return tmpStandDown(f, why+"; the drop-in "+TmpMountDropIn+" is planned only onto that unit", false), true
		}
	}
	return Intent{}, false
}

func planTmpTmpfs(f *Facts, o *TmpTmpfsOptions) Intent {
	if in, stop := tmpGuards(f); stop {
		return in
	}
	t := f.Writes.Tmp
	u := f.Units["tmp.mount"]
	l := t.Loaded
	ours := strings.HasPrefix(Header, t.Etc+"\n")
	size, note := tmpSize(f, o)
	dropIn := Header + "[Mount]\nOptions=mode=1777,strictatime,nosuid,nodev,size=" + size + "\n"
	boot := "takes effect at the next boot: a tmpfs is not mounted over a /tmp whose files are in use"
	in := Intent{Notes: []string{note}, Warnings: laterDropIns(l, TmpMountDropIn, "Mount", "Options")}
	switch {
	case t.Shared != "" && (!l.Exists() || l.Fragment == TmpMountUnit && l.Target == "" && ours):
		// Debian up to bookworm: the unit is in /usr/share/systemd,
		// outside the unit path; ours takes its place in /etc.
		in.Wants = []Want{
			{Resource: resource.File(TmpMountUnit), Desired: resource.Content([]byte(tmpMountFile)), Reboot: true},
			{Resource: resource.File(TmpMountDropIn), Desired: resource.Content([]byte(dropIn)), Notes: []string{boot}, Reboot: true},
			{Resource: resource.OwnUnit("tmp.mount", tmpMountLinks).LinksOnly(), Edit: func(cur resource.State) resource.State {
				return resource.UnitLinked(cur, tmpMountLinks)
			}, Reboot: true},
		}
	case !u.Installed || !l.Exists():
		return Skip("tmp.mount is not installed (systemd ships it in " + platform.SharedTmpMount + " or /usr/lib/systemd/system)")
	case len(u.InstallLinks) == 0:
		return Skip("tmp.mount has no [Install] section to enable it by")
	default:
		in.Wants = []Want{
			{Resource: resource.File(TmpMountDropIn), Desired: resource.Content([]byte(dropIn)), Notes: []string{boot}, Reboot: true},
			{Resource: resource.Unit("tmp.mount").LinksOnly(), Edit: func(cur resource.State) resource.State {
				return resource.UnitLinked(cur, u.InstallLinks)
			}, Reboot: true},
		}
	}
	if f.Runtime && u.Enabled && !t.Live {
		in.RebootPending = []Pending{{"/tmp on tmpfs", "tmp.mount is enabled, /tmp is not a tmpfs yet (/proc/mounts)"}}
	}
	return in
}

// tmpCap is the most the tmpfs may hold on a host of f.MemTotal: its share
// of RAM, or the max_mib cap where that is less.
func tmpCap(f *Facts, o *TmpTmpfsOptions) uint64 {
	limit := percentOf(f.MemTotal, o.SizePercent)
	if o.MaxMiB > 0 {
		return min(limit, uint64(o.MaxMiB)<<20)
	}
	return limit
}

// percentOf is pct % of n, floored, without the overflow of n*pct: n is
// MemTotal read from the root, untrusted.
func percentOf(n uint64, pct int) uint64 {
	return n/100*uint64(pct) + n%100*uint64(pct)/100
}

// tmpSize is the tmpfs's size= (escaped for a unit file: systemd expands
// '%') and, in words, what it comes to. A percentage stays one where it is
// under the cap, so an image sizes /tmp from the RAM of the board it
// boots on.
func tmpSize(f *Facts, o *TmpTmpfsOptions) (size, note string) {
	limit := percentOf(f.MemTotal, o.SizePercent)
	capped := uint64(o.MaxMiB) << 20
	switch {
	case f.MemTotal == 0:
		return fmt.Sprintf("%d%%%%", o.SizePercent), fmt.Sprintf("/tmp may hold up to %d%% of RAM (RAM unknown on an image root)", o.SizePercent)
	case o.MaxMiB > 0 && limit > capped:
		return fmt.Sprintf("%dM", o.MaxMiB), fmt.Sprintf("/tmp may hold up to %s (the max_mib cap; %d%% of %s would be %s)", platform.HumanBytes(capped), o.SizePercent, platform.HumanBytes(f.MemTotal), platform.HumanBytes(limit))
	}
	return fmt.Sprintf("%d%%%%", o.SizePercent), fmt.Sprintf("/tmp may hold up to %d%% of RAM (%s of %s); a tmpfs takes RAM only as files are written", o.SizePercent, platform.HumanBytes(limit), platform.HumanBytes(f.MemTotal))
}
