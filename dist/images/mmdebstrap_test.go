package integrations

import (
	"os"
	"path/filepath"
	"testing"
)

const hook = "mmdebstrap/ezedge-host-hook"

func hookEnv(t *testing.T, profile, platform string) []string {
	return []string{"EZEDGE_DEB=" + deb(t), "EZEDGE_PROFILE=" + profile, "EZEDGE_PLATFORM=" + platform}
}

// The hook run by the real mmdebstrap (about a minute on 2 busy cores;
// -short calls it as mmdebstrap does instead, on a copy of the cached root).
func TestMmdebstrapHook(t *testing.T) {
	needRoot(t)
	need(t, "mmdebstrap")
	good := writeProfile(t, goodProfile)
	if testing.Short() {
		r := root(t)
		mount(t, r, "proc", "sys", "dev")
		out := must(t, "", hookEnv(t, good, "amd64"), abs(t, hook), r)
		provisioned(t, r, out)
		return
	}
	out := filepath.Join(t.TempDir(), "root")
	args := append(append([]string{}, mmdebstrapArgs...), "bookworm", out, "--customize-hook="+abs(t, hook))
	log := must(t, "", hookEnv(t, good, "amd64"), "mmdebstrap", args...)
	provisioned(t, out, log)
}

// An invalid profile and a refused plan fail the hook, and so the build.
// The real mmdebstrap fails with it (not in -short: the hook's exit status
// is what mmdebstrap acts on, tested here on a copy of the cached root).
func TestMmdebstrapHookFails(t *testing.T) {
	for _, c := range failCases {
		t.Run(c.name, func(t *testing.T) {
			r := root(t)
			mount(t, r, "proc")
			out, err := sh(t, "", hookEnv(t, writeProfile(t, c.profile), c.platform), abs(t, hook), r)
			failed(t, out, err, c.name, c.want)
		})
	}
	if testing.Short() {
		return
	}
	out := filepath.Join(t.TempDir(), "root")
	args := append(append([]string{}, mmdebstrapArgs...), "bookworm", out, "--customize-hook="+abs(t, hook))
	log, err := sh(t, "", hookEnv(t, writeProfile(t, invalidProfile), "amd64"), "mmdebstrap", args...)
	failed(t, log, err, "mmdebstrap with an invalid profile", failCases[0].want)
}

// EZEDGE_MODE=apply writes the persistent configuration into the image at
// build time instead of installing the first-boot unit; its snapshot stays
// in the image too, and the profile becomes the image's own, so the
// device's own plan (no --profile) finds it applied.
func TestProvisionApplyMode(t *testing.T) {
	r := root(t)
	mount(t, r, "proc")
	env := append(hookEnv(t, writeProfile(t, goodProfile), "amd64"), "EZEDGE_MODE=apply")
	log := must(t, "", env, abs(t, hook), r)
	sh(t, "", nil, "umount", r+"/proc")
	conf := filepath.Join(r, "etc/sysctl.d/90-ezedge-host.conf")
	if _, err := os.Stat(conf); err != nil {
		t.Fatalf("apply wrote no sysctl configuration: %v\n%s", err, log)
	}
	if b, err := os.ReadFile(filepath.Join(r, "etc/ezedge-host/profile.yaml")); err != nil || string(b) != goodProfile {
		t.Errorf("the image's profile is not the one applied: %q %v", b, err)
	}
	must(t, "", nil, filepath.Join(r, "usr/sbin/ezedge-host"), "plan", "--root", r, "--platform", "amd64", "--detailed-exitcode")
	if _, err := os.Stat(filepath.Join(r, "etc/systemd/system/ezedge-host-firstboot.service")); err == nil {
		t.Errorf("apply mode installed the first-boot unit")
	}
	must(t, "", nil, filepath.Join(r, "usr/sbin/ezedge-host"), "rollback", "--root", r, "--yes")
	if _, err := os.Stat(conf); err == nil {
		t.Errorf("rollback left %s", conf)
	}
}
