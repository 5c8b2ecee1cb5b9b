package man

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/tasks"
)

var date = time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)

// tree is a small command tree with the real program's command paths:
// the root, a command, a hidden one, and cobra's completion command.
func tree() *cobra.Command {
	run := func(*cobra.Command, []string) error { return nil }
	root := &cobra.Command{Use: "ezedge-host", Long: "replaced on the page", Example: "  ezedge-host plan"}
	root.AddCommand(
		&cobra.Command{Use: "plan", Short: "Plan", Example: "  ezedge-host plan --diff", RunE: run},
		&cobra.Command{Use: "gen-man DIR", Hidden: true, Example: "  ezedge-host gen-man d", RunE: run},
	)
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Example = "  ezedge-host completion bash"
			for _, s := range c.Commands() {
				s.Example = "  ezedge-host completion " + s.Name()
			}
		}
	}
	return root
}

// TestWrite: a page per available command (not a hidden one), each with
// EXIT STATUS (and FILES where it has any) between its options and
// EXAMPLES, dated as asked; the root's page lists every task.
func TestWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root := tree()
	if err := Write(root, dir, date, "v9"); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{"ezedge-host-completion-bash.8", "ezedge-host-completion-fish.8", "ezedge-host-completion-powershell.8", "ezedge-host-completion-zsh.8", "ezedge-host-completion.8", "ezedge-host-plan.8", "ezedge-host.8"}
	if !slices.Equal(names, want) {
		t.Fatalf("pages %v, want %v", names, want)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, name := range names {
		page := read(name)
		order := []string{`.TH "EZEDGE-HOST" "8" "Nov 2026" "ezedge-host v9"`, "\n.SH OPTIONS", "\n.SH EXIT STATUS\n", "\n.SH EXAMPLES\n"}
		at := 0
		for _, s := range order {
			i := strings.Index(page[at:], s)
			if i < 0 {
				t.Errorf("%s: %q missing or out of order", name, s)
				break
			}
			at += i
		}
		if strings.Contains(page, "\n.SH EXAMPLE\n") {
			t.Errorf("%s keeps cobra's EXAMPLE section", name)
		}
	}
	plan := read("ezedge-host-plan.8")
	if !strings.Contains(plan, ".SH FILES\n") || !strings.Contains(plan, "\\fB2\\fP") || !strings.Contains(plan, "ezedge-host plan --diff") {
		t.Errorf("plan's page lacks its FILES, exit 2 or example:\n%s", plan)
	}
	if strings.Contains(read("ezedge-host-completion-bash.8"), ".SH FILES") {
		t.Error("a completion page has FILES")
	}
	top := read("ezedge-host.8")
	if !strings.Contains(top, "Plan, apply and roll back performance tuning of an edge host.") || strings.Contains(top, "replaced on the page") {
		t.Errorf("root page's description:\n%s", top)
	}
	for _, tk := range tasks.All() {
		if !strings.Contains(top, `\fB`+tk.Name()+`\fP`) {
			t.Errorf("root page lacks task %s", tk.Name())
		}
	}
	if root.Long != "replaced on the page" {
		t.Errorf("the root's --help description changed: %q", root.Long)
	}
}

// TestWriteRefuses: a command without its EXIT STATUS and FILES, or
// without an example, makes no page set, naming it.
func TestWriteRefuses(t *testing.T) {
	t.Parallel()
	root := tree()
	root.AddCommand(&cobra.Command{Use: "undocumented", Example: "  ezedge-host undocumented", RunE: func(*cobra.Command, []string) error { return nil }})
	if err := Write(root, t.TempDir(), date, ""); err == nil || !strings.HasPrefix(err.Error(), "ezedge-host undocumented: no EXIT STATUS or FILES") {
		t.Errorf("undocumented: %v", err)
	}
	root = tree()
	root.Commands()[len(root.Commands())-1].Example = ""
	plan, _, _ := root.Find([]string{"plan"})
	plan.Example = ""
	if err := Write(root, t.TempDir(), date, ""); err == nil || err.Error() != "ezedge-host plan: no example for its man page" {
		t.Errorf("no example: %v", err)
	}
}

// TestPageOf: a command with EXIT STATUS in help has a page (cobra's
// completion commands too); a hidden one, with only a summary, and an
// unknown one have none.
func TestPageOf(t *testing.T) {
	t.Parallel()
	root := tree()
	bash, _, _ := root.Find([]string{"completion", "bash"})
	if p, ok := PageOf(bash); !ok || len(p.Exits) != 2 || p.Files != nil {
		t.Errorf("completion bash: %v %v", p, ok)
	}
	hidden, _, _ := root.Find([]string{"gen-man"})
	if _, ok := PageOf(hidden); ok {
		t.Error("a hidden command has a page")
	}
	other := &cobra.Command{Use: "other"}
	root.AddCommand(other)
	if _, ok := PageOf(other); ok {
		t.Error("an unknown command has a page")
	}
}

// TestSourceDate: the pages' date is SOURCE_DATE_EPOCH, and nothing else:
// unset, not a number or negative is refused. (Not parallel: it sets the
// environment.)
func TestSourceDate(t *testing.T) {
	for _, c := range []struct {
		env  string
		want string
	}{{"", "SOURCE_DATE_EPOCH is not set"}, {"yesterday", `SOURCE_DATE_EPOCH "yesterday": not a number`}, {"-1", `SOURCE_DATE_EPOCH "-1"`}} {
		t.Setenv("SOURCE_DATE_EPOCH", c.env)
		if _, err := SourceDate(); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: %v", c.env, err)
		}
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1764403200")
	if d, err := SourceDate(); err != nil || !d.Equal(time.Date(2025, 11, 29, 8, 0, 0, 0, time.UTC)) || d.Location() != time.UTC {
		t.Errorf("got %v %v", d, err)
	}
}

// TestCommand: gen-man writes the pages dated SOURCE_DATE_EPOCH, and
// refuses without it. Not parallel: it sets the environment.
func TestCommand(t *testing.T) {
	dir := t.TempDir()
	root := tree()
	c := Command(root, "v9")
	t.Setenv("SOURCE_DATE_EPOCH", "")
	if err := c.RunE(c, []string{dir}); err == nil {
		t.Fatal("gen-man without SOURCE_DATE_EPOCH: no error")
	}
	t.Setenv("SOURCE_DATE_EPOCH", strconv.FormatInt(date.Unix(), 10))
	if err := c.RunE(c, []string{dir}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "ezedge-host.8"))
	if err != nil || !strings.Contains(string(b), `"ezedge-host v9"`) {
		t.Fatalf("ezedge-host.8: %v, %.200q", err, b)
	}
}
