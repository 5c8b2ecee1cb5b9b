// Package command is what the command line does below its command tree: the
// exit statuses and the errors that carry them, standard output passed
// on a line at a time, an error shown one line per problem, and the flag
// groups several commands share (so that a flag means the same
// everywhere). cmd/ezedge-host builds the cobra tree on it; man/ and
// complete/ document and complete that tree.
package command

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
)

// Code is an exit status (Terraform's contract for plan
// --detailed-exitcode, and ours for a rollback that left drifted
// resources alone and for check). As an error it carries a non-error
// exit status out of a command.
type Code int

// The exit statuses.
const (
	OK      Code = 0
	Error   Code = 1
	Changes Code = 2
	Drift   Code = 3
	// check: the host passed with warnings, or failed a check.
	Warn Code = 4
	Fail Code = 5
)

func (c Code) Error() string { return fmt.Sprintf("exit %d", int(c)) }

// LineWriter passes whole lines on as they are written, each write that
// ends one or more lines in one write(2), and keeps a line in progress
// until it ends (or until Flush: a prompt, the exit). A line longer than
// LineMax is passed on in pieces rather than held. Output is streamed as
// it is produced: what a command has said is on the terminal (or in the
// pipe) while it goes on measuring or applying, not when it exits.
type LineWriter struct {
	w   io.Writer
	buf []byte
}

// LineMax is the longest line a LineWriter holds.
const LineMax = 64 << 10

// NewLineWriter passes lines on to w.
func NewLineWriter(w io.Writer) *LineWriter { return &LineWriter{w: w} }

func (l *LineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	end := bytes.LastIndexByte(l.buf, '\n') + 1
	if end == 0 && len(l.buf) < LineMax {
		return len(p), nil
	}
	if end == 0 {
		end = len(l.buf)
	}
	_, err := l.w.Write(l.buf[:end])
	l.buf = append(l.buf[:0], l.buf[end:]...)
	return len(p), err
}

// Flush passes on what is held.
func (l *LineWriter) Flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	_, err := l.w.Write(l.buf)
	l.buf = l.buf[:0]
	return err
}

// ShowError prints an error one line per problem, each prefixed. An error
// names files and values from the root: each line is shown as
// escape.Text.
func ShowError(w io.Writer, err error) {
	for l := range strings.Lines(strings.TrimSpace(err.Error())) {
		escape.Fprintf(w, "ezedge-host: %s\n", strings.TrimSuffix(l, "\n"))
	}
}
