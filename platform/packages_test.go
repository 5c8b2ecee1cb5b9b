package platform

import "testing"

func TestDpkgVersion(t *testing.T) {
	t.Parallel()
	status := "Package: podman\nStatus: deinstall ok config-files\nVersion: 4.3.1\n\n" +
		"Package: podman-compose\nStatus: install ok installed\nVersion: 1.0.3-3\nDescription: x\n Package: podman\n Version: 9\n\n" +
		"Package: crun\nStatus: install ok installed\nVersion: 1.8\x01\n\n" +
		"Package: buildah\nStatus: install ok unpacked\nVersion: 1.28\n"
	for name, want := range map[string]string{"podman": "", "podman-compose": "1.0.3-3", "crun": "", "buildah": "", "absent": ""} {
		got, ok := DpkgVersion([]byte(status), name)
		if got != want || ok != (want != "") {
			t.Errorf("%s: %q %v, want %q", name, got, ok, want)
		}
	}
}
