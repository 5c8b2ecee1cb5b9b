package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Record is a resolved profile as a saved plan keeps it (plan --out): each
// layer with its bytes, and the settings they made with their provenance.
// apply PLANFILE merges the layers again (Saved) and refuses a record
// whose layers are not ones Resolve makes, in its order, or whose settings
// are not what its layers make: the plan file may have been edited.
type Record struct {
	Kind   Kind          `json:"kind"`
	Layers []RecordLayer `json:"layers"`
	// Settings are Origin.Settings as JSON, compared with what the layers
	// make when the plan is applied.
	Settings json.RawMessage `json:"settings"`
}

// RecordLayer is a layer and its bytes.
type RecordLayer struct {
	Layer
	Data string `json:"data"`
}

// Record is r as a saved plan keeps it.
func (r *Resolved) Record() (Record, error) {
	rec := Record{Kind: r.Origin.Kind, Layers: []RecordLayer{}}
	for i, l := range r.Origin.Layers {
		rec.Layers = append(rec.Layers, RecordLayer{l, string(r.Data[i])})
	}
	s, err := json.Marshal(nonNil(r.Origin.Settings))
	if err != nil {
		return Record{}, err
	}
	rec.Settings = s
	return rec, nil
}

func nonNil(s []Setting) []Setting {
	if s == nil {
		return []Setting{}
	}
	return s
}

// resolveSaved merges a saved plan's layers again, after checking that
// they are layers Resolve makes, in its order; their settings must be the
// ones saved with them.
func (s Source) resolveSaved() (*Resolved, error) {
	fail := func(format string, args ...any) (*Resolved, error) {
		return nil, fmt.Errorf("plan file %s: profile: %s", printable(s.planFile), printable(fmt.Sprintf(format, args...)))
	}
	rec := s.record
	r := &Resolved{Origin: Origin{Kind: rec.Kind, Layers: []Layer{}, Settings: []Setting{}}}
	for _, l := range rec.Layers {
		r.Origin.Layers = append(r.Origin.Layers, l.Layer)
		r.Data = append(r.Data, []byte(l.Data))
	}
	if err := checkLayers(rec.Kind, r.Origin.Layers); err != nil {
		return fail("%v", err)
	}
	for _, l := range rec.Layers {
		if len(l.Data) > MaxSize {
			return fail("layer %s: %d bytes, more than a profile file may have (%d)", l.Path, len(l.Data), MaxSize)
		}
	}
	if rec.Kind == KindLayers {
		if err := r.merge(); err != nil {
			// Each problem on its line, each naming the plan file.
			var lines []string
			for l := range strings.Lines(err.Error()) {
				lines = append(lines, "plan file "+printable(s.planFile)+": "+strings.TrimSuffix(l, "\n"))
			}
			return nil, errors.New(strings.Join(lines, "\n"))
		}
	}
	made, err := canonical(mustJSON(r.Origin.Settings))
	if err != nil {
		return nil, err
	}
	saved, err := canonical(rec.Settings)
	if err != nil || !bytes.Equal(made, saved) {
		return fail("its settings are not what its layers set (the file was edited): make the plan again")
	}
	return r, nil
}

// checkLayers refuses layers Resolve does not make: for KindLayers one to
// MaxLayers of them, DefaultPath first if there, then DropInDir files with
// names that are layers in lexical order, then --profile files, each once;
// none for the platform defaults.
func checkLayers(k Kind, ls []Layer) error {
	switch k {
	case KindAbsent, KindNone:
		if len(ls) > 0 {
			return fmt.Errorf("kind %s with layers", k)
		}
		return nil
	case KindLayers:
	default:
		return fmt.Errorf("kind %q: want layers, absent or none", k)
	}
	if len(ls) == 0 || len(ls) > MaxLayers {
		return fmt.Errorf("%d layers: want 1 to %d", len(ls), MaxLayers)
	}
	lastDropIn := ""
	flags := map[string]bool{}
	for i, l := range ls {
		switch l.Where {
		case InRoot:
			if i > 0 && ls[i-1].Where != InRoot {
				return fmt.Errorf("layer %s in the root after a --profile file", l.Path)
			}
			if l.Path == DefaultPath {
				if i != 0 {
					return fmt.Errorf("layer %s not the first", l.Path)
				}
				continue
			}
			name, ok := strings.CutPrefix(l.Path, DropInDir+"/")
			if !ok || name == "" || strings.Contains(name, "/") || DropIn(name) != "" {
				return fmt.Errorf("layer %q in the root: want %s or a %s/*.yaml file", l.Path, DefaultPath, DropInDir)
			}
			if name <= lastDropIn {
				return fmt.Errorf("layer %s out of order", l.Path)
			}
			lastDropIn = name
		case FromFlag:
			if l.Path == "" || flags[l.Path] {
				return fmt.Errorf("--profile layer %q empty or given twice", l.Path)
			}
			flags[l.Path] = true
		default:
			return fmt.Errorf("layer %s: where %q: want root or file", l.Path, l.Where)
		}
	}
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // settings are numbers, strings, booleans and lists of them
	}
	return b
}

// canonical is JSON b decoded and encoded again, numbers as written, so
// that two encodings of the same settings compare equal.
func canonical(b []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("more than one JSON value")
	}
	return json.Marshal(v)
}
