// Package help is what each command of ezedge-host says of itself, by
// its command path: the summary, description and examples that --help,
// the man pages and shell completion show, and the exit statuses and
// files in the root that its man page lists. One table, so that a
// command's words, exits and files are read and changed together;
// Describe gives a cobra tree its text, man/ writes the pages.
package help

import (
	"slices"

	"github.com/spf13/cobra"

	"github.com/ezansiedgeai/ezedge-host/internal/command"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/firstboot"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/reboot"
	"github.com/ezansiedgeai/ezedge-host/internal/health/check"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/internal/store/lock"
	"github.com/ezansiedgeai/ezedge-host/internal/store/statedir"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// Command is what a command says of itself.
type Command struct {
	// Short, Long and Example are cobra's (empty: the command's own, as
	// cobra's completion commands have).
	Short, Long, Example string
	// Exits and Files are its man page's EXIT STATUS and FILES (none: it
	// has no page, being hidden).
	Exits []Exit
	Files []File
}

// Exit is an exit status and when a command exits with it.
type Exit struct {
	Code command.Code
	When string
}

// File is a path in the root a command reads or writes, and what it is.
type File struct{ Path, What string }

// RootAbout opens the root command's description; the tasks follow (a
// table of text in --help, a list in the man page).
const RootAbout = "Plan, apply and roll back performance tuning of an edge host.\n\n" +
	"Tasks (each on or off by platform; a profile turns them on or off and sets their options):\n"

// Of is c's entry.
func Of(c *cobra.Command) (Command, bool) {
	e, ok := commands[c.CommandPath()]
	return e, ok
}

// Paths are the command paths described, sorted.
func Paths() []string {
	var out []string
	for p := range commands {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Describe gives every command under root that has an entry its text.
func Describe(root *cobra.Command) {
	if e, ok := Of(root); ok {
		set(&root.Short, e.Short)
		set(&root.Long, e.Long)
		set(&root.Example, e.Example)
	}
	for _, c := range root.Commands() {
		Describe(c)
	}
}

func set(field *string, s string) {
	if s != "" {
		*field = s
	}
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

// commands are every command's entry, by command path.
var commands = map[string]Command{
	"ezedge-host": {
		Short: "Plan, apply and roll back performance tuning of an edge host",
		Long:  RootAbout + tasks.HelpList(),
		Example: `  ezedge-host plan --diff                 # what would change, and why
  sudo ezedge-host apply                  # the same plan, asked, then applied
  sudo ezedge-host rollback --yes         # back to what was there, byte for byte
  ezedge-host plan --root /mnt/img --platform rpi5   # an image`,
		Exits: []Exit{exitsOK, exitsError,
			{command.Changes, "plan --detailed-exitcode: changes are pending"},
			{command.Drift, "rollback: incomplete on purpose, resources changed since the apply were left alone (--force restores them)"},
			{command.Warn, "check: warnings, no failure"},
			{command.Fail, "check: at least one check failed"}},
		Files: []File{fileProfile, fileSnapshots, fileLock, filePending, fileBaselines, fileReboot, fileRecord, fileKernel},
	},
	"ezedge-host facts": {
		Short: "Show what platform this host is, and why",
		Example: `  ezedge-host facts
  ezedge-host facts --root /mnt/img --output json`,
		Exits: []Exit{exitsOK, exitsError},
		Files: []File{fileKernel},
	},
	"ezedge-host plan": {
		Short: "Show what apply would change; changes nothing",
		Example: `  ezedge-host plan --diff                       # every file's diff too
  ezedge-host plan --only swappiness --only zswap
  ezedge-host plan --out tuning.plan            # then: sudo ezedge-host apply tuning.plan
  ezedge-host plan --detailed-exitcode -o json  # exit 2 when changes are pending`,
		Exits: []Exit{exitsOK, exitsError, {command.Changes, "with --detailed-exitcode: changes are pending (0 then says there are none)"}},
		Files: []File{fileProfile, fileSnapshots, fileKernel},
	},
	"ezedge-host apply": {
		Short: "Make the planned changes (or exactly those of a saved plan), snapshotting every prior value first",
		Example: `  sudo ezedge-host apply                          # shows the plan, asks
  sudo ezedge-host apply --yes --only swappiness  # one task's changes
  sudo ezedge-host apply tuning.plan              # exactly a saved plan (plan --out)
  sudo ezedge-host apply --yes --confirm-within 2m  # over SSH: undone unless confirmed
  sudo ezedge-host apply --yes --only zswap --measure --budget 30s`,
		Exits: []Exit{exitsOK, exitsError},
		Files: []File{fileProfile, fileSnapshots, fileLock, filePending, fileBaselines, fileReboot, fileRecord, fileKernel},
	},
	"ezedge-host rollback": {
		Short: "Restore the prior state of the most recent apply (or back to --to ID)",
		Example: `  sudo ezedge-host rollback                        # the latest apply, asked
  sudo ezedge-host rollback --yes --to 20261129T080000Z
  sudo ezedge-host rollback --yes --force          # what others changed since, too`,
		Exits: []Exit{exitsOK, exitsError, {command.Drift, "incomplete on purpose: resources changed since the apply were left alone (--force restores them)"}},
		Files: []File{fileSnapshots, fileLock, fileBaselines, fileReboot, fileRecord, fileKernel},
	},
	"ezedge-host history": {
		Short: "List applies: id, time, platform, changes, status",
		Example: `  ezedge-host history
  ezedge-host history --output json`,
		Exits: []Exit{exitsOK, exitsError},
		Files: []File{fileSnapshots, fileBaselines},
	},
	"ezedge-host confirm": {
		Short: "Keep a try apply (apply --confirm-within) before it is rolled back",
		Example: `  sudo ezedge-host confirm                     # every apply waiting
  sudo ezedge-host confirm 20261129T080000Z`,
		Exits: []Exit{exitsOK, exitsError},
		Files: []File{filePending, fileLock, fileReboot, fileRecord},
	},
	"ezedge-host status": {
		Short: "Applies waiting for confirmation, interrupted or in progress ones, and the latest",
		Example: `  ezedge-host status
  ezedge-host status --output json`,
		Exits: []Exit{exitsOK, exitsError},
		Files: []File{filePending, fileSnapshots, fileLock, fileRecord},
	},
	"ezedge-host firstboot": {
		Short: "Provision an image on its first boot",
		Example: `  sudo ezedge-host firstboot install --root /mnt/img --profile site.yaml
  ezedge-host firstboot status`,
		Exits: []Exit{exitsOK, exitsError},
		Files: []File{fileProfile, {firstboot.Binary, "the binary an image without the Debian package runs"}, fileFirstboot},
	},
	"ezedge-host firstboot install": {
		Short: "Make the image at --root apply its profile once, on its first boot",
		Example: `  sudo ezedge-host firstboot install --root /mnt/img --profile site.yaml
  sudo ezedge-host firstboot install --root /mnt/img --platform rpi5 --binary ./ezedge-host-arm64`,
		Exits: []Exit{exitsOK, exitsError},
		Files: []File{fileProfile, {firstboot.Binary, "the binary copied into an image without the Debian package"},
			{"/etc/systemd/system/" + firstboot.UnitName, "the unit that applies the profile on the first boot"}, fileSnapshots, fileLock},
	},
	"ezedge-host firstboot status": {
		Short: "Whether first-boot provisioning ran, and what it changed",
		Example: `  ezedge-host firstboot status
  ezedge-host firstboot status --root /mnt/img --output json`,
		Exits: []Exit{exitsOK, exitsError},
		Files: []File{fileFirstboot},
	},
	"ezedge-host check": {
		Short: "Check the host against the guide's checklists (power, temperature, storage, swap, limits, tuning, monitoring)",
		Long: "Check the host against the performance guide's checklists: each check ok, warn, fail or unknown, with\n" +
			"the value seen, the file it was read from and what fixes it. Changes nothing on the host; with\n" +
			"--output prometheus and --textfile-dir it writes the node exporter's textfile (" + check.TextfileName + ") there.\n\n" +
			"Exit status: 0 all ok (unknown allowed), 4 warnings, 5 failures, 1 the check could not run.",
		Example: `  ezedge-host check
  sudo ezedge-host check --firmware --measure
  ezedge-host check --output junit > check.xml`,
		Exits: []Exit{{command.OK, "every check ok (unknown allowed)"}, {command.Error, "the check could not run"}, {command.Warn, "warnings, no failure"}, {command.Fail, "at least one check failed"}},
		Files: []File{fileProfile, {check.DefaultTextfileDir + "/", "the node exporter's textfile directory (--textfile-dir)"}, fileBaselines, fileReboot, fileRecord, fileKernel},
	},
	"ezedge-host resources": {
		Short: "Size each AI container's memory, CPUs and environment for this host from the guide's tables",
		Long: "Size the containers of a mix of workloads (--workload llm|stt|vision|general, repeatable, each\n" +
			"WORKLOAD or WORKLOAD=NAME) for this host from the guide's tables: memory limit and reservation,\n" +
			"CPUs and environment, with the row or rule behind each figure. The limits share a budget: RAM\n" +
			"less what the profile's tasks keep (huge pages, a tmpfs /tmp, a volatile journal) less 10 % for\n" +
			"the OS. A mix over it is scaled down by one factor, with a warning, and refused (with the sums)\n" +
			"only where a container would keep less than the profile's floor_percent (50 %) of its figure;\n" +
			"--strict refuses any mix over it. Shown as `podman run` flags, a\n" +
			"podman-compose override and Quadlet drop-ins (--form narrows).\n\n" +
			"--write NAME writes NAME's Quadlet drop-in (--form compose: the Compose override) the way apply\n" +
			"writes: planned with a diff, confirmed, snapshotted, undone by rollback. The container-resources\n" +
			"task does the same from a profile.",
		Example: `  ezedge-host resources --workload llm --workload stt=whisper
  ezedge-host resources --workload vision --form compose
  ezedge-host resources --root /mnt/img --ram 8g --workload general
  sudo ezedge-host resources --workload llm=ollama --write ollama --yes`,
		Exits: []Exit{exitsOK, exitsError},
		Files: []File{fileProfile, fileSnapshots, fileLock},
	},
	"ezedge-host profile": {
		Short: "Show the profile every command plans with: its layers merged, each key with the file and line that set it",
		Long: "Show the profile plan, apply, check and the first boot plan with on --root: " + profile.DefaultPath + ",\n" +
			"then " + profile.DropInDir + "/*.yaml in lexical order, then each --profile FILE, a later layer\n" +
			"overriding an earlier one key by key. It is printed as one profile file, each key with a comment\n" +
			"naming the file and line that set it (--output json: the layers and settings). Changes nothing;\n" +
			"exits 1 when a layer is not a valid profile, naming every problem.",
		Example: `  ezedge-host profile                                   # the root's profile and profile.d, merged
  ezedge-host profile --profile site.yaml --profile pi5.yaml
  ezedge-host profile --root /mnt/image --output json   # an image's, with each key's provenance`,
		Exits: []Exit{exitsOK, {command.Error, "a layer is not a valid profile: every problem named, one a line"}},
		Files: []File{fileProfile},
	},
	"ezedge-host baseline": {
		Short: "Measure the running host (disks, sync writes, memory, CPU, capability URLs) and keep the figures beside the snapshots",
		Long: "Measure the running host within a time budget: sequential reads of the root and data disks\n" +
			"(O_DIRECT, read-only), 4 KiB write + fdatasync latency on the data filesystem, memory copy\n" +
			"bandwidth, single-core and all-core CPU throughput with the clock seen meanwhile, and each --http\n" +
			"URL alone and at 10 concurrent requests against the guide's expected range. Each figure is the\n" +
			"median of several runs, with its spread. The baseline is stored in /var/lib/ezedge-host/baselines\n" +
			"and compared with the previous one; --list shows them all. Needs the live host (--root /).",
		Example: `  sudo ezedge-host baseline
  sudo ezedge-host baseline --budget 2m --http complex=http://127.0.0.1:11434/api/tags
  ezedge-host baseline --list`,
		Exits: []Exit{exitsOK, exitsError},
		Files: []File{fileBaselines, fileLock, fileKernel},
	},
	"ezedge-host firstboot run": {
		Short: "What the first-boot unit runs: apply the image's profile, record the outcome",
	},
	"ezedge-host gen-man": {
		Short: "Write man pages for every command into DIR, dated SOURCE_DATE_EPOCH",
	},
	"ezedge-host gen-units": {
		Short: "Write the units the Debian package ships into DIR",
	},
	"ezedge-host completion": {
		Example: `  ezedge-host completion bash > /etc/bash_completion.d/ezedge-host
  source <(ezedge-host completion zsh)`,
		Exits: []Exit{exitsOK, exitsError},
	},
	"ezedge-host completion bash":       {Example: `  ezedge-host completion bash > /etc/bash_completion.d/ezedge-host`, Exits: []Exit{exitsOK, exitsError}},
	"ezedge-host completion zsh":        {Example: `  ezedge-host completion zsh > "${fpath[1]}/_ezedge-host"`, Exits: []Exit{exitsOK, exitsError}},
	"ezedge-host completion fish":       {Example: `  ezedge-host completion fish > ~/.config/fish/completions/ezedge-host.fish`, Exits: []Exit{exitsOK, exitsError}},
	"ezedge-host completion powershell": {Example: `  ezedge-host completion powershell | Out-String | Invoke-Expression`, Exits: []Exit{exitsOK, exitsError}},
}
