package tryapply

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezansiedgeai/ezedge-host/internal/fixture"
	"github.com/ezansiedgeai/ezedge-host/internal/hostroot"
)

// The boot unit of a try apply: enabled by a link of ours, or already by
// one to the packaged unit (an image's first-boot preset, the operator),
// which is then left as it is, before and after; anything else at the
// link's place is refused, never replaced.
func TestBootUnitLink(t *testing.T) {
	t.Parallel()
	const self = "/usr/sbin/ezedge-host"
	for _, tc := range []struct {
		name     string
		existing func(link string) error
		err      string
		// kept: the link is there after Done.
		kept bool
	}{
		{"none", nil, "", false},
		{"ours", func(l string) error { return os.Symlink(BootUnit, l) }, "", false},
		{"packaged", func(l string) error { return os.Symlink("/lib/systemd/system/"+BootUnitName, l) }, "", true},
		{"packaged /usr/lib", func(l string) error { return os.Symlink("/usr/lib/systemd/system/"+BootUnitName, l) }, "", true},
		{"another unit", func(l string) error { return os.Symlink("/lib/systemd/system/other.service", l) }, "file exists", true},
		{"a file", func(l string) error { return os.WriteFile(l, []byte("x"), 0o644) }, "file exists", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := fixture.Copy(t, "amd64-intel-32gb-2nvme")
			link := filepath.Join(dir, bootUnitLink)
			os.MkdirAll(filepath.Dir(link), 0o755)
			var before string
			if tc.existing != nil {
				if err := tc.existing(link); err != nil {
					t.Fatal(err)
				}
				before, _ = os.Readlink(link)
			}
			h, err := hostroot.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			err = installBootUnit(h, self)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tc.err == "" {
				got, err := os.Readlink(link)
				if err != nil || (tc.existing != nil && got != before) || (tc.existing == nil && got != BootUnit) {
					t.Fatalf("link %q %v", got, err)
				}
				if b, _ := os.ReadFile(filepath.Join(dir, BootUnit)); !strings.Contains(string(b), "ExecStart="+self+" revert-pending") {
					t.Fatalf("unit:\n%s", b)
				}
			}
			if err := Done(h, "20261129T120000Z"); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(filepath.Join(dir, BootUnit)); err == nil {
				t.Error("Done left the unit")
			}
			_, err = os.Lstat(link)
			if kept := err == nil; kept != tc.kept {
				t.Errorf("after Done the link is there: %v, want %v", kept, tc.kept)
			}
			if tc.kept && tc.existing != nil {
				if got, _ := os.Readlink(link); got != before {
					t.Errorf("link changed to %q", got)
				}
			}
		})
	}
}
