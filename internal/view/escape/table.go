package escape

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Table lays text out in columns with text/tabwriter, so that a long cell
// (a task name, a path, a device) widens its column rather than pushing
// its row out of line. A row is formatted as Fprintf formats, its cells
// separated by tabs in the format: the arguments are data shown as Text,
// which never holds a tab or a newline, so a value cannot make or end a
// cell. Lines written Under a row stay under it, in no column.
type Table struct {
	// Indent goes before every row; Gap is the spaces between columns
	// (0: two).
	Indent string
	Gap    int
	rows   []tableRow
}

type tableRow struct {
	cells string
	under []string
}

// Row adds a row: format with a tab between cells, args shown as Text.
func (t *Table) Row(format string, args ...any) {
	var b strings.Builder
	Fprintf(&b, format, args...)
	t.rows = append(t.rows, tableRow{cells: b.String()})
}

// Under adds a line (format and args as Fprintf, without the newline)
// under the last row, outside the columns.
func (t *Table) Under(format string, args ...any) {
	t.Below(func(w io.Writer) {
		Fprintf(w, format, args...)
		io.WriteString(w, "\n")
	})
}

// Below adds under the last row, outside the columns, the lines write
// writes (through this package, as any text output: a diff, a file).
func (t *Table) Below(write func(w io.Writer)) {
	var b strings.Builder
	write(&b)
	if b.Len() == 0 {
		return
	}
	if len(t.rows) == 0 {
		t.rows = append(t.rows, tableRow{})
	}
	last := &t.rows[len(t.rows)-1]
	last.under = append(last.under, strings.TrimSuffix(b.String(), "\n"))
}

// Len is the number of rows.
func (t *Table) Len() int { return len(t.rows) }

// Write writes the table to w in one write.
func (t *Table) Write(w io.Writer) error {
	gap := t.Gap
	if gap == 0 {
		gap = 2
	}
	var cells bytes.Buffer
	tw := tabwriter.NewWriter(&cells, 0, 0, gap, ' ', 0)
	for _, r := range t.rows {
		fmt.Fprintf(tw, "%s\n", r.cells)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	lines := strings.Split(cells.String(), "\n")
	var out strings.Builder
	for i, r := range t.rows {
		if r.cells != "" || len(r.under) == 0 {
			out.WriteString(t.Indent)
			out.WriteString(lines[i])
			out.WriteByte('\n')
		}
		for _, u := range r.under {
			out.WriteString(u)
			out.WriteByte('\n')
		}
	}
	_, err := io.WriteString(w, out.String())
	return err
}
