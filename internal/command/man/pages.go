package man

import (
	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/firstboot"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/reboot"
	"github.com/ezansiedgeai/ezedge-host/internal/health/check"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/store/lock"
	"github.com/ezansiedgeai/ezedge-host/internal/store/statedir"
)

// Exit is an exit status and when a command exits with it.
type Exit struct {
	Code command.Code
	When string
}

// File is a path in the root a command reads or writes, and what it is.
type File struct{ Path, What string }

// Page is what a command's page says besides cobra's sections.
type Page struct {
	Exits []Exit
	Files []File
}

var (
	exitsOK    = Exit{command.OK, "success"}
	exitsError = Exit{command.Error, "an error, one line per problem on standard error, prefixed ezedge-host:, naming the file, line or resource; a command that changes the host has changed nothing, or restored what it changed (a failed apply), or left an interrupted apply that rollback restores"}
)

var (
	fileProfile   = File{profile.DefaultPath, "the profile every command that plans reads, with the layers in " + profile.DropInDir + "/*.yaml after it (each --profile FILE is layered after them; --no-profile sets them aside)"}
	fileSnapshots = File{statedir.Dir + "/snapshots/", "the snapshot store: one write-ahead journal per apply, ID.jsonl, every prior value, and large prior contents under blobs/"}
	fileLock      = File{lock.File, "the host lock of every command that changes the host, with its holder's pid and command"}
	filePending   = File{statedir.Dir + "/pending-confirm/", "try applies (apply --confirm-within) waiting for confirmation"}
	fileBaselines = File{statedir.Dir + "/baselines/", "stored baselines, and the measured effects of applies and rollbacks"}
	fileReboot    = File{reboot.FlagPath, "Debian's notice that a reboot is required, written (with ezedge-host in " + reboot.PkgsPath + ") on the running system while a change waits for the next boot, taken away when none does"}
	fileRecord    = File{reboot.RecordPath, "what ezedge-host changed since the running system booted that takes effect at the next boot, with the values it booted with"}
	fileKernel    = File{"/proc, /sys", "the running kernel's values and devices, read, and written by apply and rollback (runtime changes)"}
	fileFirstboot = File{firstboot.Result, "the outcome of the first-boot apply"}
)

// pages are every available command's, by command path.
var pages = map[string]Page{
	"ezedge-host": {[]Exit{exitsOK, exitsError,
		{command.Changes, "plan --detailed-exitcode: changes are pending"},
		{command.Drift, "rollback: incomplete on purpose, resources changed since the apply were left alone (--force restores them)"},
		{command.Warn, "check: warnings, no failure"},
		{command.Fail, "check: at least one check failed"}},
		[]File{fileProfile, fileSnapshots, fileLock, filePending, fileBaselines, fileReboot, fileRecord, fileKernel}},
	"ezedge-host facts": {[]Exit{exitsOK, exitsError}, []File{fileKernel}},
	"ezedge-host plan": {[]Exit{exitsOK, exitsError, {command.Changes, "with --detailed-exitcode: changes are pending (0 then says there are none)"}},
		[]File{fileProfile, fileSnapshots, fileKernel}},
	"ezedge-host apply":     {[]Exit{exitsOK, exitsError}, []File{fileProfile, fileSnapshots, fileLock, filePending, fileBaselines, fileReboot, fileRecord, fileKernel}},
	"ezedge-host rollback":  {[]Exit{exitsOK, exitsError, {command.Drift, "incomplete on purpose: resources changed since the apply were left alone (--force restores them)"}}, []File{fileSnapshots, fileLock, fileBaselines, fileReboot, fileRecord, fileKernel}},
	"ezedge-host confirm":   {[]Exit{exitsOK, exitsError}, []File{filePending, fileLock, fileReboot, fileRecord}},
	"ezedge-host status":    {[]Exit{exitsOK, exitsError}, []File{filePending, fileSnapshots, fileLock, fileRecord}},
	"ezedge-host history":   {[]Exit{exitsOK, exitsError}, []File{fileSnapshots, fileBaselines}},
	"ezedge-host firstboot": {[]Exit{exitsOK, exitsError}, []File{fileProfile, {firstboot.Binary, "the binary an image without the Debian package runs"}, fileFirstboot}},
	"ezedge-host firstboot install": {[]Exit{exitsOK, exitsError}, []File{fileProfile, {firstboot.Binary, "the binary copied into an image without the Debian package"},
		{"/etc/systemd/system/" + firstboot.UnitName, "the unit that applies the profile on the first boot"}, fileSnapshots, fileLock}},
	"ezedge-host firstboot status": {[]Exit{exitsOK, exitsError}, []File{fileFirstboot}},
	"ezedge-host check": {[]Exit{{command.OK, "every check ok (unknown allowed)"}, {command.Error, "the check could not run"}, {command.Warn, "warnings, no failure"}, {command.Fail, "at least one check failed"}},
		[]File{fileProfile, {check.DefaultTextfileDir + "/", "the node exporter's textfile directory (--textfile-dir)"}, fileBaselines, fileReboot, fileRecord, fileKernel}},
	"ezedge-host resources": {[]Exit{exitsOK, exitsError}, []File{fileProfile, fileSnapshots, fileLock}},
	"ezedge-host profile":   {[]Exit{exitsOK, {command.Error, "a layer is not a valid profile: every problem named, one a line"}}, []File{fileProfile}},
	"ezedge-host baseline":  {[]Exit{exitsOK, exitsError}, []File{fileBaselines, fileLock, fileKernel}},
}

// PageOf is c's entry; cobra's completion commands share theirs.
func PageOf(c *cobra.Command) (Page, bool) {
	if p, ok := pages[c.CommandPath()]; ok {
		return p, true
	}
	for x := c; x != nil; x = x.Parent() {
		if x.Name() == "completion" {
			return Page{Exits: []Exit{exitsOK, exitsError}}, true
		}
	}
	return Page{}, false
}
