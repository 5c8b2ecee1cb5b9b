package cmdline

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Format is how a file holds kernel command lines. Each kernel argument
// ezedge-host sets is read and edited in a file through its format, one
// key at a time, so that one task's argument is undone without touching
// another's, and a file remade by its generator still has each argument
// found where the generator put it.
type Format uint8

const (
	// PiCmdline is a Raspberry Pi cmdline.txt: the firmware reads its
	// first line, a whole command line (it keeps root=, is never empty).
	PiCmdline Format = iota + 1
	// ExtraArgs is a generator's input that holds only arguments to
	// append (Debian raspi-firmware's /etc/default/raspi-extra-cmdline):
	// its first line, which may be empty.
	ExtraArgs
	// GrubDefaults is /etc/default/grub edited in place: the last active
	// GRUB_CMDLINE_LINUX, and GRUB_CMDLINE_LINUX_DEFAULT where it sets the
	// key too (it comes later on the kernel's command line and would win).
	GrubDefaults
	// GrubConfig is a generated grub.cfg: every linux command's arguments.
	GrubConfig
	// RaspiGenerated is the cmdline.txt Debian's raspi-firmware hook
	// writes: "… rootwait " then the contents of raspi-extra-cmdline. The
	// arguments are edited in that last part as they are in the input
	// file, so the file is byte for byte what the hook makes of the
	// edited input, before and after it runs. A line without that shape
	// (edited by hand) is edited as a PiCmdline.
	RaspiGenerated
)

func (f Format) String() string {
	switch f {
	case PiCmdline:
		return "Raspberry Pi cmdline.txt"
	case ExtraArgs:
		return "arguments file"
	case GrubDefaults:
		return "GRUB defaults"
	case GrubConfig:
		return "grub.cfg"
	case RaspiGenerated:
		return "raspi-firmware's cmdline.txt"
	}
	return "unknown format"
}

// Span is one command line inside a file, as byte offsets of its text.
type Span struct {
	Start, End int
	// Name says which command line it is, for messages (the variable, or
	// grub.cfg's line number).
	Name string
	// Optional: the file holds a key without it being on this command line
	// (GRUB_CMDLINE_LINUX_DEFAULT: it is edited only where it sets the key).
	Optional bool
	// Bare is an unquoted shell value: one that gains a space is quoted.
	Bare bool
	// Whole: the span is a whole kernel command line (cmdline.txt), which
	// Check must still accept after an edit.
	Whole bool
	// WholeLine: the span is the end of a kernel command line whose whole
	// first line must stay within MaxLen.
	WholeLine bool
}

// ErrNoLine is a file of its format with no command line to add a key to
// (a GRUB defaults file without GRUB_CMDLINE_LINUX, a grub.cfg without a
// linux command).
var ErrNoLine = errors.New("no command line to add to")

// Spans finds the command lines of data, read as f.
func Spans(data []byte, f Format) ([]Span, error) {
	s := string(data)
	switch f {
	case PiCmdline, ExtraArgs, RaspiGenerated:
		line, _ := FirstLine(data)
		if f != ExtraArgs && strings.HasPrefix(strings.TrimSpace(line), PiStub) {
			return nil, fmt.Errorf("it is the Bookworm stub that points to /boot/firmware/cmdline.txt, not a command line")
		}
		if !Balanced(line) {
			return nil, fmt.Errorf("it has a double quote that is never closed; it cannot be edited safely")
		}
		if f == RaspiGenerated {
			if sp, ok, err := raspiGeneratedSpan(line); ok || err != nil {
				return []Span{sp}, err
			}
		}
		return []Span{{Start: 0, End: len(line), Name: "line 1", Whole: f != ExtraArgs}}, nil
	case GrubDefaults:
		var out []Span
		for _, name := range []string{"GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"} {
			v, err := findGrubValue(s, name)
			if err != nil {
				return nil, err
			}
			if v.found {
				out = append(out, Span{Start: v.start, End: v.end, Name: name, Optional: name != "GRUB_CMDLINE_LINUX", Bare: v.bare})
			}
		}
		slices.SortFunc(out, func(a, b Span) int { return a.Start - b.Start })
		return out, nil
	case GrubConfig:
		return grubCfgSpans(s)
	}
	return nil, fmt.Errorf("unknown command line format %d", f)
}

// raspiGeneratedSpan is where raspi-firmware's hook puts the extra
// arguments in the cmdline.txt it writes: its template is "… rootwait
// ${post_cmdline}", so after the last "rootwait" and the space after it.
// The span must come out the same after every edit of it, or putting a
// value back would not give the bytes back: a line whose last rootwait
// ends it (not the hook's form) would turn into the hook's form when an
// argument is appended, so there arguments go before that rootwait. ok is
// false for a line without rootwait, which is edited whole.
func raspiGeneratedSpan(line string) (sp Span, ok bool, err error) {
	toks := Tokenize(line)
	last := -1
	for i, t := range toks {
		if line[t.Start:t.End] == "rootwait" {
			last = i
		}
	}
	switch {
	case last < 0:
		return Span{}, false, nil
	case toks[last].End < len(line) && line[toks[last].End] == ' ':
		return Span{Start: toks[last].End + 1, End: len(line), Name: "line 1 after rootwait", WholeLine: true}, true, nil
	case last == len(toks)-1 && last > 0:
		return Span{Start: 0, End: toks[last-1].End, Name: "line 1 before its closing rootwait", Whole: true}, true, nil
	case last == len(toks)-1:
		return Span{}, false, fmt.Errorf("its command line is rootwait alone; it cannot be edited safely")
	}
	return Span{}, false, nil
}

// grubCfgSpans finds the arguments of every linux command of a grub.cfg:
// `linux PATH ARGS…` (also linux16, linuxefi), one per line, as
// grub-mkconfig writes them. What a shell-like grub.cfg could express that
// is not a plain word list (quotes, escapes, continuations) is refused:
// the edit would not be the command line GRUB passes.
func grubCfgSpans(s string) ([]Span, error) {
	var out []Span
	off := 0
	for n, l := range strings.SplitAfter(s, "\n") {
		body := strings.TrimRight(l, "\r\n")
		t := strings.TrimLeft(body, " \t")
		cmd, rest, _ := strings.Cut(strings.Replace(t, "\t", " ", 1), " ")
		if cmd == "linux" || cmd == "linux16" || cmd == "linuxefi" {
			// The kernel's path, then its arguments.
			indent := len(body) - len(t)
			i := indent + len(cmd)
			for i < len(body) && (body[i] == ' ' || body[i] == '\t') {
				i++
			}
			for i < len(body) && body[i] != ' ' && body[i] != '\t' {
				i++
			}
			args := body[i:]
			if strings.ContainsAny(args, "'\"\\;&|`") || strings.HasSuffix(body, "\\") || strings.TrimSpace(rest) == "" {
				return nil, fmt.Errorf("line %d: a linux command with quotes, escapes or no kernel; it cannot be edited safely", n+1)
			}
			// The span starts right after the kernel's path, blanks included,
			// so an argument is always added after a space.
			start := off + i
			out = append(out, Span{Start: start, End: off + len(body), Name: fmt.Sprintf("line %d", n+1)})
		}
		off += len(l)
	}
	return out, nil
}

// Found is what one command line holds of a key: its tokens, exactly as
// written (`zswap.enabled=1`, `"quiet"`, `key=`), so that putting them
// back gives the bytes back.
type Found struct {
	Optional bool
	Tokens   []string
}

// Values are the tokens' values.
func (f Found) Values() []string {
	var out []string
	for _, t := range f.Tokens {
		out = append(out, TokenValue(t))
	}
	return out
}

// TokenValue is the value of one token as written ("" for a bare key).
func TokenValue(tok string) string {
	if ts := Tokenize(tok); len(ts) == 1 {
		return ts[0].Value
	}
	return tok
}

// ErrNeedsQuotes is a bare (unquoted) GRUB value that an added argument
// would give a space: the shell would run the second word. The plan
// quotes it first, as its own change (PrepareGrub).
var ErrNeedsQuotes = errors.New("an unquoted value would need quotes")

// PrepareGrub makes a GRUB defaults file ready for arguments to be added
// one by one: GRUB_CMDLINE_LINUX="" appended where it has none, and bare
// values of GRUB_CMDLINE_LINUX and GRUB_CMDLINE_LINUX_DEFAULT put in
// double quotes. It returns data unchanged when there is nothing to do.
func PrepareGrub(data []byte) ([]byte, error) {
	spans, err := Spans(data, GrubDefaults)
	if err != nil {
		return nil, err
	}
	s := string(data)
	hasLinux := false
	for i := len(spans) - 1; i >= 0; i-- {
		sp := spans[i]
		hasLinux = hasLinux || !sp.Optional
		if sp.Bare {
			s = s[:sp.Start] + `"` + s[sp.Start:sp.End] + `"` + s[sp.End:]
		}
	}
	if !hasLinux {
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		s += "GRUB_CMDLINE_LINUX=\"\"\n"
	}
	return []byte(s), nil
}

// Find is what each command line of data holds of key, in file order.
func Find(data []byte, f Format, key string) ([]Found, error) {
	spans, err := Spans(data, f)
	if err != nil {
		return nil, err
	}
	out := make([]Found, len(spans))
	for i, sp := range spans {
		out[i].Optional = sp.Optional
		line := string(data[sp.Start:sp.End])
		for _, t := range Tokenize(line) {
			if t.Key == key {
				out[i].Tokens = append(out[i].Tokens, line[t.Start:t.End])
			}
		}
	}
	return out, nil
}

// Want is what a file should hold of one key: nothing (Absent); Value on
// every occurrence, appended to a required command line that lacks it; or,
// with PerLine (a recorded state, one entry per command line), exactly
// those tokens on each command line (each must be one token of key).
type Want struct {
	Absent  bool
	Value   string
	PerLine [][]string
}

// Set makes data hold key as want says, changing only the key's tokens
// (and, where one is added, a space before it; quotes around a bare GRUB
// value that gains a space). A whole command line that Check refuses
// afterwards, or a recorded state that no longer lines up with the file's
// command lines, is an error.
func Set(data []byte, f Format, key string, want Want) ([]byte, error) {
	spans, err := Spans(data, f)
	if err != nil {
		return nil, err
	}
	if want.PerLine != nil && len(want.PerLine) != len(spans) {
		return nil, fmt.Errorf("%s: the file has %d command lines now, %d when it was recorded; it cannot be put back exactly", key, len(spans), len(want.PerLine))
	}
	for _, l := range want.PerLine {
		for _, tok := range l {
			if ts := Tokenize(tok); len(ts) != 1 || ts[0].Key != key || ts[0].Start != 0 || ts[0].End != len(tok) || !Balanced(tok) {
				return nil, fmt.Errorf("%q is not one token of %s", tok, key)
			}
		}
	}
	required := 0
	for _, sp := range spans {
		if !sp.Optional {
			required++
		}
	}
	if !want.Absent && want.PerLine == nil && required == 0 {
		return nil, ErrNoLine
	}
	s := string(data)
	// Edit from the last span back, so earlier offsets stay valid.
	for i := len(spans) - 1; i >= 0; i-- {
		sp := spans[i]
		line := s[sp.Start:sp.End]
		toks := Tokenize(line)
		var mine []Token
		for _, t := range toks {
			if t.Key == key {
				mine = append(mine, t)
			}
		}
		var nl string
		switch {
		case want.Absent || want.PerLine != nil && len(want.PerLine[i]) == 0:
			nl = Edit(line, []Arg{{Key: key, Absent: true}})
		case want.PerLine != nil && len(want.PerLine[i]) == len(mine):
			nl = line
			for m := len(mine) - 1; m >= 0; m-- {
				nl = nl[:mine[m].Start] + want.PerLine[i][m] + nl[mine[m].End:]
			}
		case want.PerLine != nil && len(mine) == 0 && len(want.PerLine[i]) == 1:
			nl = appendToken(line, want.PerLine[i][0])
		case want.PerLine != nil:
			return nil, fmt.Errorf("%s: %s has it %d times now and held %d values; it cannot be put back exactly", key, sp.Name, len(mine), len(want.PerLine[i]))
		case len(mine) == 0 && sp.Optional:
			nl = line
		default:
			nl = Edit(line, []Arg{{Key: key, Value: want.Value}})
		}
		if nl == line {
			continue
		}
		if f == GrubConfig && len(toks) == 0 {
			// A linux command without arguments: one goes after a space.
			nl = " " + strings.TrimLeft(nl, " \t")
		}
		if sp.Whole && !want.Absent && want.PerLine == nil {
			// A forward edit must still boot; putting back what was
			// there is never refused.
			if err := Check(line, nl); err != nil {
				return nil, err
			}
		}
		if restore := want.Absent || want.PerLine != nil; !restore {
			whole := nl
			if sp.WholeLine {
				whole = s[:sp.Start] + nl
			}
			if n := len(strings.TrimSpace(whole)); n > MaxLen {
				return nil, fmt.Errorf("%s would be %d bytes, over the %d-byte limit", sp.Name, n, MaxLen)
			}
		}
		if sp.Bare && strings.ContainsAny(nl, " \t") {
			return nil, ErrNeedsQuotes
		}
		s = s[:sp.Start] + nl + s[sp.End:]
	}
	return []byte(s), nil
}

// appendToken adds tok after the line's last token, as Edit appends.
func appendToken(line, tok string) string {
	toks := Tokenize(line)
	end := 0
	if len(toks) > 0 {
		end = toks[len(toks)-1].End
	}
	sep := ""
	if end > 0 {
		sep = " "
	}
	return line[:end] + sep + tok + line[end:]
}
