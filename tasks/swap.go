package tasks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/hostconf"
	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// SwapOptions are swap's profile options.
type SwapOptions struct {
	Zram        bool `yaml:"zram" doc:"swap on zram (compressed RAM), made by rpi-swap or systemd's zram-generator where one is installed"`
	ZramPercent int  `yaml:"zram_percent" min:"10" max:"150" doc:"zram-generator: the zram device's size in percent of RAM (rpi-swap sizes its own)"`
	ZramMaxMiB  int  `yaml:"zram_max_mib" min:"64" max:"65536" doc:"zram-generator: cap on that size, in MiB"`
	AllowNoSwap bool `yaml:"allow_no_swap" doc:"let the task remove the last swap of a host with under 2 GiB of RAM (or of unknown RAM: an image)"`
}

// The files swap writes: a drop-in for each program that reads drop-ins
// (ours sorts after the distributions' own); fstab is edited in place.
const (
	ZramGeneratorDropIn = platform.ZramGeneratorOurs
	dphysUnit           = "dphys-swapfile.service"
	// swapGuardRAM: below it, a host with no swap at all meets the OOM
	// killer where a little swap would have carried it.
	swapGuardRAM = 2 << 30
)

func init() {
	resource.Own(platform.RpiSwapOurs, 64<<10)
	resource.Own(ZramGeneratorDropIn, 64<<10)
	Register(Def[SwapOptions]{
		Name: "swap", Order: 72,
		Measures: []measure.Kind{measure.Memory, measure.Sync},
		Summary:  "swap minimal: no swap to disk (dphys-swapfile off, fstab swap lines commented out, rpi-swap on zram), swap on zram sized from RAM (from the next boot)",
		When:     "on when the root is on an SD card; opt-in elsewhere",
		// The drop-ins' globs tell whether an earlier apply left one that
		// the options no longer want.
		Observe: platform.Observe{Units: []string{dphysUnit}, Globs: []string{platform.RpiSwapOurs, ZramGeneratorDropIn}},
		// Swap on an SD card wears the card and stalls the host on its
		// slow small writes; on an SSD or NVMe disk, swap is a safety net
		// worth its writes, so removing it is the operator's choice.
		Default: onSDRoot("swap on an SSD or NVMe disk is a safety net worth its writes"),
		Options: SwapOptions{Zram: true, ZramPercent: 50, ZramMaxMiB: 4096},
		Plan:    planSwap,
	})
}

// swapZram is what makes zram swap for the swap task with o on this host:
// "rpi-swap", "zram-generator" or "" (none installed, or zram off).
func swapZram(f *Facts, o *SwapOptions) string {
	switch {
	case !o.Zram:
		return ""
	case f.Swap.RpiSwap != nil:
		return "rpi-swap"
	case f.Swap.ZramGenerator:
		return "zram-generator"
	}
	return ""
}

// SwapPlansZram says what makes zram swap where the choices c turn the
// swap task on with zram ("" where they do not): zswap stands aside for
// it as it does for zram the host has already.
func SwapPlansZram(f *Facts, c Choices) string {
	t, ok := ByName("swap")
	if !ok {
		return ""
	}
	on, _ := t.Default(f)
	if v, set := c.Enabled(t); set {
		on = v
	}
	if !on {
		return ""
	}
	o := c.Options(t).(*SwapOptions)
	if in := planSwap(f, o); in.Skip != "" || in.Refuse != "" {
		return ""
	}
	return swapZram(f, o)
}

func planSwap(f *Facts, o *SwapOptions) Intent {
	var in Intent
	zram := swapZram(f, o)
	swapZramWants(f, o, zram, &in)
	disk, files := swapDiskWants(f, zram, &in)
	// The profile is the desired state: a drop-in the options no longer
	// want (zram: false where zram-generator makes it) goes.
	for _, p := range []string{platform.RpiSwapOurs, ZramGeneratorDropIn} {
		if len(f.Globbed[p]) > 0 && !slices.ContainsFunc(in.Wants, func(w Want) bool { return w.Resource.Name() == p }) {
			in.Wants = append(in.Wants, Want{Resource: resource.File(p), Desired: gone(p), Reboot: true,
				Notes: []string{"no longer wanted with these options: removed, and read no more from the next boot"}})
		}
	}
	if skip := swapGuard(f, o, zram, disk, &in); skip != "" {
		return Skip(skip)
	}
	swapNotes(f, o, zram, disk, files, &in)
	if len(in.Wants) == 0 {
		return Skip("no swap configuration this task manages (rpi-swap, zram-generator, dphys-swapfile, fstab swap lines)" + strings.Join(append([]string{""}, in.Notes...), "; "))
	}
	return in
}

// swapZramWants are the drop-in that makes zram swap (zram: what makes
// it, swapZram), and the warnings of drop-ins read after ours.
func swapZramWants(f *Facts, o *SwapOptions, zram string, in *Intent) {
	s := f.Swap
	switch zram {
	case "rpi-swap":
		// rpi-swap sizes its zram from RAM itself.
		in.Wants = append(in.Wants, swapDropIn(platform.RpiSwapOurs, "[Main]\nMechanism=zram\n",
			"rpi-swap makes swap on zram, sized from RAM by rpi-swap, at the next boot"))
	case "zram-generator":
		size := fmt.Sprintf("min(ram * %d / 100, %d)", o.ZramPercent, o.ZramMaxMiB)
		in.Wants = append(in.Wants, swapDropIn(ZramGeneratorDropIn, "[zram0]\nzram-size = "+size+"\n",
			fmt.Sprintf("zram-generator makes /dev/zram0 of %d%% of RAM, at most %d MiB, at the next boot", o.ZramPercent, o.ZramMaxMiB)))
	}
	// The precedence checks: a drop-in read after ours wins over it.
	switch {
	case zram == "zram-generator":
		for _, l := range s.ZramLater {
			in.Warnings = append(in.Warnings, l+", read after "+ZramGeneratorDropIn+": it wins over the size set there")
		}
	case s.RpiSwap != nil:
		for _, l := range s.RpiSwap.Later {
			in.Warnings = append(in.Warnings, l+", read after "+platform.RpiSwapOurs+": it wins over the mechanism set there")
		}
	}
}

// swapDiskWants turn the disk swap off (rpi-swap's, dphys-swapfile's,
// fstab's lines) and say it: the disk swap in words, and the files named.
func swapDiskWants(f *Facts, zram string, in *Intent) (disk, files []string) {
	s, w := f.Swap, f.Writes
	if r := s.RpiSwap; r != nil {
		if zram == "" {
			// Without zram the minimal swap rpi-swap makes is none.
			in.Wants = append(in.Wants, swapDropIn(platform.RpiSwapOurs, "[Main]\nMechanism=none\n", "rpi-swap makes no swap at the next boot"))
		}
		if strings.Contains(r.Mechanism, "file") || r.Mechanism == "auto" {
			disk = append(disk, "rpi-swap's Mechanism="+r.Mechanism)
		}
	}
	if u := f.Units[dphysUnit]; u.Installed && u.Problem == "" && len(u.InstallLinks) > 0 {
		what := dphysUnit
		if d := s.DPhys; d != nil {
			what += " (" + d.File + ")"
			files = append(files, d.File)
		}
		if u.Enabled {
			disk = append(disk, what)
		}
		in.Wants = append(in.Wants, Want{Resource: resource.Unit(dphysUnit).LinksOnly(), Edit: resource.UnitDisabled, Reboot: true,
			Notes: []string{"dphys-swapfile no longer turns its swap file on at boot (`systemctl disable dphys-swapfile`)"}})
	}
	switch {
	case w.FstabProblem != "":
		in.Notes = append(in.Notes, w.FstabProblem+": its swap lines are left as they are")
	case w.FstabExists:
		// Where an earlier apply turned lines off, the want stays, so
		// that a task editing fstab too can be undone on its own.
		if lines := hostconf.DiskSwapLines(w.Fstab); len(lines) > 0 || len(hostconf.SwappedOff(w.Fstab)) > 0 {
			for _, l := range lines {
				disk = append(disk, fmt.Sprintf("%s line %d (%s)", hostconf.FstabPath, l.Line, l.What))
				files = append(files, l.What)
			}
			says := "its swap lines are turned off already"
			if len(lines) > 0 {
				says = hostconf.SaysSwapOff(lines)
			}
			in.Wants = append(in.Wants, Want{
				Resource: resource.File(hostconf.FstabPath),
				// Made again on the bytes the plan reads.
				Edit: func(cur resource.State) resource.State {
					if cur.Exists {
						cur.Data = hostconf.SwapOff(cur.Data, hostconf.DiskSwapLines(cur.Data))
					}
					return cur
				},
				Notes:  []string{says, "systemd-fstab-generator makes no swap unit of them from the next boot"},
				Reboot: true,
			})
		}
	}
	return disk, files
}

// swapGuard keeps the last swap of a small host unless the profile says
// otherwise: the skip reason, or "" with a warning where no swap is left.
func swapGuard(f *Facts, o *SwapOptions, zram string, disk []string, in *Intent) string {
	s := f.Swap
	// The guard: the last swap of a small host stays unless the profile
	// says otherwise.
	left := zram != "" || s.Zram != "" && s.RpiSwap == nil
	if len(disk) > 0 && !left {
		small := f.MemTotal < swapGuardRAM
		ram := "RAM unknown (an image root: it may boot on a board with under 2 GiB)"
		if f.MemTotal > 0 {
			ram = platform.HumanBytes(f.MemTotal) + " of RAM"
		}
		switch {
		case small && !o.AllowNoSwap:
			return fmt.Sprintf("%s is the last swap of this host (%s, no zram: neither rpi-swap nor systemd-zram-generator is installed, or zram is off): left on; set swap.allow_no_swap: true in the profile to remove it", strings.Join(disk, ", "), ram)
		case !o.Zram:
			in.Warnings = append(in.Warnings, fmt.Sprintf("no swap is left at the next boot (%s; zram: false in the profile)", ram))
		default:
			in.Warnings = append(in.Warnings, fmt.Sprintf("no swap is left at the next boot (%s; no zram: install systemd-zram-generator for it)", ram))
		}
	}
	return ""
}

// swapNotes say what stays as it is: no zram, swap files kept, areas in
// use until the next boot.
func swapNotes(f *Facts, o *SwapOptions, zram string, disk, files []string, in *Intent) {
	s := f.Swap
	if o.Zram && zram == "" {
		in.Notes = append(in.Notes, "no zram: neither rpi-swap nor systemd-zram-generator is installed")
	}
	for _, p := range dedupe(files) {
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "/dev/") {
			continue
		}
		in.Notes = append(in.Notes, "the swap file "+p+" is not deleted: rollback turns it back on as it was, which a deleted file would not allow; remove a swap file by hand to get its space back")
	}
	// An fstab line naming its device by UUID= or LABEL= may be any
	// area: only where every name is a path is an area known not to be
	// one of them.
	byPath := !slices.ContainsFunc(files, func(p string) bool { return !strings.HasPrefix(p, "/") })
	for _, a := range s.Areas {
		switch {
		case a.Zram():
		case len(disk) > 0 && byPath && !slices.Contains(files, a.Name):
			in.Notes = append(in.Notes, a.Name+" is in /proc/swaps, but none of the files the swap task reads turns it on: left alone")
		case len(disk) > 0:
			in.Notes = append(in.Notes, a.Name+" stays in use until the next boot (`swapoff "+a.Name+"` turns it off now)")
		case len(in.Wants) > 0:
			in.RebootPending = append(in.RebootPending, Pending{"no swap on " + a.Name, "no disk swap is configured, but it is in /proc/swaps until the next boot (`swapoff " + a.Name + "` turns it off now)"})
		}
	}
}

// swapDropIn is the want of an owned drop-in with body, read at boot.
func swapDropIn(p, body, note string) Want {
	return Want{Resource: resource.File(p), Desired: resource.Content([]byte(Header + body)), Reboot: true, Notes: []string{note}}
}

func dedupe(s []string) []string {
	var out []string
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
