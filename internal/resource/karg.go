package resource

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"syscall"

	"github.com/ezansiedgeai/ezedge-host/internal/formats/cmdline"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// KindKernelArg is one kernel argument in one file that holds kernel
// command lines.
const KindKernelArg Kind = "kernel-arg"

// RaspiExtraCmdline is Debian raspi-firmware's input: the arguments its
// kernel hook appends to the cmdline.txt it generates.
const RaspiExtraCmdline = "/etc/default/raspi-extra-cmdline"

// GrubDefaultsFile is GRUB's defaults, edited in place where grub-mkconfig
// reads no drop-ins.
const GrubDefaultsFile = "/etc/default/grub"

// RaspiFirmwareHook is Debian raspi-firmware's kernel hook, and
// RaspiGeneratedCmdline the cmdline.txt it writes: "… rootwait " and
// then RaspiExtraCmdline's contents.
const (
	RaspiFirmwareHook     = "/etc/kernel/postinst.d/z50-raspi-firmware"
	RaspiGeneratedCmdline = "/boot/firmware/cmdline.txt"
)

// kargKey is the shape of a kernel argument's key that ezedge-host sets:
// no spaces, quotes, '=' or ':' (the ID's separator).
var kargKey = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.,-]*$`)

// FormatOf is how the file at p holds the kernel command line, by its
// path: the rule is the same for a plan and for a journal read back.
func FormatOf(p string) (cmdline.Format, bool) {
	switch {
	case p == RaspiExtraCmdline:
		return cmdline.ExtraArgs, true
	case p == GrubDefaultsFile:
		return cmdline.GrubDefaults, true
	case path.Base(p) == "grub.cfg" && strings.HasPrefix(p, "/boot/"):
		return cmdline.GrubConfig, true
	case strings.HasPrefix(p, "/boot/"):
		return cmdline.PiCmdline, true
	}
	return 0, false
}

// KernelArg is one key of the kernel command line in one file: its state
// is the values its occurrences hold, so an argument is set, checked for
// drift and put back on its own, whatever else the file holds or whoever
// regenerated it since (raspi-firmware's hook remaking cmdline.txt).
//
// A state read from a file has a line per command line of the file, in
// order, holding the key's tokens there ("zswap.enabled=1"), empty where
// it has none; a command line on which the key is optional (GRUB's
// GRUB_CMDLINE_LINUX_DEFAULT) is in parentheses. A desired state is one
// token: every required command line has the key, and every occurrence
// holds that value.
type KernelArg struct {
	file, key string
	format    cmdline.Format
	rule      fileRule
}

// KernelArgIn is key in the command-line file at p.
func KernelArgIn(p, key string) *KernelArg {
	f, _ := FormatOf(p)
	r, _ := ruleFor(p)
	return &KernelArg{file: p, key: key, format: f, rule: r}
}

// File is the file that holds the argument.
func (k *KernelArg) File() string { return k.file }

// Key is the argument's key.
func (k *KernelArg) Key() string { return k.key }

func (k *KernelArg) Kind() Kind   { return KindKernelArg }
func (k *KernelArg) Name() string { return k.file + ":" + k.key }
func (k *KernelArg) Layer() Layer { return Persistent }

// Arg is the desired state of key holding value everywhere ("" for a key
// without a value).
func Arg(key, value string) State {
	return State{Exists: true, Data: []byte(cmdline.Arg{Key: key, Value: value}.String())}
}

// lines is a state's command lines: each one's tokens, as written, and
// whether the key is optional on it.
func (k *KernelArg) lines(s State) []cmdline.Found {
	var out []cmdline.Found
	for _, l := range strings.Split(string(s.Data), "\n") {
		var f cmdline.Found
		if inner, ok := strings.CutPrefix(l, "("); ok && strings.HasSuffix(inner, ")") {
			f.Optional, l = true, strings.TrimSuffix(inner, ")")
		}
		for _, t := range cmdline.Tokenize(l) {
			f.Tokens = append(f.Tokens, l[t.Start:t.End])
		}
		out = append(out, f)
	}
	return out
}

// uniform is the one value every occurrence holds with every required
// command line holding the key, or false.
func (k *KernelArg) uniform(s State) (string, bool) {
	val, seen := "", false
	for _, l := range k.lines(s) {
		if len(l.Tokens) == 0 && !l.Optional {
			return "", false
		}
		for _, v := range l.Values() {
			if seen && v != val {
				return "", false
			}
			val, seen = v, true
		}
	}
	return val, seen
}

func (k *KernelArg) Show(s State) string {
	if !s.Exists {
		return "(absent)"
	}
	if v, ok := k.uniform(s); ok {
		return cmdline.Arg{Key: k.key, Value: v}.String()
	}
	var parts []string
	for _, l := range k.lines(s) {
		p := strings.Join(l.Tokens, " ")
		if p == "" {
			p = "-"
		}
		if l.Optional {
			p = "(" + p + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " | ")
}

// formatIn is how the file holds the command line in the root at h.
func (k *KernelArg) formatIn(h *hostroot.Root) cmdline.Format { return FormatIn(h, k.file) }

// FormatIn is how the file at p holds the command line in the root at h:
// FormatOf, but the cmdline.txt raspi-firmware's hook writes, where it is
// installed, is edited in the part the hook takes from its input.
func FormatIn(h *hostroot.Root, p string) cmdline.Format {
	f, _ := FormatOf(p)
	if f == cmdline.PiCmdline && p == RaspiGeneratedCmdline && h.Exists(RaspiFirmwareHook) {
		return cmdline.RaspiGenerated
	}
	return f
}

func (k *KernelArg) Read(h *hostroot.Root) (State, error) {
	data, exists, err := k.readFile(h)
	if err != nil || !exists {
		return State{}, err
	}
	found, err := cmdline.Find(data, k.formatIn(h), k.key)
	if err != nil {
		return State{}, fmt.Errorf("%s: %w", k.file, err)
	}
	any := false
	lines := make([]string, len(found))
	for i, f := range found {
		any = any || len(f.Tokens) > 0
		lines[i] = strings.Join(f.Tokens, " ")
		if f.Optional {
			lines[i] = "(" + lines[i] + ")"
		}
	}
	if !any {
		return State{}, nil
	}
	return State{Exists: true, Data: []byte(strings.Join(lines, "\n"))}, nil
}

func (k *KernelArg) readFile(h *hostroot.Root) ([]byte, bool, error) {
	p, err := k.rule.locate(h, k.file)
	if err != nil {
		return nil, false, err
	}
	b, err := h.ReadFileLimit(p, k.rule.limit)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// Write edits the file so the key holds s: a desired state sets every
// occurrence and adds the key where a command line lacks it; a recorded
// one puts each command line's values back (where the file's command
// lines no longer line up with the record, a record of one value
// everywhere is still put back as that). Every other byte of the file
// stays; the file is replaced atomically with its mode and owner, and a
// file already holding s is not rewritten.
func (k *KernelArg) Write(h *hostroot.Root, s State) error {
	p, err := k.rule.locate(h, k.file)
	if err != nil {
		return err
	}
	if err := h.RemoveTemp(p); err != nil {
		return err
	}
	data, exists, err := k.readFile(h)
	if err != nil {
		return err
	}
	if !exists {
		if !s.Exists {
			return nil
		}
		return fmt.Errorf("%s does not exist", k.file)
	}
	out, err := k.edit(data, s, k.formatIn(h))
	if err != nil {
		return err
	}
	if string(out) == string(data) {
		return nil
	}
	st, err := h.Lstat(p)
	if err != nil {
		return err
	}
	uid, gid := -1, -1
	if o, ok := statOwner(st); ok {
		uid, gid = o[0], o[1]
	}
	return h.WriteAtomic(p, out, st.Mode().Perm(), uid, gid)
}

// Edit is data, a copy of the file in the root at h, made to hold s as
// Write makes it.
func (k *KernelArg) Edit(h *hostroot.Root, data []byte, s State) ([]byte, error) {
	return k.edit(data, s, k.formatIn(h))
}

func (k *KernelArg) edit(data []byte, s State, format cmdline.Format) ([]byte, error) {
	want := cmdline.Want{Absent: !s.Exists}
	if s.Exists {
		lines := k.lines(s)
		v, uni := k.uniform(s)
		if len(lines) > 1 || !uni {
			for _, l := range lines {
				want.PerLine = append(want.PerLine, l.Tokens)
			}
		} else {
			want.Value = v
		}
		if want.PerLine != nil && uni {
			if spans, err := cmdline.Spans(data, format); err == nil && len(spans) != len(lines) {
				want.PerLine, want.Value = nil, v
			}
		}
	}
	out, err := cmdline.Set(data, format, k.key, want)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.file, err)
	}
	return out, nil
}

// Equal: both absent; both holding one value everywhere the key belongs;
// or the same values on the same command lines.
func (k *KernelArg) Equal(x, y State) bool {
	if x.Exists != y.Exists {
		return false
	}
	if !x.Exists {
		return true
	}
	xv, xu := k.uniform(x)
	yv, yu := k.uniform(y)
	if xu || yu {
		return xu && yu && xv == yv
	}
	return string(x.Data) == string(y.Data)
}

// statOwner is a file's owner and group, where the system says.
func statOwner(st fs.FileInfo) ([2]int, bool) {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return [2]int{int(sys.Uid), int(sys.Gid)}, true
	}
	return [2]int{}, false
}
