package command

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/health/measure"
)

// writes records each write it is given.
type writes struct{ got []string }

func (w *writes) Write(p []byte) (int, error) {
	w.got = append(w.got, string(p))
	return len(p), nil
}

// TestLineWriter: standard output reaches the file a line at a time, each
// write that ends lines in one write, a line in progress held until it
// ends or is flushed, a line longer than LineMax not held whole.
func TestLineWriter(t *testing.T) {
	t.Parallel()
	var w writes
	l := NewLineWriter(&w)
	for _, s := range []string{"a", "b\n", "c\nd", "e", "\n\n", "f"} {
		l.Write([]byte(s))
	}
	if want := []string{"ab\n", "c\n", "de\n\n"}; !slices.Equal(w.got, want) {
		t.Fatalf("writes %q, want %q", w.got, want)
	}
	l.Flush()
	l.Flush()
	if want := []string{"ab\n", "c\n", "de\n\n", "f"}; !slices.Equal(w.got, want) {
		t.Fatalf("after flush %q, want %q", w.got, want)
	}
	w.got = nil
	long := strings.Repeat("x", LineMax)
	l.Write([]byte(long))
	l.Write([]byte("y\n"))
	if len(w.got) != 2 || w.got[0] != long || w.got[1] != "y\n" {
		t.Fatalf("a long line: %d writes", len(w.got))
	}
}

// TestShowError: an error is one line per problem on standard error, each
// prefixed, and a line holding what a root says (an escape sequence, a
// carriage return) is shown as a visible Go string literal.
func TestShowError(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	ShowError(&b, errors.New("  first problem\nfile \x1b[2J\rx: bad\n"))
	want := "ezedge-host: first problem\nezedge-host: \"file \\x1b[2J\\rx: bad\"\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

// TestCode: an exit status carried as an error is found through
// wrapping, and says which it is.
func TestCode(t *testing.T) {
	t.Parallel()
	var c Code
	if err := fmt.Errorf("check: %w", Warn); !errors.As(err, &c) || c != Warn || int(c) != 4 {
		t.Errorf("errors.As: %v %d", err, c)
	}
	if Drift.Error() != "exit 3" {
		t.Errorf("Drift: %q", Drift.Error())
	}
}

// TestTerraformOut: -out and -out= become --out, anywhere before "--",
// and nothing else changes (-o is --output, "-out" after -- an argument).
func TestTerraformOut(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want []string }{
		{[]string{"plan", "-out", "f"}, []string{"plan", "--out", "f"}},
		{[]string{"plan", "-out=f", "-o", "json"}, []string{"plan", "--out=f", "-o", "json"}},
		{[]string{"plan", "--out", "f", "-output"}, []string{"plan", "--out", "f", "-output"}},
		{[]string{"apply", "--", "-out"}, []string{"apply", "--", "-out"}},
		{nil, []string{}},
	} {
		if got := TerraformOut(c.in); !slices.Equal(got, c.want) {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}

// measuring is a command with the measuring flags, parsed from args.
func measuring(t *testing.T, on string, args ...string) (*MeasureFlags, *cobra.Command) {
	t.Helper()
	var m MeasureFlags
	c := &cobra.Command{Use: "x"}
	m.Add(c, 20*time.Second, "in all", on)
	if err := c.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	return &m, c
}

// TestMeasureRequest: without --measure there is no measurement, and a
// measuring flag given anyway is refused, not ignored; with it, the
// flags are the request, each --http URL parsed (a bad one refused).
func TestMeasureRequest(t *testing.T) {
	t.Parallel()
	if m, _ := measuring(t, "it"); m.ProbeRequest() != nil {
		t.Error("a probe without --measure")
	} else if r, err := m.Request(); r != nil || err != nil {
		t.Errorf("no --measure: %v %v", r, err)
	}
	for _, f := range [][]string{{"--budget", "5s"}, {"--http", "http://h/"}, {"--data-dir", "/d"}, {"--busy"}} {
		m, _ := measuring(t, "it", f...)
		if _, err := m.Request(); err == nil || err.Error() != f[0]+": only with --measure" {
			t.Errorf("%v without --measure: %v", f, err)
		}
	}
	m, _ := measuring(t, "it", "--measure", "--budget", "7s", "--http", "complex=http://h:1/p", "--http", "http://g/", "--data-dir", "/d", "--busy")
	r, err := m.Request()
	if err != nil {
		t.Fatal(err)
	}
	want := []measure.Endpoint{{Class: measure.Complex, URL: "http://h:1/p"}, {Class: measure.Health, URL: "http://g/"}}
	if r.Budget != 7*time.Second || r.DataDir != "/d" || !r.Busy || !slices.Equal(r.HTTP, want) {
		t.Errorf("request %+v", r)
	}
	m, _ = measuring(t, "it", "--measure", "--http", "bogus=http://h/")
	if _, err := m.Request(); err == nil || !strings.Contains(err.Error(), `class "bogus"`) {
		t.Errorf("bad --http: %v", err)
	}
	// Where measuring is the command (baseline) there is no --measure.
	if _, c := measuring(t, ""); c.Flags().Lookup("measure") != nil {
		t.Error("--measure on a command that always measures")
	}
}

// TestProbe: check's probe has --measure, --budget (5s) and --busy only.
func TestProbe(t *testing.T) {
	t.Parallel()
	var m MeasureFlags
	c := &cobra.Command{Use: "check"}
	m.Probe(c)
	if err := c.ParseFlags([]string{"--busy"}); err != nil {
		t.Fatal(err)
	}
	if o := m.ProbeRequest(); o != nil {
		t.Errorf("probe without --measure: %+v", o)
	}
	if err := c.ParseFlags([]string{"--measure"}); err != nil {
		t.Fatal(err)
	}
	if o := m.ProbeRequest(); o == nil || o.Budget != 5*time.Second || !o.Busy || o.HTTP != nil {
		t.Errorf("probe %+v", o)
	}
	if c.Flags().Lookup("http") != nil || c.Flags().Lookup("data-dir") != nil {
		t.Error("the probe takes --http or --data-dir")
	}
}

// TestRefuseFixed: the flags an argument fixes are refused when given,
// one line each with why; the others, and those not given, are not.
func TestRefuseFixed(t *testing.T) {
	t.Parallel()
	var p ProfileFlags
	var only []string
	var yes bool
	c := &cobra.Command{Use: "apply"}
	p.Add(c)
	c.Flags().StringArrayVar(&only, "only", nil, "")
	c.Flags().BoolVar(&yes, "yes", false, "")
	FixedByArg(c, "why profile", "profile", "no-profile")
	FixedByArg(c, "why only", "only")
	if err := c.ParseFlags([]string{"--yes"}); err != nil {
		t.Fatal(err)
	}
	if err := RefuseFixed(c); err != nil {
		t.Errorf("nothing fixed given: %v", err)
	}
	if err := c.ParseFlags([]string{"--no-profile", "--only", "x"}); err != nil {
		t.Fatal(err)
	}
	if err := RefuseFixed(c); err == nil || err.Error() != "--no-profile: why profile\n--only: why only" {
		t.Errorf("got %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("a mark on no flag did not panic")
		}
	}()
	FixedByArg(c, "why", "renamed")
}

// TestProfileFlags: --profile files in order, --no-profile none, both
// refused by profile.FromFlags.
func TestProfileFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		ok   bool
	}{{nil, true}, {[]string{"--profile", "a.yaml", "--profile", "b.yaml"}, true}, {[]string{"--no-profile"}, true}, {[]string{"--no-profile", "--profile", "a.yaml"}, false}} {
		var p ProfileFlags
		cmd := &cobra.Command{Use: "plan"}
		p.Add(cmd)
		if err := cmd.ParseFlags(c.args); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Source(); (err == nil) != c.ok {
			t.Errorf("%q: %v", c.args, err)
		}
	}
}

// TestTime: an RFC 3339 time, or the zero time for none; anything else
// refused as time.Parse refuses it.
func TestTime(t *testing.T) {
	t.Parallel()
	if at, err := Time(""); err != nil || !at.IsZero() {
		t.Errorf("none: %v %v", at, err)
	}
	if at, err := Time("2026-11-29T08:00:00+01:00"); err != nil || !at.Equal(time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("a time: %v %v", at, err)
	}
	if _, err := Time("tomorrow"); err == nil || !strings.HasPrefix(err.Error(), `parsing time "tomorrow"`) {
		t.Errorf("not a time: %v", err)
	}
}
