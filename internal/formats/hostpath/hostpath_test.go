package hostpath

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/oracle"
)

// readers are every Reader, in the columns of the spellings table.
var readers = []Reader{FstabGenerator, Libmount, Kernel, UnitSetting, Tmpfiles, UdevAttr, Exec, ContainersStorage}

// spellings is how each reader reads each spelling of a path: the
// path it uses, or "!" and a word of why it refuses the path. Columns
// follow readers.
var spellings = []struct {
	raw  string
	want [8]string
}{
	{`/tmp`, [8]string{"/tmp", "/tmp", "/tmp", "/tmp", "/tmp", "/tmp", "/tmp", "/tmp"}},
	{`/tmp/`, [8]string{"/tmp", "/tmp", "/tmp/", "/tmp", "/tmp", "/tmp", "/tmp/", "/tmp"}},
	{`//tmp`, [8]string{"/tmp", "/tmp", "//tmp", "/tmp", "/tmp", "/tmp", "/tmp", "/tmp"}},
	{`/./tmp`, [8]string{"/tmp", "/tmp", "/./tmp", "/tmp", "/tmp", "/tmp", "/tmp", "/tmp"}},
	{`/tmp/.`, [8]string{"/tmp", "/tmp", "/tmp/.", "/tmp", "/tmp", "/tmp", "/tmp/", "/tmp"}},
	{`/tmp//`, [8]string{"/tmp", "/tmp", "/tmp//", "/tmp", "/tmp", "/tmp", "/tmp/", "/tmp"}},
	{`///tmp/./`, [8]string{"/tmp", "/tmp", "///tmp/./", "/tmp", "/tmp", "/tmp", "/tmp/", "/tmp"}},
	{`/var/../tmp`, [8]string{"/var/../tmp", "/var/../tmp", "/var/../tmp", "!normalized", "!normalized", "/var/../tmp", "/var/../tmp", "/tmp"}},
	{`/tmp/..`, [8]string{"/tmp/..", "/tmp/..", "/tmp/..", "!normalized", "!normalized", "/tmp/..", "/tmp/..", "/"}},
	{`tmp`, [8]string{"!path", "tmp", "tmp", "!absolute", "!absolute", "tmp", "!absolute", "!absolute"}},
	{`./tmp`, [8]string{"tmp", "tmp", "./tmp", "!absolute", "!absolute", "tmp", "!absolute", "!absolute"}},
	{``, [8]string{"!path", "!empty", "", "!absolute", "!absolute", "", "!absolute", "!absolute"}},
	{`/`, [8]string{"/", "/", "/", "/", "/", "/", "/", "/"}},
	{`//`, [8]string{"/", "/", "//", "/", "/", "/", "/", "/"}},
	{`/.`, [8]string{"/", "/", "/.", "/", "/", "/", "/", "/"}},
	{`/..`, [8]string{"/..", "/..", "/..", "!normalized", "!normalized", "/..", "/..", "/"}},
	{`/t\155p`, [8]string{`/t\155p`, "/tmp", "/tmp", `/t\155p`, `/t\155p`, `/t\155p`, `/t\155p`, `/t\155p`}},
	{`/tmp\040x`, [8]string{"/tmp x", "/tmp x", "/tmp x", `/tmp\040x`, `/tmp\040x`, `/tmp\040x`, `/tmp\040x`, `/tmp\040x`}},
	{`/tmp\000x`, [8]string{`/tmp\000x`, "/tmp", "/tmp", `/tmp\000x`, `/tmp\000x`, `/tmp\000x`, `/tmp\000x`, `/tmp\000x`}},
	{`/tmp\400`, [8]string{`/tmp\400`, "/tmp", "/tmp", `/tmp\400`, `/tmp\400`, `/tmp\400`, `/tmp\400`, `/tmp\400`}},
	{`/\164mp\134`, [8]string{`/\164mp\`, `/tmp\`, `/tmp\`, `/\164mp\134`, `/\164mp\134`, `/\164mp\134`, `/\164mp\134`, `/\164mp\134`}},
	{`/a\\b`, [8]string{`/a\b`, `/a\\b`, `/a\\b`, `/a\\b`, `/a\\b`, `/a\\b`, `/a\\b`, `/a\\b`}},
	{`/tmp%%`, [8]string{"/tmp%%", "/tmp%%", "/tmp%%", "/tmp%%", "/tmp%", "/tmp%%", "/tmp%%", "/tmp%%"}},
	{`/tmp%m`, [8]string{"/tmp%m", "/tmp%m", "/tmp%m", "/tmp%m", "!specifier", "/tmp%m", "/tmp%m", "/tmp%m"}},
	{`/` + strings.Repeat("x", 256) + `//y/`, [8]string{"/" + strings.Repeat("x", 256) + "//y/", "/" + strings.Repeat("x", 256) + "//y/", "/" + strings.Repeat("x", 256) + "//y/", "!normalized", "!normalized", "/" + strings.Repeat("x", 256) + "/y", "/" + strings.Repeat("x", 256) + "/y/", "/" + strings.Repeat("x", 256) + "/y"}},
}

// TestSpellings: every spelling of a path, read by every reader, is what
// that program makes of it.
func TestSpellings(t *testing.T) {
	t.Parallel()
	for _, c := range spellings {
		for i, r := range readers {
			got := Read(r, c.raw)
			want := c.want[i]
			if strings.HasPrefix(want, "!") {
				if got.OK() || !strings.Contains(got.Refused, want[1:]) {
					t.Errorf("%s reads %q as %q (refused %q), want it refused (%s)", r, c.raw, got.Path, got.Refused, want[1:])
				}
				continue
			}
			if !got.OK() || got.Path != want {
				t.Errorf("%s reads %q as %q (refused %q), want %q", r, c.raw, got.Path, got.Refused, want)
			}
			if got.Raw != c.raw || got.Reader != r {
				t.Errorf("%s %q: Raw %q Reader %v", r, c.raw, got.Raw, got.Reader)
			}
		}
	}
}

// unitPaths are paths whose unit names are checked against
// systemd-escape.
var unitPaths = []string{
	"/tmp", "/tmp/", "//tmp", "/./tmp", "/tmp/.", "/tmp//", "///tmp/./", "/", "//", "/.",
	"/a-b/c.d", "/a b", "/.dot", "/a/.dot", "/-x", "/ü", "/a@b", `/a\b`, "/a:b_c", "/var/lib/containers/storage",
	"/boot/firmware", "/x/../y", "/..", "/tmp/..", "/a/./b/../c", "/" + strings.Repeat("x", 200),
}

// TestUnitName: the unit a path is named by, for every spelling; checked
// against systemd-escape --path when it is installed.
func TestUnitName(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"/tmp", "tmp.mount"}, {"/tmp/", "tmp.mount"}, {"//tmp", "tmp.mount"}, {"/./tmp", "tmp.mount"},
		{"/tmp/.", "tmp.mount"}, {"/tmp//", "tmp.mount"}, {"/", "-.mount"}, {"//", "-.mount"},
		{"/a-b/c.d", `a\x2db-c.d.mount`}, {"/a b", `a\x20b.mount`}, {"/.dot", `\x2edot.mount`},
		{"/boot/firmware", "boot-firmware.mount"}, {"/x/../y", ""}, {"/..", ""},
		{"/" + strings.Repeat("x", 250), ""},
	} {
		got, err := UnitName(c.in, ".mount")
		if c.want == "" {
			if err == nil {
				t.Errorf("UnitName(%q) = %q, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("UnitName(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, p := range unitPaths {
		want, ok := oracle.EscapePath(t, p, ".mount")
		got, err := UnitName(p, ".mount")
		if ok != (err == nil) || ok && got != want {
			t.Errorf("%q: UnitName %q (%v), systemd-escape %q (ok %v)", p, got, err, want, ok)
		}
	}
}

// TestSysctlKey: every spelling of a key reads as systemd-sysctl reads it;
// checked against systemd-sysctl itself (on keys /proc/sys does not have,
// in a network namespace of its own: nothing is written).
func TestSysctlKey(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"vm.swappiness", "vm.swappiness"},
		{"vm/swappiness", "vm.swappiness"},
		{"/vm/swappiness", "vm.swappiness"},
		{"vm//swappiness/", "vm.swappiness"},
		{"vm.swappiness.", "vm.swappiness"},
		{".vm.swappiness", "vm.swappiness"},
		{"vm..swappiness", "vm.swappiness"},
		{"net.ipv4.conf.eth0/100.rp_filter", "net.ipv4.conf.eth0/100.rp_filter"},
		{"net/ipv4/conf/eth0.100/rp_filter", "net.ipv4.conf.eth0/100.rp_filter"},
		{"net/ipv4/./tcp_rmem", "net.ipv4.tcp_rmem"},
		{"net.ipv4.conf.*.rp_filter", "net.ipv4.conf.*.rp_filter"},
	}
	var conf strings.Builder
	for i, c := range cases {
		if got := SysctlKey(c.in); got != c.want {
			t.Errorf("SysctlKey(%q) = %q, want %q", c.in, got, c.want)
		}
		fmt.Fprintf(&conf, "%s = %d\n", ezedgetest(c.in, i), i)
	}
	keys := oracle.SysctlKeys(t, conf.String())
	for i, c := range cases {
		if strings.Contains(c.in, "*") {
			continue // a glob matches nothing under ezedgetest
		}
		want := strings.TrimPrefix(SysctlFile(SysctlKey(ezedgetest(c.in, i))), "/proc/sys/")
		if got := keys[fmt.Sprint(i)]; got != want {
			t.Errorf("%q: systemd-sysctl writes /proc/sys/%s, we read /proc/sys/%s", c.in, got, want)
		}
	}
}

// ezedgetest moves a key under a top-level name /proc/sys lacks, keeping
// its separators and their order.
func ezedgetest(k string, i int) string {
	lead := ""
	for k != "" && (k[0] == '/' || k[0] == '.') {
		lead, k = lead+k[:1], k[1:]
	}
	sep := "."
	if i := strings.IndexAny(k, "./"); i >= 0 {
		sep = k[i : i+1]
	}
	return lead + "ezedgetest" + sep + fmt.Sprintf("c%d", i) + sep + k
}
