package escape

import (
	"io"
	"strings"
	"testing"
)

// TestTable: columns as wide as their longest cell, whatever its length;
// lines under a row stay under it; a value cannot make or end a cell (a
// tab or newline in it is shown escaped), nor pass a control character.
func TestTable(t *testing.T) {
	t.Parallel()
	tb := Table{Indent: "  "}
	tb.Row("TASK\tSTATUS\tWHY")
	tb.Row("%s\t%s\t%d", "swappiness", "ok", 1)
	tb.Under("    a note: %s", "x\ty")
	tb.Row("%s\t%s\t%d", "a-task-name-longer-than-any-fixed-width-column", "warn", 22)
	tb.Row("%s\t%s\t%s", "evil\tcell\n", "\x1b[2J", "last")
	tb.Below(func(w io.Writer) { Fprintf(w, "    one\n    two %s\n", "\r") })
	var b strings.Builder
	if err := tb.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := `  TASK                                            STATUS     WHY
  swappiness                                      ok         1
    a note: "x\ty"
  a-task-name-longer-than-any-fixed-width-column  warn       22
  "evil\tcell\n"                                  "\x1b[2J"  last
    one
    two "\r"
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if err := CheckText([]byte(b.String())); err != nil {
		t.Error(err)
	}
	if tb.Len() != 4 {
		t.Errorf("%d rows", tb.Len())
	}
}
