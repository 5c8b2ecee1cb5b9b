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

// The boot configuration the planner writes: the GRUB drop-in it owns, and
// the files that hold the kernel command line, edited where they are, each
// only inside its home once links are resolved (cmdline.txt inside the
// boot partition, never /etc/passwd).
func init() {
	resource.Own(tasks.GrubDropInFile, hostroot.MaxRead)
	resource.Edit("/boot/firmware/", "/boot/firmware")
	resource.Edit("/boot/", "/boot")
	resource.Edit(resource.GrubDefaultsFile, "/etc/default")
	resource.Edit(resource.RaspiExtraCmdline, "/etc/default")
}

// taskArg is a kernel argument and the task that wants it.
type taskArg struct {
	task string
	arg  cmdline.Arg
}

// owners lists the tasks of args, each once, in order.
func owners(args []taskArg) []string {
	var out []string
	for _, ta := range args {
		if !slices.Contains(out, ta.task) {
			out = append(out, ta.task)
		}
	}
	return out
}

// refused is the one-line error for a kernel command line ezedge-host will
// not edit, with the way to apply everything else.
func refused(owners []string, what, why string) error {
	return fmt.Errorf("%s: refused: %s (turn %s off in the profile to apply the rest)", what, why, strings.Join(owners, ", "))
}

// argFile is one file that holds kernel command lines on this host, edited
// argument by argument (resource.KernelArg).
type argFile struct {
	path string
	// then remakes the boot loader's configuration after it changes.
	then resource.Then
	// generatedBy, when set, names what remakes this file from another
	// file (raspi-firmware's hook, grub-mkconfig), from: it is edited too,
	// so the next boot has the arguments before the generator runs again.
	generatedBy, from string
	// create, when not nil, is what the file is created holding when it
	// is absent (a generator's input that is not shipped); otherwise an
	// absent file is refused with absent as the reason.
	create []byte
	absent string
}

// bootTarget is how one kind of boot configuration takes kernel arguments.
// Each plans the changes that make it hold args, and says what command
// line the next boot reads with the configuration as it is now.
type bootTarget interface {
	plan(p *Plan, h *hostroot.Root, args []taskArg) error
	configured(h *hostroot.Root) (line, file string, err error)
}

// target is the boot target of the host p plans, or nil where the kernel
// command line is not managed.
func (p *Plan) target(h *hostroot.Root) (bootTarget, error) {
	boot := p.Facts.Boot
	// A generated grub.cfg is edited where nothing will regenerate it
	// before the next boot: an image, or a host without the generator.
	var grubCfg []argFile
	if boot.GrubConfig != "" && (!h.IsSystemRoot() || len(boot.Generator) == 0) {
		grubCfg = []argFile{{path: boot.GrubConfig, generatedBy: "grub-mkconfig", from: "/etc/default/grub"}}
	}
	switch {
	case boot.Loader == platform.LoaderPiFirmware && boot.Refused != "":
		return refusedBoot(boot.Refused), nil
	case boot.Loader == platform.LoaderPiFirmware && boot.CmdlineInput != "":
		// Debian's raspi-firmware makes cmdline.txt from this input: an
		// edit of cmdline.txt alone would be gone at the next kernel
		// upgrade, and one of the input alone would not reach an image's
		// next boot.
		return argFiles{
			{path: boot.CmdlineInput, then: resource.RegenerateRaspiFirmware, create: []byte("\n")},
			{path: boot.CmdlineFile, generatedBy: "raspi-firmware's kernel hook", from: boot.CmdlineInput},
		}, nil
	case boot.Loader == platform.LoaderPiFirmware:
		// Creating it would boot a kernel without root= and the rest of
		// the line config.txt's author meant to give.
		return argFiles{{path: boot.CmdlineFile, absent: "config.txt makes the firmware read the kernel command line from it, and it does not exist"}}, nil
	case boot.Loader == platform.LoaderGrub && boot.GrubDropIn:
		return &grubDropIn{files: grubCfg}, nil
	case boot.Loader == platform.LoaderGrub:
		return append(argFiles{{path: boot.CmdlineFile, then: resource.RegenerateGrub, absent: "it does not exist"}}, grubCfg...), nil
	}
	return nil, nil
}

// kernelArgs plans every task's kernel arguments into the host's boot
// configuration, each argument its own change (with reboot_required), and
// reports arguments that are configured but not yet in the running kernel.
func (p *Plan) kernelArgs(h *hostroot.Root, args []taskArg) error {
	t, err := p.target(h)
	if t == nil || err != nil {
		return err
	}
	if err := t.plan(p, h, args); err != nil {
		return err
	}
	// Configured is what the boot configuration says now; active is what
	// the running kernel was booted with. An argument apply is about to
	// configure is a change (reboot_required), not yet a pending reboot.
	if !p.Facts.Runtime || p.Facts.Boot.Running == "" {
		return nil
	}
	line, file, err := t.configured(h)
	if err != nil {
		p.Warnings = append(p.Warnings, err.Error())
		return nil
	}
	for _, ta := range args {
		if cmdline.Holds(line, ta.arg) && !cmdline.Holds(p.Facts.Boot.Running, ta.arg) {
			p.RebootPending = append(p.RebootPending, fmt.Sprintf("%s (%s): in %s, not in /proc/cmdline yet", ta.arg, ta.task, file))
		}
	}
	return nil
}

// refusedBoot is a boot configuration ezedge-host cannot tell how to edit.
type refusedBoot string

func (r refusedBoot) plan(_ *Plan, _ *hostroot.Root, args []taskArg) error {
	if len(args) > 0 {
		return refused(owners(args), "kernel command line", string(r))
	}
	return nil
}

func (r refusedBoot) configured(*hostroot.Root) (string, string, error) { return "", "", nil }

// argFiles are files edited argument by argument; the last one is what the
// boot loader reads.
type argFiles []argFile

func (fs argFiles) plan(p *Plan, h *hostroot.Root, args []taskArg) error {
	for _, f := range fs {
		if err := p.argFile(h, f, args); err != nil {
			return err
		}
	}
	return nil
}

// configured reads the last file: the one the boot loader reads.
func (fs argFiles) configured(h *hostroot.Root) (string, string, error) {
	return configuredIn(h, fs[len(fs)-1].path)
}

// configuredIn is the command line the file at p gives the next boot.
func configuredIn(h *hostroot.Root, p string) (string, string, error) {
	cur, err := resource.File(p).Read(h)
	if err != nil || !cur.Exists {
		return "", p, err
	}
	format, _ := resource.FormatOf(p)
	switch format {
	case cmdline.GrubDefaults:
		names, contents := grubFiles(h, p)
		vars, err := cmdline.EvalGrub(append([]string{p}, names...), append([][]byte{cur.Data}, contents...))
		if err != nil {
			return "", p, fmt.Errorf("cannot evaluate the GRUB configuration: %w", err)
		}
		return cmdline.Kernel(vars), p, nil
	case cmdline.GrubConfig:
		spans, err := cmdline.Spans(cur.Data, format)
		if err != nil || len(spans) == 0 {
			return "", p, err
		}
		return string(cur.Data[spans[0].Start:spans[0].End]), p, nil
	}
	l, _ := cmdline.FirstLine(cur.Data)
	return l, p, nil
}

// argFile plans args into f, one change per argument; the file itself is
// created first where f says so. The edit of every argument together is
// tried on the file's bytes first, so a file that cannot take them (an
// unclosed quote, root= lost, too long) is refused as a whole.
func (p *Plan) argFile(h *hostroot.Root, f argFile, args []taskArg) error {
	who := owners(args)
	file := resource.File(f.path)
	cur, err := file.Read(h)
	if err != nil {
		if len(args) == 0 {
			return nil
		}
		if f.generatedBy != "" {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: not read (%v): the next boot may lack the kernel arguments until %s remakes it from %s", f.path, err, f.generatedBy, f.from))
			return nil
		}
		return refused(who, "kernel command line", err.Error())
	}
	if len(args) == 0 {
		return nil
	}
	data := cur.Data
	if !cur.Exists {
		switch {
		case f.create != nil:
			c, err := change(h, strings.Join(who, ","), file, resource.Content(f.create), nil, &cur, nil)
			if err != nil {
				return err
			}
			c.Then = f.then
			c.Notes = append(c.Notes, "created for the kernel arguments below")
			p.Changes = append(p.Changes, c)
			data = f.create
		case f.generatedBy != "":
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s does not exist yet: %s makes it, with the arguments, from %s", f.path, f.generatedBy, f.from))
			return nil
		default:
			return refused(who, f.path, f.absent)
		}
	}
	format := resource.FormatIn(h, f.path)
	var notes []string
	if f.generatedBy != "" {
		notes = append(notes, fmt.Sprintf("%s is remade by %s from %s; edited too, so the next boot has it before that runs again", f.path, f.generatedBy, f.from))
	}
	if _, rest := cmdline.FirstLine(data); (format == cmdline.PiCmdline || format == cmdline.ExtraArgs) && strings.TrimSpace(rest) != "" {
		notes = append(notes, "more than one line: the first is the one read, and only it is edited")
	}
	if format == cmdline.GrubDefaults {
		// GRUB_CMDLINE_LINUX added where missing, bare values quoted:
		// its own change, put back byte for byte like the rest.
		prepared, err := cmdline.PrepareGrub(data)
		if err != nil {
			return refused(who, f.path, err.Error())
		}
		if string(prepared) != string(data) {
			desired := cur
			desired.Data = prepared
			c, err := change(h, strings.Join(who, ","), file, desired, nil, &cur, nil)
			if err != nil {
				return err
			}
			c.Then = f.then
			c.Notes = append(c.Notes, "readies GRUB_CMDLINE_LINUX for the kernel arguments below (added where missing, a bare value quoted)")
			p.Changes = append(p.Changes, c)
			data = prepared
		}
	}
	// The whole edit, tried first. A generated file that cannot take it
	// is left to its generator, said aloud: the input holds the arguments.
	all := data
	for _, ta := range args {
		next, err := cmdline.Set(all, format, ta.arg.Key, cmdline.Want{Value: ta.arg.Value, Absent: ta.arg.Absent})
		if err != nil && f.generatedBy != "" {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: not edited (%v): the next boot reads it without %s until %s remakes it from %s", f.path, err, ta.arg, f.generatedBy, f.from))
			return nil
		}
		if err != nil {
			return refused(who, f.path, err.Error())
		}
		all = next
	}
	for _, ta := range args {
		res := resource.KernelArgIn(f.path, ta.arg.Key)
		desired := resource.State{}
		if !ta.arg.Absent {
			desired = resource.Arg(ta.arg.Key, ta.arg.Value)
		}
		c, err := change(h, ta.task, res, desired, nil, nil, nil)
		if err != nil {
			return err
		}
		c.RebootRequired = true
		if c.Action != None {
			c.Then = f.then
			c.Notes = append(c.Notes, notes...)
		}
		p.Changes = append(p.Changes, c)
	}
	return nil
}

// grubDropIn is GRUB where grub-mkconfig reads /etc/default/grub.d: one
// owned drop-in appends every argument (composed whole, like the other
// owned files), and files a generated grub.cfg edited where it will not be
// regenerated before the next boot.
type grubDropIn struct{ files argFiles }

func (g *grubDropIn) plan(p *Plan, h *hostroot.Root, args []taskArg) error {
	res := resource.File(tasks.GrubDropInFile)
	cur, err := res.Read(h)
	if err != nil {
		if len(args) == 0 {
			return nil
		}
		return refused(owners(args), "kernel command line", err.Error())
	}
	names, contents := grubFiles(h, tasks.GrubDropInFile)
	all := args
	if p.only != nil {
		// Another task's argument stays in the drop-in only where the
		// command line the configuration evaluates to holds it now.
		vars, err := cmdline.EvalGrub(append(slices.Clone(names), tasks.GrubDropInFile), append(slices.Clone(contents), cur.Data))
		if err != nil {
			return fmt.Errorf("cannot evaluate the GRUB configuration: %w", err)
		}
		all = append(slices.Clone(args), p.otherArgs...)
		line := cmdline.Kernel(vars)
		all = slices.DeleteFunc(all, func(ta taskArg) bool {
			return !slices.Contains(p.only, ta.task) && !cmdline.Holds(line, ta.arg)
		})
	}
	// A key GRUB_CMDLINE_LINUX_DEFAULT sets otherwise would come later on
	// the command line and win over ours.
	var overridden []string
	if vars, err := cmdline.EvalGrub(names, contents); err == nil {
		for _, ta := range all {
			a := ta.arg
			if strings.Contains(" "+vars["GRUB_CMDLINE_LINUX_DEFAULT"]+" ", " "+a.Key+"=") && !cmdline.Holds(vars["GRUB_CMDLINE_LINUX_DEFAULT"], a) {
				overridden = append(overridden, a.Key)
			}
		}
	}
	desired := resource.State{}
	if len(all) > 0 {
		var as []cmdline.Arg
		for _, ta := range all {
			as = append(as, ta.arg)
		}
		desired = resource.Content(cmdline.GrubDropIn(tasks.Header, as, overridden))
	}
	c, err := change(h, strings.Join(owners(all), ","), res, desired, nil, &cur, nil)
	if err != nil {
		return err
	}
	if c.Action != None || c.Task != "" {
		if c.Task == "" {
			c.Task = "(no task)"
		}
		c.RebootRequired = true
		if c.Action != None {
			var want []string
			for _, ta := range all {
				want = append(want, ta.arg.String())
			}
			if len(want) > 0 {
				c.Notes = append(c.Notes, "kernel arguments: "+strings.Join(want, " "))
			}
			c.Then = resource.RegenerateGrub
			if len(p.Facts.Boot.Generator) == 0 && len(g.files) == 0 {
				p.Warnings = append(p.Warnings, "no grub.cfg generator (update-grub, grub-mkconfig, grub2-mkconfig) on this host: the GRUB change reaches the next boot only once grub.cfg is regenerated")
			}
		}
		p.Changes = append(p.Changes, c)
	}
	return g.files.plan(p, h, args)
}

func (g *grubDropIn) configured(h *hostroot.Root) (string, string, error) {
	names, contents := grubFiles(h, "")
	vars, err := cmdline.EvalGrub(names, contents)
	if err != nil {
		return "", "", fmt.Errorf("cannot evaluate the GRUB configuration: %w", err)
	}
	return cmdline.Kernel(vars), tasks.GrubDropInFile, nil
}

// grubFiles reads /etc/default/grub and the grub.d drop-ins in the order
// grub-mkconfig sources them, leaving out skip (the file being planned).
func grubFiles(h *hostroot.Root, skip string) ([]string, [][]byte) {
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
	return outN, outC
}

// ArgFile is a file whose kernel arguments a plan changes.
type ArgFile struct {
	Path          string
	Before, After []byte
}

// previewArgs works out each kernel-argument file as apply will leave it:
// every pending change of an argument in it made, in order, on its bytes
// (or on what a pending change of the file itself makes of them).
func (p *Plan) previewArgs(h *hostroot.Root) {
	idx := map[string]int{}
	for _, c := range p.Pending() {
		k, ok := c.Resource.(*resource.KernelArg)
		if !ok {
			continue
		}
		i, seen := idx[k.File()]
		if !seen {
			cur, err := resource.File(k.File()).Read(h)
			if err != nil {
				continue
			}
			data := cur.Data
			for _, fc := range p.Pending() {
				if fc.Resource.Kind() == resource.KindFile && fc.Resource.Name() == k.File() {
					data = fc.After.Data
				}
			}
			i = len(p.ArgFiles)
			idx[k.File()] = i
			p.ArgFiles = append(p.ArgFiles, ArgFile{Path: k.File(), Before: cur.Data, After: data})
		}
		if out, err := k.Edit(h, p.ArgFiles[i].After, c.After); err == nil {
			p.ArgFiles[i].After = out
		}
	}
}
