package sandbox

import (
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
)

func TestPrivateToCheck(t *testing.T) {
	t.Parallel()
	for p, private := range map[string]bool{
		"/tmp": true, "/tmp/": true, "//tmp": true, "/./tmp": true, "/tmp/.": true, "/tmp//x": true,
		"/var/tmp": true, "/var/tmp/prom": true, "/var//tmp/x": true, "/var/lib/../tmp/x": true,
		"/tmpfs": false, "/var/tmpx": false, "/var/lib/prometheus/node-exporter": false, "/": false, "/var": false,
	} {
		if got := PrivateToCheck(p) != ""; got != private {
			t.Errorf("PrivateToCheck(%q) says private %v, want %v", p, got, private)
		}
	}
}

// Every line of each sandbox is a [Service] assignment systemd's own
// unit syntax reads (go-systemd's deserializer follows systemd's parser),
// none lost or merged; only the keys systemd accumulates are repeated.
// systemd-analyze verify and security read them in internal/ops.
func TestSandboxesAreAssignments(t *testing.T) {
	t.Parallel()
	repeatable := map[string]bool{"ReadWritePaths": true, "SystemCallFilter": true}
	for name, text := range map[string]string{"Check": Check("/var/lib/prometheus/node-exporter"), "HostChanging": HostChanging} {
		opts, err := unit.DeserializeOptions(strings.NewReader("[Service]\n" + text))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		lines := 0
		for _, l := range strings.Split(text, "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				lines++
			}
		}
		if len(opts) != lines || lines < 10 {
			t.Errorf("%s: %d assignments read from %d lines", name, len(opts), lines)
		}
		seen := map[string]bool{}
		for _, o := range opts {
			if o.Section != "Service" || o.Value == "" {
				t.Errorf("%s: %s=%q", name, o.Name, o.Value)
			}
			if seen[o.Name] && !repeatable[o.Name] {
				t.Errorf("%s: %s twice: the second replaces the first", name, o.Name)
			}
			seen[o.Name] = true
		}
	}
}

func TestCheckWritesOnlyItsTextfile(t *testing.T) {
	t.Parallel()
	opts, err := unit.DeserializeOptions(strings.NewReader("[Service]\n" + Check("/srv/metrics")))
	if err != nil {
		t.Fatal(err)
	}
	var rw []string
	for _, o := range opts {
		if o.Name == "ReadWritePaths" {
			rw = append(rw, strings.Fields(o.Value)...)
		}
		if o.Name == "ProtectSystem" && o.Value != "strict" {
			t.Errorf("ProtectSystem=%s, want strict", o.Value)
		}
	}
	want := []string{"/srv/metrics", "-/var/lib/containers", "-/run/containers", "-/run/libpod"}
	if strings.Join(rw, " ") != strings.Join(want, " ") {
		t.Errorf("ReadWritePaths %v, want %v", rw, want)
	}
}
