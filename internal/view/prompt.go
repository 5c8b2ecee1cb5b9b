package view

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/ezansiedgeai/ezedge-host/internal/view/escape"
)

// Confirm asks whether to do what, on a terminal (in), and takes only
// "yes"; without a terminal it needs yes (--yes) already given.
func Confirm(in io.Reader, out io.Writer, yes bool, what string) error {
	if yes {
		return nil
	}
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return fmt.Errorf("%s needs --yes when not run on a terminal", what)
	}
	escape.Fprintf(out, "\nDo you want to %s? Only 'yes' will be accepted: ", what)
	if fl, ok := out.(interface{ Flush() error }); ok {
		fl.Flush()
	}
	ans, _ := bufio.NewReader(f).ReadString('\n')
	if strings.TrimSpace(ans) != "yes" {
		return fmt.Errorf("cancelled at the prompt; nothing was changed")
	}
	return nil
}

// Format is an output format.
type Format string

const (
	Text       Format = "text"
	JSON       Format = "json"
	JUnit      Format = "junit"
	Prometheus Format = "prometheus"
)

// ParseFormat is --output s, checked against what a command shows beyond
// text and JSON.
func ParseFormat(s string, more ...Format) (Format, error) {
	all := append([]Format{Text, JSON}, more...)
	for _, f := range all {
		if string(f) == s {
			return f, nil
		}
	}
	var names []string
	for _, f := range all {
		names = append(names, string(f))
	}
	return "", fmt.Errorf("--output %q: want %s", s, strings.Join(names, ", "))
}

// Show writes v as JSON, or text for a person.
func Show(w io.Writer, f Format, v any, text func()) error {
	if f == JSON {
		return WriteJSON(w, v)
	}
	text()
	return nil
}
