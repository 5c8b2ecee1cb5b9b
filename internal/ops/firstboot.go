package ops

import (
	"fmt"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/apply"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/firstboot"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/platform"
)

// FirstbootRequest installs first-boot provisioning into an image.
type FirstbootRequest struct {
	// Profile is the profile resolved for the image, as its first boot
	// will resolve it: with a file (--profile FILE, profile.Install) that
	// becomes the image's profile.yaml, under the image's profile.d;
	// otherwise the image's own layers, left as they are (Resolve has
	// checked them, so that a build does not ship a first boot that fails).
	Profile *profile.Resolved
	// ReadBinary reads the binary to copy when the image needs one (it
	// has no Debian package): --binary FILE, or this program.
	ReadBinary  func() (name string, data []byte, err error)
	LockTimeout time.Duration
}

// FirstbootResult is what the install changed.
type FirstbootResult struct {
	Facts *platform.Facts
	// IDs are the snapshots made (none: it was installed already).
	IDs     []string
	Changed []plan.Change
}

// FirstbootInstall makes the image apply its profile once, on its first
// boot: the binary (unless the image has the Debian package), the profile
// and the unit, each step planned and applied with a snapshot.
func (x *Host) FirstbootInstall(req FirstbootRequest) (*FirstbootResult, error) {
	if x.Root.IsSystemRoot() {
		return nil, fmt.Errorf("firstboot install is for an image root: give --root DIR")
	}
	f, err := x.Facts()
	if err != nil {
		return nil, err
	}
	var profData []byte
	if req.Profile != nil {
		profData = req.Profile.Installed()
	}
	// An image with the Debian package runs its own binary; otherwise one
	// is copied, refused if it cannot run there.
	var bin []byte
	if !x.Root.Exists(platform.PackagedBinary) {
		x.progress(Progress{Phase: PhaseFirstbootBinary})
		name, data, err := req.ReadBinary()
		if err != nil {
			return nil, err
		}
		if err := firstboot.CheckArch(name, data, f); err != nil {
			return nil, fmt.Errorf("firstboot install: %w", err)
		}
		bin = data
	}
	unlock, _, err := x.Lock(req.LockTimeout, "ezedge-host firstboot install")
	if err != nil {
		return nil, err
	}
	defer unlock()
	out := &FirstbootResult{Facts: f}
	for _, step := range []struct {
		phase Phase
		plan  func() (*plan.Plan, error)
	}{
		{PhaseFirstbootInstall, func() (*plan.Plan, error) { return firstboot.InstallPlan(x.Root, f, bin, profData) }},
		{PhaseFirstbootEnable, func() (*plan.Plan, error) { return firstboot.Enable(x.Root, f) }},
	} {
		p, err := step.plan()
		if err != nil {
			return nil, err
		}
		if n := len(p.Pending()); n > 0 {
			x.progress(Progress{Phase: step.phase, Count: n})
		}
		res, err := apply.Apply(x.Root, x.Store, p, x.now())
		if err != nil {
			return nil, fmt.Errorf("firstboot install failed: %w", err)
		}
		if res.ID != "" {
			out.IDs = append(out.IDs, res.ID)
		}
		out.Changed = append(out.Changed, res.Changed...)
	}
	return out, nil
}

// FirstbootRun is what the first-boot unit runs: apply the image's
// profile, and record the outcome (firstboot status reads it).
func (x *Host) FirstbootRun() (firstboot.Report, error) {
	o := firstboot.Report{FormatVersion: firstboot.ReportVersion, RanAt: x.now().UTC()}
	res, err := x.firstbootApply()
	if res != nil {
		o.SnapshotID, o.Changes = res.ID, len(res.Changed)
	}
	if err != nil {
		o.Error = err.Error()
	}
	if rerr := firstboot.Write(x.Root, o); rerr != nil && err == nil {
		err = rerr
	}
	return o, err
}

// firstbootApply plans with the image's own profile and applies under the
// lock, as apply --yes does.
func (x *Host) firstbootApply() (*apply.Applied, error) {
	prof, err := x.Profile(profile.Default())
	if err != nil {
		return nil, err
	}
	unlock, _, err := x.Lock(0, "ezedge-host firstboot run")
	if err != nil {
		return nil, err
	}
	defer unlock()
	defer x.syncReboot(nil)
	p, err := x.Plan(Request{Profile: prof})
	if err != nil {
		return nil, err
	}
	x.trackReboot(trackChanges(p.Pending()))
	return apply.Apply(x.Root, x.Store, p, x.now())
}
