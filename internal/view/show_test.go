package view

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/firstboot"
	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/ops"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/rollback"
)

// views are a text and a JSON view, each writing to its own buffers.
func views() (txt, js *View, out, errs [2]*bytes.Buffer) {
	for i := range out {
		out[i], errs[i] = &bytes.Buffer{}, &bytes.Buffer{}
	}
	return &View{Format: Text, W: out[0], Err: errs[0], Root: "/r"}, &View{Format: JSON, W: out[1], Err: errs[1], Root: "/r"}, out, errs
}

// opened is a copy of fixture name, opened as a command opens it, and
// the request of its own profile.
func opened(t *testing.T, name string) (*ops.Host, ops.Request) {
	t.Helper()
	x, err := ops.Open(fixture.Copy(t, name), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.Close)
	p, err := x.Profile(profile.Default())
	if err != nil {
		t.Fatal(err)
	}
	return x, ops.Request{Profile: p}
}

// TestUseCaseErrorPassesThrough: given the use case's error, every view
// shows nothing and returns that error.
func TestUseCaseErrorPassesThrough(t *testing.T) {
	t.Parallel()
	bad := errors.New("bad root")
	for _, f := range []Format{Text, JSON} {
		var w, e bytes.Buffer
		v := &View{Format: f, W: &w, Err: &e}
		for name, err := range map[string]error{
			"facts":      v.Facts(nil, bad),
			"history":    v.History(nil, bad),
			"status":     v.Status(nil, bad),
			"confirmed":  v.Confirmed(nil, bad),
			"firstboot":  v.FirstbootStatus(firstboot.Status{}, bad),
			"installed":  v.FirstbootInstalled(nil, profile.Origin{}, "/r", bad),
			"baselines":  v.Baselines(nil, nil, bad),
			"baseline":   v.Baseline(nil, nil, nil, bad),
			"resources":  v.Resources(nil, bad),
			"profile":    v.Profile(nil, bad),
			"apply":      v.Apply(nil, bad, 0),
			"rollback":   v.Rollback(nil, bad),
			"nothing-ok": nil,
		} {
			if name != "nothing-ok" && err != bad {
				t.Errorf("%s %s: %v", f, name, err)
			}
		}
		if w.Len()+e.Len() != 0 {
			t.Errorf("%s: shown %q %q", f, w.String(), e.String())
		}
	}
}

// TestApplyViews: the plan is shown for review in text only, not for a
// saved plan, and asked about only when it changes something; the
// result is text or JSON, a failure said to be one (still the same error
// beneath), an apply that could not be armed as it is.
func TestApplyViews(t *testing.T) {
	t.Parallel()
	x, req := opened(t, "pi5-16gb-nvme-bookworm")
	p, err := x.Plan(req)
	if err != nil || len(p.Pending()) == 0 {
		t.Fatalf("plan: %v", err)
	}
	txt, js, out, _ := views()
	asked := 0
	ask := func() error { asked++; return nil }
	for _, c := range []struct {
		v      *View
		saved  bool
		shown  bool
		buffer *bytes.Buffer
	}{{txt, false, true, out[0]}, {txt, true, false, out[0]}, {js, false, false, out[1]}} {
		c.buffer.Reset()
		if err := c.v.ApplyReview(c.saved, ask)(p); err != nil {
			t.Fatal(err)
		}
		if shown := strings.Contains(c.buffer.String(), "Plan: "); shown != c.shown {
			t.Errorf("%s saved=%v: plan shown %v:\n%s", c.v.Format, c.saved, shown, c.buffer)
		}
	}
	if asked != 3 {
		t.Errorf("asked %d times for 3 reviews of changes", asked)
	}
	res, err := x.Apply(ops.ApplyRequest{Request: req})
	if err != nil {
		t.Fatal(err)
	}
	again, err := x.Plan(req)
	if err != nil || len(again.Pending()) != 0 {
		t.Fatalf("plan after apply: %v", err)
	}
	if err := txt.ApplyReview(false, ask)(again); err != nil || asked != 3 {
		t.Errorf("asked about no changes: %d %v", asked, err)
	}
	out[0].Reset()
	if err := txt.Apply(res, nil, 0); err != nil || !strings.Contains(out[0].String(), "Applied ") || !strings.Contains(out[0].String(), res.Applied.ID) {
		t.Errorf("text result %v:\n%s", err, out[0])
	}
	if err := js.Apply(res, nil, 0); err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(out[1].Bytes(), &j); err != nil || j["format_version"] != float64(FormatVersion) {
		t.Errorf("JSON result %v: %s", err, out[1])
	}
	failed := errors.New("disk full")
	if err := txt.Apply(res, failed, 0); !errors.Is(err, failed) || !strings.HasPrefix(err.Error(), "apply failed: ") {
		t.Errorf("a failure: %v", err)
	}
	if err := txt.Apply(res, ops.NotArmedError{}, 0); !errors.As(err, new(ops.NotArmedError)) || strings.HasPrefix(err.Error(), "apply failed") {
		t.Errorf("not armed: %v", err)
	}
}

// TestRollbackReview: each apply about to be restored is named in text
// (its time, changes and status), not in JSON; then it asks.
func TestRollbackReview(t *testing.T) {
	t.Parallel()
	txt, js, out, _ := views()
	recs := []*rollback.Record{{ID: "20261129T080000Z", Items: make([]*rollback.Item, 3)}}
	refused := errors.New("no")
	if err := txt.RollbackReview(func() error { return refused })(recs); err != refused {
		t.Errorf("the answer: %v", err)
	}
	if err := js.RollbackReview(func() error { return nil })(recs); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out[0].String(), "Roll back apply 20261129T080000Z (") || !strings.Contains(out[0].String(), ", 3 changes, ") || out[1].Len() != 0 {
		t.Errorf("text %q, JSON %q", out[0], out[1])
	}
}

// TestCheckTextfile: the Prometheus form goes to the textfile when there
// is one, and standard output stays empty; else to standard output.
func TestCheckTextfile(t *testing.T) {
	t.Parallel()
	r := hostileReport(t)
	var w bytes.Buffer
	var file []byte
	v := &View{Format: Prometheus, W: &w}
	if err := v.Check(r, func(b []byte) error { file = b; return nil }); err != nil {
		t.Fatal(err)
	}
	if w.Len() != 0 || !bytes.Contains(file, []byte("# TYPE ")) {
		t.Errorf("textfile %d bytes, standard output %d", len(file), w.Len())
	}
	if err := v.Check(r, nil); err != nil || !bytes.Equal(w.Bytes(), file) {
		t.Errorf("standard output differs from the textfile: %v", err)
	}
	wrote := errors.New("read-only")
	if err := v.Check(r, func([]byte) error { return wrote }); err != wrote {
		t.Errorf("a textfile not written: %v", err)
	}
}

// TestWarn: what was left out is said on standard error, escaped.
func TestWarn(t *testing.T) {
	t.Parallel()
	txt, _, out, errs := views()
	txt.Warn([]string{"a.json: bad", "b\x1b[2J"})
	if want := "ezedge-host: warning: left out: a.json: bad\nezedge-host: warning: left out: \"b\\x1b[2J\"\n"; errs[0].String() != want || out[0].Len() != 0 {
		t.Errorf("got %q", errs[0])
	}
}

// TestAttach: what a use case does on its own is said on standard
// error, escaped; progress only on a terminal, so never to a buffer.
func TestAttach(t *testing.T) {
	t.Parallel()
	x, _ := opened(t, "pi4-8gb-bullseye")
	txt, _, out, errs := views()
	txt.Attach(x, false)
	if x.Notify == nil || x.Progress != nil {
		t.Fatalf("notify %v, progress %v", x.Notify != nil, x.Progress != nil)
	}
	x.Notify("reverted \x1b[2J")
	if want := "ezedge-host: \"reverted \\x1b[2J\"\n"; errs[0].String() != want || out[0].Len() != 0 {
		t.Errorf("got %q", errs[0])
	}
}
