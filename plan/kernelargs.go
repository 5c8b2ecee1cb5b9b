package plan

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/cmdline"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// taskArg is a kernel argument and the task that wants it.
type taskArg struct {
	task string
	arg  cmdline.Arg
}

// refused is the one-line error for a kernel command line ezedge-host will
// not edit, with the way to apply everything else.
func refused(owners []string, what, why string) error {
	return fmt.Errorf("%s: refused: %s (turn %s off in the profile to apply the rest)", what, why, strings.Join(owners, ", "))
}

// readRefused: the file that holds the kernel command line cannot be read
// (a link out of the boot partition, a FIFO): refused when an argument is
// wanted, nothing to do otherwise.
func readRefused(owners []string, all []cmdline.Arg, err error) error {
	if len(all) == 0 {
		return nil
	}
	return refused(owners, "kernel command line", err.Error())
}

// kernelArgs puts every task's kernel arguments into the boot loader's
// configuration: one change of one file, with reboot_required, and reports
// arguments that are configured but not yet in the running kernel.
func (p *Plan) kernelArgs(h *hostroot.Root, args []taskArg) error {
	boot := p.Facts.Boot
	var all []cmdline.Arg
	var owners []string
	for _, ta := range args {
		all = append(all, ta.arg)
		if len(owners) == 0 || owners[len(owners)-1] != ta.task {
			owners = append(owners, ta.task)
		}
	}
	// With --only, another task's argument is kept only where the boot
	// configuration holds it now: each edit then leaves it as it is.
	keep := func(line string) {
		if p.only == nil {
			return
		}
		all, owners = nil, nil
		for _, ta := range args {
			if slices.Contains(p.only, ta.task) || cmdline.Holds(line, ta.arg) {
				all = append(all, ta.arg)
				if len(owners) == 0 || owners[len(owners)-1] != ta.task {
					owners = append(owners, ta.task)
				}
			}
		}
	}
	var res resource.Resource
	var desired resource.State
	var cur resource.State
	var notes []string
	var effective func(fileData []byte) (string, error)
	switch {
	case boot.Loader == platform.LoaderPiFirmware && boot.Refused != "":
		if len(all) > 0 {
			return refused(owners, "kernel command line", boot.Refused)
		}
		return nil
	case boot.Loader == platform.LoaderPiFirmware && boot.CmdlineInput != "":
		// Debian's raspi-firmware makes cmdline.txt from this input: an
		// edit of cmdline.txt would be gone at the next kernel upgrade.
		res = resource.File(boot.CmdlineInput)
		var err error
		if cur, err = res.Read(h); err != nil {
			return readRefused(owners, all, err)
		}
		keep(string(cur.Data))
		desired = cur
		if len(all) > 0 {
			data, warn, err := cmdline.EditPiFile(cur.Data, all)
			if err != nil {
				return refused(owners, boot.CmdlineInput, err.Error())
			}
			if !cur.Exists {
				desired = resource.Content(append(data, '\n'))
			} else {
				desired.Data = data
			}
			notes = append(notes, warn...)
			notes = append(notes, fmt.Sprintf("%s is made from this file by Debian's raspi-firmware", boot.CmdlineFile))
		}
		effective = func(b []byte) (string, error) { l, _ := cmdline.FirstLine(b); return l, nil }
	case boot.Loader == platform.LoaderPiFirmware:
		res = resource.File(boot.CmdlineFile)
		var err error
		if cur, err = res.Read(h); err != nil {
			return readRefused(owners, all, err)
		}
		keep(string(cur.Data))
		if !cur.Exists {
			if len(all) > 0 {
				// Creating it would boot a kernel without root= and the
				// rest of the line config.txt's author meant to give.
				return refused(owners, boot.CmdlineFile, "config.txt makes the firmware read the kernel command line from it, and it does not exist")
			}
			return nil
		}
		desired = cur
		if len(all) > 0 {
			data, warn, err := cmdline.EditPiFile(cur.Data, all)
			if err != nil {
				return refused(owners, boot.CmdlineFile, err.Error())
			}
			notes = append(notes, warn...)
			desired.Data = data
		}
		effective = func(b []byte) (string, error) { l, _ := cmdline.FirstLine(b); return l, nil }
	case boot.Loader == platform.LoaderGrub && boot.GrubDropIn:
		res = resource.File(tasks.GrubDropInFile)
		var err error
		if cur, err = res.Read(h); err != nil {
			return readRefused(owners, all, err)
		}
		names, contents, err := grubFiles(h, tasks.GrubDropInFile)
		if err != nil {
			return err
		}
		if p.only != nil {
			// What the drop-in adds is held when the command line the
			// configuration evaluates to holds it.
			vars, err := cmdline.EvalGrub(append(slices.Clone(names), tasks.GrubDropInFile), append(slices.Clone(contents), cur.Data))
			if err != nil {
				return fmt.Errorf("cannot evaluate the GRUB configuration: %v", err)
			}
			keep(cmdline.Kernel(vars))
		}
		// A key GRUB_CMDLINE_LINUX_DEFAULT sets otherwise would come later
		// on the command line and win over ours.
		var overridden []string
		if vars, err := cmdline.EvalGrub(names, contents); err == nil {
			for _, a := range all {
				if strings.Contains(" "+vars["GRUB_CMDLINE_LINUX_DEFAULT"]+" ", " "+a.Key+"=") && !cmdline.Holds(vars["GRUB_CMDLINE_LINUX_DEFAULT"], a) {
					overridden = append(overridden, a.Key)
				}
			}
		}
		if len(all) > 0 {
			desired = resource.Content(cmdline.GrubDropIn(tasks.Header, all, overridden))
		}
		effective = func(b []byte) (string, error) {
			vars, err := cmdline.EvalGrub(append(names, tasks.GrubDropInFile), append(contents, b))
			return cmdline.Kernel(vars), err
		}
	case boot.Loader == platform.LoaderGrub:
		res = resource.File(boot.CmdlineFile)
		var err error
		if cur, err = res.Read(h); err != nil {
			return readRefused(owners, all, err)
		}
		keep(string(cur.Data))
		desired = cur
		if len(all) > 0 {
			if desired.Data, err = cmdline.EditGrubDefault(cur.Data, all); err != nil {
				return refused(owners, boot.CmdlineFile, err.Error())
			}
		}
		names, contents, err := grubFiles(h, boot.CmdlineFile)
		if err != nil {
			return err
		}
		effective = func(b []byte) (string, error) {
			vars, err := cmdline.EvalGrub(append([]string{boot.CmdlineFile}, names...), append([][]byte{b}, contents...))
			return cmdline.Kernel(vars), err
		}
	default:
		return nil
	}
	c, err := change(h, strings.Join(owners, ","), res, desired, nil, &cur, nil)
	if err != nil {
		return err
	}
	if c.Task == "" {
		if c.Action == None {
			return nil
		}
		c.Task = "(no task)"
	}
	c.RebootRequired = true
	if c.Action != None {
		var want []string
		for _, a := range all {
			if !cmdline.Holds(string(cur.Data), a) {
				want = append(want, a.String())
			}
		}
		if len(want) > 0 {
			c.Notes = append(c.Notes, "kernel arguments: "+strings.Join(want, " "))
		}
	}
	c.Notes = append(c.Notes, notes...)
	switch {
	case c.Action == None:
	case boot.Loader == platform.LoaderGrub && len(boot.Generator) == 0:
		p.Warnings = append(p.Warnings, "no grub.cfg generator (update-grub, grub-mkconfig, grub2-mkconfig) on this host: the GRUB change reaches the next boot only once grub.cfg is regenerated")
	case boot.Loader == platform.LoaderGrub:
		c.Then = resource.RegenerateGrub
	case boot.CmdlineInput != "" && len(boot.Generator) == 0:
		p.Warnings = append(p.Warnings, fmt.Sprintf("raspi-firmware's hook %s is missing: %s is remade from %s only at the next kernel install", resource.RaspiFirmwareRegenPath, boot.CmdlineFile, boot.CmdlineInput))
	case boot.CmdlineInput != "":
		c.Then = resource.RegenerateRaspiFirmware
	}
	p.Changes = append(p.Changes, c)
	// Configured is what the file says now; active is what the running
	// kernel was booted with. An argument apply is about to configure is a
	// change (reboot_required), not yet a pending reboot.
	line, err := effective(cur.Data)
	if err != nil {
		p.Warnings = append(p.Warnings, fmt.Sprintf("cannot evaluate the GRUB configuration: %v", err))
		return nil
	}
	if p.Facts.Runtime && p.Facts.Boot.Running != "" {
		for _, ta := range args {
			if cmdline.Holds(line, ta.arg) && !cmdline.Holds(p.Facts.Boot.Running, ta.arg) {
				p.RebootPending = append(p.RebootPending, fmt.Sprintf("%s (%s): in %s, not in /proc/cmdline yet", ta.arg, ta.task, res.Name()))
			}
		}
	}
	return nil
}

// grubFiles reads /etc/default/grub and the grub.d drop-ins in the order
// grub-mkconfig sources them, leaving out skip (the file being planned).
func grubFiles(h *hostroot.Root, skip string) ([]string, [][]byte, error) {
	names := []string{"/etc/default/grub"}
	if ents, err := h.ReadDir("/etc/default/grub.d"); err == nil {
		var cfgs []string
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".cfg") {
				cfgs = append(cfgs, path.Join("/etc/default/grub.d", e.Name()))
			}
		}
		sort.Strings(cfgs)
		names = append(names, cfgs...)
	}
	var outN []string
	var outC [][]byte
	for _, n := range names {
		if n == skip {
			continue
		}
		b, err := h.ReadFile(n)
		if err != nil {
			continue
		}
		outN, outC = append(outN, n), append(outC, b)
	}
	return outN, outC, nil
}
