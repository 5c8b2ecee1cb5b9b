package resource

import (
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// fakeSystemd stands in for the D-Bus manager of a live host.
type fakeSystemd struct {
	active map[string]string
	calls  []string
}

func (f *fakeSystemd) ActiveState(u string) (string, error) { return f.active[u], nil }
func (f *fakeSystemd) Start(u string) error {
	f.calls = append(f.calls, "start "+u)
	f.active[u] = "active"
	return nil
}
func (f *fakeSystemd) Stop(u string) error {
	f.calls = append(f.calls, "stop "+u)
	f.active[u] = "inactive"
	return nil
}
func (f *fakeSystemd) Reload() error { f.calls = append(f.calls, "reload"); return nil }

// TestUnitLiveManager: with a running systemd, disabling stops the unit
// before its links go and reloads after; restoring recreates the links,
// reloads and starts it again; the active state is part of the snapshot.
func TestUnitLiveManager(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	fake := &fakeSystemd{active: map[string]string{"bluetooth.service": "active"}}
	UseManager(root, fake)
	defer UseManager(root, nil)
	h, err := hostroot.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	u := Unit("bluetooth.service")
	before, err := u.Read(h)
	if err != nil || !strings.HasPrefix(string(before.Data), "active active\n") || u.Show(before) != "enabled (2 links), active" {
		t.Fatalf("read: %q %v", before.Data, err)
	}
	if err := u.Write(h, UnitDisabled(before)); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(fake.calls, ", "); got != "stop bluetooth.service, reload" {
		t.Errorf("disable calls: %s", got)
	}
	after, _ := u.Read(h)
	if u.Show(after) != "disabled, inactive" {
		t.Errorf("after disable: %s", u.Show(after))
	}
	fake.calls = nil
	if err := u.Write(h, before); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(fake.calls, ", "); got != "reload, start bluetooth.service" {
		t.Errorf("restore calls: %s", got)
	}
	if again, _ := u.Read(h); !u.Equal(again, before) {
		t.Errorf("restored %q, want %q", again.Data, before.Data)
	}
}

// TestUnitLinksOnly: a unit enabled for the next boot (tmp.mount) is
// neither started by apply nor stopped by the restore of its snapshot,
// even as the journal restores it through a plain Unit: stopping a mounted
// /tmp would fail on the files in use.
func TestUnitLinksOnly(t *testing.T) {
	t.Parallel()
	root := fixture.Copy(t, "pi5-16gb-nvme-bookworm")
	fake := &fakeSystemd{active: map[string]string{"bluetooth.service": "inactive"}}
	UseManager(root, fake)
	defer UseManager(root, nil)
	h, err := hostroot.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	u := Unit("bluetooth.service").LinksOnly()
	before, err := u.Read(h)
	if err != nil || strings.Contains(string(before.Data), "active") {
		t.Fatalf("links-only read holds a running state: %q %v", before.Data, err)
	}
	disabled := UnitDisabled(before)
	if err := u.Write(h, disabled); err != nil {
		t.Fatal(err)
	}
	links, _ := InstallLinks(h, "bluetooth.service")
	if err := u.Write(h, UnitLinked(disabled, links)); err != nil {
		t.Fatal(err)
	}
	fake.active["bluetooth.service"] = "active" // the next boot started it
	fake.calls = nil
	restored, _ := FromID(ID(u))
	if err := restored.Write(h, disabled); err != nil {
		t.Fatal(err)
	}
	for _, c := range fake.calls {
		if strings.HasPrefix(c, "stop") || strings.HasPrefix(c, "start") {
			t.Errorf("restore of a links-only snapshot called %s", c)
		}
	}
	if got, _ := u.Read(h); !u.Equal(got, disabled) {
		t.Errorf("links not restored: %q", got.Data)
	}
}

// TestUnitEqualNotInstalled: a unit with no links that is not running is,
// for what ezedge-host controls, the same as one not installed; one with
// a link or running is not.
func TestUnitEqualNotInstalled(t *testing.T) {
	t.Parallel()
	u := Unit("tmp.mount")
	absent := State{}
	for _, c := range []struct {
		s    unitState
		want bool
	}{
		{unitState{links: map[string]string{}}, true},
		{unitState{links: map[string]string{}, active: stateInactive}, true},
		{unitState{links: map[string]string{}, active: stateActive}, false},
		{unitState{links: map[string]string{"/etc/systemd/system/local-fs.target.wants/tmp.mount": "/etc/systemd/system/tmp.mount"}}, false},
	} {
		st := c.s.encode()
		if got := u.Equal(absent, st); got != c.want || u.Equal(st, absent) != c.want {
			t.Errorf("not installed vs %q: %v, want %v", st.Data, got, c.want)
		}
	}
}
