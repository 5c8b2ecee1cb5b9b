// Package storageconf reads and edits containers-storage.conf(5), the TOML
// file Podman's storage library reads (/etc/containers/storage.conf, or
// /usr/share/containers/storage.conf when that is absent). It sets three
// keys, [storage] driver and graphroot and [storage.options.overlay]
// mount_program, and leaves every other byte as it was, but for one rule:
// the file it leaves is one containers/storage can read alone, so it also
// sets [storage] runroot where the file sets none (see Required).
//
// The edit is made on the bytes, line by line, by a scanner that knows only
// enough TOML to find keys, tables and where a value ends. BurntSushi/toml
// checks both ends: the file must parse before (else it is refused with
// the parser's line), and after the edit it must parse, hold the values
// asked for, and hold every other value exactly as before; otherwise the
// edit is refused, never written half-made.
package storageconf

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// Values are the settings this package manages, as one file sets them; an
// empty string is a key the file does not set.
type Values struct {
	Driver       string `json:"driver,omitempty"`
	Graphroot    string `json:"graphroot,omitempty"`
	MountProgram string `json:"mount_program,omitempty"`
}

// The key paths, in the order new keys are written.
var (
	keyDriver       = []string{"storage", "driver"}
	keyRunRoot      = []string{"storage", "runroot"}
	keyGraphroot    = []string{"storage", "graphroot"}
	keyMountProgram = []string{"storage", "options", "overlay", "mount_program"}
	// Older containers/storage read mount_program from [storage.options];
	// newer ones still honour it there.
	keyOldMountProgram = []string{"storage", "options", "mount_program"}
)

// DefaultRunRoot is containers/storage's built-in rootful runroot, where it
// keeps what must not outlive a boot (locks, mount state): what Podman
// uses when no storage.conf exists at all.
const DefaultRunRoot = "/run/containers/storage"

// Required are the keys containers/storage needs of a storage.conf. It
// reads one file alone and, once it reads one, takes none of its built-in
// paths for what the file leaves out: Podman 4.3 (containers/storage
// 1.43, Debian bookworm) and 5.4 (1.57, trixie) stop at every command with
// "runroot must be set" (or "graphroot must be set") when the file sets
// none or an empty one. graphroot is managed (Want); runroot is set by Set
// to DefaultRunRoot where the file lacks it, so that what Set leaves is a
// file containers/storage can read alone, whatever it started from.
var Required = []string{"runroot", "graphroot"}

// file is what the TOML parser makes of a storage.conf.
type file struct {
	Storage struct {
		Driver    string `toml:"driver"`
		RunRoot   string `toml:"runroot"`
		Graphroot string `toml:"graphroot"`
		Options   struct {
			MountProgram string `toml:"mount_program"`
			Overlay      struct {
				MountProgram string `toml:"mount_program"`
			} `toml:"overlay"`
		} `toml:"options"`
	} `toml:"storage"`
}

// parseError is a TOML error as one line naming its line.
func parseError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("line %d: not TOML ezedge-host can read: %s", pe.Position.Line, oneLine(pe.Message))
	}
	return fmt.Errorf("not TOML ezedge-host can read: %s", oneLine(err.Error()))
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

// Parse reads the managed values from a storage.conf.
func Parse(data []byte) (Values, error) {
	var f file
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		return Values{}, parseError(err)
	}
	if err := caseVariants(md, data); err != nil {
		return Values{}, err
	}
	v := Values{Driver: f.Storage.Driver, Graphroot: f.Storage.Graphroot, MountProgram: f.Storage.Options.Overlay.MountProgram}
	if md.IsDefined(keyOldMountProgram...) {
		if v.MountProgram == "" {
			v.MountProgram = f.Storage.Options.MountProgram
		}
	}
	return v, nil
}

// managed is the part of the document's key tree this package reads: the
// tables down to its keys.
var managed = node{"storage": {
	"driver":    nil,
	"runroot":   nil,
	"graphroot": nil,
	"options": {
		"mount_program": nil,
		"overlay":       {"mount_program": nil},
	},
}}

type node map[string]node

// caseVariants refuses a key or table on the managed paths written in other
// letter case ([Storage], DRIVER, ...). BurntSushi/toml, which both this
// package and containers/storage decode with, matches a struct field by
// name regardless of case (Unicode folding, so "ſtorage" too); such a key
// sets what Podman reads while an edit of the exact name would not see it,
// and with both spellings present which one wins depends on map order.
func caseVariants(md toml.MetaData, data []byte) error {
	for _, k := range md.Keys() {
		n := managed
		for i, part := range k {
			next, exact := n[part]
			if exact {
				if next == nil {
					break
				}
				n = next
				continue
			}
			for name := range n {
				if strings.EqualFold(name, part) {
					path := append(append([]string{}, k[:i]...), name)
					return fmt.Errorf("%s%q is read by Podman as %s (its keys match in any letter case); rename it to %s by hand",
						keyLine(data, k[:i+1]), strings.Join(k[:i+1], "."), strings.Join(path, "."), name)
				}
			}
			break
		}
	}
	return nil
}

// keyLine is "line N: " for the line that first writes key (as a header,
// a key, or a dotted key's prefix), or "" when the scanner cannot place it
// (a name written with escapes).
func keyLine(data []byte, key []string) string {
	d, err := scan(data)
	if err != nil {
		return ""
	}
	if line, ok := d.lines[strings.Join(key, "\x00")]; ok {
		return fmt.Sprintf("line %d: ", line)
	}
	return ""
}

// Lacks names the Required keys data does not set to a non-empty string,
// in the order of Required: what containers/storage would stop at if it
// read data alone.
func Lacks(data []byte) ([]string, error) {
	m, err := decodeAll(data)
	if err != nil {
		return nil, err
	}
	return lacks(m), nil
}

func lacks(m map[string]any) []string {
	var out []string
	for _, k := range Required {
		if str(m, "storage", k) == "" {
			out = append(out, k)
		}
	}
	return out
}

// str is the string at path in a decoded document, or "".
func str(m map[string]any, path ...string) string {
	for _, p := range path[:len(path)-1] {
		m, _ = m[p].(map[string]any)
	}
	s, _ := m[path[len(path)-1]].(string)
	return s
}

// decodeAll is the whole document as generic values, for comparing what
// an edit left alone.
func decodeAll(data []byte) (map[string]any, error) {
	m := map[string]any{}
	if _, err := toml.Decode(string(data), &m); err != nil {
		return nil, parseError(err)
	}
	return m, nil
}

// Want is what Set makes the file hold. MountProgram "" means the key is
// not set (native overlay).
type Want struct {
	Driver, Graphroot, MountProgram string
}

// Set edits data so that it holds w: a value that differs is replaced in
// place (the key, its spacing and comment stay), a missing key is added
// right after its table's header (or the table at the end of the file),
// and a mount_program that must go is commented out. A file that sets no
// runroot (or an empty one) gets DefaultRunRoot, so that the result holds
// every Required key. Lines it does not change stay byte for byte, their
// line endings included.
func Set(data []byte, w Want) ([]byte, error) {
	for _, s := range []string{w.Driver, w.Graphroot, w.MountProgram} {
		if strings.ContainsAny(s, "\"\\\n\r\t") || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return nil, fmt.Errorf("value %q cannot be written as a plain TOML string", s)
		}
	}
	// The typed parse refuses a key of the wrong type (driver = 5).
	if _, err := Parse(data); err != nil {
		return nil, err
	}
	before, err := decodeAll(data)
	if err != nil {
		return nil, err
	}
	doc, err := scan(data)
	if err != nil {
		return nil, err
	}
	if k, ok := doc.keys[strings.Join(keyOldMountProgram, "\x00")]; ok {
		return nil, fmt.Errorf("line %d: mount_program is set in [storage.options], its old place; move it to [storage.options.overlay] by hand", k.line)
	}
	var eds []edit
	var newStorage, newOverlay []string
	set := func(key []string, value string, add *[]string) error {
		id := strings.Join(key, "\x00")
		k, ok := doc.keys[id]
		if !ok {
			if err := doc.inlineAbove(key); err != nil {
				return err
			}
			if value != "" {
				*add = append(*add, key[len(key)-1]+" = "+quote(value))
			}
			return nil
		}
		if !k.plain {
			return fmt.Errorf("line %d: %s is set as a dotted key or in an inline table; ezedge-host edits only a plain key in its [%s] table", k.line, strings.Join(key, "."), strings.Join(key[:len(key)-1], "."))
		}
		switch {
		case value == "":
			eds = append(eds, edit{at: k.lineStart, insert: "#"})
		case k.value != value:
			eds = append(eds, edit{at: k.valStart, cut: k.valEnd - k.valStart, insert: quote(value)})
		}
		return nil
	}
	if err := set(keyDriver, w.Driver, &newStorage); err != nil {
		return nil, err
	}
	if str(before, keyRunRoot...) == "" {
		if err := set(keyRunRoot, DefaultRunRoot, &newStorage); err != nil {
			return nil, err
		}
	}
	if err := set(keyGraphroot, w.Graphroot, &newStorage); err != nil {
		return nil, err
	}
	if err := set(keyMountProgram, w.MountProgram, &newOverlay); err != nil {
		return nil, err
	}
	nl := "\n"
	if bytes.Contains(data, []byte("\r\n")) {
		nl = "\r\n"
	}
	var tail strings.Builder
	for _, t := range []struct {
		table []string
		lines []string
	}{{[]string{"storage"}, newStorage}, {[]string{"storage", "options", "overlay"}, newOverlay}} {
		if len(t.lines) == 0 {
			continue
		}
		body := strings.Join(t.lines, nl) + nl
		if at, ok := doc.tables[strings.Join(t.table, "\x00")]; ok {
			if at == len(data) && len(data) > 0 && data[len(data)-1] != '\n' {
				body = nl + body
			}
			eds = append(eds, edit{at: at, insert: body})
			continue
		}
		if tail.Len() > 0 || (len(data) > 0 && !bytes.HasSuffix(data, []byte("\n\n")) && !bytes.HasSuffix(data, []byte("\r\n\r\n"))) {
			tail.WriteString(nl)
		}
		tail.WriteString("[" + strings.Join(t.table, ".") + "]" + nl + body)
	}
	out := apply(data, eds)
	if tail.Len() > 0 {
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, nl...)
		}
		out = append(out, tail.String()...)
	}
	if err := verify(before, out, w); err != nil {
		return nil, err
	}
	return out, nil
}

// verify checks that out parses, holds w and every Required key, and holds
// every other value of the document as before (runroot too, unless the
// document set none).
func verify(before map[string]any, out []byte, w Want) error {
	got, err := Parse(out)
	if err != nil {
		return fmt.Errorf("the edit would not parse (%w); edit the file by hand", err)
	}
	if got != (Values(w)) {
		return fmt.Errorf("the edit would hold %+v, not %+v; edit the file by hand", got, w)
	}
	after, _ := decodeAll(out)
	if l := lacks(after); len(l) > 0 {
		return fmt.Errorf("the edit would set no %s, which containers/storage needs; edit the file by hand", strings.Join(l, " or "))
	}
	added := str(before, keyRunRoot...) == ""
	if added && str(after, keyRunRoot...) != DefaultRunRoot {
		return fmt.Errorf("the edit would set runroot to %q, not %s; edit the file by hand", str(after, keyRunRoot...), DefaultRunRoot)
	}
	strip := func(m map[string]any) {
		s, _ := m["storage"].(map[string]any)
		if s == nil {
			return
		}
		delete(s, "driver")
		delete(s, "graphroot")
		if added {
			delete(s, "runroot")
		}
		if o, _ := s["options"].(map[string]any); o != nil {
			if ov, _ := o["overlay"].(map[string]any); ov != nil {
				delete(ov, "mount_program")
				if len(ov) == 0 {
					delete(o, "overlay")
				}
			}
			if len(o) == 0 {
				delete(s, "options")
			}
		}
		if len(s) == 0 {
			delete(m, "storage")
		}
	}
	strip(before)
	strip(after)
	if !reflect.DeepEqual(before, after) {
		return errors.New("the edit would change other settings too; edit the file by hand")
	}
	return nil
}

// quote writes s (checked plain) as a TOML basic string.
func quote(s string) string { return `"` + s + `"` }

type edit struct {
	at, cut int
	insert  string
}

// apply makes the edits, which do not overlap, on a copy of data.
func apply(data []byte, eds []edit) []byte {
	out := make([]byte, 0, len(data)+64)
	pos := 0
	// Edits are few; order them by offset.
	for len(eds) > 0 {
		i := 0
		for j := range eds {
			if eds[j].at < eds[i].at {
				i = j
			}
		}
		e := eds[i]
		eds = append(eds[:i], eds[i+1:]...)
		out = append(out, data[pos:e.at]...)
		out = append(out, e.insert...)
		pos = e.at + e.cut
	}
	return append(out, data[pos:]...)
}
