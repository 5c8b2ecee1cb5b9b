package integrations

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const userData = "cloud-init/user-data"

// cloudInit is Debian's cloud-init unpacked (not installed: no cloud-init
// service may start on the machine running the tests) into
// .cache/tools/cloud-init with python3-configobj, the one module it needs
// that python3 on the test machine may lack; the rest (yaml, jsonschema,
// jinja2) come from the machine's python3. Returns the command to run it.
func cloudInit(t *testing.T) []string {
	t.Helper()
	need(t, "python3", "apt-get", "dpkg-deb")
	dir := abs(t, "../../.cache/tools/cloud-init")
	bin := filepath.Join(dir, "usr/bin/cloud-init")
	if _, err := os.Stat(bin); err != nil {
		debs := filepath.Join(dir, "deb")
		os.MkdirAll(debs, 0o755)
		if _, err := sh(t, debs, nil, "apt-get", "download", "-qq", "cloud-init", "python3-configobj"); err != nil {
			must(t, "", nil, "apt-get", "update", "-qq")
			must(t, debs, nil, "apt-get", "download", "-qq", "cloud-init", "python3-configobj")
		}
		files, _ := filepath.Glob(filepath.Join(debs, "*.deb"))
		for _, f := range files {
			must(t, "", nil, "dpkg-deb", "-x", f, dir)
			os.Remove(f)
		}
	}
	if out, err := exec.Command("python3", "-c", "import yaml, jsonschema, jinja2").CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and python3 lacks cloud-init's modules: %s", out)
		}
		t.Skipf("python3 lacks cloud-init's modules (python3-yaml, python3-jsonschema, python3-jinja2): %s", out)
	}
	return []string{"env", "PYTHONPATH=" + filepath.Join(dir, "usr/lib/python3/dist-packages"), "python3", bin}
}

// The snippet is valid cloud-config by cloud-init's own schema (bookworm's
// cloud-init: Raspberry Pi OS Trixie's is newer, its schema a superset for
// these keys), and a broken one is not (the check checks).
func TestCloudInitSchema(t *testing.T) {
	ci := cloudInit(t)
	out := must(t, "", nil, ci[0], append(ci[1:], "schema", "--config-file", userData)...)
	if !strings.Contains(out, "Valid cloud-config") {
		t.Errorf("cloud-init schema: %s", out)
	}
	bad := filepath.Join(t.TempDir(), "user-data")
	os.WriteFile(bad, []byte("#cloud-config\nwrite_files:\n  - path: /x\n    bogus: 1\n"), 0o644)
	if out, err := sh(t, "", nil, ci[0], append(ci[1:], "schema", "--config-file", bad)...); err == nil {
		t.Errorf("cloud-init schema accepted an invalid file: %s", out)
	}
}

// The profile the snippet writes is one ezedge-host accepts, and the
// commands runcmd runs are ezedge-host's: once the package is installed the
// profile is moved over its /etc/ezedge-host/profile.yaml, which plan and
// apply read by themselves (no --profile, so that every later command on
// the device reads the same file); its plan on an image root with that
// profile as its own (the device runs the same plan live, then apply).
func TestCloudInitProfile(t *testing.T) {
	need(t, "python3")
	prof := filepath.Join(t.TempDir(), "edge.yaml")
	// python3's yaml (cloud-init's own parser) extracts the written file and
	// the runcmd lines.
	script := `import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
open(sys.argv[2], "w").write(d["write_files"][0]["content"])
print(d["write_files"][0]["path"])
for c in d["runcmd"]: print(" ".join(c))`
	out := must(t, "", nil, "python3", "-c", script, userData, prof)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	path, runcmd := lines[0], lines[1:]
	want := []string{
		"apt-get install -y /boot/firmware/ezedge-host.deb",
		"mv " + path + " /etc/ezedge-host/profile.yaml",
		"ezedge-host plan",
		"ezedge-host apply --yes",
	}
	if strings.Join(runcmd, "\n") != strings.Join(want, "\n") {
		t.Errorf("runcmd:\n%s\nwant:\n%s", strings.Join(runcmd, "\n"), strings.Join(want, "\n"))
	}
	r := root(t)
	x := t.TempDir()
	must(t, "", nil, "dpkg-deb", "-x", deb(t), x)
	os.MkdirAll(filepath.Join(r, "etc/ezedge-host"), 0o755)
	must(t, "", nil, "mv", prof, filepath.Join(r, "etc/ezedge-host/profile.yaml"))
	// amd64: the cached root's (a Pi's plan needs an arm64 root); the
	// profile is checked the same on either.
	out = must(t, "", nil, filepath.Join(x, "usr/sbin/ezedge-host"), "plan", "--root", r, "--platform", "amd64")
	if !strings.Contains(out, "\nProfile: /etc/ezedge-host/profile.yaml in the root\n") {
		t.Errorf("the plan does not use the profile moved into place:\n%s", out)
	}
}
