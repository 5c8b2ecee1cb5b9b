package hostconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// TestCorpusSysctl parses every real sysctl.d file. Keys come out dotted and
// without spaces, values trimmed; the parser never fails a file.
func TestCorpusSysctl(t *testing.T) {
	t.Parallel()
	files := fixture.CorpusFiles(t, "sysctl")
	total := 0
	for _, p := range files {
		b, _ := os.ReadFile(p)
		set, bad := ParseSysctlConf(b)
		content := 0
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" && l[0] != '#' && l[0] != ';' {
				content++
			}
		}
		if len(set)+len(bad) != content {
			t.Errorf("%s: %d settings + %d passed over, but %d content lines", filepath.Base(p), len(set), len(bad), content)
		}
		for _, s := range set {
			if s.Key == "" || strings.ContainsAny(s.Key, " \t=") || strings.HasPrefix(s.Key, "-") {
				t.Errorf("%s:%d: key %q", filepath.Base(p), s.Line, s.Key)
			}
			if strings.HasPrefix(s.Key, "net/") {
				t.Errorf("%s:%d: slash key not normalised: %q", filepath.Base(p), s.Line, s.Key)
			}
		}
		if len(bad) > 0 {
			t.Logf("%s: lines without '=' passed over: %v", filepath.Base(p), bad)
		}
		total += len(set)
	}
	t.Logf("%d files, %d settings", len(files), total)
}

// TestSysctlKeySpellings: a key written with slashes, doubled or
// trailing separators is the key systemd-sysctl sets (hostpath's rules),
// in a sysctl.d file and in a udev rule's SYSCTL{}.
func TestSysctlKeySpellings(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"net/ipv4/conf/all/rp_filter":    "net.ipv4.conf.all.rp_filter",
		"net.ipv4.conf.eth0/1.rp_filter": "net.ipv4.conf.eth0/1.rp_filter",
		"net/ipv4/conf/eth0.1/rp_filter": "net.ipv4.conf.eth0/1.rp_filter",
		"vm.swappiness":                  "vm.swappiness",
		"/vm//swappiness/":               "vm.swappiness",
		"vm.swappiness.":                 "vm.swappiness",
		"-vm..swappiness":                "vm.swappiness",
	}
	for in, want := range cases {
		set, bad := ParseSysctlConf([]byte(in + " = 10\n"))
		if len(bad) > 0 || len(set) != 1 || set[0].Key != want {
			t.Errorf("%q read as %+v (bad %v), want key %q", in, set, bad, want)
		}
		c := &Conf{}
		c.Udev, _ = ParseUdevRules([]byte(`ACTION=="add", SYSCTL{` + strings.TrimPrefix(in, "-") + `}="60"` + "\n"))
		if w := c.UdevSysctlOverrides(map[string]string{want: "10"}); len(w) != 1 {
			t.Errorf("udev SYSCTL{%s}: warnings %v, want one for %s", in, w, want)
		}
	}
}

// TestSysctlOverrides: systemd-sysctl's order decides which file wins; a
// same-named file in /etc masks /usr/lib; a glob counts; a bare "-key" does
// not; /etc/sysctl.conf is read last unless a sysctl.d link already reads it.
func TestSysctlOverrides(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{
		"etc/sysctl.d/10-early.conf":      "vm.swappiness = 1\n",
		"usr/lib/sysctl.d/95-masked.conf": "vm.swappiness = 95\n",
		"etc/sysctl.d/95-masked.conf":     "# masks the /usr/lib file\n",
		"usr/lib/sysctl.d/97-glob.conf":   "net.core.*mem_max = 4096\n-net.core.rmem_max\n",
		"run/sysctl.d/98-same.conf":       "vm.swappiness=10\n",
		"etc/sysctl.conf":                 "vm.swappiness=30\n",
		// A procps.service of its own reads /etc/sysctl.conf after sysctl.d.
		"lib/systemd/system/procps.service": "[Service]\nExecStart=/sbin/sysctl --system\n",
	}
	for p, s := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644)
	}
	h, _ := hostroot.Open(dir)
	defer h.Close()
	got := Read(h).SysctlOverrides("/etc/sysctl.d/90-ezedge-host.conf", map[string]string{"vm.swappiness": "10", "net.core.rmem_max": "134217728", "net.core.wmem_max": "134217728"})
	want := []string{
		`net.core.rmem_max: /usr/lib/sysctl.d/97-glob.conf:1 sets "4096" and is read after 90-ezedge-host.conf, so it wins at boot`,
		`net.core.wmem_max: /usr/lib/sysctl.d/97-glob.conf:1 sets "4096" and is read after 90-ezedge-host.conf, so it wins at boot`,
		`vm.swappiness: /etc/sysctl.conf:1 sets "30" and is read after 90-ezedge-host.conf, so it wins at boot`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Trixie: procps.service is an alias of systemd-sysctl.service and no
	// link reads /etc/sysctl.conf: it is not read at boot, so it wins nothing.
	os.Remove(filepath.Join(dir, "lib/systemd/system/procps.service"))
	os.Symlink("systemd-sysctl.service", filepath.Join(dir, "lib/systemd/system/procps.service"))
	ht, _ := hostroot.Open(dir)
	defer ht.Close()
	if got := Read(ht).SysctlOverrides("/etc/sysctl.d/90-ezedge-host.conf", map[string]string{"vm.swappiness": "10"}); len(got) != 0 {
		t.Errorf("trixie: /etc/sysctl.conf counted as read at boot: %v", got)
	}
	// Debian's link: /etc/sysctl.conf is read as 99-sysctl.conf, once.
	os.Symlink("../sysctl.conf", filepath.Join(dir, "etc/sysctl.d/99-sysctl.conf"))
	h2, _ := hostroot.Open(dir)
	defer h2.Close()
	fs := SysctlFiles(h2)
	if fs[len(fs)-1] != "/etc/sysctl.d/99-sysctl.conf" || strings.Contains(strings.Join(fs, " "), "/etc/sysctl.conf") {
		t.Errorf("files %v", fs)
	}
}

// TestHiddenConfFiles: a hidden file in a drop-in directory is not read,
// as conf_files_list() leaves it out; a link to /dev/null masks its name.
func TestHiddenConfFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fixture.PutAll(t, dir, map[string]fixture.Entry{
		"etc/sysctl.d/.99-hidden.conf":    fixture.File("vm.swappiness = 99\n"),
		"etc/sysctl.d/50-masked.conf":     fixture.Link("//dev/null"),
		"usr/lib/sysctl.d/50-masked.conf": fixture.File("vm.swappiness = 50\n"),
		"usr/lib/sysctl.d/60-kept.conf":   fixture.File("vm.swappiness = 60\n"),
	})
	h, err := hostroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	files := SysctlFiles(h)
	if strings.Join(files, " ") != "/etc/sysctl.d/50-masked.conf /usr/lib/sysctl.d/60-kept.conf" {
		t.Errorf("files %v", files)
	}
	c := Read(h)
	if w := c.SysctlOverrides("/etc/sysctl.d/10-ours.conf", map[string]string{"vm.swappiness": "10"}); len(w) != 1 || !strings.Contains(w[0], "60-kept.conf") {
		t.Errorf("warnings %v", w)
	}
}
