package main

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

	"github.com/ezansiedgeai/ezedge-host/internal/engine/firstboot"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/reboot"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/store/lock"
	"github.com/ezansiedgeai/ezedge-host/internal/store/statedir"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// The man pages are cobra's (name, synopsis, description, options, the
// command's Example, see also) with what man-pages(7) asks of a command's
// page besides: EXIT STATUS and FILES, from the table below, and the
// example section named EXAMPLES. Their date is the source's, not the
// build's, so that the same commit makes the same pages.

// manExit is an exit status and when a command exits with it.
type manExit struct {
	code int
	when string
}

var (
	exitsOK    = manExit{exitOK, "success"}
	exitsError = manExit{exitError, "an error, one line per problem on standard error, prefixed ezedge-host:, naming the file, line or resource; a command that changes the host has changed nothing, or restored what it changed (a failed apply), or left an interrupted apply that rollback restores"}
)

// manFile is a path in the root a command reads or writes, and what it is.
type manFile struct{ path, what string }

var (
	fileProfile   = manFile{profile.DefaultPath, "the profile every command that plans reads, with the layers in " + profile.DropInDir + "/*.yaml after it (each --profile FILE is layered after them; --no-profile sets them aside)"}
	fileSnapshots = manFile{statedir.Dir + "/snapshots/", "the snapshot store: one write-ahead journal per apply, ID.jsonl, every prior value, and large prior contents under blobs/"}
	fileLock      = manFile{lock.File, "the host lock of every command that changes the host, with its holder's pid and command"}
	filePending   = manFile{statedir.Dir + "/pending-confirm/", "try applies (apply --confirm-within) waiting for confirmation"}
	fileBaselines = manFile{statedir.Dir + "/baselines/", "stored baselines, and the measured effects of applies and rollbacks"}
	fileReboot    = manFile{reboot.FlagPath, "Debian's notice that a reboot is required, written (with ezedge-host in " + reboot.PkgsPath + ") on the running system while a change waits for the next boot, taken away when none does"}
	fileRecord    = manFile{reboot.RecordPath, "what ezedge-host changed since the running system booted that takes effect at the next boot, with the values it booted with"}
	fileKernel    = manFile{"/proc, /sys", "the running kernel's values and devices, read, and written by apply and rollback (runtime changes)"}
	fileFirstboot = manFile{firstboot.Result, "the outcome of the first-boot apply"}
)

// manPage is what a command's page says besides cobra's sections.
type manPage struct {
	exits []manExit
	files []manFile
}

// manPages are every available command's, by command path.
var manPages = map[string]manPage{
	"ezedge-host": {[]manExit{exitsOK, exitsError,
		{exitChanges, "plan --detailed-exitcode: changes are pending"},
		{exitDrift, "rollback: incomplete on purpose, resources changed since the apply were left alone (--force restores them)"},
		{exitWarn, "check: warnings, no failure"},
		{exitFail, "check: at least one check failed"}},
		[]manFile{fileProfile, fileSnapshots, fileLock, filePending, fileBaselines, fileReboot, fileRecord, fileKernel}},
	"ezedge-host facts": {[]manExit{exitsOK, exitsError}, []manFile{fileKernel}},
	"ezedge-host plan": {[]manExit{exitsOK, exitsError, {exitChanges, "with --detailed-exitcode: changes are pending (0 then says there are none)"}},
		[]manFile{fileProfile, fileSnapshots, fileKernel}},
	"ezedge-host apply":     {[]manExit{exitsOK, exitsError}, []manFile{fileProfile, fileSnapshots, fileLock, filePending, fileBaselines, fileReboot, fileRecord, fileKernel}},
	"ezedge-host rollback":  {[]manExit{exitsOK, exitsError, {exitDrift, "incomplete on purpose: resources changed since the apply were left alone (--force restores them)"}}, []manFile{fileSnapshots, fileLock, fileBaselines, fileReboot, fileRecord, fileKernel}},
	"ezedge-host confirm":   {[]manExit{exitsOK, exitsError}, []manFile{filePending, fileLock, fileReboot, fileRecord}},
	"ezedge-host status":    {[]manExit{exitsOK, exitsError}, []manFile{filePending, fileSnapshots, fileLock, fileRecord}},
	"ezedge-host history":   {[]manExit{exitsOK, exitsError}, []manFile{fileSnapshots, fileBaselines}},
	"ezedge-host firstboot": {[]manExit{exitsOK, exitsError}, []manFile{fileProfile, {firstboot.Binary, "the binary an image without the Debian package runs"}, fileFirstboot}},
	"ezedge-host firstboot install": {[]manExit{exitsOK, exitsError}, []manFile{fileProfile, {firstboot.Binary, "the binary copied into an image without the Debian package"},
		{"/etc/systemd/system/" + firstboot.UnitName, "the unit that applies the profile on the first boot"}, fileSnapshots, fileLock}},
	"ezedge-host firstboot status": {[]manExit{exitsOK, exitsError}, []manFile{fileFirstboot}},
	"ezedge-host check": {[]manExit{{exitOK, "every check ok (unknown allowed)"}, {exitError, "the check could not run"}, {exitWarn, "warnings, no failure"}, {exitFail, "at least one check failed"}},
		[]manFile{fileProfile, {DefaultTextfileDir + "/", "the node exporter's textfile directory (--textfile-dir)"}, fileBaselines, fileReboot, fileRecord, fileKernel}},
	"ezedge-host resources": {[]manExit{exitsOK, exitsError}, []manFile{fileProfile, fileSnapshots, fileLock}},
	"ezedge-host profile":   {[]manExit{exitsOK, {exitError, "a layer is not a valid profile: every problem named, one a line"}}, []manFile{fileProfile}},
	"ezedge-host baseline":  {[]manExit{exitsOK, exitsError}, []manFile{fileBaselines, fileLock, fileKernel}},
}

// manPageOf is c's entry; cobra's completion commands share theirs.
func manPageOf(c *cobra.Command) (manPage, bool) {
	if p, ok := manPages[c.CommandPath()]; ok {
		return p, true
	}
	for x := c; x != nil; x = x.Parent() {
		if x.Name() == "completion" {
			return manPage{exits: []manExit{exitsOK, exitsError}}, true
		}
	}
	return manPage{}, false
}

// manCmd writes the man pages (make man, the Debian package).
func manCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:    "gen-man DIR",
		Short:  "Write man pages for every command into DIR, dated SOURCE_DATE_EPOCH",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			date, err := sourceDate()
			if err != nil {
				return err
			}
			return writeMan(root, args[0], date)
		},
	}
}

// sourceDate is SOURCE_DATE_EPOCH (reproducible-builds.org): the time of
// the source, the commit's, which the Debian package build and make man
// set. Without it a page would carry the day it was built: refused.
func sourceDate() (time.Time, error) {
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

// writeMan writes a page (section 8) for every available command under
// root into dir, dated date.
func writeMan(root *cobra.Command, dir string, date time.Time) error {
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
		page, err := manText(c, date)
		if err != nil {
			return err
		}
		name := strings.ReplaceAll(c.CommandPath(), " ", "-") + ".8"
		return os.WriteFile(filepath.Join(dir, name), page, 0o644)
	}
	return walk(root)
}

// manText is c's page: cobra's, with EXIT STATUS and FILES before the
// examples, named EXAMPLES as man-pages(7) names them.
func manText(c *cobra.Command, date time.Time) ([]byte, error) {
	if !c.HasParent() {
		// The tasks as a list a man page lays out (--help has them as
		// a table of text).
		long := c.Long
		defer func() { c.Long = long }()
		var md strings.Builder
		md.WriteString(rootAbout + "\n")
		for _, t := range tasks.All() {
			md.WriteString(fmt.Sprintf("**%s**\n: %s\n\n", t.Name(), t.Summary()))
		}
		c.Long = md.String()
	}
	var b bytes.Buffer
	if err := doc.GenMan(c, &doc.GenManHeader{Title: "EZEDGE-HOST", Section: "8", Date: &date, Source: "ezedge-host " + version}, &b); err != nil {
		return nil, err
	}
	info, ok := manPageOf(c)
	if !ok {
		return nil, fmt.Errorf("%s: no EXIT STATUS or FILES for its man page (cmd/ezedge-host/man.go)", c.CommandPath())
	}
	var md strings.Builder
	md.WriteString("% X 8\n# EXIT STATUS\n")
	for _, e := range info.exits {
		md.WriteString(fmt.Sprintf("**%d**\n: %s\n\n", e.code, e.when))
	}
	if len(info.files) > 0 {
		md.WriteString("# FILES\n")
		for _, f := range info.files {
			md.WriteString(fmt.Sprintf("*%s*\n: %s\n\n", f.path, f.what))
		}
		md.WriteString("Each path is inside the root given with **--root** (default /).\n\n")
	}
	extra := string(md2man.Render([]byte(md.String())))
	extra = extra[strings.Index(extra, ".SH "):]
	page := b.String()
	at := strings.Index(page, "\n.SH EXAMPLE\n")
	if at < 0 {
		return nil, fmt.Errorf("%s: no example for its man page", c.CommandPath())
	}
	page = page[:at+1] + extra + "\n.SH EXAMPLES\n" + page[at+len("\n.SH EXAMPLE\n"):]
	return []byte(page), nil
}
