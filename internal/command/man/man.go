// Package man writes the man pages of a cobra command tree: cobra's
// (name, synopsis, description, options, the command's Example, see also)
// with what man-pages(7) asks of a command's page besides: EXIT STATUS and
// FILES, from each command's entry in help, and the example section named
// EXAMPLES. Their date is the source's, not the build's, so that the same
// commit makes the same pages.
package man

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/ezansiedgeai/ezedge-host/internal/command/help"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// SourceDate is SOURCE_DATE_EPOCH (reproducible-builds.org): the time of
// the source, the commit's, which the Debian package build and make man
// set. Without it a page would carry the day it was built: refused.
func SourceDate() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH is not set: give the commit's time (git log -1 --format=%%ct), so that the pages are dated by their source")
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: not a number of seconds since 1970", s)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// Write writes a page (section 8) for every available command under root
// into dir, dated date, of the program's version.
func Write(root *cobra.Command, dir string, date time.Time, version string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root.DisableAutoGenTag = true
	var walk func(c *cobra.Command) error
	walk = func(c *cobra.Command) error {
		for _, s := range c.Commands() {
			if s.IsAvailableCommand() && !s.IsAdditionalHelpTopicCommand() {
				if err := walk(s); err != nil {
					return err
				}
			}
		}
		page, err := Text(c, date, version)
		if err != nil {
			return err
		}
		name := strings.ReplaceAll(c.CommandPath(), " ", "-") + ".8"
		return os.WriteFile(filepath.Join(dir, name), page, 0o644)
	}
	return walk(root)
}

// Text is c's page: cobra's, with EXIT STATUS and FILES before the
// examples, named EXAMPLES as man-pages(7) names them. The root's lists
// the tasks as a man page lays out a list (--help has them as a table of
// text).
func Text(c *cobra.Command, date time.Time, version string) ([]byte, error) {
	if !c.HasParent() {
		long := c.Long
		defer func() { c.Long = long }()
		var md strings.Builder
		md.WriteString(help.RootAbout + "\n")
		for _, t := range tasks.All() {
			md.WriteString(fmt.Sprintf("**%s**\n: %s\n\n", t.Name(), t.Summary()))
		}
		c.Long = md.String()
	}
	var b bytes.Buffer
	if err := doc.GenMan(c, &doc.GenManHeader{Title: "EZEDGE-HOST", Section: "8", Date: &date, Source: "ezedge-host " + version}, &b); err != nil {
		return nil, err
	}
	info, ok := PageOf(c)
	if !ok {
		return nil, fmt.Errorf("%s: no EXIT STATUS or FILES for its man page (internal/command/help)", c.CommandPath())
	}
	page := b.String()
	at := strings.Index(page, "\n.SH EXAMPLE\n")
	if at < 0 {
		return nil, fmt.Errorf("%s: no example for its man page", c.CommandPath())
	}
	page = page[:at+1] + sections(info) + "\n.SH EXAMPLES\n" + page[at+len("\n.SH EXAMPLE\n"):]
	return []byte(page), nil
}

// PageOf is c's entry in help when it has a man page (its EXIT STATUS).
func PageOf(c *cobra.Command) (help.Command, bool) {
	e, ok := help.Of(c)
	return e, ok && len(e.Exits) > 0
}

// sections are p's EXIT STATUS and FILES in roff.
func sections(p help.Command) string {
	var md strings.Builder
	md.WriteString("% X 8\n# EXIT STATUS\n")
	for _, e := range p.Exits {
		md.WriteString(fmt.Sprintf("**%d**\n: %s\n\n", int(e.Code), e.When))
	}
	if len(p.Files) > 0 {
		md.WriteString("# FILES\n")
		for _, f := range p.Files {
			md.WriteString(fmt.Sprintf("*%s*\n: %s\n\n", f.Path, f.What))
		}
		md.WriteString("Each path is inside the root given with **--root** (default /).\n\n")
	}
	extra := string(md2man.Render([]byte(md.String())))
	return extra[strings.Index(extra, ".SH "):]
}

// Command is the hidden `gen-man DIR` that writes root's man pages (make
// man, the Debian package), dated SOURCE_DATE_EPOCH (SourceDate).
func Command(root *cobra.Command, version string) *cobra.Command {
	return &cobra.Command{Use: "gen-man DIR", Hidden: true, Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			date, err := SourceDate()
			if err != nil {
				return err
			}
			return Write(root, args[0], date, version)
		},
	}
}
