// Package tryapply is "apply --confirm-within": an apply that is rolled
// back automatically unless `ezedge-host confirm` runs in time.
//
// A pending confirmation is a file in the state directory
// (pending-confirm/<id>), so a confirmation from any session counts. What
// reverts it must outlive the SSH session that started it: on a live
// systemd host a transient timer (systemd-run) and, for a reboot before
// the deadline, a boot unit that reverts or re-arms; elsewhere a detached
// process. Should all of them die, every command that changes the host
// reverts an overdue apply first, and status and plan say so.
//
// Nothing executed takes its program or arguments from these files: the
// timer's name is made from the apply id (checked to be one), and the
// only commands run are systemd's own, on the running system only.
package tryapply

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
	"github.com/ezansiedgeai/ezedge-host/internal/sandbox"
	"github.com/ezansiedgeai/ezedge-host/internal/store/statedir"
	"github.com/ezansiedgeai/ezedge-host/rollback"
)

const sub = "pending-confirm"

var dir = statedir.Path(sub)

// BootUnit re-arms or carries out pending reverts after a reboot (the
// transient timer does not survive one). It exists only while an apply
// waits for confirmation.
const (
	BootUnitName = "ezedge-host-revert-pending.service"
	BootUnit     = "/etc/systemd/system/" + BootUnitName
	bootUnitLink = "/etc/systemd/system/multi-user.target.wants/" + BootUnitName
)

func init() { resource.Own(BootUnit, hostroot.MaxRead) }

// How says what reverts a pending apply.
type How string

const (
	ByTimer   How = "timer"
	ByProcess How = "process"
)

// Pending is an apply waiting for confirmation.
type Pending struct {
	ID       string    `json:"id"`
	Deadline time.Time `json:"deadline"`
	How      How       `json:"how"`
	// PID of the reverting process (ByProcess).
	PID int `json:"pid,omitempty"`
}

// RevertBy says, for a person, what reverts it.
func (p Pending) RevertBy() string {
	if p.How == ByTimer {
		return "systemd timer " + TimerUnit(p.ID)
	}
	if p.PID > 0 {
		return fmt.Sprintf("process %d", p.PID)
	}
	return "the next ezedge-host command that changes the host"
}

// Overdue reports whether the deadline has passed.
func (p Pending) Overdue(now time.Time) bool { return !now.Before(p.Deadline) }

// TimerUnit is the transient timer that reverts apply id.
func TimerUnit(id string) string { return "ezedge-host-revert-" + strings.ToLower(id) + ".timer" }

// record is a pending file's contents.
type record struct {
	Deadline time.Time `json:"deadline"`
	How      How       `json:"how"`
	PID      int       `json:"pid,omitempty"`
}

// List reads the applies waiting for confirmation. A pending file that
// cannot be read still means the apply was never confirmed: it is listed
// as overdue, so it is reverted rather than kept on a guess.
func List(h *hostroot.Root) ([]Pending, error) {
	if _, err := statedir.Check(h, sub); err != nil {
		return nil, err
	}
	ents, err := h.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Pending
	for _, e := range ents {
		id := e.Name()
		if strings.HasPrefix(id, ".") {
			continue
		}
		if !rollback.ValidID(id) {
			continue
		}
		p := Pending{ID: id}
		if b, err := h.ReadPrivate(dir+"/"+id, 4096); err == nil {
			var r record
			dec := json.NewDecoder(strings.NewReader(string(b)))
			dec.DisallowUnknownFields()
			if dec.Decode(&r) == nil && (r.How == ByTimer || r.How == ByProcess) {
				p.Deadline, p.How, p.PID = r.Deadline, r.How, r.PID
			}
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Pending) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// IsPending reports whether apply id still waits for confirmation.
func IsPending(h *hostroot.Root, id string) bool {
	_, err := h.Lstat(dir + "/" + id)
	return err == nil
}

func write(h *hostroot.Root, p Pending) error {
	b, _ := json.Marshal(record{Deadline: p.Deadline, How: p.How, PID: p.PID})
	return h.WriteAtomic(dir+"/"+p.ID, append(b, '\n'), 0o600, os.Geteuid(), os.Getegid())
}

// liveSystemd reports whether h is the running system under systemd.
func liveSystemd(h *hostroot.Root) bool {
	return h.IsSystemRoot() && h.Exists("/run/systemd/system")
}

// Schedule records that apply id must be confirmed within d and starts
// what reverts it otherwise. self is this binary. On an error the caller
// rolls the apply back: a try apply without a revert is not safe.
func Schedule(h *hostroot.Root, id string, d time.Duration, self string, now time.Time) (Pending, error) {
	if err := statedir.Ensure(h, sub); err != nil {
		return Pending{}, err
	}
	// Whole seconds (the revert process takes an RFC 3339 time), rounded
	// up: a revert never comes before the time the operator was given.
	dl := now.Add(d).UTC()
	if t := dl.Truncate(time.Second); !t.Equal(dl) {
		dl = t.Add(time.Second)
	}
	p := Pending{ID: id, Deadline: dl}
	if liveSystemd(h) {
		p.How = ByTimer
		if err := write(h, p); err != nil {
			return p, err
		}
		if err := installBootUnit(h, self); err != nil {
			return p, err
		}
		return p, startTimer(id, d, self)
	}
	p.How = ByProcess
	// The pending file exists before the process that reads it.
	if err := write(h, p); err != nil {
		return p, err
	}
	pid, err := spawn(self, h.Dir(), id, p.Deadline)
	if err != nil {
		return p, err
	}
	p.PID = pid
	return p, write(h, p)
}

func startTimer(id string, d time.Duration, self string) error {
	secs := max(int((d+time.Second-1)/time.Second), 1)
	args := []string{"--unit", strings.TrimSuffix(TimerUnit(id), ".timer"), fmt.Sprintf("--on-active=%ds", secs), "--timer-property=AccuracySec=1s", "--collect",
		self, "revert-if-unconfirmed", "--root", "/", id}
	if out, err := exec.Command("systemd-run", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("systemd-run: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// spawn starts this binary, detached in its own session, to revert apply
// id at the deadline unless it is confirmed by then.
func spawn(self, root, id string, at time.Time) (int, error) {
	cmd := exec.Command(self, "revert-if-unconfirmed", "--root", root, "--at", at.Format(time.RFC3339), id)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	pid := cmd.Process.Pid
	return pid, cmd.Process.Release()
}

// BootUnitText is the boot unit running binary, after header. The Debian
// package ships it (disabled) under /usr/lib/systemd/system; an apply
// waiting for confirmation writes and enables its own in /etc, which
// takes precedence, and removes it once none waits. It restores what
// the apply changed, so its sandbox is the one of units that change the
// host (sandbox.HostChanging).
func BootUnitText(header, binary string) string {
	return header + `[Unit]
Description=ezedge-host: revert try applies not confirmed in time
ConditionDirectoryNotEmpty=` + dir + `
After=local-fs.target dbus.service

[Service]
Type=oneshot
ExecStart=` + binary + ` revert-pending
` + sandbox.HostChanging + `

[Install]
WantedBy=multi-user.target
`
}

// safeExec: the boot unit's ExecStart= takes the binary's path unquoted.
var safeExec = regexp.MustCompile(`^/[A-Za-z0-9._/+-]+$`)

func installBootUnit(h *hostroot.Root, self string) error {
	if !safeExec.MatchString(self) {
		return fmt.Errorf("this binary's path %q cannot be named in a unit file", self)
	}
	unit := BootUnitText("# Written by ezedge-host while an apply waits for confirmation; removed once\n# none does. After a reboot it reverts what is overdue and re-arms the rest.\n", self)
	if err := resource.File(BootUnit).Write(h, resource.Content([]byte(unit))); err != nil {
		return err
	}
	// Already enabled (by us, or the packaged unit by the operator or a
	// preset): systemd finds a wants link's unit by its name, and ours in
	// /etc comes before the package's, so the link stays as it is.
	if t, err := h.Readlink(bootUnitLink); err == nil && path.Base(t) == BootUnitName {
		return nil
	}
	if !h.Exists("/etc/systemd/system/multi-user.target.wants") {
		if err := h.Mkdir("/etc/systemd/system/multi-user.target.wants", 0o755); err != nil {
			return err
		}
	}
	return h.Symlink(BootUnit, bootUnitLink)
}

// Done drops the pending record of apply id (confirmed or reverted); with
// none left, the boot unit goes too.
func Done(h *hostroot.Root, id string) error {
	if err := h.Remove(dir + "/" + id); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	left, err := List(h)
	if err != nil || len(left) > 0 {
		return err
	}
	// The link goes only when it is the one this package makes: a link to
	// the packaged unit was made by someone else and is theirs to keep.
	if t, err := h.Readlink(bootUnitLink); err == nil && t == BootUnit {
		if err := h.Remove(bootUnitLink); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := h.Remove(BootUnit); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Confirm keeps apply id (or every pending one, for ""); it returns the
// ones it confirmed. Call it under the host lock, after RevertOverdue.
func Confirm(h *hostroot.Root, id string) ([]string, error) {
	ps, err := List(h)
	if err != nil {
		return nil, err
	}
	var done []string
	for _, p := range ps {
		if id != "" && p.ID != id {
			continue
		}
		if err := Done(h, p.ID); err != nil {
			return done, err
		}
		done = append(done, p.ID)
		if p.How == ByTimer && liveSystemd(h) {
			// The revert would find nothing to do; stop it anyway so
			// systemctl list-timers does not show it.
			exec.Command("systemctl", "stop", TimerUnit(p.ID)).Run()
		}
	}
	if id != "" && len(done) == 0 {
		return nil, fmt.Errorf("apply %s is not waiting for confirmation", id)
	}
	return done, nil
}

// Reverted is what reverting one unconfirmed apply did.
type Reverted struct {
	ID       string
	Outcomes []*rollback.Outcome
	Err      error
}

// Revert rolls back apply id (and every newer one) because it was not
// confirmed, and drops its pending record once that is complete. Call it
// under the host lock.
func Revert(s *rollback.Store, h *hostroot.Root, id string) Reverted {
	rv := Reverted{ID: id}
	hi, err := s.History()
	if err == nil {
		err = hi.Err()
	}
	if err != nil {
		rv.Err = err
		return rv
	}
	targets, err := rollback.Targets(hi.Records, id)
	if err != nil {
		// Already rolled back (by hand): nothing is left to revert.
		rv.Err = Done(h, id)
		return rv
	}
	for _, r := range targets {
		o, err := s.Restore(r, false)
		rv.Outcomes = append(rv.Outcomes, o)
		if err != nil {
			rv.Err = fmt.Errorf("reverting %s: %w", r.ID, err)
			return rv
		}
		if !o.Complete {
			rv.Err = fmt.Errorf("reverting %s is incomplete: %d resources changed since the apply were left alone (ezedge-host rollback --force restores them)", r.ID, len(o.LeftAlone))
			return rv
		}
	}
	rv.Err = Done(h, id)
	return rv
}

// Overdue lists the pending applies whose deadline has passed.
func Overdue(h *hostroot.Root, now time.Time) []Pending {
	ps, _ := List(h)
	var out []Pending
	for _, p := range ps {
		if p.Overdue(now) {
			out = append(out, p)
		}
	}
	return out
}

// RevertOverdue reverts every pending apply whose deadline has passed: its
// revert should have run and did not (the process died, the device
// rebooted). Every command that changes the host calls it under the lock
// before anything else.
func RevertOverdue(s *rollback.Store, h *hostroot.Root, now time.Time) ([]Reverted, error) {
	ps, err := List(h)
	if err != nil {
		return nil, err
	}
	var out []Reverted
	// Newest first: reverting an older one rolls back newer ones too.
	for i := len(ps) - 1; i >= 0; i-- {
		if p := ps[i]; p.Overdue(now) && IsPending(h, p.ID) {
			out = append(out, Revert(s, h, p.ID))
		}
	}
	return out, nil
}

// Rearm starts a new timer for each pending apply not yet due, after a
// reboot killed the old one (the boot unit runs it).
func Rearm(h *hostroot.Root, self string, now time.Time) error {
	ps, err := List(h)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.Overdue(now) || !liveSystemd(h) {
			continue
		}
		if err := startTimer(p.ID, p.Deadline.Sub(now), self); err != nil {
			return err
		}
	}
	return nil
}
