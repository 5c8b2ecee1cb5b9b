package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ezansiedgeai/ezedge-host/internal/command/help"
	"github.com/ezansiedgeai/ezedge-host/internal/command/man"
	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
)

// commands is every available command of a fresh tree, root first.
func commands() []*cobra.Command {
	root := rootCmd(&globals{stderr: io.Discard})
	out := []*cobra.Command{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		out = append(out, c)
		for _, s := range c.Commands() {
			if s.IsAvailableCommand() && !s.IsAdditionalHelpTopicCommand() {
				walk(s)
			}
		}
	}
	walk(root)
	return out
}

// path is c's words after the program's name.
func path(c *cobra.Command) []string { return strings.Fields(c.CommandPath())[1:] }

// TestHelpGolden: every command's --help, as a person reads it, matches
// its golden file (go test ./cmd/ezedge-host -update rewrites them).
func TestHelpGolden(t *testing.T) {
	t.Parallel()
	for _, c := range commands() {
		r := cli(append(path(c), "--help")...).must(t, 0)
		// (cobra's help of its completion commands indents with tabs.)
		if err := escape.CheckText([]byte(strings.ReplaceAll(r.stdout, "\t", " "))); err != nil {
			t.Errorf("%s: %v", c.CommandPath(), err)
		}
		goldenFile(t, "help/"+strings.ReplaceAll(c.CommandPath(), " ", "-")+".txt", r.stdout)
	}
}

// TestEveryCommandHasExample: every command shows an Example, and every
// example is a command line this program takes: its command, its flags,
// its arguments, and values among those its flags complete to.
func TestEveryCommandHasExample(t *testing.T) {
	t.Parallel()
	n := 0
	for _, c := range commands() {
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no Example", c.CommandPath())
			continue
		}
		for l := range strings.Lines(c.Example) {
			i := strings.Index(l, "ezedge-host ")
			if i < 0 {
				t.Errorf("%s: example %q runs no ezedge-host", c.CommandPath(), l)
				continue
			}
			line := l[i+len("ezedge-host "):]
			if j := strings.IndexAny(line, "#>|)"); j >= 0 {
				line = line[:j]
			}
			checkExample(t, c.CommandPath(), strings.Fields(line))
			n++
		}
	}
	if n < 30 {
		t.Errorf("only %d examples", n)
	}
}

// checkExample parses args as the program would, on a fresh tree.
func checkExample(t *testing.T, where string, args []string) {
	t.Helper()
	root := rootCmd(&globals{stderr: io.Discard})
	cmd, rest, err := root.Find(args)
	if err != nil {
		t.Errorf("%s: example %q: %v", where, args, err)
		return
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Errorf("%s: example %q: %v", where, args, err)
		return
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		t.Errorf("%s: example %q: %v", where, args, err)
	}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		complete, ok := cmd.GetFlagCompletionFunc(f.Name)
		if !ok {
			return
		}
		values, directive := complete(cmd, nil, "")
		if directive&cobra.ShellCompDirectiveNoSpace != 0 || len(values) == 0 || directive&(cobra.ShellCompDirectiveFilterDirs|cobra.ShellCompDirectiveFilterFileExt) != 0 {
			return // a prefix, a path or a discovered value: not a finite set
		}
		var names []string
		for _, v := range values {
			names = append(names, strings.SplitN(v, "\t", 2)[0])
		}
		given := []string{f.Value.String()}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			given = sv.GetSlice()
		}
		for _, v := range given {
			if f.Name == "workload" {
				v, _, _ = strings.Cut(v, "=")
			}
			if !slices.Contains(names, v) {
				t.Errorf("%s: example %q: --%s %s is not one of %v", where, args, f.Name, v, names)
			}
		}
	})
}

// placeholder is what a flag's usage may name its value: a metavariable
// in capitals (with its choices), or pflag's type name.
var placeholder = regexp.MustCompile(`^(\[[a-z|=]+\])?[A-Z][A-Z0-9_]*(\[=[A-Z]+\])?$`)

// TestFlagUsage: every flag's placeholder is a metavariable, never words
// pflag took from back quotes meant as code (--confirm-within "ezedge-host
// confirm"), and no usage keeps a back quote.
func TestFlagUsage(t *testing.T) {
	t.Parallel()
	for _, c := range commands() {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			name, usage := pflag.UnquoteUsage(f)
			if name != "" && name != f.Value.Type() && !placeholder.MatchString(name) {
				t.Errorf("%s --%s: placeholder %q", c.CommandPath(), f.Name, name)
			}
			if strings.Contains(usage, "`") {
				t.Errorf("%s --%s: usage keeps a back quote: %q", c.CommandPath(), f.Name, usage)
			}
		})
	}
}

// TestEveryFlagCompletes: every flag that takes a value has a completion
// rule (internal/command/complete), and every command its man page's EXIT STATUS.
func TestEveryFlagCompletes(t *testing.T) {
	t.Parallel()
	for _, c := range commands() {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Value.Type() == "bool" {
				return
			}
			if _, ok := c.GetFlagCompletionFunc(f.Name); !ok {
				t.Errorf("%s --%s: no completion of its values (internal/command/complete)", c.CommandPath(), f.Name)
			}
		})
		if _, ok := man.PageOf(c); !ok {
			t.Errorf("%s: no EXIT STATUS or FILES for its man page (internal/command/help)", c.CommandPath())
		}
	}
}

// TestHelpDescribesTheTree: every entry of help is a command of the
// tree (hidden ones too), and every available command has a summary.
func TestHelpDescribesTheTree(t *testing.T) {
	t.Parallel()
	root := rootCmd(&globals{stderr: io.Discard})
	for _, p := range help.Paths() {
		c, rest, err := root.Find(strings.Fields(p)[1:])
		if err != nil || len(rest) > 0 || c.CommandPath() != p {
			t.Errorf("help describes %q, not a command (%v)", p, err)
		}
	}
	for _, c := range commands() {
		if c.Short == "" {
			t.Errorf("%s: no summary", c.CommandPath())
		}
	}
}

// TestOutputsComplete: --output completes, for each command, to exactly
// the formats the command takes.
func TestOutputsComplete(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	want := regexp.MustCompile(`--output "bogus": want ([a-z, ]+)`)
	n := 0
	for _, c := range commands() {
		if c.RunE == nil || c.Name() == "completion" {
			continue
		}
		r := cli(append(path(c), "--output", "bogus", "--root", root)...)
		m := want.FindStringSubmatch(r.stderr)
		if m == nil {
			continue
		}
		n++
		got := cli(append(append([]string{"__complete"}, path(c)...), "--output", "")...).must(t, 0).stdout
		formats := strings.Join(strings.Fields(strings.Split(got, ":")[0]), ", ")
		if formats != m[1] {
			t.Errorf("%s: --output completes to %s, takes %s", c.CommandPath(), formats, m[1])
		}
	}
	if n < 10 {
		t.Errorf("only %d commands checked", n)
	}
}

// manDate is the date the golden man pages are made with.
var manDate = time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)

// TestManGolden: a page per command, with EXIT STATUS, FILES and
// EXAMPLES, dated by SOURCE_DATE_EPOCH, matching its golden file; gen-man
// refuses to date a page by the day it is made.
func TestManGolden(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := man.Write(rootCmd(&globals{stderr: io.Discard}), dir, manDate, version); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		page := string(b)
		for _, s := range []string{".TH \"EZEDGE-HOST\" \"8\" \"Nov 2026\"", "\n.SH EXIT STATUS\n", "\n.SH EXAMPLES\n", "\n.SH OPTIONS"} {
			if !strings.Contains(page, s) {
				t.Errorf("%s lacks %q", e.Name(), s)
			}
		}
		if i, j := strings.Index(page, ".SH EXIT STATUS"), strings.Index(page, ".SH EXAMPLES"); i > j {
			t.Errorf("%s: EXIT STATUS after EXAMPLES", e.Name())
		}
		goldenFile(t, "man/"+e.Name(), page)
		names = append(names, e.Name())
	}
	if !slices.Contains(names, "ezedge-host.8") || !slices.Contains(names, "ezedge-host-apply.8") || len(names) != len(commands()) {
		t.Errorf("pages %v for %d commands", names, len(commands()))
	}
	// The binary: SOURCE_DATE_EPOCH or nothing.
	out := t.TempDir()
	cmd := execBin("gen-man", out)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "SOURCE_DATE_EPOCH=") })
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "SOURCE_DATE_EPOCH is not set") {
		t.Errorf("gen-man without SOURCE_DATE_EPOCH: %v %s", err, b)
	}
	cmd = execBin("gen-man", out)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1764403200")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen-man: %v %s", err, b)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "ezedge-host.8")); !strings.Contains(string(b), `"Nov 2025"`) {
		t.Errorf("dated otherwise than by SOURCE_DATE_EPOCH:\n%.200s", b)
	}
}

// TestCompletionGolden: the completion scripts, and what completing each
// kind of flag value offers (a finite set, a discovered one, files,
// nothing), match their golden files.
func TestCompletionGolden(t *testing.T) {
	t.Parallel()
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		script := cli("completion", sh).must(t, 0).stdout
		if len(script) < 1000 || !strings.Contains(script, "__complete") || !strings.Contains(script, "ezedge-host") {
			t.Errorf("completion %s: not a script asking ezedge-host __complete for its completions:\n%.300s", sh, script)
		}
		goldenFile(t, "completion/"+sh, script)
	}
	root := fixture.Copy(t, "pi5-8gb-trixie-zram")
	cli("apply", "--root", root, "--yes", "--only", "swappiness").must(t, 0)
	if _, code, out := runBin(t, "apply", "--root", root, "--yes", "--confirm-within", "2m"); code != 0 {
		t.Fatal(out)
	}
	var b strings.Builder
	for _, q := range [][]string{
		{"plan", "--only", ""},
		{"plan", "--only", "sw"},
		{"plan", "-o", ""},
		{"check", "--output", ""},
		{"facts", "--platform", ""},
		{"facts", "--root", ""},
		{"facts", ""},
		{"apply", "--profile", ""},
		{"apply", "--lock-timeout", ""},
		{"apply", ""},
		{"plan", "--out", ""},
		{"resources", "--workload", ""},
		{"resources", "--form", ""},
		{"resources", "--workload", "llm=ollama", "--workload", "stt", "--write", ""},
		{"baseline", "--http", ""},
		{"baseline", "--data-dir", ""},
		{"rollback", "--root", root, "--to", ""},
		{"confirm", "--root", root, ""},
		{"confirm", "--root", root, "20261129T080000Z", ""},
	} {
		r := cli(append([]string{"__complete"}, q...)...).must(t, 0)
		b.WriteString("$ ezedge-host " + strings.Join(q, " ") + "\n" + r.stdout + "\n")
	}
	cli("confirm", "--root", root).must(t, 0)
	got := normalize(b.String(), root)
	got = regexp.MustCompile(`[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}`).ReplaceAllString(got, "<time>")
	goldenFile(t, "completion/values.txt", got)
}
