package plan_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/apply"
	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/internal/profile"
	"github.com/ezansiedgeai/ezedge-host/plan"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/rollback"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// allOn is a profile turning every task on (those that need options get
// them), with off turned off.
func allOn(off string) string {
	var b strings.Builder
	b.WriteString("version: 1\ntasks:\n")
	for _, n := range tasks.Names() {
		on := n != off
		switch n {
		case "container-resources":
			fmt.Fprintf(&b, "  %s: {enabled: %t, containers: [llm, stt=whisper]}\n", n, on)
		case "wifi":
			// An image has no network to guard: wired says it is reached
			// over a wire.
			fmt.Fprintf(&b, "  %s: {enabled: %t, wired: true}\n", n, on)
		default:
			fmt.Fprintf(&b, "  %s: {enabled: %t}\n", n, on)
		}
	}
	return b.String()
}

// applyProfile plans root with prof and applies it in-process; a task
// that refuses on this fixture is turned off (and reported).
func applyProfile(t *testing.T, root, prof string, refusing map[string]bool) *plan.Plan {
	t.Helper()
	h, err := hostroot.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	choices, err := profile.Parse("test", []byte(prof))
	if err != nil {
		t.Fatal(err)
	}
	for n := range refusing {
		f := false
		s := choices[n]
		s.Enabled = &f
		choices[n] = s
	}
	store := rollback.Open(h)
	facts, err := platform.Detect(h, tasks.Observations())
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(h, store, facts, choices)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	unlock, err := store.Lock(0, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := apply.Apply(h, store, p, time.Now()); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return p
}

// raspiVariant is the Pi 4 fixture in Debian's Raspberry Pi layout:
// raspi-firmware's hook installed, so the kernel arguments go into
// raspi-extra-cmdline and the cmdline.txt it generates.
const raspiVariant = "pi4-8gb-bullseye+raspi-firmware"

// copyFixture copies fixture name, or makes raspiVariant.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	if name != raspiVariant {
		return fixture.Copy(t, name)
	}
	root := fixture.Copy(t, "pi4-8gb-bullseye")
	for p, s := range map[string]string{
		"etc/kernel/postinst.d/z50-raspi-firmware":       "#!/bin/sh\n",
		"etc/initramfs/post-update.d/z50-raspi-firmware": "#!/bin/sh\n",
		"boot/firmware/config.txt":                       "[all]\n",
		"boot/firmware/cmdline.txt":                      "console=tty0 root=/dev/mmcblk0p2 rw fsck.repair=yes net.ifnames=0 cma=64M rootwait \n",
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// refusals are the tasks that refuse on fixture name with every task on
// (a populated container store, say): they cannot be applied there, so
// turning them off is not tested there.
func refusals(t *testing.T, name string) map[string]bool {
	out := map[string]bool{}
	root := copyFixture(t, name)
	h, err := hostroot.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	facts, err := platform.Detect(h, tasks.Observations())
	if err != nil {
		t.Fatal(err)
	}
	for range tasks.Names() {
		choices, _ := profile.Parse("test", []byte(allOn("")))
		for n := range out {
			f := false
			s := choices[n]
			s.Enabled = &f
			choices[n] = s
		}
		_, err := plan.Build(h, rollback.Open(h), facts, choices)
		if err == nil {
			return out
		}
		found := false
		for _, n := range tasks.Names() {
			if !out[n] && strings.Contains(err.Error(), "turn "+n) {
				out[n], found = true, true
				t.Logf("%s: %s refuses with every task on: %v", name, n, err)
			}
		}
		if !found {
			t.Fatalf("%s: plan with every task on: %v", name, err)
		}
	}
	return out
}

// TestTurningOffUndoes is the profile as the desired state: on every
// fixture, for every task, apply with every task on, then turn that task
// off and apply again. The host must be byte for byte what an apply with
// the task off from the start makes (its files, lines, kernel arguments,
// unit states and runtime values back to what they were, every other
// task's left as they are); the plan is then clean, and rolling back both
// applies gives the original root.
func TestTurningOffUndoes(t *testing.T) {
	t.Parallel()
	names := tasks.Names()
	for _, fx := range append(slices.Clone(fixture.Names), raspiVariant) {
		refusing := refusals(t, fx)
		for i, task := range names {
			if refusing[task] {
				continue
			}
			if testing.Short() && (i+len(fx))%4 != 0 {
				continue
			}
			t.Run(fx+"/"+task, func(t *testing.T) {
				t.Parallel()
				root := copyFixture(t, fx)
				orig := fixture.Snapshot(t, root)
				first := applyProfile(t, root, allOn(""), refusing)
				changed := 0
				for _, c := range first.Pending() {
					if strings.Contains(","+c.Task+",", ","+task+",") {
						changed++
					}
				}
				undo := applyProfile(t, root, allOn(task), refusing)
				if changed > 0 && len(undo.Pending()) == 0 {
					t.Errorf("%s changed %d resources; turning it off plans nothing", task, changed)
				}
				// A task that keeps memory from containers (huge pages, a
				// tmpfs) changes their budget: container-resources' files
				// follow it, as they would with it never on.
				tk, _ := tasks.ByName(task)
				keeps := tk.Reserves(&platform.Facts{MemTotal: 8 << 30, HugePageSize: 2 << 20}, tk.NewOptions()) != nil
				for _, c := range undo.Pending() {
					if keeps && c.Task == "container-resources" {
						continue
					}
					if !strings.Contains(","+c.Task+",", ","+task+",") && c.Task != "(no task)" {
						t.Errorf("turning %s off changes %s of %s", task, c.Resource.Name(), c.Task)
					}
				}
				for _, w := range undo.Warnings {
					if strings.Contains(w, "is off") {
						t.Errorf("warning: %s", w)
					}
				}
				// The oracle: the task off from the start.
				never := copyFixture(t, fx)
				applyProfile(t, never, allOn(task), refusing)
				if d := fixture.Snapshot(t, never, fixture.StoreDir).Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
					t.Errorf("%s on then off differs from %s never on:\n  %s", task, task, strings.Join(d, "\n  "))
				}
				again := applyProfile(t, root, allOn(task), refusing)
				if n := len(again.Pending()); n > 0 {
					t.Errorf("plan after the undo has %d changes: %v", n, again.Pending()[0].Resource.Name())
				}
				rollbackAll(t, root)
				if d := orig.Diff(fixture.Snapshot(t, root, fixture.StoreDir)); len(d) > 0 {
					t.Errorf("not byte-identical after rolling back both applies:\n  %s", strings.Join(d, "\n  "))
				}
			})
		}
	}
}

// rollbackAll rolls back every apply in force, newest first.
func rollbackAll(t *testing.T, root string) {
	t.Helper()
	h, err := hostroot.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	store := rollback.Open(h)
	unlock, err := store.Lock(0, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	hi, err := store.History()
	if err != nil {
		t.Fatal(err)
	}
	for i := len(hi.Records) - 1; i >= 0; i-- {
		r := hi.Records[i]
		if !r.Open() {
			continue
		}
		o, err := store.Restore(r, false)
		if err != nil || !o.Complete {
			t.Fatalf("rollback of %s: %v (left alone: %v)", r.ID, err, o.LeftAlone)
		}
	}
}

// TestTurningOffLeavesDrift: what a turned-off task set but someone has
// changed since is left as it is, with a warning naming it and how to
// force it back; the rest of the task's work is undone.
func TestTurningOffLeavesDrift(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi4-8gb-bullseye")
	applyProfile(t, root, allOn(""), nil)
	dropIn := root + "/etc/systemd/system/tmp.mount.d/90-ezedge-host.conf"
	edited := "[Mount]\nOptions=mode=1777,size=10%\n"
	if err := os.WriteFile(dropIn, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	undo := applyProfile(t, root, allOn("tmp-tmpfs"), nil)
	warned := false
	for _, w := range undo.Warnings {
		warned = warned || strings.Contains(w, "file:/etc/systemd/system/tmp.mount.d/90-ezedge-host.conf: tmp-tmpfs is off, but this was changed by something else") && strings.Contains(w, "--force")
	}
	if !warned {
		t.Errorf("no drift warning: %q", undo.Warnings)
	}
	undone := map[string]bool{}
	for _, c := range undo.Pending() {
		undone[c.Resource.Name()] = true
	}
	if undone["/etc/systemd/system/tmp.mount.d/90-ezedge-host.conf"] || !undone["tmp.mount"] || !undone["/etc/systemd/system/tmp.mount"] {
		t.Errorf("undone: %v", undone)
	}
	if b, _ := os.ReadFile(dropIn); string(b) != edited {
		t.Errorf("the edited drop-in was touched: %q", b)
	}
}
