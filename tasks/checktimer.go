package tasks

import (
	"fmt"
	"regexp"

	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/internal/sandbox"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// CheckTimerOptions are check-timer's profile options.
type CheckTimerOptions struct {
	Profile     string `yaml:"profile" doc:"a profile file the check layers over the host's own (/etc/ezedge-host/profile.yaml, then profile.d/*.yaml), as --profile (absolute path; empty: the host's own alone, as every command)"`
	TextfileDir string `yaml:"textfile_dir" doc:"the node exporter's textfile directory (Debian's by default)"`
}

// The check timer's units: a oneshot service that refreshes the node
// exporter's textfile, and the timer that runs it every minute.
const (
	CheckService = "/etc/systemd/system/ezedge-host-check.service"
	CheckTimer   = "/etc/systemd/system/ezedge-host-check.timer"
)

// unitPath is what may go unquoted into an ExecStart= line: systemd
// splits it on blanks and expands % and $.
var unitPath = regexp.MustCompile(`^/[A-Za-z0-9._/-]*$`)

// CheckTimerDefaults are check-timer's options when the profile sets none.
func CheckTimerDefaults() CheckTimerOptions {
	return CheckTimerOptions{TextfileDir: "/var/lib/prometheus/node-exporter"}
}

func init() {
	resource.Own(CheckService, 64<<10)
	resource.Own(CheckTimer, 64<<10)
	Register(Def[CheckTimerOptions]{
		Name: "check-timer", Order: 200,
		Summary: "a systemd timer running `ezedge-host check --output prometheus` every minute for the node exporter",
		When:    "opt-in (monitoring)",
		Default: func(*Facts) (bool, string) { return false, "opt-in: turn it on in the profile" },
		Options: CheckTimerDefaults(),
		Check: func(o *CheckTimerOptions) []Problem {
			var out []Problem
			if o.Profile != "" && !unitPath.MatchString(o.Profile) {
				out = append(out, Problem{"profile", fmt.Sprintf("%q: want an absolute path of letters, digits, '.', '_', '-' and '/'", o.Profile)})
			}
			if !unitPath.MatchString(o.TextfileDir) {
				out = append(out, Problem{"textfile_dir", fmt.Sprintf("%q: want an absolute path of letters, digits, '.', '_', '-' and '/'", o.TextfileDir)})
			}
			// Both are read or written by the check's sandboxed service.
			for _, f := range []struct{ key, path string }{{"profile", o.Profile}, {"textfile_dir", o.TextfileDir}} {
				if why := sandbox.PrivateToCheck(f.path); f.path != "" && why != "" {
					out = append(out, Problem{f.key, fmt.Sprintf("%q: %s: choose a directory elsewhere", f.path, why)})
				}
			}
			return out
		},
		Plan: func(f *Facts, o *CheckTimerOptions) Intent {
			bin := f.Binary
			if bin == "" { // facts not read from a root (tests)
				bin = platform.LocalBinary
			}
			service, timer := CheckUnitTexts(Header, bin, o.TextfileDir, o.Profile)
			links := map[string]string{"/etc/systemd/system/timers.target.wants/ezedge-host-check.timer": CheckTimer}
			return Intent{Wants: []Want{
				{Resource: resource.File(CheckService), Desired: resource.Content([]byte(service))},
				{Resource: resource.File(CheckTimer), Desired: resource.Content([]byte(timer))},
				{Resource: resource.OwnUnit("ezedge-host-check.timer", links), Edit: func(cur resource.State) resource.State {
					return resource.UnitEnabled(cur, links)
				}},
			}}
		},
	})
}

// CheckUnitTexts are the check service running binary and its timer, each
// after header. The task writes them with the binary the root has
// (facts' Binary: the packaged one first); the Debian package ships them
// disabled under /usr/lib/systemd/system with its defaults. The check
// reads the host's own profile (platform.ProfileFile, then its profile.d)
// as every command does, so --profile is given only for a file layered
// over it. --textfile-dir is always given: without it check prints the
// metrics to standard output (the journal) and writes no textfile. The
// service runs sandboxed: read-only but for textfileDir (sandbox.Check).
func CheckUnitTexts(header, binary, textfileDir, profile string) (service, timer string) {
	args := " check --output prometheus --textfile-dir " + textfileDir
	if profile != "" && profile != platform.ProfileFile {
		args += " --profile " + profile
	}
	service = header + `[Unit]
Description=ezedge-host check: refresh the node exporter's textfile
` + platform.ManDocumentation(binary, "ezedge-host-check") + `ConditionPathIsDirectory=` + textfileDir + `

[Service]
Type=oneshot
ExecStart=` + binary + args + `
# 4: warnings, 5: failures; the metrics say which.
SuccessExitStatus=4 5
Nice=10
IOSchedulingClass=idle
` + sandbox.Check(textfileDir)
	timer = header + `[Unit]
Description=Refresh ezedge-host check's metrics every minute

[Timer]
OnBootSec=1min
OnUnitActiveSec=1min
AccuracySec=5s

[Install]
WantedBy=timers.target
`
	return service, timer
}
