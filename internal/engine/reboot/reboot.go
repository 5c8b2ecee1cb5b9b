// Package reboot keeps what ezedge-host has changed since the running
// system booted that takes effect only at its next boot (a kernel
// argument, a mount or unit read at boot), and says so where the host's
// other programs look: Debian's /run/reboot-required, which motd,
// unattended-upgrades, reboot-notifier, needrestart and Ansible roles
// read, with ezedge-host listed in /run/reboot-required.pkgs.
//
// Both live in /run, a tmpfs the next boot starts empty: the record
// speaks of one boot only, and the notice goes away with the reboot that
// answers it. Neither is a host setting, so neither is journaled or
// restored by a rollback; instead the record keeps, for each resource,
// the value the running system booted with, and after every apply,
// rollback or revert the reasons are read from the host again: a
// resource back at its booted value (a rollback in the same boot) is no
// reason any more, and when none is left ezedge-host takes its name out of
// the notice, and the notice itself when it wrote it and no other package
// is listed. A crash between a change and the notice leaves the notice
// missing, never stale; the next apply, rollback or confirm writes it.
package reboot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/resource"
)

const (
	// RecordPath is ezedge-host's record of this boot's changes.
	RecordPath = "/run/ezedge-host/reboot-required.json"
	// FlagPath and PkgsPath are Debian's notice: the file that says a
	// reboot is required (its text is shown at login), and the packages
	// that require it, one a line.
	FlagPath = "/run/reboot-required"
	PkgsPath = "/run/reboot-required.pkgs"
	// Message is what Debian's scripts (reboot-notifier's and
	// update-notifier's notify-reboot-required) write into FlagPath.
	Message = "*** System restart required ***\n"
	// Package is the name ezedge-host puts in PkgsPath.
	Package = "ezedge-host"

	bootIDPath = "/proc/sys/kernel/random/boot_id"
	// recordMax bounds what is read of the record (it holds resource
	// IDs, kernel arguments and unit links; file contents only as their
	// digests), noticeMax of Debian's files.
	recordMax = 1 << 20
	noticeMax = 64 << 10
	// FormatVersion versions the record.
	FormatVersion = 1
)

// Reason is a resource that holds another value than the one the running
// system booted with: the next boot changes what the host does.
type Reason struct {
	Task     string `json:"task"`
	Kind     string `json:"kind"`
	Resource string `json:"resource"`
}

// String is the reason as the text outputs show it.
func (r Reason) String() string { return r.Kind + " " + r.Resource + " (" + r.Task + ")" }

// Of is the reason a change of res by task gives, when it is made.
func Of(task string, res resource.Resource) Reason {
	return Reason{Task: task, Kind: string(res.Kind()), Resource: res.Name()}
}

// entry is a resource changed since the boot, with the value it had then.
type entry struct {
	Resource string         `json:"resource"`
	Task     string         `json:"task"`
	Booted   resource.State `json:"booted"`
}

// Record is what ezedge-host changed since this boot.
type Record struct {
	FormatVersion int    `json:"format_version"`
	BootID        string `json:"boot_id"`
	// CreatedFlag: FlagPath was absent when ezedge-host wrote it, so it
	// may remove it again; one another program wrote stays.
	CreatedFlag bool    `json:"created_flag"`
	Entries     []entry `json:"entries"`
}

// Load reads the record of this boot from the running system's root h:
// empty when there is none, or when it was written in another boot (a
// /run that is not a tmpfs). An unreadable record is an error, with an
// empty one to go on with (the next Save replaces it).
func Load(h *hostroot.Root) (*Record, error) {
	boot := bootID(h)
	fresh := &Record{FormatVersion: FormatVersion, BootID: boot}
	b, err := h.ReadFileLimit(RecordPath, recordMax)
	if errors.Is(err, fs.ErrNotExist) {
		return fresh, nil
	}
	if err != nil {
		return fresh, fmt.Errorf("%s: %w", RecordPath, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return fresh, fmt.Errorf("%s: %w", RecordPath, err)
	}
	if r.FormatVersion != FormatVersion {
		return fresh, fmt.Errorf("%s: format version %d, want %d", RecordPath, r.FormatVersion, FormatVersion)
	}
	for _, e := range r.Entries {
		if _, err := resource.FromID(e.Resource); err != nil {
			return fresh, fmt.Errorf("%s: %w", RecordPath, err)
		}
	}
	if r.BootID != boot {
		// Another boot's: its changes are what this boot started with.
		// Whether it wrote the notice it cannot say for this one.
		return fresh, nil
	}
	return &r, nil
}

// Live reports whether h is the running system, whose /run the next boot
// empties: the root is / (not an image or a copy), systemd runs there
// (/run/systemd/system; not a chroot building an image, where / is the
// image and /run may even be the build host's), and the kernel names
// this boot. Only then is the record kept and Debian's notice written.
func Live(h *hostroot.Root) bool {
	return h.IsSystemRoot() && h.Exists("/run/systemd/system") && bootID(h) != ""
}

// bootID is the kernel's random id of this boot ("" where it cannot be
// read).
func bootID(h *hostroot.Root) string {
	b, _ := h.ReadPrefix(bootIDPath, 64)
	return strings.TrimSpace(string(b))
}

// Track notes, before res (of task) is changed, that it holds now: when it
// is its first change since the boot, now is what the system booted with.
// A file's value is kept as its digest (the record is readable by all).
func (r *Record) Track(task string, res resource.Resource, now resource.State) {
	id := resource.ID(res)
	if slices.ContainsFunc(r.Entries, func(e entry) bool { return e.Resource == id }) {
		return
	}
	if res.Kind() == resource.KindFile && now.Data != nil {
		now.Digest, now.Size, now.Data = resource.Digest(now.Data), int64(len(now.Data)), nil
	}
	r.Entries = append(r.Entries, entry{Resource: id, Task: task, Booted: now})
}

// Save writes the record before the changes it tracks are made: a crash
// midway leaves it knowing what the system booted with.
func (r *Record) Save(h *hostroot.Root) error {
	if len(r.Entries) == 0 {
		return nil
	}
	if !h.Exists(path.Dir(RecordPath)) {
		if err := h.Mkdir(path.Dir(RecordPath), 0o755); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return h.WriteAtomic(RecordPath, append(b, '\n'), 0o644, 0, 0)
}

// Reasons reads each resource the record tracks: those whose value is not
// the one the system booted with. One that cannot be read any more is
// kept as a reason (it changed, somehow).
func (r *Record) Reasons(h *hostroot.Root) []Reason {
	var out []Reason
	for _, e := range r.Entries {
		res, err := resource.FromID(e.Resource)
		if err != nil {
			continue // Load refused such a record
		}
		if cur, err := res.Read(h); err == nil && res.Equal(cur, e.Booted) {
			continue
		}
		out = append(out, Of(e.Task, res))
	}
	return out
}

// Sync is what follows an apply, rollback or revert on the running
// system: the reasons are read from the host, the record keeps only them
// (and goes when there is none), and Debian's notice says ezedge-host
// requires a reboot exactly while there is a reason.
func (r *Record) Sync(h *hostroot.Root) ([]Reason, error) {
	reasons := r.Reasons(h)
	r.Entries = slices.DeleteFunc(r.Entries, func(e entry) bool {
		return !slices.ContainsFunc(reasons, func(x Reason) bool { return x.Kind+":"+x.Resource == e.Resource })
	})
	nerr := r.notice(h, len(reasons) > 0)
	var err error
	if len(r.Entries) > 0 {
		err = r.Save(h)
	} else if err = removeIfThere(h, RecordPath); err == nil {
		if ents, derr := h.ReadDir(path.Dir(RecordPath)); derr == nil && len(ents) == 0 {
			err = h.Remove(path.Dir(RecordPath))
		}
	}
	return reasons, errors.Join(nerr, err)
}

// notice writes Debian's notice as its scripts do (the flag with Message,
// Package appended to the list once), or, with need false, takes
// ezedge-host's name out of the list and removes the flag when ezedge-host
// wrote it and no other package is listed.
func (r *Record) notice(h *hostroot.Root, need bool) error {
	pkgs, err := h.ReadFileLimit(PkgsPath, noticeMax)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", PkgsPath, err)
	}
	var others []string
	listed := false
	for l := range strings.Lines(string(pkgs)) {
		if strings.TrimRight(l, "\n") == Package {
			listed = true
		} else if strings.TrimSpace(l) != "" {
			others = append(others, strings.TrimRight(l, "\n"))
		}
	}
	if need {
		flag, err := h.ReadFileLimit(FlagPath, noticeMax)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := h.WriteAtomic(FlagPath, []byte(Message), 0o644, 0, 0); err != nil {
				return err
			}
			r.CreatedFlag = true
		case err != nil:
			return fmt.Errorf("%s: %w", FlagPath, err)
		case len(bytes.TrimSpace(flag)) == 0:
			// Touched by a script that writes no text: the login
			// message shows it.
			if err := h.WriteAtomic(FlagPath, []byte(Message), 0o644, 0, 0); err != nil {
				return err
			}
		}
		if listed {
			return nil
		}
		if len(pkgs) > 0 && pkgs[len(pkgs)-1] != '\n' {
			pkgs = append(pkgs, '\n')
		}
		return h.WriteAtomic(PkgsPath, append(pkgs, Package+"\n"...), 0o644, 0, 0)
	}
	if listed {
		if len(others) == 0 {
			err = h.Remove(PkgsPath)
		} else {
			err = h.WriteAtomic(PkgsPath, []byte(strings.Join(others, "\n")+"\n"), 0o644, 0, 0)
		}
		if err != nil {
			return err
		}
	}
	if r.CreatedFlag && len(others) == 0 {
		if err := removeIfThere(h, FlagPath); err != nil {
			return err
		}
		r.CreatedFlag = false
	}
	return nil
}

// removeIfThere removes name; one already gone is fine.
func removeIfThere(h *hostroot.Root, name string) error {
	if _, err := h.Lstat(name); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return h.Remove(name)
}

// Notice is what Debian's notice says now: whether a reboot is required,
// and the packages that require it.
type Notice struct {
	Required bool
	Packages []string
}

// ReadNotice reads Debian's notice on the root h.
func ReadNotice(h *hostroot.Root) (Notice, error) {
	var n Notice
	if _, err := h.ReadFileLimit(FlagPath, noticeMax); err == nil {
		n.Required = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return n, fmt.Errorf("%s: %w", FlagPath, err)
	}
	b, err := h.ReadFileLimit(PkgsPath, noticeMax)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return n, fmt.Errorf("%s: %w", PkgsPath, err)
	}
	for l := range strings.Lines(string(b)) {
		if p := strings.TrimSpace(l); p != "" && !slices.Contains(n.Packages, p) {
			n.Packages = append(n.Packages, p)
		}
	}
	return n, nil
}
