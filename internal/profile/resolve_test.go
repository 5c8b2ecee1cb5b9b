package profile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

func openRoot(t *testing.T, files map[string]string, links map[string]string) *hostroot.Root {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range links {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	h, err := hostroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// TestResolveDefault: the root's own profile is read inside the root (a
// link followed there, an absolute target being the root's); its absence
// is the platform defaults, and says so.
func TestResolveDefault(t *testing.T) {
	t.Parallel()
	const body = "version: 1\ntasks:\n  swappiness: {value: 5}\n"
	sw, _ := tasks.ByName("swappiness")
	for name, h := range map[string]*hostroot.Root{
		"file":          openRoot(t, map[string]string{"etc/ezedge-host/profile.yaml": body}, nil),
		"link in root":  openRoot(t, map[string]string{"etc/ezedge-host/edge.yaml": body}, map[string]string{"etc/ezedge-host/profile.yaml": "/etc/ezedge-host/edge.yaml"}),
		"dir link":      openRoot(t, map[string]string{"srv/cfg/profile.yaml": body}, map[string]string{"etc/ezedge-host": "../srv/cfg"}),
		"absolute link": openRoot(t, map[string]string{"srv/cfg/profile.yaml": body}, map[string]string{"etc/ezedge-host": "/srv/cfg"}),
	} {
		r, err := Default().Resolve(h)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if r.Origin != (Origin{KindRoot, DefaultPath}) || string(r.Data) != body || r.Choices.Options(sw).(*tasks.SwappinessOptions).Value != 5 {
			t.Errorf("%s: %+v", name, r)
		}
		if got := r.Origin.String(); got != "/etc/ezedge-host/profile.yaml in the root" {
			t.Errorf("%s: %q", name, got)
		}
	}
	for name, h := range map[string]*hostroot.Root{
		"no etc":       openRoot(t, nil, nil),
		"no directory": openRoot(t, map[string]string{"etc/hostname": "x\n"}, nil),
		"no profile":   openRoot(t, map[string]string{"etc/ezedge-host/edge.yaml": "version: 1\n"}, nil),
	} {
		r, err := Default().Resolve(h)
		if err != nil || r.Origin != (Origin{KindAbsent, DefaultPath}) || r.Data != nil || r.Choices != nil {
			t.Errorf("%s: %+v %v", name, r, err)
		}
		if got := r.Origin.String(); got != "platform defaults (no /etc/ezedge-host/profile.yaml in the root)" {
			t.Errorf("%s: %q", name, got)
		}
	}
	// A link that leads nowhere in the root is not an absence.
	h := openRoot(t, nil, map[string]string{"etc/ezedge-host/profile.yaml": "/home/me/edge.yaml"})
	if _, err := Default().Resolve(h); err == nil || !strings.Contains(err.Error(), `profile /etc/ezedge-host/profile.yaml: is a symbolic link to "/home/me/edge.yaml", which leads to no file in the root`) {
		t.Errorf("dangling link: %v", err)
	}
}

// TestResolveSaved: a saved plan's profile and origin must agree, as
// Resolve makes them; anything else in the (editable) plan file is refused.
func TestResolveSaved(t *testing.T) {
	t.Parallel()
	body := "version: 1\n"
	for _, tc := range []struct {
		data *string
		o    Origin
		ok   bool
	}{
		{&body, Origin{KindRoot, DefaultPath}, true},
		{&body, Origin{KindFile, "edge.yaml"}, true},
		{nil, Origin{KindAbsent, DefaultPath}, true},
		{nil, Origin{KindNone, ""}, true},
		{nil, Origin{KindRoot, DefaultPath}, false},
		{&body, Origin{KindAbsent, DefaultPath}, false},
		{&body, Origin{KindNone, ""}, false},
		{nil, Origin{KindNone, "/x"}, false},
		{&body, Origin{KindRoot, "/etc/shadow"}, false},
		{&body, Origin{KindFile, ""}, false},
		{nil, Origin{"", ""}, false},
		{&body, Origin{"saved\n", "x"}, false},
	} {
		r, err := Saved("p.plan", tc.data, tc.o).Resolve(nil)
		if (err == nil) != tc.ok {
			t.Errorf("%+v with data %v: %v", tc.o, tc.data != nil, err)
			continue
		}
		if err != nil && (!strings.HasPrefix(err.Error(), "plan file p.plan: profile_origin: ") || strings.Contains(err.Error(), "\n")) {
			t.Errorf("%+v: %q", tc.o, err)
		}
		if err == nil && r.Origin != tc.o {
			t.Errorf("%+v: resolved %+v", tc.o, r.Origin)
		}
	}
	bad := "version: 1\ntasks:\n  swappiness: {value: 500}\n"
	if _, err := Saved("p.plan", &bad, Origin{KindFile, "edge.yaml"}).Resolve(nil); err == nil || !strings.HasPrefix(err.Error(), "profile p.plan (its profile):3: ") {
		t.Errorf("an invalid saved profile: %v", err)
	}
}

func TestOriginString(t *testing.T) {
	t.Parallel()
	for o, want := range map[Origin]string{
		{KindFile, "edge.yaml"}:     "edge.yaml (--profile)",
		{KindFile, "a\nb"}:          `a\nb (--profile)`,
		{KindNone, ""}:              "platform defaults (--no-profile)",
		{KindAbsent, DefaultPath}:   "platform defaults (no /etc/ezedge-host/profile.yaml in the root)",
		{KindRoot, DefaultPath}:     "/etc/ezedge-host/profile.yaml in the root",
		{Kind("other\x1b[2J"), "x"}: `unknown (other\x1b[2J)`,
	} {
		if got := o.String(); got != want {
			t.Errorf("%+v: %q, want %q", o, got, want)
		}
	}
}
