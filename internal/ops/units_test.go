package ops

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/engine/firstboot"
	"github.com/ezansiedgeai/ezedge-host/internal/engine/tryapply"
	"github.com/ezansiedgeai/ezedge-host/platform"
	"github.com/ezansiedgeai/ezedge-host/tasks"
)

// maxExposure is the most `systemd-analyze security` (Debian's systemd)
// may score each service, as docs/packages.md reports it: the check at
// most 4.0 (a read-only job run every minute as root); the two that change
// the host keep every file, device and kernel interface they write, and
// are held at what their sandbox scores now, so a loosened one fails.
var maxExposure = map[string]float64{
	"ezedge-host-check.service":          4.0,
	"ezedge-host-firstboot.service":      5.4,
	"ezedge-host-revert-pending.service": 5.4,
}

// sandboxed: what systemd-analyze must find set in each service (the
// directives named by its security report), and what must not be set
// because the service would then misread or fail to change the host
// (sandbox's doc comments say why for each).
var sandboxed = map[string]struct{ set, unset []string }{
	"ezedge-host-check.service": {
		set: []string{"ProtectSystem=", "NoNewPrivileges=", "PrivateTmp=", "PrivateDevices=", "PrivateMounts=",
			"RestrictAddressFamilies=~AF_(INET|INET6)", "RestrictAddressFamilies=~AF_PACKET", "RestrictAddressFamilies=~AF_NETLINK",
			"RestrictAddressFamilies=~…", "IPAddressDeny=", "ProtectKernelTunables=", "ProtectControlGroups=", "ProtectKernelLogs=",
			"RestrictNamespaces=~user", "RestrictSUIDSGID=", "MemoryDenyWriteExecute=", "SystemCallArchitectures=",
			"SystemCallFilter=~@module", "SystemCallFilter=~@reboot", "SystemCallFilter=~@raw-io",
			"CapabilityBoundingSet=~CAP_SYS_MODULE", "CapabilityBoundingSet=~CAP_NET_ADMIN", "CapabilityBoundingSet=~CAP_(CHOWN|FSETID|SETFCAP)"},
		unset: []string{"PrivateNetwork=", "ProtectProc=", "ProcSubset=", "ProtectKernelModules=", "CapabilityBoundingSet=~CAP_SYS_PTRACE"},
	},
	"ezedge-host-firstboot.service": {
		set: []string{"NoNewPrivileges=", "RestrictAddressFamilies=~AF_(INET|INET6)", "RestrictAddressFamilies=~AF_PACKET",
			"RestrictNamespaces=~user", "RestrictNamespaces=~mnt", "RestrictSUIDSGID=", "SystemCallArchitectures=",
			"SystemCallFilter=~@reboot", "SystemCallFilter=~@module", "CapabilityBoundingSet=~CAP_SYS_BOOT", "CapabilityBoundingSet=~CAP_SYS_MODULE"},
		unset: []string{"ProtectSystem=", "ProtectHome=", "PrivateTmp=", "PrivateDevices=", "PrivateNetwork=", "ProtectKernelTunables=",
			"ProtectControlGroups=", "ProtectProc=", "PrivateMounts=", "DeviceAllow=", "CapabilityBoundingSet=~CAP_NET_ADMIN"},
	},
}

// TestUnitsReadBySystemd: every unit ezedge-host ships (the package's,
// from PackagedUnits) and writes (the check-timer task's, with another
// textfile directory and profile; firstboot install's; the try apply's
// boot unit, with a binary in /usr/local) is loaded by Debian's
// systemd-analyze: verify accepts it, and security --offline finds each
// service's sandbox and scores it within maxExposure.
func TestUnitsReadBySystemd(t *testing.T) {
	t.Parallel()
	analyze := "/usr/bin/systemd-analyze"
	if _, err := os.Stat(analyze); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set and systemd-analyze is missing (Debian's systemd package)")
		}
		t.Skip("systemd-analyze not installed")
	}
	local := "/usr/local/sbin/ezedge-host"
	const textfileDir = "/srv/metrics"
	units := map[string]string{}
	for name, text := range PackagedUnits() {
		units["/usr/lib/systemd/system/"+name] = text
	}
	service, timer := tasks.CheckUnitTexts(tasks.Header, local, textfileDir, "/etc/ezedge-host/monitor.yaml")
	units[tasks.CheckService], units[tasks.CheckTimer] = service, timer
	units["/etc/systemd/system/"+firstboot.UnitName] = firstboot.UnitText("# written\n", local, true)
	units["/etc/systemd/system/"+tryapply.BootUnitName] = tryapply.BootUnitText("# written\n", local)
	// The package's and the written ones share names (those in /etc would
	// hide the package's): each set is read in a root of its own.
	for _, dir := range []string{"/usr/lib/systemd/system/", "/etc/systemd/system/"} {
		root := t.TempDir()
		for _, bin := range []string{platform.PackagedBinary, local} {
			write(t, root, bin, "#!/bin/sh\n", 0o755)
		}
		if err := os.MkdirAll(filepath.Join(root, textfileDir), 0o755); err != nil {
			t.Fatal(err)
		}
		var set []string
		for p, text := range units {
			if strings.HasPrefix(p, dir) {
				write(t, root, p, text, 0o644)
				set = append(set, p)
			}
		}
		if len(set) != 4 {
			t.Fatalf("%s: units %v", dir, set)
		}
		out, err := exec.Command(analyze, append([]string{"verify", "--man=no", "--recursive-errors=no", "--root=" + root}, set...)...).CombinedOutput()
		if err != nil || unitComplaint.Match(out) {
			t.Errorf("systemd-analyze verify %s: %v\n%s", dir, err, out)
		}
		for _, p := range set {
			name := filepath.Base(p)
			bound, ok := maxExposure[name]
			if !ok {
				continue
			}
			got := exposure(t, analyze, root, name)
			if got > bound {
				t.Errorf("%s: exposure %.1f, at most %.1f", p, got, bound)
			}
			want := sandboxed[name]
			if name == tryapply.BootUnitName {
				want = sandboxed[firstboot.UnitName]
			}
			set := directives(t, analyze, root, name)
			for _, d := range want.set {
				if !set[d] {
					t.Errorf("%s: %s not (fully) set", p, d)
				}
			}
			for _, d := range want.unset {
				if set[d] {
					t.Errorf("%s: %s is set: it would change what the service reads or may do", p, d)
				}
			}
		}
	}
	if s := units[tasks.CheckService]; !strings.Contains(s, "\nReadWritePaths="+textfileDir+"\n") {
		t.Errorf("the check may not write its textfile directory:\n%s", s)
	}
	for _, p := range []string{"/usr/lib/systemd/system/" + firstboot.UnitName, "/etc/systemd/system/" + firstboot.UnitName} {
		if u := units[p]; !strings.Contains(u, "\nWants=network-online.target\n") || !regexp.MustCompile(`\nAfter=[^\n]*\bnetwork-online\.target\b`).MatchString(u) {
			t.Errorf("%s: orders after network-online.target without pulling it in:\n%s", p, u)
		}
	}
}

// unitComplaint is how systemd reports a line of a unit it ignored.
var unitComplaint = regexp.MustCompile(`(?m)ezedge-host-[a-z-]+\.(service|timer):[0-9]+: `)

var overall = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) `)

func exposure(t *testing.T, analyze, root, unit string) float64 {
	t.Helper()
	out, err := exec.Command(analyze, "security", "--offline=true", "--no-pager", "--root="+root, unit).CombinedOutput()
	m := overall.FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security %s: %v\n%s", unit, err, out)
	}
	f, _ := strconv.ParseFloat(string(m[1]), 64)
	return f
}

// directives are the names of the security report's items that are
// fully set (no exposure left).
func directives(t *testing.T, analyze, root, unit string) map[string]bool {
	t.Helper()
	out, err := exec.Command(analyze, "security", "--offline=true", "--json=short", "--root="+root, unit).Output()
	var items []struct {
		Set      bool    `json:"set"`
		Name     string  `json:"name"`
		Exposure *string `json:"exposure"`
	}
	if err != nil || json.Unmarshal(out, &items) != nil || len(items) == 0 {
		t.Fatalf("systemd-analyze security --json %s: %v\n%s", unit, err, out)
	}
	set := map[string]bool{}
	for _, it := range items {
		if it.Set && it.Exposure == nil {
			set[it.Name] = true
		}
	}
	return set
}

func write(t *testing.T, root, p, text string, mode os.FileMode) {
	t.Helper()
	full := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
}
