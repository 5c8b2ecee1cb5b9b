package rollback

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"
)

// A "try" apply (apply --confirm-within) is reverted automatically unless
// it is confirmed in time. The pending confirmation is a file in the store,
// so the revert, whoever runs it, sees a confirmation made from any session.
const confirmDir = Dir + "/pending-confirm"

// Pending is an apply waiting for confirmation.
type Pending struct {
	ID       string    `json:"id"`
	Deadline time.Time `json:"deadline"`
	// RevertBy says what will revert it: a systemd timer or a process.
	RevertBy string `json:"revert_by"`
}

// PendingConfirmations lists the applies waiting for confirmation.
func (s *Store) PendingConfirmations() ([]Pending, error) {
	ents, err := s.h.ReadDir(confirmDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Pending
	for _, e := range ents {
		b, err := s.h.ReadFile(confirmDir + "/" + e.Name())
		if err != nil {
			continue
		}
		f := strings.SplitN(strings.TrimSpace(string(b)), "\n", 2)
		d, err := time.Parse(time.RFC3339, f[0])
		if err != nil {
			continue
		}
		p := Pending{ID: e.Name(), Deadline: d}
		if len(f) > 1 {
			p.RevertBy = f[1]
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// IsPending reports whether apply id still waits for confirmation.
func (s *Store) IsPending(id string) bool { return s.h.Exists(confirmDir + "/" + id) }

// Confirm keeps apply id (or every pending one, for ""); it returns the
// ones it confirmed.
func (s *Store) Confirm(id string) ([]string, error) {
	ps, err := s.PendingConfirmations()
	if err != nil {
		return nil, err
	}
	var done []string
	for _, p := range ps {
		if id != "" && p.ID != id {
			continue
		}
		if err := s.h.Remove(confirmDir + "/" + p.ID); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return done, err
		}
		done = append(done, p.ID)
		if strings.HasPrefix(p.RevertBy, "systemd timer ") {
			// The revert would find nothing to do; stop it anyway so
			// systemctl list-timers does not show it.
			exec.Command("systemctl", "stop", strings.TrimPrefix(p.RevertBy, "systemd timer ")).Run()
		}
	}
	if id != "" && len(done) == 0 {
		return nil, fmt.Errorf("apply %s is not waiting for confirmation", id)
	}
	return done, nil
}

// ScheduleRevert records that apply id must be confirmed within d and
// starts what reverts it otherwise. That must outlive the SSH session that
// started it: on a live systemd host a transient timer (systemd-run),
// elsewhere a detached process in its own session. self is this binary.
func (s *Store) ScheduleRevert(id string, d time.Duration, self string, now time.Time) (Pending, error) {
	if err := s.ensure(); err != nil {
		return Pending{}, err
	}
	if !s.h.Exists(confirmDir) {
		if err := s.h.Mkdir(confirmDir, 0o700); err != nil {
			return Pending{}, err
		}
	}
	p := Pending{ID: id, Deadline: now.Add(d).UTC().Truncate(time.Second)}
	args := []string{self, "revert-if-unconfirmed", "--root", s.h.Dir(), id}
	if s.h.IsSystemRoot() && s.h.Exists("/run/systemd/system") {
		unit := "ezedge-host-revert-" + strings.ToLower(id)
		p.RevertBy = "systemd timer " + unit + ".timer"
		if err := s.writePending(p); err != nil {
			return p, err
		}
		run := append([]string{"--unit", unit, fmt.Sprintf("--on-active=%ds", int(d.Seconds())), "--timer-property=AccuracySec=1s", "--collect"}, args...)
		if out, err := exec.Command("systemd-run", run...).CombinedOutput(); err != nil {
			return p, fmt.Errorf("systemd-run: %v: %s", err, strings.TrimSpace(string(out)))
		}
		return p, nil
	}
	cmd := exec.Command(args[0], append(append([]string{}, args[1:]...), "--at", p.Deadline.Format(time.RFC3339))...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return p, err
	}
	defer devnull.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	if err := cmd.Start(); err != nil {
		return p, err
	}
	p.RevertBy = fmt.Sprintf("process %d", cmd.Process.Pid)
	if err := s.writePending(p); err != nil {
		cmd.Process.Kill()
		return p, err
	}
	return p, cmd.Process.Release()
}

func (s *Store) writePending(p Pending) error {
	return s.h.WriteAtomic(confirmDir+"/"+p.ID, []byte(p.Deadline.Format(time.RFC3339)+"\n"+p.RevertBy+"\n"), 0o600, 0, 0)
}

// Unconfirmed drops the pending record once the revert has run.
func (s *Store) Unconfirmed(id string) error {
	err := s.h.Remove(confirmDir + "/" + id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
