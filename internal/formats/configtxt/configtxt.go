// Package configtxt reads a Raspberry Pi config.txt the way the firmware
// does: last setting wins, include files are read in place, and
// conditional sections ([pi4], [EDID=...], [all], [none]) gate what
// follows them. It answers one question for ezedge-host: which file holds
// the kernel command line the next boot uses (cmdline=, os_prefix=).
package configtxt

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
)

// Tri is whether a conditional section holds at boot.
type Tri int

const (
	No Tri = iota
	Maybe
	Yes
)

// Model says which model filters hold on the board being provisioned.
// Where the board is not known (an offline image), every model filter may
// hold.
type Model struct {
	Known bool
	Yes   []string // filters that hold, e.g. pi4, pi400
	Maybe []string // filters that may hold: the variant is not known
}

func (m Model) holds(f string) Tri {
	if !m.Known {
		return Maybe
	}
	for _, y := range m.Yes {
		if y == f {
			return Yes
		}
	}
	for _, y := range m.Maybe {
		if y == f {
			return Maybe
		}
	}
	return No
}

// Setting is the value a key takes at boot.
type Setting struct {
	Value string
	File  string
	Line  int
	// Unsure, when set, names the section whose truth at boot decides the
	// value and which ezedge-host cannot evaluate.
	Unsure string
}

func (s Setting) Where() string { return fmt.Sprintf("%s:%d", s.File, s.Line) }

// Reader reads a file of the boot partition by its host path.
type Reader func(name string) ([]byte, error)

// maxDepth bounds nested includes; the firmware itself does not recurse
// deeply. maxLines bounds what includes expand to: repeated includes
// multiply, and a plan must not hang on one config.txt.
const (
	maxDepth = 4
	maxLines = 1 << 16
)

type state struct {
	read    Reader
	model   Model
	keys    map[string]bool
	out     map[string]Setting
	none    bool
	filters map[string]string // filter kind -> section text
	chain   []string          // the files being read, outermost first
	lines   int
}

// Eval reads config file name (a host path; includes are relative to its
// directory) for board and returns the setting each of keys has at boot.
// A key never set is absent from the result. A missing include is skipped,
// as the firmware does.
func Eval(read Reader, name string, board Model, keys ...string) (map[string]Setting, error) {
	s := &state{read: read, model: board, keys: map[string]bool{}, out: map[string]Setting{}, filters: map[string]string{}}
	for _, k := range keys {
		s.keys[k] = true
	}
	data, err := read(name)
	if err != nil {
		return nil, err
	}
	s.chain = []string{name}
	if err := s.file(name, data); err != nil {
		return nil, err
	}
	return s.out, nil
}

// isModel is whether a section is a board filter, known or not: a later
// firmware's [pi6] names a board this one is not.
func isModel(section string) bool {
	for _, p := range []string{"pi", "cm"} {
		if rest, ok := strings.CutPrefix(section, p); ok && rest != "" && rest[0] >= '0' && rest[0] <= '9' {
			return true
		}
	}
	return false
}

func kind(section string) string {
	switch {
	case isModel(section), strings.HasPrefix(section, "board-type="):
		return "model"
	case strings.HasPrefix(section, "EDID="):
		return "edid"
	case strings.HasPrefix(section, "gpio"):
		return "gpio"
	case strings.HasPrefix(section, "HDMI:"):
		return "hdmi"
	case strings.HasPrefix(section, "0x"):
		return "serial"
	}
	return section
}

// holds is whether the current sections all hold, and the section that
// makes it No or Maybe.
func (s *state) holds() (Tri, string) {
	if s.none {
		return No, "[none]"
	}
	kinds := make([]string, 0, len(s.filters))
	for k := range s.filters {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	t, why := Yes, ""
	for _, k := range kinds {
		sec := s.filters[k]
		switch s.eval(sec) {
		case No:
			return No, "[" + sec + "]"
		case Maybe:
			if t == Yes {
				t, why = Maybe, "["+sec+"]"
			}
		}
	}
	return t, why
}

func (s *state) eval(sec string) Tri {
	switch {
	case isModel(sec):
		return s.model.holds(sec)
	case strings.HasPrefix(sec, "HDMI:"):
		// It scopes HDMI settings to a port; others apply as before.
		return Yes
	}
	// The monitor, a GPIO, the serial number, the board-type code or
	// tryboot: not known ahead of a boot.
	return Maybe
}

func (s *state) file(name string, data []byte) error {
	for i, raw := range bytes.Split(data, []byte("\n")) {
		if s.lines++; s.lines > maxLines {
			return fmt.Errorf("%s: includes expand to more than %d lines", s.chain[0], maxLines)
		}
		line := strings.TrimSpace(strings.TrimRight(string(raw), "\r\x00"))
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			sec, _, ok := strings.Cut(line[1:], "]")
			if !ok {
				continue
			}
			switch sec {
			case "all":
				s.none, s.filters = false, map[string]string{}
			case "none":
				s.none = true
			default:
				s.filters[kind(sec)] = sec
			}
			continue
		}
		t, why := s.holds()
		if t == No {
			continue
		}
		if inc, ok := strings.CutPrefix(line, "include"); ok && (inc == "" || inc[0] == ' ' || inc[0] == '\t') {
			inc = strings.TrimSpace(inc)
			p := path.Join(path.Dir(name), inc)
			// A file including itself, directly or not, adds nothing.
			if inc == "" || len(s.chain) > maxDepth || slices.Contains(s.chain, p) {
				continue
			}
			if b, err := s.read(p); err == nil {
				s.chain = append(s.chain, p)
				err := s.file(p, b)
				s.chain = s.chain[:len(s.chain)-1]
				if err != nil {
					return err
				}
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !s.keys[k] {
			continue
		}
		set := Setting{Value: v, File: name, Line: i + 1}
		if t == Maybe {
			if prev, ok := s.out[k]; ok && prev.Value == v && prev.Unsure == "" {
				continue
			}
			set.Unsure = why
		}
		s.out[k] = set
	}
	return nil
}
