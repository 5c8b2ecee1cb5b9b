package hostconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
)

func FuzzParseSysctlConf(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(fixture.Testdata(), "*/etc/sysctl.d/*.conf"))
	paths = append(paths, filepath.Join(fixture.Testdata(), "pi5-16gb-nvme-bookworm/etc/sysctl.conf"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("-net.ipv4.conf.all.rp_filter\nnet/ipv4/ip_forward = 1\n kernel.x=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, bad := ParseSysctlConf(data)
		content := 0
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(strings.TrimRight(l, "\r")); l != "" && l[0] != '#' && l[0] != ';' {
				content++
			}
		}
		if len(set)+len(bad) != content {
			t.Fatalf("%d settings + %d bad != %d content lines", len(set), len(bad), content)
		}
	})
}
