package ops

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/reboot"
	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/health/check"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/plan"
)

// running opens a copy of fixture name as the running system would be
// (the fixture has the kernel's files; /run and a boot id are added): what
// only `--root /` does to /run is done inside the copy.
func running(t *testing.T, name string) (*Host, string) {
	t.Helper()
	x, root, _ := host(t, name)
	fixture.PutAll(t, root, map[string]fixture.Entry{
		"/run/lock":                       fixture.Dir(),
		"/proc/sys/kernel/random/boot_id": fixture.File("0f6e5e1c-1111-4222-8333-444455556666\n"),
	})
	x.running = true
	return x, root
}

func kernelArgs(rs []reboot.Reason) []string {
	var out []string
	for _, r := range rs {
		if r.Kind == "kernel-arg" {
			out = append(out, r.Resource)
		}
	}
	slices.Sort(out)
	return out
}

func at(root, p string) string {
	b, _ := os.ReadFile(filepath.Join(root, p))
	return string(b)
}

// TestRebootRequiredOnRunningSystem: an apply that changes the kernel
// command line says a reboot is required, naming each argument, and says
// it in Debian's /run/reboot-required; status and check say it too, and a
// confirm; the rollback in the same boot undoes the reason and takes the
// notice away, leaving the root byte-identical to before.
func TestRebootRequiredOnRunningSystem(t *testing.T) {
	t.Parallel()
	x, root := running(t, "pi5-16gb-nvme-bookworm")
	orig := fixture.Snapshot(t, root)
	res, err := x.Apply(ApplyRequest{Request: defaults(t, x), Within: time.Hour, Self: "/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range res.Applied.Changed {
		if c.RebootRequired {
			want = append(want, c.Resource.Name())
		}
	}
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(kernelArgs(res.Reboot), want) || len(res.Reboot) != len(want) {
		t.Fatalf("apply: reboot %v, want the kernel arguments %v", res.Reboot, want)
	}
	if at(root, reboot.FlagPath) != reboot.Message || at(root, reboot.PkgsPath) != "ezedge-host\n" {
		t.Errorf("notice %q %q", at(root, reboot.FlagPath), at(root, reboot.PkgsPath))
	}
	if got, err := x.RebootRequired(); err != nil || !slices.Equal(got, res.Reboot) {
		t.Errorf("status: %v %v", got, err)
	}
	p, _ := x.Profile(profile.Default())
	r, err := x.Check(CheckRequest{Profile: p, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(r.Results, func(c check.Result) bool { return c.Name == "reboot" })
	if i < 0 || r.Results[i].Status != check.Warn || !strings.Contains(r.Results[i].Detail, want[0]) {
		t.Errorf("check: %+v", r.Results)
	}
	c, err := x.Confirm("", 0)
	if err != nil || !slices.Equal(c.Reboot, res.Reboot) {
		t.Errorf("confirm: %+v %v", c, err)
	}
	// Another apply in the same boot changes nothing that needs one:
	// the reasons since the boot are still said.
	again, err := x.Apply(ApplyRequest{Request: defaults(t, x)})
	if err != nil || !slices.Equal(again.Reboot, res.Reboot) {
		t.Errorf("second apply: %v %v", again.Reboot, err)
	}
	rb, err := x.Rollback(RollbackRequest{})
	if err != nil || len(rb.Reboot) != 0 {
		t.Fatalf("rollback: reboot %v, %v", rb.Reboot, err)
	}
	if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
		t.Errorf("not as before the apply: %v", d)
	}
}

// TestRebootAfterRollbackOfAnEarlierBoot: the system booted with an
// apply's kernel arguments; rolling it back takes them out of the command
// line, which the running kernel still has: a reboot is required, by the
// rollback.
func TestRebootAfterRollbackOfAnEarlierBoot(t *testing.T) {
	t.Parallel()
	x, root := running(t, "pi5-8gb-trixie-zram")
	res, err := x.Apply(ApplyRequest{Request: defaults(t, x)})
	if err != nil || len(res.Reboot) == 0 {
		t.Fatalf("apply: %v %v", res, err)
	}
	os.WriteFile(filepath.Join(root, "proc/sys/kernel/random/boot_id"), []byte("0f6e5e1c-1111-4222-8333-777777777777\n"), 0o644)
	if got, _ := x.RebootRequired(); len(got) != 0 {
		t.Errorf("after a reboot, still %v", got)
	}
	rb, err := x.Rollback(RollbackRequest{})
	if err != nil || !slices.Equal(kernelArgs(rb.Reboot), kernelArgs(res.Reboot)) {
		t.Fatalf("rollback: %v, want %v (%v)", rb.Reboot, res.Reboot, err)
	}
	// Not only kernel arguments: the journal keeps the plan's mark, so
	// the fstab line, tmp.mount and the journald drop-in put back are
	// reasons too.
	names := func(rs []reboot.Reason) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Resource)
		}
		slices.Sort(out)
		return out
	}
	if got, want := names(rb.Reboot), names(res.Reboot); !slices.Equal(got, want) || len(want) == len(kernelArgs(res.Reboot)) {
		t.Errorf("rollback's reasons %v, want the apply's %v (with more than kernel arguments)", got, want)
	}
	if at(root, reboot.FlagPath) != reboot.Message {
		t.Error("no notice after the rollback")
	}
}

// TestRebootOnAnImage: on a root that is not the running system the
// reasons are what the command itself changed, and nothing is written in
// its /run.
func TestRebootOnAnImage(t *testing.T) {
	t.Parallel()
	x, root, _ := host(t, "pi4-8gb-bullseye")
	res, err := x.Apply(ApplyRequest{Request: defaults(t, x)})
	if err != nil {
		t.Fatal(err)
	}
	var want []reboot.Reason
	for _, c := range res.Applied.Changed {
		if c.RebootRequired {
			want = append(want, reboot.Of(c.Task, c.Resource))
		}
	}
	if len(want) == 0 || !slices.Equal(res.Reboot, want) {
		t.Errorf("apply: %v, want %v", res.Reboot, want)
	}
	if _, err := os.Lstat(filepath.Join(root, "run")); !os.IsNotExist(err) {
		t.Errorf("/run written in an image: %v", err)
	}
	if got, err := x.RebootRequired(); got != nil || err != nil {
		t.Errorf("status on an image: %v %v", got, err)
	}
	rb, err := x.Rollback(RollbackRequest{})
	if err != nil || !slices.Equal(kernelArgs(rb.Reboot), kernelArgs(want)) {
		t.Errorf("rollback: %v, want the kernel arguments of %v", rb.Reboot, want)
	}
}

// TestRevertedTryApplyLeavesNoStaleNotice: a try apply of kernel arguments
// writes the notice; when its deadline passes unconfirmed, the next apply
// reverts it first, and although that apply then stops (the operator
// answers no) the notice is taken away: the revert undid every reason.
func TestRevertedTryApplyLeavesNoStaleNotice(t *testing.T) {
	t.Parallel()
	x, root := running(t, "pi5-16gb-nvme-bookworm")
	if _, err := x.Apply(ApplyRequest{Request: defaults(t, x), Within: time.Minute, Self: "/bin/true"}); err != nil {
		t.Fatal(err)
	}
	if at(root, reboot.FlagPath) != reboot.Message {
		t.Fatal("no notice after the try apply")
	}
	later := time.Now().Add(time.Hour)
	x.Now = func() time.Time { return later }
	no := func(*plan.Plan) error { return errors.New("answered no") }
	if _, err := x.Apply(ApplyRequest{Request: defaults(t, x), Review: no}); err == nil || !strings.Contains(err.Error(), "answered no") {
		t.Fatalf("apply answered no: %v", err)
	}
	if got, err := x.RebootRequired(); err != nil || len(got) != 0 {
		t.Errorf("after the revert: reasons %v %v", got, err)
	}
	if _, err := os.Lstat(filepath.Join(root, reboot.FlagPath)); err == nil {
		t.Errorf("the notice is stale after the revert: %q", at(root, reboot.FlagPath))
	}
}

// TestLiveOnlyForTheRunningSystem: a root other than / is never the
// running system, whatever its /run and /proc hold.
func TestLiveOnlyForTheRunningSystem(t *testing.T) {
	t.Parallel()
	_, root := running(t, "pi5-16gb-nvme-bookworm")
	fixture.PutAll(t, root, map[string]fixture.Entry{"/run/systemd/system": fixture.Dir()})
	x, err := Open(root, "")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if x.running || reboot.Live(x.Root) {
		t.Error("a copy of a host is taken for the running system")
	}
}
