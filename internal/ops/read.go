package ops

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ezansiedgeai/ezedge-host/internal/alloc"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/firstboot"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/reboot"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/savedplan"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/tryapply"
	"github.com/ezansiedgeai/ezedge-host/internal/health/baseline"
	"github.com/ezansiedgeai/ezedge-host/internal/health/check"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/rollback"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// The use cases that read the host and its store, and those that write
// what the operator names outside any root (a plan file, the packaged
// units).

// HistoryResult is every apply, with what the measured ones changed.
type HistoryResult struct {
	*rollback.History
	// Effects are the measured effects by apply or rollback id.
	Effects map[string][]*baseline.Effect
}

// History is every apply, and the measured effects; a stored effect that
// cannot be read is left out with a warning, not fatal.
func (x *Host) History() (*HistoryResult, error) {
	hi, err := x.Store.History()
	if err != nil {
		return nil, err
	}
	effects, skipped, err := baseline.Effects(x.Root)
	if err != nil {
		return nil, err
	}
	hi.Warnings = append(hi.Warnings, skipped...)
	return &HistoryResult{hi, effects}, nil
}

// StatusResult is what waits: try applies to confirm, interrupted or
// unfinished applies, and changes waiting for a reboot.
type StatusResult struct {
	Pending []tryapply.Pending
	History *rollback.History
	Reboot  []reboot.Reason
}

// Status reads what waits; a reboot record that cannot be read is a
// warning of the history, not fatal.
func (x *Host) Status() (*StatusResult, error) {
	pending, err := tryapply.List(x.Root)
	if err != nil {
		return nil, err
	}
	hi, err := x.Store.History()
	if err != nil {
		return nil, err
	}
	reasons, err := x.RebootRequired()
	if err != nil {
		hi.Warnings = append(hi.Warnings, err.Error())
	}
	return &StatusResult{pending, hi, reasons}, nil
}

// Baselines are the stored baselines, oldest first, and those left out.
func (x *Host) Baselines() (recs []*baseline.Record, skipped []string, err error) {
	return baseline.List(x.Root)
}

// FirstbootStatus is whether first-boot provisioning ran, and what it
// changed.
func (x *Host) FirstbootStatus() (firstboot.Status, error) { return firstboot.Read(x.Root) }

// ResourcesRequest sizes a mix of containers for the host.
type ResourcesRequest struct {
	// Profile says which tasks keep memory from containers (huge pages,
	// a tmpfs /tmp, a volatile journal).
	Profile profile.Source
	Options alloc.Options
	Mix     []alloc.Request
	// Forms are those to show it in (none: all).
	Forms []alloc.Form
	// Placement overrides the profile's placement options (nil: none).
	Placement Placement
}

// Placement is what overrides the profile's container placement options
// (resources' flags), and says where an entry it refuses came from.
type Placement interface {
	Set(*tasks.ContainerResourcesOptions)
	Where(err error, prof *profile.Resolved) error
}

// ResourcesResult is the mix sized, the Podman it is written for, and
// the forms asked for.
type ResourcesResult struct {
	Allocation *alloc.Allocation
	Podman     alloc.Podman
	Forms      []alloc.Form
}

// Resources sizes req's mix from the guide's tables within what the host
// has left; it changes nothing.
func (x *Host) Resources(req ResourcesRequest) (*ResourcesResult, error) {
	f, err := x.Facts()
	if err != nil {
		return nil, err
	}
	p, err := x.Profile(req.Profile)
	if err != nil {
		return nil, err
	}
	o := tasks.ContainerOptions(p.Choices)
	if req.Placement != nil {
		req.Placement.Set(&o)
	}
	req.Options.Placement = o.Placement()
	a, err := tasks.Allocate(f, p.Choices, req.Options, req.Mix)
	if err != nil {
		if req.Placement != nil {
			return nil, req.Placement.Where(err, p)
		}
		return nil, err
	}
	return &ResourcesResult{a, alloc.ParsePodman(f.Packages["podman"]), req.Forms}, nil
}

// SavePlan saves p, made with prof for the tasks only, to the file path
// (plan --out), for apply PLANFILE.
func (x *Host) SavePlan(path string, p *plan.Plan, prof *profile.Resolved, only []string) error {
	rec, err := prof.Record()
	if err != nil {
		return err
	}
	return savedplan.Save(path, p, rec, only, x.now())
}

// LoadPlan reads a saved plan, and the profile saved in it that the host
// is planned again with: a saved plan is the approval of one diff, not a
// recipe, and only a fresh plan whose diff is the saved one is applied.
// The tasks it was narrowed to must be tasks of this program.
func LoadPlan(path string) (*savedplan.Saved, profile.Source, error) {
	saved, err := savedplan.Load(path)
	if err != nil {
		return nil, profile.Source{}, err
	}
	if err := OnlyTasks(saved.Only); err != nil {
		return nil, profile.Source{}, fmt.Errorf("plan file %s: %w", path, err)
	}
	return saved, profile.Saved(path, saved.Profile), nil
}

// OnlyTasks checks the tasks a request is narrowed to (--only).
func OnlyTasks(only []string) error {
	for _, n := range only {
		if _, ok := tasks.ByName(n); !ok {
			return fmt.Errorf("--only %s: no such task (tasks: %s)", n, strings.Join(tasks.Names(), ", "))
		}
	}
	return nil
}

// Textfile is where check's Prometheus form goes: nil (standard output,
// as every output) when dir is "" or "-", else the node exporter's
// textfile in the root's dir, replaced atomically.
func (x *Host) Textfile(dir string) func(data []byte) error {
	if dir == "" || dir == "-" {
		return nil
	}
	return func(data []byte) error { return check.WriteTextfile(x.Root, dir, data) }
}

// TextfileDir is the textfile directory whose age a check reports: the
// one named, else Debian's, wherever the check's own output goes.
func TextfileDir(dir string) string {
	if dir == "" || dir == "-" {
		return check.DefaultTextfileDir
	}
	return dir
}

// ReadBinary reads the binary firstboot install copies into an image
// without the Debian package: the file src (built for the image's
// architecture), else this program; a file the operator names.
func ReadBinary(src string) func() (string, []byte, error) {
	return func() (string, []byte, error) {
		if src == "" {
			var err error
			if src, err = os.Executable(); err != nil {
				return "", nil, err
			}
		}
		b, err := hostroot.ReadNamed(src, firstboot.BinaryFile)
		return src, b, err
	}
}

// WritePackagedUnits writes PackagedUnits into dir (the Debian package's
// build).
func WritePackagedUnits(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, text := range PackagedUnits() {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}
